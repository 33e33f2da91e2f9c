"""[apps/ui] The page's limits: what it accepts, checked before any heavy work (the upload's size,
a readable video or still image, its length; the edited description's length), how long a job may
run (:class:`Job`, :class:`JobTimeout`), when the server is full (:class:`ServerBusy`), and how the
page words limits and lengths.

A refusal is an :class:`~videobgm.errors.InputError` / :class:`~videobgm.errors.OptionError`
with one line for the user; :mod:`videobgm.apps.ui.handlers` calls these first, so a bad request
is answered at once even while another user's job runs.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from videobgm.config import VideoConfig
from videobgm.errors import InputError, OptionError, VideobgmError

log = logging.getLogger(__name__)


class JobTimeout(VideobgmError):
    """A job ran past ``UIConfig.job_time_limit_s`` and was stopped."""


class ServerBusy(VideobgmError):
    """No worker slot or no disk space for a new job (the user may try again later)."""


class Job:
    """One heavy job's deadline; :meth:`check` (called at every pipeline stage and progress
    update) stops the job once it has run longer than the limit."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = float(limit_s)
        self.deadline = time.monotonic() + self.limit_s

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise JobTimeout(f"the job took longer than this page's limit of "
                             f"{fmt_limit(self.limit_s)} and was stopped; try a shorter video "
                             f"(or the `videobgm score` command)")


def check_text(text: str | None, max_chars: int) -> None:
    """Refuse an edited description longer than ``UIConfig.max_text_chars`` (before any work)."""
    n = len(text or "")
    if n > int(max_chars):
        raise OptionError(f"the description is {n} characters long; this page accepts up to "
                          f"{int(max_chars)} (describe the music in a few words)")

def check_upload(video_path: str | os.PathLike[str] | None, still_duration_s: Any = None, *,
                 max_upload_mb: float, max_duration_s: float, video_config: VideoConfig) -> dict[str, Any]:
    """Refuse what the page does not take; return the probed video's info as a dict.

    A still image (PNG, JPEG, ...) is accepted with ``still_duration_s`` (the page's
    "Music length for a still image" field): the music gets that length.

    Raises
    ------
    InputError
        No file, too big, not a video / corrupt (from ``video.probe``), too long.
    """
    if not video_path:
        raise InputError("no video uploaded: drop a video file in the upload box")
    path = Path(video_path)
    if not path.is_file():
        raise InputError(f"uploaded file not found: {path.name}")
    size_mb = path.stat().st_size / 1e6
    if size_mb > max_upload_mb:
        raise InputError(f"{path.name} is {size_mb:.1f} MB; this page accepts videos up to "
                         f"{max_upload_mb:g} MB")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty (0 bytes)")
    from videobgm.io import IMAGE_SUFFIXES

    if path.suffix.lower() in IMAGE_SUFFIXES:
        d = still_duration(still_duration_s, max_duration_s)
        return {"path": str(path), "duration_s": d, "width": 0, "height": 0, "fps": 0.0,
                "still_image": True}
    from videobgm.video import decode as video_mod
    try:
        info = video_mod.probe(path, video_config)
    except VideobgmError:
        raise
    except Exception as exc:  # a decoder error on a corrupt file is the user's input, say so
        log.info("probe failed for %s: %r", path, exc)
        raise InputError(f"{path.name} is not a readable video (corrupt or unsupported)") from exc
    if not info.duration_s > 0:
        raise InputError(f"{path.name} has no video frames")
    if info.duration_s > max_duration_s:
        raise InputError(f"{path.name} is {info.duration_s:.1f} s long; this page accepts "
                         f"videos up to {fmt_limit(max_duration_s)} (use the "
                         f"`videobgm score` command for longer ones)")
    return info.to_dict()


def still_duration(value: Any, max_s: float) -> float:
    """The page's "music length for a still image" field, checked."""
    try:
        d = float(value)
    except (TypeError, ValueError):
        d = float("nan")
    if not 0.0 < d <= max_s:  # also refuses NaN
        raise OptionError(f"a still image needs a music length: set \"Music length for a still "
                          f"image\" to 1..{max_s:g} seconds (got {value!r})")
    return d


def fmt_limit(s: float) -> str:
    """A limit in seconds as the page says it: ``90 s``, ``5 min``."""
    s = float(s)
    if s >= 60 and s % 60 == 0:
        return f"{s / 60:g} min"
    return f"{s:g} s"


def fmt_time(s: float) -> str:
    """A length as ``m:ss.s``."""
    m, sec = divmod(float(s), 60.0)
    return f"{int(m)}:{sec:04.1f}"
