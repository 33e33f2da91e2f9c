"""Does the *sound* follow the picture? Rhythm correspondence from audio, each with a chance level.

The picture comes from the project's own analysis (:func:`videobgm.features.analyze.extract_features`,
the stage ``videobgm score`` uses), reduced to :class:`PictureEvents`; the sound from
:mod:`videobgm.eval.audio` (librosa). Metrics (all over ``[0, L)``, ``L`` = the shorter of the
picture and the audio):

* ``cut_hit_rate`` -- share of cuts with a librosa onset within ``HIT_WINDOW_S`` (70 ms);
* ``cut_hit_chance`` -- the same with the picture circularly shifted by ``N_SHIFTS`` (200)
  random offsets (at least ``MIN_SHIFT_S`` from 0 and from ``L``), averaged; ``cut_hit_x_chance``
  = rate / chance (> 1 = the cuts are heard);
* ``cut_lift`` -- mean onset strength (the envelope's maximum within 70 ms) at the cuts over its
  mean at the shifted cuts (chance 1): how strongly the sound marks a cut compared with arbitrary
  moments of the same music. ``cut_hit_x_chance`` saturates once every cut is hit and its
  chance level rises with the onset density (a faster tempo puts an onset near more random
  times); the lift keeps grading how strong the cut's onset is, against 1 at any tempo. A flat
  envelope reads 1; a silent one (all zero) NaN;
* ``beat_lift`` -- the same at the visual beats over the shifted visual beats (chance 1);
* ``cut_beat_distance`` -- mean distance from each cut to the nearest music beat, in beats (the
  local inter-beat interval; cuts more than one beat outside the tracked beats are left out);
  uniform chance 0.25, lower is better;
* ``beat_alignment`` -- AIST++ Beat Alignment Score (Li et al. 2021): mean over the visual beats
  of ``exp(-d^2 / (2 sigma^2))``, ``d`` = distance to the nearest music beat, ``sigma`` = 3 frames
  at 60 fps (0.05 s);
* ``motion_onset_spearman`` -- Spearman correlation of the mean motion speed and the mean onset
  strength over 1 s windows (chance 0);
* ``length_error_s`` -- |audio length - picture length|; ``ends_with_picture`` -- the music's
  last audible moment (RMS within 40 dB of its loudest frame) lies within 0.5 s of the picture's
  end.

Every rhythm metric also gets its ``*_chance`` from the same shifts. The **mismatch control**
runs the same metrics against other events: another video's (``control=``) or, by default, the
picture's own events time-reversed (``t -> L - t``; the motion curve reversed). A real effect
beats its control as well as chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from videobgm.eval.audio import AudioAnalysis
from videobgm.eval.sync import nearest_dist, spearman
from videobgm.types import Features

NAN = float("nan")
HIT_WINDOW_S = 0.07
SIGMA_S = 0.05
N_SHIFTS = 200
MIN_SHIFT_S = 0.5
TAIL_S = 0.5
AUDIBLE_DB = 40.0  # "audible": RMS within this many dB of the loudest frame
WINDOW_S = 1.0
SYNC_METRICS = ("cut_hit_rate", "cut_hit_x_chance", "cut_lift", "beat_lift", "cut_beat_distance",
                "beat_alignment", "motion_onset_spearman")
# the rhythm metrics that get a chance level from the shifts
_SHIFTED = ("cut_hit_rate", "cut_lift_raw", "beat_lift_raw", "cut_beat_distance", "beat_alignment",
            "motion_onset_spearman")


@dataclass(frozen=True)
class PictureEvents:
    """What the picture offers to follow, over ``[0, duration_s)``.

    ``cut_strength`` (C,) is the change across each cut of the colour statistics the features
    stage records per frame (half the L1 distance of the hue histograms plus the brightness
    jump, clipped to [0, 1]).
    """

    duration_s: float
    cut_times_s: np.ndarray
    cut_strength: np.ndarray
    beat_times_s: np.ndarray
    beat_strength: np.ndarray
    motion_times_s: np.ndarray
    motion_speed: np.ndarray
    source: str = ""

    def clip(self, length_s: float) -> PictureEvents:
        """The events inside ``[0, length_s)``."""
        c, b, m = (self.cut_times_s < length_s, self.beat_times_s < length_s,
                   self.motion_times_s < length_s)
        return replace(self, duration_s=min(self.duration_s, length_s),
                       cut_times_s=self.cut_times_s[c], cut_strength=self.cut_strength[c],
                       beat_times_s=self.beat_times_s[b], beat_strength=self.beat_strength[b],
                       motion_times_s=self.motion_times_s[m], motion_speed=self.motion_speed[m])

    def shifted(self, shift_s: float) -> PictureEvents:
        """Every event moved by ``shift_s``, circularly (modulo the duration)."""
        d = self.duration_s

        def mv(t: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            u = (t + shift_s) % d
            o = np.argsort(u, kind="stable")
            return u[o], s[o]

        ct, cs = mv(self.cut_times_s, self.cut_strength)
        bt, bs = mv(self.beat_times_s, self.beat_strength)
        speed = (np.interp((self.motion_times_s - shift_s) % d, self.motion_times_s, self.motion_speed)
                 if self.motion_times_s.size else self.motion_speed)
        return replace(self, cut_times_s=ct, cut_strength=cs, beat_times_s=bt, beat_strength=bs,
                       motion_speed=speed, source=f"{self.source} shifted {shift_s:.2f} s")

    def reversed(self) -> PictureEvents:
        """The events time-reversed, ``t -> duration - t`` (the automatic mismatch control)."""
        d = self.duration_s
        speed = (np.interp(d - self.motion_times_s, self.motion_times_s, self.motion_speed)
                 if self.motion_times_s.size else self.motion_speed)
        return replace(self, cut_times_s=(d - self.cut_times_s)[::-1], cut_strength=self.cut_strength[::-1],
                       beat_times_s=(d - self.beat_times_s)[::-1], beat_strength=self.beat_strength[::-1],
                       motion_speed=speed, source=f"{self.source} time-reversed")


def picture_events(features: Features) -> PictureEvents:
    """The cuts (with strengths), visual beats and motion of ``features``."""
    t = np.asarray(features.frame_times_s, float)
    cuts = np.sort(np.asarray(features.cut_times_s, float))
    hue = np.asarray(features.hue_hist, float).reshape(-1, 12)
    bright = np.asarray(features.brightness, float)
    strength = np.zeros(cuts.size)
    for k, c in enumerate(cuts):
        i = int(np.clip(np.searchsorted(t, c - 1e-6), 1, max(1, t.size - 1)))
        if t.size >= 2 and hue.shape[0] == t.size and bright.size == t.size:
            strength[k] = min(1.0, 0.5 * float(np.abs(hue[i] - hue[i - 1]).sum())
                              + abs(float(bright[i] - bright[i - 1])))
    vb = np.asarray(features.visual_beat_times_s, float)
    vs = np.asarray(features.visual_beat_strength, float)
    o = np.argsort(vb, kind="stable")
    vs = vs[o] if vs.size == vb.size else np.ones(vb.size)
    return PictureEvents(duration_s=float(features.duration_s), cut_times_s=cuts, cut_strength=strength,
                         beat_times_s=vb[o], beat_strength=vs, motion_times_s=t,
                         motion_speed=np.nan_to_num(np.asarray(features.motion_speed, float)),
                         source=str(features.video.path))


# ------------------------------------------------------------------------------------------------
# the metrics
# ------------------------------------------------------------------------------------------------
def _env_near(a: AudioAnalysis, times_s: np.ndarray, window_s: float) -> np.ndarray:
    """Onset-envelope maximum within ``window_s`` of each time, shape (len(times_s),)."""
    ft, env = a.frame_times_s, a.onset_env
    lo = np.searchsorted(ft, times_s - window_s)
    hi = np.searchsorted(ft, times_s + window_s, side="right")
    return np.array([env[i:j].max() if j > i else 0.0 for i, j in zip(lo, hi)])


def _raw(ev: PictureEvents, a: AudioAnalysis, length_s: float) -> dict[str, float]:
    """The rhythm metrics of ``ev`` against ``a`` over ``[0, length_s)`` (no chance levels)."""
    out: dict[str, float] = {}
    on = a.onset_times_s[a.onset_times_s < length_s + HIT_WINDOW_S]
    beats = a.beat_times_s
    cuts, vb = ev.cut_times_s, ev.beat_times_s
    out["cut_hit_rate"] = float(np.mean(nearest_dist(cuts, on) <= HIT_WINDOW_S)) if cuts.size else NAN
    out["cut_lift_raw"] = float(_env_near(a, cuts, HIT_WINDOW_S).mean()) if cuts.size else NAN
    out["beat_lift_raw"] = float(_env_near(a, vb, HIT_WINDOW_S).mean()) if vb.size else NAN
    if cuts.size and beats.size >= 2:
        ibi = np.diff(beats)
        inside = cuts[(cuts >= beats[0] - ibi[0]) & (cuts <= beats[-1] + ibi[-1])]  # beats defined
        j = np.clip(np.searchsorted(beats, inside) - 1, 0, ibi.size - 1)
        out["cut_beat_distance"] = (float(np.mean(nearest_dist(inside, beats) / ibi[j]))
                                    if inside.size else NAN)
    else:
        out["cut_beat_distance"] = NAN
    out["beat_alignment"] = (float(np.mean(np.exp(-nearest_dist(vb, beats) ** 2 / (2 * SIGMA_S**2))))
                             if vb.size and beats.size else NAN)
    n = int(math.floor(length_s / WINDOW_S))
    if n >= 3 and ev.motion_times_s.size:
        mk = np.minimum((ev.motion_times_s / WINDOW_S).astype(int), n)
        ak = np.minimum((a.frame_times_s / WINDOW_S).astype(int), n)
        m_sum = np.bincount(mk, weights=ev.motion_speed, minlength=n + 1)[:n]
        m_cnt = np.bincount(mk, minlength=n + 1)[:n]
        e_sum = np.bincount(ak, weights=a.onset_env, minlength=n + 1)[:n]
        e_cnt = np.bincount(ak, minlength=n + 1)[:n]
        ok = (m_cnt > 0) & (e_cnt > 0)
        out["motion_onset_spearman"] = spearman((m_sum / np.maximum(m_cnt, 1))[ok],
                                                (e_sum / np.maximum(e_cnt, 1))[ok])
    else:
        out["motion_onset_spearman"] = NAN
    return out


def shifts_s(length_s: float, *, n: int = N_SHIFTS, seed: int = 0) -> np.ndarray:
    """``n`` circular shifts in ``[MIN_SHIFT_S, length_s - MIN_SHIFT_S]`` (seeded)."""
    lo = MIN_SHIFT_S if length_s > 4 * MIN_SHIFT_S else 0.0
    return np.random.default_rng(seed).uniform(lo, length_s - lo, size=n)


def end_metrics(a: AudioAnalysis, picture_s: float) -> dict[str, Any]:
    """Length error and whether the music's audible end is within ``TAIL_S`` of the picture's."""
    rms_db = 20 * np.log10(np.maximum(a.rms, 1e-10))
    audible = np.flatnonzero(rms_db >= rms_db.max() - AUDIBLE_DB)
    end = float(a.frame_times_s[audible[-1]]) if audible.size else 0.0
    return {"length_error_s": abs(float(a.duration_s) - float(picture_s)), "music_end_s": end,
            "ends_with_picture": bool(abs(end - picture_s) <= TAIL_S)}


def sync_audio_metrics(ev: PictureEvents, a: AudioAnalysis, *, n_shifts: int = N_SHIFTS,
                       seed: int = 0) -> dict[str, Any]:
    """Every correspondence metric of ``a`` against ``ev`` with its chance level.

    Judged over ``L = min(picture, audio)``; the events beyond ``L`` are dropped.
    """
    picture_s = float(ev.duration_s)
    length = min(picture_s, float(a.duration_s))
    ev = ev.clip(length)
    raw = _raw(ev, a, length)
    draws = [_raw(ev.shifted(s), a, length) for s in shifts_s(length, n=n_shifts, seed=seed)]
    chance = {k: (float(np.nanmean([d[k] for d in draws]))
                  if any(np.isfinite(d[k]) for d in draws) else NAN) for k in _SHIFTED}
    out: dict[str, Any] = {}
    out["cut_hit_rate"] = raw["cut_hit_rate"]
    out["cut_hit_chance"] = chance["cut_hit_rate"]
    c = chance["cut_hit_rate"]
    out["cut_hit_x_chance"] = (raw["cut_hit_rate"] / c if c > 0 else
                               (math.inf if raw["cut_hit_rate"] > 0 else NAN)) if np.isfinite(c) else NAN
    for k in ("cut_lift", "beat_lift"):  # onset strength at the events / at the shifted events
        cb = chance[f"{k}_raw"]
        out[k] = raw[f"{k}_raw"] / cb if np.isfinite(cb) and cb > 0 else NAN
        out[f"{k}_chance"] = 1.0 if np.isfinite(out[k]) else NAN
    for k in ("cut_beat_distance", "beat_alignment", "motion_onset_spearman"):
        out[k] = raw[k]
        out[f"{k}_chance"] = chance[k]
    out.update(end_metrics(a, picture_s))
    out.update(judged_s=length, n_cuts=int(ev.cut_times_s.size), n_visual_beats=int(ev.beat_times_s.size),
               n_onsets=int(np.sum(a.onset_times_s < length)),
               n_beats=int(np.sum(a.beat_times_s < length)), events=ev.source)
    return out


def cut_hits(ev: PictureEvents, a: AudioAnalysis) -> np.ndarray:
    """Per cut: whether an onset lies within ``HIT_WINDOW_S`` (bool, shape (C,))."""
    return nearest_dist(ev.cut_times_s, a.onset_times_s) <= HIT_WINDOW_S
