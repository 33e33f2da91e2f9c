"""User-facing errors.

Every error a user can cause (bad input, bad option, missing optional dependency) is raised as a
:class:`VideobgmError` whose message is one line naming the problem and, where it helps, the
accepted values. The CLI prints that line and exits with code 2; anything else is a bug.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class VideobgmError(Exception):
    """A problem with the user's input or options, reported as one line (exit code 2)."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        # keep it to one line whatever the caller passed
        super().__init__(" ".join(str(message).split()))


class InputError(VideobgmError):
    """The input file is missing, unreadable, corrupt or of the wrong kind."""


class OptionError(VideobgmError):
    """An option has an invalid value."""


class MissingDependencyError(VideobgmError):
    """An optional dependency or model is not installed / not found at the given path."""

    def __init__(self, what: str, hint: str) -> None:
        super().__init__(f"{what} is not available: {hint}")


class Terminated(KeyboardInterrupt):
    """SIGTERM (what systemd, docker and ``kill`` send), raised like Ctrl-C: same clean-up path."""


@contextlib.contextmanager
def sigterm_raises(exc: type[BaseException] = Terminated) -> Iterator[None]:
    """While the block runs, SIGTERM raises ``exc`` (:class:`Terminated` by default; the batch
    runner and the UI server use a plain ``KeyboardInterrupt``), so it takes the Ctrl-C clean-up
    path. Signal handlers belong to the main thread: elsewhere this does nothing."""
    import signal

    def handler(signum: int, frame: object) -> None:  # noqa: ARG001
        raise exc

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. main() called from a worker thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
