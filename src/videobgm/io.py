"""Small file helpers: output path checks, atomic writes (temporary name, then rename), output sets
that appear all together or not at all, and JSON that handles NumPy."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from videobgm.errors import InputError, OptionError

#: Inputs read as a still image (music of a given length for one picture) rather than a video.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

_NODE_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def output_target(final_path: str | os.PathLike[str]) -> Path:
    """Where writing ``final_path`` really lands: a symlink's target (the link is kept)."""
    p = Path(final_path)
    return Path(os.path.realpath(p)) if p.is_symlink() else p


def check_output_path(final_path: str | os.PathLike[str], *, probe: bool = True,
                      folder: bool = False) -> Path:
    """Check, before any work, that ``final_path`` can be written; return its folder.

    Refused with one :class:`OptionError` line: a path that is a device, FIFO or socket (or a
    symlink to one: they would be replaced by a regular file), a directory (for a file), a file
    (for a ``folder``), an existing file that cannot be replaced, and a folder that cannot be
    written. The nearest existing ancestor of the folder must be a writable directory (missing
    folders below it are created at write time). Writability is tested with ``os.access`` and,
    with ``probe``, by creating and removing a temporary file there (root passes ``os.access``
    everywhere; ``/proc`` and read-only mounts refuse the real file).
    """
    given = Path(final_path)
    final = output_target(given)
    via = f" (through the symlink {given})" if final != given else ""
    try:
        st = os.stat(final)
    except (FileNotFoundError, NotADirectoryError):  # the folder check below says why
        st = None
    except OSError as exc:
        raise OptionError(f"cannot use output path {given}: {exc.strerror or exc}") from None
    if st is not None:
        for test, kind in _NODE_KINDS:
            if test(st.st_mode):
                raise OptionError(f"output path {final}{via} is {kind}, not a regular file; "
                                  "choose a file name")
        if folder and not stat.S_ISDIR(st.st_mode):
            raise OptionError(f"output folder {final}{via} exists and is not a directory")
        if not folder and stat.S_ISDIR(st.st_mode):
            raise OptionError(f"output path {final}{via} is a directory; give a file name")
        if not os.access(final, os.W_OK):
            raise OptionError(f"existing output {final}{via} cannot be replaced (read-only)")
    parent = final if folder and st is not None else final.parent
    parent = parent if str(parent) else Path(".")
    here = parent
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():  # e.g. -o some_file/out.mp4
        raise OptionError(f"cannot create output directory {parent}: {here} is a file")
    if not os.access(here, os.W_OK | os.X_OK):
        raise OptionError(f"output directory is not writable: {here}")
    if probe:
        try:
            fd, name = tempfile.mkstemp(prefix=".videobgm-probe.", dir=here)
        except OSError as exc:
            raise OptionError(f"output directory is not writable: {here} "
                              f"({exc.strerror or exc})") from None
        os.close(fd)
        os.unlink(name)
    return parent


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """``a`` and ``b`` name one file (another spelling, a symlink or a hard link)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_outputs(paths: list[str | os.PathLike[str]], *, source: str | os.PathLike[str] | None = None,
                  folder: str | os.PathLike[str] | None = None,
                  folder_names: tuple[str, ...] = ()) -> None:
    """Check a set of outputs before any work: each with :func:`check_output_path`, none equal to
    ``source`` (the input), no path given twice (``./a``, ``d/../a`` and symlinks to ``a`` are
    one path; hard links are distinct names, each replaced by its own rename), and no file
    output among the ``folder_names`` the output ``folder`` will hold. One line each."""
    files = [Path(p) for p in paths]
    folder_p = Path(folder) if folder is not None else None
    for p in files + ([folder_p] if folder_p is not None else []):
        if source is not None and same_file(p, source):
            raise OptionError(f"output path {p} is the input video; choose another name")
        check_output_path(p, folder=p is folder_p)
    seen: dict[str, Path] = {}
    for p in files + ([folder_p] if folder_p is not None else []):
        key = os.path.realpath(p)
        if key in seen:
            raise OptionError(f"the same path is given for two outputs: {seen[key]} and {p}")
        seen[key] = p
    if folder_p is not None:
        taken = {os.path.realpath(folder_p / name) for name in folder_names}
        for p in files:
            if os.path.realpath(p) in taken:
                raise OptionError(f"output {p} would be overwritten by a file of {folder_p}")


@contextlib.contextmanager
def atomic_path(final_path: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final_path``; rename it into place only on success.

    The temporary file lives in the same directory (so the rename is atomic) and keeps the final
    suffix (so libraries that infer the format from the extension still work). On any exception,
    including KeyboardInterrupt, the temporary file is removed and nothing appears at
    ``final_path``.

    Parameters
    ----------
    final_path : path-like
        Where the finished file must end up.
    suffix : str, optional
        Suffix of the temporary file; defaults to the final path's suffix.
    """
    final = output_target(final_path)
    parent = check_output_path(final, probe=False)  # mkstemp below is the real probe
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OptionError(f"cannot create output directory {parent}: {exc.strerror}") from None
    tmp = _temp_file(final, parent, suffix)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno in _FULL_OR_READONLY:  # disk full etc.: one line
            raise OptionError(f"cannot write {final}: {exc.strerror or exc}") from None
        raise


_FULL_OR_READONLY = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO}


_TEMP_NAME = re.compile(r"^\.(.+)\.part\.[a-z0-9_]{8}$")  # mkstemp's 8 random characters


def _temp_file(final: Path, parent: Path, suffix: str | None = None) -> Path:
    """A new empty ``.NAME.part.XXXX.ext`` beside ``final`` with the usual permissions.

    When ``final`` is itself such a temporary (a writer called on an :class:`OutputSet` file),
    the new one keeps its ``.NAME.part.`` prefix, so clean-ups that look for it find both.
    """
    outer = _TEMP_NAME.match(final.stem)
    stem = outer.group(1) if outer else final.stem
    try:
        fd, name = tempfile.mkstemp(prefix=f".{stem}.part.",
                                    suffix=final.suffix if suffix is None else suffix, dir=parent)
    except OSError as exc:
        raise OptionError(f"cannot write {final}: {exc.strerror or exc}") from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    return Path(name)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM (delivered on exit) so a commit or a clean-up is never cut in half."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, OSError, ValueError):  # no pthread_sigmask on this platform
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class OutputSet:
    """Several outputs written together: all of them appear, or none.

    Each output is written to a temporary name in its own folder (:meth:`file`, :meth:`folder`);
    leaving the ``with`` block normally renames them all into place (signals held meanwhile),
    leaving it with an exception -- Ctrl-C and SIGTERM included -- removes every temporary and
    every folder it created, and any earlier output at a final path stays as it was.
    """

    def __init__(self) -> None:
        self._files: list[tuple[Path, Path]] = []  # (temporary, final)
        self._dirs: list[tuple[Path, Path, frozenset[str]]] = []  # (temporary, final, owned)
        self._made: list[Path] = []  # folders created for the outputs, removed on abort

    def _parent(self, final: Path, folder: bool = False) -> Path:
        parent = check_output_path(final, probe=False, folder=folder)
        parent = final.parent if folder else parent
        missing = []
        p = parent
        while not p.exists() and p != p.parent:
            missing.append(p)
            p = p.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OptionError(f"cannot create output directory {parent}: {exc.strerror}") from None
        self._made += reversed(missing)
        return parent

    def file(self, final_path: str | os.PathLike[str]) -> Path:
        """A temporary path (same folder and suffix) to write ``final_path`` into."""
        final = output_target(final_path)
        with signals_deferred():
            tmp = _temp_file(final, self._parent(final))
            self._files.append((tmp, final))
        return tmp

    def folder(self, final_path: str | os.PathLike[str], *, owned: tuple[str, ...] = ()) -> Path:
        """A temporary folder to fill with the files of the folder ``final_path``.

        When ``final_path`` already exists, the new files are added to it at commit and the
        ``owned`` names (an earlier run's files of the same kind, e.g. stems of tracks the new
        score lacks) that the new set does not replace are removed; other files are kept.
        """
        final = output_target(final_path)
        with signals_deferred():
            try:
                tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.part.",
                                            dir=self._parent(final, folder=True)))
            except OSError as exc:
                raise OptionError(f"cannot write {final}: {exc.strerror or exc}") from None
            self._dirs.append((tmp, final, frozenset(owned)))
        return tmp

    def commit(self) -> None:
        """Rename every temporary into place (an existing folder gets the new files added)."""
        with signals_deferred():
            try:
                for tmp, final in self._files:
                    os.replace(tmp, final)
                for tmp, final, owned in self._dirs:
                    if not final.exists():
                        os.rename(tmp, final)
                        continue
                    new = {child.name for child in tmp.iterdir()}
                    for name in sorted(new):
                        os.replace(tmp / name, final / name)
                    for name in sorted(owned - new):  # an earlier set's files: not mixed in
                        with contextlib.suppress(FileNotFoundError):
                            (final / name).unlink()
                    tmp.rmdir()
            except OSError as exc:
                self.abort()
                raise OptionError(f"cannot put the outputs in place: {exc.strerror or exc}") from None
            self._files, self._dirs, self._made = [], [], []

    def abort(self) -> None:
        """Remove every temporary and created folder; final paths are left as they were."""
        with signals_deferred():
            for tmp, _ in self._files:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            for tmp, _, _ in self._dirs:
                shutil.rmtree(tmp, ignore_errors=True)
            for d in reversed(self._made):  # deepest first; only if still empty
                with contextlib.suppress(OSError):
                    d.rmdir()
            self._files, self._dirs, self._made = [], [], []

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
            return
        if isinstance(exc, OptionError | InputError) and exc.args:  # name the user's paths
            msg = str(exc.args[0])
            for tmp, final, *_ in self._files + self._dirs:
                msg = msg.replace(str(tmp), str(final))
            exc.args = (msg,)
        self.abort()


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps_json(data: Any) -> str:
    """Serialise ``data`` (dicts, lists, NumPy arrays and scalars, paths) to indented JSON."""
    return json.dumps(data, indent=2, default=_json_default, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(dumps_json(data), encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
