"""The video's motion -> CMT's note controls on the plan's bar grid (Di et al. 2021).

This module owns the three controls the planner maps from motion, and POP909's tables they are
mapped onto: **density** per bar (mean motion speed over the bar, ranked, plus its absolute level
and the description's energy -> :data:`DENSITY_TABLE`, scaled for the tempo), **strength** per
beat (motion saliency around the beat plus a metrical prior -> :data:`STRENGTH_TABLE`) and
**accents** per 16th step (the strong visual beats, :func:`strong_beat_times`, on their nearest
step, plus the hit points). Used by :func:`videobgm.plan.planner.make_plan`.
"""

from __future__ import annotations

import numpy as np

from videobgm.music.analysis import rank_quantiles
from videobgm.plan.grid import nearest_index
from videobgm.plan.sections import description_energy
from videobgm.types import Description, Features, Reference

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

# Motion speed (px/s at analysis size) at which the absolute motion level reaches 0.5.
_SPEED_REF_PX_S = 20.0
SPARSE_BEAT_S = 4.0  # visual beats rarer than one per this many seconds are all accented


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


def strong_beat_times(features: Features, duration: float, accent_quantile: float) -> np.ndarray:
    """Times (s) of the strong visual beats (velocity accents): strength >= the
    ``accent_quantile`` quantile and > 0, inside the video; every beat where they are sparse."""
    return strong_beats(features, duration, accent_quantile)[0]


def strong_beats(features: Features, duration: float, accent_quantile: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`strong_beat_times` and their strengths (1 where the features give none)."""
    vb_t = np.asarray(features.visual_beat_times_s, dtype=float)
    vb_s = np.asarray(features.visual_beat_strength, dtype=float)
    strong = np.zeros(vb_t.size, dtype=bool)
    if vb_t.size:
        # sparse visual beats (fewer than one per SPARSE_BEAT_S) are each an event: all accented
        q = float(accent_quantile) if vb_t.size * SPARSE_BEAT_S >= duration else 0.0
        thr = float(np.quantile(vb_s, q)) if vb_s.size == vb_t.size else 0.0
        strong = (vb_s >= thr) & (vb_s > 0) if vb_s.size == vb_t.size else np.ones(vb_t.size, bool)
        strong &= (vb_t >= 0) & (vb_t < duration)
    s = vb_s[strong] if vb_s.size == vb_t.size else np.ones(int(strong.sum()))
    return vb_t[strong], s


def density_per_bar(features: Features, bar_times: np.ndarray, desc: Description,
                    ref: Reference | None, mean_tempo: float, density_scale: float,
                    reasons: dict[str, str]) -> np.ndarray:
    """Note onsets per bar (n_bars,) int64 from the bars' motion speed (``reasons["density"]``)."""
    n_bars = len(bar_times) - 1
    duration = float(features.duration_s)
    ft = np.asarray(features.frame_times_s, dtype=float)
    speed = np.nan_to_num(np.asarray(features.motion_speed, dtype=float))
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
    density = density * float(density_scale)
    if density_scale != 1.0:
        dens_reason.append(f"x{density_scale:g} (density scale)")
    out = np.clip(np.round(density), 0, 64).astype(np.int64)
    reasons["density"] = "; ".join(dens_reason) + \
        f"; range {int(out.min())}..{int(out.max())} onsets/bar"
    return out


def strength_per_beat(features: Features, beat_times: np.ndarray, bpb: int, strength_scale: float,
                      reasons: dict[str, str]) -> np.ndarray:
    """Notes per beat onset (n_beats,) int64 from the motion saliency at each beat
    (``reasons["strength"]``)."""
    n_bars = (len(beat_times) - 1) // bpb
    ft = np.asarray(features.frame_times_s, dtype=float)
    sal = np.nan_to_num(np.asarray(features.saliency, dtype=float))
    beat_len = np.diff(beat_times)
    beat_sal = _window_max(ft, sal, beat_times[:-1] - beat_len / 4, beat_times[:-1] + beat_len / 4)
    metric = np.tile(_metrical_prior(bpb), n_bars)
    sq = 0.7 * rank_quantiles(beat_sal) + 0.3 * metric
    strength = np.interp(sq, QUANTILE_LEVELS, STRENGTH_TABLE) * float(strength_scale)
    reasons["strength"] = ("max motion saliency within +-1/4 beat of each beat ranked (0.7) + "
                           "metrical prior (0.3) -> POP909 notes-per-beat quantiles (0..6)"
                           + (f" x{strength_scale:g}" if strength_scale != 1.0 else ""))
    return np.clip(np.round(strength), 0, 16).astype(np.int64)


# accents of visual beats at least an 8th apart (hit points exempt). 3 (a dotted 8th) gave the same
# bars restated but fewer melody notes in them (bench/musicality.py motif 13.25 -> 11.96 notes)
ACCENT_GAP_STEPS = 2
MAX_BUTTONS = 4  # re-strikes of the held final chord on the picture's last hits


def accent_steps(steps: np.ndarray, strong_t: np.ndarray, n_steps: int, end_s: float,
                 hit_steps: list[int | None], accent_quantile: float,
                 reasons: dict[str, str], strengths: np.ndarray | None = None) -> np.ndarray:
    """Accent steps (n_steps,) bool: the strong visual beats before ``end_s`` on their nearest
    16th step (``steps``: the steps' times), at least :data:`ACCENT_GAP_STEPS` apart (the
    strongest first, ``strengths`` per ``strong_t``; the earlier one on a tie), and every hit
    point (``reasons["accents"]``).

    The gap: an accent is a contrast, and visual beats can come every 16th in a busy shot (a
    synthetic clip of cuts and motion gave 10 accented 16ths in one bar, every part striking
    each one). The hit points are all kept, on top."""
    out = np.zeros(n_steps, dtype=bool)
    keep = strong_t < end_s
    inside = strong_t[keep]
    if inside.size:
        idx = np.minimum(nearest_index(steps, inside), out.size - 1)
        st = np.ones(inside.size) if strengths is None else np.asarray(strengths, dtype=float)[keep]
        kept: list[int] = []
        for j in sorted(range(idx.size), key=lambda j: (-st[j], idx[j])):
            if all(abs(int(idx[j]) - k) >= ACCENT_GAP_STEPS for k in kept):
                kept.append(int(idx[j]))
        out[kept] = True
        err_ms = 1000 * np.abs(steps[nearest_index(steps, inside)] - inside)
        reasons["accents"] = (f"{inside.size} strong visual beats (strength >= the "
                              f"{accent_quantile:g} quantile) -> velocity accents on the nearest "
                              f"16th step, {len(kept)} kept at least {ACCENT_GAP_STEPS} 16ths apart (the strongest "
                              f"first; quantisation error mean {err_ms.mean():.0f} ms, max {err_ms.max():.0f} ms); hit "
                              f"points on cuts are accented too")
    else:
        reasons["accents"] = "no strong visual beats: only the hit points on cuts are accented"
    for k in hit_steps:
        if k is not None:
            out[k] = True
    return out


def ending_buttons(steps: np.ndarray, strong_t: np.ndarray, strong_s: np.ndarray, ending_step: int,
                   end_s: float, beat_s: float) -> list[int]:
    """The steps of the held final bar's *buttons* (sorted): its strong visual beats at least a
    beat after the final chord's downbeat (``ending_step``) and a beat before the music's end
    (``end_s``), the strongest first (the earlier on a tie), at most :data:`MAX_BUTTONS`, at least
    :data:`ACCENT_GAP_STEPS` apart; [] when no strong visual beat falls there.

    The rule parts re-strike the final chord on each, the last ringing out: the picture's last
    hits are heard instead of passing in a held chord (bigbuckbunny's strongest visual beat,
    strength 1.0, lies 1.2 s into its final bar; car-detection ends on a burst of 8 visual beats
    in its 3 s final bar). The final bar's other accents are dropped: the model plays nothing
    there."""
    if ending_step >= steps.shape[0] or not strong_t.size:
        return []
    t0 = float(steps[ending_step])
    cand = np.flatnonzero((strong_t >= t0 + beat_s) & (strong_t <= end_s - beat_s))
    idx = nearest_index(steps, strong_t[cand]) if cand.size else np.zeros(0, dtype=np.int64)
    kept: list[int] = []
    for j in sorted(range(cand.size), key=lambda j: (-float(strong_s[cand[j]]), float(strong_t[cand[j]]))):
        k = int(idx[j])
        if k > ending_step and len(kept) < MAX_BUTTONS and all(abs(k - x) >= ACCENT_GAP_STEPS for x in kept):
            kept.append(k)
    return sorted(kept)
