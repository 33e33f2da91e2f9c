"""The integer codes of the music tokens and of their conditioning, one owner for every bin.

Index 0 of every field means "none / not used by this token type". Token fields
(:attr:`FIELD_NAMES`) and their values::

    type      0 pad, 1 bos, 2 eos, 3 bar, 4 pos, 5 note
    pos       1 + 16th step inside the bar (1..steps_per_bar, at most 16)
    chord     1 = "N" (no chord), 2 + root * 9 + quality index (qualities of CHORD_QUALITIES
              without "N": maj min dim aug sus4 sus2 7 maj7 min7)
    track     1 + index in TRACKS (melody, bridge, piano, bass, drums)
    pitch     1 + MIDI pitch (0..127; drums: GM percussion key)
    duration  1 + index in DURATION_STEPS (16th steps: 1..16 exact, then 20 24 28 32 40 48 64)
    velocity  1..8 (8 equal-width bins of MIDI velocity 1..127)

The conditioning columns (:attr:`COND_NAMES`) bin density, strength, progress, key and tempo here
too (their meaning: :mod:`videobgm.compose.conditioning`); the chord column uses the chord field's
code. :mod:`videobgm.compose.tokens` writes and reads rows in these codes.
"""

from __future__ import annotations

import numpy as np

from videobgm.errors import InputError
from videobgm.types import CHORD_QUALITIES, MODES

MAX_STEPS_PER_BAR = 16  # the pos field covers bars of up to 4 beats of 4 sixteenths
DURATION_STEPS: tuple[int, ...] = tuple(range(1, 17)) + (20, 24, 28, 32, 40, 48, 64)
N_VELOCITY_BINS = 8
# density: bin i (1-based) holds onset counts n with DENSITY_EDGES[i-1] <= n < DENSITY_EDGES[i]
DENSITY_EDGES: tuple[int, ...] = (0, 1, 3, 5, 7, 9, 11, 13, 16, 19, 22, 26, 30, 35, 40, 48)
MAX_STRENGTH = 8
N_PROGRESS_BINS = 16
TEMPO_EDGES_BPM: tuple[float, ...] = (0, 60, 70, 80, 90, 100, 110, 120, 130, 140, 155, 170)
CHORD_TYPES: tuple[str, ...] = tuple(q for q in CHORD_QUALITIES if q != "N")  # 9 qualities

TYPE_PAD, TYPE_BOS, TYPE_EOS, TYPE_BAR, TYPE_POS, TYPE_NOTE = range(6)
TYPE_NAMES: tuple[str, ...] = ("pad", "bos", "eos", "bar", "pos", "note")
FIELD_NAMES: tuple[str, ...] = ("type", "pos", "chord", "track", "pitch", "duration", "velocity")
COND_NAMES: tuple[str, ...] = ("density", "strength", "progress", "chord", "key", "accent", "tempo")


def density_bin(n: int) -> int:
    """Density bin (1..len(DENSITY_EDGES)) of ``n`` note onsets in a bar (0 is never returned)."""
    return int(np.searchsorted(DENSITY_EDGES, max(int(n), 0), side="right"))


def density_of_bin(b: int) -> int:
    """A representative onset count (the lower edge) of density bin ``b`` >= 1."""
    b = min(max(int(b), 1), len(DENSITY_EDGES))
    return int(DENSITY_EDGES[b - 1])


def strength_bin(n: int) -> int:
    """Strength bin 1..MAX_STRENGTH+1 of ``n`` simultaneous notes on a beat's first step."""
    return 1 + min(max(int(n), 0), MAX_STRENGTH)


def progress_bin(x: float) -> int:
    """Progress bin 1..N_PROGRESS_BINS of the bar position ``x`` in [0, 1] (clipped)."""
    x = min(max(float(x), 0.0), 1.0) if np.isfinite(x) else 0.0
    return 1 + min(N_PROGRESS_BINS - 1, int(x * N_PROGRESS_BINS))


def tempo_bin(bpm: float) -> int:
    """Tempo bin 1..len(TEMPO_EDGES_BPM) of ``bpm`` (non-finite -> the 120 bpm bin)."""
    bpm = float(bpm) if np.isfinite(bpm) else 120.0
    return int(np.searchsorted(TEMPO_EDGES_BPM, max(bpm, 0.0), side="right"))


def chord_index(root: int, quality: str) -> int:
    """Chord field value: 1 for no chord (root < 0 or quality "N"), else 2 + root * 9 + quality.

    Raises
    ------
    InputError
        When ``quality`` is not one of :data:`~videobgm.types.CHORD_QUALITIES`.
    """
    if quality == "N" or int(root) < 0:
        return 1
    if quality not in CHORD_TYPES:
        raise InputError(f"unknown chord quality {quality!r}; accepted: {', '.join(CHORD_QUALITIES)}")
    return 2 + (int(root) % 12) * len(CHORD_TYPES) + CHORD_TYPES.index(quality)


def chord_of_index(idx: int) -> tuple[int, str]:
    """Inverse of :func:`chord_index`: ``(root, quality)``; (-1, "N") for 0, 1 or out of range."""
    idx = int(idx)
    if idx < 2 or idx >= 2 + 12 * len(CHORD_TYPES):
        return -1, "N"
    r, q = divmod(idx - 2, len(CHORD_TYPES))
    return r, CHORD_TYPES[q]


def key_index(tonic: int, mode: str) -> int:
    """Key field value 1..24: 1 + tonic + 12 * minor."""
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; accepted: {', '.join(MODES)}")
    return 1 + int(tonic) % 12 + 12 * (mode == "minor")


def velocity_bin(v: int) -> int:
    """Velocity bin 1..8 of MIDI velocity ``v`` (1..127, clipped): 16 velocities per bin."""
    v = min(max(int(v), 1), 127)
    return 1 + min(N_VELOCITY_BINS - 1, (v - 1) // 16)


def velocity_of_bin(b: int) -> int:
    """MIDI velocity at the centre of bin ``b`` (1..8): 8, 24, ..., 120."""
    b = min(max(int(b), 1), N_VELOCITY_BINS)
    return min(127, 16 * (b - 1) + 8)


def duration_bin(n: int) -> int:
    """Duration bin (1-based) of ``n`` 16th steps: the nearest of DURATION_STEPS (ties: shorter)."""
    n = max(1, int(n))
    return _DURATION_LUT[n] if n < len(_DURATION_LUT) else len(DURATION_STEPS)


_DURATION_LUT = [0] + [1 + int(np.argmin(np.abs(np.asarray(DURATION_STEPS) - n)))
                       for n in range(1, DURATION_STEPS[-1] + 1)]


def duration_of_bin(b: int) -> int:
    """Duration in 16th steps of bin ``b`` (1..len(DURATION_STEPS), clipped)."""
    b = min(max(int(b), 1), len(DURATION_STEPS))
    return DURATION_STEPS[b - 1]
