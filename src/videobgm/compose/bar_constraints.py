"""Which token comes next, and on which step: the bar-level constraints of constrained decoding.

The token type allowed next starts from the tokenizer's own grammar (:meth:`Tokenizer.next_type_mask`:
BOS -> BAR -> { POS NOTE+ }* -> BAR ... -> EOS) and narrows it with the bar's control targets
(:func:`videobgm.compose.constraints.bar_targets`): a bar closes only with ``lo .. hi`` onsets and
its forced steps (accents, beats with target strength, the motif's onsets) played; a beat's first
16th carries between its strength ``s`` and ``s + strength_slack`` onsets; an off-beat 16th at most
``max_offbeat_onsets`` (rule notes included); the last beat of a breath bar stays empty. The POS
field's mask keeps steps strictly increasing and never skips a forced step. The biases steer a
bar's length toward its density target, away from silent beats, and toward a repeated bar's steps.
"""

from __future__ import annotations

import numpy as np

from videobgm.compose.decode_state import DecodeContext, DecodeState, melody_only
from videobgm.compose.repetition import guide_bias, guide_row
from videobgm.compose.token_codes import TYPE_BAR, TYPE_BOS, TYPE_EOS, TYPE_NOTE, TYPE_POS
from videobgm.types import STEPS_PER_BEAT


def beat_target(ctx: DecodeContext, st: DecodeState, step: int) -> int:
    """Target onsets of ``step`` in the current bar: the beat's strength on a beat's first 16th, else -1."""
    return int(ctx.bars[st.bar].strength[step // STEPS_PER_BEAT]) if step % STEPS_PER_BEAT == 0 else -1


def step_min(ctx: DecodeContext, st: DecodeState, step: int) -> int:
    """Notes ``step`` must carry once it has a POS."""
    s = beat_target(ctx, st, step)
    return max(1, s) if s > 0 else 1


def step_max(ctx: DecodeContext, st: DecodeState, step: int) -> int:
    """Most notes ``step`` may carry."""
    cfg = ctx.cfg
    s = beat_target(ctx, st, step)
    if s < 0:  # not a beat onset (or strength unconstrained): the off-beat chord cap,
        cap = int(cfg.max_offbeat_onsets)  # rule notes (bass at a chord change) included
        return max(1, cap - int(ctx.rule_onsets[st.bar * ctx.spb + step])) if cap > 0 and cfg.constrained else 10**6
    return max(s, 1) + max(0, int(cfg.strength_slack))  # s == 0 only when an accent forces it


def reserve_after(ctx: DecodeContext, st: DecodeState, step: int) -> int:
    """Onsets still owed to forced steps after ``step`` in the current bar."""
    fs = np.flatnonzero(ctx.bars[st.bar].forced[step + 1:]) + step + 1
    return int(sum(step_min(ctx, st, int(s)) for s in fs))


def free_onsets(ctx: DecodeContext, st: DecodeState) -> int:
    """Onsets the current bar may still take beyond what its forced steps need."""
    return ctx.bars[st.bar].hi - st.notes_in_bar - reserve_after(ctx, st, st.step)


def pos_candidates(ctx: DecodeContext, st: DecodeState, free: int) -> np.ndarray:
    """Bool (spb,): steps the next POS may take (``free`` = onsets left beyond what forced steps need)."""
    spb, bt = ctx.spb, ctx.bars[st.bar]
    ok = np.zeros(spb, dtype=bool)
    ok[st.step + 1:] = True
    later_forced = np.flatnonzero(bt.forced[st.step + 1:])
    if later_forced.size:  # may not skip a forced step
        nxt = st.step + 1 + int(later_forced[0])
        ok[nxt + 1:] = False
        if free <= 0:  # no budget for optional onsets: go straight to the forced step
            ok[:nxt] = False
    elif free <= 0:
        ok[:] = False
    if ctx.breath[st.bar]:  # the texture breathes on the bar's last beat
        ok[spb - STEPS_PER_BEAT - 1:] = False
    if st.motif and st.bar in ctx.motif_map and melody_only(ctx):
        for s in range(st.step + 1, spb):  # a restating bar of the melody alone: its planned onsets
            ok[s] &= s in st.motif or bool(bt.forced[s])  # (and what must still sound) only
    for s in range(st.step + 1, spb):  # beats with target strength 0 stay empty (unless accent)
        if s % STEPS_PER_BEAT == 0 and bt.strength[s // STEPS_PER_BEAT] == 0 and not bt.accent[s] \
                and s not in st.motif:
            ok[s] = False
    return ok


def type_mask(ctx: DecodeContext, st: DecodeState) -> np.ndarray:
    """Bool over token types: the tokenizer's grammar after ``st.prev_type``, narrowed by the bar's
    targets (a conflict is relaxed in a fixed order, inside the grammar)."""
    grammar = ctx.tokenizer.next_type_mask(st.prev_type)
    m = np.zeros(grammar.shape[0], dtype=bool)
    pt, last = st.prev_type, TYPE_BAR if st.bar + 1 < ctx.end_bar else TYPE_EOS
    if pt == TYPE_BOS or (pt == TYPE_BAR and st.bar < ctx.start_bar):  # the prefix: straight to the bar
        m[TYPE_BAR] = True
        return m & grammar
    bt = ctx.bars[st.bar]
    in_step = pt in (TYPE_POS, TYPE_NOTE)
    step_full = in_step and st.notes_at_step >= step_min(ctx, st, st.step)
    free = free_onsets(ctx, st)
    if pt == TYPE_POS or (in_step and st.notes_at_step < step_max(ctx, st, st.step)
                          and (not step_full or free > 0)):
        m[TYPE_NOTE] = True
    if (pt == TYPE_BAR or step_full) and pos_candidates(ctx, st, free).any():
        m[TYPE_POS] = True
    closable = (pt == TYPE_BAR or step_full) and not bt.forced[st.step + 1:].any() and st.notes_in_bar >= bt.lo
    if st.tokens_in_bar >= ctx.cfg.max_tokens_per_bar:  # safety valve
        closable, m[TYPE_NOTE], m[TYPE_POS] = True, False, False
    if closable:
        m[last] = True
    m &= grammar
    if not m.any():  # constraints conflict: relax in a fixed order
        if in_step and st.notes_at_step < step_max(ctx, st, st.step):
            m[TYPE_NOTE] = True
        elif st.step < ctx.spb - 1:
            m[TYPE_POS] = True
        else:
            m[last] = True
    return m & grammar


def budget_spent(ctx: DecodeContext, st: DecodeState) -> bool:
    """Whether the bar's notes so far plus the onsets its later forced steps still owe reach its
    density target: the bar's remaining onsets then belong to the forced steps (one onset budget).
    Never while a repetition guide leads the bar (the guide bar is imitated as it is)."""
    return not st.guide and st.notes_in_bar + reserve_after(ctx, st, st.step) >= ctx.bars[st.bar].target


def type_bias(ctx: DecodeContext, st: DecodeState, size: int) -> tuple[np.ndarray | None, int | None]:
    """Logit bias over token types and the first silent beat ahead in the bar (global step, or None).

    A bar's close (BAR/EOS) gets +-``close_bias`` (its density target reached or not) and
    -``gap_bias`` while a beat ahead would stay silent; once the budget is spent
    (:func:`budget_spent`) a note beyond the step's minimum gets -``budget_bias``; a repetition
    guide pulls NOTE/POS toward the guide bar's notes and steps. None before the decoded bars."""
    cfg = ctx.cfg
    if st.bar < ctx.start_bar:
        return None, None
    bias = np.zeros(size)
    reached = st.notes_in_bar >= ctx.bars[st.bar].target
    bias[[TYPE_BAR, TYPE_EOS]] = float(cfg.close_bias) * (1 if reached else -1)
    if cfg.constrained and cfg.budget_bias and st.prev_type in (TYPE_POS, TYPE_NOTE) \
            and st.notes_at_step >= step_min(ctx, st, st.step) and budget_spent(ctx, st):
        bias[TYPE_NOTE] -= float(cfg.budget_bias)
    silent = None
    if cfg.constrained and cfg.gap_bias:  # first beat left silent so far (if any)
        silent = st.voicing.first_silent_beat(st.bar * ctx.spb + st.step + 1, (st.bar + 1) * ctx.spb)
    if silent is not None:
        bias[[TYPE_BAR, TYPE_EOS]] -= float(cfg.gap_bias)  # would leave a beat silent
    if st.guide:  # imitate the guide bar: its notes at this step, then its next step
        gb = float(cfg.repeat_guide_bias)
        if st.prev_type in (TYPE_POS, TYPE_NOTE):
            bias[TYPE_NOTE] += gb if guide_row(st) is not None else -gb
        if any(s_ > st.step for s_ in st.guide):
            bias[TYPE_POS] += gb
    return bias, silent


def pos_mask(ctx: DecodeContext, st: DecodeState) -> np.ndarray:
    """Bool over POS field values (step + 1) for the next POS (any later step if none fits)."""
    spb = ctx.spb
    pm = np.zeros(ctx.tokenizer.field_sizes[ctx.F["pos"]], dtype=bool)
    pm[1:spb + 1] = pos_candidates(ctx, st, free_onsets(ctx, st))
    if not pm.any():
        pm[st.step + 2:spb + 1] = True
    return pm


def pos_bias(ctx: DecodeContext, st: DecodeState, pm: np.ndarray, silent: int | None) -> np.ndarray | None:
    """Logit bias over POS values: the guide's next step, -``gap_bias`` past a silent beat,
    -``budget_bias`` on a step that is not forced once the bar's budget is spent."""
    later = [s_ for s_ in sorted(st.guide) if s_ > st.step and pm[s_ + 1]]
    bias = guide_bias(ctx, st, ctx.F["pos"], pm.shape[0], later[0] + 1) if later else None
    if ctx.cfg.constrained and ctx.cfg.budget_bias and budget_spent(ctx, st):
        optional = np.zeros(pm.shape[0])
        optional[1:ctx.spb + 1] = np.where(ctx.bars[st.bar].forced[:ctx.spb], 0.0, -float(ctx.cfg.budget_bias))
        bias = optional if bias is None else bias + optional
    if silent is not None:  # onsets after a silent beat would leave it silent
        gap = np.zeros(pm.shape[0])
        gap[1 + silent - st.bar * ctx.spb + STEPS_PER_BEAT:] = -float(ctx.cfg.gap_bias)
        bias = gap if bias is None else bias + gap
    return bias
