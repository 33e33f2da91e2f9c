"""disk.py: DiskAudio reads back what was written, by row ranges and slices, and deletes its file."""

from __future__ import annotations

import numpy as np
import pytest

from videobgm.audio.disk import DiskAudio, is_disk, peak_abs


def test_disk_audio_round_trip_and_cleanup(tmp_path) -> None:  # noqa: ANN001
    x = np.arange(20, dtype=np.float32).reshape(10, 2) - 7.5
    d = DiskAudio(10, 2, folder=tmp_path)
    assert len(d) == 10 and d.shape == (10, 2) and d.ndim == 2 and is_disk(d) and not is_disk(x)
    assert np.all(d.to_array() == 0)  # a new file reads as silence
    d.write(0, x[:4])
    d.write(4, x[4:])
    assert np.array_equal(d[2:5], x[2:5]) and np.array_equal(d.read(8, 99), x[8:])
    assert [a for a, _ in d.chunks(4)] == [0, 4, 8] and np.array_equal(np.concatenate([c for _, c in d.chunks(4)]), x)
    assert peak_abs(d, step=3) == 11.5 == peak_abs(x)
    with pytest.raises(ValueError, match="outside"):
        d.write(9, x[:2])
    with pytest.raises(TypeError):
        d[::2]
    path = d.path
    assert path.is_file() and path.stat().st_size == 10 * 2 * 4
    d.close()
    assert not path.exists()
