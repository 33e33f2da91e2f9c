"""Progress reporting: one bar per stage on a terminal, silent elsewhere.

Stages take an optional ``progress`` callable ``progress(done, total)`` (``total`` may be None)
and never import rich themselves; the CLI passes :func:`stage_bar` callbacks.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

ProgressFn = Callable[[float, float | None], None]


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
