"""limits.py: what the page refuses before any work, and how it words its limits (known answers)."""

from __future__ import annotations

import pytest

from videobgm.apps.ui.limits import (
    Job,
    JobTimeout,
    check_text,
    check_upload,
    fmt_limit,
    fmt_time,
    still_duration,
)
from videobgm.config import VideoConfig
from videobgm.errors import InputError, OptionError


def test_limits_are_worded_for_people() -> None:
    assert (fmt_limit(90), fmt_limit(300), fmt_limit(61.5)) == ("90 s", "5 min", "61.5 s")
    assert fmt_time(75.25) == "1:15.2"


def test_text_and_still_length_checks() -> None:
    check_text("x" * 10, 10)
    check_text(None, 0)
    with pytest.raises(OptionError, match="11 characters long; this page accepts up to 10"):
        check_text("x" * 11, 10)
    assert still_duration("4", 10.0) == 4.0
    for bad in (None, "nan", 0, 11):
        with pytest.raises(OptionError, match="needs a music length"):
            still_duration(bad, 10.0)


def test_upload_checks_before_decoding(tmp_path) -> None:  # noqa: ANN001
    kw = {"max_upload_mb": 0.001, "max_duration_s": 10.0, "video_config": VideoConfig()}
    with pytest.raises(InputError, match="no video uploaded"):
        check_upload(None, **kw)
    with pytest.raises(InputError, match="not found"):
        check_upload(tmp_path / "missing.mp4", **kw)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        check_upload(tmp_path / "empty.mp4", **kw)
    (tmp_path / "big.mp4").write_bytes(bytes(2000))
    with pytest.raises(InputError, match="accepts videos up to 0.001 MB"):
        check_upload(tmp_path / "big.mp4", **kw)
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(InputError, match="not a readable video"):
        check_upload(tmp_path / "junk.mp4", **kw)
    (tmp_path / "still.png").write_bytes(b"x")
    info = check_upload(tmp_path / "still.png", 4, **kw)
    assert info["still_image"] and info["duration_s"] == 4.0


def test_job_stops_past_its_limit() -> None:
    Job(60).check()
    with pytest.raises(JobTimeout, match="limit of 1 min"):
        job = Job(60)
        job.deadline -= 61
        job.check()
