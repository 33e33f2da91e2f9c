"""Video-music correspondence metrics, computed from the video's Features and the music (Score/MIDI).

Definitions (all times in seconds, the music timed by its own beat grid ``score.step_times()``):

* **accented onset** -- a 16th step whose loudest pitched note (drums excluded) has velocity
  >= ``accent_velocity`` (97 = the lower edge of velocity bin 7 of 8, the sampler's
  ``accent_velocity_bin``) *and* strictly above the lower quartile of the per-step maxima (so a
  piece played at one constant velocity has no accents, while a plan that accents up to 3/4 of
  its onsets can still be measured);
* **strong visual beat** -- a visual beat whose strength is >= the ``strong_quantile`` quantile
  of all beat strengths (0.5: the upper half; the planner's ``accent_quantile``);
* ``beat_alignment`` -- the Beat Alignment Score of AIST++ / Bailando (Li et al. 2021):
  mean over *all* visual beats of ``exp(-d^2 / (2 sigma^2))``, ``d`` = distance to the nearest
  accented onset, ``sigma`` = 0.05 s (3 frames at 60 fps, as in AIST++);
* ``hit_rate`` -- fraction of strong visual beats with an accented onset within ``hit_window_s``
  (70 ms); ``accent_precision`` -- fraction of accented onsets within 70 ms of any visual beat
  (the reverse direction: accents that do not follow the video lower it);
* ``density_motion_spearman`` -- Spearman correlation, over the bars that lie inside the video,
  of the mean motion speed in the bar and its number of pitched note onsets (NaN when either is
  constant);
* ``cut_phrase_alignment`` -- fraction of scene cuts within one beat (the local beat length) of a
  phrase boundary. Phrase boundaries are the plan's section starts when a plan is given; without
  a plan, every ``phrase_bars`` (4) bars of the music, the usual pop phrase length;
* ``duration_error_s`` -- |music length - video length|, the music length being the end of the
  score's grid (or ``audio_duration_s`` when given, e.g. the rendered WAV).

With a plan, ``plan_chord_accuracy`` also says how well the music follows the plan's chords: the
fraction of beats (with a planned chord and sounding notes) whose chord, as the learned
recogniser of :mod:`videobgm.eval.chords` hears it, is the planned one (root and family).

Undefined values (no visual beats, no cuts, ...) are NaN, never an exception.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from videobgm.music.analysis import rank_quantiles
from videobgm.types import STEPS_PER_BEAT, Features, Plan, Score

NAN = float("nan")
SIGMA_S = 0.05
HIT_WINDOW_S = 0.07
ACCENT_VELOCITY = 97
STRONG_QUANTILE = 0.5
PHRASE_BARS = 4
METRICS = ("beat_alignment", "hit_rate", "accent_precision", "density_motion_spearman",
           "cut_phrase_alignment", "duration_error_s")
# for every metric: True when higher is better
HIGHER_IS_BETTER = {"beat_alignment": True, "hit_rate": True, "accent_precision": True,
                    "density_motion_spearman": True, "cut_phrase_alignment": True,
                    "duration_error_s": False}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN if fewer than 3 points or constant.

    The ranks are the planner's own (:func:`~videobgm.music.analysis.rank_quantiles`, an affine map
    of the average ranks, which the correlation does not see): the metric ranks motion as the
    plan does when it turns motion into density."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return NAN
    return float(np.corrcoef(rank_quantiles(a), rank_quantiles(b))[0, 1])


def nearest_dist(t: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Distance from each time in ``t`` to the nearest time in sorted ``ref`` (inf if empty)."""
    t = np.asarray(t, float)
    if ref.size == 0:
        return np.full(t.size, np.inf)
    i = np.clip(np.searchsorted(ref, t), 1, max(1, ref.size - 1))
    left = ref[np.maximum(i - 1, 0)]
    right = ref[np.minimum(i, ref.size - 1)]
    return np.minimum(np.abs(t - left), np.abs(right - t))


def accented_onset_times(score: Score, *, accent_velocity: int = ACCENT_VELOCITY,
                         include_drums: bool = False) -> np.ndarray:
    """Times (s) of the accented onsets of ``score``, sorted, shape (K,) (see module docstring)."""
    st = score.step_times()
    vmax: dict[int, int] = {}
    for n in score.notes:
        if (include_drums or n.track != "drums") and 0 <= n.onset_16th < st.size:
            vmax[n.onset_16th] = max(vmax.get(n.onset_16th, 0), int(n.velocity))
    if not vmax:
        return np.zeros(0)
    steps = np.array(sorted(vmax))
    v = np.array([vmax[s] for s in steps])
    acc = (v >= accent_velocity) & (v > np.quantile(v, 0.25))
    return st[steps[acc]]


def _as_score(score_or_midi: Any) -> Score:
    if isinstance(score_or_midi, Score):
        return score_or_midi
    if isinstance(score_or_midi, (str, os.PathLike)):
        from videobgm.music.midi import read_midi

        return read_midi(score_or_midi)
    from videobgm.music.midi import pretty_midi_to_score

    return pretty_midi_to_score(score_or_midi)


def _plan_chord_accuracy(score: Score, plan: Plan | dict) -> float:
    """Chord accuracy of ``score`` against the plan's chords (NaN when the plan has none)."""
    from videobgm.eval.chords import chord_accuracy
    from videobgm.types import Chord

    if isinstance(plan, dict):
        chords = [Chord(int(c["onset_16th"]), int(c["root"]), str(c["quality"]))
                  for c in plan.get("controls", {}).get("chords", [])]
    else:
        chords = list(getattr(getattr(plan, "controls", None), "chords", None) or [])
    return float(chord_accuracy(score, chords)["accuracy"]) if chords else NAN


def _phrase_starts(score: Score, plan: Plan | dict | None, phrase_bars: int) -> tuple[np.ndarray, str]:
    if plan is not None:
        sections = plan["sections"] if isinstance(plan, dict) else plan.sections
        starts = [float(s["start_s"] if isinstance(s, dict) else s.start_s) for s in sections]
        return np.array(sorted(starts[1:])), "plan sections"
    bars = score.beat_times()[:: score.beats_per_bar]
    return np.asarray(bars[phrase_bars:-1:phrase_bars], float), f"every {phrase_bars} bars"


def sync_metrics(
    features: Features,
    score: Score | str | os.PathLike[str] | Any,
    *,
    plan: Plan | dict | None = None,
    sigma_s: float = SIGMA_S,
    hit_window_s: float = HIT_WINDOW_S,
    accent_velocity: int = ACCENT_VELOCITY,
    strong_quantile: float = STRONG_QUANTILE,
    phrase_bars: int = PHRASE_BARS,
    audio_duration_s: float | None = None,
) -> dict[str, Any]:
    """Video-music sync metrics (see the module docstring for the definitions).

    Parameters
    ----------
    features : Features
        The video's features: visual beats (B,), motion speed (T,), cuts (C,), duration.
    score : Score, MIDI path or PrettyMIDI
        The music, timed by its own beat grid.
    plan : Plan or plan.json dict, optional
        Its section starts are the phrase boundaries; without it, every ``phrase_bars`` bars.
    sigma_s, hit_window_s : float
        Gaussian tolerance of the beat alignment score; hit window.
    accent_velocity : int
        Velocity from which an onset can count as accented.
    strong_quantile : float
        Visual beats with strength >= this quantile are "strong".
    audio_duration_s : float, optional
        Length of the rendered audio, used for the duration error instead of the grid end.

    Returns
    -------
    dict
        The six metrics of :data:`METRICS` (floats, NaN where undefined), ``plan_chord_accuracy``
        (NaN without a plan), plus counts
        (``n_visual_beats``, ``n_strong_beats``, ``n_accents``, ``n_cuts``, ``n_bars``) and
        ``phrase_source``.
    """
    if plan is not None and isinstance(score, (str, os.PathLike)):
        from videobgm.music.midi import read_midi  # quantise on the plan's own grid

        bts = plan["beat_times_s"] if isinstance(plan, dict) else plan.beat_times_s
        bpb = plan["beats_per_bar"] if isinstance(plan, dict) else plan.beats_per_bar
        s = read_midi(score, beat_times_s=np.asarray(bts, float), beats_per_bar=int(bpb))
    else:
        s = _as_score(score)
    duration = float(features.duration_s)
    vb = np.sort(np.asarray(features.visual_beat_times_s, float))
    vs = np.asarray(features.visual_beat_strength, float)
    if vs.size == vb.size and vb.size:
        vs = vs[np.argsort(np.asarray(features.visual_beat_times_s, float))]
        strong = vb[vs >= np.quantile(vs, strong_quantile)]
    else:
        strong = vb
    acc = accented_onset_times(s, accent_velocity=accent_velocity)
    out: dict[str, Any] = {}

    d_all = nearest_dist(vb, acc)
    out["beat_alignment"] = float(np.mean(np.exp(-(d_all**2) / (2 * sigma_s**2)))) if vb.size else NAN
    out["hit_rate"] = float(np.mean(nearest_dist(strong, acc) <= hit_window_s)) if strong.size else NAN
    out["accent_precision"] = (float(np.mean(nearest_dist(acc, vb) <= hit_window_s))
                               if acc.size and vb.size else NAN)

    # density vs motion, per bar inside the video
    bt = s.beat_times()
    bars = bt[:: s.beats_per_bar]
    ft = np.asarray(features.frame_times_s, float)
    speed = np.nan_to_num(np.asarray(features.motion_speed, float))
    spb = s.beats_per_bar * STEPS_PER_BEAT
    counts = np.bincount([n.onset_16th // spb for n in s.notes
                          if n.track != "drums" and 0 <= n.onset_16th < s.n_steps],
                         minlength=s.n_bars)[: s.n_bars]
    speeds, dens = [], []
    for i in range(min(s.n_bars, bars.size - 1)):
        a, b = bars[i], min(bars[i + 1], duration)
        if b - a <= 0.25 * (bars[i + 1] - bars[i]):
            continue
        m = (ft >= a) & (ft < b)
        if m.any():
            speeds.append(float(speed[m].mean()))
            dens.append(float(counts[i]))
    out["density_motion_spearman"] = spearman(np.array(speeds), np.array(dens))

    # cuts vs phrase boundaries
    cuts = np.asarray(features.cut_times_s, float)
    starts, source = _phrase_starts(s, plan, phrase_bars)
    if cuts.size:
        j = np.clip(np.searchsorted(bt, cuts) - 1, 0, max(0, bt.size - 2))
        beat_len = np.diff(bt)[j] if bt.size > 1 else np.full(cuts.size, 60.0 / s.tempo_bpm)
        out["cut_phrase_alignment"] = float(np.mean(nearest_dist(cuts, starts) <= beat_len + 1e-9))
    else:
        out["cut_phrase_alignment"] = NAN

    out["plan_chord_accuracy"] = _plan_chord_accuracy(s, plan) if plan is not None else NAN

    music_len = float(audio_duration_s) if audio_duration_s is not None else float(bt[-1])
    out["duration_error_s"] = abs(music_len - duration)
    out.update(n_visual_beats=int(vb.size), n_strong_beats=int(strong.size), n_accents=int(acc.size),
               n_cuts=int(cuts.size), n_bars=int(s.n_bars), phrase_source=source)
    return out


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """Markdown table of :data:`METRICS` for several runs (``{name: sync_metrics(...)}``)."""
    names = list(rows)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for m in METRICS:
        cells = []
        for n in names:
            v = rows[n].get(m, NAN)
            cells.append("n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}")
        arrow = "higher" if HIGHER_IS_BETTER[m] else "lower"
        lines.append(f"| {m} ({arrow} is better) | " + " | ".join(cells) + " |")
    return "\n".join(lines)
