"""Any video in, a valid video out: the codec/container matrix (issue 13, part 1).

Every input codec in ``_codecclips.NAMED`` (the codecs of the issue's report and the common ones)
is muxed into each of .mp4, .mov, .mkv and .webm with ``mux.mux`` and synthetic music; the output
must decode back with one video and one audio stream, every input frame at its own time, codecs
the container allows, and the audio within 0.1 s of the video at both ends. A few pairs run the
whole pipeline (tiny untrained model) and the CLI. The slow tier (``VIDEOBGM_SLOW=1``) sweeps
every software video encoder of the bundled FFmpeg as input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests import _codecclips as C
from tests._reliability import time_limit
from videobgm.audio import mux as mux_mod
from videobgm.audio import transcode
from videobgm.config import MuxConfig, PipelineConfig
from videobgm.errors import OptionError

SR = 44100
# what each output container may hold after muxing (copied or re-encoded)
LEGAL_VIDEO = {".mp4": transcode.COPYABLE["mp4"], ".mov": transcode.COPYABLE["mov"],
               ".mkv": transcode.COPYABLE["matroska"], ".webm": transcode.COPYABLE["webm"]}
LEGAL_AUDIO = {".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "opus"}
SYNC_TOL_S = 0.1


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([x, x], axis=1)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("codecs")
    return {c.name: C.write_clip(c, d) for c in C.NAMED}


def assert_valid(src: Path, out: Path, ext: str) -> dict:
    """``out`` decodes fully: one video + one audio stream, legal codecs, every input frame at its
    own time, the music present, audio start and end within 0.1 s of the video's."""
    st = C.stream_times(out)
    assert st["video_codec"] in LEGAL_VIDEO[ext], st["video_codec"]
    assert st["audio_codec"] == LEGAL_AUDIO[ext]
    vt, tin = st["video_times_s"], np.unique(C.input_frame_times(src))
    assert vt.size == tin.size, (vt.size, tin.size)  # no frame dropped or duplicated
    np.testing.assert_allclose(vt - vt[0], tin - tin[0], atol=0.0015)  # timing kept (VFR too)
    step = float(np.median(np.diff(tin))) if tin.size > 1 else 0.1
    v_end, a_end = vt[-1] + step, st["audio_start_s"] + st["audio_s"]
    assert abs(st["audio_start_s"] - vt[0]) <= SYNC_TOL_S, (st["audio_start_s"], vt[0])
    assert abs(a_end - v_end) <= SYNC_TOL_S, (a_end, v_end)
    assert st["audio_rms_mid"] > 0.1, st["audio_rms_mid"]  # the 0.3-amplitude tone (rms 0.21)
    return st


def assert_scored(src: Path, out: Path, ext: str) -> None:
    """A pipeline output: every input frame, legal codecs, music as long as the video (0.1 s)."""
    st = C.stream_times(out)
    vt = st["video_times_s"]
    assert vt.size == np.unique(C.input_frame_times(src)).size
    assert st["video_codec"] in LEGAL_VIDEO[ext] and st["audio_codec"] == LEGAL_AUDIO[ext]
    v_end = vt[-1] + float(np.median(np.diff(vt)))
    assert abs(st["audio_start_s"] + st["audio_s"] - v_end) <= SYNC_TOL_S


def src_codec(path: Path) -> str:
    return transcode.input_video_codec(path) or ""


def _mux_and_check(src: Path, out: Path, ext: str) -> dict:
    from videobgm.video import decode as video
    with time_limit(120):  # a hang fails the case instead of the suite
        info = video.probe(src)  # the pipeline passes the probed duration too
        res = mux_mod.mux(src, tone(info.duration_s + 1.0), SR, out, MuxConfig(),
                          duration_s=info.duration_s)
    plan = transcode.choose_streams(src_codec(src), ext)
    assert res["video_copied"] == plan.copy  # the up-front decision is what happened
    assert_valid(src, out, ext)
    return res


# ----------------------------------------------------------------------------------------------
# the decision, before any work
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("codec,ext,video,audio", [
    ("h264", ".mp4", "copy", "aac"), ("h264", ".webm", "libvpx-vp9", "libopus"),
    ("msmpeg4v3", ".mp4", "libx264", "aac"), ("msmpeg4v2", ".mkv", "libx264", "aac"),
    ("wmv2", ".mov", "libx264", "aac"), ("gif", ".mkv", "libx264", "aac"),
    ("vp8", ".webm", "copy", "libopus"), ("vp8", ".mp4", "libx264", "aac"),
    ("av1", ".mp4", "copy", "aac"), ("av1", ".mov", "libx264", "aac"),
    ("prores", ".mov", "copy", "aac"), ("prores", ".mp4", "libx264", "aac"),
    ("mjpeg", ".M4V", "libx264", "aac"), ("vp9", ".MKV", "copy", "aac"),
])
def test_choose_streams_is_a_table(codec, ext, video, audio):
    plan = transcode.choose_streams(codec, ext)
    assert (plan.video, plan.audio, plan.copy) == (video, audio, video == "copy")


def test_unsupported_output_refused_in_one_line(clips, tmp_path):
    for ext in (".avi", "", ".gif"):
        with pytest.raises(OptionError, match="accepted: .mp4") as ei:
            transcode.plan_output(clips["h264_mp4"], tmp_path / f"x{ext}")
        assert "\n" not in str(ei.value)


def test_missing_encoder_refused_before_analysis(clips, tmp_path, monkeypatch):
    """No output possible (the re-encoder is absent): one line, before the pipeline analyses."""
    from videobgm.pipeline import Pipeline

    monkeypatch.setattr(transcode, "_has_encoder", lambda name: name != "libx264")
    pipe = Pipeline(PipelineConfig.preset("tiny"), untrained=True)
    monkeypatch.setattr(pipe, "analyze", lambda *a, **k: pytest.fail("analysed before refusing"))
    with pytest.raises(OptionError, match="no libx264 encoder") as ei:
        pipe.run(clips["msmpeg4v3_avi"], tmp_path / "o.mp4")
    assert "\n" not in str(ei.value)
    pipe_plan = transcode.plan_output(clips["h264_mp4"], tmp_path / "o.mp4")  # copy needs no encoder
    assert pipe_plan is not None and pipe_plan.copy
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# the matrix (default tier: the named codecs x 4 containers, mux level)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", C.OUTPUTS)
@pytest.mark.parametrize("name", [c.name for c in C.NAMED])
def test_matrix_named_codecs(clips, tmp_path, name, ext):
    _mux_and_check(clips[name], tmp_path / f"out{ext}", ext)


def test_reencode_makes_even_size(clips, tmp_path):
    import av

    for ext in (".mp4", ".webm"):
        out = tmp_path / f"even{ext}"
        _mux_and_check(clips["odd_size_ffv1_mkv"], out, ext)  # 65x49 FFV1: re-encoded
        with av.open(str(out)) as c:
            ctx = c.streams.video[0].codec_context
            assert (ctx.width, ctx.height, ctx.pix_fmt) == (64, 48, "yuv420p")


def test_reencode_keeps_rotation(tmp_path):
    from tests._reliability import set_mp4_rotation
    from videobgm.video import decode as video
    src = C.write_clip(C.Clip("rot_prores", "prores_ks", "mov", pix_fmt="yuv422p10le", width=66,
                              height=50), tmp_path)
    set_mp4_rotation(src, 90)
    for ext in (".mp4", ".webm"):  # ProRes is re-encoded for both
        out = tmp_path / f"rot{ext}"
        res = _mux_and_check(src, out, ext)
        assert not res["video_copied"]
        info = video.probe(out)
        assert (info.rotation_deg, info.width, info.height) == (90, 50, 66)  # display: turned


def test_copy_refused_by_muxer_falls_back_to_reencode(clips, tmp_path, monkeypatch):
    import av

    def refuse(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise av.error.InvalidDataError(22, "Invalid argument")

    monkeypatch.setattr(transcode.VideoWriter, "_copy", refuse)
    out = tmp_path / "o.mp4"
    res = mux_mod.mux(clips["h264_mp4"], tone(2.0), SR, out, MuxConfig())
    assert not res["video_copied"] and "re-encoded" in res["notes"][-1]
    assert_valid(clips["h264_mp4"], out, ".mp4")


# ----------------------------------------------------------------------------------------------
# through the whole pipeline and the CLI
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,ext", [("gif", ".mp4"), ("vfr_h264_mkv", ".mp4"),
                                      ("msmpeg4v3_avi", ".webm"), ("av1_mkv", ".mov"),
                                      ("wmv2_wmv", ".mkv")])
def test_pipeline_scores_ordinary_codecs(clips, tmp_path, tiny_pipeline, name, ext):
    out = tmp_path / f"scored{ext}"
    with time_limit(180):
        res = tiny_pipeline.run(clips[name], out, midi=tmp_path / "m.mid", plan_json=tmp_path / "p.json")
    assert res.output_path == str(out) and (tmp_path / "m.mid").stat().st_size > 0
    assert_scored(clips[name], out, ext)
    recorded = json.loads((tmp_path / "p.json").read_text())["mux"]  # the plan JSON says what was done
    plan = transcode.choose_streams(src_codec(clips[name]), ext)
    assert recorded["video_copied"] == plan.copy and recorded["output"] == str(out)
    assert plan.copy or recorded["notes"] == [f"{plan.input_codec} video cannot be copied into {ext}: "
                                              f"re-encoded with {plan.video}"]


def test_cli_gif_to_webm(clips, tmp_path):
    out = tmp_path / "o.webm"
    proc = subprocess.run([sys.executable, "-m", "videobgm", "-q", "score", str(clips["gif"]),
                           "-o", str(out), "--preset", "tiny", "--untrained"],
                          capture_output=True, text=True, timeout=240, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert C.stream_times(out)["video_codec"] == "vp9"


# ----------------------------------------------------------------------------------------------
# slow tier: every software video encoder of the bundled FFmpeg as input
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> dict[str, Path | None]:
    d = tmp_path_factory.mktemp("sweep")
    return {c.name: C.write_sweep_clip(c, d) for c in C.sweep_clips()}


@pytest.mark.slow
@pytest.mark.parametrize("ext", C.OUTPUTS)
@pytest.mark.parametrize("name", [c.name for c in C.sweep_clips()])
def test_matrix_every_encoder(sweep, tmp_path, name, ext):
    src = sweep[name]
    if src is None:
        pytest.skip(f"{name}: no container and frame shape here take a clip from this encoder")
    _mux_and_check(src, tmp_path / f"out{ext}", ext)


@pytest.mark.slow
@pytest.mark.parametrize("i,name", list(enumerate(c.name for c in C.sweep_clips())))
def test_pipeline_every_encoder(sweep, tmp_path, tiny_pipeline, i, name):
    """Every sweep codec through the whole pipeline (tiny model), the output container rotating
    over .mp4/.mov/.mkv/.webm."""
    src = sweep[name]
    if src is None:
        pytest.skip(f"{name}: no container and frame shape here take a clip from this encoder")
    ext = C.OUTPUTS[i % len(C.OUTPUTS)]
    out = tmp_path / f"scored{ext}"
    with time_limit(180):
        tiny_pipeline.run(src, out)
    assert_scored(src, out, ext)


@pytest.mark.parametrize("name", ["gif", "msmpeg4v3_avi"])
def test_ui_generate_on_ordinary_codecs(clips, tmp_path, name):
    """The UI's Generate used to fail with "Internal error ... a bug" on these uploads."""
    pytest.importorskip("gradio")
    from videobgm.apps.ui.handlers import UIHandlers
    from videobgm.apps.ui.session import MusicControls
    from videobgm.config import UIConfig
    from videobgm.pipeline import Pipeline

    h = UIHandlers(PipelineConfig.preset("tiny"), UIConfig(work_dir=str(tmp_path), stems=False),
                   pipeline_factory=lambda cfg: Pipeline(cfg, untrained=True))
    with time_limit(180):
        up = h.upload(str(clips[name]), None)
        assert up.ok, up.status
        out = h.generate(up.state, up.description_text, MusicControls(seed=0))
    assert out.ok, out.status
    assert_scored(clips[name], Path(out.video), ".mp4")
    assert C.stream_times(Path(out.video))["video_codec"] == "h264"
