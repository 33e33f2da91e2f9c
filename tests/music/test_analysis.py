"""music/analysis.py: progression statistics with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from videobgm.music.analysis import progression_stats, rank_quantiles
from videobgm.types import Chord


def test_progression_stats_known_answer() -> None:
    # C G | Am | F(maj7) | G7 -> D7 G : secondary dominant D7 -> G; 6 changes in 4 bars
    ch = [Chord(0, 0, "maj"), Chord(8, 7, "maj"), Chord(16, 9, "min"), Chord(32, 5, "maj7"),
          Chord(48, 2, "7"), Chord(56, 7, "maj")]
    s = progression_stats(ch, n_bars=4, steps_per_bar=16, tonic=0, mode="major")
    assert s["changes_per_bar"] == 1.5 and s["tonic_bars"] == 0.25 and s["distinct"] == 5
    assert s["seventh_sus"] == pytest.approx(2 / 6) and s["secondary_dominants"] == pytest.approx(1 / 6)


def test_rank_quantiles_share_ties() -> None:
    assert rank_quantiles(np.array([3.0, 1.0, 1.0, 2.0])).tolist() == [0.875, 0.25, 0.25, 0.625]
    assert rank_quantiles(np.zeros(0)).size == 0
