"""soundtrack.py: the music ducks under the input's own sound (known answers on a synthetic original)."""

from __future__ import annotations

import numpy as np
import pytest

from videobgm.audio.soundtrack import duck_gain, fit_rows, mix_audio
from videobgm.config import MuxConfig

SR = 44100


def test_duck_gain_follows_the_original() -> None:
    orig = np.zeros((4 * SR, 2), np.float32)
    orig[SR:2 * SR] = 0.2  # active between 1 s and 2 s
    g = duck_gain(orig, SR, duck_level=0.2, threshold_dbfs=-35)
    assert g[int(0.5 * SR)] == pytest.approx(1.0)
    assert g[int(1.9 * SR)] == pytest.approx(0.2, abs=0.02)  # attack 50 ms
    assert 0.2 < g[int(2.2 * SR)] < 1.0  # release 400 ms
    assert g[int(3.9 * SR)] > 0.9


def test_mix_audio_levels_fit_and_peak_scale() -> None:
    music = np.full((10, 2), 0.25, np.float32)
    orig = np.full((6, 2), 0.5, np.float32)  # shorter: zero-padded to the music
    out, mode = mix_audio(music, orig, SR, MuxConfig(original_audio="mix", music_level=2.0, original_level=1.0))
    assert mode == "mix" and out.shape == (10, 2)
    assert np.allclose(out[:6], 0.999) and np.allclose(out[6:], 0.999 * 0.5)  # 1.0 peak scaled to 0.999
    out, mode = mix_audio(music, None, SR, MuxConfig(original_audio="duck", music_level=1.0))
    assert mode == "replace" and np.allclose(out, 0.25)  # no original: the music alone
    assert fit_rows(orig, 3).shape == (3, 2) and fit_rows(orig, 8)[6:].sum() == 0
