"""Rule-based bass and drum parts (POP909, the training data, has neither).

The music transformer writes melody / counter-melody / piano; when a plan asks for ``bass`` or
``drums`` these parts are added by rule from the same controls, so that they follow the chords,
the per-bar density (busier bars get busier patterns) and the accents:

* bass: the chord root in octave 2 (MIDI 36..47) at the start of the bar, at every chord change,
  and - as the bar's density target grows - on beat 3, then on every beat;
* drums (GM percussion keys): kick on beats 1 (and 3), snare on the back beats, closed hi-hat on
  quarters or eighths by density; accent steps only raise the velocity of what plays there;
  bars with a density target of 0 stay silent;
* hit points (``controls.hits``, the cuts): crash + kick (``section`` / ``crash``) or kick +
  snare (``accent``) in drum parts; the bass re-attacks the chord root on every hit; in styles
  without drums a ``stab`` is a short accented chord in the piano part;
* anacrusis (``controls.fill_bars``): a crescendo snare fill on the bar's last beat, or (no
  drums) a rising pickup run of chord tones in the piano part;
* ending (``controls.ending_bar``): the tonic chord held from that bar's downbeat to the end
  (piano triad, bass root, the melody on the tonic), one crash + kick on the downbeat; chord, bass
  and kit re-struck, louder, on each button (``Controls.ending_accents``: the final bar's strong
  visual beats) under the melody's held tonic.

When ``controls.style`` names a lexicon style the parts follow that style x mood's idiom
(:mod:`videobgm.music.styles`, realised by :mod:`videobgm.compose.textures`): its bass and drum idioms and, for
the tracks in ``controls.arranged``, its accompaniment texture (:func:`styled_controls` builds
such controls from a plan). ``style == ""`` keeps the style-independent parts above.

Pure functions of :class:`~videobgm.types.Controls`: the same controls give the same notes.
"""

from __future__ import annotations

import numpy as np

from videobgm.compose.textures import BUTTON_VELOCITY, ending_bass, ending_hits
from videobgm.types import STEPS_PER_BEAT, Controls, Note, Plan

RULE_TRACKS: tuple[str, ...] = ("bass", "drums")
KICK, SNARE, HAT, CRASH, LOW_TOM = 36, 38, 42, 49, 45
CHORD_LOW = 55  # stab / ending chords voiced upwards from G3
MELODY_TONIC_LOW = 67  # the melody's final tonic lies in 67..78
BASS_LOW = 36  # C2: bass notes lie in 36..47
BUSY, MEDIUM, SPARSE = 24, 10, 1  # density thresholds (onsets per bar) of the patterns
# share of the density / strength targets left to the model (melody + bridge) when the arranger
# writes the accompaniment: about the melody + bridge share of POP909's onsets (~0.4)
MODEL_SHARE = 0.4


def _chord_roots(controls: Controls) -> np.ndarray:
    """Bass pitch class at every step: the chord's ``bass`` (inversion / pedal) when the plan
    gives one, else its root (key tonic where there is no chord), shape (n_steps,)."""
    n = controls.n_bars * controls.steps_per_bar
    roots = np.full(n, int(controls.key_tonic) % 12, dtype=np.int64)
    for c in sorted(controls.chords, key=lambda c: c.onset_16th):
        if 0 <= c.onset_16th < n:
            bass = getattr(c, "bass", -1)
            roots[c.onset_16th:] = (bass if bass >= 0 else c.root if c.root >= 0
                                    else int(controls.key_tonic) % 12)
    return roots


def bass_notes(controls: Controls, bars: tuple[int, int] | None = None) -> list[Note]:
    """Bass part for bars ``[a, b)`` (default: all bars)."""
    a, b = bars or (0, controls.n_bars)
    spb = controls.steps_per_bar
    hit_steps = set(_hits(controls))
    roots = _chord_roots(controls)
    dens = np.asarray(controls.density_per_bar)
    acc = np.asarray(controls.accent_steps, dtype=bool)
    out: list[Note] = []
    for bar in range(a, b):
        d = int(dens[bar]) if bar < dens.shape[0] else 0
        start = bar * spb
        if bar == controls.ending_bar:  # the final tonic: one long root (the bar's density is 0)
            out += ending_bass(controls, BASS_LOW + int(roots[start]))
            continue
        if d < SPARSE:
            continue
        beats = [0]
        if d >= MEDIUM and controls.beats_per_bar >= 4:
            beats.append(2)
        if d >= BUSY:
            beats = list(range(controls.beats_per_bar))
        steps = {x * STEPS_PER_BEAT for x in beats}
        steps |= {s - start for s in range(start + 1, start + spb) if roots[s] != roots[s - 1]}
        steps |= {k - start for k in hit_steps if start <= k < start + spb}
        steps = sorted(steps)
        for i, s in enumerate(steps):
            end = steps[i + 1] if i + 1 < len(steps) else spb
            g = start + s
            vel = 112 if g in hit_steps else 108 if g < acc.shape[0] and acc[g] else 88
            out.append(Note(g, "bass", BASS_LOW + int(roots[g]), max(1, end - s), vel))
    return out


def _hits(controls: Controls) -> dict[int, str]:
    return {int(k): str(kind) for k, kind in controls.hits}


def _chord_tones(controls: Controls, step: int) -> list[int]:
    """Pitches of the chord at ``step`` voiced upwards from :data:`CHORD_LOW` (triad)."""
    chord = None
    for c in sorted(controls.chords, key=lambda c: c.onset_16th):
        if c.onset_16th <= step:
            chord = c
    root = int(controls.key_tonic) if chord is None or chord.root < 0 else int(chord.root)
    third = 3 if chord is not None and chord.quality in ("min", "dim", "min7") else 4
    fifth = 6 if chord is not None and chord.quality == "dim" else 7
    r = CHORD_LOW + (root - CHORD_LOW) % 12
    return [r, r + third, r + fifth]


def fill_runs(controls: Controls, bars: tuple[int, int] | None = None) -> list[Note]:
    """The piano's pickup run (root, third, fifth, octave in 16ths) on the last beat of every fill
    bar in ``[a, b)`` (:func:`form_notes` plays it where there are no drums)."""
    a, b = bars or (0, controls.n_bars)
    spb = controls.steps_per_bar
    out: list[Note] = []
    for bar in controls.fill_bars:
        if a <= bar < b:
            last = bar * spb + spb - STEPS_PER_BEAT
            r, t, f = _chord_tones(controls, last)
            for i, p in enumerate((r, t, f, r + 12)):
                out.append(Note(last + i, "piano", p + 12, 1, 70 + 10 * i))
    return out


def form_notes(controls: Controls, bars: tuple[int, int] | None = None) -> list[Note]:
    """Pitched notes of the form: stabs on hit points (no drums), pickup runs before sections
    (no drums) and the final held tonic chord + melody tonic."""
    a, b = bars or (0, controls.n_bars)
    spb = controls.steps_per_bar
    total = controls.n_bars * spb
    drums = "drums" in controls.tracks
    piano = "piano" in controls.tracks or "piano" in controls.arranged
    out: list[Note] = []
    for k, kind in sorted(_hits(controls).items()):
        if a * spb <= k < b * spb and not drums and piano and kind.split("+")[0] in ("section", "stab"):
            if controls.ending_bar is not None and k // spb == controls.ending_bar and k % spb == 0:
                continue  # the final chord is struck there anyway
            out += [Note(k, "piano", p, 2, 110) for p in _chord_tones(controls, k)]
    if not drums and piano:
        out += fill_runs(controls, bars)
    e = controls.ending_bar
    if e is not None and a <= e < b:
        start = e * spb
        if piano:  # the button re-strikes the chord, louder; the melody holds its tonic over it
            out += [Note(k, "piano", p, dur, 92 if i == 0 else BUTTON_VELOCITY)
                    for i, (k, dur) in enumerate(controls.ending_spans()) for p in _chord_tones(controls, start)]
        if "melody" in controls.tracks:
            tonic = MELODY_TONIC_LOW + (int(controls.key_tonic) - MELODY_TONIC_LOW) % 12
            out.append(Note(start, "melody", tonic, total - start, 96))
    return out


def drum_notes(controls: Controls, bars: tuple[int, int] | None = None) -> list[Note]:
    """Drum part for bars ``[a, b)`` (default: all bars)."""
    a, b = bars or (0, controls.n_bars)
    spb, bpb = controls.steps_per_bar, controls.beats_per_bar
    dens = np.asarray(controls.density_per_bar)
    acc = np.asarray(controls.accent_steps, dtype=bool)
    hit_kinds = _hits(controls)
    fills = set(controls.fill_bars)
    out: list[Note] = []
    for bar in range(a, b):
        d = int(dens[bar]) if bar < dens.shape[0] else 0
        start = bar * spb
        hits: dict[tuple[int, int], int] = {}
        if bar == controls.ending_bar:
            d = 0  # the final chord: one crash + kick on its downbeat (and its buttons), then it rings
            hits.update(ending_hits(controls))
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
        if bar in fills and bar != controls.ending_bar:  # crescendo snare fill on the last beat
            last = spb - STEPS_PER_BEAT
            for i in range(STEPS_PER_BEAT):
                hits.pop((last + i, HAT), None)
                hits[(last + i, SNARE if i < STEPS_PER_BEAT - 1 else LOW_TOM)] = 74 + 11 * i
        for s in range(spb):
            g = start + s
            kind = hit_kinds.get(g, "").split("+")[0]
            if kind in ("section", "crash", "stab"):
                hits[(s, CRASH)] = 115
                hits[(s, KICK)] = 110
            elif kind == "accent":
                hits[(s, KICK)] = 110
                hits[(s, SNARE)] = 104
            elif g < acc.shape[0] and acc[g]:  # a velocity accent on what already plays there
                for key in (KICK, SNARE, HAT):
                    if (s, key) in hits:
                        hits[(s, key)] = min(127, hits[(s, key)] + 18)
        for (s, key), vel in sorted(hits.items()):
            out.append(Note(start + s, "drums", key, 2 if key != CRASH else 8, vel))
    return out


def rule_notes(controls: Controls, bars: tuple[int, int] | None = None) -> list[Note]:
    """The rule parts ``controls.tracks`` asks for (bass and/or drums) and the form's notes
    (stabs, pickups, the final chord; :func:`form_notes`) in bars ``[a, b)``."""
    out: list[Note] = []
    from videobgm.music import styles
    if controls.style in styles.STYLE_IDIOMS:
        from videobgm.compose import textures
        idm = styles.idiom(controls.style, controls.mood)
        bass = textures.bass_line(controls, idm, bars, controls.seed) if "bass" in controls.tracks else []
        out += bass
        if "drums" in controls.tracks:
            out += textures.drum_part(controls, idm, controls.mood, bars, controls.seed)
        pads = [n for track in idm.pad_tracks if track in controls.arranged
                for n in textures.pad_layer(controls, idm, track, bars)]
        if "piano" in controls.arranged:
            # one onset budget: the bass's, the pads' and the fill runs' onsets, and what the model
            # must play beyond its share (its forced beats and accents), count against the
            # texture's share (before, pads and runs came on top: ambient pieces played ~1.2x
            # the plan's density)
            over = model_floor(controls, idm.model_share) - textures.model_part(idm.model_share, controls.density_per_bar)
            taken = {b: int(max(0, x)) for b, x in enumerate(over)}
            runs = fill_runs(controls, bars) if "drums" not in controls.tracks else []
            for n in bass + pads + runs:
                b = n.onset_16th // controls.steps_per_bar
                taken[b] = taken.get(b, 0) + 1
            out += textures.texture_notes(controls, idm, bars, controls.seed, taken)
        return out + pads + form_notes(controls, bars)
    if "bass" in controls.tracks:
        out += bass_notes(controls, bars)
    if "drums" in controls.tracks:
        out += drum_notes(controls, bars)
    return out + form_notes(controls, bars)


def model_floor(controls: Controls, share: float) -> np.ndarray:
    """Onsets per bar the model must play whatever its density target, where it writes ``share``
    of the targets (:func:`remaining_targets`): ``ceil(share * s)`` (at least 1) on every beat of
    target strength ``s > 0`` and one on every other accent step (the sampler's forced steps,
    :func:`videobgm.compose.constraints.bar_targets`), shape (n_bars,)."""
    spb, bpb = controls.steps_per_bar, controls.beats_per_bar
    stren = np.asarray(controls.strength_per_beat, dtype=float)
    acc = np.asarray(controls.accent_steps, dtype=bool)
    out = np.zeros(controls.n_bars, dtype=np.int64)
    for b in range(controls.n_bars):
        n = 0
        for i in range(bpb):
            s = float(stren[b * bpb + i]) if b * bpb + i < stren.shape[0] else 0.0
            k = b * spb + i * STEPS_PER_BEAT
            if s > 0 or (k < acc.shape[0] and acc[k]):
                n += max(1, int(np.ceil(share * s)))
        n += sum(1 for k in range(b * spb, (b + 1) * spb)
                 if k % STEPS_PER_BEAT and k < acc.shape[0] and acc[k])
        out[b] = n
    return out


def styled_controls(plan: Plan, seed: int | None = None) -> Controls:
    """The plan's controls with its style and mood for the arranger: the tracks whose texture
    the style's pattern generator writes move from ``tracks`` (the model's) to ``arranged``.
    A style outside the lexicon leaves the controls as they are."""
    import dataclasses

    from videobgm.music import styles
    c = plan.controls
    if plan.style not in styles.STYLE_IDIOMS:
        return c
    idm = styles.idiom(plan.style, plan.mood)
    arranged = ("piano",) if idm.texture != "model" and "piano" in c.tracks else ()
    arranged += tuple(t for t in idm.pad_tracks if t in c.tracks)
    tracks = tuple(t for t in c.tracks if t not in arranged)
    if not tracks:
        tracks, arranged = c.tracks, ()
    melody_bars = c.melody_bars
    if [t for t in tracks if t in ("melody", "bridge", "piano")] == ["melody"]:
        melody_bars = None  # the melody is the model's only voice: it may not be kept out of a bar
    return dataclasses.replace(c, style=plan.style, mood=plan.mood, tracks=tracks, arranged=arranged,
                               seed=int(plan.seed if seed is None else seed), melody_bars=melody_bars)


def remaining_targets(controls: Controls, rule: list[Note]) -> tuple[np.ndarray, np.ndarray]:
    """Density per bar and strength per beat left for the model once the pitched rule notes count.

    Where the arranger writes the accompaniment (``controls.arranged``) the model gets the
    style's share of each target (``Idiom.model_share``, default :data:`MODEL_SHARE`) for its
    melody and counter-melody, whatever the texture's own onsets.

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
    dens, stren = np.maximum(dens, 0), np.maximum(stren, 0)
    if controls.arranged:  # the arranged texture is a layer of its own: the model gets its share
        from videobgm.compose.textures import model_part
        from videobgm.music import styles
        share = styles.idiom(controls.style, controls.mood).model_share \
            if controls.style in styles.STYLE_IDIOMS else MODEL_SHARE
        dens = model_part(share, controls.density_per_bar)
        stren = model_part(share, controls.strength_per_beat)
    return dens, stren
