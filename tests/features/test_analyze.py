"""features: motion, visual beats and tempo, cuts, colour on synthetic videos with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import shared_videos
from videobgm.config import FeaturesConfig, VideoConfig
from videobgm.features.analyze import extract_features
from videobgm.schema import read_features


@pytest.fixture(scope="module")
def square_features(square_video):
    return extract_features(square_video["path"])


def test_square_tempo_within_2_percent(square_features, square_video):
    # two turning points per period: visual tempo = 2 * 60 / period = 120 beats per minute
    true_bpm = 2 * 60.0 / square_video["period_s"]
    assert square_features.tempo_bpm == pytest.approx(true_bpm, rel=0.02)
    assert square_features.tempo_confidence > 0.5


def test_square_beats_within_one_frame_of_turning_points(square_features, square_video):
    frame = 1.0 / square_video["fps"]
    turns = square_video["turning_times_s"]
    beats_s = square_features.visual_beat_times_s
    # every turning point (not the one at the very start, before motion is measured) has a beat
    for t in turns[turns > 0.3]:
        assert np.min(np.abs(beats_s - t)) <= frame + 1e-6, t
    # and every beat is a turning point
    for b in beats_s:
        assert np.min(np.abs(turns - b)) <= frame + 1e-6, b
    assert np.all((square_features.visual_beat_strength > 0) & (square_features.visual_beat_strength <= 1))


@pytest.mark.parametrize(("period", "fps"), [(0.7, 30.0), (0.8, 30.0), (1.6, 30.0), (1.0, 25.0)])
def test_other_periods_and_frame_rates(tmp_path, period, fps):
    """Turning points between frames (0.7, 1.0 @ 25) or on a frame (0.8, 1.6), fast and slow turns."""
    from videobgm.testing import synthetic_videos as synth
    p = synth.write_video(tmp_path / "p.mp4", synth.oscillating_square(period_s=period), duration_s=8.0, fps=fps)
    f = extract_features(p)
    assert f.tempo_bpm == pytest.approx(2 * 60 / period, rel=0.02)
    turns = synth.square_turning_times(period, 8.0)
    for t in turns[turns > 0.15]:
        assert np.min(np.abs(f.visual_beat_times_s - t)) <= 1 / fps + 1e-6, t
    for b in f.visual_beat_times_s:
        assert np.min(np.abs(turns - b)) <= 1 / fps + 1e-6, b


def test_bouncing_square_beats_and_tempo(tmp_path):
    from videobgm.testing import synthetic_videos as synth
    period, fps = 0.8, 30.0
    p = synth.write_video(tmp_path / "b.mp4", synth.bouncing_square(period_s=period), duration_s=8.0, fps=fps)
    f = extract_features(p)
    assert f.tempo_bpm == pytest.approx(2 * 60 / period, rel=0.02)
    turns = np.arange(period / 2, 8.0, period / 2)
    for t in turns[turns < 7.8]:
        assert np.min(np.abs(f.visual_beat_times_s - t)) <= 1 / fps + 1e-6, t


def test_cuts_found_within_one_frame(cut_video):
    f = extract_features(cut_video["path"])
    assert f.cut_times_s.size == len(cut_video["cut_times_s"])
    np.testing.assert_allclose(f.cut_times_s, cut_video["cut_times_s"], atol=1 / cut_video["fps"] + 1e-6)


def test_smooth_pan_has_no_cut_and_measured_speed(pan_video):
    f = extract_features(pan_video["path"])
    assert f.cut_times_s.size == 0
    # the pan moves 60 px/s on a 320 px wide frame = 30 px/s at the 160 px analysis size
    scale = f.meta["analysis_size"][0] / 320
    assert np.median(f.motion_speed) == pytest.approx(60.0 * scale, rel=0.1)


def test_colour_ramp_gives_monotone_brightness(ramp_video):
    f = extract_features(ramp_video["path"])
    b = f.brightness
    assert np.all(np.diff(b) >= -2e-3)  # coding noise only
    assert b[0] < 0.1 and b[-1] > 0.9
    assert np.allclose(f.saturation, 0, atol=0.02)
    assert np.all(f.hue_hist == 0)  # grey frames have no hue
    assert f.cut_times_s.size == 0


def test_static_video_has_near_zero_motion_and_no_beats(static_video):
    f = extract_features(static_video["path"])
    assert np.max(f.motion_speed) < 0.5
    assert f.visual_beat_times_s.size == 0
    assert math.isnan(f.tempo_bpm)


@pytest.mark.parametrize(("rgb", "warm", "hue_bin"), [((230, 120, 20), True, 0), ((20, 90, 230), False, 7)])
def test_warmth_and_hue(tmp_path, rgb, warm, hue_bin):
    from videobgm.testing import synthetic_videos as synth
    p = synth.write_video(tmp_path / "c.mp4", lambda t: np.full((120, 160, 3), rgb, np.uint8), duration_s=0.5,
                          width=160, height=120)
    f = extract_features(p)
    assert (f.warmth.mean() > 0.3) if warm else (f.warmth.mean() < -0.3)
    assert np.argmax(f.hue_hist.mean(axis=0)) == hue_bin  # orange ~28 deg -> bin 0; azure ~218 deg -> bin 7
    np.testing.assert_allclose(f.hue_hist.sum(axis=1), 1.0, atol=1e-6)


def test_features_round_trip_and_consistent_shapes(square_features):
    f = square_features
    n = f.frame_times_s.size
    for name in ("motion_speed", "saliency", "brightness", "saturation", "warmth"):
        assert getattr(f, name).shape == (n,)
    assert f.hue_hist.shape == (n, 12)
    assert f.visual_beat_times_s.shape == f.visual_beat_strength.shape
    g = read_features(f.to_dict())
    np.testing.assert_allclose(g.visual_beat_times_s, f.visual_beat_times_s, atol=1e-4)
    assert g.tempo_bpm == pytest.approx(f.tempo_bpm, rel=1e-4)
    assert g.meta["flow"] == f.meta["flow"]


def test_progress_reports_seconds(square_video):
    calls = []
    extract_features(square_video["path"], FeaturesConfig(), VideoConfig(), progress=lambda d, t: calls.append((d, t)))
    assert calls[0][0] == 0 and calls[-1][0] == pytest.approx(square_video["duration_s"])
    assert all(b[0] >= a[0] for a, b in zip(calls, calls[1:]))


def test_farneback_option_works(static_video):
    f = extract_features(static_video["path"], FeaturesConfig(flow="farneback"))
    assert f.meta["flow"] == "farneback" and np.max(f.motion_speed) < 0.5


@pytest.mark.parametrize("path", shared_videos(), ids=lambda p: p.name)
def test_shared_videos(path):
    f = extract_features(path)
    assert f.duration_s > 0 and f.frame_times_s.size > 10
    assert f.frame_times_s[-1] <= f.duration_s + 1e-6
    for name in ("motion_speed", "saliency", "brightness", "saturation", "warmth", "hue_hist"):
        assert np.all(np.isfinite(getattr(f, name))), name
    assert np.all(np.diff(f.visual_beat_times_s) > 0)
    assert not f.meta["warnings"]


@pytest.mark.slow
def test_long_video_memory_does_not_grow(tmp_path):
    """A 20-minute 96x64 video: RSS after 75 % of it is within a few MB of RSS after 25 %."""
    from videobgm.testing import synthetic_videos as synth
    duration = 20 * 60.0
    # amplitude/size chosen so that the square moves less than its own size per frame at 10 fps
    square = synth.oscillating_square(period_s=1.0, width=96, height=64, size=16, amplitude=0.2)
    p = synth.write_video(tmp_path / "long.mp4", square, duration_s=duration, fps=10.0, width=96, height=64)

    def rss_mb() -> float:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return float("nan")

    marks: dict[int, float] = {}

    def progress(done: float, total: float | None) -> None:
        q = int(4 * done / (total or duration))
        marks.setdefault(q, rss_mb())

    f = extract_features(p, progress=progress)
    assert f.frame_times_s.size == pytest.approx(duration * 10, abs=2)
    assert f.tempo_bpm == pytest.approx(120, rel=0.02)
    assert f.visual_beat_times_s.size == pytest.approx(2 * duration, rel=0.02)
    assert marks[3] - marks[1] < 20.0, marks
