"""[5] Controls -> Score: seeded generation with a KV cache, grammar masks and control constraints.

One backbone forward per compound token (incremental, KV cache); then the cascaded heads pick the
token's fields one after another (type, pos, chord, track, pitch, duration, velocity), each under a
mask that keeps the sequence valid music and the controls honoured. The decoder is built in parts:

* :mod:`videobgm.compose.decode_state`: the call's fixed context (:class:`DecodeContext`: bar
  targets, chords per step, allowed tracks/pitches, breaths, the motif layout) and the state that
  changes token by token (:class:`DecodeState`), with the state transitions of each token type;
* :mod:`videobgm.compose.bar_constraints`: the token type allowed next (the tokenizer's grammar,
  ``Tokenizer.next_type_mask``, narrowed by the bar's density / strength / accent / breath targets)
  and the POS step; their biases (close at the density target, no silent beats);
* :mod:`videobgm.compose.note_constraints`: a NOTE's track, pitch, duration and velocity masks and
  biases (chord tones, voicing, the melody's line and bars, the motif's notes);
* :mod:`videobgm.compose.phrasing`: breaths, phrase-end cadences, rests that ring, the motif plan;
* :mod:`videobgm.compose.repetition`: a bar repeats an earlier bar with similar chords (copied or
  imitated);
* :mod:`videobgm.compose.constraints`: per-bar targets, chord tones, the voicing tracker and the
  seeded masked top-p draw of one field.

The controls, in short:

* grammar: BOS -> BAR -> { POS(step) NOTE+ }* -> BAR ... -> EOS; steps strictly increase inside a
  bar; (track, pitch) strictly increase inside a step; exactly ``controls.n_bars`` bars, then EOS.
* density: a bar may not close before it holds ``(1 - tol) * target`` onsets and may not exceed
  ``(1 + tol) * target + 1`` (pitched tracks).
* strength: the first 16th of a beat with target strength ``s > 0`` must carry between ``s`` and
  ``s + strength_slack`` onsets; a beat with ``s = 0`` gets none (unless an accent falls there).
* accents: every ``controls.accent_steps`` step gets a POS and its notes a velocity bin >=
  ``accent_velocity_bin``.
* chords: the POS chord field is the requested chord (not sampled) and is fed as conditioning;
  accompaniment pitches (bridge, piano, bass) get a logit bonus on chord tones, and on beat onsets
  are restricted to chord tones.
* tracks: only ``controls.tracks`` that the model knows (melody, bridge, piano, bass) are sampled.

Section regeneration (``keep`` + ``regenerate_bars=(a, b)``): the tokens of ``keep`` before bar
``a`` are fed as a prefix (teacher forcing), bars ``a .. b-1`` are sampled, and every note of
``keep`` with an onset outside those bars is returned unchanged; new notes are trimmed so they end
by the start of bar ``b``.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import numpy as np

from videobgm.compose import bar_constraints as bc
from videobgm.compose import note_constraints as nc
from videobgm.compose import phrasing, repetition
from videobgm.compose.conditioning import cond_from_controls
from videobgm.compose.constraints import TokenSampler, Voicing, chord_tone_mask
from videobgm.compose.decode_state import (
    MODEL_TRACKS,
    DecodeContext,
    DecodeState,
    build_context,
    cond_for,
    count_note,
    enter_bar,
    enter_step,
    note_melody,
)
from videobgm.config import SampleConfig
from videobgm.errors import OptionError
from videobgm.progress import ProgressFn, null_progress
from videobgm.types import TRACKS, Controls, Note, Score


def _validate(controls: Controls, model: Any, tokenizer: Any) -> None:
    if controls.n_bars < 1:
        raise OptionError(f"controls.n_bars must be >= 1, got {controls.n_bars}")
    if controls.steps_per_bar > 16:
        raise OptionError(f"bars of {controls.beats_per_bar} beats are not supported; accepted: 1..4")
    if list(model.field_sizes) != list(tokenizer.field_sizes):
        raise OptionError("model and tokenizer vocabularies differ (load them from the same checkpoint)")


def generate(controls: Controls, model: Any, tokenizer: Any, cfg: SampleConfig | None = None, *,
             keep: Score | None = None, regenerate_bars: tuple[int, int] | None = None,
             progress: ProgressFn | None = None, phrase_ends: tuple[int, ...] | None = None,
             breath_bars: tuple[int, ...] | None = None, motif: dict[int, int] | None = None,
             solo_tracks: tuple[str, ...] = ()) -> Score:
    """Compose a piece that follows ``controls``.

    Parameters
    ----------
    controls : Controls
        Bars, per-bar density, per-beat strength, accent steps, chords, key, tracks.
    model : MusicTransformer
    tokenizer : Tokenizer
    cfg : SampleConfig
        Seed, temperatures, top-p, constraint settings.
    keep : Score, optional
        A previous result; with ``regenerate_bars`` only those bars are re-sampled.
    regenerate_bars : (int, int), optional
        Bars ``[a, b)`` to regenerate (0 <= a < b <= n_bars); needs ``keep``.
    progress : callable, optional
        ``progress(bars_done, n_bars)``.
    phrase_ends : tuple of int, optional
        Last bar of each melodic phrase (constrained decoding): from its third beat on, the
        melody's first note is its last in the bar and lasts toward the bar line (a long note,
        then a breath before the next phrase); the accompaniment fills the bar.
    breath_bars : tuple of int, optional
        Bars whose last beat the whole texture leaves silent (constrained decoding; a section's
        end before a new section's hit): no onsets there, every note (rule parts too) released
        by it. A bar with an accent or a fill in its last beat keeps it.
    motif : dict of int -> int, optional
        Restating bar -> earlier bar (constrained decoding; :func:`videobgm.music.motif.layout`): the
        bar's melody is the earlier bar's (onsets, durations; pitches fitted to this bar's
        chords by :func:`videobgm.music.motif.adapt`), forced token by token; the other tracks are
        sampled around it.
    solo_tracks : tuple of str
        Tracks a monophonic instrument plays (constrained decoding; :func:`phrasing.solo_tracks`):
        one note at a time, the highest of notes struck together (the bass: the lowest).

    Returns
    -------
    Score
        ``n_bars`` bars on the 16th grid with ``controls``' chords, key and tempo (constant
        tempo; the caller sets ``beat_times_s``).
    """
    import torch

    cfg = cfg or SampleConfig()
    progress = progress or null_progress
    _validate(controls, model, tokenizer)
    from videobgm.compose import arrange
    full = controls
    bad = [t for t in controls.tracks if t not in MODEL_TRACKS + arrange.RULE_TRACKS]
    if bad or not controls.tracks:
        raise OptionError(f"unknown track(s) {bad or '(none)'} in controls.tracks; accepted: {', '.join(TRACKS)}")
    for name, given in (("one_voice_tracks", cfg.one_voice_tracks), ("solo_tracks", solo_tracks)):
        bad = [t for t in given if t not in TRACKS]
        if bad:
            raise OptionError(f"unknown track(s) {bad} in {name}; accepted: {', '.join(TRACKS)}")
    voices = {t: t in solo_tracks for t in (*cfg.one_voice_tracks, *solo_tracks)} if cfg.constrained else {}
    if (keep is None) != (regenerate_bars is None):
        raise OptionError("section regeneration needs both keep (a Score) and regenerate_bars (a, b)")
    span = (0, controls.n_bars) if regenerate_bars is None else tuple(int(x) for x in regenerate_bars)
    if keep is not None:
        _check_keep(keep, controls, span)
    breath = phrasing.breath_mask(controls, cfg, span, breath_bars)
    steps_to_breath, in_breath = phrasing.breath_steps(breath, controls.steps_per_bar)
    controls, rule = phrasing.breathe(controls, arrange.rule_notes(controls, span), breath, steps_to_breath, in_breath)
    if not any(t in MODEL_TRACKS for t in controls.tracks):  # only rule parts asked for
        empty = np.array([[1] + [0] * (len(tokenizer.field_names) - 1)], dtype=np.int64)
        return _to_score(empty, full, tokenizer, keep=keep, bars=span, extra=rule,
                         one_voice=voices)
    rule_onsets = np.zeros(controls.n_bars * controls.steps_per_bar + 1, dtype=np.int64)
    for n in rule:
        if n.track != "drums" and 0 <= n.onset_16th < rule_onsets.shape[0]:
            rule_onsets[n.onset_16th] += 1
    if rule:  # the model writes what the rule parts leave of the density / strength targets
        dens, stren = arrange.remaining_targets(controls, rule)
        controls = dataclasses.replace(controls, density_per_bar=dens, strength_per_beat=stren)
    known = list(rule) + [n for n in (keep.notes if keep is not None else [])
                          if not span[0] * controls.steps_per_bar <= n.onset_16th < span[1] * controls.steps_per_bar]
    ctx = build_context(controls, full, cfg, tokenizer, span=span, breath=breath, steps_to_breath=steps_to_breath,
                        rule_onsets=rule_onsets, phrase_ends=phrase_ends, motif=motif, bass=known)
    st = DecodeState(voicing=Voicing(ctx.n_bars * ctx.spb), sampler=TokenSampler(model, tokenizer, cfg))
    for n in known:
        if n.track != "drums":
            st.voicing.add(n.onset_16th, n.pitch, n.duration_16th)
    prefix = _prefix(ctx, st, keep)
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    model.eval()
    try:
        with torch.inference_mode():
            _decode(ctx, st, model, prefix, cond_from_controls(controls, prefix), progress)
    finally:
        torch.set_num_threads(threads)
    progress(ctx.end_bar - ctx.start_bar, ctx.end_bar - ctx.start_bar)
    return _to_score(np.stack(st.rows), full, tokenizer, keep=keep, bars=(ctx.start_bar, ctx.end_bar), extra=rule,
                     one_voice=voices)


def _prefix(ctx: DecodeContext, st: DecodeState, keep: Score | None) -> np.ndarray:
    """The rows fed before the first sampled token: BOS, or ``keep``'s tokens before the section
    (the state then stands at the end of the bar before it)."""
    from videobgm.compose.token_codes import TYPE_BAR, TYPE_BOS

    prefix = np.zeros((1, len(ctx.tokenizer.field_names)), dtype=np.int64)
    prefix[0, 0] = TYPE_BOS
    if keep is not None:
        a = ctx.start_bar
        model_part = dataclasses.replace(keep, notes=[n for n in keep.notes if n.track in MODEL_TRACKS])
        toks, _ = ctx.tokenizer.encode(model_part, controls=ctx.controls)
        prefix = toks[: np.flatnonzero(toks[:, 0] == TYPE_BAR)[a]]  # BOS .. end of bar a-1
        st.bar, st.prev_type = a - 1, TYPE_BAR if a > 0 else TYPE_BOS
    st.rows = [r for r in prefix]
    return prefix


def _decode(ctx: DecodeContext, st: DecodeState, model: Any, prefix: np.ndarray, cond_prefix: np.ndarray,
            progress: ProgressFn) -> None:
    """The decoding loop: one backbone step per compound token, its fields picked under the masks;
    a bar that repeats an earlier one is fed whole (its tokens copied, not sampled)."""
    import torch

    from videobgm.compose.token_codes import TYPE_BAR, TYPE_EOS, TYPE_NOTE, TYPE_POS

    cfg, span = ctx.cfg, ctx.end_bar - ctx.start_bar
    cache = model.new_cache()
    x = torch.from_numpy(np.ascontiguousarray(prefix))[None]
    c = torch.from_numpy(np.ascontiguousarray(cond_prefix))[None]
    while not st.done:
        h = model.hidden(x, c, cache=cache)[0, -1]
        row = np.zeros(len(ctx.tokenizer.field_names), dtype=np.int64)
        tmask = bc.type_mask(ctx, st)
        tbias, silent = bc.type_bias(ctx, st, tmask.shape[0])
        t = st.sampler.pick(partial(model.field_logits, h, 0), 0, tmask, tbias)
        row[0] = t
        head = model.extend_context(h, 0, int(t))
        if (t == TYPE_BAR and st.bar + 1 >= ctx.end_bar) or t == TYPE_EOS:
            st.done = True  # the piece's end, or a regenerated section's: stop before the next bar
        elif t == TYPE_BAR:
            if cfg.constrained and cfg.ring_rests and st.bar >= ctx.start_bar:
                phrasing.ring_into_rest(ctx, st, st.bar + 1)
            enter_bar(st)
            st.motif = phrasing.motif_plan(ctx, st, st.bar)
            progress(st.bar - ctx.start_bar, span)
        elif t == TYPE_POS:
            _sample_pos(ctx, st, model, head, row, silent)
        elif t == TYPE_NOTE:
            _sample_note(ctx, st, model, head, row)
        st.rows.append(row)
        st.prev_type = t
        st.tokens_in_bar += 1
        if not st.done:
            x = torch.from_numpy(row)[None, None]
            c = torch.from_numpy(cond_for(ctx, st, t))[None, None]
            copied = repetition.repeat_rows(ctx, st, st.bar) if t == TYPE_BAR else None
            if copied is not None:  # repeat an earlier bar: feed its tokens as this bar's
                st.motif = {}  # (its melody is the motif's, fitted by refit)
                conds = [cond_for(ctx, st, t)] + repetition.replay(ctx, st, copied)
                x = torch.from_numpy(np.stack([row] + copied))[None]
                c = torch.from_numpy(np.stack(conds))[None]


def _sample_pos(ctx: DecodeContext, st: DecodeState, model: Any, head: Any, row: np.ndarray,
                silent: int | None) -> None:
    """Pick a POS token's step (its chord is the requested one, not sampled) into ``row``."""
    k = ctx.F["pos"]
    pm = bc.pos_mask(ctx, st)
    pv = st.sampler.pick(partial(model.field_logits, head, k), k, pm, bc.pos_bias(ctx, st, pm, silent))
    row[k] = pv
    enter_step(st, pv)
    row[ctx.F["chord"]] = ctx.chord_at(st.bar * ctx.spb + st.step)


def _sample_note(ctx: DecodeContext, st: DecodeState, model: Any, head: Any, row: np.ndarray) -> None:
    """Pick a NOTE token's track, pitch, duration and velocity into ``row`` (the cascade of heads)."""
    F, pick = ctx.F, st.sampler.pick
    g = st.bar * ctx.spb + st.step
    for name in ("pos", "chord"):  # zero fields still pass through the cascade
        head = model.extend_context(head, F[name], 0)
    chord_tones = chord_tone_mask(ctx.chord_at(g), ctx.tokenizer) if ctx.cfg.constrained else None
    k = F["track"]
    tm, bias = nc.track_mask(ctx, st, chord_tones)
    tv = pick(partial(model.field_logits, head, k), k, tm, bias)
    st.melody_in_bar += int(tv == ctx.melody_value)
    row[k] = tv
    head = model.extend_context(head, k, int(tv))
    k = F["pitch"]
    pm, bias, planned = nc.note_pitch(ctx, st, tv, chord_tones)
    pv = pick(partial(model.field_logits, head, k), k, pm, bias)
    row[k] = pv
    head = model.extend_context(head, k, int(pv))
    k = F["duration"]
    dm, cadence = nc.duration_mask(ctx, st, tv, planned)
    st.cadence_done = st.cadence_done or cadence
    dv = pick(partial(model.field_logits, head, k), k, dm, repetition.guide_bias(ctx, st, k, dm.shape[0]))
    row[k] = dv
    st.voicing.add(g, pv - 1, ctx.dur_steps[dv])
    head = model.extend_context(head, k, int(dv))
    k = F["velocity"]
    vm = nc.velocity_mask(ctx, st)
    row[k] = pick(partial(model.field_logits, head, k), k, vm, repetition.guide_bias(ctx, st, k, vm.shape[0]))
    count_note(st, tv, pv)
    if tv == ctx.melody_value:
        note_melody(st, pv - 1, chord_tones)


def _check_keep(keep: Score, controls: Controls, span: tuple[int, ...]) -> None:
    if len(span) != 2:
        raise OptionError(f"regenerate_bars must be two bar indices (a, b), got {span}")
    a, b = span
    if not 0 <= a < b <= controls.n_bars:
        raise OptionError(f"regenerate_bars must satisfy 0 <= a < b <= {controls.n_bars}, got ({a}, {b})")
    if keep.n_bars != controls.n_bars or keep.beats_per_bar != controls.beats_per_bar:
        raise OptionError(f"keep has {keep.n_bars} bars of {keep.beats_per_bar} beats; controls "
                          f"ask for {controls.n_bars} of {controls.beats_per_bar}")


def _to_score(tokens: np.ndarray, controls: Controls, tokenizer: Any, *, keep: Score | None,
              bars: tuple[int, int], extra: list[Note] | None = None, one_voice: dict[str, bool] | None = None) -> Score:
    """Decode generated tokens (+ rule notes ``extra``); for a section merge with the kept notes.

    ``one_voice`` (track -> single): in these tracks each new note ends by the track's next onset,
    and of a single track's notes struck together one stays (:func:`phrasing.one_voice`); kept
    notes are left as they were."""
    score = tokenizer.decode(
        tokens, beats_per_bar=controls.beats_per_bar, tempo_bpm=controls.tempo_bpm,
        key_tonic=controls.key_tonic, mode=controls.mode, chords=list(controls.chords),
    )
    score.n_bars = controls.n_bars
    score.notes = sorted(score.notes + list(extra or []),
                         key=lambda n: (n.onset_16th, TRACKS.index(n.track), n.pitch))
    if keep is None:
        for track, single in (one_voice or {}).items():
            score.notes = phrasing.one_voice(score.notes, track, single=single)
        return score
    spb = controls.steps_per_bar
    lo, hi = bars[0] * spb, bars[1] * spb
    new: list[Note] = []
    for n in score.notes:
        if lo <= n.onset_16th < hi:
            dur = n.duration_16th if bars[1] >= controls.n_bars else min(n.duration_16th, hi - n.onset_16th)
            new.append(Note(n.onset_16th, n.track, n.pitch, max(1, dur), n.velocity))
    kept = [n for n in keep.notes if not lo <= n.onset_16th < hi]
    notes = sorted(kept + new, key=lambda n: (n.onset_16th, TRACKS.index(n.track), n.pitch))
    for track, single in (one_voice or {}).items():
        fixed = frozenset(i for i, n in enumerate(notes) if not lo <= n.onset_16th < hi)  # the kept ones
        notes = phrasing.one_voice(notes, track, single=single, fixed=fixed)
    return Score(
        notes=notes, n_bars=keep.n_bars, beats_per_bar=keep.beats_per_bar, tempo_bpm=keep.tempo_bpm,
        key_tonic=keep.key_tonic, mode=keep.mode, chords=list(keep.chords),
        beat_times_s=keep.beat_times_s, programs=dict(keep.programs), name=keep.name,
    )
