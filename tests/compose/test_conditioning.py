"""compose/conditioning.py: the conditioning rows of token sequences under known controls."""

from __future__ import annotations

import numpy as np

from tests.compose.test_tokens import synthetic_score
from videobgm.compose import token_codes as T
from videobgm.compose.conditioning import chord_per_step, cond_from_controls, cond_row, cond_tables
from videobgm.compose.score_controls import controls_from_score
from videobgm.compose.tokens import Tokenizer
from videobgm.types import Chord, Controls


def test_controls_from_score_and_cond_from_controls_agree() -> None:
    tok = Tokenizer()
    s = synthetic_score(5)
    ctrl = controls_from_score(s)
    pitched = [n for n in s.notes if n.track != "drums"]
    assert ctrl.density_per_bar.sum() == len(pitched)
    assert ctrl.strength_per_beat.sum() == sum(n.onset_16th % 4 == 0 for n in pitched)
    toks, cond = tok.encode(s)
    assert (cond_from_controls(ctrl, toks) == cond).all()
    # the sampler-side row builder gives the same rows
    tables = cond_tables(ctrl)
    assert (cond_row(tables, T.TYPE_BAR, 2, 0) == cond[np.flatnonzero(toks[:, 0] == T.TYPE_BAR)[2]]).all()


def test_cond_from_controls_matches_cond_row_on_any_sequence() -> None:
    tok = Tokenizer()
    s = synthetic_score(7)
    ctrl = controls_from_score(s)
    tables = cond_tables(ctrl)
    toks, _ = tok.encode(s)
    rng = np.random.default_rng(1)
    junk = rng.integers(0, np.array(tok.field_sizes), size=(300, len(tok.field_sizes)))
    for seq in (toks, np.concatenate([toks[:40], junk, toks[40:]]), junk):
        fast = cond_from_controls(ctrl, seq)
        bar, step, seen = 0, 0, False
        for i, row in enumerate(seq):
            t = int(row[0])
            if t == T.TYPE_BAR:
                bar, step, seen = (bar + 1 if seen else 0), 0, True
            elif t == T.TYPE_POS and 1 <= row[tok.F["pos"]] <= tables.steps_per_bar:
                step = int(row[tok.F["pos"]]) - 1
            assert (fast[i] == cond_row(tables, t, bar, step)).all(), i


def test_known_tables_and_rows() -> None:
    chords = [Chord(4, 7, "maj"), Chord(0, 0, "maj")]  # unsorted: sorted by onset
    assert chord_per_step(chords, 6).tolist() == [2, 2, 2, 2, 65, 65]  # C = 2, G = 2 + 7 * 9
    ctrl = Controls(n_bars=2, beats_per_bar=1, density_per_bar=np.array([0, 12]),
                    strength_per_beat=np.array([3, 0]), accent_steps=np.array([1, 0, 0, 0, 0, 1], bool),
                    chords=chords, key_tonic=9, mode="minor", tempo_bpm=100.0)
    t = cond_tables(ctrl)
    assert t.density.tolist() == [1, 7] and t.strength.tolist() == [4, 1]  # 12 onsets: bin [11, 13)
    assert t.progress.tolist() == [1, 16] and t.accent.tolist() == [2, 1, 1, 1, 1, 2, 1, 1]  # missing = none
    assert (t.key, t.tempo, t.steps_per_bar) == (22, 6, 4)
    # a NOTE in bar 1 at step 1 (global step 5): density bin 7, strength of beat 1, chord G, accent
    row = dict(zip(T.COND_NAMES, cond_row(t, T.TYPE_NOTE, 1, 1).tolist()))
    assert row == {"density": 7, "strength": 1, "progress": 16, "chord": 65, "key": 22, "accent": 2,
                   "tempo": 6}
    assert cond_row(t, T.TYPE_EOS).tolist() == [0, 0, 16, 0, 22, 0, 6]
    assert cond_row(t, T.TYPE_PAD).tolist() == [0, 0, 0, 0, 22, 0, 6]
