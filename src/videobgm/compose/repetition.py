"""Phrase repetition in constrained decoding: a bar repeats an earlier bar with similar chords.

When a bar starts, :func:`repeat_rows` looks ``repeat_periods`` bars back for a bar whose chords are
the same or similar (:func:`chords_similar`), re-fits that bar's POS/NOTE rows to the new bar's
chords, chord changes and breaths (:func:`refit`), and keeps the new bar's chords and accent
velocities. Rows that also obey the new bar's density/strength targets (:func:`bar_fits`) are fed
to the model as they are (:func:`replay` updates the decoding state with them); otherwise
(``repeat_guided``) they become the state's *guide*, which the sampler imitates through logit
bonuses (:func:`guide_row`, :func:`guide_bias`) under every control mask. Whether a phrase of
``repeat_phrase_bars`` bars repeats is drawn once with ``repeat_prob``.
"""

from __future__ import annotations

import numpy as np

from videobgm.compose.constraints import chord_tone_mask
from videobgm.compose.decode_state import (
    DecodeContext,
    DecodeState,
    cond_for,
    count_note,
    enter_step,
    note_melody,
)
from videobgm.compose.token_codes import TYPE_BAR, TYPE_NOTE, TYPE_POS
from videobgm.types import STEPS_PER_BEAT


def rows_of_bar(rows: list[np.ndarray], j: int) -> list[np.ndarray]:
    """POS/NOTE rows of bar ``j`` in the token rows ``rows`` (from BOS on)."""
    bar_idx = [i for i, r in enumerate(rows) if r[0] == TYPE_BAR]
    if j >= len(bar_idx):
        return []
    end = bar_idx[j + 1] if j + 1 < len(bar_idx) else len(rows)
    return [r for r in rows[bar_idx[j] + 1:end] if r[0] in (TYPE_POS, TYPE_NOTE)]


def bar_fits(ctx: DecodeContext, i: int, rows: list[np.ndarray]) -> bool:
    """Whether ``rows`` (an earlier bar) obey bar ``i``'s targets (tracks, density, forced steps,
    beat strengths, breath)."""
    F, bt, spb = ctx.F, ctx.bars[i], ctx.spb
    per_step: dict[int, int] = {}
    step = -1
    for r in rows:
        if r[0] == TYPE_POS:
            step = int(r[F["pos"]]) - 1
            per_step[step] = 0
        elif not ctx.track_ok[int(r[F["track"]])] or step < 0:
            return False
        else:
            per_step[step] += 1
    n = sum(per_step.values())
    if not bt.lo <= n <= bt.hi or any(v == 0 for v in per_step.values()):
        return False
    if ctx.breath[i] and step >= spb - STEPS_PER_BEAT - 1:
        return False
    for s in np.flatnonzero(bt.forced):
        if int(s) not in per_step:
            return False
    for b, target in enumerate(bt.strength):
        got = per_step.get(b * STEPS_PER_BEAT, 0)
        if target > 0 and not target <= got <= target + max(0, int(ctx.cfg.strength_slack)):
            return False
        if target == 0 and got and not bt.accent[b * STEPS_PER_BEAT]:
            return False
    return True


def chords_similar(ctx: DecodeContext, i: int, j: int) -> bool:
    """Whether bars ``i`` and ``j`` have the same (or, with ``repeat_similar``, nearly the same)
    chords: equal roots on all beats but at most one, or equal chords shifted by one beat."""
    bpb = ctx.spb // STEPS_PER_BEAT
    c, p = ctx.beat_chords[i * bpb:(i + 1) * bpb], ctx.beat_chords[j * bpb:(j + 1) * bpb]
    if np.array_equal(c, p):
        return True
    if not ctx.cfg.repeat_similar or bpb < 3:
        return False
    rc, rp = ctx.beat_roots[i * bpb:(i + 1) * bpb], ctx.beat_roots[j * bpb:(j + 1) * bpb]
    if int((rc == rp).sum()) >= bpb - 1:
        return True
    return bool(np.array_equal(c[1:], p[:-1]) or np.array_equal(c[:-1], p[1:]))


def _shorten(ctx: DecodeContext, dur_value: int, left: int) -> int:
    """The longest duration value of at most ``left`` steps when ``dur_value`` is longer (else it)."""
    ds = ctx.dur_steps
    if ds[dur_value] <= left:
        return dur_value
    fits = np.flatnonzero((ds <= left) & (ds > 0))
    return int(fits[np.argmax(ds[fits])]) if fits.size else dur_value


def refit(ctx: DecodeContext, i: int, j: int, rows: list[np.ndarray]) -> list[np.ndarray] | None:
    """Bar ``j``'s rows re-fitted to bar ``i``'s chords: where the chord differs, notes that are
    not tones of bar ``i``'s chord move to the nearest chord tone (order within a step kept),
    accompaniment ends by bar ``i``'s next chord change. None when a note cannot be placed."""
    F, spb = ctx.F, ctx.spb
    out, step, last_track, last_pitch = [], -1, 0, 0
    kd = F["duration"]
    for r in rows:
        r = r.copy()
        if r[0] == TYPE_POS:
            step, last_track, last_pitch = int(r[F["pos"]]) - 1, 0, 0
            out.append(r)
            continue
        g, gj = i * spb + step, j * spb + step
        tv, pv = int(r[F["track"]]), int(r[F["pitch"]])
        floor = last_pitch + 1 if tv == last_track else 1
        tones = chord_tone_mask(ctx.chord_at(g), ctx.tokenizer)
        if tones is not None and (ctx.chord_at(g) != ctx.chord_at(gj) or pv < floor):
            ok = ctx.pitch_ok.copy()
            ok[1:] &= tones
            ok[:floor] = False
            if not ok[pv]:
                cand = np.flatnonzero(ok)
                if cand.size == 0:
                    return None
                pv = int(cand[np.argmin(np.abs(cand - pv) * 2 + (cand < pv))])
        elif pv < floor:
            return None
        r[F["pitch"]] = pv
        if tv in ctx.accompaniment_values and ctx.cfg.release_at_chord_change:
            r[kd] = _shorten(ctx, int(r[kd]), int(ctx.steps_to_change[g]))
        r[kd] = _shorten(ctx, int(r[kd]), int(ctx.steps_to_breath[g]))
        last_track, last_pitch = tv, pv
        out.append(r)
    return out


def _candidate(ctx: DecodeContext, st: DecodeState, i: int, j: int) -> tuple[list[np.ndarray], bool] | None:
    """Bar ``j``'s rows re-fitted for bar ``i`` and whether they fit exactly (None: not a repeat)."""
    F, cfg = ctx.F, ctx.cfg
    if j < 0 or not chords_similar(ctx, i, j) or (i in ctx.motif_map and j != ctx.motif_map[i]):
        return None
    rows = rows_of_bar(st.rows, j)
    if not rows:
        return None
    if ctx.melody_bars is not None and bool(ctx.melody_bars[i]) != any(
            r[0] == TYPE_NOTE and int(r[F["track"]]) == ctx.melody_value for r in rows):
        return None  # the melody plays in one bar and not the other: not a repeat
    exact = bar_fits(ctx, i, rows)
    if not (exact or cfg.repeat_guided):
        return None
    rows = refit(ctx, i, j, rows)
    return None if rows is None else (rows, exact)


def repeat_rows(ctx: DecodeContext, st: DecodeState, i: int) -> list[np.ndarray] | None:
    """Rows of an earlier bar to repeat as bar ``i`` (similar chords), re-fitted to bar ``i``'s
    chords and accents. When they also fit bar ``i``'s density/strength targets they are fed as
    they are; otherwise (``repeat_guided``) they become ``st.guide``, which the sampler imitates
    through logit bonuses while every control mask still applies. None = no exact copy."""
    F, cfg = ctx.F, ctx.cfg
    st.guide = {}
    if not cfg.constrained or cfg.repeat_prob <= 0 or i < ctx.start_bar:
        return None
    for p in cfg.repeat_periods:
        found = _candidate(ctx, st, i, i - int(p))
        if found is None:
            continue
        rows, exact = found
        ph = i // max(1, int(cfg.repeat_phrase_bars))  # one draw per phrase: repeats run on
        if ph not in st.phrase_repeats:
            st.phrase_repeats[ph] = bool(st.sampler.rng.random() < cfg.repeat_prob)
        if not st.phrase_repeats[ph]:
            return None
        out, step = [], -1
        low = min(int(cfg.accent_velocity_bin), ctx.tokenizer.field_sizes[F["velocity"]] - 1)
        for r in rows:  # this bar's chords (by step) and accents (velocity) are kept
            if r[0] == TYPE_POS:
                step = int(r[F["pos"]]) - 1
                r[F["chord"]] = ctx.chord_at(i * ctx.spb + step)
            elif ctx.bars[i].accent[step]:
                r[F["velocity"]] = max(int(r[F["velocity"]]), low)
            out.append(r)
        if exact:
            return out
        step = -1
        for r in out:
            if r[0] == TYPE_POS:
                step = int(r[F["pos"]]) - 1
            else:
                st.guide.setdefault(step, []).append(r)
        return None
    return None


def replay(ctx: DecodeContext, st: DecodeState, copied: list[np.ndarray]) -> list[np.ndarray]:
    """Take the repeated rows ``copied`` as the current bar's tokens (state, voicing, rows); returns
    their conditioning rows."""
    F, spb = ctx.F, ctx.spb
    conds = []
    for r in copied:
        if r[0] == TYPE_POS:
            enter_step(st, int(r[F["pos"]]))
        else:
            count_note(st, int(r[F["track"]]), int(r[F["pitch"]]))
            st.melody_in_bar += int(st.last_track == ctx.melody_value)
            if st.last_track == ctx.melody_value and ctx.cfg.constrained:
                note_melody(st, st.last_pitch - 1, chord_tone_mask(ctx.chord_at(st.bar * spb + st.step), ctx.tokenizer))
            st.voicing.add(st.bar * spb + st.step, st.last_pitch - 1, ctx.dur_steps[int(r[F["duration"]])])
        conds.append(cond_for(ctx, st, int(r[0])))
        st.rows.append(r.copy())
    st.prev_type = int(copied[-1][0])
    st.tokens_in_bar += len(copied)
    return conds


def guide_row(st: DecodeState) -> np.ndarray | None:
    """The guide's NOTE row for the next note at the current step (None = no guide there)."""
    g = st.guide.get(st.step)
    return g[st.notes_at_step] if g is not None and st.notes_at_step < len(g) else None


def guide_bias(ctx: DecodeContext, st: DecodeState, k: int, size: int, value: int | None = None) -> np.ndarray | None:
    """Logit bonus ``repeat_guide_bias`` for the guide's value of field ``k`` (or ``value``)."""
    if not st.guide:
        return None
    if value is None:
        r = guide_row(st)
        if r is None:
            return None
        value = int(r[k])
    b = np.zeros(size)
    b[value] = float(ctx.cfg.repeat_guide_bias)
    return b
