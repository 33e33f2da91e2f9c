"""[5] Controls -> Score: seeded generation with a KV cache, grammar masks and control constraints.

One backbone forward per compound token (incremental, KV cache); then the cascaded heads pick the
token's fields one after another (type, pos, chord, track, pitch, duration, velocity), each under a
mask that keeps the sequence valid music and the controls honoured:

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
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from videobgm.compose.constraints import (
    TokenSampler,
    Voicing,
    bar_targets,
    chord_tone_mask,
)
from videobgm.config import SampleConfig
from videobgm.errors import OptionError
from videobgm.progress import ProgressFn, null_progress
from videobgm.types import STEPS_PER_BEAT, TRACKS, Controls, Note, Score

# tracks the model may be asked for (drums are never sampled by the model)
MODEL_TRACKS: tuple[str, ...] = ("melody", "bridge", "piano")  # what POP909 taught the model
ACCOMPANIMENT: tuple[str, ...] = ("bridge", "piano", "bass")
PITCH_RANGE: tuple[int, int] = (21, 108)  # MIDI pitches sampled (the piano's range)
@dataclass
class _State:
    bar: int = -1
    step: int = -1
    notes_in_bar: int = 0
    notes_at_step: int = 0
    tokens_in_bar: int = 0
    melody_in_bar: int = 0  # melody notes in the current bar so far
    last_track: int = 0  # field value of the last note's track at this step (0 = none)
    last_pitch: int = 0
    melody_pitch: int = -1  # MIDI pitch of the last melody note (-1: none yet)
    melody_nct: bool = False  # whether that note was not a tone of its chord
    cadence_done: bool = False  # a phrase-end bar has had its long last melody note
    prev_type: int = 1
    done: bool = False
    rows: list[np.ndarray] = field(default_factory=list)
    guide: dict[int, list[np.ndarray]] = field(default_factory=dict)  # step -> NOTE rows to imitate
    phrase_repeats: dict[int, bool] = field(default_factory=dict)  # phrase -> repeat its bars
    motif: dict[int, tuple[int, int]] = field(default_factory=dict)  # step -> (pitch, duration) values


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
             breath_bars: tuple[int, ...] | None = None, motif: dict[int, int] | None = None) -> Score:
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

    Returns
    -------
    Score
        ``n_bars`` bars on the 16th grid with ``controls``' chords, key and tempo (constant
        tempo; the caller sets ``beat_times_s``).
    """
    import torch

    from videobgm.music import motif as motif_mod
    cfg = cfg or SampleConfig()
    progress = progress or null_progress
    _validate(controls, model, tokenizer)
    from videobgm.compose import arrange
    full = controls
    bad = [t for t in controls.tracks if t not in MODEL_TRACKS + arrange.RULE_TRACKS]
    if bad or not controls.tracks:
        raise OptionError(f"unknown track(s) {bad or '(none)'} in controls.tracks; accepted: {', '.join(TRACKS)}")
    if (keep is None) != (regenerate_bars is None):
        raise OptionError("section regeneration needs both keep (a Score) and regenerate_bars (a, b)")
    span = (0, controls.n_bars) if regenerate_bars is None else tuple(int(x) for x in regenerate_bars)
    if keep is not None:
        _check_keep(keep, controls, span)
    rule = arrange.rule_notes(controls, span)
    spb_, bpb_ = controls.steps_per_bar, controls.beats_per_bar
    breath = np.zeros(controls.n_bars, dtype=bool)
    acc_ = np.asarray(controls.accent_steps, dtype=bool)
    for b in breath_bars or () if cfg.constrained else ():
        b = int(b)
        if span[0] <= b < span[1] and b not in controls.fill_bars and not acc_[(b + 1) * spb_ - STEPS_PER_BEAT:(b + 1) * spb_].any():
            breath[b] = True
    # steps from each step to the next breath: the last beat of a breath bar and the 16th before
    # it (notes are released a 16th early, so that no note's end touches the silent beat)
    starts = np.flatnonzero(breath) * spb_ + spb_ - STEPS_PER_BEAT - 1
    g_all = np.arange(controls.n_bars * spb_)
    nb = np.searchsorted(starts, g_all, side="left")
    steps_to_breath = np.where(nb < starts.shape[0], np.append(starts, 0)[nb] - g_all, 10**6)
    in_breath = np.zeros(g_all.shape[0], dtype=bool)
    for s0 in starts:
        in_breath[s0:s0 + STEPS_PER_BEAT + 1] = True
    if breath.any():
        stren = np.asarray(controls.strength_per_beat).copy()
        stren[[(b + 1) * bpb_ - 1 for b in np.flatnonzero(breath)]] = 0
        controls = dataclasses.replace(controls, strength_per_beat=stren)
        rule = [n if steps_to_breath[n.onset_16th] >= n.duration_16th else
                dataclasses.replace(n, duration_16th=int(steps_to_breath[n.onset_16th]))
                for n in rule if n.onset_16th >= g_all.shape[0] or not in_breath[n.onset_16th]]
    if not any(t in MODEL_TRACKS for t in controls.tracks):  # only rule parts asked for
        empty = np.array([[1] + [0] * (len(tokenizer.field_names) - 1)], dtype=np.int64)
        return _to_score(empty, full, tokenizer, keep=keep, bars=span, extra=rule)
    rule_onsets = np.zeros(controls.n_bars * controls.steps_per_bar + 1, dtype=np.int64)
    for n in rule:
        if n.track != "drums" and 0 <= n.onset_16th < rule_onsets.shape[0]:
            rule_onsets[n.onset_16th] += 1
    if rule:  # the model writes what the rule parts leave of the density / strength targets
        dens, stren = arrange.remaining_targets(controls, rule)
        controls = dataclasses.replace(controls, density_per_bar=dens, strength_per_beat=stren)
    from videobgm.compose.tokens import (
        TYPE_BAR,
        TYPE_BOS,
        TYPE_EOS,
        TYPE_NOTE,
        TYPE_POS,
        cond_tables,
    )

    F = tokenizer.F
    nf = len(tokenizer.field_names)
    tables = cond_tables(controls)
    bars = bar_targets(controls, cfg)
    spb, n_bars = controls.steps_per_bar, controls.n_bars
    tracks = [t for t in controls.tracks if t in MODEL_TRACKS]
    track_ok = np.zeros(tokenizer.field_sizes[F["track"]], dtype=bool)
    for t in tracks:
        track_ok[1 + TRACKS.index(t)] = True
    acc_track_values = {1 + TRACKS.index(t) for t in ACCOMPANIMENT}
    melody_value = 1 + TRACKS.index("melody")
    melody_bars = None  # bars where the melody must play / must not (constrained decoding only)
    ends = np.zeros(controls.n_bars, dtype=bool)
    if cfg.constrained and phrase_ends:
        ends[[int(b) for b in phrase_ends if 0 <= int(b) < controls.n_bars]] = True
    if cfg.constrained and controls.melody_bars is not None and track_ok[melody_value]:
        melody_bars = np.asarray(controls.melody_bars, dtype=bool)
        if melody_bars.shape != (controls.n_bars,):
            raise OptionError(f"controls.melody_bars must have one value per bar ({controls.n_bars}), "
                              f"got shape {melody_bars.shape}")
    from videobgm.compose.tokens import chord_of_index, duration_of_bin

    dur_steps = np.array([0] + [duration_of_bin(i) for i in range(1, tokenizer.field_sizes[F["duration"]])])
    # steps from each step to the next chord change (or the end of the piece)
    chg = np.flatnonzero(np.diff(tables.chord) != 0) + 1
    nxt = np.searchsorted(chg, np.arange(tables.chord.shape[0]), side="right")
    bounds = np.append(chg, tables.chord.shape[0])
    steps_to_change = bounds[nxt] - np.arange(tables.chord.shape[0])
    pitch_ok = np.zeros(tokenizer.field_sizes[F["pitch"]], dtype=bool)
    pitch_ok[1 + PITCH_RANGE[0]:1 + PITCH_RANGE[1] + 1] = True
    sampler = TokenSampler(model, tokenizer, cfg)
    st = _State()
    voicing = Voicing(n_bars * spb)  # what sounds where: rule parts, kept notes, sampled notes
    for n in list(rule) + [n for n in (keep.notes if keep is not None else [])
                           if not span[0] * spb <= n.onset_16th < span[1] * spb]:
        if n.track != "drums":
            voicing.add(n.onset_16th, n.pitch, n.duration_16th)

    start_bar, end_bar = 0, n_bars
    prefix = np.zeros((1, nf), dtype=np.int64)
    prefix[0, 0] = TYPE_BOS
    if keep is not None:
        a, b = span
        model_part = dataclasses.replace(keep, notes=[n for n in keep.notes if n.track in MODEL_TRACKS])
        toks, _ = tokenizer.encode(model_part, controls=controls)
        bar_rows = np.flatnonzero(toks[:, 0] == TYPE_BAR)
        prefix = toks[: bar_rows[a]]  # BOS .. end of bar a-1
        start_bar, end_bar = a, b
        st.bar, st.prev_type = a - 1, TYPE_BAR if a > 0 else TYPE_BOS
    cond_prefix = tokenizer.cond_from_controls(controls, prefix)
    st.rows = [r for r in prefix]

    def cond_for(t: int) -> np.ndarray:
        return tokenizer.cond_row(tables, t, max(st.bar, 0), max(st.step, 0))

    def beat_target(step: int) -> int:
        return int(bars[st.bar].strength[step // STEPS_PER_BEAT]) if step % STEPS_PER_BEAT == 0 else -1

    def step_min(step: int) -> int:
        """Notes the step must carry once it has a POS."""
        s = beat_target(step)
        return max(1, s) if s > 0 else 1

    def step_max(step: int) -> int:
        s = beat_target(step)
        if s < 0:  # not a beat onset (or strength unconstrained): the off-beat chord cap,
            cap = int(cfg.max_offbeat_onsets)  # rule notes (bass at a chord change) included
            return max(1, cap - int(rule_onsets[st.bar * spb + step])) if cap > 0 and cfg.constrained else 10**6
        return max(s, 1) + max(0, int(cfg.strength_slack))  # s == 0 only when an accent forces it

    def reserve_after(step: int) -> int:
        """Onsets still owed to forced steps after ``step`` in the current bar."""
        fs = np.flatnonzero(bars[st.bar].forced[step + 1:]) + step + 1
        return int(sum(step_min(int(s)) for s in fs))

    def pos_candidates(free: int) -> np.ndarray:
        """Steps the next POS may take (``free`` = onsets left beyond what forced steps need)."""
        bt = bars[st.bar]
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
        if breath[st.bar]:  # the texture breathes on the bar's last beat
            ok[spb - STEPS_PER_BEAT - 1:] = False
        for s in range(st.step + 1, spb):  # beats with target strength 0 stay empty (unless accent)
            if s % STEPS_PER_BEAT == 0 and bt.strength[s // STEPS_PER_BEAT] == 0 and not bt.accent[s] \
                    and s not in st.motif:
                ok[s] = False
        return ok

    def type_mask() -> np.ndarray:
        m = np.zeros(tokenizer.field_sizes[0], dtype=bool)
        pt = st.prev_type
        if pt == TYPE_BOS or (pt == TYPE_BAR and st.bar < start_bar):
            m[TYPE_BAR] = True
            return m
        bt = bars[st.bar]
        in_step = pt in (TYPE_POS, TYPE_NOTE)
        step_full = in_step and st.notes_at_step >= step_min(st.step)
        more_forced = bool(bt.forced[st.step + 1:].any())
        free = bt.hi - st.notes_in_bar - reserve_after(st.step)
        if pt == TYPE_POS or (in_step and st.notes_at_step < step_max(st.step)
                              and (not step_full or free > 0)):
            m[TYPE_NOTE] = True
        if (pt == TYPE_BAR or step_full) and pos_candidates(free).any():
            m[TYPE_POS] = True
        closable = (pt == TYPE_BAR or step_full) and not more_forced and st.notes_in_bar >= bt.lo
        if st.tokens_in_bar >= cfg.max_tokens_per_bar:  # safety valve
            closable, m[TYPE_NOTE], m[TYPE_POS] = True, False, False
        if closable:
            m[TYPE_BAR if st.bar + 1 < end_bar else TYPE_EOS] = True
        if not m.any():  # constraints conflict: relax in a fixed order
            if in_step and st.notes_at_step < step_max(st.step):
                m[TYPE_NOTE] = True
            elif st.step < spb - 1:
                m[TYPE_POS] = True
            else:
                m[TYPE_BAR if st.bar + 1 < end_bar else TYPE_EOS] = True
        return m

    def pitch_mask(track_value: int, chord_tones: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Allowed pitch field values (and chord-tone bias) for a note on this track."""
        pm = pitch_ok.copy()
        if track_value == st.last_track:
            pm[: st.last_pitch + 1] = False
        if chord_tones is None:
            return pm, None
        if track_value not in acc_track_values:
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

    scale_pcs = np.zeros(12, dtype=bool)
    scale_pcs[[(controls.key_tonic + i) % 12 for i in ((0, 2, 4, 5, 7, 9, 11) if controls.mode == "major"
                                                       else (0, 2, 3, 5, 7, 8, 10))]] = True
    in_scale = scale_pcs[np.arange(128) % 12]

    def melody_line_bias(chord_tones: np.ndarray, size: int) -> np.ndarray | None:
        """Melody-level help (the model alone moves by step too rarely): a logit bonus
        ``melody_step_bias`` for scale notes 1-2 semitones from the previous melody note; after a
        non-chord tone, ``melody_resolve_bias`` more for chord tones a step away (it resolves)."""
        if st.melody_pitch < 0 or not (cfg.melody_step_bias or cfg.melody_resolve_bias):
            return None
        d = np.abs(np.arange(128) - st.melody_pitch)
        step = (d >= 1) & (d <= 2)
        bias = np.zeros(size)
        bias[1:129][step & in_scale] += float(cfg.melody_step_bias)
        if st.melody_nct:
            bias[1:129][step & chord_tones] += float(cfg.melody_resolve_bias)
        return bias

    def rows_of_bar(j: int) -> list[np.ndarray]:
        """POS/NOTE rows of bar ``j`` in the sequence so far."""
        bar_idx = [i for i, r in enumerate(st.rows) if r[0] == TYPE_BAR]
        if j >= len(bar_idx):
            return []
        end = bar_idx[j + 1] if j + 1 < len(bar_idx) else len(st.rows)
        return [r for r in st.rows[bar_idx[j] + 1:end] if r[0] in (TYPE_POS, TYPE_NOTE)]

    def bar_fits(i: int, rows: list[np.ndarray]) -> bool:
        """Whether ``rows`` (an earlier bar) obey bar ``i``'s targets."""
        bt = bars[i]
        per_step: dict[int, int] = {}
        step = -1
        for r in rows:
            if r[0] == TYPE_POS:
                step = int(r[F["pos"]]) - 1
                per_step[step] = 0
            elif not track_ok[int(r[F["track"]])] or step < 0:
                return False
            else:
                per_step[step] += 1
        n = sum(per_step.values())
        if not bt.lo <= n <= bt.hi or any(v == 0 for v in per_step.values()):
            return False
        if breath[i] and step >= spb - STEPS_PER_BEAT - 1:
            return False
        for s in np.flatnonzero(bt.forced):
            if int(s) not in per_step:
                return False
        for b, target in enumerate(bt.strength):
            got = per_step.get(b * STEPS_PER_BEAT, 0)
            if target > 0 and not target <= got <= target + max(0, int(cfg.strength_slack)):
                return False
            if target == 0 and got and not bt.accent[b * STEPS_PER_BEAT]:
                return False
        return True

    beat_chords = tables.chord[::STEPS_PER_BEAT]
    beat_roots = np.array([chord_of_index(int(v))[0] for v in beat_chords])
    bpb = spb // STEPS_PER_BEAT

    def chords_similar(i: int, j: int) -> bool:
        """Whether bars ``i`` and ``j`` have the same (or, with ``repeat_similar``, nearly the same)
        chords: equal roots on all beats but at most one, or equal chords shifted by one beat."""
        c, p = beat_chords[i * bpb:(i + 1) * bpb], beat_chords[j * bpb:(j + 1) * bpb]
        if np.array_equal(c, p):
            return True
        if not cfg.repeat_similar or bpb < 3:
            return False
        rc, rp = beat_roots[i * bpb:(i + 1) * bpb], beat_roots[j * bpb:(j + 1) * bpb]
        if int((rc == rp).sum()) >= bpb - 1:
            return True
        return bool(np.array_equal(c[1:], p[:-1]) or np.array_equal(c[:-1], p[1:]))

    def refit(i: int, j: int, rows: list[np.ndarray]) -> list[np.ndarray] | None:
        """Bar ``j``'s rows re-fitted to bar ``i``'s chords: where the chord differs, notes that are
        not tones of bar ``i``'s chord move to the nearest chord tone (order within a step kept),
        accompaniment ends by bar ``i``'s next chord change. None when a note cannot be placed."""
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
            tones = chord_tone_mask(int(tables.chord[g]), tokenizer)
            if tones is not None and (tables.chord[g] != tables.chord[gj] or pv < floor):
                ok = pitch_ok.copy()
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
            if tv in acc_track_values and cfg.release_at_chord_change:
                left = int(steps_to_change[g])
                if dur_steps[int(r[kd])] > left:
                    fits = np.flatnonzero((dur_steps <= left) & (dur_steps > 0))
                    r[kd] = int(fits[np.argmax(dur_steps[fits])]) if fits.size else int(r[kd])
            if dur_steps[int(r[kd])] > steps_to_breath[g]:
                fits = np.flatnonzero((dur_steps <= steps_to_breath[g]) & (dur_steps > 0))
                r[kd] = int(fits[np.argmax(dur_steps[fits])]) if fits.size else int(r[kd])
            last_track, last_pitch = tv, pv
            out.append(r)
        return out

    def repeat_rows(i: int) -> list[np.ndarray] | None:
        """Rows of an earlier bar to repeat as bar ``i`` (similar chords), re-fitted to bar ``i``'s
        chords and accents. When they also fit bar ``i``'s density/strength targets they are fed as
        they are; otherwise (``repeat_guided``) they become ``st.guide``, which the sampler imitates
        through logit bonuses while every control mask still applies. None = no exact copy."""
        st.guide = {}
        if not cfg.constrained or cfg.repeat_prob <= 0 or i < start_bar:
            return None
        for p in cfg.repeat_periods:
            j = i - int(p)
            if j < 0 or not chords_similar(i, j) or (i in motif_map and j != motif_map[i]):
                continue
            rows = rows_of_bar(j)
            if not rows:
                continue
            if melody_bars is not None and bool(melody_bars[i]) != any(
                    r[0] == TYPE_NOTE and int(r[F["track"]]) == melody_value for r in rows):
                continue  # the melody plays in one bar and not the other: not a repeat
            exact = bar_fits(i, rows)
            if not (exact or cfg.repeat_guided):
                continue
            rows = refit(i, j, rows)
            if rows is None:
                continue
            ph = i // max(1, int(cfg.repeat_phrase_bars))  # one draw per phrase: repeats run on
            if ph not in st.phrase_repeats:
                st.phrase_repeats[ph] = bool(sampler.rng.random() < cfg.repeat_prob)
            if not st.phrase_repeats[ph]:
                return None
            out, step = [], -1
            low = min(int(cfg.accent_velocity_bin), tokenizer.field_sizes[F["velocity"]] - 1)
            for r in rows:  # this bar's chords (by step) and accents (velocity) are kept
                if r[0] == TYPE_POS:
                    step = int(r[F["pos"]]) - 1
                    r[F["chord"]] = int(tables.chord[i * spb + step])
                elif bars[i].accent[step]:
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

    def ring_into_rest(nxt: int) -> None:
        """Bar ``nxt`` (and those after it) has no onsets planned (density target 0): hold the
        notes of the last onset of the bar just closed through them while they would be silent,
        up to the next bar with onsets, the next change to another chord (a stretch without a
        chord rings on) or the longest token duration."""
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
        s = st.bar * spb + int(st.rows[last][F["pos"]]) - 1
        end, limit = s + 1, min(j * spb, s + int(dur_steps.max()), s + int(steps_to_breath[s]))
        while end < limit and tables.chord[end] in (tables.chord[s], 1):  # 1 = no chord: ring on
            end += 1
        if voicing.first_silent_beat(nxt * spb, end) is None:
            return
        kd = F["duration"]
        fits = np.flatnonzero((dur_steps > 0) & (dur_steps <= end - s))
        best = int(fits[np.argmax(dur_steps[fits])])
        for r in st.rows[last + 1:]:
            if r[0] == TYPE_NOTE and dur_steps[best] > dur_steps[int(r[kd])]:
                r[kd] = best
                voicing.add(s, int(r[F["pitch"]]) - 1, int(dur_steps[best]))

    gb = float(cfg.repeat_guide_bias)

    def note_melody(pitch: int, chord_tones: np.ndarray | None) -> None:
        st.melody_pitch = int(pitch)
        st.melody_nct = chord_tones is not None and not bool(chord_tones[int(pitch)])

    def guide_row() -> np.ndarray | None:
        """The guide's NOTE row for the next note at the current step (None = no guide there)."""
        g = st.guide.get(st.step)
        return g[st.notes_at_step] if g is not None and st.notes_at_step < len(g) else None

    def guide_bias(k: int, size: int, value: int | None = None) -> np.ndarray | None:
        """Logit bonus ``repeat_guide_bias`` for the guide's value of field ``k`` (or ``value``)."""
        if not st.guide:
            return None
        if value is None:
            r = guide_row()
            if r is None:
                return None
            value = int(r[k])
        b = np.zeros(size)
        b[value] = gb
        return b

    motif_map = {int(t): int(j) for t, j in (motif or {}).items() if int(j) < int(t)}

    def motif_plan(i: int) -> dict[int, tuple[int, int]]:
        """Bar ``i``'s planned melody (step -> (pitch value, duration value)): its statement
        bar's melody fitted to bar ``i``'s chords; its steps become forced steps of bar ``i``."""
        if i not in motif_map or not cfg.constrained or not track_ok[melody_value] or i < start_bar \
                or (melody_bars is not None and not melody_bars[i]):
            return {}
        j, step, notes = motif_map[i], -1, {}
        for r in rows_of_bar(j):
            if r[0] == TYPE_POS:
                step = int(r[F["pos"]]) - 1
            elif int(r[F["track"]]) == melody_value and not (breath[i] and step >= spb - STEPS_PER_BEAT - 1):
                notes[step] = (step, int(r[F["pitch"]]) - 1, int(r[F["duration"]]))  # the top note
        if not notes:
            return {}
        ordered = [notes[s_] for s_ in sorted(notes)]
        fitted = motif_mod.adapt(
            ordered, [chord_tone_mask(int(tables.chord[i * spb + s_]), tokenizer) for s_, _, _ in ordered],
            in_scale, [bool(tables.chord[i * spb + s_] == tables.chord[j * spb + s_]) for s_, _, _ in ordered])
        motif_mod.force_steps(bars[i], [s_ for s_, _, _ in fitted])
        return {s_: (p_ + 1, d_) for s_, p_, d_ in fitted}

    model.eval()
    steps_done = 0
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    try:
        with torch.inference_mode():
            cache = model.new_cache()
            x = torch.from_numpy(np.ascontiguousarray(prefix))[None]
            c = torch.from_numpy(np.ascontiguousarray(cond_prefix))[None]
            while not st.done:
                h = model.hidden(x, c, cache=cache)[0, -1]
                row = np.zeros(nf, dtype=np.int64)
                tmask = type_mask()
                tbias, silent = None, None
                if st.bar >= start_bar:  # steer the bar's length toward its density target
                    tbias = np.zeros(tmask.shape[0])
                    reached = st.notes_in_bar >= bars[st.bar].target
                    tbias[[TYPE_BAR, TYPE_EOS]] = float(cfg.close_bias) * (1 if reached else -1)
                    if cfg.constrained and cfg.gap_bias:  # first beat left silent so far (if any)
                        silent = voicing.first_silent_beat(st.bar * spb + st.step + 1, (st.bar + 1) * spb)
                    if silent is not None:
                        tbias[[TYPE_BAR, TYPE_EOS]] -= float(cfg.gap_bias)  # would leave a beat silent
                    if st.guide:  # imitate the guide bar: its notes at this step, then its next step
                        if st.prev_type in (TYPE_POS, TYPE_NOTE):
                            tbias[TYPE_NOTE] += gb if guide_row() is not None else -gb
                        if any(s_ > st.step for s_ in st.guide):
                            tbias[TYPE_POS] += gb
                t = sampler.pick(partial(model.field_logits, h, 0), 0, tmask, tbias)
                row[0] = t
                ctx = model.extend_context(h, 0, int(t))
                if t == TYPE_BAR and st.bar + 1 >= end_bar:
                    st.done = True  # end of a regenerated section: stop before the next bar
                elif t == TYPE_EOS:
                    st.done = True
                elif t == TYPE_BAR:
                    if cfg.constrained and cfg.ring_rests and st.bar >= start_bar:
                        ring_into_rest(st.bar + 1)
                    st.bar += 1
                    st.step, st.notes_in_bar, st.notes_at_step, st.tokens_in_bar = -1, 0, 0, 0
                    st.melody_in_bar, st.cadence_done = 0, False
                    st.motif = motif_plan(st.bar)
                    progress(st.bar - start_bar, end_bar - start_bar)
                elif t == TYPE_POS:
                    k = F["pos"]
                    pm = np.zeros(tokenizer.field_sizes[k], dtype=bool)
                    pm[1:spb + 1] = pos_candidates(bars[st.bar].hi - st.notes_in_bar - reserve_after(st.step))
                    if not pm.any():
                        pm[st.step + 2:spb + 1] = True
                    later = [s_ for s_ in sorted(st.guide) if s_ > st.step and pm[s_ + 1]]
                    pbias = guide_bias(k, pm.shape[0], later[0] + 1) if later else None
                    if silent is not None:  # onsets after a silent beat would leave it silent
                        gap = np.zeros(pm.shape[0])
                        gap[1 + silent - st.bar * spb + STEPS_PER_BEAT:] = -float(cfg.gap_bias)
                        pbias = gap if pbias is None else pbias + gap
                    pv = sampler.pick(partial(model.field_logits, ctx, k), k, pm, pbias)
                    row[k] = pv
                    st.step, st.notes_at_step, st.last_track, st.last_pitch = pv - 1, 0, 0, 0
                    row[F["chord"]] = int(tables.chord[st.bar * spb + st.step])
                elif t == TYPE_NOTE:
                    g = st.bar * spb + st.step
                    for name in ("pos", "chord"):  # zero fields still pass through the cascade
                        ctx = model.extend_context(ctx, F[name], 0)
                    chord_tones = (chord_tone_mask(int(tables.chord[g]), tokenizer)
                                   if cfg.constrained else None)

                    k = F["track"]
                    tm = track_ok.copy()
                    tm[: st.last_track] = False
                    for tv in np.flatnonzero(tm):
                        tm[tv] = pitch_mask(int(tv), chord_tones)[0].any()
                    if not tm.any():
                        tm = track_ok.copy()
                    mbias = None
                    if melody_bars is not None and not melody_bars[st.bar]:
                        if tm.sum() > 1 or not tm[melody_value]:
                            tm[melody_value] = False  # a bar without melody
                        else:  # only the melody could take this note: any other track may
                            tm = track_ok.copy()
                            tm[melody_value] = False
                    elif st.cadence_done and tm[melody_value] and tm.sum() > 1:
                        tm[melody_value] = False  # the phrase has ended: the melody breathes
                    elif melody_bars is not None and tm[melody_value] and (st.melody_in_bar == 0 or (
                            full.arranged and st.notes_at_step == 0 and st.melody_in_bar
                            < cfg.melody_lead_share * bars[st.bar].target * (st.step + 1) / spb)):
                        mbias = np.zeros(tm.shape[0])  # the melody should enter this bar / lead
                        mbias[melody_value] = float(cfg.melody_presence_bias)
                    if st.motif:  # a restating bar: the melody plays its planned onsets only
                        if st.step in st.motif and st.notes_at_step == 0 and track_ok[melody_value]:
                            tm, mbias = np.zeros_like(tm), None
                            tm[melody_value] = True
                        elif tm[melody_value] and tm.sum() > 1:
                            tm[melody_value] = False
                    gbias = guide_bias(k, tm.shape[0])
                    tbias_ = gbias if mbias is None else mbias if gbias is None else gbias + mbias
                    tv = sampler.pick(partial(model.field_logits, ctx, k), k, tm, tbias_)
                    st.melody_in_bar += int(tv == melody_value)
                    row[k] = tv
                    ctx = model.extend_context(ctx, k, int(tv))
                    k = F["pitch"]
                    pm, bias = pitch_mask(tv, chord_tones)
                    if not pm.any():
                        pm[1:] = True
                    planned = st.motif.get(st.step) if tv == melody_value and st.notes_at_step == 0 else None
                    if planned is not None:  # the motif's pitch
                        pm = np.zeros_like(pm)
                        pm[planned[0]] = True
                    gr = guide_row()
                    if gr is not None and int(gr[F["track"]]) == tv:  # imitating a repeated bar
                        gbias = guide_bias(k, pm.shape[0])
                        bias = gbias if bias is None else bias + gbias
                    else:  # free choice: prefer chord tones this beat still lacks
                        vb = voicing.missing_bias(g, chord_tones, cfg.voicing_bias if tv in acc_track_values
                                                  else cfg.melody_voicing_bias, pm.shape[0])
                        if tv == melody_value and chord_tones is not None:
                            mb = melody_line_bias(chord_tones, pm.shape[0])
                            vb = mb if vb is None else vb if mb is None else vb + mb
                        bias = vb if bias is None else bias if vb is None else bias + vb
                    pv = sampler.pick(partial(model.field_logits, ctx, k), k, pm, bias)
                    row[k] = pv
                    ctx = model.extend_context(ctx, k, int(pv))
                    k = F["duration"]
                    dm = np.ones(tokenizer.field_sizes[k], dtype=bool)
                    dm[0] = False
                    if cfg.constrained and tv in acc_track_values and cfg.release_at_chord_change:
                        # accompaniment ends by the next chord change (keeps the harmony clean)
                        left = int(steps_to_change[g])
                        fits = dm & (dur_steps <= left)
                        dm = fits if fits.any() else (dm & (dur_steps == dur_steps[1:].min()))
                    if steps_to_breath[g] < dur_steps.max():  # released by the next breath
                        fits = dm & (dur_steps <= steps_to_breath[g])
                        dm = fits if fits.any() else dm
                    dbias = guide_bias(k, dm.shape[0])
                    if planned is not None and dm[planned[1]]:  # the motif's duration
                        dm = np.zeros_like(dm)
                        dm[planned[1]] = True
                    elif tv == melody_value and ends[st.bar] and st.step >= spb // 2 and not st.cadence_done:
                        # the phrase's last note: long (a quarter or more where the bar allows),
                        # ending by the bar line
                        left = spb - st.step
                        fits = dm & (dur_steps <= left)
                        dm = fits if fits.any() else dm
                        long_ = dm & (dur_steps >= min(STEPS_PER_BEAT, left))
                        if long_.any():
                            dm = long_
                        st.cadence_done = True
                    dv = sampler.pick(partial(model.field_logits, ctx, k), k, dm, dbias)
                    row[k] = dv
                    voicing.add(g, pv - 1, dur_steps[dv])
                    ctx = model.extend_context(ctx, k, int(dv))
                    k = F["velocity"]
                    vm = np.ones(tokenizer.field_sizes[k], dtype=bool)
                    vm[0] = False
                    if bars[st.bar].accent[st.step]:
                        vm[: min(int(cfg.accent_velocity_bin), vm.shape[0] - 1)] = False
                    row[k] = sampler.pick(partial(model.field_logits, ctx, k), k, vm, guide_bias(k, vm.shape[0]))
                    st.last_track, st.last_pitch = tv, pv
                    if tv == melody_value:
                        note_melody(pv - 1, chord_tones)
                    st.notes_in_bar += 1
                    st.notes_at_step += 1
                st.rows.append(row)
                st.prev_type = t
                st.tokens_in_bar += 1
                steps_done += 1
                if not st.done:
                    x = torch.from_numpy(row)[None, None]
                    c = torch.from_numpy(cond_for(t))[None, None]
                    copied = repeat_rows(st.bar) if t == TYPE_BAR else None
                    if copied is not None:  # repeat an earlier bar: feed its tokens as this bar's
                        st.motif = {}  # (its melody is the motif's, fitted by refit)
                        rows = [row] + copied
                        conds = [cond_for(t)]
                        for r in copied:
                            if r[0] == TYPE_POS:
                                st.step, st.notes_at_step, st.last_track, st.last_pitch = int(r[F["pos"]]) - 1, 0, 0, 0
                            else:
                                st.notes_in_bar += 1
                                st.notes_at_step += 1
                                st.last_track, st.last_pitch = int(r[F["track"]]), int(r[F["pitch"]])
                                st.melody_in_bar += int(st.last_track == melody_value)
                                if st.last_track == melody_value and cfg.constrained:
                                    note_melody(st.last_pitch - 1, chord_tone_mask(
                                        int(tables.chord[st.bar * spb + st.step]), tokenizer))
                                voicing.add(st.bar * spb + st.step, st.last_pitch - 1,
                                            dur_steps[int(r[F["duration"]])])
                            conds.append(cond_for(int(r[0])))
                            st.rows.append(r.copy())
                        st.prev_type = int(copied[-1][0])
                        st.tokens_in_bar += len(copied)
                        x = torch.from_numpy(np.stack(rows))[None]
                        c = torch.from_numpy(np.stack(conds))[None]
    finally:
        torch.set_num_threads(threads)
    progress(end_bar - start_bar, end_bar - start_bar)
    tokens = np.stack(st.rows)
    return _to_score(tokens, full, tokenizer, keep=keep, bars=(start_bar, end_bar), extra=rule)


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
              bars: tuple[int, int], extra: list[Note] | None = None) -> Score:
    """Decode generated tokens (+ rule notes ``extra``); for a section merge with the kept notes."""
    score = tokenizer.decode(
        tokens, beats_per_bar=controls.beats_per_bar, tempo_bpm=controls.tempo_bpm,
        key_tonic=controls.key_tonic, mode=controls.mode, chords=list(controls.chords),
    )
    score.n_bars = controls.n_bars
    score.notes = sorted(score.notes + list(extra or []),
                         key=lambda n: (n.onset_16th, TRACKS.index(n.track), n.pitch))
    if keep is None:
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
    return Score(
        notes=notes, n_bars=keep.n_bars, beats_per_bar=keep.beats_per_bar, tempo_bpm=keep.tempo_bpm,
        key_tonic=keep.key_tonic, mode=keep.mode, chords=list(keep.chords),
        beat_times_s=keep.beat_times_s, programs=dict(keep.programs), name=keep.name,
    )
