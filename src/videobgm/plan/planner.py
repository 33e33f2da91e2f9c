"""[3] Video features (+ description, references, user options) -> musical :class:`Plan`.

The mapping follows CMT (Di et al. 2021: motion speed -> note density, motion saliency -> note
strength, visual beats -> accents) and V-MusProd (Zhuo et al. 2022: colour -> key/mood), made
explicit and rule-based so that every choice is recorded with its reason in ``Plan.reasons``:

* **tempo** -- the video's dominant visual tempo folded by factors of 2 into
  ``lexicon.VIDEO_TEMPO_RANGE_BPM`` by the description (or the user's / an edited tempo);
* **bar grid** -- starts at 0 s and ends exactly with the video. Scene cuts are *anchored*: each
  stretch between two kept cuts gets an integer number of bars and its own (slightly adjusted)
  tempo, as film composers do with a tempo map so that hits land on bar lines. A cut that would
  need more than ``max_tempo_warp`` of tempo change is not anchored; its section boundary is then
  snapped to the nearest bar line. The global tempo is chosen by a small search near the base
  tempo that trades tempo change, cut fit and how close strong visual beats fall to 16th steps;
* **density** per bar -- mean motion speed over the bar, ranked (quantile) and mapped onto the
  onsets-per-bar distribution of POP909 (:data:`DENSITY_TABLE`), times ``density_scale``;
* **strength** per beat -- motion saliency around the beat (plus a small metrical prior), mapped
  onto POP909's notes-per-beat-onset distribution (:data:`STRENGTH_TABLE`);
* **accents** -- every strong visual beat (strength >= the ``accent_quantile`` quantile) marks
  the nearest 16th step;
* **mood, style, key, mode, tempo, instruments, section energy** -- the description's only
  (:func:`videobgm.bridges.resolve.resolve_description`: the video's description with an edited
  description / free text and the user's options laid over it; issue 16). The video gives
  only timing (beats, cuts, per-bar density and per-beat strength). The final tempo and
  instruments are written back into ``Plan.description``: it is what plays;
* **chords** -- one diatonic progression per section label (seeded), the last bar resolves to
  the tonic.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np

from videobgm.config import PlanConfig
from videobgm.errors import InputError, OptionError
from videobgm.music import lexicon
from videobgm.music.analysis import rank_quantiles
from videobgm.music.theory import chord_name, parse_key
from videobgm.plan import form
from videobgm.plan.controls import (
    MOODS,
    STYLES,
    check_choice,
    check_instruments,
    choose_instruments,
    choose_key,
    choose_mood,
)
from videobgm.plan.grid import (
    bend_to_hits,
    form_grid,
    grid_beats,
    nearest_index,
)
from videobgm.plan.harmony import make_chords
from videobgm.schema import read_description
from videobgm.types import (
    MODES,
    PITCH_CLASS_NAMES,
    STEPS_PER_BEAT,
    Chord,
    Controls,
    Description,
    Features,
    Plan,
    Reference,
    Section,
    step_times_from_beats,
)

# ----------------------------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------------------------
# Quantiles of POP909, measured on every 3rd song (303 songs, 24 812 non-empty bars) with the
# annotated downbeats of beat_midi.txt: density = note onsets per bar, MELODY+BRIDGE+PIANO
# (empty bars skipped); strength = notes with an onset within +-1/2 of a 16th of each annotated
# beat. (Script: count onsets between consecutive downbeats; np.quantile at these levels.)
QUANTILE_LEVELS = np.array([0.02, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.98])
DENSITY_TABLE = np.array([6, 11, 14, 16, 18, 20, 22, 24, 26, 30, 39], dtype=float)
STRENGTH_TABLE = np.array([0, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6], dtype=float)
# POP909's onsets per bar fall with the tempo: a log-log fit over its 95 val + test songs (first 24
# bars, MELODY+BRIDGE+PIANO) has slope -0.64 around a geometric-mean tempo of 80 bpm (< 75 bpm:
# 21.7 onsets a bar; >= 110 bpm: 13.9). The table above pools all tempi, so at 120 bpm it asked for
# ~30 % more notes a second than POP909's songs at that tempo play (avg IOI -22 %).
DENSITY_TEMPO_REF_BPM = 80.0
DENSITY_TEMPO_EXPONENT = -0.64
DENSITY_TEMPO_LIMITS = (0.6, 1.4)

_check_tempo = lexicon.check_tempo  # the one tempo check (lexicon.TEMPO_LIMITS_BPM)


# ----------------------------------------------------------------------------------------------
# option parsing
# ----------------------------------------------------------------------------------------------


def validate_config(cfg: PlanConfig) -> None:
    """Raise :class:`OptionError` (one line, naming the accepted values) for any invalid option."""
    if cfg.tempo_bpm is not None:
        _check_tempo(cfg.tempo_bpm, "tempo")
    if cfg.beats_per_bar not in (2, 3, 4, 5, 6, 7):
        raise OptionError(f"beats per bar must be 2..7, got {cfg.beats_per_bar}")
    if cfg.key is not None:
        parse_key(cfg.key)
    if cfg.mode is not None:
        check_choice(cfg.mode, MODES, "mode")
    if cfg.mood is not None:
        check_choice(cfg.mood, MOODS, "mood")
    if cfg.style is not None:
        check_choice(cfg.style, STYLES, "style")
    if cfg.instruments is not None:
        check_instruments(cfg.instruments)
    for name in ("density_scale", "strength_scale"):
        lexicon.check_scale(getattr(cfg, name), name.replace("_", " "))
    if cfg.min_section_bars < 1:
        raise OptionError(f"min section bars must be >= 1, got {cfg.min_section_bars}")
    if cfg.melody_intro_bars is not None and cfg.melody_intro_bars < 0:
        raise OptionError(f"melody intro bars must be >= 0, got {cfg.melody_intro_bars}")
    if not 0 <= cfg.accent_quantile <= 1:
        raise OptionError(f"accent quantile must be in [0, 1], got {cfg.accent_quantile}")
    if not 0 <= cfg.beat_warp <= 0.5:
        raise OptionError(f"beat warp must be in [0, 0.5], got {cfg.beat_warp}")
    if not 0 <= cfg.max_tempo_warp <= 0.5:
        raise OptionError(f"max tempo warp must be in [0, 0.5], got {cfg.max_tempo_warp}")
    if cfg.phrase_bars < 1:
        raise OptionError(f"phrase bars must be >= 1, got {cfg.phrase_bars}")


# ----------------------------------------------------------------------------------------------
# small numeric helpers
# ----------------------------------------------------------------------------------------------


def _interval_means(t: np.ndarray, v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of samples ``v`` at times ``t`` inside each ``[edges[i], edges[i+1])``.

    Intervals without a sample take the value interpolated at their centre.
    """
    n = len(edges) - 1
    if t.size == 0:
        return np.zeros(n)
    idx = np.searchsorted(edges, t, side="right") - 1
    ok = (idx >= 0) & (idx < n)
    sums = np.bincount(idx[ok], weights=v[ok], minlength=n)
    cnt = np.bincount(idx[ok], minlength=n)
    centres = 0.5 * (edges[:-1] + edges[1:])
    interp = np.interp(centres, t, v)
    return np.where(cnt > 0, sums / np.maximum(cnt, 1), interp)


# ----------------------------------------------------------------------------------------------
# the planner
# ----------------------------------------------------------------------------------------------
def make_plan(
    features: Features,
    cfg: PlanConfig,
    *,
    description: Description | None = None,
    references: list[Reference] | None = None,
    seed: int = 0,
    resolved: bool = False,
) -> Plan:
    """Turn the video's features into a musical plan (tempo map, sections, controls, key, ...).

    Parameters
    ----------
    features : Features
        Visual features; uses ``motion_speed`` (T,), ``saliency`` (T,), visual beats (B,),
        ``tempo_bpm``, ``cut_times_s`` (C,), colour curves (T,) and ``hue_hist`` (T, 12).
    cfg : PlanConfig
        User options; every non-None field overrides the video-derived choice.
    description : Description, optional
        An edited description or free text (:func:`videobgm.bridges.resolve.resolve_description` lays
        it and ``cfg``'s options over the video's own description), or with ``resolved=True``
        the resolved description itself. The plan's ``description`` is it with the planner's
        final values written back (what plays).
    references : list of Reference, optional
        Retrieved passages; the best-scoring one supplies the chord progression and the density
        level when given.
    seed : int
        Seeds the (few) random choices: chord progressions per section.

    Returns
    -------
    Plan
        ``beat_times_s`` has shape (n_bars * beats_per_bar + 1,), starts at 0.0 and ends at the
        video's duration; ``controls`` holds per-bar density (n_bars,), per-beat strength
        (n_bars * beats_per_bar,), accent steps (n_bars * steps_per_bar,) and chords.

    Raises
    ------
    OptionError
        An invalid option (tempo, key, mode, mood, style, instrument, scale), naming the
        accepted values.
    InputError
        Features of a video with no duration.
    """
    validate_config(cfg)
    from videobgm.bridges.resolve import resolve_description

    # the one description: the planner's only source of mood, style, key, mode, tempo,
    # instruments and energy (issue 16); features give only timing
    desc = description if resolved else resolve_description(features, cfg, description)
    refs = sorted(references or [], key=lambda r: -r.similarity)
    ref = refs[0] if refs else None
    reasons: dict[str, str] = {}
    duration = float(features.duration_s)
    if not (math.isfinite(duration) and duration > 0):
        raise InputError(f"video has no duration ({duration!r} s); nothing to score")
    bpb = int(cfg.beats_per_bar)
    spb = bpb * STEPS_PER_BEAT

    ft = np.asarray(features.frame_times_s, dtype=float)
    speed = np.nan_to_num(np.asarray(features.motion_speed, dtype=float))
    sal = np.nan_to_num(np.asarray(features.saliency, dtype=float))
    vb_t = np.asarray(features.visual_beat_times_s, dtype=float)
    vb_s = np.asarray(features.visual_beat_strength, dtype=float)
    cuts = np.sort(np.asarray(features.cut_times_s, dtype=float))
    cuts = cuts[(cuts > 0.25) & (cuts < duration - 0.25)]

    # ---- mood: the description's -------------------------------------------------------
    mood = choose_mood(desc)
    reasons["mood"] = f"{mood} (description: {desc.reasons.get('mood', 'given')})"

    # ---- strong visual beats (velocity accents) ------------------------------------------
    strong = np.zeros(vb_t.size, dtype=bool)
    if vb_t.size:
        # sparse visual beats (fewer than one per SPARSE_BEAT_S) are each an event: all accented
        q = float(cfg.accent_quantile) if vb_t.size * SPARSE_BEAT_S >= duration else 0.0
        thr = float(np.quantile(vb_s, q)) if vb_s.size == vb_t.size else 0.0
        strong = (vb_s >= thr) & (vb_s > 0) if vb_s.size == vb_t.size else np.ones(vb_t.size, bool)
        strong &= (vb_t >= 0) & (vb_t < duration)
    strong_t = vb_t[strong]

    # ---- style, instruments (the hit points depend on whether there are drums) -----------
    style, tracks, programs, table = choose_instruments(desc, mood, reasons)

    # ---- tempo, cut hierarchy and bar grid -------------------------------------------------
    base, window, seg_warp, tempo_reason = _base_tempo(cfg, desc)
    cut_w, cut_why = form.cut_strengths(features, cuts, duration)
    records = form.cut_records(cuts, cut_w, cut_why)
    bar_nom = bpb * 60.0 / base
    min_bars = int(cfg.min_section_bars) if duration >= 8 * bar_nom else min(2, int(cfg.min_section_bars))
    cand = np.flatnonzero(cut_w >= form.BOUNDARY_STRENGTH)
    warp_hits = float(cfg.beat_warp) if cfg.lock_beats else 0.0
    from videobgm.music import styles as styles_mod
    bounds = (styles_mod.idiom(style, mood).tempo_range_bpm
              if window > 0 and style in styles_mod.STYLE_IDIOMS else None)
    grid = form_grid(base, window, duration, cuts[cand], cut_w[cand], bpb, min_bars, seg_warp,
                     hits_s=cuts, hit_warp=warp_hits, beats_s=strong_t, bounds_bpm=bounds)
    anchors, nbars, fin = grid["anchors"], grid["nbars"], grid["final"]
    anchored = [int(cand[i]) for i in grid["anchored"]]
    beat_times = grid_beats(grid, bpb)
    n_bars = int(sum(nbars))
    n_beats = n_bars * bpb
    starts = np.concatenate([[0], np.cumsum(nbars)]).astype(int)  # bar index of each anchor
    seg_list = [f"{a:.2f}-{z:.2f} s: {n} bars at {t:.1f} bpm"
                for a, z, n, t in zip(anchors[:-1], anchors[1:], nbars, grid["seg_tempi"])]
    segs = ", ".join(seg_list[:12] + ([f"... ({len(seg_list)} stretches)"] if len(seg_list) > 12 else []))
    reasons["grid"] = (f"{n_bars} bars of {bpb}/4 from 0 s to {beat_times[-1]:.3f} s (video "
                       f"{duration:.3f} s); {len(anchored)} cut(s) anchored on bar lines; tempo "
                       f"map: {segs}; last stretch: {fin['how']}"
                       + (f" (ritardando +{100 * fin['rit']:.1f}% / +{200 * fin['rit']:.1f}% on the "
                          f"last two bars)" if fin["rit"] > 0 else ""))

    # ---- sections: anchored cuts, then 4/6/8-bar phrases (strong cuts pull the boundary) ---
    bar_times = beat_times[::bpb]
    beat_s = float(np.median(np.diff(beat_times)))
    snap: dict[int, tuple[float, int]] = {}  # bar -> (strength, cut index) of a nearby strong cut
    for ci in cand:
        if ci in anchored:
            continue
        k = int(np.argmin(np.abs(bar_times - cuts[ci])))
        if abs(bar_times[k] - cuts[ci]) <= form.SNAP_BEATS * beat_s and cut_w[ci] > snap.get(k, (0, 0))[0]:
            snap[k] = (float(cut_w[ci]), int(ci))
    bounds: dict[int, tuple[str, int | None]] = {0: ("start of the video", None)}
    for si, (a0, n) in enumerate(zip(starts[:-1], nbars)):
        if si > 0:
            ci = anchored[si - 1]
            bounds[int(a0)] = (f"strong cut at {cuts[ci]:.2f} s (strength {cut_w[ci]:.2f}) on the "
                               f"bar line", ci)
        last = si == len(nbars) - 1
        wants = {k - int(a0): w for k, (w, _) in snap.items() if a0 < k < a0 + n}
        sizes = form.split_bars(int(n), min_bars, wants, odd_tail=last and n % 2 == 1)
        pos = int(a0)
        for size in sizes[:-1]:
            pos += size
            if pos in snap:
                w, ci = snap[pos]
                bounds[pos] = (f"strong cut at {cuts[ci]:.2f} s (strength {w:.2f}) within a beat: "
                               f"section moved to this bar line", ci)
            else:
                bounds[pos] = (f"phrase boundary ({size}-bar phrase)", None)
    intro = 0 if n_bars < 6 else 2 if n_bars < 32 else 4
    first_end = min([k for k in bounds if k > 0] + [n_bars])
    if intro == 4 and first_end >= 8:
        bounds[4] = ("end of the 4-bar intro", None)
    sections = _make_sections(bounds, bar_times, desc, reasons)
    ending_bar = n_bars - 1 if n_bars >= 2 else None
    fill_bars: set[int] = set()
    for k, (_, ci) in bounds.items():
        if ci is not None and k > 0 and cut_w[ci] >= form.ANACRUSIS_STRENGTH:
            fill_bars.add(k - 1)
            records[ci]["anacrusis"] = True
    if ending_bar is not None and ending_bar >= 4:
        fill_bars.add(ending_bar - 1)

    # ---- hit points: every cut gets one event; the grid bends <= 4 % to put it on the cut ----
    fixed = [int(x) * bpb for x in starts]
    others = [i for i in range(cuts.size) if i not in anchored]
    beat_times, placed = bend_to_hits(beat_times, fixed, cuts[others], warp_hits)
    # strong visual beats (velocity accents) may bend the rest of the grid: the cuts' steps stay,
    # the total bend against the unbent grid stays within the same limit
    if strong_t.size and warp_hits > 0:
        keep = [k for k in placed if k is not None] + [int(x) * spb for x in starts]
        beat_times, _ = bend_to_hits(beat_times, [], strong_t, warp_hits, fixed_steps=keep,
                                     reference=grid_beats(grid, bpb))
    bar_times = beat_times[::bpb]
    for s_ in sections:
        s_.start_s, s_.end_s = float(bar_times[s_.start_bar]), float(bar_times[s_.end_bar])
    steps = step_times_from_beats(beat_times)
    step_of = {ci: int(starts[j + 1]) * spb for j, ci in enumerate(anchored)}
    step_of.update({ci: k for ci, k in zip(others, placed)})
    order = list(range(cuts.size))
    section_starts = {s_.start_bar for s_ in sections}
    hits = form.assign_hits(cuts[order], [step_of.get(i) for i in order], steps, spb, section_starts,
                            "drums" in tracks)
    n_placed = sum(1 for k in placed if k is not None)
    mean_tempo = n_beats * 60.0 / float(beat_times[-1])
    reasons["tempo"] = (f"{tempo_reason}; nominal {grid['tempo']:.1f} bpm "
                        f"({100 * (grid['tempo'] / base - 1):+.1f}%, chosen to anchor the strongest "
                        f"cuts); mean {mean_tempo:.2f} bpm after fitting; {n_placed} of "
                        f"{len(others)} hit points placed by bending the grid <= "
                        f"{100 * cfg.beat_warp:g}% locally")


    # ---- density per bar ----------------------------------------------------------------------
    bar_speed = _interval_means(ft, speed, bar_times) if ft.size else np.zeros(n_bars)
    q = 0.75 * rank_quantiles(bar_speed) + 0.25 * (bar_speed / (bar_speed + _SPEED_REF_PX_S))
    dens_reason = ["mean motion speed per bar ranked (0.75) + absolute level (0.25) -> POP909 "
                   "onsets-per-bar quantiles (6..39)"]
    if desc.sections or desc.energy_curve:
        e_bar = np.clip(description_energy(desc, 0.5 * (bar_times[:-1] + bar_times[1:]), duration), 0, 1)
        q = 0.7 * q + 0.3 * e_bar
        dens_reason.append("blended 30% with the description's energy")
    density = np.interp(q, QUANTILE_LEVELS, DENSITY_TABLE)
    if ref is not None and len(ref.density_per_bar):
        ref_level = float(np.median(ref.density_per_bar))
        if ref_level > 0:
            density = density * (0.5 + 0.5 * ref_level / float(np.median(DENSITY_TABLE)))
            dens_reason.append(f"level pulled halfway to reference {ref.id} (median {ref_level:g}/bar)")
    tempo_f = float(np.clip((mean_tempo / DENSITY_TEMPO_REF_BPM) ** DENSITY_TEMPO_EXPONENT, *DENSITY_TEMPO_LIMITS))
    density = density * tempo_f
    dens_reason.append(f"x{tempo_f:.2f} for {mean_tempo:.0f} bpm (POP909's onsets per bar ~ "
                       f"(tempo / {DENSITY_TEMPO_REF_BPM:g})^{DENSITY_TEMPO_EXPONENT:g})")
    density = density * float(cfg.density_scale)
    if cfg.density_scale != 1.0:
        dens_reason.append(f"x{cfg.density_scale:g} (density scale)")
    density_per_bar = np.clip(np.round(density), 0, 64).astype(np.int64)
    reasons["density"] = "; ".join(dens_reason) + \
        f"; range {int(density_per_bar.min())}..{int(density_per_bar.max())} onsets/bar"

    # ---- strength per beat ----------------------------------------------------------------------
    beat_len = np.diff(beat_times)
    beat_sal = _window_max(ft, sal, beat_times[:-1] - beat_len / 4, beat_times[:-1] + beat_len / 4)
    metric = np.tile(_metrical_prior(bpb), n_bars)
    sq = 0.7 * rank_quantiles(beat_sal) + 0.3 * metric
    strength = np.interp(sq, QUANTILE_LEVELS, STRENGTH_TABLE) * float(cfg.strength_scale)
    strength_per_beat = np.clip(np.round(strength), 0, 16).astype(np.int64)
    reasons["strength"] = ("max motion saliency within +-1/4 beat of each beat ranked (0.7) + "
                           "metrical prior (0.3) -> POP909 notes-per-beat quantiles (0..6)"
                           + (f" x{cfg.strength_scale:g}" if cfg.strength_scale != 1.0 else ""))

    # ---- accents: hit points (accented onsets) + strong visual beats (velocity accents) --
    accent_steps = np.zeros(n_bars * spb, dtype=bool)
    inside = strong_t[strong_t < min(beat_times[-1], duration)]
    if inside.size:
        idx = np.minimum(nearest_index(steps, inside), accent_steps.size - 1)
        accent_steps[idx] = True
        err_ms = 1000 * np.abs(steps[nearest_index(steps, inside)] - inside)
        reasons["accents"] = (f"{inside.size} strong visual beats (strength >= the "
                              f"{cfg.accent_quantile:g} quantile) -> velocity accents on the nearest "
                              f"16th step (quantisation error mean {err_ms.mean():.0f} ms, max "
                              f"{err_ms.max():.0f} ms); hit points on cuts are accented too")
    else:
        reasons["accents"] = "no strong visual beats: only the hit points on cuts are accented"
    for k, _kind, _why in hits:
        if k is not None:
            accent_steps[k] = True
    if ending_bar is not None:  # the final bar is the held tonic (rule parts): nothing forced
        accent_steps[ending_bar * spb:] = False
        density_per_bar[ending_bar] = 0
        strength_per_beat[ending_bar * bpb:] = 0

    # ---- key and mode ---------------------------------------------------------------------------
    tonic, mode = choose_key(desc, reasons)

    # ---- melody: enters after the intro, rests on the final held tonic ------------------------
    melody_bars = None
    if "melody" in tracks:
        if cfg.melody_intro_bars is not None:
            intro = int(cfg.melody_intro_bars) if n_bars >= 8 else 0
        melody_bars = np.arange(n_bars) >= intro
        if ending_bar is not None and ending_bar > intro:
            melody_bars[ending_bar] = False
        reasons["melody"] = (f"melody from bar {intro + 1}" +
                             (f" ({intro}-bar accompaniment intro)" if intro else "") +
                             "; in the last bar it holds the tonic (rule note)")
    # ---- chords: the learned progression over the form, cadences, held tonic, hit changes ----
    # (the melody's motif form restates units bar by bar: those bars repeat the harmony too)
    from videobgm.music import motif
    repeats = motif.layout(sections, n_bars, melody_bars, ending_bar) if "melody" in tracks else {}
    if repeats:
        reasons["motif"] = motif.describe(repeats)
    chords, early = make_chords(sections, n_bars, bpb, tonic, mode, mood, style, ref, hits,
                                ending_bar, seed, reasons, repeats=repeats)

    # ---- per-cut record ---------------------------------------------------------------------
    hit_list = []
    for ci, (k, kind, why) in zip(order, hits):
        rec = records[ci]
        if k is not None and k in early:
            kind += "+chord"
            why += "; the next chord starts on this beat"
        rec["step"] = None if k is None else int(k)
        rec["kind"] = kind
        if ci in anchored or any(ci == c2 for c2 in (v[1] for v in bounds.values())):
            rec["role"] = "section"
            sec_why = next(v[0] for v in bounds.values() if v[1] == ci)
            rec["reason"] = f"{rec['reason']} -> section boundary: {sec_why}; {why}"
        elif k is None:
            rec["role"] = "ignored"
            rec["reason"] = f"{rec['reason']} -> {why}"
        else:
            rec["role"] = "hit"
            rec["reason"] = (f"{rec['reason']} -> hit point ("
                             + ("strength below the section threshold "
                                f"{form.BOUNDARY_STRENGTH:g}" if cut_w[ci] < form.BOUNDARY_STRENGTH
                                else f"strong, but no bar line within reach at <= {100 * cfg.max_tempo_warp:g}% tempo change")
                             + f"): {why}")
        if k is not None:
            hit_list.append((int(k), kind))
    hit_list.sort()
    reasons["cuts"] = (f"{cuts.size} cuts: {sum(r['role'] == 'section' for r in records)} section "
                       f"boundaries, {sum(r['role'] == 'hit' for r in records)} hit points, "
                       f"{sum(r['role'] == 'ignored' for r in records)} ignored (see plan.cuts)")

    fade = None
    if ending_bar is not None:
        t_end = float(bar_times[ending_bar])
        fade = round(max(0.1, duration - t_end - 0.5 * beat_s), 3)
        reasons["ending"] = (f"cadence {reasons.pop('cadence', '')} into the tonic at bar "
                             f"{ending_bar + 1} ({t_end:.2f} s), held as a chord ringing to the end "
                             f"({duration - t_end:.2f} s); fade-out at most {fade:.2f} s so it covers "
                             f"only the ring-out")

    controls = Controls(
        n_bars=n_bars, beats_per_bar=bpb, density_per_bar=density_per_bar,
        strength_per_beat=strength_per_beat, accent_steps=accent_steps, chords=chords,
        key_tonic=tonic, mode=mode, tracks=tracks, tempo_bpm=float(mean_tempo), melody_bars=melody_bars,
        hits=tuple(hit_list), fill_bars=tuple(sorted(b for b in fill_bars if 0 <= b < n_bars)),
        ending_bar=ending_bar,
    )
    _write_back(desc, mean_tempo, table, features)
    reasons["description"] = f"description ({desc.source}): {desc.text[:120]!r}"
    return Plan(
        duration_s=duration, tempo_bpm=float(mean_tempo), beats_per_bar=bpb,
        beat_times_s=beat_times, sections=sections, controls=controls, programs=programs,
        style=style, mood=mood, reasons=reasons, seed=int(seed), cuts=records, fade_out_s=fade,
        instruments=dict(table), description=desc,
    )


def _write_back(desc: Description, mean_tempo: float, table: dict[str, str],
                features: Features) -> None:
    """Write the values the planner played back into the description, with the reason."""
    from videobgm.bridges.text import description_text

    asked = float(desc.tempo_bpm) if desc.tempo_bpm is not None else None
    played = round(float(mean_tempo), 1)
    if asked is None or abs(played - asked) >= 0.05:
        desc.reasons["tempo"] = (desc.reasons.get("tempo", "")
                                 + f"; planner: {asked if asked is None else f'{asked:g}'} -> "
                                   f"{played:g} bpm (mean tempo of the bar grid fitted to the video's "
                                   f"length and cuts)")
    desc.tempo_bpm = played
    inst = lexicon.track_instruments(table)
    if set(desc.instruments or []) == set(inst):
        inst = list(desc.instruments or [])  # same instruments: the description's order stays
    else:
        desc.reasons["instruments"] = (desc.reasons.get("instruments", "")
                                       + f"; planner: tracks {', '.join(f'{t}={n}' for t, n in table.items())}")
        desc.instruments = inst
    desc.text = description_text(desc, duration_s=float(features.duration_s) or None)


# Motion speed (px/s at analysis size) at which the absolute motion level reaches 0.5.
_SPEED_REF_PX_S = 20.0


def _window_max(t: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Max of samples ``v`` (at sorted times ``t``) in each window ``[lo[j], hi[j])``; windows are
    sorted and disjoint. Empty windows take ``v`` interpolated at their centre; no samples -> 0."""
    if t.size == 0:
        return np.zeros(lo.size)
    a = np.searchsorted(t, lo, side="left")
    b = np.searchsorted(t, hi, side="left")
    out = np.interp(0.5 * (lo + hi), t, v)
    full = b > a
    if full.any():
        idx = a[full]
        red = np.maximum.reduceat(np.append(v, 0.0), np.minimum(np.column_stack([idx, b[full]]).ravel(), v.size))
        out[full] = red[::2]
    return out


def _metrical_prior(bpb: int) -> np.ndarray:
    w = np.full(bpb, 0.25)
    w[0] = 1.0
    if bpb == 4:
        w[2] = 0.6
    elif bpb == 6:
        w[3] = 0.6
    return w


SPARSE_BEAT_S = 4.0  # visual beats rarer than one per this many seconds are all accented
TEMPO_WINDOW = 0.06  # the nominal tempo is searched within this of the description's tempo


def _base_tempo(cfg: PlanConfig, desc: Description) -> tuple[float, float, float, str]:
    """The description's tempo, the nominal search window, the section tempo warp, the reason.

    The tempo is always the description's. A user option (``--tempo``) is kept exactly (only hit
    points bend it, <= ``beat_warp``); an edited / text tempo keeps the nominal on it; a tempo the
    description derived from the video is searched within +-``TEMPO_WINDOW``. No half / double
    time: the window never holds a factor of 2.
    """

    t = _check_tempo(desc.tempo_bpm if desc.tempo_bpm is not None else
                     sum(lexicon.VIDEO_TEMPO_RANGE_BPM) / 2, "tempo in description")
    origin = desc.origin("tempo_bpm")
    if cfg.tempo_bpm is not None or origin == "user option":
        return t, 0.0, 0.0, f"user tempo {t:g} bpm (every section at it; hit points bend <= {100 * cfg.beat_warp:g}%)"
    if origin != "video":
        return t, 0.0, float(cfg.max_tempo_warp), f"description tempo {t:g} bpm ({origin})"
    why = f"description's tempo {t:g} bpm ({desc.reasons.get('tempo', '')})"
    return t, TEMPO_WINDOW, float(cfg.max_tempo_warp), why


def description_energy(desc: Description, times_s: np.ndarray, duration_s: float) -> np.ndarray:
    """The description's energy at ``times_s``: its sections' energies by time, else its energy
    curve spread evenly over the duration, else 0.5."""
    t = np.asarray(times_s, dtype=float)
    secs = [s for s in desc.sections if "start_s" in s and "end_s" in s]
    if secs:
        out = np.full(t.shape, float(secs[-1].get("energy", 0.5)))
        for s in reversed(secs):
            inside = (t >= float(s["start_s"])) & (t < float(s["end_s"]))
            out[inside] = float(s.get("energy", 0.5))
        return out
    if desc.energy_curve:
        e = np.asarray(desc.energy_curve, dtype=float)
        return np.interp(t / max(duration_s, 1e-9), (np.arange(e.size) + 0.5) / e.size, e)
    return np.full(t.shape, 0.5)


def _make_sections(bounds: dict[int, tuple[str, int | None]], bar_times: np.ndarray,
                   desc: Description, reasons: dict[str, str]) -> list[Section]:
    n_bars = len(bar_times) - 1
    edges = sorted({*bounds, n_bars})
    # each bar's energy is the description's at the bar's centre (the one source of energy)
    lvl = description_energy(desc, 0.5 * (bar_times[:-1] + bar_times[1:]), float(bar_times[-1]))
    sections = []
    for a, z in zip(edges[:-1], edges[1:]):
        energy = float(np.mean(lvl[a:z])) if z > a else 0.5
        sections.append(Section(start_bar=a, end_bar=z, label="", start_s=float(bar_times[a]),
                                end_s=float(bar_times[z]), energy=round(energy, 3),
                                reason=bounds[a][0]))
    # labels: intro/outro around >= 3 sections; the rest verse/chorus by the description's energy
    mids = sections[1:-1] if len(sections) >= 3 else sections
    med = float(np.median([s.energy for s in mids])) if mids else 0.5
    for s in sections:
        s.label = "chorus" if s.energy > med else "verse"
    if len(sections) >= 3:
        sections[0].label, sections[-1].label = "intro", "outro"
    lens = [z - a for a, z in zip(edges[:-1], edges[1:])]
    shown = str(lens) if len(lens) <= 40 else f"{str(lens[:40])[:-1]}, ...]"
    reasons["sections"] = f"{len(sections)} sections, lengths in bars {shown}"
    return sections


def plan_render_config(plan: Plan, render_cfg: Any) -> Any:
    """``render_cfg`` with its fade-out shortened to the plan's ring-out (``plan.fade_out_s``),
    so that the fade covers the final held chord, not the last musical gesture."""
    if plan.fade_out_s is None or plan.fade_out_s >= render_cfg.fade_out_s:
        return render_cfg
    import dataclasses

    return dataclasses.replace(render_cfg, fade_out_s=float(plan.fade_out_s))


# ----------------------------------------------------------------------------------------------
# JSON
# ----------------------------------------------------------------------------------------------
def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """JSON-ready dict of a plan (for ``plan.json``): arrays become lists, chords get names."""
    c = plan.controls
    return {
        "duration_s": round(float(plan.duration_s), 6),
        "tempo_bpm": round(float(plan.tempo_bpm), 4),
        "beats_per_bar": int(plan.beats_per_bar),
        "n_bars": int(plan.n_bars),
        "key": PITCH_CLASS_NAMES[c.key_tonic],
        "mode": c.mode,
        "mood": plan.mood,
        "style": plan.style,
        "programs": dict(plan.programs),
        "tracks": list(c.tracks),
        "seed": int(plan.seed),
        "beat_times_s": np.round(np.asarray(plan.beat_times_s, dtype=float), 6).tolist(),
        "sections": [asdict(s) for s in plan.sections],
        "controls": {
            "density_per_bar": np.asarray(c.density_per_bar).astype(int).tolist(),
            "strength_per_beat": np.asarray(c.strength_per_beat).astype(int).tolist(),
            "accent_steps": np.flatnonzero(np.asarray(c.accent_steps)).astype(int).tolist(),
            "melody_bars": (None if c.melody_bars is None
                            else np.flatnonzero(np.asarray(c.melody_bars)).astype(int).tolist()),
            "chords": [{"onset_16th": ch.onset_16th, "root": ch.root, "quality": ch.quality,
                        "name": chord_name(ch.root, ch.quality),
                        **({"bass": ch.bass} if ch.bass >= 0 else {})} for ch in c.chords],
        },
        "reasons": dict(plan.reasons),
        "cuts": [dict(c) for c in plan.cuts],
        "hit_points": [{"step": int(k), "kind": kind} for k, kind in c.hits],
        "fill_bars": [int(b) for b in c.fill_bars],
        "ending_bar": None if c.ending_bar is None else int(c.ending_bar),
        "fade_out_s": plan.fade_out_s,
        "instruments": dict(plan.instruments),
        "description": plan.description.to_dict() if plan.description is not None else None,
        "regenerations": [dict(r) for r in plan.regenerations],
    }


def plan_from_dict(d: dict[str, Any]) -> Plan:
    """Read :func:`plan_to_dict`'s output back into a :class:`Plan` (round trip).

    Raises
    ------
    InputError
        One line naming the missing or malformed field.
    """
    from videobgm.music.theory import parse_key

    if not isinstance(d, dict):
        raise InputError(f"a plan must be a JSON object, got {type(d).__name__}")
    try:
        bpb = int(d["beats_per_bar"])
        n_bars = int(d["n_bars"])
        spb = bpb * STEPS_PER_BEAT
        c = d["controls"]
        accents = np.zeros(n_bars * spb, dtype=bool)
        accents[np.asarray(c["accent_steps"], dtype=int)] = True
        melody = None
        if c.get("melody_bars") is not None:
            melody = np.zeros(n_bars, dtype=bool)
            melody[np.asarray(c["melody_bars"], dtype=int)] = True
        controls = Controls(
            n_bars=n_bars, beats_per_bar=bpb,
            density_per_bar=np.asarray(c["density_per_bar"], dtype=np.int64),
            strength_per_beat=np.asarray(c["strength_per_beat"], dtype=np.int64),
            accent_steps=accents,
            chords=[Chord(onset_16th=int(ch["onset_16th"]), root=int(ch["root"]),
                          quality=str(ch["quality"]), bass=int(ch.get("bass", -1)))
                    for ch in c["chords"]],
            key_tonic=parse_key(d["key"]), mode=str(d["mode"]), tracks=tuple(d["tracks"]),
            tempo_bpm=float(d["tempo_bpm"]), melody_bars=melody,
            hits=tuple((int(h["step"]), str(h["kind"])) for h in d.get("hit_points", [])),
            fill_bars=tuple(int(b) for b in d.get("fill_bars", [])),
            ending_bar=None if d.get("ending_bar") is None else int(d["ending_bar"]),
        )
        desc = d.get("description")
        return Plan(
            duration_s=float(d["duration_s"]), tempo_bpm=float(d["tempo_bpm"]), beats_per_bar=bpb,
            beat_times_s=np.asarray(d["beat_times_s"], dtype=float),
            sections=[Section(**s) for s in d["sections"]], controls=controls,
            programs={str(k): int(v) for k, v in d["programs"].items()},
            style=str(d.get("style", "pop")), mood=str(d.get("mood", "neutral")),
            reasons=dict(d.get("reasons", {})), seed=int(d.get("seed", 0)),
            cuts=[dict(x) for x in d.get("cuts", [])], fade_out_s=d.get("fade_out_s"),
            instruments=dict(d.get("instruments", {})),
            description=None if desc is None else read_description(desc),
            regenerations=[dict(r) for r in d.get("regenerations", [])],
        )
    except KeyError as exc:
        raise InputError(f"plan is missing the field {exc.args[0]!r}") from None
    except (TypeError, ValueError, IndexError) as exc:
        raise InputError(f"plan has a malformed field: {exc}") from None


def load_plan(path: Any) -> Plan:
    """The one reader of ``plan.json`` (``score --plan``'s record, or a bare plan dict).

    Raises
    ------
    InputError
        Unreadable file, invalid JSON or not a plan (one line).
    """
    from videobgm import schema
    data = schema.load_json(path, "plan")
    if isinstance(data, dict) and isinstance(data.get("plan"), dict):
        inner = dict(data["plan"])
        if inner.get("description") is None and isinstance(data.get("description"), dict):
            inner["description"] = data["description"]
        data = inner
    if not isinstance(data, dict) or "sections" not in data:
        raise InputError(f"{path} is not a plan.json (no 'plan' with 'sections'; write one with "
                         f"`videobgm score ... --plan plan.json`)")
    return plan_from_dict(data)
