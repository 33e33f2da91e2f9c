"""Shared fixtures: synthetic videos with known answers (made once per session) and paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIDEOBGM_SHARED", REPO.parent / "shared"))
SHARED_VIDEOS = SHARED / "videos"
POP909 = Path(os.environ.get("VIDEOBGM_POP909", SHARED / "data" / "POP909"))


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    if os.environ.get("VIDEOBGM_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: set VIDEOBGM_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def tiny_pipeline():
    """``Pipeline(PipelineConfig.preset("tiny"), untrained=True)``, model loaded, one torch thread."""
    import torch

    from videobgm.config import PipelineConfig
    from videobgm.pipeline import Pipeline

    torch.set_num_threads(1)
    pipe = Pipeline(PipelineConfig.preset("tiny"), untrained=True)
    pipe.load_model()
    return pipe


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synth")


@pytest.fixture(scope="session")
def square_video(synth_dir: Path) -> dict:
    """12 s, 30 fps, 320x240: a square oscillating with a 1.0 s period (turns every 0.5 s)."""
    from videobgm.testing import synthetic_videos as synth
    period, duration = 1.0, 12.0
    path = synth.write_video(
        synth_dir / "square.mp4", synth.oscillating_square(period_s=period),
        duration_s=duration, fps=30.0,
    )
    return {"path": path, "period_s": period, "duration_s": duration, "fps": 30.0,
            "turning_times_s": synth.square_turning_times(period, duration)}


@pytest.fixture(scope="session")
def cut_video(synth_dir: Path) -> dict:
    """9 s, 30 fps: hard cuts at 3.0 s and 6.0 s."""
    from videobgm.testing import synthetic_videos as synth
    cuts = [3.0, 6.0]
    path = synth.write_video(synth_dir / "cut.mp4", synth.hard_cut(cut_times_s=cuts), duration_s=9.0)
    return {"path": path, "cut_times_s": cuts, "duration_s": 9.0, "fps": 30.0}


@pytest.fixture(scope="session")
def pan_video(synth_dir: Path) -> dict:
    """6 s smooth pan, no cuts."""
    from videobgm.testing import synthetic_videos as synth
    path = synth.write_video(synth_dir / "pan.mp4", synth.smooth_pan(), duration_s=6.0)
    return {"path": path, "duration_s": 6.0}


@pytest.fixture(scope="session")
def ramp_video(synth_dir: Path) -> dict:
    """5 s flat grey frame whose brightness rises linearly."""
    from videobgm.testing import synthetic_videos as synth
    path = synth.write_video(synth_dir / "ramp.mp4", synth.color_ramp(duration_s=5.0), duration_s=5.0)
    return {"path": path, "duration_s": 5.0}


@pytest.fixture(scope="session")
def static_video(synth_dir: Path) -> dict:
    """4 s still frame."""
    from videobgm.testing import synthetic_videos as synth
    path = synth.write_video(synth_dir / "static.mp4", synth.static(), duration_s=4.0)
    return {"path": path, "duration_s": 4.0}


def shared_videos() -> list[Path]:
    """The real sample videos in ../shared/videos (empty list when absent)."""
    if not SHARED_VIDEOS.is_dir():
        return []
    return sorted(SHARED_VIDEOS.glob("*.mp4"))


# fixtures of the reliability tests (tests/_reliability.py imports the paths above, so this comes last)
from tests._reliability import (  # noqa: E402, F401
    files,
    sample_faststart,
    sample_midi,
    sample_video,
    short_clip,
)
