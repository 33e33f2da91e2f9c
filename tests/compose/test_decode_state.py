"""compose/decode_state.py: the decoding call's fixed context and the token-by-token state."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from videobgm.compose.conditioning import cond_row  # noqa: E402
from videobgm.compose.constraints import chord_tone_mask  # noqa: E402
from videobgm.compose.decode_state import (  # noqa: E402
    MODEL_TRACKS,
    cond_for,
    count_note,
    enter_bar,
    enter_step,
    note_melody,
)
from videobgm.compose.token_codes import TYPE_POS, chord_index  # noqa: E402
from videobgm.config import SampleConfig  # noqa: E402
from videobgm.errors import OptionError  # noqa: E402
from videobgm.types import TRACKS  # noqa: E402


def test_context_tables(decoding, make_controls):
    c = make_controls(n_bars=2, tracks=("melody", "piano", "bass"), mode="minor", key_tonic=9)
    ctx, _ = decoding(c, phrase_ends=(1, 5), motif={1: 0, 0: 1})
    assert np.flatnonzero(ctx.track_ok).tolist() == [1 + TRACKS.index("melody"), 1 + TRACKS.index("piano")]
    assert "bass" not in MODEL_TRACKS  # a rule part
    assert ctx.steps_to_change[[0, 15, 16, 31]].tolist() == [16, 1, 16, 1]
    assert ctx.dur_steps[[0, 1, 16, 17, 23]].tolist() == [0, 1, 16, 20, 64]
    assert np.flatnonzero(ctx.pitch_ok)[[0, -1]].tolist() == [1 + 21, 1 + 108]
    assert [p for p in range(60, 72) if ctx.in_scale[p]] == [60, 62, 64, 65, 67, 69, 71]  # A minor
    assert ctx.beat_chords.tolist() == [chord_index(0, "maj")] * 4 + [chord_index(9, "min")] * 4
    assert ctx.beat_roots.tolist() == [0] * 4 + [9] * 4
    assert ctx.ends.tolist() == [False, True] and ctx.motif_map == {1: 0}  # only earlier statements
    assert (ctx.start_bar, ctx.end_bar, ctx.spb, ctx.n_bars) == (0, 2, 16, 2)


def test_melody_bars_are_checked(decoding, make_controls):
    with pytest.raises(OptionError, match="one value per bar"):
        decoding(make_controls(n_bars=2, melody_bars=np.ones(3, bool)))
    ctx, _ = decoding(make_controls(n_bars=2, melody_bars=np.ones(3, bool)), SampleConfig(constrained=False))
    assert ctx.melody_bars is None  # only constrained decoding reads them


def test_state_transitions(decoding, make_controls, tok):
    ctx, st = decoding(make_controls())
    st.bar, st.step, st.notes_in_bar, st.melody_in_bar, st.cadence_done = 0, 9, 5, 2, True
    enter_bar(st)
    assert (st.bar, st.step, st.notes_in_bar, st.melody_in_bar, st.cadence_done) == (1, -1, 0, 0, False)
    enter_step(st, 5)
    assert (st.step, st.notes_at_step, st.last_track) == (4, 0, 0)
    count_note(st, 3, 61)
    count_note(st, 3, 65)
    assert (st.notes_in_bar, st.notes_at_step, st.last_track, st.last_pitch) == (2, 2, 3, 65)
    am = chord_tone_mask(chord_index(9, "min"), tok)
    note_melody(st, 71, am)
    assert (st.melody_pitch, st.melody_nct) == (71, True)
    note_melody(st, 69, am)
    assert (st.melody_pitch, st.melody_nct) == (69, False)
    assert np.array_equal(cond_for(ctx, st, TYPE_POS), cond_row(ctx.tables, TYPE_POS, 1, 4))
