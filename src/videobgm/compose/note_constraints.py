"""What one note may be: the masks and biases of a NOTE token's fields in constrained decoding.

A NOTE's fields are picked one after another (track, pitch, duration, velocity). Tracks: only the
requested ones the model knows, (track, pitch) strictly increasing inside a step, no melody in a
bar without melody or after a phrase's cadence, the melody pulled into its bars (and, with an
arranged accompaniment, toward its lead share), the motif's onsets given to the melody. Pitches:
the sampled range, accompaniment on chord tones (strictly on beat onsets), chord-tone and voicing
bonuses, the melody's line (steps, resolutions, calm's avoid notes over the bass), the motif's or
a repeated bar's pitch. Durations: accompaniment released by the next chord change, every note by
the next breath, the phrase end's long last melody note
(:func:`videobgm.compose.phrasing.cadence_durations`), the motif's duration. Velocities: at least
``accent_velocity_bin`` on accent steps.
"""

from __future__ import annotations

import numpy as np

from videobgm.compose.decode_state import DecodeContext, DecodeState
from videobgm.compose.phrasing import cadence_durations
from videobgm.compose.repetition import guide_bias, guide_row
from videobgm.types import STEPS_PER_BEAT


def _sum(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """``a + b`` where both are biases (None: no bias)."""
    return b if a is None else a if b is None else a + b


def pitch_mask(ctx: DecodeContext, st: DecodeState, track_value: int,
               chord_tones: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Allowed pitch field values (and chord-tone bias) for a note on this track."""
    cfg = ctx.cfg
    pm = ctx.pitch_ok.copy()
    if track_value == st.last_track:
        pm[: st.last_pitch + 1] = False
    if chord_tones is None:
        return pm, None
    if track_value not in ctx.accompaniment_values:
        if cfg.melody_chord_tones_on_beats and st.step % STEPS_PER_BEAT == 0:
            strict = pm.copy()
            strict[1:] &= chord_tones
            if strict.any():
                pm = strict
        if not cfg.melody_chord_bias:
            return pm, None
        bias = np.zeros(pm.shape[0])
        bias[1:][chord_tones] = float(cfg.melody_chord_bias)
        return pm, bias
    bias = np.zeros(pm.shape[0])
    bias[1:][chord_tones] = float(cfg.chord_bias)
    if cfg.chord_tones_everywhere or (cfg.chord_tones_only_on_beats and st.step % STEPS_PER_BEAT == 0):
        pm[1:] &= chord_tones
    return pm, bias


def track_mask(ctx: DecodeContext, st: DecodeState,
               chord_tones: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Allowed track field values for the next note, and the melody's presence bias (or None)."""
    cfg, mel = ctx.cfg, ctx.melody_value
    tm = ctx.track_ok.copy()
    tm[: st.last_track] = False
    for tv in np.flatnonzero(tm):
        tm[tv] = pitch_mask(ctx, st, int(tv), chord_tones)[0].any()
    if not tm.any():
        tm = ctx.track_ok.copy()
    bias = None
    if ctx.melody_bars is not None and not ctx.melody_bars[st.bar]:
        if tm.sum() > 1 or not tm[mel]:
            tm[mel] = False  # a bar without melody
        else:  # only the melody could take this note: any other track may
            tm = ctx.track_ok.copy()
            tm[mel] = False
    elif st.cadence_done and tm[mel] and tm.sum() > 1:
        tm[mel] = False  # the phrase has ended: the melody breathes
    elif ctx.melody_bars is not None and tm[mel] and (st.melody_in_bar == 0 or (
            ctx.full.arranged and st.notes_at_step == 0 and st.melody_in_bar
            < cfg.melody_lead_share * ctx.bars[st.bar].target * (st.step + 1) / ctx.spb)):
        bias = np.zeros(tm.shape[0])  # the melody should enter this bar / lead
        bias[mel] = float(cfg.melody_presence_bias)
    if st.motif:  # a restating bar: the melody plays its planned onsets only
        if st.step in st.motif and st.notes_at_step == 0 and ctx.track_ok[mel]:
            tm, bias = np.zeros_like(tm), None
            tm[mel] = True
        elif tm[mel] and tm.sum() > 1 and not (st.bar not in ctx.motif_map and st.step >= ctx.spb // 2):
            tm[mel] = False  # (a restating unit's last bar: its second half is the melody's own)
    return tm, _sum(guide_bias(ctx, st, ctx.F["track"], tm.shape[0]), bias)


def melody_line_bias(ctx: DecodeContext, st: DecodeState, chord_tones: np.ndarray, size: int) -> np.ndarray | None:
    """Melody-level help (the model alone moves by step too rarely): a logit bonus
    ``melody_step_bias`` for scale notes 1-2 semitones from the previous melody note; after a
    non-chord tone, ``melody_resolve_bias`` more for chord tones a step away (it resolves)."""
    cfg = ctx.cfg
    if st.melody_pitch < 0 or not (cfg.melody_step_bias or cfg.melody_resolve_bias):
        return None
    d = np.abs(np.arange(128) - st.melody_pitch)
    step = (d >= 1) & (d <= 2)
    bias = np.zeros(size)
    bias[1:129][step & ctx.in_scale] += float(cfg.melody_step_bias)
    if st.melody_nct:
        bias[1:129][step & chord_tones] += float(cfg.melody_resolve_bias)
    return bias


def avoid_note_bias(ctx: DecodeContext, st: DecodeState, size: int) -> np.ndarray | None:
    """The calm melody's soft colour (``ctx.avoid_bias``, :func:`videobgm.compose.decode_state.avoid_weight`):
    ``-avoid_bias`` logits for a pitch a semitone from a pitch class the bass sounds at this step
    (the major seventh or the minor ninth over it; a maj7 chord's seventh over its root too).
    The melody and the bass are the two voices the clash resolver (:mod:`videobgm.compose.clashes`)
    leaves standing, so this is the semitone clash it cannot remove; the inner voices already
    yield to the melody. The melody keeps its other non-chord tones (the 9th, 4th and 6th of a
    triad) for its passing and neighbour tones and appoggiaturas. None where off or without bass."""
    if not ctx.avoid_bias or ctx.bass_pcs is None:
        return None
    g = st.bar * ctx.spb + st.step
    if not 0 <= g < ctx.bass_pcs.shape[0] or not ctx.bass_pcs[g].any():
        return None
    bass = ctx.bass_pcs[g]
    avoid = (np.roll(bass, 1) | np.roll(bass, -1)) & ~bass  # a semitone from a bass pitch class
    bias = np.zeros(size)
    bias[1:129][avoid[np.arange(128) % 12]] = -float(ctx.avoid_bias)
    return bias


def register_bias(ctx: DecodeContext, st: DecodeState, size: int) -> np.ndarray | None:
    """The register target's soft pull on a melody pitch (``controls.register_per_bar``): a tilt,
    not a window, so the line keeps its shape and range. ``w = melody_register_bias``, ``band =
    melody_register_band``. Before the first melody note: ``-w * clip((|p - target| - band) / 12,
    0, 1)``. After it: error = target - the mean of the line's last notes, less the band
    (0 inside it); bias ``w * clip(error / 6, -1, 1) * clip((p - last pitch) / 12, -1, 1)``:
    upward motion favoured while the line sits low, downward while it sits high. None without a
    target or with the bias off."""
    reg, w = ctx.controls.register_per_bar, float(ctx.cfg.melody_register_bias)
    if reg is None or not w or st.bar >= len(reg):
        return None
    target, band = float(reg[st.bar]), float(ctx.cfg.melody_register_band)
    p = np.arange(128, dtype=float)
    bias = np.zeros(size)
    if not st.melody_recent:
        bias[1:129] = -w * np.clip((np.abs(p - target) - band) / 12.0, 0.0, 1.0)
        return bias
    err = target - float(np.mean(st.melody_recent))
    err = float(np.sign(err)) * max(0.0, abs(err) - band)
    if not err:
        return None
    bias[1:129] = w * float(np.clip(err / 6.0, -1.0, 1.0)) * np.clip((p - st.melody_pitch) / 12.0, -1.0, 1.0)
    return bias


def note_pitch(ctx: DecodeContext, st: DecodeState, track_value: int, chord_tones: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int] | None]:
    """Allowed pitch values, their bias, and the motif's planned (pitch, duration) values when this
    note is the restated melody's (else None)."""
    cfg, F = ctx.cfg, ctx.F
    pm, bias = pitch_mask(ctx, st, track_value, chord_tones)
    if not pm.any():
        pm[1:] = True
    planned = st.motif.get(st.step) if track_value == ctx.melody_value and st.notes_at_step == 0 else None
    if planned is not None:  # the motif's pitch
        pm = np.zeros_like(pm)
        pm[planned[0]] = True
    gr = guide_row(st)
    if gr is not None and int(gr[F["track"]]) == track_value:  # imitating a repeated bar
        gbias = guide_bias(ctx, st, F["pitch"], pm.shape[0])
        bias = gbias if bias is None else bias + gbias
    else:  # free choice: prefer chord tones this beat still lacks
        g = st.bar * ctx.spb + st.step
        vb = st.voicing.missing_bias(g, chord_tones, cfg.voicing_bias if track_value in ctx.accompaniment_values
                                     else cfg.melody_voicing_bias, pm.shape[0])
        if track_value == ctx.melody_value and chord_tones is not None:
            vb = _sum(vb, melody_line_bias(ctx, st, chord_tones, pm.shape[0]))
            vb = _sum(vb, avoid_note_bias(ctx, st, pm.shape[0]))
        if track_value == ctx.melody_value and ctx.cfg.constrained:
            vb = _sum(vb, register_bias(ctx, st, pm.shape[0]))
        bias = _sum(bias, vb)
    return pm, bias, planned


def duration_mask(ctx: DecodeContext, st: DecodeState, track_value: int,
                  planned: tuple[int, int] | None) -> tuple[np.ndarray, bool]:
    """Allowed duration values, and whether this note is its phrase's cadence (the long last note)."""
    cfg, ds = ctx.cfg, ctx.dur_steps
    g = st.bar * ctx.spb + st.step
    dm = np.ones(ctx.tokenizer.field_sizes[ctx.F["duration"]], dtype=bool)
    dm[0] = False
    if cfg.constrained and track_value in ctx.accompaniment_values and cfg.release_at_chord_change:
        # accompaniment ends by the next chord change (keeps the harmony clean)
        fits = dm & (ds <= int(ctx.steps_to_change[g]))
        dm = fits if fits.any() else (dm & (ds == ds[1:].min()))
    if ctx.steps_to_breath[g] < ds.max():  # released by the next breath
        fits = dm & (ds <= ctx.steps_to_breath[g])
        dm = fits if fits.any() else dm
    if planned is not None and track_value == ctx.melody_value and ctx.ends[st.bar] \
            and st.bar not in ctx.motif_map and st.step >= ctx.spb // 2 and not st.cadence_done:
        return cadence_durations(ctx, st, dm), True  # a restating unit's ending note: the cadence's
    if planned is not None and dm[planned[1]]:  # the motif's duration
        dm = np.zeros_like(dm)
        dm[planned[1]] = True
        return dm, False
    if track_value == ctx.melody_value and ctx.ends[st.bar] and st.step >= ctx.spb // 2 and not st.cadence_done:
        return cadence_durations(ctx, st, dm), True
    return dm, False


def velocity_mask(ctx: DecodeContext, st: DecodeState) -> np.ndarray:
    """Allowed velocity bins: at least ``accent_velocity_bin`` on an accent step."""
    vm = np.ones(ctx.tokenizer.field_sizes[ctx.F["velocity"]], dtype=bool)
    vm[0] = False
    if ctx.bars[st.bar].accent[st.step]:
        vm[: min(int(ctx.cfg.accent_velocity_bin), vm.shape[0] - 1)] = False
    return vm
