"""progress.py: progress callbacks and the test-only pause hook."""

from __future__ import annotations

import time

from videobgm.progress import TEST_PAUSE_ENV, checked_progress, pause_for_tests, paused_once

POINTS = ["features", "compose", "render", "mux", "commit"]


def test_no_pause_without_the_test_variable(monkeypatch, capsys):
    monkeypatch.delenv(TEST_PAUSE_ENV, raising=False)
    t0 = time.perf_counter()
    for p in POINTS:
        pause_for_tests(p)
    assert time.perf_counter() - t0 < 0.05 and capsys.readouterr().err == ""


def test_paused_once_pauses_at_the_first_report_only(monkeypatch, capsys):
    monkeypatch.setenv(TEST_PAUSE_ENV, "mux")
    monkeypatch.setenv("VIDEOBGM_TEST_PAUSE_S", "0")
    seen = []
    update = paused_once("mux", lambda done, total=None: seen.append((done, total)))
    update(1, 3)
    update(2, 3)
    assert seen == [(1, 3), (2, 3)]
    assert capsys.readouterr().err == "videobgm-test: paused at mux\n"
    pause_for_tests("render")  # another point: no pause
    assert capsys.readouterr().err == ""


def test_checked_progress_checks_before_each_update():
    calls = []
    update = checked_progress(lambda d, t=None: calls.append(("update", d)), lambda: calls.append(("check",)))
    update(1)
    assert calls == [("check",), ("update", 1)]
