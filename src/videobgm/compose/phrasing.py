"""Phrasing in constrained decoding: breaths, phrase-end cadences, rests that ring, the motif's bars.

* Breaths (``generate(breath_bars=)``): the last beat of a breath bar stays silent (no onsets, every
  note, rule parts too, released a 16th before it) unless an accent or a fill falls there
  (:func:`breath_mask`, :func:`breath_steps`, :func:`breathe`).
* Phrase ends (``generate(phrase_ends=)``): from the bar's third beat on, the melody's first note is
  its last in the bar and lasts toward the bar line (:func:`cadence_durations`).
* Rests that ring (``ring_rests``): before bars with no onsets planned, the last notes are held
  through them (:func:`ring_into_rest`).
* The motif (``generate(motif=)``, :mod:`videobgm.music.motif`): a restating bar's melody is its
  statement bar's, fitted to its chords and forced token by token (:func:`motif_plan`).
* One voice (``one_voice_tracks``: melody and bass): a note ends by its track's next onset, as a
  singer's or a bass player's does (:func:`one_voice`). The model picks a melody note's duration
  before it picks the next position, and a quarter of its melody notes overlapped the next one,
  where POP909's melodies overlap in 0.4 % of consecutive notes; the rule bass struck its accents
  and pickups over its held notes (32 % of its notes overlapped the next).
* Solo instruments (``generate(solo_tracks=)``, :func:`solo_tracks`): a track that a flute, a sax
  or a solo violin plays sounds one note at a time: of notes struck together the highest stays
  (the bass: the lowest), and each ends by the next. The acoustic style's flute (its bridge)
  played two notes at once on 13 % of its onsets and overlapped itself on 27 % of its notes.
  Done after decoding: masking the second note of a step while decoding left beats short of
  their planned strength, so fewer bars repeated exactly (the longest repeated melody motif fell
  from 13.1 to 12.3 notes on the video-driven pieces); dropping it afterwards costs the bridge
  those notes (the density control counts notes).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from videobgm.compose.constraints import chord_tone_mask
from videobgm.compose.decode_state import DecodeContext, DecodeState, melody_only
from videobgm.compose.repetition import rows_of_bar
from videobgm.compose.token_codes import TYPE_BAR, TYPE_NOTE, TYPE_POS
from videobgm.config import SampleConfig
from videobgm.types import STEPS_PER_BEAT, Controls, Note


def breath_mask(controls: Controls, cfg: SampleConfig, span: tuple[int, int],
                breath_bars: tuple[int, ...] | None) -> np.ndarray:
    """Bool per bar: the breath bars inside ``span`` whose last beat has no accent and no fill
    (constrained decoding only)."""
    spb = controls.steps_per_bar
    breath = np.zeros(controls.n_bars, dtype=bool)
    acc = np.asarray(controls.accent_steps, dtype=bool)
    for b in (breath_bars or ()) if cfg.constrained else ():
        b = int(b)
        if span[0] <= b < span[1] and b not in controls.fill_bars \
                and not acc[(b + 1) * spb - STEPS_PER_BEAT:(b + 1) * spb].any():
            breath[b] = True
    return breath


def breath_steps(breath: np.ndarray, spb: int) -> tuple[np.ndarray, np.ndarray]:
    """Per 16th step: steps to the next breath (10**6: none) and whether it lies in one. A breath is
    the last beat of a breath bar and the 16th before it (notes are released a 16th early, so that
    no note's end touches the silent beat)."""
    starts = np.flatnonzero(breath) * spb + spb - STEPS_PER_BEAT - 1
    g_all = np.arange(breath.shape[0] * spb)
    nb = np.searchsorted(starts, g_all, side="left")
    steps_to_breath = np.where(nb < starts.shape[0], np.append(starts, 0)[nb] - g_all, 10**6)
    in_breath = np.zeros(g_all.shape[0], dtype=bool)
    for s0 in starts:
        in_breath[s0:s0 + STEPS_PER_BEAT + 1] = True
    return steps_to_breath, in_breath


def breathe(controls: Controls, rule: list[Note], breath: np.ndarray, steps_to_breath: np.ndarray,
            in_breath: np.ndarray) -> tuple[Controls, list[Note]]:
    """The controls with no strength on the breath beats, and the rule notes without onsets in a
    breath and released by it (unchanged when there is no breath)."""
    if not breath.any():
        return controls, rule
    bpb = controls.beats_per_bar
    stren = np.asarray(controls.strength_per_beat).copy()
    stren[[(b + 1) * bpb - 1 for b in np.flatnonzero(breath)]] = 0
    controls = dataclasses.replace(controls, strength_per_beat=stren)
    rule = [n if steps_to_breath[n.onset_16th] >= n.duration_16th else
            dataclasses.replace(n, duration_16th=int(steps_to_breath[n.onset_16th]))
            for n in rule if n.onset_16th >= in_breath.shape[0] or not in_breath[n.onset_16th]]
    return controls, rule


def cadence_durations(ctx: DecodeContext, st: DecodeState, dm: np.ndarray) -> np.ndarray:
    """Duration values for a phrase's last melody note: ending by the bar line, a quarter or more
    where the bar allows (``dm``: the values allowed so far)."""
    left = ctx.spb - st.step
    fits = dm & (ctx.dur_steps <= left)
    dm = fits if fits.any() else dm
    long_ = dm & (ctx.dur_steps >= min(STEPS_PER_BEAT, left))
    return long_ if long_.any() else dm


def ring_into_rest(ctx: DecodeContext, st: DecodeState, nxt: int) -> None:
    """Bar ``nxt`` (and those after it) has no onsets planned (density target 0): hold the
    notes of the last onset of the bar just closed through them while they would be silent,
    up to the next bar with onsets, the next change to another chord (a stretch without a
    chord rings on) or the longest token duration."""
    bars, spb, n_bars, ds, chord = ctx.bars, ctx.spb, ctx.n_bars, ctx.dur_steps, ctx.tables.chord
    if nxt >= n_bars or bars[nxt].target > 0:
        return
    j = nxt
    while j < n_bars and bars[j].target == 0:
        j += 1
    last = None
    for i in range(len(st.rows) - 1, -1, -1):  # the closed bar's last POS row
        if st.rows[i][0] == TYPE_BAR:
            return
        if st.rows[i][0] == TYPE_POS:
            last = i
            break
    if last is None:
        return
    s = st.bar * spb + int(st.rows[last][ctx.F["pos"]]) - 1
    end, limit = s + 1, min(j * spb, s + int(ds.max()), s + int(ctx.steps_to_breath[s]))
    while end < limit and chord[end] in (chord[s], 1):  # 1 = no chord: ring on
        end += 1
    if st.voicing.first_silent_beat(nxt * spb, end) is None:
        return
    kd = ctx.F["duration"]
    fits = np.flatnonzero((ds > 0) & (ds <= end - s))
    best = int(fits[np.argmax(ds[fits])])
    for r in st.rows[last + 1:]:
        if r[0] == TYPE_NOTE and ds[best] > ds[int(r[kd])]:
            r[kd] = best
            st.voicing.add(s, int(r[ctx.F["pitch"]]) - 1, int(ds[best]))


def motif_plan(ctx: DecodeContext, st: DecodeState, i: int) -> dict[int, tuple[int, int]]:
    """Bar ``i``'s planned melody (step -> (pitch value, duration value)): its statement
    bar's melody fitted to bar ``i``'s chords; its steps become forced steps of bar ``i``."""
    from videobgm.music import motif as motif_mod

    F, spb, mel = ctx.F, ctx.spb, ctx.melody_value
    if (i not in ctx.motif_map and i not in ctx.motif_heads) or not ctx.cfg.constrained or not ctx.track_ok[mel] \
            or i < ctx.start_bar or (ctx.melody_bars is not None and not ctx.melody_bars[i]):
        return {}
    head = i not in ctx.motif_map  # a restating unit's last bar: the statement's first half and
    # the onset of its second half's first note (the ending's note, on the statement's beat,
    # fitted to this bar's chord), the rest is free
    j, step, notes = ctx.motif_map.get(i, ctx.motif_heads.get(i)), -1, {}
    for r in rows_of_bar(st.rows, j):
        if r[0] == TYPE_POS:
            step = int(r[F["pos"]]) - 1
        elif int(r[F["track"]]) == mel and not (ctx.breath[i] and step >= spb - STEPS_PER_BEAT - 1) \
                and not (head and step >= spb // 2 and any(s_ >= spb // 2 and s_ != step for s_ in notes)):
            notes[step] = (step, int(r[F["pitch"]]) - 1, int(r[F["duration"]]))  # the top note
    if not notes:
        return {}
    ordered = [notes[s_] for s_ in sorted(notes)]
    fitted = motif_mod.adapt(
        ordered, [chord_tone_mask(ctx.chord_at(i * spb + s_), ctx.tokenizer) for s_, _, _ in ordered],
        ctx.in_scale, [ctx.chord_at(i * spb + s_) == ctx.chord_at(j * spb + s_) for s_, _, _ in ordered],
        run_shift=run_shift(ctx, st, i, j))
    motif_mod.force_steps(ctx.bars[i], [s_ for s_, _, _ in fitted])
    if not head and melody_only(ctx):
        sounded_by_rule(ctx.bars[i], {s_ for s_, _, _ in fitted}, ctx.rule_onsets[i * spb:(i + 1) * spb])
    return {s_: (p_ + 1, d_) for s_, p_, d_ in fitted}


def run_shift(ctx: DecodeContext, st: DecodeState, i: int, j: int) -> int | None:
    """How far bar ``i - 1`` transposed its statement bar ``j - 1`` when bar ``i`` continues that
    restated run (``i - 1`` restates ``j - 1``): its last melody note's pitch minus the statement's
    (on the same step; None otherwise, or when bar ``i`` starts a run)."""
    if ctx.motif_map.get(i - 1) != j - 1:
        return None

    def last(bar: int) -> tuple[int, int] | None:
        step, out = -1, None
        for r in rows_of_bar(st.rows, bar):
            if r[0] == TYPE_POS:
                step = int(r[ctx.F["pos"]]) - 1
            elif int(r[ctx.F["track"]]) == ctx.melody_value and (out is None or out[0] != step
                                                                 or int(r[ctx.F["pitch"]]) > out[1]):
                out = (step, int(r[ctx.F["pitch"]]))  # the top melody note of the last onset
        return out

    a, b = last(i - 1), last(j - 1)
    return a[1] - b[1] if a is not None and b is not None and a[0] == b[0] else None


def sounded_by_rule(bar: Any, planned: set[int], rule_onsets: np.ndarray) -> None:
    """A restating bar sampled by the melody alone: its forced steps (accents, beats with a
    target strength) that the statement's melody does not play and a rule part already sounds
    are no longer forced, and the bar may close with the planned onsets (else the melody would
    add a note the statement does not have: the accent is heard in the accompaniment)."""
    for s in np.flatnonzero(bar.forced):
        if int(s) not in planned and int(rule_onsets[s]) > 0:
            bar.forced[s] = False
    need = int(sum(max(1, int(bar.strength[s // STEPS_PER_BEAT])) if s % STEPS_PER_BEAT == 0 else 1
                   for s in np.flatnonzero(bar.forced)))
    bar.lo = min(bar.lo, need)


def solo_tracks(instruments: dict[str, str]) -> tuple[str, ...]:
    """The tracks a monophonic instrument plays (``instruments``: track -> lexicon name)."""
    from videobgm.music.lexicon import MONOPHONIC_INSTRUMENTS

    return tuple(t for t, name in instruments.items() if name in MONOPHONIC_INSTRUMENTS and t != "drums")


def one_voice(notes: list[Note], track: str = "melody", *, single: bool = False,
              fixed: frozenset[int] = frozenset()) -> list[Note]:
    """``notes`` with each ``track`` note cut to end by the track's next (later) onset.

    Notes struck together (a melody's third) share their span; with ``single`` (a monophonic
    instrument) only the highest of them stays (for the bass track the lowest). A note is never
    shortened below one 16th. Notes whose index is in ``fixed`` (kept from an earlier take) are
    left as they are. The order of ``notes`` is kept.
    """
    keep: dict[int, int] = {}  # onset -> index of the note that stays (single)
    for i, n in enumerate(notes):
        if single and n.track == track and i not in fixed:
            j = keep.get(n.onset_16th)
            if j is None or (n.pitch < notes[j].pitch if track == "bass" else n.pitch > notes[j].pitch):
                keep[n.onset_16th] = i
    onsets = sorted({n.onset_16th for n in notes if n.track == track})
    nxt = {a: b for a, b in zip(onsets, onsets[1:])}
    out: list[Note] = []
    for i, n in enumerate(notes):
        if n.track == track and i not in fixed:
            if single and keep[n.onset_16th] != i:
                continue
            b = nxt.get(n.onset_16th)
            if b is not None and n.onset_16th + n.duration_16th > b:
                n = dataclasses.replace(n, duration_16th=max(1, b - n.onset_16th))
        out.append(n)
    return out
