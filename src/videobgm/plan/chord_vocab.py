"""The mood/style harmonic vocabulary on the chord sampler's symbol space (issue 19).

A :class:`~videobgm.music.styles.Vocabulary` (the one style and mood grammar,
:mod:`videobgm.music.styles`: ``MOOD_HARMONY``, ``STYLE_HARMONY``, ``harmony_vocabulary``) does
not paste progressions. It tilts the POP909 trigram that
:func:`videobgm.plan.chord_sampling.sample_progression` samples, as one more expert in its
product (exact under the cadence and fixed-chord constraints). This module turns its weights
into the sampler's arrays over the chord symbols of :mod:`videobgm.plan.chord_corpus`.
"""

from __future__ import annotations

import numpy as np

from videobgm.music.styles import Vocabulary
from videobgm.music.theory import SCALE_SEMITONES
from videobgm.plan.chord_corpus import QUALITIES, V, symbol


def chord_log_weights(vocabulary: Vocabulary, mode: str) -> np.ndarray:
    """Log-weight of every chord symbol, shape (V,)."""
    w = np.zeros(V)
    dia = SCALE_SEMITONES.get(mode, SCALE_SEMITONES["major"])
    for deg in range(12):
        for q in QUALITIES:
            w[symbol(deg, q)] = (vocabulary.quality.get(q, 0.0) + vocabulary.degree.get(deg, 0.0)
                                 + (vocabulary.chromatic if deg not in dia else 0.0))
    return w


def motion_log_weights(vocabulary: Vocabulary) -> np.ndarray | None:
    """Log-weight of each transition ``b -> c`` (V, V), or None when there is none."""
    if not vocabulary.semitone_motion:
        return None
    roots = np.arange(V) // len(QUALITIES)
    d = (roots[None, :] - roots[:, None]) % 12
    return np.where((d == 1) | (d == 11), vocabulary.semitone_motion, 0.0)


def boosted(vocabulary: Vocabulary, mode: str, threshold: float = 0.9) -> list[int]:
    """Symbols this vocabulary favours strongly (added to the sampling vocabulary)."""
    return np.flatnonzero(chord_log_weights(vocabulary, mode) >= threshold).tolist()
