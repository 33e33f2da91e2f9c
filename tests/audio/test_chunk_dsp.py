"""chunk_dsp.py: meters fed a chunk at a time equal the whole-array meters (known answers)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from videobgm.audio.chunk_dsp import LoudnessMeter, stream_lufs
from videobgm.audio.meters import loudness_lufs

SR = 22050


def stepped_noise(seconds: float, seed: int = 0) -> np.ndarray:
    """Stereo noise whose level steps over 2 s sections (40 dB of range, some near silence), so
    both loudness gates act."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    levels = 10 ** (rng.uniform(-45, -5, size=int(seconds / 2) + 1) / 20)
    x *= levels[np.arange(n) // (2 * SR)][:, None].astype(np.float32)
    x[: SR // 2] *= 1e-4
    return x


@pytest.mark.parametrize("step", [1000, 4410, 22050 * 3 + 7])
def test_chunked_loudness_equals_pyloudnorm(step: int) -> None:
    x = stepped_noise(21.3)
    whole = loudness_lufs(x, SR)
    chunked = stream_lufs((x[a:a + step] for a in range(0, x.shape[0], step)), SR, x.shape[0])
    assert math.isfinite(whole)
    assert abs(chunked - whole) <= 0.05
    assert abs(chunked - whole) < 1e-3  # in fact: float rounding only


def test_chunked_loudness_edge_cases() -> None:
    assert stream_lufs(iter([np.zeros((SR * 2, 2), np.float32)]), SR, SR * 2) == -math.inf
    short = np.full((SR // 4, 2), 0.1, np.float32)  # under one 400 ms block
    assert stream_lufs(iter([short]), SR, short.shape[0]) == -math.inf
    m = LoudnessMeter(SR, SR * 3)
    tone = (0.25 * np.sin(2 * np.pi * 1000 * np.arange(SR * 3) / SR)).astype(np.float32)
    for a in range(0, tone.size, 5000):
        m.add(np.stack([tone[a:a + 5000]] * 2, axis=1))
    # a 1 kHz sine at -12 dBFS peak in both channels: -12 - 3.01 + 3.01 (two channels) + K-weighting ~0.7
    assert m.lufs() == pytest.approx(loudness_lufs(np.stack([tone] * 2, axis=1), SR), abs=1e-3)
