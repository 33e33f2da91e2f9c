"""compose/score_controls.py: the controls a known score realises."""

from __future__ import annotations

import numpy as np

from videobgm.compose.score_controls import accent_steps_of, controls_from_score
from videobgm.types import Chord, Note, Score


def test_accent_steps() -> None:
    flat = Score(notes=[Note(i, "melody", 60, 1, 80) for i in range(16)], n_bars=1)
    assert not accent_steps_of(flat).any()
    notes = [Note(i, "melody", 60, 1, 120 if i in (0, 8) else 60) for i in range(16)]
    acc = accent_steps_of(Score(notes=notes, n_bars=1))
    assert np.flatnonzero(acc).tolist() == [0, 8]


def test_controls_of_a_known_score() -> None:
    notes = [Note(0, "melody", 72, 4, 100), Note(0, "piano", 48, 8, 70), Note(4, "piano", 52, 4, 70),
             Note(6, "drums", 36, 1, 110), Note(17, "bass", 36, 4, 80)]
    s = Score(notes=notes, n_bars=2, chords=[Chord(0, 0, "maj")], key_tonic=2, mode="minor", tempo_bpm=90.0)
    c = controls_from_score(s)
    assert c.density_per_bar.tolist() == [3, 1]  # drums excluded
    assert c.strength_per_beat.tolist() == [2, 1, 0, 0, 0, 0, 0, 0]  # onsets on steps 0 and 4
    assert c.tracks == ("melody", "piano", "bass", "drums")
    assert c.melody_bars.tolist() == [True, False]
    assert (c.key_tonic, c.mode, c.tempo_bpm, c.chords) == (2, "minor", 90.0, [Chord(0, 0, "maj")])
    # one constant pitched velocity per onset step except the melody's 100 on step 0
    assert np.flatnonzero(c.accent_steps).tolist() == [0]
