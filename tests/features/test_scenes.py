"""features/scenes.py: cut detection on known frame distances."""

from __future__ import annotations

import numpy as np

from videobgm.features import scenes


def test_detect_cuts_ignores_uniformly_high_distance():
    t = np.arange(0, 6, 1 / 30)
    d = np.full_like(t, 0.5)  # fast motion everywhere: high but not a cut
    d[90] = 0.95
    cuts = scenes.detect_cuts(t, d, threshold=0.35, ratio=1.5, min_gap_s=0.5)
    assert cuts.tolist() == [90]
