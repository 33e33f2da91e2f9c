"""A web UI that cannot be starved (issue 13, part 4): text and time limits, worker slots, disk
quota and expiry, sessions owning their uploads, cleanup on SIGTERM, still images with a length.

The real pipeline with a tiny untrained model; the live-server tests go through gradio_client.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")

from tests.apps.ui.test_handlers import _factory, _one_thread  # noqa: E402, F401 (the autouse fixture)
from videobgm.apps.ui.handlers import UIHandlers  # noqa: E402
from videobgm.apps.ui.session import MusicControls, SessionState  # noqa: E402
from videobgm.config import PipelineConfig, UIConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
WIDGETS_AUTO = ["auto", "auto", 0, "auto", "auto", [], 1.0, 0]  # the page's controls, all auto


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s, 128x96, 12 fps: a square bouncing with a 1 s period."""
    from videobgm.testing import synthetic_videos as synth
    path = tmp_path_factory.mktemp("ui-limits") / "clip.mp4"
    return synth.write_video(path, synth.bouncing_square(period_s=1.0, width=128, height=96, size=20),
                             duration_s=6.0, fps=12.0, width=128, height=96)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _SignallingPipeline:
    """The real pipeline; sets ``composing`` when plan + composition start (to overlap two users)."""

    composing = threading.Event()

    def __init__(self, config: PipelineConfig) -> None:
        self._pipe = _factory(config)

    def __getattr__(self, name: str):
        return getattr(self._pipe, name)

    def make_music(self, *args, **kwargs):
        type(self).composing.set()
        time.sleep(1.0)  # hold the only worker slot a little longer
        return self._pipe.make_music(*args, **kwargs)


def test_huge_description_fails_fast_while_another_users_job_completes(tmp_path, clip) -> None:
    """The acceptance case: 1 MB of description text, sent while user A's job holds the only
    worker (concurrency 1), is refused in < 2 s; A's job completes."""
    from gradio_client import Client, handle_file

    from videobgm.apps.ui.app import launch

    port = _port()
    ui = UIConfig(work_dir=str(tmp_path / "work"), concurrency_limit=1, max_queue=4)
    demo = launch("127.0.0.1", port, config=PipelineConfig.preset("tiny"), ui_config=ui,
                  pipeline_factory=_SignallingPipeline, block=False, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        a = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        b = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        up = a.predict(handle_file(str(clip)), 30, api_name="/upload")
        assert str(up[0]).startswith("**Analysed** clip.mp4"), up[0]
        job_a = a.submit("calm piano, 90 bpm", *WIDGETS_AUTO, api_name="/generate")
        assert _SignallingPipeline.composing.wait(120), "user A's job did not start"
        t0 = time.perf_counter()
        out_b = b.predict("calm piano " * 95_326, *WIDGETS_AUTO, api_name="/generate")  # 1.05 MB
        elapsed = time.perf_counter() - t0
        assert not job_a.done()  # A still holds the worker: B was answered beside it
        out_a = job_a.result(timeout=180)
    finally:
        demo.close()
    print(f"1 MB description refused in {elapsed:.2f} s while another job ran")
    assert elapsed < 2.0, elapsed
    assert "1048586 characters long; this page accepts up to 10000" in str(out_b[0]), out_b[0]
    assert str(out_a[0]).startswith("**Done (v1)**"), out_a[0]


@pytest.fixture()
def uploaded(tmp_path, clip):
    h = UIHandlers(PipelineConfig.preset("tiny"), UIConfig(work_dir=str(tmp_path / "work")),
                   pipeline_factory=_factory)
    up = h.upload(str(clip), None)
    assert up.ok, up.status
    return h, up


def test_job_time_limit_stops_the_job_and_the_page_keeps_working(uploaded) -> None:
    h, up = uploaded
    version_before = up.state.version
    h.ui = dataclasses.replace(h.ui, job_time_limit_s=1e-4)
    t0 = time.perf_counter()
    out = h.generate(up.state, up.description_text, MusicControls(seed=0))
    assert not out.ok and "took longer than this page's limit of 0.0001 s" in out.status
    assert time.perf_counter() - t0 < 10
    v = Path(up.state.work_dir) / f"v{version_before + 1:03d}"
    assert not v.exists() or not any(v.iterdir())  # stopped before any output was written
    assert h._slots.acquire(blocking=False)  # the worker slot was given back
    h._slots.release()
    h.ui = dataclasses.replace(h.ui, job_time_limit_s=900.0)
    again = h.generate(up.state, up.description_text, MusicControls(seed=0))
    assert again.ok, again.status


def test_text_limit_in_the_ui(uploaded) -> None:
    h, up = uploaded
    out = h.generate(up.state, "calm " * 2001, MusicControls())
    assert not out.ok and "10005 characters long; this page accepts up to 10000" in out.status
    # the limit is the prompt parser's own: text under it is parsed as usual
    ok = h.generate(up.state, "sad cello, 70 bpm, " + "slow " * 1900, MusicControls())
    assert ok.ok, ok.status
    assert ok.state.result.plan.mood == "sad"


def _folder(path: Path, mb: float, age_s: float, now: float) -> Path:
    path.mkdir(parents=True)
    (path / "data.bin").write_bytes(b"\0" * int(mb * 1e6))
    os.utime(path, (now - age_s, now - age_s))
    return path


def test_sweep_expiry_versions_and_quota(tmp_path) -> None:
    ui = UIConfig(work_dir=str(tmp_path / "work"), output_ttl_s=3600, max_work_mb=2.5, keep_versions=2)
    h = UIHandlers(PipelineConfig.preset("tiny"), ui, pipeline_factory=_factory)
    h.store.upload_root = tmp_path / "cache"
    now = time.time()
    root = h.work_root
    expired = _folder(root / "session-expired", 0.1, 7200, now)
    upload = h.store.upload_root / "abc" / "clip.mp4"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"video")
    h.store._uploads[str(expired.resolve())] = str(upload)
    old = _folder(root / "session-old", 1.0, 1800, now)
    mid = _folder(root / "session-mid", 1.0, 900, now)
    new = _folder(root / "session-new", 1.0, 60, now)
    for i in range(1, 5):
        (new / f"v{i:03d}").mkdir()
    os.utime(new, (now - 60, now - 60))
    busy = _folder(root / "session-busy", 1.0, 7200, now)  # expired, but a job is running
    h.store._active[str(busy.resolve())] = 1
    removed = set(h.sweep(now=now))
    assert not expired.exists() and not upload.exists()  # the session took its upload along
    assert {str(expired), str(upload)} <= removed
    assert sorted(p.name for p in new.glob("v*")) == ["v003", "v004"]  # the newest 2 kept
    # 4 MB left (old, mid, new, busy) > 2.5 MB: oldest first until under the quota
    assert not old.exists() and not mid.exists() and new.exists() and busy.exists()
    assert {str(old), str(mid)} <= removed


def test_quota_full_refuses_a_job_with_one_line(tmp_path, clip) -> None:
    ui = UIConfig(work_dir=str(tmp_path / "work"), max_work_mb=0.5)
    h = UIHandlers(PipelineConfig.preset("tiny"), ui, pipeline_factory=_factory)
    other = SessionState()
    d = h._new_work_dir(other)  # another user's job is writing 1 MB: it cannot be swept
    (d / "big.bin").write_bytes(b"\0" * 1_000_000)
    h.store._active[str(d.resolve())] = 1
    out = h.upload(str(clip), None)
    assert not out.ok
    assert "disk quota for results (0.5 MB) is full (1 MB in use)" in out.status
    assert d.is_dir() and not [p for p in h.work_root.glob("session-*") if p != d]
    del h.store._active[str(d.resolve())]  # that job ended: its session is swept to make room
    assert h.upload(str(clip), None).ok
    assert not d.exists()


def test_a_new_upload_or_a_closed_tab_deletes_the_session(tmp_path, clip) -> None:
    h = UIHandlers(PipelineConfig.preset("tiny"), UIConfig(work_dir=str(tmp_path / "work")),
                   pipeline_factory=_factory)
    h.store.upload_root = tmp_path / "cache"
    served = h.store.upload_root / "x" / "clip.mp4"  # the server's copy of an upload
    served.parent.mkdir(parents=True)
    served.write_bytes(clip.read_bytes())
    first = h.upload(str(served), None)
    assert first.ok and first.state.owns_upload
    folder = Path(first.state.work_dir)
    assert folder.is_dir()
    second = h.upload(str(clip), first.state)  # a new upload in the same tab
    assert second.ok and not second.state.owns_upload  # a path the server does not own
    assert not folder.exists() and not served.exists()
    h.end_session(second.state)  # the tab closes (Gradio's State delete_callback)
    assert not Path(second.state.work_dir).exists()
    assert clip.is_file()  # never a file the server did not receive as an upload


def test_still_image_gets_its_length_from_the_page(tmp_path) -> None:
    from PIL import Image

    png = tmp_path / "sunset.png"
    img = np.zeros((60, 80, 3), np.uint8)
    img[..., 0], img[..., 1] = 230, 120  # warm orange
    Image.fromarray(img).save(png)
    h = UIHandlers(PipelineConfig.preset("tiny"), UIConfig(work_dir=str(tmp_path / "work")),
                   pipeline_factory=_factory)
    none = h.upload(str(png), None)
    assert not none.ok and "Music length for a still image" in none.status
    assert "--duration" not in none.status
    up = h.upload(str(png), None, still_duration_s=4)
    assert up.ok, up.status
    assert "still image, music of 0:04.0" in up.status
    assert up.state.features.duration_s == 4.0
    out = h.generate(up.state, up.description_text, MusicControls(seed=0))
    assert out.ok, out.status
    names = sorted(Path(f).suffix for f in out.files)
    assert ".wav" in names and ".mid" in names and ".mp4" not in names and out.video is None
    import soundfile as sf

    info = sf.info([f for f in out.files if f.endswith(".wav")][0])
    assert abs(info.duration - 4.0) < 0.05


def test_page_has_the_still_image_length_field(tmp_path) -> None:
    from videobgm.apps.ui.app import build_app

    demo = build_app(PipelineConfig.preset("tiny"), pipeline_factory=_factory,
                     ui_config=UIConfig(work_dir=str(tmp_path)))
    by_id = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    field = by_id["vbgm-still-duration"]
    assert field.value == 30.0 and "still image" in field.label
    assert "vbgm-image" in by_id
    assert os.environ["GRADIO_TEMP_DIR"] == str(tmp_path / "gradio-cache")


SERVER = textwrap.dedent("""
    import sys
    from videobgm.config import PipelineConfig, UIConfig
    from videobgm.pipeline import Pipeline
    from videobgm.apps.ui.app import launch

    launch("127.0.0.1", int(sys.argv[1]), config=PipelineConfig.preset("tiny"),
           ui_config=UIConfig(), pipeline_factory=lambda c: Pipeline(c, untrained=True),
           block=True, quiet=True)
    print("server closed", flush=True)
""")


@pytest.mark.slow
def test_sigterm_removes_outputs_and_cache(tmp_path, clip) -> None:
    """``videobgm ui`` stopped by SIGTERM (systemd, docker stop) leaves no outputs or cache."""
    from gradio_client import Client, handle_file

    port = _port()
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=str(REPO / "src"))
    env.pop("GRADIO_TEMP_DIR", None)
    env.pop("_VIDEOBGM_UI_GRADIO_CACHE", None)
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    root = tmp_path / "videobgm-ui"
    try:
        client = None
        for _ in range(240):
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False,
                                analytics_enabled=False, download_files=False)
                break
            except Exception:  # noqa: BLE001 - not up yet
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.5)
        assert client is not None, "the server did not start"
        client.predict(handle_file(str(clip)), 30, api_name="/upload")
        out = client.predict("calm piano", *WIDGETS_AUTO, api_name="/generate")
        assert str(out[0]).startswith("**Done (v1)**"), out[0]
        assert list(root.glob("session-*/v001/*.mid"))
        assert any(p.is_file() for p in (root / "gradio-cache").rglob("*"))
        proc.send_signal(signal.SIGTERM)
        log, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "server closed" in log, log[-3000:]
    assert proc.returncode == 0, log[-3000:]
    assert not root.exists(), sorted(str(p) for p in root.rglob("*"))[:10]
