"""The web UI's files on disk: session folders, their result versions and their uploads.

:class:`WorkStore` keeps the work folder within ``UIConfig``'s limits: a session expires
``output_ttl_s`` after its last job, each session keeps its newest ``keep_versions`` results,
and whole sessions go, oldest first, while the folder exceeds ``max_work_mb``. A session with a
running job (:meth:`WorkStore.job`) is never touched. Uploads belong to their session: the
server's copy of an upload (a file inside ``upload_root``, Gradio's upload folder) is deleted
with it; a path the server did not receive is never deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from videobgm.config import UIConfig


class WorkStore:
    """Session folders ``session-*`` under ``root`` and the uploads they own."""

    def __init__(self, root: Path, ui: UIConfig) -> None:
        self.root = Path(root)
        self.ui = ui
        # uploads under this folder belong to the server (the app sets it to Gradio's upload
        # folder). None: never delete an uploaded path.
        self.upload_root: Path | None = None
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}  # session folder -> running jobs
        self._uploads: dict[str, str] = {}  # session folder -> its upload

    @staticmethod
    def _key(folder: str | Path) -> str:
        return str(Path(folder).resolve())

    @contextlib.contextmanager
    def job(self, folder: str | Path) -> Iterator[None]:
        """Mark ``folder``'s session busy while a job runs; its expiry restarts when it ends."""
        key = self._key(folder)
        with self._lock:
            self._active[key] = self._active.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._active[key] -= 1
                if not self._active[key]:
                    del self._active[key]
            with contextlib.suppress(OSError):
                os.utime(key)

    def busy(self, folder: str | Path) -> bool:
        with self._lock:
            return self._key(folder) in self._active

    def add_upload(self, folder: str | Path, upload: str) -> None:
        """``upload`` (the server's copy) belongs to ``folder``'s session."""
        if self.owns(upload):
            self._uploads[self._key(folder)] = upload

    def owns(self, path: str | None) -> bool:
        """Whether ``path`` is the server's copy of an upload (inside ``upload_root``)."""
        if not path or self.upload_root is None:
            return False
        try:
            return Path(path).resolve().is_relative_to(self.upload_root.resolve())
        except OSError:
            return False

    def used_bytes(self) -> int:
        return tree_bytes(self.root)

    def sweep(self, now: float | None = None) -> list[str]:
        """Delete what the server no longer needs; return the removed paths.

        1. sessions whose last job ended more than ``output_ttl_s`` ago (outputs and upload);
        2. in every session, result versions beyond the newest ``keep_versions``;
        3. while the folder exceeds ``max_work_mb``: whole sessions, oldest first.
        """
        now = time.time() if now is None else float(now)
        removed: list[str] = []
        with self._lock:
            active = set(self._active)
        sessions = []
        for d in self.root.glob("session-*"):
            key = self._key(d)
            if not d.is_dir() or key in active:
                continue
            with contextlib.suppress(OSError):
                sessions.append((d.stat().st_mtime, d, key))
        sessions.sort()
        keep: list[tuple[float, Path, str]] = []
        for mtime, d, key in sessions:
            if now - mtime > float(self.ui.output_ttl_s):
                removed += self._drop(d, key)
            else:
                keep.append((mtime, d, key))
        for d in [p for p in self.root.glob("session-*") if p.is_dir()]:
            versions = sorted(v for v in d.glob("v[0-9][0-9][0-9]*") if v.is_dir())
            if self._key(d) in active:
                versions = versions[:-1]  # the running job may be writing the newest one
            for v in versions[:max(0, len(versions) - max(1, int(self.ui.keep_versions)))]:
                shutil.rmtree(v, ignore_errors=True)
                removed.append(str(v))
        quota = float(self.ui.max_work_mb) * 1e6
        total = self.used_bytes()
        for _, d, key in keep:  # oldest first
            if total <= quota:
                break
            size = tree_bytes(d)
            removed += self._drop(d, key)
            total -= size
        return removed

    def end_session(self, folder: str | None, upload: str | None, *, keep: str | None = None) -> None:
        """Delete a session's folder and its upload (not while a job of it runs; not ``keep``)."""
        if folder:
            if not self.busy(folder) and Path(folder).is_dir():
                self._drop(Path(folder), self._key(folder), keep)
        elif upload and upload != keep and self.owns(upload):
            with contextlib.suppress(OSError):
                os.remove(upload)

    def _drop(self, folder: Path, key: str, keep: str | None = None) -> list[str]:
        shutil.rmtree(folder, ignore_errors=True)
        out = [str(folder)]
        upload = self._uploads.pop(key, None)
        if upload and upload != keep and self.owns(upload):
            with contextlib.suppress(OSError):
                os.remove(upload)
                out.append(upload)
        return out


def tree_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (0 when it is gone)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, f)).st_size
    return total
