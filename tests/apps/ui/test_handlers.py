"""Web UI logic through its handler functions (no browser): the real pipeline, tiny untrained model.

Section regeneration keeps every note outside the chosen bars and changes the inside; bad uploads
come back as a message and the same app object keeps working.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")

from videobgm.apps.ui.handlers import UIHandlers  # noqa: E402
from videobgm.apps.ui.session import KEYS, MusicControls, SessionState  # noqa: E402
from videobgm.config import PipelineConfig, UIConfig  # noqa: E402
from videobgm.errors import OptionError  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _factory(config: PipelineConfig):
    from videobgm.pipeline import Pipeline

    return Pipeline(config, untrained=True)


@pytest.fixture(scope="module")
def short_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s, 160x120, 15 fps: a square bouncing with a 1 s period and a hard cut at 4 s."""
    from videobgm.testing import synthetic_videos as synth
    square = synth.bouncing_square(period_s=1.0, width=160, height=120, size=24)
    cut = synth.hard_cut(cut_times_s=[4.0], width=160, height=120)

    def frame(t: float) -> np.ndarray:
        img = cut(t)
        if t >= 4.0:
            return img
        return np.maximum(img // 3, square(t))

    path = tmp_path_factory.mktemp("ui") / "clip.mp4"
    return synth.write_video(path, frame, duration_s=8.0, fps=15.0, width=160, height=120)


@pytest.fixture(scope="module")
def handlers(tmp_path_factory: pytest.TempPathFactory) -> UIHandlers:
    ui = UIConfig(work_dir=str(tmp_path_factory.mktemp("ui-work")), max_duration_s=30.0)
    return UIHandlers(PipelineConfig.preset("tiny"), ui, pipeline_factory=_factory)


@pytest.fixture(scope="module")
def generated(handlers: UIHandlers, short_video: Path):
    up = handlers.upload(str(short_video), None)
    assert up.ok, up.status
    out = handlers.generate(up.state, up.description_text, MusicControls(seed=0))
    assert out.ok, out.status
    return up, out


def _bar_of(note, steps_per_bar: int) -> int:
    return note.onset_16th // steps_per_bar


def test_upload_analyses_and_plans(generated) -> None:
    up, _ = generated
    st = up.state
    assert st.features is not None and st.preview_plan is not None
    assert abs(st.video_info["duration_s"] - 8.0) < 0.1
    # the plot has the feature axes and the plan axis; the dropdown lists every planned section
    assert len(up.figure.axes) == 3
    assert len(up.sections) == len(st.preview_plan.sections) >= 1
    first, last = up.sections[0][1], up.sections[-1][1]
    assert first.startswith("0-") and last.endswith(f"-{st.preview_plan.n_bars}")
    assert up.description_text and "Analysed" in up.status


def test_generate_writes_every_download(generated) -> None:
    _, out = generated
    names = [Path(f).name for f in out.files]
    assert any(n.endswith(".scored.mp4") for n in names)
    assert any(n.endswith(".wav") for n in names) and any(n.endswith(".mid") for n in names)
    stems = [f for f in out.files if f.endswith(".stems.zip")]
    assert stems and zipfile.ZipFile(stems[0]).namelist()
    assert out.video == out.state.result.output_path and Path(out.video).stat().st_size > 0
    assert len(out.state.result.score.notes) > 0


def test_regenerate_keeps_notes_outside_the_bars(handlers: UIHandlers, generated) -> None:
    _, out = generated
    st: SessionState = out.state
    before = list(st.result.score.notes)
    n_bars = st.result.plan.n_bars
    spb = st.result.score.steps_per_bar
    assert n_bars >= 3
    a, b = 1, min(n_bars - 1, 3)  # 0-based [a, b): the page's bars 2..b (1-based, inclusive)
    old_video = out.video
    re = handlers.regenerate(st, a + 1, b, 7)
    assert re.ok, re.status
    after = re.state.result.score.notes
    outside_before = [n for n in before if not a <= _bar_of(n, spb) < b]
    outside_after = [n for n in after if not a <= _bar_of(n, spb) < b]
    assert outside_after == outside_before  # note for note
    inside_before = [n for n in before if a <= _bar_of(n, spb) < b]
    inside_after = [n for n in after if a <= _bar_of(n, spb) < b]
    assert inside_after and inside_after != inside_before
    # new files (the browser must not get a cached old version), old ones untouched
    assert re.video != old_video and Path(re.video).is_file() and Path(old_video).is_file()
    assert "bars 2-" in re.status
    # the same bars with the same seed again: the same notes (seeded)
    again = handlers.regenerate(re.state, a + 1, b, 7)
    assert again.ok and again.state.result.score.notes == after


def test_regenerate_refuses_bad_ranges(handlers: UIHandlers, generated) -> None:
    _, out = generated
    n = out.state.result.plan.n_bars
    for first, last in ((0, 1), (2, 1), (1, n + 1), ("x", 2)):
        o = handlers.regenerate(out.state, first, last, 3)
        assert not o.ok and "bar" in o.status, (first, last, o.status)
    o = handlers.regenerate(SessionState(), 1, 1, 3)
    assert not o.ok and "Generate first" in o.status


def test_bad_uploads_give_a_message_and_the_app_keeps_working(
    tmp_path: Path, short_video: Path
) -> None:
    ui = UIConfig(work_dir=str(tmp_path / "work"), max_duration_s=5.0, max_upload_mb=1.0)
    h = UIHandlers(PipelineConfig.preset("tiny"), ui, pipeline_factory=_factory)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(short_video.read_bytes()[: short_video.stat().st_size // 2])
    big = tmp_path / "big.mp4"
    big.write_bytes(short_video.read_bytes() + b"\0" * 1_100_000)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    cases = {
        None: "no video",
        str(text): "notes.mp4",
        str(corrupt): "corrupt.mp4",
        str(big): "MB",
        str(empty): "empty",
        str(short_video): "5 s",  # 8 s video, 5 s limit: too long
    }
    for path, expected in cases.items():
        o = h.upload(path, None)
        assert not o.ok, path
        assert o.status.startswith("**Upload refused:**") and expected in o.status, o.status
        assert "\n" not in o.status and str(tmp_path) not in o.status  # one line, no temp paths
        assert o.state.features is None
    # generating after a refused upload says what to do instead of failing
    g = h.generate(SessionState(), "calm piano", MusicControls())
    assert not g.ok and "upload a video first" in g.status
    # the same handlers still score a good upload
    h2 = UIHandlers(PipelineConfig.preset("tiny"), ui.replace(max_duration_s=30.0),
                    pipeline_factory=_factory)
    assert h2.upload(str(short_video), None).ok


def test_edited_description_and_controls_reach_the_plan(handlers: UIHandlers, generated) -> None:
    up, _ = generated
    proposed = up.state.proposed
    key = (KEYS.index(proposed.key) + 2) % 12  # a key the upload did not propose
    out = handlers.generate(up.state, "sad slow music for cello and piano",
                            dataclasses.replace(proposed, tempo_bpm=72.0, key=KEYS[key],
                                                mode="minor", seed=1))
    assert out.ok, out.status
    plan = out.state.result.plan
    assert out.state.config.plan.tempo_bpm == 72.0 and out.state.config.sample.seed == 1
    # the planner may change the tempo to put the cut on a bar line (its tempo map)
    assert abs(plan.tempo_bpm - 72.0) <= 72.0 * 0.25, plan.reasons.get("tempo")
    assert plan.controls.key_tonic == key and plan.controls.mode == "minor"
    desc = out.state.result.description
    assert desc.source == "edited" and desc.mood == "sad"
    # the untouched pre-filled mood did not override the edited words
    assert plan.mood == "sad" and "cello" in (desc.instruments or [])


def test_build_app_queues_heavy_work(tmp_path: Path) -> None:
    from videobgm.apps.ui.app import build_app

    ui = UIConfig(work_dir=str(tmp_path), concurrency_limit=2, max_queue=5)
    demo = build_app(PipelineConfig.preset("tiny"), pipeline_factory=_factory, ui_config=ui)
    assert demo.videobgm_handlers.ui is ui
    heavy = [f for f in demo.fns.values() if f.concurrency_id == "videobgm-work"]
    assert len(heavy) == 4  # video upload, image upload, generate, regenerate share one group
    # Gradio lets the waiting ones into the handlers (fast checks first); the handlers' own
    # slots run 2 heavy jobs at once
    assert all(f.concurrency_limit == 2 + 5 and f.queue for f in heavy)
    assert demo.videobgm_handlers._slots._value == 2
    assert demo._queue.max_size == 5


class _CountingPipeline:
    """The real pipeline, counting how many analyses run at the same time."""

    lock = threading.Lock()
    running = 0
    peak = 0

    def __init__(self, config: PipelineConfig) -> None:
        self._pipe = _factory(config)

    def __getattr__(self, name: str):
        return getattr(self._pipe, name)

    def analyze(self, *args, **kwargs):
        cls = type(self)
        with cls.lock:
            cls.running += 1
            cls.peak = max(cls.peak, cls.running)
        try:
            return self._pipe.analyze(*args, **kwargs)
        finally:
            with cls.lock:
                cls.running -= 1


def test_simultaneous_users_are_queued_not_crashed(tmp_path: Path, short_video: Path) -> None:
    """Three uploads at once through the live server: all served, one at a time (limit 1)."""
    from gradio_client import Client, handle_file

    from videobgm.apps.ui.app import launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ui = UIConfig(work_dir=str(tmp_path), concurrency_limit=1, max_queue=8)
    demo = launch("127.0.0.1", port, config=PipelineConfig.preset("tiny"), ui_config=ui,
                  pipeline_factory=_CountingPipeline, block=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False,
                        download_files=False)
        jobs = [client.submit(handle_file(str(short_video)), api_name="/upload") for _ in range(3)]
        statuses = [str(job.result(timeout=180)[0]) for job in jobs]
    finally:
        demo.close()
    assert all(st.startswith("**Analysed** clip.mp4") for st in statuses), statuses
    assert _CountingPipeline.peak == 1


def test_ui_command_refuses_bad_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from videobgm.apps.cli.main import main
    from videobgm.apps.ui.app import launch

    assert main(["ui", "--port", "0"]) == 2
    assert main(["ui", "--concurrency", "0"]) == 2
    err = capsys.readouterr().err
    assert "--port must be in 1..65535" in err and "--concurrency must be > 0" in err
    with socket.socket() as s:  # a busy port is a one-line error, not a traceback
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(OptionError, match="cannot serve on 127.0.0.1"):
            launch("127.0.0.1", s.getsockname()[1], config=PipelineConfig.preset("tiny"),
                   ui_config=UIConfig(work_dir=str(tmp_path)), block=False, quiet=True)


def test_description_box_is_what_plays(handlers: UIHandlers, generated) -> None:
    """Issue 16: the description box shows the description the plan was made from (with the
    planner's final values), after the upload and after Generate; plan.json stores the same."""
    import json

    up, _ = generated  # (other tests generate on the same state: generate once more here)
    out = handlers.generate(up.state, up.state.description.text, MusicControls(mood="epic", seed=0))
    assert out.ok, out.status
    assert out.state.result.plan.mood == "epic"
    for text, plan in ((up.description_text, up.state.preview_plan),
                       (out.description_text, out.state.result.plan)):
        d = plan.description
        assert text == d.text
        head = f"{plan.mood[0].upper()}{plan.mood[1:]} {plan.style} music in " \
               f"{KEYS[plan.controls.key_tonic]} {plan.controls.mode} at {plan.tempo_bpm:.0f} bpm"
        assert text.startswith(head), (text, head)
        assert set(d.instruments) == set(plan.instruments.values())
    plan_files = [f for f in out.files if f.endswith(".json")]
    if plan_files:
        stored = json.loads(Path(plan_files[0]).read_text())["description"]
        assert stored["text"] == out.description_text
