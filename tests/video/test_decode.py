"""video.py: probing (duration, fps, VFR, rotation, audio) and chunked decoding; bad inputs refused."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests._badvideos import make_bad_inputs
from videobgm.config import VideoConfig
from videobgm.errors import InputError
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
