"""Music-only (symbolic) metrics as plain functions over a :class:`~videobgm.types.Score`: the pitch
and rhythm families here, structureness in :mod:`videobgm.eval.structure`, all of them by
:func:`compute_all`.

Two conventions (``convention=`` of :func:`compute_all` and of the functions that differ):

``"default"`` (our definitions; their names say what they are):

* **Grid**: the score's 16th-note grid (4 steps per beat, ``beats_per_bar * 4`` per bar). A note
  occupies steps ``[onset, onset + duration)``: a note ending exactly on a beat does *not* sound in
  the next beat.
* **Drums**: excluded from pitch metrics (entropies, scale, polyphony, structureness); included in
  rhythm metrics (empty beats, inter-onset interval, grooving) unless ``include_drums=False``.
* **Counts**: histograms count notes (onsets), not durations, as muspy and the Jazz Transformer's
  MusDr do.
* ``ioi_unique_onsets_s`` / ``_beats``: simultaneous onsets count once (not the published IOI).
* ``grooving_similarity``: MusDr's GS, all pairs of non-empty bars.
* **Undefined values** are NaN (no pitched note; fewer than two bars with onsets; ...), never an
  exception.

``"papers"`` (``"muspy"`` is accepted as an alias, the name it had before): each metric exactly as
the function the papers' tables were made with, on the same 16th grid (resolution 4 per beat);
``tests/eval/test_symbolic_papers.py`` checks them against muspy 0.5 and mgeval to 1e-6:

* scale consistency, pitch entropy, pitch-class entropy, pitch-in-scale rate, polyphony: muspy's,
  which are our definitions too (every pitched note counts, duplicates included);
* ``empty_beat_rate`` = ``muspy.empty_beat_rate``: beats ``0 .. length // 4`` inclusive, where
  ``length`` is the last note end of *any* track (drums too); a note marks beats
  ``onset // 4 .. end // 4`` *inclusive*, so a note ending exactly on a beat fills that beat;
* ``groove_consistency`` = ``muspy.groove_consistency(music, steps_per_bar)``: adjacent bar pairs
  of all ``length // steps_per_bar + 1`` bars (empty ones and a bar that starts at the last note
  end included), onsets of every track;
* ``polyphony_rate`` = muspy's: divided by the length of the whole piece (drums included);
* ``avg_ioi_s`` = mgeval's ``avg_IOI``: the onsets of every note of every track (drums included,
  simultaneous onsets kept), sorted, mean of the successive differences in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from videobgm.errors import OptionError
from videobgm.eval.structure import SI_RANGES_S, structureness, times_of_steps
from videobgm.music.theory import scale_pitch_classes
from videobgm.types import STEPS_PER_BEAT, Note, Score

CONVENTIONS = ("default", "papers")
CONVENTION_ALIASES = {"muspy": "papers"}  # the papers' convention was called "muspy" before
NAN = float("nan")


def canonical_convention(convention: str) -> str:
    """The convention's canonical name (``"muspy"`` -> ``"papers"``); OptionError if unknown."""
    name = CONVENTION_ALIASES.get(convention, convention)
    if name not in CONVENTIONS:
        accepted = ", ".join([*CONVENTIONS, *(f"{a} (= {b})" for a, b in CONVENTION_ALIASES.items())])
        raise OptionError(f"unknown metric convention {convention!r}; accepted: {accepted}")
    return name


def _pitched(score: Score) -> list[Note]:
    return [n for n in score.notes if n.track != "drums"]


def _rhythm_notes(score: Score, include_drums: bool) -> list[Note]:
    return list(score.notes) if include_drums else _pitched(score)


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if total <= 0:
        return NAN
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum())


# ------------------------------------------------------------------------------------------------
# pitch metrics (drums excluded)
# ------------------------------------------------------------------------------------------------
def pitch_class_entropy(score: Score) -> float:
    """Shannon entropy (bits, 0..log2 12) of the piece's pitch-class histogram (note counts).

    Pitched tracks only; NaN without pitched notes.
    """
    pcs = np.array([n.pitch % 12 for n in _pitched(score)], dtype=np.int64)
    return _entropy(np.bincount(pcs, minlength=12).astype(float))


def pitch_class_entropy_windows(score: Score, window_bars: int) -> float:
    """Mean pitch-class entropy over windows of ``window_bars`` bars, sliding by one bar (MusDr H1/H4).

    Windows start at bars ``0 .. n_bars - window_bars`` (one window if the piece is shorter);
    windows without pitched onsets are skipped. Pitched tracks only; note counts by onset bar.
    NaN when no window has notes.
    """
    if window_bars < 1:
        raise OptionError(f"window_bars must be >= 1, got {window_bars}")
    notes = _pitched(score)
    if not notes or score.n_bars < 1:
        return NAN
    spb = score.steps_per_bar
    hist = np.zeros((score.n_bars, 12))
    for n in notes:
        b = n.onset_16th // spb
        if 0 <= b < score.n_bars:
            hist[b, n.pitch % 12] += 1
    w = min(window_bars, score.n_bars)
    csum = np.concatenate([np.zeros((1, 12)), np.cumsum(hist, axis=0)])
    win = csum[w:] - csum[:-w]  # (n_windows, 12)
    tot = win.sum(axis=1)
    win = win[tot > 0]
    if win.shape[0] == 0:
        return NAN
    p = win / win.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1)
    return float(h.mean())


def pitch_entropy(score: Score) -> float:
    """Shannon entropy (bits) of the 128-bin MIDI pitch histogram (note counts), pitched tracks."""
    p = np.array([n.pitch for n in _pitched(score)], dtype=np.int64)
    return _entropy(np.bincount(p, minlength=128).astype(float))


def _scale(tonic: int, mode: str) -> np.ndarray:
    out = np.zeros(12, dtype=bool)
    out[list(scale_pitch_classes(tonic, mode))] = True
    return out


def pitch_in_scale_rate(score: Score, key_tonic: int | None = None, mode: str | None = None) -> float:
    """Fraction of pitched notes whose pitch class is in the scale of the key (default: the score's).

    Minor = natural minor. NaN without pitched notes.
    """
    pcs = np.array([n.pitch % 12 for n in _pitched(score)], dtype=np.int64)
    if pcs.size == 0:
        return NAN
    scale = _scale(score.key_tonic if key_tonic is None else key_tonic, mode or score.mode)
    return float(scale[pcs].mean())


def scale_consistency(score: Score) -> float:
    """Largest pitch-in-scale rate over the 24 major / natural-minor scales (pitched notes)."""
    pcs = np.array([n.pitch % 12 for n in _pitched(score)], dtype=np.int64)
    if pcs.size == 0:
        return NAN
    hist = np.bincount(pcs, minlength=12)
    best = max(float(hist[_scale(t, m)].sum()) for m in ("major", "minor") for t in range(12))
    return best / pcs.size


def _pianoroll(score: Score, notes: Iterable[Note], length: int) -> np.ndarray:
    roll = np.zeros((max(length, 0), 128), dtype=bool)
    for n in notes:
        roll[max(n.onset_16th, 0): n.onset_16th + n.duration_16th, n.pitch] = True
    return roll


def polyphony(score: Score) -> float:
    """Mean number of distinct pitches sounding per 16th step, over steps where at least one sounds.

    Pitched tracks only (muspy's definition, on the 16th grid). NaN without pitched notes.
    """
    notes = _pitched(score)
    if not notes:
        return NAN
    length = max(n.onset_16th + n.duration_16th for n in notes)
    counts = _pianoroll(score, notes, length).sum(axis=1)
    on = counts > 0
    return float(counts[on].sum() / on.sum()) if on.any() else NAN


def polyphony_rate(score: Score, threshold: int = 2, *, convention: str = "default") -> float:
    """Fraction of 16th steps (0 .. last note end) where more than ``threshold`` pitches sound.

    Pitched tracks only (muspy's ``polyphony_rate``: strictly more than ``threshold``). default:
    steps up to the last pitched note's end, NaN without pitched notes; papers (muspy): steps up
    to the last end of any track, drums included (0.0 for drums only), NaN for a zero length.
    """
    convention = canonical_convention(convention)
    notes = _pitched(score)
    counted = score.notes if convention == "papers" else notes
    length = max((n.onset_16th + n.duration_16th for n in counted), default=0)
    if length < 1:
        return NAN
    counts = _pianoroll(score, notes, length).sum(axis=1)
    return float(np.mean(counts > threshold))


# ------------------------------------------------------------------------------------------------
# rhythm metrics (drums included by default)
# ------------------------------------------------------------------------------------------------
def empty_beat_rate(score: Score, *, include_drums: bool = True, convention: str = "default") -> float:
    """Fraction of beats in which no note sounds.

    default: beats ``0 .. n_bars * beats_per_bar - 1``; beat ``b`` covers steps
    ``[4b, 4b + 4)``; it is empty when no note's ``[onset, onset + duration)`` intersects it (a note
    ending exactly on a beat does not fill the next one). NaN for a zero-length score.

    papers (``muspy.empty_beat_rate``): beats ``0 .. max_end // 4`` inclusive and a note fills
    beats ``onset // 4 .. end // 4`` inclusive (see module docstring). NaN when the last note
    ends at step 0 or there are no notes.
    """
    convention = canonical_convention(convention)
    notes = _rhythm_notes(score, include_drums)
    if convention == "papers":
        length = max((n.onset_16th + n.duration_16th for n in notes), default=0)
        if length < 1:
            return NAN
        n_beats = length // STEPS_PER_BEAT + 1
        filled = np.zeros(n_beats, dtype=bool)
        for n in notes:
            filled[n.onset_16th // STEPS_PER_BEAT: (n.onset_16th + n.duration_16th) // STEPS_PER_BEAT + 1] = True
        return float(1.0 - filled.mean())
    n_beats = score.n_bars * score.beats_per_bar
    if n_beats <= 0:
        return NAN
    diff = np.zeros(n_beats + 1, dtype=np.int64)
    for n in notes:
        b0 = max(n.onset_16th, 0) // STEPS_PER_BEAT
        b1 = (n.onset_16th + n.duration_16th - 1) // STEPS_PER_BEAT  # beat of the last sounding step
        if b0 < n_beats and b1 >= b0:
            diff[b0] += 1
            diff[min(b1, n_beats - 1) + 1] -= 1
    filled = np.cumsum(diff[:-1]) > 0
    return float(1.0 - filled.mean())


def inter_onset_interval(score: Score, *, include_drums: bool = True) -> dict[str, float]:
    """Mean interval between consecutive *distinct* onset times (our variant, not the papers' IOI).

    Returns ``{"ioi_unique_onsets_s": seconds (real time from score.step_times()),
    "ioi_unique_onsets_beats": beats}``; simultaneous onsets count once, onsets outside the score's
    bars are left out. NaN with fewer than two distinct onsets. About twice :func:`avg_ioi` on
    polyphonic music, which keeps every onset.
    """
    steps = np.unique([n.onset_16th for n in _rhythm_notes(score, include_drums)])
    steps = steps[(steps >= 0) & (steps < max(score.n_steps, 1))] if score.n_steps else steps
    if steps.size < 2:
        return {"ioi_unique_onsets_s": NAN, "ioi_unique_onsets_beats": NAN}
    t = score.step_times()[steps]
    return {"ioi_unique_onsets_s": float(np.mean(np.diff(t))),
            "ioi_unique_onsets_beats": float(np.mean(np.diff(steps)) / STEPS_PER_BEAT)}


def avg_ioi(score: Score, *, include_drums: bool = True) -> float:
    """mgeval's ``avg_IOI`` in seconds: the onset of every note of every track (drums included,
    simultaneous onsets kept: ``pretty_midi.PrettyMIDI.get_onsets``), sorted, mean of the
    successive differences. Times from ``score.step_times()``. NaN with fewer than two notes.
    """
    steps = np.array([n.onset_16th for n in _rhythm_notes(score, include_drums)], dtype=np.int64)
    if steps.size < 2:
        return NAN
    t = np.sort(times_of_steps(score.step_times(), steps))
    return float(np.mean(np.diff(t)))


def _groove_patterns(score: Score, notes: list[Note], n_bars: int | None = None) -> np.ndarray:
    spb = score.steps_per_bar
    n_bars = score.n_bars if n_bars is None else n_bars
    g = np.zeros((n_bars, spb), dtype=bool)
    for n in notes:
        b, pos = divmod(n.onset_16th, spb)
        if 0 <= b < n_bars:
            g[b, pos] = True
    return g


def groove_consistency(score: Score, *, include_drums: bool = True) -> float:
    """muspy's ``groove_consistency(music, measure_resolution=steps_per_bar)`` on the 16th grid.

    ``length`` = the last note end (steps, every track); the bars are ``0 .. length // spb``
    (empty ones included, and the bar that starts where the last note ends exactly on a bar line);
    each gives its binary onset vector ``G_i`` over ``spb`` positions, and the result is
    ``1 - sum_i hamming(G_i, G_i+1) / (spb * (n_bars - 1))``. NaN with fewer than two bars.
    """
    notes = _rhythm_notes(score, include_drums)
    spb = score.steps_per_bar
    length = max((n.onset_16th + n.duration_16th for n in notes), default=0)
    n_bars = length // spb + 1
    if n_bars < 2:
        return NAN
    g = _groove_patterns(score, notes, n_bars)
    return float(1.0 - np.count_nonzero(g[:-1] != g[1:]) / (spb * (n_bars - 1)))


def grooving_similarity(score: Score, *, include_drums: bool = True, max_pairs: int = 20000,
                        seed: int = 0) -> float:
    """Grooving pattern similarity (Jazz Transformer GS) on the 16th grid.

    default: each bar with at least one onset gives a binary onset vector over its
    ``steps_per_bar`` (16 in 4/4) positions; GS = mean over all pairs of such bars of
    ``1 - popcount(g_i XOR g_j) / steps_per_bar``. Bars without onsets are left out. When there are
    more than ``max_pairs`` pairs, ``max_pairs`` pairs are sampled with ``numpy.random.default_rng(seed)``.
    NaN with fewer than two non-empty bars. The papers' convention uses :func:`groove_consistency`.
    """
    g = _groove_patterns(score, _rhythm_notes(score, include_drums))
    q = g.shape[1]
    g = g[g.any(axis=1)].astype(np.int32)
    m = g.shape[0]
    if m < 2:
        return NAN
    n_pairs = m * (m - 1) // 2
    if n_pairs <= max_pairs:
        inter = g @ g.T
        cnt = g.sum(axis=1)
        ham = cnt[:, None] + cnt[None, :] - 2 * inter
        iu = np.triu_indices(m, k=1)
        return float(1.0 - ham[iu].mean() / q)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, m, size=max_pairs)
    j = (i + rng.integers(1, m, size=max_pairs)) % m  # j != i
    ham = np.count_nonzero(g[i] != g[j], axis=1)
    return float(1.0 - ham.mean() / q)


# ------------------------------------------------------------------------------------------------
# all together
# ------------------------------------------------------------------------------------------------
METRIC_NAMES: tuple[str, ...] = (
    "pitch_class_entropy", "pitch_class_entropy_1bar", "pitch_class_entropy_4bar", "pitch_entropy",
    "scale_consistency", "pitch_in_scale_rate", "empty_beat_rate", "ioi_unique_onsets_s",
    "ioi_unique_onsets_beats", "grooving_similarity", "polyphony", "polyphony_rate",
    "si_short", "si_mid", "si_long",
)
"""The keys of :func:`compute_all` under the default convention."""

PAPERS_METRIC_NAMES: tuple[str, ...] = (
    "pitch_class_entropy", "pitch_class_entropy_1bar", "pitch_class_entropy_4bar", "pitch_entropy",
    "scale_consistency", "pitch_in_scale_rate", "empty_beat_rate", "avg_ioi_s",
    "groove_consistency", "polyphony", "polyphony_rate", "si_short", "si_mid", "si_long",
)
"""The keys under the papers' convention (``avg_ioi_s``: mgeval; ``groove_consistency``: muspy)."""


def metric_names(convention: str = "default") -> tuple[str, ...]:
    """The keys :func:`compute_all` returns under ``convention``."""
    return PAPERS_METRIC_NAMES if canonical_convention(convention) == "papers" else METRIC_NAMES


def compute_all(score: Score, *, convention: str = "default", seed: int = 0,
                structure: bool = True) -> dict[str, Any]:
    """Every metric of this module for one score, as ``{name: float}`` (keys = metric_names(convention)).

    ``convention="papers"`` (alias ``"muspy"``) computes empty-beat rate, polyphony rate, groove
    consistency (muspy) and IOI (mgeval ``avg_IOI``) as published; the other metrics are the same
    in both. ``structure=False`` skips the structureness indicators (NaN).
    """
    convention = canonical_convention(convention)
    out: dict[str, Any] = {
        "pitch_class_entropy": pitch_class_entropy(score),
        "pitch_class_entropy_1bar": pitch_class_entropy_windows(score, 1),
        "pitch_class_entropy_4bar": pitch_class_entropy_windows(score, 4),
        "pitch_entropy": pitch_entropy(score),
        "scale_consistency": scale_consistency(score),
        "pitch_in_scale_rate": pitch_in_scale_rate(score),
        "empty_beat_rate": empty_beat_rate(score, convention=convention),
        "polyphony": polyphony(score),
        "polyphony_rate": polyphony_rate(score, convention=convention),
    }
    if convention == "papers":
        out["avg_ioi_s"] = avg_ioi(score)
        out["groove_consistency"] = groove_consistency(score)
    else:
        out.update(inter_onset_interval(score))
        out["grooving_similarity"] = grooving_similarity(score, seed=seed)
    out.update(structureness(score) if structure else {f"si_{k}": NAN for k in SI_RANGES_S})
    return {k: out[k] for k in metric_names(convention)}
