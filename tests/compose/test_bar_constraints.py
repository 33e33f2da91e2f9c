"""compose/bar_constraints.py: the next token type (grammar + bar targets), the POS step and their biases."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from videobgm.compose.bar_constraints import (  # noqa: E402
    budget_spent,
    pos_bias,
    pos_candidates,
    pos_mask,
    reserve_after,
    step_max,
    step_min,
    type_bias,
    type_mask,
)
from videobgm.compose.decode_state import enter_bar, enter_step  # noqa: E402
from videobgm.compose.token_codes import TYPE_BAR, TYPE_BOS, TYPE_EOS, TYPE_NOTE, TYPE_POS  # noqa: E402
from videobgm.config import SampleConfig  # noqa: E402


def _types(m):
    return {int(t) for t in np.flatnonzero(m)}


def test_type_mask_follows_grammar_and_bar_targets(decoding, make_controls, tok):
    ctx, st = decoding(make_controls(density=2, strength=[2, 0, 0, 0, 0, 0, 0, 0]))
    assert _types(type_mask(ctx, st)) == {TYPE_BAR}  # after BOS: the first bar
    st.prev_type = TYPE_BAR
    enter_bar(st)
    assert _types(type_mask(ctx, st)) == {TYPE_POS}  # a bar with 2 onsets owed may not close
    enter_step(st, 1)
    st.prev_type = TYPE_POS
    assert _types(type_mask(ctx, st)) == {TYPE_NOTE}  # beat 0 wants 2 notes
    st.notes_at_step = st.notes_in_bar = 1
    st.prev_type = TYPE_NOTE
    assert _types(type_mask(ctx, st)) == {TYPE_NOTE}
    st.notes_at_step = st.notes_in_bar = 2  # target reached: another note (slack), an off-beat step, or close
    assert _types(type_mask(ctx, st)) == {TYPE_NOTE, TYPE_POS, TYPE_BAR}
    assert ctx.bars[0].hi == 4
    st.notes_in_bar = 4  # the bar is full: it closes
    assert _types(type_mask(ctx, st)) == {TYPE_BAR}
    st.bar = 1  # the last bar closes with EOS
    assert TYPE_EOS in _types(type_mask(ctx, st)) and TYPE_BAR not in _types(type_mask(ctx, st))
    for prev in (TYPE_BOS, TYPE_BAR, TYPE_POS, TYPE_NOTE):  # never outside the tokenizer's grammar
        st.prev_type = prev
        assert not (type_mask(ctx, st) & ~tok.next_type_mask(prev)).any()


def test_step_limits_and_reserve(decoding, make_controls):
    c = make_controls(density=6, strength=[0, 3, 0, 0, 0, 0, 0, 0])
    c.accent_steps[10] = True
    onsets = np.zeros(33, dtype=np.int64)
    onsets[2] = 1  # a rule note on the 16th at step 2
    ctx, st = decoding(c, SampleConfig(max_offbeat_onsets=2, strength_slack=1), rule_onsets=onsets)
    st.bar = 0
    assert (step_min(ctx, st, 4), step_max(ctx, st, 4)) == (3, 4)  # strength 3, slack 1
    assert (step_min(ctx, st, 3), step_max(ctx, st, 3)) == (1, 2)  # off-beat cap 2
    assert step_max(ctx, st, 2) == 1  # cap 2 less the rule note
    assert reserve_after(ctx, st, -1) == 3 + 1  # beat 1 (3 notes) and the accent at step 10
    assert reserve_after(ctx, st, 4) == 1


def test_pos_candidates_go_to_forced_steps_and_skip_silent_beats(decoding, make_controls):
    c = make_controls(density=8, strength=[1, 0, -1, -1, 1, 1, 1, 1])
    ctx, st = decoding(c, SampleConfig(enforce_strength=True))
    st.bar, st.step = 0, 0
    ok = pos_candidates(ctx, st, free=3)
    assert np.flatnonzero(ok).tolist() == [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]  # 4: strength 0
    st.bar = 1
    ok = pos_candidates(ctx, st, free=3)  # bar 1: every beat forced -> not past step 4
    assert np.flatnonzero(ok).tolist() == [1, 2, 3, 4]
    assert np.flatnonzero(pos_candidates(ctx, st, free=0)).tolist() == [4]
    pm = pos_mask(ctx, st)
    assert pm.shape == (17,) and np.flatnonzero(pm).tolist() == [2, 3, 4, 5]  # field value = step + 1
    st.notes_in_bar = ctx.bars[1].hi - reserve_after(ctx, st, 0)  # no onsets left beyond the forced ones
    assert np.flatnonzero(pos_mask(ctx, st)).tolist() == [5]


def test_breath_bar_has_no_steps_in_its_last_beat(decoding, make_controls):
    ctx, st = decoding(make_controls(density=4), breath_bars=(0,))
    st.bar, st.step = 0, 3
    assert np.flatnonzero(pos_candidates(ctx, st, free=5)).max() == 10  # 11..15 breathe


def test_type_and_pos_bias(decoding, make_controls):
    ctx, st = decoding(make_controls(density=2), SampleConfig(close_bias=1.5, gap_bias=0.5, budget_bias=0.0))
    assert type_bias(ctx, st, 6) == (None, None)  # before the first bar
    st.bar, st.step, st.prev_type, st.notes_in_bar = 0, 0, TYPE_NOTE, 1
    st.voicing.add(0, 60, 4)  # beat 0 sounds; beat 1 is the first silent one
    bias, silent = type_bias(ctx, st, 6)
    assert silent == 4 and bias[TYPE_BAR] == bias[TYPE_EOS] == -1.5 - 0.5 and bias[TYPE_POS] == 0
    st.notes_in_bar = 2
    assert type_bias(ctx, st, 6)[0][TYPE_BAR] == 1.5 - 0.5
    pm = np.zeros(17, dtype=bool)
    pm[2:] = True
    pb = pos_bias(ctx, st, pm, silent)
    assert pb[1 + 7] == 0 and pb[1 + 8] == -0.5  # onsets after the silent beat 1 would leave it silent
    st.guide = {6: [np.zeros(7, dtype=np.int64)]}
    assert pos_bias(ctx, st, pm, None)[1 + 6] == SampleConfig().repeat_guide_bias


def test_spent_budget_leaves_the_rest_of_the_bar_to_its_forced_steps(decoding, make_controls):
    # density 4: once the bar's notes plus what its later forced steps owe reach 4, an optional
    # onset (a second note at the step, a step that is not forced) costs budget_bias
    ctx, st = decoding(make_controls(density=4), SampleConfig(budget_bias=2.5, gap_bias=0.0))
    bt = ctx.bars[0]
    bt.forced[:] = False
    bt.forced[12] = True  # one forced step ahead (beat 4), owing step_min onsets
    owed = step_min(ctx, st, 12)
    st.bar, st.step, st.prev_type = 0, 0, TYPE_NOTE
    st.notes_at_step = 1
    st.notes_in_bar = bt.target - owed - 1  # one optional onset still fits
    assert not budget_spent(ctx, st)
    assert type_bias(ctx, st, 6)[0][TYPE_NOTE] == 0
    pm = np.zeros(17, dtype=bool)
    pm[2:] = True
    assert pos_bias(ctx, st, pm, None) is None
    st.notes_in_bar += 1  # spent: the notes left belong to the forced step
    assert budget_spent(ctx, st)
    assert type_bias(ctx, st, 6)[0][TYPE_NOTE] == -2.5
    pb = pos_bias(ctx, st, pm, None)
    assert pb[1 + 12] == 0 and pb[1 + 5] == -2.5 and pb[1 + 13] == -2.5
    st.notes_at_step = 0  # a step below its minimum still takes its note
    assert type_bias(ctx, st, 6)[0][TYPE_NOTE] == 0
    st.guide = {5: [np.zeros(7, dtype=np.int64)]}  # a repetition guide leads: it is imitated as it is
    assert not budget_spent(ctx, st)
