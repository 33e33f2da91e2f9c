"""The real page in headless Chromium (Playwright): refuse a bad upload, then upload a synthetic
video, press Generate and download a scored video whose audio is non-silent and as long as the
video. A screenshot of the result page is saved as ``test-artifacts/ui_result.png``.

Needs Debian's ``chromium`` (``scripts/install_browser.sh`` installs it when run as root); skips
with the reason otherwise. Playwright never downloads a browser here: it is pointed at that binary.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 120_000


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _audio_and_video_duration(path: Path) -> tuple[np.ndarray, int, float]:
    """Decoded audio (n,) mono mix, its sample rate, and the video stream's duration in seconds."""
    import av

    with av.open(str(path)) as c:
        assert c.streams.audio, "the produced video has no audio track"
        vs = c.streams.video[0]
        vtimes = [f.time for f in c.decode(vs)]
        fps = float(vs.average_rate)
        video_s = max(vtimes) + 1.0 / fps
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        sr = a.codec_context.sample_rate
        chunks = [f.to_ndarray().reshape(f.to_ndarray().shape[0], -1) for f in c.decode(a)]
    x = np.concatenate([ch.astype(np.float64) for ch in chunks], axis=1)
    return x.mean(axis=0), sr, video_s


@pytest.fixture(scope="module")
def chromium_path() -> str:
    pytest.importorskip("playwright.sync_api", reason="playwright (pip extra 'browser') missing")
    pytest.importorskip("gradio", reason="gradio (pip extra 'ui') missing")
    path = _chromium()
    if path is None:
        pytest.skip("no chromium binary: run scripts/install_browser.sh as root "
                    "(apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def server(chromium_path: str, tmp_path_factory: pytest.TempPathFactory):
    import torch

    from videobgm.apps.ui.app import launch
    from videobgm.config import PipelineConfig, UIConfig
    from videobgm.pipeline import Pipeline

    torch.set_num_threads(1)
    port = _free_port()
    ui = UIConfig(work_dir=str(tmp_path_factory.mktemp("ui-browser-work")), max_duration_s=60.0)
    demo = launch("127.0.0.1", port, config=PipelineConfig.preset("tiny"), ui_config=ui,
                  pipeline_factory=lambda c: Pipeline(c, untrained=True), block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """6 s, 160x120, 15 fps: a square oscillating with a 1 s period."""
    from videobgm.testing import synthetic_videos as synth
    path = tmp_path_factory.mktemp("ui-browser") / "square.mp4"
    synth.write_video(path, synth.oscillating_square(period_s=1.0, width=160, height=120, size=24),
                      duration_s=6.0, fps=15.0, width=160, height=120)
    return {"path": path, "duration_s": 6.0}


def _wait_status(page, text: str) -> str:
    page.wait_for_function(
        "t => (document.querySelector('#vbgm-status')?.innerText || '').includes(t)",
        arg=text, timeout=TIMEOUT_MS,
    )
    return page.locator("#vbgm-status").inner_text()


def test_upload_generate_download_in_chromium(
    server: str, chromium_path: str, small_video: dict, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    not_video = tmp_path / "holiday.mp4"
    not_video.write_text("this is a text file, not a video\n" * 10)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS,
                                    headless=True)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1400})
            page.goto(server, wait_until="domcontentloaded")
            page.wait_for_selector("#vbgm-generate", timeout=TIMEOUT_MS)
            assert "MB" in page.locator("#vbgm-limits").inner_text()

            # a bad upload: a message in the page, and the page keeps working
            page.locator("#vbgm-upload input[type=file]").set_input_files(str(not_video))
            status = _wait_status(page, "Upload refused")
            assert "holiday.mp4" in status and "not a readable video" in status

            # the real upload: features, plot, description, sections
            page.locator("#vbgm-upload input[type=file]").set_input_files(str(small_video["path"]))
            status = _wait_status(page, "Analysed")
            assert "square.mp4" in status
            assert page.locator("#vbgm-desc textarea").input_value().strip()
            page.wait_for_selector("#vbgm-plot img", timeout=TIMEOUT_MS)  # matplotlib -> <img>

            page.locator("#vbgm-generate").click()
            status = _wait_status(page, "Done (v1)")
            page.wait_for_selector("#vbgm-result video[src]", timeout=TIMEOUT_MS)
            links = page.locator("#vbgm-files a")
            hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
            for ext in (".mp4", ".wav", ".mid", ".zip"):
                assert any(h.endswith(ext) for h in hrefs), (ext, hrefs)
            # download the scored video through the page's own link
            mp4 = next(h for h in hrefs if h.endswith(".mp4"))
            resp = page.request.get(mp4)
            assert resp.ok, resp.status
            out = tmp_path / "downloaded.mp4"
            out.write_bytes(resp.body())

            # regenerate bars 2-3 from the page: a new version, the rest kept (see test_handlers.py)
            page.locator("#vbgm-first-bar input").fill("2")
            page.locator("#vbgm-last-bar input").fill("3")
            page.locator("#vbgm-regenerate").click()
            status = _wait_status(page, "Done (v2)")
            assert "bars 2-3 regenerated" in status
            # the earlier warning toast closes by itself (6 s); keep it out of the screenshot
            page.locator('[data-testid="toast-body"]').first.wait_for(state="detached",
                                                                     timeout=15_000)
            page.wait_for_timeout(500)  # let the player and plot settle for the screenshot
            page.screenshot(path=str(ARTIFACTS / "ui_result.png"), full_page=True)
        finally:
            browser.close()

    audio, sr, video_s = _audio_and_video_duration(out)
    audio_s = audio.size / sr
    assert abs(video_s - small_video["duration_s"]) < 0.1, video_s
    assert abs(audio_s - video_s) <= 0.050, (audio_s, video_s)
    rms = float(np.sqrt(np.mean(audio**2)))
    assert rms > 1e-3, f"audio is silent (rms {rms:.2e})"
    assert (ARTIFACTS / "ui_result.png").stat().st_size > 10_000
