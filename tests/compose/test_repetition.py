"""compose/repetition.py: a bar repeats an earlier bar with similar chords (copied, re-fitted or imitated)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from videobgm.compose.decode_state import enter_bar  # noqa: E402
from videobgm.compose.repetition import (  # noqa: E402
    bar_fits,
    chords_similar,
    guide_bias,
    guide_row,
    refit,
    repeat_rows,
    replay,
    rows_of_bar,
)
from videobgm.compose.token_codes import TYPE_BAR, TYPE_BOS, TYPE_NOTE, TYPE_POS, chord_index  # noqa: E402
from videobgm.config import SampleConfig  # noqa: E402
from videobgm.types import TRACKS  # noqa: E402

MEL, PIANO = 1 + TRACKS.index("melody"), 1 + TRACKS.index("piano")
C, AM = chord_index(0, "maj"), chord_index(9, "min")


def _row(t, pos=0, chord=0, track=0, pitch=0, dur=0, vel=0):
    return np.array([t, pos, chord, track, pitch, dur, vel], dtype=np.int64)


def _bar(chord=C):
    """Rows of one bar: C4 + E4 on the piano at step 0 (a quarter), G4 in the melody at step 8."""
    return [_row(TYPE_POS, 1, chord), _row(TYPE_NOTE, 0, 0, PIANO, 1 + 60, 4, 4), _row(TYPE_NOTE, 0, 0, PIANO, 1 + 64, 4, 4),
            _row(TYPE_POS, 9, chord), _row(TYPE_NOTE, 0, 0, MEL, 1 + 67, 8, 4)]


def test_rows_of_bar():
    rows = [_row(TYPE_BOS), _row(TYPE_BAR)] + _bar() + [_row(TYPE_BAR), _row(TYPE_POS, 3, C)]
    assert [r.tolist() for r in rows_of_bar(rows, 0)] == [r.tolist() for r in _bar()]
    assert [r.tolist() for r in rows_of_bar(rows, 1)] == [_row(TYPE_POS, 3, C).tolist()]
    assert rows_of_bar(rows, 2) == []


def test_bar_fits_checks_targets(decoding, make_controls):
    ctx, _ = decoding(make_controls(n_bars=2, density=3, strength=[2, 0, 1, 0, 2, 0, 1, 0]))
    assert bar_fits(ctx, 0, _bar())  # 3 onsets, 2 on beat 0, 1 on beat 2
    assert not bar_fits(ctx, 0, _bar()[:3])  # beat 2 lacks its note
    ctx, _ = decoding(make_controls(n_bars=2, density=3, tracks=("piano",)))
    assert not bar_fits(ctx, 0, _bar())  # a melody note where only the piano plays


def test_chords_similar(decoding, make_controls):
    G, F, DM = chord_index(7, "maj"), chord_index(5, "maj"), chord_index(2, "min")
    per_beat = {0: [C, C, C, C], 1: [C, C, C, C], 2: [C, C, C, G], 3: [F, F, F, F], 4: [AM, C, C, C],
                5: [C, C, DM, DM]}
    ctx, _ = decoding(make_controls(n_bars=6))
    ctx.beat_chords = np.array([v for b in range(6) for v in per_beat[b]])
    ctx.beat_roots = np.array([{C: 0, G: 7, F: 5, AM: 9, DM: 2}[v] for v in ctx.beat_chords])
    assert chords_similar(ctx, 1, 0) and chords_similar(ctx, 2, 0)  # equal; roots equal but one beat
    assert not chords_similar(ctx, 3, 0) and not chords_similar(ctx, 5, 0)
    assert chords_similar(ctx, 4, 0)  # roots differ on one beat
    ctx.cfg = SampleConfig(repeat_similar=False)
    assert chords_similar(ctx, 1, 0) and not chords_similar(ctx, 2, 0)


def test_refit_moves_notes_to_the_new_chord(decoding, make_controls):
    ctx, _ = decoding(make_controls(n_bars=2, density=3), SampleConfig(release_at_chord_change=True))
    out = refit(ctx, 1, 0, _bar())  # bar 1 is A minor: C4 stays, E4 stays, G4 -> A4 (nearest tone)
    assert [int(r[4]) - 1 for r in out if r[0] == TYPE_NOTE] == [60, 64, 69]
    assert [int(r[5]) for r in out if r[0] == TYPE_NOTE] == [4, 4, 8]
    ctx, _ = decoding(make_controls(n_bars=2, density=3), breath_bars=(1,))
    out = refit(ctx, 1, 0, _bar())  # bar 1 breathes from step 11: the melody at 8 is released by it
    assert [int(r[5]) for r in out if r[0] == TYPE_NOTE] == [4, 4, 3]


def test_repeat_rows_copies_or_guides(decoding, make_controls):
    c = make_controls(n_bars=2, density=3, strength=[2, 0, 1, 0, 2, 0, 1, 0], chords=((0, "maj"),))
    ctx, st = decoding(c, SampleConfig(repeat_periods=(1,), repeat_prob=1.0))
    st.rows = [_row(TYPE_BOS), _row(TYPE_BAR)] + _bar() + [_row(TYPE_BAR)]
    st.bar = 0
    enter_bar(st)
    copied = repeat_rows(ctx, st, 1)
    assert [r.tolist() for r in copied] == [r.tolist() for r in _bar()] and st.phrase_repeats == {0: True}
    conds = replay(ctx, st, copied)
    assert len(conds) == 5 and (st.step, st.notes_in_bar, st.melody_in_bar, st.melody_pitch) == (8, 3, 1, 67)
    assert st.prev_type == TYPE_NOTE and st.tokens_in_bar == 5 and len(st.rows) == 13
    c = make_controls(n_bars=2, density=[3, 6], chords=((0, "maj"),))  # bar 1 wants more: imitated, not copied
    ctx, st = decoding(c, SampleConfig(repeat_periods=(1,), repeat_prob=1.0))
    st.rows = [_row(TYPE_BOS), _row(TYPE_BAR)] + _bar() + [_row(TYPE_BAR)]
    st.bar, st.step = 1, -1
    assert repeat_rows(ctx, st, 1) is None and sorted(st.guide) == [0, 8]
    st.step = 0
    assert guide_row(st)[4] == 1 + 60
    assert np.flatnonzero(guide_bias(ctx, st, 4, 129)).tolist() == [1 + 60]
    st.notes_at_step = 2
    assert guide_row(st) is None and guide_bias(ctx, st, 4, 129) is None
    ctx, st = decoding(c, SampleConfig(repeat_periods=(1,), repeat_prob=0.0))
    st.rows = [_row(TYPE_BOS), _row(TYPE_BAR)] + _bar() + [_row(TYPE_BAR)]
    assert repeat_rows(ctx, st, 1) is None and st.guide == {}
