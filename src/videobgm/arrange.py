"""Rule-based bass and drum parts (POP909, the training data, has neither).

The music transformer writes melody / counter-melody / piano; when a plan asks for ``bass`` or
``drums`` these parts are added by rule from the same controls, so that they follow the chords,
the per-bar density (busier bars get busier patterns) and the accents:

* bass: the chord root in octave 2 (MIDI 36..47) at the start of the bar, at every chord change,
  and - as the bar's density target grows - on beat 3, then on every beat;
* drums (GM percussion keys): kick on beats 1 (and 3), snare on the back beats, closed hi-hat on
  quarters or eighths by density, a crash cymbal + kick on every accent step; bars with a density
  target of 0 stay silent.

Pure functions of :class:`~videobgm.types.Controls`: the same controls give the same notes.
"""

from __future__ import annotations

import numpy as np

from videobgm.types import STEPS_PER_BEAT, Controls, Note

RULE_TRACKS: tuple[str, ...] = ("bass", "drums")
KICK, SNARE, HAT, CRASH = 36, 38, 42, 49
BASS_LOW = 36  # C2: bass notes lie in 36..47
BUSY, MEDIUM, SPARSE = 24, 10, 1  # density thresholds (onsets per bar) of the patterns


def _chord_roots(controls: Controls) -> np.ndarray:
    """Root pitch class at every step (key tonic where there is no chord), shape (n_steps,)."""
    n = controls.n_bars * controls.steps_per_bar
    roots = np.full(n, int(controls.key_tonic) % 12, dtype=np.int64)
    for c in sorted(controls.chords, key=lambda c: c.onset_16th):
        if 0 <= c.onset_16th < n:
            roots[c.onset_16th:] = c.root if c.root >= 0 else int(controls.key_tonic) % 12
    return roots


def bass_notes(controls: Controls, bars: tuple[int, int] | None = None) -> list[Note]:
    """Bass part for bars ``[a, b)`` (default: all bars)."""
    a, b = bars or (0, controls.n_bars)
    spb = controls.steps_per_bar
    roots = _chord_roots(controls)
    dens = np.asarray(controls.density_per_bar)
    acc = np.asarray(controls.accent_steps, dtype=bool)
    out: list[Note] = []
    for bar in range(a, b):
        d = int(dens[bar]) if bar < dens.shape[0] else 0
        if d < SPARSE:
            continue
        start = bar * spb
        beats = [0]
        if d >= MEDIUM and controls.beats_per_bar >= 4:
            beats.append(2)
        if d >= BUSY:
            beats = list(range(controls.beats_per_bar))
        steps = {x * STEPS_PER_BEAT for x in beats}
        steps |= {s - start for s in range(start + 1, start + spb) if roots[s] != roots[s - 1]}
        steps = sorted(steps)
        for i, s in enumerate(steps):
            end = steps[i + 1] if i + 1 < len(steps) else spb
            g = start + s
            vel = 108 if g < acc.shape[0] and acc[g] else 88
            out.append(Note(g, "bass", BASS_LOW + int(roots[g]), max(1, end - s), vel))
    return out


def drum_notes(controls: Controls, bars: tuple[int, int] | None = None) -> list[Note]:
    """Drum part for bars ``[a, b)`` (default: all bars)."""
    a, b = bars or (0, controls.n_bars)
    spb, bpb = controls.steps_per_bar, controls.beats_per_bar
    dens = np.asarray(controls.density_per_bar)
    acc = np.asarray(controls.accent_steps, dtype=bool)
    out: list[Note] = []
    for bar in range(a, b):
        d = int(dens[bar]) if bar < dens.shape[0] else 0
        start = bar * spb
        hits: dict[tuple[int, int], int] = {}
        if d >= SPARSE:
            hits[(0, KICK)] = 100
            if bpb >= 4 and d >= MEDIUM:
                hits[(2 * STEPS_PER_BEAT, KICK)] = 96
            for beat in range(1, bpb, 2 if bpb >= 4 else 1):
                if d >= MEDIUM or beat == bpb - 1:
                    hits[(beat * STEPS_PER_BEAT, SNARE)] = 92
            hat_every = 2 if d >= 16 else STEPS_PER_BEAT
            for s in range(0, spb, hat_every):
                hits[(s, HAT)] = 78 if s % STEPS_PER_BEAT == 0 else 62
        for s in range(spb):
            g = start + s
            if g < acc.shape[0] and acc[g]:
                hits[(s, CRASH)] = 115
                hits[(s, KICK)] = 110
        for (s, key), vel in sorted(hits.items()):
            out.append(Note(start + s, "drums", key, 2 if key != CRASH else 8, vel))
    return out


def rule_notes(controls: Controls, bars: tuple[int, int] | None = None) -> list[Note]:
    """The rule parts ``controls.tracks`` asks for (bass and/or drums) in bars ``[a, b)``."""
    out: list[Note] = []
    if "bass" in controls.tracks:
        out += bass_notes(controls, bars)
    if "drums" in controls.tracks:
        out += drum_notes(controls, bars)
    return out


def remaining_targets(controls: Controls, rule: list[Note]) -> tuple[np.ndarray, np.ndarray]:
    """Density per bar and strength per beat left for the model once the pitched rule notes count.

    Returns
    -------
    density : ndarray of int, shape (n_bars,)
    strength : ndarray of int, shape (n_bars * beats_per_bar,)
    """
    dens = np.asarray(controls.density_per_bar, dtype=np.int64).copy()
    stren = np.asarray(controls.strength_per_beat, dtype=np.int64).copy()
    spb = controls.steps_per_bar
    for n in rule:
        if n.track == "drums":
            continue
        bar = n.onset_16th // spb
        if bar < dens.shape[0]:
            dens[bar] -= 1
        if n.onset_16th % STEPS_PER_BEAT == 0 and n.onset_16th // STEPS_PER_BEAT < stren.shape[0]:
            stren[n.onset_16th // STEPS_PER_BEAT] -= 1
    return np.maximum(dens, 0), np.maximum(stren, 0)
