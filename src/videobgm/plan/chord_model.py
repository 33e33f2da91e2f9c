"""A key-relative chord-progression model learned from POP909 (NumPy only).

The model
---------
A chord is a *symbol* ``degree * 9 + quality``: ``degree`` 0..11 semitones above the tonic,
``quality`` one of :data:`QUALITIES` (= :data:`~videobgm.types.CHORD_QUALITIES` without ``"N"``,
so every chord the model emits is a label the transformer's tokens know). POP909's richer
labels are mapped onto these by :func:`videobgm.data.pop909.parse_chord` (the one mapping:
``maj6 -> maj``, ``min6``/``minmaj7 -> min``, ``dim7``/``hdim7 -> dim``, ``sus4(b7) -> sus4``,
9ths -> their 7th chord, inversions kept apart as the bass, see below). A progression is three
independent learned parts:

* **chords**: an interpolated Kneser-Ney trigram over the sequence of chord *changes* (no
  self-transitions; ``N`` restarts the context), one per mode, tilted per event by a learned
  context factor ``(P(c | mode, role, position) / P(c | mode)) ** tilt`` (a product of experts;
  hierarchically smoothed toward ``P(c | mode, position)`` and ``P(c | mode)``). Roles are
  :data:`ROLES`; positions :data:`POSITIONS` (first chord of a phrase, middle, a phrase's
  penultimate bar, a phrase's last bar, a section's last bar);
* **harmonic rhythm**: per bar, the set of beats on which the chord changes (a bit mask),
  ``P(mask | beats per bar, role, bar position)``; sampling keeps at most ``max_changes`` per bar;
* **bass** (optional extra for the arranger): the bass interval above the root (0 = root
  position, 4 = a major third, ...) from POP909's ``/x`` inversions, ``P(inv | chord, next
  chord)`` (Witten-Bell, backing off to ``P(inv | chord)``), so passing basses appear where the
  data has them. :meth:`HarmonyModel.sample` returns it as ``Progression.bass`` (pitch classes).

Cadences and fixed chords are *constraints*: the trigram is sampled exactly under them by
backward filtering / forward sampling (each event has an allowed set of symbols; the backward
pass gives the probability of meeting every later constraint from each trigram state). A
half cadence ends a phrase on V (one chord for its last bar); an authentic cadence ends it on I
with V as the chord before. ``context_before`` / ``context_after`` (chords around a regenerated
section) enter as the initial trigram state and as the likelihood of the chords that follow.

Symbols, songs, layouts and counting live in :mod:`videobgm.plan.chord_corpus`. The trained counts ship as ``assets/harmony/harmony.json`` (see its ``PROVENANCE.md``); the
training recipe is :mod:`videobgm.train.harmony`. :func:`load` reads the asset;
:func:`~videobgm.plan.chord_sampling.plan_progression` samples the shipped model and falls back
to :func:`~videobgm.plan.chord_sampling.fallback_progression` (a hand table, with its reason) only
when no asset loads.

Example::

    from videobgm.plan.chord_model import load
    from videobgm.plan.chord_sampling import sample_progression
    p = sample_progression(load(), 24, beats_per_bar=4, mode="major", tonic=7,
                     sections=[(0, 8, "intro"), (8, 16, "verse"), (16, 24, "chorus")],
                     fixed={23: (7, "maj")}, seed=0)
    p.chords  # [Chord(onset_16th=0, root=7, quality='maj'), ...], onsets from the span's start
    p.bass    # bass pitch class per chord (the root unless the model chose an inversion)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.config import ASSETS_DIR
from videobgm.errors import InputError
from videobgm.plan.chord_corpus import (
    BOS,
    POSITIONS,
    QUALITIES,
    ROLES,
    HarmonySong,
    V,
    chains,
    count,
    symbol,
)
from videobgm.types import Chord

CADENCES: tuple[str, ...] = ("authentic", "half")
DOMINANT_QUALITIES = ("maj", "7", "sus4")  # V (sus4 includes POP909's sus4(b7), the pop "V11")
TONIC_QUALITIES = {"major": ("maj", "maj7"), "minor": ("min", "min7")}
ASSET = ASSETS_DIR / "harmony" / "harmony.json"
FORMAT = "videobgm-harmony-ngram/1"


def degree_set(degree: int, qualities: tuple[str, ...]) -> np.ndarray:
    m = np.zeros(V, dtype=bool)
    m[[symbol(degree, q) for q in qualities]] = True
    return m


def _absolute_discount(counts: np.ndarray, lower: np.ndarray, d: float | None = None) -> np.ndarray:
    """Interpolated absolute discounting (Kneser-Ney's form), ``d`` or ``n1 / (n1 + 2 n2)``."""
    if d is None:
        n1, n2 = float(np.sum(counts == 1)), float(np.sum(counts == 2))
        d = n1 / (n1 + 2 * n2) if n1 + n2 > 0 else 0.5
    n = counts.sum(-1, keepdims=True)
    t = (counts > 0).sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (np.maximum(counts - d, 0.0) + d * t * lower) / n
    return np.where(n > 0, p, lower)


def _wb(counts: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Interpolated Witten-Bell: counts (..., K) with the lower-order distribution (..., K)."""
    n = counts.sum(-1, keepdims=True)
    t = (counts > 0).sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (counts + t * lower) / (n + t)
    return np.where(n + t > 0, p, lower)


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------
@dataclass
class Progression:
    """A sampled progression: chords (onsets relative to the start), bass pitch class per chord
    (-1 for none), where it came from and why."""

    chords: list[Chord]
    bass: list[int]
    source: str
    reason: str
    notes: list[str] = field(default_factory=list)


class HarmonyModel:
    """The tables of :func:`count`, turned into probabilities (see the module docstring).

    ``min_count``: sampling uses the chords seen at least this often in the mode (20: 99.4 %
    of POP909's chord changes; fixed chords may lie outside). ``tilt``: exponent of the
    role/position factor; ``smoothing``: pseudo-count pulling each
    context's distribution toward its parent; ``discount``: the n-gram's absolute discount
    (None: Kneser-Ney's estimate from the counts of counts). All three are chosen on POP909's val
    split at training.
    """

    def __init__(self, counts: dict[str, Any], *, tilt: float = 1.0, smoothing: float = 50.0,
                 discount: float | None = None, min_count: int = 20,
                 meta: dict[str, Any] | None = None) -> None:
        self.counts, self.tilt, self.smoothing = counts, float(tilt), float(smoothing)
        self.min_count = int(min_count)
        self.discount = None if discount is None else float(discount)
        self.meta = dict(meta or {})
        self._cache: dict[Any, Any] = {}

    # ---- tables --------------------------------------------------------------------------
    def trigram(self, mode: str) -> np.ndarray:
        """``P(c | a, b)``, shape (V+1, V+1, V): interpolated Kneser-Ney (absolute discounts
        from the counts of counts; continuation counts for the bigram and unigram), no
        self-transitions (except after BOS)."""
        key = ("tri", mode)
        if key not in self._cache:
            rows = np.asarray(self.counts["trigram"].get(mode, []), dtype=np.int64).reshape(-1, 4)
            c3 = np.zeros((V + 1, V + 1, V))
            np.add.at(c3, (rows[:, 0], rows[:, 1], rows[:, 2]), rows[:, 3])
            k2 = (c3 > 0).sum(0).astype(float)  # distinct left contexts of (b, c)
            k1 = (k2 > 0).sum(0).astype(float)  # distinct left contexts of c
            p1 = (k1 + 1.0) / (k1.sum() + V)
            p2 = _absolute_discount(k2, np.broadcast_to(p1, k2.shape), self.discount)
            p3 = _absolute_discount(c3, np.broadcast_to(p2, c3.shape), self.discount)
            idx = np.arange(V)
            p3[:, idx, idx] = 0.0
            p3 /= p3.sum(-1, keepdims=True)
            self._cache[key] = p3
            c1 = c3.sum((0, 1))
            self._cache["uni", mode] = (c1 + 0.5) / (c1.sum() + 0.5 * V)
        return self._cache[key]

    def vocabulary(self, mode: str) -> np.ndarray:
        """Symbols seen at least ``min_count`` times in ``mode`` (the most common one if none)."""
        rows = np.asarray(self.counts["trigram"].get(mode, []), dtype=np.int64).reshape(-1, 4)
        c1 = np.bincount(rows[:, 2], weights=rows[:, 3], minlength=V)
        voc = np.flatnonzero(c1 >= self.min_count)
        return voc if voc.size else np.array([int(np.argmax(c1))])

    def unigram(self, mode: str) -> np.ndarray:
        self.trigram(mode)
        return self._cache["uni", mode]

    def context_weight(self, mode: str, role: str, position: str) -> np.ndarray:
        """The tilt factor ``(P(c | mode, role, pos) / P(c | mode)) ** tilt``, shape (V,)."""
        key = ("ctx", mode, role, position)
        if key not in self._cache:
            if ("ctxall", mode) not in self._cache:
                tab: dict[tuple[str, str], np.ndarray] = {}
                for r, p, c, n in self.counts["context"].get(mode, []):
                    tab.setdefault((r, p), np.zeros(V))[int(c)] += n
                self._cache["ctxall", mode] = tab
            tab = self._cache["ctxall", mode]
            p1, k = self.unigram(mode), self.smoothing
            n_pos = sum((v for (_, p), v in tab.items() if p == position), np.zeros(V))
            q_pos = (n_pos + k * p1) / (n_pos.sum() + k)
            n_rp = tab.get((role, position), np.zeros(V))
            q = (n_rp + k * q_pos) / (n_rp.sum() + k)
            self._cache[key] = (q / p1) ** self.tilt
        return self._cache[key]

    def rhythm(self, beats_per_bar: int, role: str, position: str) -> np.ndarray:
        """``P(mask | beats per bar, role, bar position)`` over masks 0..2**bpb-1."""
        key = ("rhy", beats_per_bar, role, position)
        if key not in self._cache:
            rows = [r for r in self.counts["rhythm"] if r[0] == beats_per_bar]
            n_masks = 1 << beats_per_bar
            if not rows:  # a meter POP909 lacks: the 4/4 rates of "one chord" vs "two per bar"
                q4 = self.rhythm(4, role, position)
                q = np.full(n_masks, 1e-3)
                q[1] += q4[0b0001]
                q[0] += q4[0]
                if beats_per_bar > 1:
                    q[1 | (1 << (beats_per_bar // 2))] += q4[0b0101]
                self._cache[key] = q / q.sum()
                return self._cache[key]
            k = self.smoothing
            n_all, n_pos, n_rp = (np.zeros(n_masks) for _ in range(3))
            for _, r, p, m, n in rows:
                n_all[m] += n
                if p == position:
                    n_pos[m] += n
                    if r == role:
                        n_rp[m] += n
            q_all = (n_all + 0.01) / (n_all.sum() + 0.01 * n_masks)
            q_pos = (n_pos + k * q_all) / (n_pos.sum() + k)
            self._cache[key] = (n_rp + k * q_pos) / (n_rp.sum() + k)
        return self._cache[key]

    def bass_table(self, mode: str) -> np.ndarray:
        """``P(inv | c, next)``, shape (V, V+1, 12)."""
        key = ("bass", mode)
        if key not in self._cache:
            rows = np.asarray(self.counts["bass"].get(mode, []), dtype=np.int64).reshape(-1, 4)
            c2 = np.zeros((V, V + 1, 12))
            np.add.at(c2, (rows[:, 0], rows[:, 1], rows[:, 2]), rows[:, 3])
            c0 = c2.sum((0, 1))
            p0 = np.zeros(12)
            p0[0] = 1.0
            p0 = (c0 + 1e-3 * p0) / (c0.sum() + 1e-3)
            p1 = _wb(c2.sum(1), np.broadcast_to(p0, (V, 12)))
            self._cache[key] = _wb(c2, np.broadcast_to(p1[:, None, :], c2.shape))
        return self._cache[key]

    # ---- scoring -------------------------------------------------------------------------
    def log2_loss(self, songs: list[HarmonySong], *, order: int = 3, context: bool = True) -> tuple[float, int]:
        """Mean -log2 P per chord change of ``songs`` and the number of changes.

        ``order`` 1/2/3 = unigram / bigram / trigram part (for ablations); ``context`` applies
        the role/position tilt.
        """
        total, n = 0.0, 0
        for song in songs:
            for mode, chain in chains(song):
                p3 = self.trigram(mode)
                a, b = BOS, BOS
                for c, _inv, r, pos in chain:
                    if order == 3:
                        p = p3[a, b]
                    elif order == 2:
                        p = self._bigram(mode)[b]
                    else:
                        p = self.unigram(mode)
                    if context:
                        p = p * self.context_weight(mode, r, pos)
                    total -= float(np.log2(p[c] / p.sum()))
                    n += 1
                    a, b = b, c
        return (total / n if n else float("nan")), n

    def _bigram(self, mode: str) -> np.ndarray:
        key = ("bi", mode)
        if key not in self._cache:
            rows = np.asarray(self.counts["trigram"].get(mode, []), dtype=np.int64).reshape(-1, 4)
            c2 = np.zeros((V + 1, V))
            np.add.at(c2, (rows[:, 1], rows[:, 2]), rows[:, 3])
            p2 = _absolute_discount(c2, np.broadcast_to(self.unigram(mode), c2.shape), self.discount)
            idx = np.arange(V)
            p2[idx, idx] = 0.0
            self._cache[key] = p2 / p2.sum(-1, keepdims=True)
        return self._cache[key]

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "qualities": list(QUALITIES), "roles": list(ROLES),
                "positions": list(POSITIONS), "tilt": self.tilt, "smoothing": self.smoothing,
                "discount": self.discount, "min_count": self.min_count,
                "meta": self.meta, "counts": self.counts}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HarmonyModel:
        if d.get("format") != FORMAT or tuple(d.get("qualities", ())) != QUALITIES:
            raise InputError(f"not a {FORMAT} harmony model with qualities {', '.join(QUALITIES)}")
        return cls(d["counts"], tilt=d.get("tilt", 1.0), smoothing=d.get("smoothing", 50.0),
                   discount=d.get("discount"), min_count=d.get("min_count", 20),
                   meta=d.get("meta", {}))

    def save(self, path: str | Path) -> Path:
        """Compact JSON (one line per table), written atomically."""
        from videobgm.io import atomic_path

        d = self.to_dict()
        counts = d.pop("counts")
        body = ",\n".join(f'"{k}": {json.dumps(v, separators=(",", ":"))}' for k, v in counts.items())
        head = json.dumps(d, indent=1)[:-2]
        with atomic_path(path) as tmp:
            tmp.write_text(head + ',\n"counts": {\n' + body + "\n}}\n", encoding="utf-8")
        return Path(path)


def fit(songs: list[HarmonySong], *, tilt: float = 1.0, smoothing: float = 50.0,
        discount: float | None = None, min_count: int = 20,
        meta: dict[str, Any] | None = None) -> HarmonyModel:
    """A :class:`HarmonyModel` from training songs."""
    return HarmonyModel(count(songs), tilt=tilt, smoothing=smoothing, discount=discount,
                        min_count=min_count, meta=meta)


def load(path: str | Path | None = None) -> HarmonyModel:
    """The shipped model (``assets/harmony/harmony.json``) or the one at ``path``.

    Raises
    ------
    InputError
        Missing or unreadable file, or not a harmony model.
    """
    p = Path(path) if path is not None else ASSET
    if p.is_dir():
        p = p / "harmony.json"
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read harmony model {p}: {e}") from e
    return HarmonyModel.from_dict(d)
