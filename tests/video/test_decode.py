"""video.py: probing (duration, fps, VFR, rotation, audio) and chunked decoding; bad inputs refused."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests._badvideos import make_bad_inputs
from tests._reliability import (  # the fixtures (files, sample_video, ...) come through tests/conftest.py
    FUZZ,
    HEAVY,
    VCFG,
    _flip,
    assert_one_line,
    check_video,
    flips_st,
    marker_frames,
    measure,
    set_mp4_rotation,
    write_audio_only,
    write_vfr,
)
from videobgm.config import VideoConfig
from videobgm.errors import InputError
from videobgm.testing import synthetic_videos as synth
from videobgm.video import decode as video


def test_probe_square(square_video):
    info = video.probe(square_video["path"])
    assert info.duration_s == pytest.approx(12.0, abs=1 / 30)
    assert info.fps == pytest.approx(30.0, rel=1e-3)
    assert (info.width, info.height, info.rotation_deg) == (320, 240, 0)
    assert info.n_frames == 360
    assert info.codec == "h264"
    assert not info.has_audio and not info.variable_frame_rate


def test_probe_sees_audio(tmp_path):
    from videobgm.testing import synthetic_videos as synth
    p = synth.write_video(tmp_path / "a.mp4", synth.static(), duration_s=1.0, audio_tone_hz=440.0)
    assert video.probe(p).has_audio


def _write_frames(path: Path, frames: list[np.ndarray], pts_ms: list[int], *, rotation_ccw: int = 0) -> Path:
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(30))
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.time_base = Fraction(1, 1000)
        vs.codec_context.time_base = Fraction(1, 1000)
        vs.options = {"bf": "0"}
        if rotation_ccw:
            vs.set_display_rotation(rotation_ccw)
        for img, pts in zip(frames, pts_ms):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = pts, Fraction(1, 1000)
            for pkt in vs.encode(f):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    return path


def test_variable_frame_rate_keeps_own_timestamps(tmp_path):
    # intervals alternate 20 ms and 60 ms: mean 40 ms (25 fps), clearly variable
    pts = np.cumsum([0] + [20, 60] * 30).tolist()
    frames = [np.full((48, 64, 3), (i * 4) % 256, np.uint8) for i in range(len(pts))]
    p = _write_frames(tmp_path / "vfr.mp4", frames, pts)
    info = video.probe(p)
    assert info.variable_frame_rate
    assert info.n_frames == len(pts)
    # the last frame lasts whatever the container says (here 1/30 s from the stream rate)
    assert pts[-1] / 1000 < info.duration_s <= pts[-1] / 1000 + 0.061
    assert info.fps == pytest.approx(info.n_frames / info.duration_s, rel=1e-6)
    times = np.concatenate([t for t, _ in video.iter_frames(p, fps=60.0)])
    np.testing.assert_allclose(times, np.asarray(pts) / 1000.0, atol=1e-6)
    # a 20 fps cap keeps at most 20 frames per second, selected (never duplicated) own timestamps
    capped = np.concatenate([t for t, _ in video.iter_frames(p, fps=20.0)])
    assert np.all(np.diff(capped) > 0)
    assert capped.size <= info.duration_s * 20 + 1
    assert capped.size >= info.duration_s * 20 * 0.7
    assert set(np.round(capped, 6)) <= set(np.round(np.asarray(pts) / 1000.0, 6))


def test_rotation_metadata_is_applied(tmp_path):
    img = np.zeros((48, 64, 3), np.uint8)
    img[:12, :16] = 255  # marker in the coded frame's top-left corner
    # display matrix -90 deg (counter-clockwise) = the usual phone "rotate=90": turn clockwise
    p = _write_frames(tmp_path / "rot.mp4", [img] * 5, [0, 33, 67, 100, 133], rotation_ccw=-90)
    info = video.probe(p)
    assert info.rotation_deg == 90
    assert (info.width, info.height) == (48, 64)
    _, frames = next(video.iter_frames(p, fps=30.0, max_side=64))
    assert frames.shape[1:] == (64, 48, 3)
    grey = frames[0].mean(axis=2)
    # after a clockwise quarter turn the top-left corner ends up top-right
    assert grey[:12, -12:].mean() > 200 and grey[:12, :12].mean() < 60


def test_iter_frames_chunks_and_resamples(square_video):
    cfg = VideoConfig(chunk_frames=16)
    chunks = list(video.iter_frames(square_video["path"], cfg, fps=30.0, max_side=160))
    assert all(len(t) == len(f) <= 16 for t, f in chunks)
    times = np.concatenate([t for t, _ in chunks])
    assert times.size == 360
    np.testing.assert_allclose(times, np.arange(360) / 30.0, atol=1e-6)
    assert chunks[0][1].shape[1:] == (120, 160, 3) and chunks[0][1].dtype == np.uint8
    half = np.concatenate([t for t, _ in video.iter_frames(square_video["path"], cfg, fps=15.0)])
    assert half.size == 180
    np.testing.assert_allclose(np.diff(half), 1 / 15.0, atol=1e-6)


def test_decoded_colours_match_source(tmp_path):
    from videobgm.testing import synthetic_videos as synth
    colour = (200, 60, 30)
    p = synth.write_video(tmp_path / "c.mp4", lambda t: np.full((240, 320, 3), colour, np.uint8),
                          duration_s=0.5)
    _, frames = next(video.iter_frames(p))
    np.testing.assert_allclose(frames[0].reshape(-1, 3).mean(axis=0), colour, atol=6)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return make_bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("kind", [
    "missing", "text", "zero_bytes", "zero_length", "audio_only", "truncated",
    "corrupt_payload", "random_bytes", "unknown_codec",
])
def test_bad_input_is_refused_with_one_line(bad_inputs, kind):
    with pytest.raises(InputError) as exc:
        video.probe(bad_inputs[kind])
    msg = str(exc.value)
    assert "\n" not in msg and str(bad_inputs[kind].name) in msg


def test_limits_refuse_absurd_input(static_video):
    with pytest.raises(InputError, match="too long"):
        video.probe(static_video["path"], VideoConfig(max_duration_s=1.0))
    with pytest.raises(InputError, match="exceeds the limit"):
        video.probe(static_video["path"], VideoConfig(max_pixels=100 * 100))


def test_analysis_size_keeps_aspect_and_never_upscales():
    assert video.analysis_size(1280, 720, 160) == (160, 90)
    assert video.analysis_size(720, 1280, 160) == (90, 160)
    assert video.analysis_size(100, 50, 160) == (100, 50)
    # tiny or thin: stretched to what optical flow needs (>= 32 px, aspect <= 4)
    assert video.analysis_size(1280, 32, 160) == (160, 40)
    assert video.analysis_size(32, 1280, 160) == (40, 160)
    assert video.analysis_size(8, 8, 160) == (32, 32)


@pytest.mark.parametrize(("w", "h"), [(8, 8), (1280, 32), (2, 2), (384, 96), (600, 150)])
def test_tiny_and_thin_videos_are_analysed(tmp_path, w, h):
    from videobgm.features.analyze import extract_features
    from videobgm.testing import synthetic_videos as synth
    rng = np.random.default_rng(0)
    p = synth.write_video(tmp_path / "t.mp4", lambda t: rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
                          duration_s=0.5, width=w, height=h)
    f = extract_features(p)
    assert f.frame_times_s.size == 15 and np.all(np.isfinite(f.motion_speed))


@FUZZ
@given(flips=flips_st, region=st.sampled_from(["all", "head", "tail"]))
def test_fuzz_video_byte_flips(tmp_path, sample_video, flips, region):
    p = tmp_path / "flipped.mp4"
    p.write_bytes(_flip(sample_video, flips, region))
    event(f"{region}: {check_video(p)}")


@FUZZ
@given(frac=st.floats(0, 1, exclude_max=True), faststart=st.booleans())
def test_fuzz_video_truncation(tmp_path, sample_video, sample_faststart, frac, faststart):
    data = sample_faststart if faststart else sample_video
    p = tmp_path / "cut.mp4"
    p.write_bytes(data[: int(frac * len(data))])
    event(f"{'moov first' if faststart else 'moov last'}: {check_video(p)}")


@pytest.mark.slow
@HEAVY
@given(flips=flips_st, region=st.sampled_from(["all", "head", "tail"]), frac=st.floats(0.05, 1),
       faststart=st.booleans())
def test_fuzz_video_heavy(tmp_path, sample_video, sample_faststart, flips, region, frac, faststart):
    data = sample_faststart if faststart else sample_video
    p = tmp_path / "heavy.mp4"
    p.write_bytes(_flip(data[: max(1, int(frac * len(data)))], flips, region))
    event(f"{'moov first' if faststart else 'moov last'}: {check_video(p)}")


# ----------------------------------------------------------------------------------------------
# odd but valid videos
# ----------------------------------------------------------------------------------------------
def test_zero_length_and_audio_only_and_not_video(files):
    from videobgm.video import decode as video
    (files / "zero.mp4").write_bytes(b"")
    write_audio_only(files / "audio.mp4")
    (files / "text.mp4").write_text("this is not a video\n")
    (files / "dir.mp4").mkdir(exist_ok=True)
    expect = {"zero.mp4": "empty", "audio.mp4": "audio-only", "text.mp4": "not a readable video",
              "dir.mp4": "not a file", "missing.mp4": "not found"}
    for name, frag in expect.items():
        with pytest.raises(InputError, match=frag) as ei:
            video.probe(files / name, VCFG)
        assert_one_line(str(ei.value))


def test_variable_frame_rate_keeps_real_timestamps(tmp_path):
    from videobgm.video import decode as video
    pts = write_vfr(tmp_path / "vfr.mp4")
    info = video.probe(tmp_path / "vfr.mp4", VCFG)
    assert info.variable_frame_rate and info.n_frames == pts.size
    assert abs(info.duration_s - (pts[-1] + 0.02)) < 0.15
    times = np.concatenate([t for t, _ in video.iter_frames(tmp_path / "vfr.mp4", VCFG, fps=0)])
    np.testing.assert_allclose(times, pts, atol=0.002)  # every frame, at its own time
    assert check_video(tmp_path / "vfr.mp4") == "ok"


@pytest.mark.parametrize("degrees", [90, 270])
def test_rotated_video_is_analysed_upright(tmp_path, degrees):
    from videobgm.video import decode as video
    p = tmp_path / f"rot{degrees}.mp4"
    synth.write_video(p, marker_frames(), duration_s=1.0, fps=10.0, width=160, height=96)
    set_mp4_rotation(p, degrees)
    info = video.probe(p, VCFG)
    assert (info.rotation_deg, info.width, info.height) == (degrees, 96, 160)
    _, frames = next(iter(video.iter_frames(p, VCFG, max_side=160)))
    f = frames[0].mean(axis=2)
    assert f.shape == (160, 96)
    h, w = f.shape
    corners = {"tl": f[: h // 8, : w // 8], "tr": f[: h // 8, -w // 8:], "bl": f[-h // 8:, : w // 8]}
    bright = {k for k, v in corners.items() if v.mean() > 128}
    # top-left marker turned 90 deg clockwise lands top-right; 270 deg clockwise: bottom-left
    assert bright == ({"tr"} if degrees == 90 else {"bl"})
    assert check_video(p) == "ok"


def test_4k_frames_decode_in_bounded_memory(files):
    small = files / "small_ref.mp4"
    big = files / "uhd.mp4"
    fn = synth.oscillating_square(period_s=0.5, width=3840, height=2160, size=300)
    synth.write_video(big, fn, duration_s=0.4, fps=30.0, width=3840, height=2160)
    synth.write_video(small, synth.oscillating_square(period_s=0.5, width=160, height=96, size=12),
                      duration_s=0.4, fps=30.0, width=160, height=96)
    m = measure(big, warm=small, fps=30.0)
    assert (m["width"], m["height"]) == (3840, 2160) and m["n"] == 12
    # one 3840x2160 RGB frame is 24 MiB, the 12 frames 300 MiB; analysis frames are 128 px wide
    assert m["peak_growth_mb"] < 150, m


@pytest.mark.slow
def test_two_hour_video_probe_and_analysis_memory_bounded(files):
    """7200 frames at 1 fps, 64x36: duration measured, memory independent of length."""
    p = files / "two_hours.mp4"
    img = np.zeros((36, 64, 3), np.uint8)

    def fn(t: float) -> np.ndarray:
        img[:] = int(t) % 200 + 20
        return img

    synth.write_video(p, fn, duration_s=7200.0, fps=1.0, width=64, height=36)
    short = files / "ten_minutes.mp4"
    synth.write_video(short, fn, duration_s=600.0, fps=1.0, width=64, height=36)
    m, ref = measure(p, warm=short), measure(short, warm=short)
    assert abs(m["duration_s"] - 7200.0) < 2.0 and m["n"] == 7200
    # per analysed frame only a few numbers are kept: 12x the length, not 12x the memory
    assert m["peak_growth_mb"] < ref["peak_growth_mb"] + 50, (m, ref)


def test_too_long_refused_by_config(tmp_path):
    from videobgm.video import decode as video
    p = synth.write_video(tmp_path / "long.mp4", synth.static(width=64, height=48), duration_s=3.0,
                          fps=2.0, width=64, height=48)
    with pytest.raises(InputError, match="too long") as ei:
        video.probe(p, VideoConfig(max_duration_s=2.0))
    assert_one_line(str(ei.value))
    with pytest.raises(InputError, match="exceeds"):
        video.probe(p, VideoConfig(max_pixels=100))
