"""[7] Audio on disk: :class:`DiskAudio`, (n, channels) float32 in a raw temporary file.

Long renders keep their stems, mix and envelopes here instead of in memory; code that reads an
array by slices (the WAV writer, the AAC encoder loop, the chunked mastering) takes a
``DiskAudio`` as it is. The file is deleted when the object is closed or garbage-collected.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def _close(f: Any, path: Path) -> None:
    try:
        f.close()
    finally:
        path.unlink(missing_ok=True)


class DiskAudio:
    """(n, channels) float32 audio in a raw temporary file, read and written by row ranges with
    ``pread``/``pwrite`` (no memory map: the page cache is not the process's memory).

    Slicing (``x[a:b]``) returns a NumPy copy, so code that reads an array by slices (the AAC
    encoder loop, the WAV writer) takes it as is."""

    def __init__(self, n: int, channels: int = 2, *, folder: str | os.PathLike[str] | None = None) -> None:
        fd, name = tempfile.mkstemp(prefix="videobgm-stream-", suffix=".f32", dir=folder)
        self.path = Path(name)
        self._f = os.fdopen(fd, "r+b")
        self._f.truncate(int(n) * channels * 4)
        self.shape = (int(n), int(channels))
        self.dtype = np.dtype(np.float32)
        self._done = weakref.finalize(self, _close, self._f, self.path)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return 2

    def read(self, a: int, b: int) -> np.ndarray:
        a, b = max(0, int(a)), min(self.shape[0], int(b))
        ch = self.shape[1]
        buf = bytearray(max(0, b - a) * ch * 4)
        if buf:
            got = os.preadv(self._f.fileno(), [buf], a * ch * 4)
            if got != len(buf):
                raise OSError(f"short read from {self.path}")
        return np.frombuffer(buf, dtype=np.float32).reshape(-1, ch)

    def write(self, a: int, x: np.ndarray) -> None:
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, self.shape[1])
        if a < 0 or a + x.shape[0] > self.shape[0]:
            raise ValueError("write outside the audio")
        os.pwrite(self._f.fileno(), x.tobytes(), int(a) * self.shape[1] * 4)

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("DiskAudio supports x[a:b] only")
        a, b, _ = key.indices(self.shape[0])
        return self.read(a, b)

    def chunks(self, step: int) -> Iterator[tuple[int, np.ndarray]]:
        for a in range(0, self.shape[0], step):
            yield a, self.read(a, a + step)

    def to_array(self) -> np.ndarray:
        """The whole audio in memory (short pieces and tests only)."""
        return self.read(0, self.shape[0]).copy()

    def close(self) -> None:
        self._done()


def is_disk(x: Any) -> bool:
    return isinstance(x, DiskAudio)


def peak_abs(x: Any, step: int = 1 << 20) -> float:
    """max |x| of an array or a :class:`DiskAudio`, a chunk at a time."""
    n = x.shape[0]
    return max((float(np.max(np.abs(x[a:a + step]))) for a in range(0, n, step)), default=0.0)
