"""Masks and targets used by :mod:`videobgm.compose.sampler`: per-bar control targets, chord tones and
seeded masked top-p sampling of one token field (NumPy on the small logit vectors)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from videobgm.config import SampleConfig
from videobgm.errors import OptionError
from videobgm.types import STEPS_PER_BEAT, Controls

# chord tones (semitones above the root) per quality
CHORD_INTERVALS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8), "sus4": (0, 5, 7),
    "sus2": (0, 2, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10),
}


@dataclass
class _Bar:
    """Targets of one bar (raw counts, not bins)."""

    lo: int
    hi: int
    target: int
    strength: np.ndarray  # (beats_per_bar,) target notes on each beat's first step
    forced: np.ndarray  # (steps_per_bar,) bool: steps that must carry onsets
    accent: np.ndarray  # (steps_per_bar,) bool


def bar_targets(controls: Controls, cfg: SampleConfig) -> list[_Bar]:
    spb, bpb = controls.steps_per_bar, controls.beats_per_bar
    dens = np.asarray(controls.density_per_bar, dtype=float)
    stren = np.asarray(controls.strength_per_beat, dtype=np.int64)
    acc = np.asarray(controls.accent_steps, dtype=bool)
    bars = []
    tol = float(cfg.density_tolerance)
    for b in range(controls.n_bars):
        s = np.zeros(bpb, dtype=np.int64)
        part = stren[b * bpb:(b + 1) * bpb]
        s[: part.shape[0]] = part
        a = np.zeros(spb, dtype=bool)
        pa = acc[b * spb:(b + 1) * spb]
        a[: pa.shape[0]] = pa
        if controls.ending_bar is not None and b >= controls.ending_bar:
            a[:] = False  # the held final chord's button is the rule parts' (Controls.ending_accents)
        if not cfg.enforce_strength or not cfg.constrained:
            s[:] = -1  # unconstrained
        if not cfg.constrained:
            a[:] = False
            bars.append(_Bar(lo=0, hi=10**6, target=10**6, strength=s, forced=a.copy(), accent=a))
            continue
        forced = a.copy()
        forced[::STEPS_PER_BEAT] |= s > 0
        d = float(dens[b]) if b < dens.shape[0] else 0.0
        lo, hi = int(np.floor(d * (1 - tol))), int(np.ceil(d * (1 + tol))) + (1 if d > 0 else 0)
        min_forced = int(sum(max(1, int(s[i // STEPS_PER_BEAT])) if i % STEPS_PER_BEAT == 0 else 1
                             for i in np.flatnonzero(forced)))
        hi = max(hi, min_forced)
        lo = min(max(lo, min_forced), hi)
        bars.append(_Bar(lo=lo, hi=hi, target=int(round(d)), strength=s, forced=forced, accent=a))
    return bars


def chord_tone_mask(chord_value: int, tokenizer: Any) -> np.ndarray | None:
    """Bool (128,) of MIDI pitches that are chord tones of chord field value, None for no chord
    (read-only: one array per chord value is shared)."""
    return _chord_tones(int(chord_value))


@functools.lru_cache(maxsize=512)
def _chord_tones(chord_value: int) -> np.ndarray | None:
    from videobgm.compose.token_codes import chord_of_index

    root, q = chord_of_index(chord_value)
    if root < 0 or q not in CHORD_INTERVALS:
        return None
    pcs = {(root + i) % 12 for i in CHORD_INTERVALS[q]}
    mask = np.array([p % 12 in pcs for p in range(128)], dtype=bool)
    mask.setflags(write=False)
    return mask


class TokenSampler:
    """Masked, seeded sampling of one field at a time from logits (NumPy on the small vectors)."""

    def __init__(self, model: Any, tokenizer: Any, cfg: SampleConfig) -> None:
        self.rng = np.random.default_rng(int(cfg.seed))
        names = list(tokenizer.field_names)
        ft, fp = dict(cfg.field_temperature), dict(cfg.field_top_p)
        for n in list(ft) + list(fp):
            if n not in names:
                raise OptionError(f"unknown token field {n!r} in sample settings; accepted: {', '.join(names)}")
        self.temp = [float(ft.get(n, cfg.temperature)) for n in names]
        self.top_p = [float(fp.get(n, cfg.top_p)) for n in names]

    def pick(self, logits, k: int, allowed: np.ndarray, bias: np.ndarray | None = None) -> int:  # noqa: ANN001
        """Sample a value of field ``k`` among ``allowed`` (bool (V,)) from ``logits`` (V,), or
        from ``logits()`` when it is a callable (not called when only one value is allowed)."""
        idx = np.flatnonzero(allowed)
        if idx.size == 1:
            return int(idx[0])
        if callable(logits):
            logits = logits()
        lg = logits.float().numpy()[idx].astype(np.float64)
        if bias is not None:
            lg = lg + bias[idx]
        t = self.temp[k]
        if t <= 0:
            return int(idx[int(np.argmax(lg))])
        z = (lg - lg.max()) / t
        p = np.exp(z)
        p /= p.sum()
        top = self.top_p[k]
        if top < 1.0:
            order = np.argsort(-p, kind="stable")
            sp = p[order]
            keep = (np.cumsum(sp) - sp) <= top  # smallest prefix with mass >= top (at least one)
            q = np.zeros_like(p)
            q[order[keep]] = sp[keep]
            p = q / q.sum()
        # what Generator.choice(idx.size, p=p) does (same draw, same result), without its checks
        cdf = np.cumsum(p)
        cdf /= cdf[-1]
        return int(idx[min(int(np.searchsorted(cdf, self.rng.random(), side="right")), idx.size - 1)])


class Voicing:
    """Pitch classes sounding on each 16th step, to steer chords toward complete voicings.

    A beat whose notes leave out a tone of its chord (typically the third: root and fifth alone
    sound as neither major nor minor) is heard as a different or ambiguous chord. The sampler adds
    :meth:`missing_bias` to the pitch logits so that a chord tone not yet sounding in the current
    beat is preferred by the next note.

    Parameters
    ----------
    n_steps : int
        Length of the piece in 16th steps.
    """

    def __init__(self, n_steps: int) -> None:
        self.pcs = np.zeros((int(n_steps), 12), dtype=bool)  # (n_steps, 12) sounding pitch classes

    def add(self, step: int, pitch: int, duration_steps: int) -> None:
        """Mark MIDI ``pitch`` as sounding from 16th ``step`` for ``duration_steps`` steps."""
        self.pcs[max(0, int(step)): max(0, int(step) + max(1, int(duration_steps))), int(pitch) % 12] = True

    def first_silent_beat(self, start: int, end: int) -> int | None:
        """First step of the first beat that begins at or after 16th ``start`` and ends by ``end``
        in which nothing sounds so far (None when there is none)."""
        b = -(-int(start) // STEPS_PER_BEAT) * STEPS_PER_BEAT
        while b + STEPS_PER_BEAT <= int(end):
            if not self.pcs[b:b + STEPS_PER_BEAT].any():
                return b
            b += STEPS_PER_BEAT
        return None

    def missing_bias(self, step: int, chord_tones: np.ndarray | None, value: float,
                     size: int = 129) -> np.ndarray | None:
        """Logit bonus (size,) over pitch field values (1 + MIDI pitch): ``value`` for chord tones
        (``chord_tones``: bool (128,)) whose pitch class does not sound anywhere in the beat of
        ``step`` so far; None when nothing is missing."""
        if chord_tones is None or not value:
            return None
        b0 = int(step) // STEPS_PER_BEAT * STEPS_PER_BEAT
        present = self.pcs[b0:b0 + STEPS_PER_BEAT].any(axis=0)
        missing = chord_tones & ~present[np.arange(128) % 12]
        if not missing.any():
            return None
        bias = np.zeros(int(size))
        bias[1:129][missing] = float(value)
        return bias
