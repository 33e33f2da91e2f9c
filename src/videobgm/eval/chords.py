"""Which chord sounds on each beat: chord recognition from notes, and chord accuracy.

Two recognisers over the notes sounding in each beat (drums excluded), both answering a root
(pitch class) and a chord *family* (``maj`` for maj/7/maj7, ``min`` for min/min7, ``dim``,
``aug``, ``sus4``, ``sus2``; the level at which a requested chord counts as followed):

* ``template`` -- cosine similarity of the beat's duration-weighted chroma (one count per
  sounding 16th and pitch) with the binary templates of the 9 chord qualities on 12 roots; the
  best template wins. Classic and parameter-free, but blind to the bass: a C triad with a passing
  A is Am7, a bare C-G fifth with a D is Csus2 or Gsus4.
* ``learned`` (default) -- a log-linear model over 72 classes (12 roots x 6 families). The
  features of a beat, rotated so that index 0 is the candidate root, are its chroma, its *bass*
  chroma (the lowest sounding pitch of every 16th) and its *onset* chroma (notes starting in the
  beat), each normalised to sum 1: 36 numbers, and one weight vector plus a bias per family,
  fitted (L2-regularised multinomial logistic regression) to the chord annotations of POP909's
  train split by :func:`fit_recogniser` (``python -m videobgm.eval.chords --data POP909``).
  The shipped weights (``assets/chord_recogniser.json``) and how well each recogniser agrees
  with the annotations of held-out songs are in that file's ``provenance``.

:func:`chord_accuracy` is the control-fidelity measure of ``bench/quality.py``: the fraction of
beats that have a requested chord and sounding notes whose recognised chord is the requested one
(same root and family). On real songs against their own annotations it measures the recogniser.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.config import ASSETS_DIR
from videobgm.errors import InputError
from videobgm.types import STEPS_PER_BEAT, Chord, Score

FAMILIES: tuple[str, ...] = ("maj", "min", "dim", "aug", "sus4", "sus2")
FAMILY: dict[str, str] = {"maj": "maj", "7": "maj", "maj7": "maj", "min": "min", "min7": "min",
                          "dim": "dim", "aug": "aug", "sus4": "sus4", "sus2": "sus2"}
N_FEATURES = 36  # chroma, bass chroma, onset chroma (12 each, rotated to the candidate root)
METHODS = ("learned", "template")


def _asset_path() -> Path:
    return ASSETS_DIR / "chord_recogniser.json"


@dataclass(frozen=True)
class BeatChroma:
    """Per-beat pitch-class content of a Score.

    Attributes
    ----------
    chroma : ndarray, shape (n_beats, 12)
        Sounding 16th steps per pitch class (a note sounding on 3 steps of the beat counts 3).
    bass : ndarray, shape (n_beats, 12)
        Steps on which each pitch class is the lowest sounding pitch.
    onset : ndarray, shape (n_beats, 12)
        Note onsets in the beat per pitch class.
    """

    chroma: np.ndarray
    bass: np.ndarray
    onset: np.ndarray

    @property
    def sounding(self) -> np.ndarray:
        """(n_beats,) bool: something sounds in the beat."""
        return self.chroma.sum(1) > 0

    def features(self) -> np.ndarray:
        """(n_beats, 36): chroma, bass and onset chroma, each normalised to sum 1 (0 when empty)."""
        parts = [x / np.maximum(x.sum(1, keepdims=True), 1e-12) for x in (self.chroma, self.bass, self.onset)]
        return np.concatenate(parts, axis=1)


def beat_chroma(score: Score) -> BeatChroma:
    """Chroma, bass chroma and onset chroma of every beat of ``score`` (drums excluded)."""
    n_beats = score.n_bars * score.beats_per_bar
    n_steps = n_beats * STEPS_PER_BEAT
    roll = np.zeros((n_steps, 128), dtype=np.int32)
    onset = np.zeros((n_beats, 12))
    for n in score.notes:
        if n.track == "drums" or not 0 <= n.onset_16th < n_steps:
            continue
        roll[n.onset_16th: min(n.onset_16th + max(1, n.duration_16th), n_steps), n.pitch] += 1
        onset[n.onset_16th // STEPS_PER_BEAT, n.pitch % 12] += 1
    chroma = _fold(roll).reshape(n_beats, STEPS_PER_BEAT, 12).sum(1).astype(float)
    active = roll > 0
    has = active.any(1)
    low = active.argmax(1) % 12
    bass = np.zeros((n_beats, 12))
    np.add.at(bass, (np.flatnonzero(has) // STEPS_PER_BEAT, low[has]), 1.0)
    return BeatChroma(chroma=chroma, bass=bass, onset=onset)


def _fold(roll: np.ndarray) -> np.ndarray:
    """(steps, 128) -> (steps, 12) summed per pitch class."""
    out = np.zeros((roll.shape[0], 12), dtype=roll.dtype)
    for p in range(12):
        out[:, p] = roll[:, p::12].sum(1)
    return out


def _rotated(feats: np.ndarray) -> np.ndarray:
    """(N, 36) -> (N, 12, 36): the features seen from each candidate root r (index 0 = r)."""
    out = np.empty((feats.shape[0], 12, N_FEATURES))
    for r in range(12):
        for k in range(3):
            out[:, r, 12 * k: 12 * k + 12] = np.roll(feats[:, 12 * k: 12 * k + 12], -r, axis=1)
    return out


def _logits(weights: np.ndarray, rotated: np.ndarray) -> np.ndarray:
    """(N, 72) class scores, class = root * 6 + family index; ``weights`` (6, 37) (last = bias)."""
    s = np.einsum("nrf,qf->nrq", rotated, weights[:, :N_FEATURES]) + weights[:, N_FEATURES]
    return s.reshape(rotated.shape[0], 12 * len(FAMILIES))


def load_weights(path: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Weights (6, 37) and provenance of a learned recogniser (default: the packaged one).

    Raises
    ------
    InputError
        Missing or malformed file.
    """
    p = Path(path) if path is not None else _asset_path()
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        w = np.asarray(d["weights"], dtype=float)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"cannot read chord recogniser {p}: {e}") from None
    if w.shape != (len(FAMILIES), N_FEATURES + 1) or list(d.get("families", FAMILIES)) != list(FAMILIES):
        raise InputError(f"chord recogniser {p} has weights of shape {w.shape}, expected "
                         f"{(len(FAMILIES), N_FEATURES + 1)}")
    return w, dict(d.get("provenance", {}))


@functools.lru_cache(maxsize=1)
def _template_matrix() -> tuple[tuple[tuple[int, str], ...], np.ndarray]:
    """Chord names ``(root, quality)`` and their unit chroma templates (108, 12), built once."""
    from videobgm.compose.constraints import CHORD_INTERVALS

    names, rows = [], []
    for q, iv in CHORD_INTERVALS.items():
        for r in range(12):
            v = np.zeros(12)
            v[[(r + i) % 12 for i in iv]] = 1.0
            names.append((r, q))
            rows.append(v / np.linalg.norm(v))
    templates = np.array(rows)
    templates.setflags(write=False)
    return tuple(names), templates


def _template_scores(bc: BeatChroma, idx: np.ndarray) -> tuple[tuple[tuple[int, str], ...], np.ndarray]:
    """Template names and cosine scores (len(idx), 108) of the beats ``idx`` (all sounding)."""
    names, T = _template_matrix()
    c = bc.chroma[idx]
    return names, (c / np.linalg.norm(c, axis=1, keepdims=True)) @ T.T


def recognise(score: Score, *, method: str = "learned", weights: np.ndarray | None = None
              ) -> list[tuple[int, str] | None]:
    """The recognised chord of every beat: ``(root 0..11, family)``, None where nothing sounds.

    Parameters
    ----------
    score : Score
    method : {"learned", "template"}
    weights : ndarray (6, 37), optional
        Learned weights (default: the packaged recogniser).
    """
    return _recognise(beat_chroma(score), method, weights)[0]


def _recognise(bc: BeatChroma, method: str, weights: np.ndarray | None
               ) -> tuple[list[tuple[int, str] | None], dict[int, np.ndarray]]:
    """:func:`recognise` on beat chroma; also the template scores per beat (``template`` only)."""
    if method not in METHODS:
        raise InputError(f"unknown chord recogniser {method!r}; accepted: {', '.join(METHODS)}")
    on = bc.sounding
    out: list[tuple[int, str] | None] = [None] * len(on)
    idx = np.flatnonzero(on)
    if not idx.size:
        return out, {}
    if method == "template":
        names, sc = _template_scores(bc, idx)
        for b, row in zip(idx, sc, strict=True):
            r, q = names[int(np.argmax(row))]
            out[int(b)] = (r, FAMILY[q])
        return out, {int(b): row for b, row in zip(idx, sc, strict=True)}
    w = load_weights()[0] if weights is None else np.asarray(weights, float)
    best = np.argmax(_logits(w, _rotated(bc.features()[idx])), axis=1)
    for b, k in zip(idx, best, strict=True):
        out[int(b)] = (int(k) // len(FAMILIES), FAMILIES[int(k) % len(FAMILIES)])
    return out, {}


def _requested(chords: list[Chord], n_beats: int) -> list[tuple[int, str] | None]:
    """The requested chord at each beat's first 16th as ``(root, quality)`` (None: no chord)."""
    from videobgm.compose.conditioning import chord_per_step
    from videobgm.compose.token_codes import chord_of_index

    want = chord_per_step(chords, n_beats * STEPS_PER_BEAT)[::STEPS_PER_BEAT]
    out: list[tuple[int, str] | None] = []
    for v in want:
        r, q = chord_of_index(int(v))
        out.append((r, q) if r >= 0 and q in FAMILY else None)
    return out


def requested_per_beat(chords: list[Chord], n_beats: int) -> list[tuple[int, str] | None]:
    """The requested chord at each beat's first 16th as ``(root, family)`` (None: no chord)."""
    return [None if w is None else (w[0], FAMILY[w[1]]) for w in _requested(chords, n_beats)]


def chord_accuracy(score: Score, chords: list[Chord] | None = None, *, method: str = "learned",
                   weights: np.ndarray | None = None, tolerance: float = 0.05) -> dict[str, float | int]:
    """Fraction of beats whose recognised chord is the requested one.

    Parameters
    ----------
    score : Score
        The music.
    chords : list of Chord, optional
        The requested chords (default: ``score.chords``, e.g. a song's own annotations).
    method, weights
        See :func:`recognise`.
    tolerance : float
        ``template`` only: a beat also counts as ``near`` when the requested chord's own template
        (its exact quality) scores within this fraction of the best template (ties such as C vs
        Am7 without the A's weight, Csus2 vs Gsus4).

    Returns
    -------
    dict
        ``correct`` and ``beats`` (beats with a requested chord and sounding notes),
        ``accuracy`` = correct / beats (NaN when no beat counts); for ``template`` also ``near``
        and ``tolerant_accuracy`` = near / beats.
    """
    n_beats = score.n_bars * score.beats_per_bar
    want = _requested(score.chords if chords is None else chords, n_beats)
    got, scores = _recognise(beat_chroma(score), method, weights)
    beats = [b for b in range(n_beats) if want[b] is not None and got[b] is not None]
    ok = sum(int(got[b] == (want[b][0], FAMILY[want[b][1]])) for b in beats)  # type: ignore[index]
    out: dict[str, float | int] = {"correct": ok, "beats": len(beats),
                                   "accuracy": ok / len(beats) if beats else float("nan")}
    if method == "template":
        names = _template_matrix()[0]
        near = sum(int(scores[b][names.index(want[b])] >= (1.0 - tolerance) * scores[b].max())  # type: ignore[arg-type]
                   for b in beats)
        out.update(near=near, tolerant_accuracy=near / len(beats) if beats else float("nan"))
    return out


def fit_recogniser(scores: list[Score], *, l2: float = 1e-4, max_iter: int = 500) -> np.ndarray:
    """Fit the learned recogniser's weights (6, 37) to the chords annotated in ``scores``.

    Multinomial logistic regression over 72 classes (root x family) whose class score is
    ``w_family . features_rotated_to_root + b_family`` (see the module docstring); L-BFGS with an L2
    penalty ``l2`` on the non-bias weights. Beats without an annotated chord or without sounding
    notes are left out.

    Raises
    ------
    InputError
        No beat with both an annotated chord and sounding notes.
    """
    from scipy.optimize import minimize

    feats, labels = [], []
    for s in scores:
        bc = beat_chroma(s)
        want = requested_per_beat(s.chords, len(bc.sounding))
        f = bc.features()
        for b, w in enumerate(want):
            if w is not None and bc.sounding[b]:
                feats.append(f[b])
                labels.append(w[0] * len(FAMILIES) + FAMILIES.index(w[1]))
    if not feats:
        raise InputError("no beat with an annotated chord and sounding notes to fit a chord recogniser")
    R = _rotated(np.asarray(feats))
    y = np.asarray(labels)
    nq = len(FAMILIES)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        W = w.reshape(nq, N_FEATURES + 1)
        L = _logits(W, R)
        L -= L.max(1, keepdims=True)
        P = np.exp(L)
        P /= P.sum(1, keepdims=True)
        nll = -np.log(P[np.arange(y.size), y] + 1e-12).mean()
        G = P
        G[np.arange(y.size), y] -= 1.0
        G = G.reshape(y.size, 12, nq) / y.size
        g = np.concatenate([np.einsum("nrq,nrf->qf", G, R), G.sum((0, 1))[:, None]], axis=1)
        g[:, :N_FEATURES] += 2 * l2 * W[:, :N_FEATURES]
        return float(nll + l2 * (W[:, :N_FEATURES] ** 2).sum()), g.ravel()

    res = minimize(loss, np.zeros(nq * (N_FEATURES + 1)), jac=True, method="L-BFGS-B",
                   options={"maxiter": int(max_iter)})
    return res.x.reshape(nq, N_FEATURES + 1)


def save_weights(path: str | os.PathLike[str], weights: np.ndarray, provenance: dict[str, Any]) -> None:
    """Write a recogniser file (weights, families, provenance) atomically."""
    from videobgm.io import write_json

    write_json(Path(path), {"families": list(FAMILIES), "features": "chroma, bass chroma, onset chroma "
                            "(12 each, rotated to the root, each normalised to sum 1), then bias",
                            "weights": np.round(np.asarray(weights, float), 6).tolist(),
                            "provenance": provenance})


def main(argv: list[str] | None = None) -> int:
    """``python -m videobgm.eval.chords [--data POP909] [--out FILE]``: fit the learned recogniser
    on POP909's train split, report agreement with the annotations of the val and test splits for
    both recognisers, and write the weights (default: the packaged asset)."""
    import argparse
    import sys
    import time

    from videobgm.data.pop909 import load_song, song_dirs
    from videobgm.errors import VideobgmError

    ap = argparse.ArgumentParser(prog="python -m videobgm.eval.chords", description=main.__doc__)
    ap.add_argument("--data", default=None, help="POP909 folder (default: VIDEOBGM_POP909 or ../shared/data/POP909)")
    ap.add_argument("--out", default=str(_asset_path()), help="where to write the weights")
    ap.add_argument("--songs", type=int, default=0, help="use only the first N train songs (0 = all)")
    ap.add_argument("--l2", type=float, default=1e-4)
    args = ap.parse_args(argv)
    try:
        t0 = time.perf_counter()
        split_scores: dict[str, list[Score]] = {}
        for split in ("train", "val", "test"):
            dirs = song_dirs(args.data, split)
            if split == "train" and args.songs:
                dirs = dirs[: args.songs]
            split_scores[split] = [load_song(d)[0] for d in dirs]
            print(f"{split}: {len(dirs)} songs", file=sys.stderr)
        w = fit_recogniser(split_scores["train"], l2=args.l2)
        agreement: dict[str, dict[str, float]] = {}
        for split, scores in split_scores.items():
            for method in METHODS:
                tot = [chord_accuracy(s, method=method, weights=w if method == "learned" else None)
                       for s in scores]
                ok, n = sum(int(t["correct"]) for t in tot), sum(int(t["beats"]) for t in tot)
                agreement.setdefault(split, {})[method] = round(ok / max(n, 1), 4)
                agreement[split]["beats"] = n
        prov = {"data": "POP909 (chord_midi.txt annotations on the annotated beat grid, whole songs)",
                "fitted_on": f"train split, {len(split_scores['train'])} songs",
                "l2": args.l2, "command": "python -m videobgm.eval.chords" + (
                    f" --songs {args.songs}" if args.songs else ""),
                "agreement_with_annotations": agreement,
                "seconds": round(time.perf_counter() - t0, 1)}
        save_weights(args.out, w, prov)
    except VideobgmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(agreement, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
