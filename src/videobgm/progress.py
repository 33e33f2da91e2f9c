"""Progress reporting: one bar per stage on a terminal, silent elsewhere.

Stages take an optional ``progress`` callable ``progress(done, total)`` (``total`` may be None)
and never import rich themselves; the CLI passes :func:`stage_bar` callbacks.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

ProgressFn = Callable[[float, float | None], None]
TEST_PAUSE_ENV = "VIDEOBGM_TEST_PAUSE_AT"  # test-only: see pause_for_tests


def null_progress(done: float, total: float | None = None) -> None:  # noqa: ARG001
    """A progress callback that does nothing."""


def checked_progress(update: ProgressFn, check: Callable[[], None]) -> ProgressFn:
    """``update`` that first calls ``check()``, which may raise to stop the work (a time limit)."""

    def checked(done: float, total: float | None = None) -> None:
        check()
        update(done, total)

    return checked


@contextlib.contextmanager
def stage_bar(label: str, *, enabled: bool | None = None) -> Iterator[ProgressFn]:
    """Show one progress bar for a stage while the block runs; yield its update callback.

    Parameters
    ----------
    label : str
        Stage name shown left of the bar, e.g. ``"[2/8] features"``.
    enabled : bool, optional
        Force on/off; default: on when stderr is a terminal.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield null_progress
        return
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), TimeRemainingColumn(), transient=False,
    ) as prog:
        task = prog.add_task(label, total=None)

        def update(done: float, total: float | None = None) -> None:
            prog.update(task, completed=done, total=total)

        yield update
        t = prog.tasks[0].total
        prog.update(task, completed=t if t else 1, total=t if t else 1)


def pause_for_tests(point: str) -> None:
    """Test-only hook: with ``VIDEOBGM_TEST_PAUSE_AT=point`` in the environment, say so on stderr
    and sleep (``VIDEOBGM_TEST_PAUSE_S``, default 30 s), so that tests can send SIGINT/SIGTERM at a
    known point of a run (features, compose, render, mux, commit). Does nothing otherwise."""
    if os.environ.get(TEST_PAUSE_ENV) == point:
        print(f"videobgm-test: paused at {point}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get("VIDEOBGM_TEST_PAUSE_S", "30")))


def paused_once(point: str, update: ProgressFn) -> ProgressFn:
    """``update`` that first calls :func:`pause_for_tests` (once, at the first progress report)."""
    done = []

    def progress(*args: Any) -> None:
        if not done:
            done.append(True)
            pause_for_tests(point)
        update(*args)

    return progress
