"""[3] Video features (+ description, references, user options) -> musical :class:`Plan`.

The mapping follows CMT (Di et al. 2021: motion speed -> note density, motion saliency -> note
strength, visual beats -> accents) and V-MusProd (Zhuo et al. 2022: colour -> key/mood), made
explicit and rule-based so that every choice is recorded with its reason in ``Plan.reasons``:

* **tempo** -- the video's dominant visual tempo folded by factors of 2 into
  ``PlanConfig.tempo_range_bpm`` (or the user's / description's tempo);
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
* **key and mode** -- colour: valence from brightness, warmth and saturation (bright/warm ->
  major, dark/cold -> minor), tonic from the dominant hue on the circle of fifths (red = C,
  orange = G, yellow = D, ... after Scriabin's colour-key circle); V-MusProd-inspired;
* **mood / style / instruments / chords** -- mood from valence x arousal (motion + cut rate),
  a style and a small GM instrument table per mood, one diatonic progression per section label
  (seeded), the last bar resolves to the tonic.

Priority of every choice: ``PlanConfig`` (the user's options) > :class:`Description` >
references > the video.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np

from videobgm.config import PlanConfig
from videobgm.errors import InputError, OptionError
from videobgm.plan_music import (  # noqa: F401 (re-exported: the planner's vocabulary)
    INSTRUMENTS,
    MOOD_MODE,
    MOOD_STYLE,
    MOOD_TEMPO_FRAC,
    MOODS,
    PROGRESSIONS,
    STYLE_INSTRUMENTS,
    STYLES,
    check_choice,
    check_instruments,
    choose_instruments,
    choose_key,
    choose_mood,
    chord_name,
    make_chords,
    parse_key,
)
from videobgm.tempomap import (
    beats_from_segments,
    fit_grid,
    fold_tempo,
    hit_cost,
    locked_beats,
    nearest_index,
    step_times_from_beats,
)
from videobgm.types import (
    MODES,
    PITCH_CLASS_NAMES,
    STEPS_PER_BEAT,
    Controls,
    Description,
    Features,
    Plan,
    Reference,
    Section,
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

TEMPO_LIMITS_BPM = (20.0, 300.0)


# ----------------------------------------------------------------------------------------------
# option parsing
# ----------------------------------------------------------------------------------------------
USER_TEMPO_WARP = 0.05  # largest per-section tempo change when the tempo was asked for


def _check_tempo(t: float, what: str) -> float:
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise OptionError(f"{what} must be a number in bpm, got {t!r}") from None
    lo, hi = TEMPO_LIMITS_BPM
    if not (math.isfinite(t) and lo <= t <= hi):
        raise OptionError(f"{what} must be between {lo:g} and {hi:g} bpm, got {t:g}")
    return t


def validate_config(cfg: PlanConfig) -> None:
    """Raise :class:`OptionError` (one line, naming the accepted values) for any invalid option."""
    if cfg.tempo_bpm is not None:
        _check_tempo(cfg.tempo_bpm, "tempo")
    lo, hi = (float(x) for x in cfg.tempo_range_bpm)
    if not (TEMPO_LIMITS_BPM[0] <= lo < hi <= TEMPO_LIMITS_BPM[1]):
        raise OptionError(f"tempo range must satisfy 20 <= low < high <= 300 bpm, got {lo:g}..{hi:g}")
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
        v = getattr(cfg, name)
        if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= 4):
            raise OptionError(f"{name.replace('_', ' ')} must be in (0, 4], got {v}")
    if cfg.min_section_bars < 1:
        raise OptionError(f"min section bars must be >= 1, got {cfg.min_section_bars}")
    if cfg.melody_intro_bars < 0:
        raise OptionError(f"melody intro bars must be >= 0, got {cfg.melody_intro_bars}")
    if not 0 <= cfg.accent_quantile <= 1:
        raise OptionError(f"accent quantile must be in [0, 1], got {cfg.accent_quantile}")
    if not 0 <= cfg.hit_tempo_bpm <= 150:
        raise OptionError(f"hit tempo must be in [0, 150] bpm, got {cfg.hit_tempo_bpm}")
    if not 0 <= cfg.beat_warp <= 0.5:
        raise OptionError(f"beat warp must be in [0, 0.5], got {cfg.beat_warp}")
    if not 0 <= cfg.max_tempo_warp <= 0.5:
        raise OptionError(f"max tempo warp must be in [0, 0.5], got {cfg.max_tempo_warp}")
    if cfg.phrase_bars < 1:
        raise OptionError(f"phrase bars must be >= 1, got {cfg.phrase_bars}")


# ----------------------------------------------------------------------------------------------
# small numeric helpers
# ----------------------------------------------------------------------------------------------
def rank_quantiles(x: np.ndarray) -> np.ndarray:
    """Average-rank quantile of each value in (0, 1): ``(rank + 0.5) / n``; ties share a rank."""
    x = np.asarray(x, dtype=float)
    n = x.size
    if n == 0:
        return x.copy()
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=float)
    # average ties
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = sums[inv] / counts[inv]
    return (ranks + 0.5) / n


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
        Text-bridge description; its set fields override the video-derived choices (but not
        ``cfg``).
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
    desc = description or Description()
    refs = sorted(references or [], key=lambda r: -r.score)
    ref = refs[0] if refs else None
    reasons: dict[str, str] = {}
    duration = float(features.duration_s)
    if not (math.isfinite(duration) and duration > 0):
        raise InputError(f"video has no duration ({duration!r} s); nothing to score")
    bpb = int(cfg.beats_per_bar)
    spb = bpb * STEPS_PER_BEAT
    lo, hi = (float(x) for x in cfg.tempo_range_bpm)

    ft = np.asarray(features.frame_times_s, dtype=float)
    speed = np.nan_to_num(np.asarray(features.motion_speed, dtype=float))
    sal = np.nan_to_num(np.asarray(features.saliency, dtype=float))
    vb_t = np.asarray(features.visual_beat_times_s, dtype=float)
    vb_s = np.asarray(features.visual_beat_strength, dtype=float)
    cuts = np.sort(np.asarray(features.cut_times_s, dtype=float))
    cuts = cuts[(cuts > 0.25) & (cuts < duration - 0.25)]

    # ---- colour -> valence; motion + cuts -> arousal; mood -------------------------------
    bright = _mean_or(features.brightness, 0.5)
    satur = _mean_or(features.saturation, 0.3)
    warm = _mean_or(features.warmth, 0.0)
    valence = (bright - 0.45) + 0.5 * warm + 0.3 * (satur - 0.3)
    motion_level = speed / (speed + _SPEED_REF_PX_S)
    cut_rate = cuts.size / duration * 60.0
    arousal = float(0.7 * (motion_level.mean() if motion_level.size else 0.0)
                    + 0.3 * min(1.0, cut_rate / 20.0))
    mood, mood_src = choose_mood(cfg, desc, valence, arousal)
    reasons["mood"] = f"{mood} ({mood_src}; valence {valence:+.2f} from brightness {bright:.2f}, " \
                      f"warmth {warm:+.2f}, saturation {satur:.2f}; arousal {arousal:.2f} from " \
                      f"motion and {cut_rate:.1f} cuts/min)"

    # ---- strong visual beats -----------------------------------------------------------
    strong = np.zeros(vb_t.size, dtype=bool)
    if vb_t.size:
        thr = float(np.quantile(vb_s, cfg.accent_quantile)) if vb_s.size == vb_t.size else 0.0
        strong = (vb_s >= thr) & (vb_s > 0) if vb_s.size == vb_t.size else np.ones(vb_t.size, bool)
        strong &= (vb_t >= 0) & (vb_t < duration)
    strong_t = vb_t[strong]

    # ---- tempo and bar grid -----------------------------------------------------------------
    base, window, tempo_reason = _base_tempo(features, cfg, desc, ref, mood, lo, hi, int(strong_t.size))
    limits = (lo, hi) if window > 0.3 else TEMPO_LIMITS_BPM  # free tempo: stay in the range
    if window > 0.3 and strong_t.size >= 4 and 0 < cfg.hit_tempo_bpm < hi:
        # free tempo but strong visual beats: stay fast enough for every beat to be near a step
        limits = (max(lo, float(cfg.hit_tempo_bpm)), hi)
        tempo_reason += f"; strong visual beats: searched in {limits[0]:g}..{hi:g} bpm"
    # a tempo the user (or an edited description) asked for is kept within 5 % per section:
    # cuts that would need more are snapped to the nearest bar line instead
    warp = float(cfg.max_tempo_warp) if window > 0 else min(float(cfg.max_tempo_warp), USER_TEMPO_WARP)
    grid = fit_grid(base, window, duration, cuts, bpb, int(cfg.min_section_bars),
                     warp, strong_t, limits)
    anchors, nbars = grid["anchors"], grid["nbars"]
    # a video shorter than half a bar at any sensible tempo: one bar that runs past the end
    if len(nbars) == 1 and grid["seg_tempi"][0] > 1.6 * grid["tempo"]:
        bar_s = bpb * 60.0 / grid["tempo"]
        beat_times = np.arange(bpb + 1) * bar_s / bpb
        anchors, nbars = [0.0, bar_s], [1]
        reasons["grid"] = (f"video ({duration:.2f} s) shorter than a bar at {grid['tempo']:.1f} bpm: "
                           f"one bar of {bar_s:.2f} s, trimmed by the renderer")
    else:
        beat_times = beats_from_segments(anchors, nbars, bpb)
        if cfg.lock_beats and strong_t.size:
            locked, n_locked = locked_beats(anchors, nbars, bpb, strong_t, float(cfg.beat_warp))
            before, after = hit_cost(beat_times, strong_t), hit_cost(locked, strong_t)
            # bend only for more hits, or (same hits) accents >= 10 ms tighter on average
            if after[0] < before[0] or (after[0] == before[0] and after[1] < before[1] - 0.01):
                beat_times = locked
                reasons["beat_lock"] = (
                    f"{n_locked} of {strong_t.size} strong visual beats pulled onto their nearest "
                    f"16th step (local tempo change <= {100 * cfg.beat_warp:g}%): within 70 ms "
                    f"{100 * (1 - before[0]):.0f}% -> {100 * (1 - after[0]):.0f}%")
            else:
                reasons["beat_lock"] = ("tempo map not bent to the visual beats: it would not bring "
                                        "more strong beats within 70 ms of a 16th step "
                                        f"({100 * (1 - before[0]):.0f}% already are)")
    n_bars = int(sum(nbars))
    n_beats = n_bars * bpb
    mean_tempo = n_beats * 60.0 / float(beat_times[-1])
    reasons["tempo"] = (f"{tempo_reason}; nominal {grid['tempo']:.1f} bpm chosen near it "
                        f"(fits bars to cuts/end, strong visual beats near 16th steps); "
                        f"mean {mean_tempo:.2f} bpm after fitting")
    if "grid" not in reasons:
        seg_list = [f"{a:.2f}-{b:.2f} s: {n} bars at {t:.1f} bpm"
                    for a, b, n, t in zip(anchors[:-1], anchors[1:], nbars, grid["seg_tempi"])]
        segs = ", ".join(seg_list[:12] + ([f"... ({len(seg_list)} segments)"] if len(seg_list) > 12 else []))
        reasons["grid"] = (f"{n_bars} bars of {bpb}/4 from 0 s to {beat_times[-1]:.3f} s "
                           f"(video {duration:.3f} s); tempo map: {segs}; tempo adjusted by "
                           f"{100 * (mean_tempo / grid['tempo'] - 1):+.1f}% on average to fit")
    bar_times = beat_times[::bpb]
    steps = step_times_from_beats(beat_times)

    # ---- sections --------------------------------------------------------------------------
    sections = _make_sections(anchors, nbars, grid["dropped"], bar_times, speed, ft,
                              int(cfg.min_section_bars), int(cfg.phrase_bars), reasons)

    # ---- density per bar ----------------------------------------------------------------------
    bar_speed = _interval_means(ft, speed, bar_times) if ft.size else np.zeros(n_bars)
    q = 0.75 * rank_quantiles(bar_speed) + 0.25 * (bar_speed / (bar_speed + _SPEED_REF_PX_S))
    dens_reason = ["mean motion speed per bar ranked (0.75) + absolute level (0.25) -> POP909 "
                   "onsets-per-bar quantiles (6..39)"]
    if desc.energy_curve:
        e = np.clip(np.asarray(desc.energy_curve, dtype=float), 0, 1)
        e_bar = np.interp((np.arange(n_bars) + 0.5) / n_bars, (np.arange(e.size) + 0.5) / e.size, e)
        q = 0.7 * q + 0.3 * e_bar
        dens_reason.append("blended 30% with the description's energy curve")
    density = np.interp(q, QUANTILE_LEVELS, DENSITY_TABLE)
    if ref is not None and len(ref.density_per_bar):
        ref_level = float(np.median(ref.density_per_bar))
        if ref_level > 0:
            density = density * (0.5 + 0.5 * ref_level / float(np.median(DENSITY_TABLE)))
            dens_reason.append(f"level pulled halfway to reference {ref.id} (median {ref_level:g}/bar)")
    if "double-time" in tempo_reason:
        density = density * 0.7
        dens_reason.append("x0.7 for double-time (bars half as long)")
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

    # ---- accents ---------------------------------------------------------------------------
    accent_steps = np.zeros(n_bars * spb, dtype=bool)
    inside = strong_t[strong_t < beat_times[-1]]
    if inside.size:
        idx = np.minimum(nearest_index(steps, inside), accent_steps.size - 1)
        accent_steps[idx] = True
        err_ms = 1000 * np.abs(steps[nearest_index(steps, inside)] - inside)
        reasons["accents"] = (f"{inside.size} strong visual beats (strength >= the "
                              f"{cfg.accent_quantile:g} quantile) -> nearest 16th step "
                              f"({int(accent_steps.sum())} steps; quantisation error mean "
                              f"{err_ms.mean():.0f} ms, max {err_ms.max():.0f} ms)")
    else:
        reasons["accents"] = "no strong visual beats: no accented steps"

    # ---- key and mode ---------------------------------------------------------------------------
    tonic, mode = choose_key(features, cfg, desc, ref, mood, valence, reasons)

    # ---- style, instruments -------------------------------------------------------------------------
    style, tracks, programs = choose_instruments(cfg, desc, mood, reasons)

    # ---- chords ------------------------------------------------------------------------------------
    chords = make_chords(sections, n_bars, spb, tonic, mode, mood, ref, seed, reasons)

    # ---- melody: plays in every bar after a short intro ------------------------------------------
    melody_bars = None
    if "melody" in tracks:
        intro = int(cfg.melody_intro_bars) if n_bars >= 8 else 0
        melody_bars = np.arange(n_bars) >= intro
        reasons["melody"] = (f"melody in every bar from bar {intro + 1}" +
                             (f" ({intro}-bar accompaniment intro)" if intro else ""))

    controls = Controls(
        n_bars=n_bars, beats_per_bar=bpb, density_per_bar=density_per_bar,
        strength_per_beat=strength_per_beat, accent_steps=accent_steps, chords=chords,
        key_tonic=tonic, mode=mode, tracks=tracks, tempo_bpm=float(mean_tempo), melody_bars=melody_bars,
    )
    if description is not None:
        reasons["description"] = f"description ({desc.source}) used: {desc.text[:120]!r}"
    return Plan(
        duration_s=duration, tempo_bpm=float(mean_tempo), beats_per_bar=bpb,
        beat_times_s=beat_times, sections=sections, controls=controls, programs=programs,
        style=style, mood=mood, reasons=reasons, seed=int(seed),
    )


# Motion speed (px/s at analysis size) at which the absolute motion level reaches 0.5.
_SPEED_REF_PX_S = 20.0


def _mean_or(x: np.ndarray, default: float) -> float:
    """Mean of the finite values of ``x``, or ``default`` when there are none."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else default


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


def _base_tempo(features: Features, cfg: PlanConfig, desc: Description, ref: Reference | None,
                mood: str, lo: float, hi: float, n_strong: int) -> tuple[float, float, str]:
    """Base tempo, the relative search window around it, and the reason."""
    if cfg.tempo_bpm is not None:
        return _check_tempo(cfg.tempo_bpm, "tempo"), 0.0, f"user tempo {cfg.tempo_bpm:g} bpm"
    # a description built from this video (source "video") only suggests a tempo: the video's
    # own rhythm (below) and the grid search still apply; a user's description fixes it
    from_video = (desc.source or "video") == "video"
    if desc.tempo_bpm is not None and not from_video:
        t = _check_tempo(desc.tempo_bpm, "tempo in description")
        return t, 0.0, f"description tempo {t:g} bpm"
    vt = float(features.tempo_bpm)
    if math.isfinite(vt) and vt > 0 and features.tempo_confidence > 0:
        t, f = fold_tempo(vt, lo, hi)
        how = "unchanged" if f == 1 else f"folded x{f:g}"
        why = (f"visual tempo {vt:.1f} bpm (confidence {features.tempo_confidence:.2f}) "
               f"{how} into {lo:g}..{hi:g} -> {t:.1f} bpm")
        hit = float(cfg.hit_tempo_bpm)
        if n_strong >= 4 and t < hit and 2 * t <= TEMPO_LIMITS_BPM[1]:
            # a 16th at tempo T lasts 15/T s: below ~107 bpm a visual beat between two steps can
            # be more than 70 ms from both, so the music goes double-time (2 steps per old one)
            t *= 2
            why += (f"; doubled to {t:.1f} bpm (double-time) so that every strong visual beat is "
                    f"within half a 16th (<= {7500 / t:.0f} ms) of a step")
        return t, 0.08, why
    if ref is not None and ref.tempo_bpm > 0:
        t, _ = fold_tempo(ref.tempo_bpm, lo, hi)
        return t, 0.1, f"no periodic motion; reference {ref.id} tempo {ref.tempo_bpm:g} -> {t:.1f} bpm"
    if desc.tempo_bpm is not None:
        t = min(max(_check_tempo(desc.tempo_bpm, "tempo in description"), lo), hi)
        why = f"no periodic motion; video description suggests {t:.1f} bpm"
    else:
        t = lo + MOOD_TEMPO_FRAC.get(mood, 0.45) * (hi - lo)
        why = f"no periodic motion; {mood} mood -> {t:.1f} bpm"
    # no rhythm to follow: the search may move anywhere in the range to fit the cuts
    window = max(hi / t, t / lo) - 1.0
    return t, window, why


def _make_sections(anchors: list[float], nbars: list[int], dropped: list[float],
                   bar_times: np.ndarray, speed: np.ndarray, ft: np.ndarray, min_bars: int,
                   phrase_bars: int, reasons: dict[str, str]) -> list[Section]:
    n_bars = len(bar_times) - 1
    bounds: dict[int, str] = {}
    b = 0
    for a, n in zip(anchors[1:-1], nbars[:-1]):
        b += n
        bounds[b] = f"scene cut at {a:.2f} s (bar line placed on the cut by the tempo map)"
    notes = []
    for c in dropped:
        k = int(np.argmin(np.abs(bar_times - c)))
        near = [x for x in [0, n_bars, *bounds] if abs(x - k) < min_bars]
        if 0 < k < n_bars and not near:
            bounds[k] = (f"scene cut at {c:.2f} s snapped to the nearest bar line "
                         f"({bar_times[k]:.2f} s)")
        else:
            notes.append(f"cut at {c:.2f} s not a section boundary (too close to another)")
    # long stretches without cuts: phrase boundaries every phrase_bars bars
    edges = sorted({0, n_bars, *bounds})
    for a, z in zip(edges[:-1], edges[1:]):
        if z - a >= 2 * phrase_bars:
            k = int(round((z - a) / phrase_bars))
            for i in range(1, k):
                m = a + int(round(i * (z - a) / k))
                bounds[m] = f"no cut for {z - a} bars: phrase boundary every ~{phrase_bars} bars"
    edges = sorted({0, n_bars, *bounds})
    bar_speed = _interval_means(ft, speed, bar_times) if ft.size else np.zeros(n_bars)
    lvl = rank_quantiles(bar_speed) if n_bars else bar_speed
    sections = []
    for a, z in zip(edges[:-1], edges[1:]):
        energy = float(np.mean(lvl[a:z])) if z > a else 0.5
        sections.append(Section(start_bar=a, end_bar=z, label="", start_s=float(bar_times[a]),
                                end_s=float(bar_times[z]), energy=round(energy, 3),
                                reason="start of the video" if a == 0 else bounds[a]))
    # labels: intro/outro around >= 3 sections; the rest verse/chorus by motion energy
    mids = sections[1:-1] if len(sections) >= 3 else sections
    med = float(np.median([s.energy for s in mids])) if mids else 0.5
    for s in sections:
        s.label = "chorus" if s.energy > med else "verse"
    if len(sections) >= 3:
        sections[0].label, sections[-1].label = "intro", "outro"
    starts = str(edges[:-1]) if len(edges) <= 41 else f"{str(edges[:40])[:-1]}, ...]"
    if len(notes) > 10:
        notes = notes[:10] + [f"... and {len(notes) - 10} more cuts not used as boundaries"]
    reasons["sections"] = "; ".join([f"{len(sections)} sections at bars {starts}"] + notes)
    return sections


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
                        "name": chord_name(ch.root, ch.quality)} for ch in c.chords],
        },
        "reasons": dict(plan.reasons),
    }
