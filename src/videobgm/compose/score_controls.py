"""The CMT controls a score realises: what training conditions on and evaluation measures.

:func:`controls_from_score` reads a :class:`~videobgm.types.Score` back into
:class:`~videobgm.types.Controls` -- density per bar (pitched onsets, drums excluded), strength
per beat (pitched notes on the beat's first 16th), accent steps (:func:`accent_steps_of`: the
loudest onsets, top ``1 - ACCENT_QUANTILE`` of the per-step maxima and above their median),
chords, key, mode, tempo, the tracks that play and the bars with a melody. The planner makes
the same controls from a video (:mod:`videobgm.plan.motion_controls`).
"""

from __future__ import annotations

import numpy as np

from videobgm.types import STEPS_PER_BEAT, TRACKS, Controls, Score

ACCENT_QUANTILE = 0.9  # accent steps: top 10 % of per-step max onset velocity (see accent_steps_of)


def accent_steps_of(score: Score, *, quantile: float = ACCENT_QUANTILE) -> np.ndarray:
    """Accent steps of a score, shape (n_steps,) bool.

    A step is an accent when the maximum velocity of the notes (pitched tracks) with an onset there
    is >= the ``quantile`` of those per-step maxima over the piece *and* strictly above their
    median (so a piece with one constant velocity has no accents).
    """
    out = np.zeros(score.n_steps, dtype=bool)
    vmax = np.zeros(score.n_steps, dtype=np.int64)
    for n in score.notes:
        if n.track != "drums" and 0 <= n.onset_16th < score.n_steps:
            vmax[n.onset_16th] = max(vmax[n.onset_16th], n.velocity)
    vals = vmax[vmax > 0]
    if vals.size == 0:
        return out
    thr = np.quantile(vals, quantile)
    med = np.median(vals)
    out[:] = (vmax >= thr) & (vmax > med)
    return out


def controls_from_score(score: Score) -> Controls:
    """The CMT controls a score realises (used for training and for evaluation of control fit).

    Density per bar = onsets of pitched tracks (drums excluded) in the bar; strength per beat =
    pitched notes with onset on the beat's first 16th; accents from :func:`accent_steps_of`;
    chords, key, mode and tempo copied; tracks = tracks that have notes (in TRACKS order);
    melody bars = bars with a melody onset (None when the score has no melody).
    """
    spb = score.steps_per_bar
    density = np.zeros(score.n_bars, dtype=np.int64)
    strength = np.zeros(score.n_bars * score.beats_per_bar, dtype=np.int64)
    melody = np.zeros(score.n_bars, dtype=bool)
    for n in score.notes:
        if n.track == "drums" or not 0 <= n.onset_16th < score.n_steps:
            continue
        density[n.onset_16th // spb] += 1
        melody[n.onset_16th // spb] |= n.track == "melody"
        if n.onset_16th % STEPS_PER_BEAT == 0:
            strength[n.onset_16th // STEPS_PER_BEAT] += 1
    used = {n.track for n in score.notes}
    return Controls(
        n_bars=score.n_bars,
        beats_per_bar=score.beats_per_bar,
        density_per_bar=density,
        strength_per_beat=strength,
        accent_steps=accent_steps_of(score),
        chords=list(score.chords),
        key_tonic=score.key_tonic,
        mode=score.mode,
        tracks=tuple(t for t in TRACKS if t in used),
        tempo_bpm=float(score.tempo_bpm),
        melody_bars=melody if melody.any() else None,
    )
