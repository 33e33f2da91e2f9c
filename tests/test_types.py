"""types.py: the contract's derived values (the 16th-step timing of a beat grid), known answers."""

from __future__ import annotations

import numpy as np

from videobgm.types import Score, step_times_from_beats


def test_step_times_are_linear_inside_each_beat() -> None:
    steps = step_times_from_beats(np.array([0.0, 1.0, 3.0]))
    assert np.allclose(steps, [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0])


def test_score_step_times_follow_its_beats_or_its_tempo() -> None:
    bent = Score(notes=[], n_bars=1, tempo_bpm=120.0, beats_per_bar=2, beat_times_s=np.array([0.0, 1.0, 3.0]))
    np.testing.assert_array_equal(bent.step_times(), step_times_from_beats(np.array([0.0, 1.0, 3.0])))
    even = Score(notes=[], n_bars=1, tempo_bpm=120.0, beats_per_bar=4)  # 0.5 s beats, 0.125 s steps
    np.testing.assert_allclose(even.step_times(), np.arange(17) * 0.125)
