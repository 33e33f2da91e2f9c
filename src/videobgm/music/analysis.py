"""Small descriptive statistics of a :class:`~videobgm.types.Score` (NumPy only).

Used by the music bridge (index entries for MIDI without annotations) and by the
controllability benchmark (the *realised* attributes of generated music):

* :func:`estimate_key` - Krumhansl-Kessler key profiles correlated with the duration-weighted
  pitch-class histogram of the pitched tracks (24 keys; best Pearson correlation wins);
* :func:`estimate_chords` - one triad per bar (or half bar) by template matching (major / minor
  triads; a bar without pitched notes gets ``N``);
* :func:`realised_tempo_bpm` - 60 / median beat interval of the score's beat grid;
* :func:`onsets_per_bar`, :func:`mean_velocity`, :func:`programs_used`.
"""

from __future__ import annotations

import numpy as np

from videobgm.types import Chord, Score

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCHED = ("melody", "bridge", "piano", "bass")


def pitch_class_histogram(score: Score, *, start_step: int = 0, end_step: int | None = None) -> np.ndarray:
    """Duration-weighted pitch-class histogram of pitched notes with onset in ``[start, end)``, shape (12,)."""
    end = score.n_steps if end_step is None else end_step
    h = np.zeros(12)
    for n in score.notes:
        if n.track in PITCHED and start_step <= n.onset_16th < end:
            h[n.pitch % 12] += n.duration_16th
    return h


def key_correlations(hist: np.ndarray) -> np.ndarray:
    """Pearson correlation with the 24 key profiles, shape (2, 12): row 0 major, row 1 minor, column = tonic."""
    out = np.zeros((2, 12))
    if not np.any(hist > 0):
        return out
    for m, prof in enumerate((KK_MAJOR, KK_MINOR)):
        for t in range(12):
            out[m, t] = np.corrcoef(hist, np.roll(prof, t))[0, 1]
    return np.nan_to_num(out)


def estimate_key(score: Score) -> tuple[int, str, float]:
    """Most likely key of the pitched notes: ``(tonic 0..11, "major"|"minor", correlation)``.

    An empty score gives ``(0, "major", 0.0)``.
    """
    corr = key_correlations(pitch_class_histogram(score))
    m, t = np.unravel_index(int(np.argmax(corr)), corr.shape)
    return int(t), ("major", "minor")[int(m)], float(corr[m, t])


def mode_strength(score: Score, tonic: int | None = None) -> float:
    """Major-key minus minor-key profile correlation (> 0 leans major).

    ``tonic=None``: best major key vs best minor key over all tonics (a natural-minor piece can
    then read as its relative major); with ``tonic``: ``tonic`` major vs ``tonic`` minor.
    """
    corr = key_correlations(pitch_class_histogram(score))
    if tonic is None:
        return float(corr[0].max() - corr[1].max())
    return float(corr[0, int(tonic) % 12] - corr[1, int(tonic) % 12])


def estimate_chords(score: Score, *, per_bar: int = 1) -> list[Chord]:
    """One major/minor triad per bar (``per_bar=2``: per half bar) by template matching.

    Each segment's duration-weighted pitch-class histogram is scored against the 24 triad templates
    (weights 1 for chord tones, -0.2 for others); consecutive equal chords are merged.
    """
    seg = max(1, score.steps_per_bar // max(1, per_bar))
    templates, names = [], []
    for root in range(12):
        for q, third in (("maj", 4), ("min", 3)):
            v = np.full(12, -0.2)
            v[[root, (root + third) % 12, (root + 7) % 12]] = 1.0
            templates.append(v)
            names.append((root, q))
    tmat = np.array(templates)
    out: list[Chord] = []
    for start in range(0, score.n_steps, seg):
        h = pitch_class_histogram(score, start_step=start, end_step=start + seg)
        root, q = (-1, "N") if h.sum() == 0 else names[int(np.argmax(tmat @ (h / h.sum())))]
        if not out or (out[-1].root, out[-1].quality) != (root, q):
            out.append(Chord(start, root, q))
    return out


def realised_tempo_bpm(score: Score) -> float:
    """60 / median beat interval of the score's beat grid (``tempo_bpm`` when it has none)."""
    bt = score.beat_times()
    d = np.diff(bt)
    d = d[d > 0]
    return float(60.0 / np.median(d)) if d.size else float(score.tempo_bpm)


def onsets_per_bar(score: Score, *, tracks: tuple[str, ...] = PITCHED) -> np.ndarray:
    """Number of note onsets of ``tracks`` in every bar, int array (n_bars,)."""
    out = np.zeros(max(score.n_bars, 0), dtype=int)
    spb = score.steps_per_bar
    for n in score.notes:
        if n.track in tracks:
            b = n.onset_16th // spb
            if 0 <= b < out.size:
                out[b] += 1
    return out


def mean_velocity(score: Score) -> float:
    """Mean MIDI velocity of the pitched notes (0 for none)."""
    v = [n.velocity for n in score.notes if n.track in PITCHED]
    return float(np.mean(v)) if v else 0.0


def programs_used(score: Score) -> dict[str, int]:
    """GM program of every track that has notes (``-1`` for drums)."""
    tracks = {n.track for n in score.notes}
    return {t: (-1 if t == "drums" else int(score.programs.get(t, 0))) for t in sorted(tracks)}


# diatonic major triads/7ths per mode (degrees above the tonic); minor includes the harmonic V
_DIATONIC_MAJOR = {"major": (0, 5, 7), "minor": (3, 7, 8, 10)}
SEVENTH_SUS = ("7", "maj7", "min7", "sus2", "sus4")


def chord_changes(chords: list[Chord], n_steps: int) -> list[Chord]:
    """The chords sounding in ``[0, n_steps)`` as changes: ``N`` left out, repeats merged."""
    out: list[Chord] = []
    for c in sorted(chords, key=lambda c: c.onset_16th):
        if c.onset_16th >= n_steps or c.root < 0 or c.quality == "N":
            continue
        if out and (out[-1].root, out[-1].quality) == (c.root, c.quality):
            continue
        out.append(c)
    return out


def downbeat_chords(chords: list[Chord], n_bars: int, steps_per_bar: int) -> list[Chord | None]:
    """The chord sounding on each bar's downbeat (None before the first chord or on ``N``)."""
    srt = sorted(chords, key=lambda c: c.onset_16th)
    out: list[Chord | None] = []
    k, cur = 0, None
    for b in range(n_bars):
        while k < len(srt) and srt[k].onset_16th <= b * steps_per_bar:
            cur = srt[k]
            k += 1
        out.append(None if cur is None or cur.root < 0 or cur.quality == "N" else cur)
    return out


def cadence_check(chords: list[Chord], *, n_bars: int, steps_per_bar: int, tonic: int,
                  bars: dict[int, str]) -> dict[str, tuple[int, int]]:
    """Cadences met: ``bars`` maps a bar to ``"authentic"`` (one chord in the bar, on I, the
    chord before on V: degrees 0 and 7 above ``tonic``) or ``"half"`` (one chord in the bar, on
    V). Returns ``{kind: (met, total)}``."""
    ch = chord_changes(chords, n_bars * steps_per_bar)
    out = {"authentic": [0, 0], "half": [0, 0]}
    for b, kind in bars.items():
        out[kind][1] += 1
        inside = [i for i, c in enumerate(ch) if b * steps_per_bar <= c.onset_16th < (b + 1) * steps_per_bar]
        at = [i for i, c in enumerate(ch) if c.onset_16th <= b * steps_per_bar]
        if not at or any(ch[i].onset_16th > b * steps_per_bar for i in inside):
            continue
        i = at[-1]
        deg = (ch[i].root - tonic) % 12
        if kind == "half" and deg == 7:
            out[kind][0] += 1
        elif kind == "authentic" and deg == 0 and i > 0 and (ch[i - 1].root - tonic) % 12 == 7:
            out[kind][0] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def progression_stats(chords: list[Chord], *, n_bars: int, steps_per_bar: int, tonic: int,
                      mode: str, window_bars: int = 24) -> dict[str, float]:
    """Chord-progression statistics over the first ``n_bars`` bars.

    * ``changes_per_bar``: chord changes (``N`` left out, the first chord counted) per bar;
    * ``tonic_bars``: share of bars whose downbeat chord has the tonic as root;
    * ``distinct``: distinct (root, quality) chords in the first ``window_bars`` bars (all bars
      when the piece is shorter);
    * ``seventh_sus``: share of changes that are 7th or sus chords;
    * ``secondary_dominants``: share of changes that are a non-diatonic major/dominant-7th chord
      resolving down a fifth to the next chord.
    """
    n_steps = n_bars * steps_per_bar
    ch = chord_changes(chords, n_steps)
    down = downbeat_chords(chords, n_bars, steps_per_bar)
    win = chord_changes(chords, min(n_bars, window_bars) * steps_per_bar)
    sec = 0
    for a, b in zip(ch, ch[1:]):
        deg = (a.root - tonic) % 12
        if a.quality in ("maj", "7") and deg not in _DIATONIC_MAJOR[mode] and b.root == (a.root + 5) % 12:
            sec += 1
    n = max(len(ch), 1)
    return {
        "changes_per_bar": len(ch) / max(n_bars, 1),
        "tonic_bars": sum(1 for c in down if c is not None and c.root == tonic % 12) / max(n_bars, 1),
        "distinct": float(len({(c.root, c.quality) for c in win})),
        "seventh_sus": sum(1 for c in ch if c.quality in SEVENTH_SUS) / n,
        "secondary_dominants": sec / n,
    }


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
