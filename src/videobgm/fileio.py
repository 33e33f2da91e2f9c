"""Small file helpers: atomic writes (temporary name, then rename) and JSON that handles NumPy."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from videobgm.errors import OptionError


def check_output_path(final_path: str | os.PathLike[str]) -> Path:
    """Check, without creating anything, that ``final_path`` can be written; return its folder.

    The nearest existing ancestor of the folder must be a writable directory (missing folders
    below it are created at write time). Raises :class:`OptionError` with one line otherwise.
    """
    final = Path(final_path)
    if final.is_dir():
        raise OptionError(f"output path {final} is a directory; give a file name")
    parent = final.parent if str(final.parent) else Path(".")
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():  # e.g. -o some_file/out.mp4
        raise OptionError(f"cannot create output directory {parent}: {probe} is a file")
    if not os.access(probe, os.W_OK):
        raise OptionError(f"output directory is not writable: {probe}")
    return parent


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
    final = Path(final_path)
    parent = check_output_path(final)
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OptionError(f"cannot create output directory {parent}: {exc.strerror}") from None
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.stem}.part.", suffix=final.suffix if suffix is None else suffix, dir=parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        tmp.chmod(0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
        yield tmp
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno in _FULL_OR_READONLY:  # disk full etc.: one line
            raise OptionError(f"cannot write {final}: {exc.strerror or exc}") from None
        raise


_FULL_OR_READONLY = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO}


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
