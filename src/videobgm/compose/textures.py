"""Parametrised pattern generators: accompaniment textures, bass and drum idioms per style x mood.

Each generator realises one :class:`~videobgm.music.styles.Idiom` from the plan's chords
(``controls.chords``), density targets, accent steps and hit points (``controls.hits``):

* :func:`texture_notes` - the accompaniment (track ``piano``) for every style whose texture is not
  the model's: arpeggio, arpeggiator, Alberti, block chords, guitar strums, sustained pads, string
  ostinato (a figure that keeps its two pitches through a chord change inside the bar,
  :func:`ostinato_pair`). Every hit point gets an accented chord (a stab); bars with a density target of 0 and
  the final held bar stay silent; every ``variation_bars`` bars the pattern turns (direction,
  strum pattern, octave) by a seeded draw.
* :func:`bass_line` - root / off-beat (leaves room for a four-on-the-floor kick) / root-fifth /
  sustained / tonic pedal / bouncy octaves / driving 8ths; re-attacks the root on every hit.
* :func:`drum_part` - pop backbeat, four-on-the-floor (kick on every beat, clap on 2 and 4,
  off-beat hats, a snare build and crash drop at phrase ends), cinematic toms and timpani-like
  rolls on hits (an ostinato for epic, a heartbeat for tense); fills at ``controls.fill_bars``
  and at the end of every variation period. A strong visual beat (an accent step) that falls
  off the groove's own strokes gets one (:data:`ACCENT_STROKE`: snare / clap / low tom), so that
  the picture's beats are heard as accents, not only as louder texture notes (issue 14); the
  16th before every hit point is left empty, so that the hit's attack is not masked; with a
  four-on-the-floor the hats, clap and arpeggiator rest for an 8th before a crash (the
  producer's pre-drop gap; the kick keeps the floor), the hit's kick and crash sit above the
  floor's kick, and the closed 16th hats are the busy
  bars' layer (:data:`HAT16_DENSITY`), not every bar's. (The pitched parts' pre-hit break, the
  model's notes included, is :mod:`videobgm.compose.hit_marks`.)
* Tense idioms (``Idiom.clash``) sound their semitone colour (b9 in the texture and pads, the
  tonic pedal under a clashing chord) only in :func:`tension_bar` bars: the end of every
  variation period and the bars before section fills (issue 19).

Pure functions of (controls, idiom, seed): the same inputs give the same notes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from videobgm.music.styles import Idiom
from videobgm.types import STEPS_PER_BEAT, Controls, Note

KICK, KICK2, RIM, SNARE, CLAP, HAT, OPEN_HAT, CRASH = 36, 35, 37, 38, 39, 42, 46, 49
TOM_LOW, TOM_FLOOR, TOM_MID = 41, 43, 45
BASS_LOW = 36
INTERVALS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8), "sus4": (0, 5, 7),
    "sus2": (0, 2, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10),
}
HIT_VELOCITY = 118
# a hit point's crash and kick: above the groove's own strokes (the four-on-the-floor kick is 108),
# so that the hit is the loudest stroke of its bar (110 / 115 before: the hit's kick was the floor's)
HIT_CRASH_VELOCITY, HIT_KICK_VELOCITY = 124, 124
# the held final chord re-struck on the picture's last hits (Controls.ending_accents): the pitched
# strokes (chord, bass) and the kit's crash + kick
BUTTON_VELOCITY = 108
BUTTON_CRASH_VELOCITY, BUTTON_KICK_VELOCITY = 118, 114
ACCENT_VELOCITY = 104  # the texture's chord on a strong visual beat off its own onsets
# the stroke that catches a strong visual beat (an accent step) where the groove has no kick,
# snare, clap or tom of its own: per drum idiom (key, velocity)
ACCENT_STROKE: dict[str, tuple[int, int]] = {"backbeat": (SNARE, 100), "four_floor": (CLAP, 104),
                                             "cinematic": (TOM_LOW, 100)}
_ACCENT_VOICES = (KICK, KICK2, SNARE, CLAP, TOM_LOW, TOM_FLOOR, TOM_MID)
HAT16_DENSITY = 18  # four-on-the-floor: closed 16th hats join the off-beat hats from this density
TENSION_PERIOD_BARS = 4  # a tense piece's colour builds into every 4-bar phrase turn at least
TENSION_FROM_STEP = 8  # in a tension bar the pad's cluster tone / strum's b9 enters at the half bar


def ending_bass(controls: Controls, pitch: int) -> list[Note]:
    """The held ending's bass: ``pitch`` from the final bar's downbeat, re-struck on each button
    (:meth:`Controls.ending_spans`). Both generators (this one and :mod:`~videobgm.compose.arrange`)
    end this way."""
    return [Note(k, "bass", pitch, dur, 100 if i == 0 else BUTTON_VELOCITY)
            for i, (k, dur) in enumerate(controls.ending_spans())]


def ending_hits(controls: Controls, kick: int = KICK) -> dict[tuple[int, int], int]:
    """The held ending's kit, (step in the final bar, key) -> velocity: crash + ``kick`` on its
    downbeat and on each button (:meth:`Controls.ending_accents`), then it rings."""
    start = int(controls.ending_bar) * controls.steps_per_bar
    h = {(0, CRASH): 112, (0, kick): 108}
    for k in controls.ending_accents():
        h[(k - start, CRASH)], h[(k - start, kick)] = BUTTON_CRASH_VELOCITY, BUTTON_KICK_VELOCITY
    return h


def tension_bar(controls: Controls, idm: Idiom, bar: int) -> bool:
    """Whether a tense idiom (``idm.clash``) sounds its semitone colour in ``bar``: the last bar
    of every variation period, at most :data:`TENSION_PERIOD_BARS` long (an 8-bar electronic
    period builds twice: with tension every 8 bars a 30 s clip had two such bars and 1.3 % of its
    16ths clashing), and the bar before every section fill (``controls.fill_bars``),
    i.e. the tension builds into each phrase turn and resolves on the next downbeat. In the
    other bars the same pattern plays without the b9 and the pedal yields to the chord root
    where it would clash, so that the dissonance stays a colour (a few % of the sounding 16ths,
    issue 19) instead of a constant grind."""
    if not idm.clash:
        return False
    period = min(idm.variation_bars, TENSION_PERIOD_BARS)
    return bar % period == period - 1 or bar in set(controls.fill_bars)


def _bar_idiom(controls: Controls, idm: Idiom, bar: int) -> Idiom:
    return idm if not idm.clash or tension_bar(controls, idm, bar) else replace(idm, clash=False)


def chord_at_steps(controls: Controls) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Root pitch class and intervals of the chord sounding at every step.

    Returns
    -------
    roots : ndarray of int, shape (n_steps,)
    intervals : list of tuple, length n_steps (no chord: the key's tonic triad)
    """
    n = controls.n_bars * controls.steps_per_bar
    tonic = int(controls.key_tonic) % 12
    default = INTERVALS["min" if controls.mode == "minor" else "maj"]
    roots = np.full(n, tonic, dtype=np.int64)
    ivs: list[tuple[int, ...]] = [default] * n
    for c in sorted(controls.chords, key=lambda c: c.onset_16th):
        if 0 <= c.onset_16th < n:
            r = tonic if c.root < 0 else int(c.root) % 12
            iv = default if c.root < 0 else INTERVALS.get(c.quality, INTERVALS["maj"])
            roots[c.onset_16th:] = r
            ivs[c.onset_16th:] = [iv] * (n - c.onset_16th)
    return roots, ivs


def _voicing(root: int, iv: tuple[int, ...], lo: int, extra_octave: bool = True) -> list[int]:
    r = lo + (root - lo) % 12
    tones = [r + i for i in iv]
    if extra_octave:
        tones.append(r + 12)
    return tones


def _rng(seed: int, *salt: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *[int(s) & 0xFFFFFFFF for s in salt]])


def _hits(controls: Controls) -> dict[int, str]:
    return {int(k): str(kind).split("+")[0] for k, kind in controls.hits}


def _density(controls: Controls, bar: int) -> int:
    d = np.asarray(controls.density_per_bar)
    return int(d[bar]) if bar < d.shape[0] else 0


def _metric_velocity(base: int, step_in_bar: int, g: int, accents: np.ndarray) -> int:
    v = base + (10 if step_in_bar == 0 else 4 if step_in_bar % STEPS_PER_BEAT == 0 else 0)
    if g < accents.shape[0] and accents[g]:
        v += 16
    return int(max(1, min(127, v)))


def _merge(notes: list[Note]) -> list[Note]:
    """One note per (onset, track, pitch): the loudest / longest wins."""
    best: dict[tuple[int, str, int], Note] = {}
    for n in notes:
        k = (n.onset_16th, n.track, n.pitch)
        o = best.get(k)
        if o is None or (n.velocity, n.duration_16th) > (o.velocity, o.duration_16th):
            best[k] = n
    return sorted(best.values())


# --------------------------------------------------------------------------------- texture
def ostinato_pair(controls: Controls, idm: Idiom, start: int, spb: int, roots: np.ndarray,
                  ivs: list[tuple[int, ...]]) -> tuple[int, int]:
    """The two pitches (low, high) of a string ostinato for the bar starting at step ``start``.

    An ostinato is a figure that persists while the harmony moves: the bar's figure is set on
    its downbeat chord (root and fifth) and stays through a chord change inside the bar, as long
    as neither pitch sounds a semitone from a tone of any chord of the bar. Where the root-fifth
    pair would grind against the later chord, the figure takes the downbeat chord's tones that
    sound with every chord of the bar (root + third, fifth + third, else one of them in octaves:
    a common-tone pedal, e.g. D under D -> E, the 7th of E7); only where none exists (every tone
    a semitone from a later chord) does it follow the later chord (the pre-fix behaviour).
    A tension bar's b9 figure keeps the downbeat root all bar: there the grind is the point.
    ``high == low + 12``: a one-pitch-class (octave) figure."""
    lo = idm.register[0]
    r0, iv0 = int(roots[start]), ivs[start]
    r_p = lo + (r0 - lo) % 12
    segs = {(int(roots[g]), ivs[g]) for g in range(start, start + spb)}
    if idm.clash or len(segs) == 1:
        return r_p, r_p + 7
    others = {(r + i) % 12 for r, iv in segs for i in iv}

    def fits(pc: int) -> bool:
        return not any((pc - o) % 12 in (1, 11) for o in others)

    chord = [(r0 + i) % 12 for i in iv0]  # root, third, fifth (, seventh)
    third = chord[1] if len(chord) > 1 else r0
    fifth = chord[2] if len(chord) > 2 else (r0 + 7) % 12
    for a, b in ((r0, fifth), (r0, third), (third, fifth), (r0, r0), (fifth, fifth), (third, third)):
        if fits(a) and fits(b):
            a_p = lo + (a - lo) % 12
            return a_p, a_p + ((b - a) % 12 or 12)
    return -1, -1  # no common tone: the figure follows each chord


def _pattern_pitches(idm: Idiom, tones: list[int], root_pitch: int, k: int, variant: int,
                     pair: tuple[int, int] = (-1, -1)) -> list[int]:
    """Pitches the texture plays at its ``k``-th onset of the bar (``pair``: the ostinato's
    two pitches for the bar, :func:`ostinato_pair`; (-1, -1): root and fifth of the chord)."""
    t = idm.texture
    if idm.clash and t in ("arpeggio", "arpeggiator", "alberti"):
        tones = sorted(tones[:1] + [tones[0] + 1] + tones[1:])  # the b9 against the root
    if t == "arpeggio":
        seq = list(range(len(tones))) + list(range(len(tones) - 2, 0, -1)) if variant else \
            list(range(len(tones)))
        return [tones[seq[k % len(seq)]]]
    if t == "arpeggiator":
        two = tones + [p + 12 for p in tones[1:]]
        seq = list(range(len(two))) if not variant else list(range(len(two)))[::-1]
        return [two[seq[k % len(seq)]]]
    if t == "alberti":
        seq = (0, 2, 1, 2) if not variant else (0, 2, 1, 3 if len(tones) > 3 else 2)
        return [tones[seq[k % 4]]]
    if t == "block":
        return tones[:3] + ([tones[0] + 1] if idm.clash else [])
    if t == "ostinato":
        r = root_pitch
        if idm.clash:
            seq = (r, r + 1, r, r + 1) if not variant else (r, r + 1, r + 1, r)
        else:
            a, b = pair if pair[0] >= 0 else (r, r + 7)
            seq = (a, a, b, a) if not variant else (a, b, a + 12, b)
        return [seq[k % 4]]
    raise ValueError(f"no pattern for texture {t!r}")


STRUMS: tuple[tuple[tuple[int, bool], ...], ...] = (  # (step, down-stroke) per bar of 4/4
    ((0, True), (4, True), (6, False), (10, False), (12, True), (14, False)),  # D . D U . U D U
    ((0, True), (4, True), (6, False), (8, True), (10, False), (12, True), (14, False)),
)
SLOW_STRUMS: tuple[tuple[tuple[int, bool], ...], ...] = (
    ((0, True), (8, True), (10, False)),  # D . D U
    ((0, True), (6, False), (8, True), (12, True)),
)


def texture_notes(controls: Controls, idm: Idiom, bars: tuple[int, int] | None = None,
                  seed: int = 0, taken: dict[int, int] | None = None) -> list[Note]:
    """The accompaniment of ``idm.texture`` in bars ``[a, b)`` on track ``piano``.

    ``taken``: bar -> pitched onsets the other rule parts (the bass) play there. They count
    against the texture's share of the bar's density target, as the hit stabs do, so that the
    rule parts and the model share one onset budget (before, the bass came on top of it and
    acoustic pieces played ~1.4x the plan's density)."""
    if idm.texture == "model":
        return []
    a, b = bars or (0, controls.n_bars)
    spb, bpb = controls.steps_per_bar, controls.beats_per_bar
    roots, ivs = chord_at_steps(controls)
    acc = np.asarray(controls.accent_steps, dtype=bool)
    hits = _hits(controls)
    lo, hi = idm.register
    rate = idm.step_16th * (2 if idm.feel == "half" and idm.texture != "pad" else 1)
    out: list[Note] = []
    end_bar = controls.ending_bar if controls.ending_bar is not None else controls.n_bars
    for bar in range(a, min(b, end_bar)):
        start = bar * spb
        d = _density(controls, bar)
        variant = int(_rng(seed, bar // idm.variation_bars, 7).integers(2))
        if bar % idm.variation_bars == 0 and bar > 0:
            variant = 1 - variant if (bar // idm.variation_bars) % 2 else variant
        stabs = 3 * sum(1 for k in range(start, start + spb) if k in hits) + (taken or {}).get(bar, 0)
        pattern: list[Note] = []
        if d >= 1:
            pattern = _bar_texture(controls, _bar_idiom(controls, idm, bar), start, spb, bpb, rate, d,
                                   variant, roots, ivs, acc, stabs)
            out += pattern
        struck = {n.onset_16th for n in out}
        catches = [k for k in range(start, start + spb) if d >= 1 and k not in hits and k < acc.shape[0]
                   and acc[k] and k not in struck]
        # what the texture's share of the bar's density leaves for catching the strong visual
        # beats: a busy bar's catches thin to dyads or single notes (one onset budget), but every
        # accent is still struck (before, a bar with 9 visual beats took 27 chord notes over a
        # share of 19)
        left = texture_share(idm, d) - stabs - len(pattern)
        for k in range(start, start + spb):  # every hit: an accented chord (a stab)
            if k in hits:
                tones = _voicing(int(roots[k]), ivs[k], lo + 7, extra_octave=False)
                out += [Note(k, "piano", p, 2 if idm.texture != "pad" else spb - (k - start),
                             HIT_VELOCITY) for p in tones]
            elif k in catches:
                # a strong visual beat between the pattern's onsets: the texture catches it in
                # its own idiom (the accent is heard, not only a louder note): one note for the
                # single-line textures (the ostinato's root), a chord for strums, blocks, pads
                if idm.texture in ("strum", "block", "pad") or "bass" not in controls.tracks:
                    tones = _voicing(int(roots[k]), ivs[k], lo, extra_octave=idm.texture == "strum")
                    if idm.texture not in ("strum", "block", "pad"):
                        tones = tones[:1]
                    n_left = len(catches) - catches.index(k)
                    tones = catch_voicing(tones, left / n_left)
                    left -= len(tones)
                    out += [Note(k, "piano", p, 2, ACCENT_VELOCITY) for p in tones]
                # (a single-line texture keeps its regular pulse: the bass catches the accent)
    if idm.texture == "arpeggiator" and idm.drums == "four_floor":
        out = pre_hit_gap(out, hits)
    return _merge([n for n in out if 21 <= n.pitch <= 108])


PRE_HIT_GAP_16THS = 2  # the arpeggiator rests for an 8th before a crash (the producer's pre-drop gap)


def pre_hit_gap(notes: list[Note], hits: dict[int, str]) -> list[Note]:
    """``notes`` without the onsets in the :data:`PRE_HIT_GAP_16THS` 16ths before every crash /
    section hit, and with what still sounds there cut at the gap, so that the hit's attack comes
    out of a short silence of the pattern (as a dance producer mutes the loop before a drop)."""
    gaps = [(k - PRE_HIT_GAP_16THS, k) for k, kind in hits.items() if kind in ("section", "crash")]
    out: list[Note] = []
    for n in notes:
        end = n.onset_16th + n.duration_16th
        if any(g0 <= n.onset_16th < g1 for g0, g1 in gaps):
            continue
        cut = min((g0 for g0, g1 in gaps if n.onset_16th < g0 < end), default=end)
        out.append(n if cut == end else replace(n, duration_16th=cut - n.onset_16th))
    return out


NOTES_PER_ONSET = {"block": 3, "strum": 5, "pad": 4}


def model_part(share: float, targets) -> np.ndarray:  # noqa: ANN001
    """The model's part of onset targets (density per bar, strength per beat) where an arranged
    texture plays beside it: ``ceil(share * target)``, int64
    (:func:`videobgm.compose.arrange.remaining_targets`); the texture takes the rest."""
    return np.ceil(float(share) * np.asarray(targets, dtype=float)).astype(np.int64)


def texture_share(idm: Idiom, density: float) -> float:
    """The arranged parts' share of a bar's density target: what the model's part
    (:func:`model_part`, rounded up) leaves of it, so that the two add up to the target
    (``(1 - model_share) * density`` beside the rounded-up model part gave ~0.5 onset a bar too
    many: 2-3 % over the plan)."""
    return float(density) - float(model_part(idm.model_share, float(density)))


def catch_voicing(tones: list[int], budget: float) -> list[int]:
    """The notes of an accent catch (a chord voiced upwards) when ``budget`` notes of the bar's
    share are left for it: the full chord when they fit, else its lowest ``round(budget)`` tones
    (root, then third), at least the root."""
    return tones[:int(min(len(tones), max(1, round(budget))))]


def bar_rate(idm: Idiom, rate: int, density: int, spb: int, taken: int = 0) -> int:
    """The texture's note value (16ths) in a bar whose density target is ``density``: the one
    of 1, 2, 4, 8, 16 within [rate / 2, rate * 4] whose onsets come closest to the texture's share
    of the target, so that busier bars get busier textures (an ostinato keeps a quarter / 8th /
    16th pulse). ``taken``: onsets of the bar's hit stabs, which count against the share."""
    per = NOTES_PER_ONSET.get(idm.texture, 1) * (2 if idm.octave_double else 1)
    want = max(1.0, (texture_share(idm, density) - taken) / per)
    if idm.texture == "ostinato":  # a pulse: quarters in quiet bars, 16ths in busy ones
        options = [1, 2, 4]
    elif idm.texture == "pad":  # sustained: re-struck at most every half bar
        options = [r for r in (8, 16) if r <= spb] or [spb]
    else:
        options = [r for r in (1, 2, 4, 8, 16) if rate / 2 <= r <= min(spb, rate * 4)] or [min(rate, spb)]
    return min(options, key=lambda r: (abs(spb / r - want), -r))


def _bar_texture(controls: Controls, idm: Idiom, start: int, spb: int, bpb: int, rate: int, d: int,
                 variant: int, roots: np.ndarray, ivs: list[tuple[int, ...]], acc: np.ndarray,
                 taken: int = 0) -> list[Note]:
    lo, hi = idm.register
    out: list[Note] = []
    rate = bar_rate(idm, rate, d, spb, taken)
    if idm.texture == "pad":
        changes = {0} | {s for s in range(1, spb) if roots[start + s] != roots[start + s - 1]}
        changes = sorted(changes | (set(range(0, spb, rate)) if rate < spb else set()))
        for i, s in enumerate(changes):
            g = start + s
            end = changes[i + 1] if i + 1 < len(changes) else spb
            tones = _voicing(int(roots[g]), ivs[g], lo + (7 if variant else 0))
            vel = _metric_velocity(idm.velocity, s, g, acc)
            out += [Note(g, "piano", p, max(1, end - s), vel) for p in tones if p <= hi + 12]
            if idm.clash and end > TENSION_FROM_STEP:  # the cluster tone swells in at the half bar
                c0 = max(s, TENSION_FROM_STEP)
                out.append(Note(start + c0, "piano", tones[0] + 13, end - c0, max(1, vel - 10)))
        return out
    if idm.texture == "strum":
        # the bar's share of the density target sets how busy the strumming is: the pattern
        # family (slow / full) and how many strings each stroke takes, so that busier bars get
        # more notes (motion drives density) while the strum pattern stays a strum
        target = max(2.0, texture_share(idm, d) - taken)
        slow = len(SLOW_STRUMS[0]) * 4.0  # notes of a slow bar with 4 strings a stroke
        pats = SLOW_STRUMS if target <= slow else STRUMS
        pattern = pats[variant % len(pats)] if bpb == 4 else tuple((x * 4, True) for x in range(bpb))
        n_str = int(min(6, max(4, round(target / len(pattern)))))  # a strum keeps >= 4 strings
        steps = [s for s, _ in pattern] + [spb]
        for i, (s, down) in enumerate(pattern):
            g = start + s
            r = lo + (int(roots[g]) - lo) % 12
            iv = ivs[g]
            third = iv[1] if len(iv) > 1 else 4
            five = [r, r + 7, r + 12, r + 12 + third, r + 19, r + 24]
            if idm.clash and s >= TENSION_FROM_STEP:  # the b9 in the strokes of the second half
                five[3] = r + 13
            strings = five[:n_str] if down else five[2:][-min(n_str, 4):]
            dur = max(1, round((steps[i + 1] - s) * idm.articulation))
            vel = _metric_velocity(idm.velocity - (0 if down else 12), s, g, acc)
            out += [Note(g, "piano", p, dur, vel) for p in strings]
        return out
    onsets = list(range(0, spb, rate))
    # a bar busier than the texture's fastest pulse allows: the excess becomes a chord tone under
    # the beat onsets (dyads), so the bar's note count still follows its density target
    per = NOTES_PER_ONSET.get(idm.texture, 1) * (2 if idm.octave_double else 1)
    spare = int(round(texture_share(idm, d) - taken - per * len(onsets))) if per == 1 else 0
    beat_onsets = [s for s in onsets if s % STEPS_PER_BEAT == 0]
    under = set(beat_onsets[:max(0, spare)])
    pair = ostinato_pair(controls, idm, start, spb, roots, ivs) if idm.texture == "ostinato" \
        else (-1, -1)
    for k, s in enumerate(onsets):
        g = start + s
        base = lo + (7 if (variant and idm.texture == "arpeggio") else 0)
        tones = _voicing(int(roots[g]), ivs[g], base)
        root_pitch = lo + (int(roots[g]) - lo) % 12
        if idm.clash and idm.texture == "ostinato":  # a tension bar's b9 figure keeps its root
            root_pitch = lo + (int(roots[start]) - lo) % 12
        pitches = _pattern_pitches(idm, tones, root_pitch, k, variant, pair)
        nxt = onsets[k + 1] if k + 1 < len(onsets) else spb
        dur = max(1, round((nxt - s) * idm.articulation))
        if idm.texture in ("arpeggio", "alberti") and idm.articulation >= 0.85:
            dur = max(dur, min(spb - s, 2 * (nxt - s)))  # let broken chords ring (pedal-like)
        vel = _metric_velocity(idm.velocity, s, g, acc)
        if idm.octave_double:
            pitches = pitches + [pitches[-1] + 12]
        if s in under and idm.texture == "ostinato":  # divisi: the figure's other pitch below
            fig = {p % 12 for p in _pattern_pitches(idm, tones, root_pitch, 0, 0, pair)
                   + _pattern_pitches(idm, tones, root_pitch, 2, 0, pair)}
            low = [p for p in range(min(pitches) - 12, min(pitches)) if p % 12 in fig]
            pitches = [max(low) if low else min(pitches) - 12] + list(pitches)
        elif s in under:
            low = [t for t in tones if t < min(pitches)]
            pitches = [low[-1] if low else min(pitches) - 12] + list(pitches)
        out += [Note(g, "piano", p, dur, vel) for p in pitches if 21 <= p <= 108]
    return out


def pad_layer(controls: Controls, idm: Idiom, track: str, bars: tuple[int, int] | None = None) -> list[Note]:
    """A sustained pad on ``track`` an octave above the texture: the chord's third and fifth (and
    the b9 when tense), held from every chord change to the next (re-struck each bar)."""
    a, b = bars or (0, controls.n_bars)
    spb = controls.steps_per_bar
    roots, ivs = chord_at_steps(controls)
    lo = idm.register[0] + 12
    end_bar = controls.ending_bar if controls.ending_bar is not None else controls.n_bars
    out: list[Note] = []
    for bar in range(a, min(b, end_bar)):
        start = bar * spb
        if _density(controls, bar) < 1:
            continue
        changes = [0] + [s for s in range(1, spb) if roots[start + s] != roots[start + s - 1]]
        for i, s in enumerate(changes):
            g = start + s
            end = changes[i + 1] if i + 1 < len(changes) else spb
            tones = _voicing(int(roots[g]), ivs[g], lo, extra_octave=False)[1:]
            out += [Note(g, track, p, max(1, end - s), max(1, idm.velocity - 8)) for p in tones]
            if tension_bar(controls, idm, bar) and end > TENSION_FROM_STEP:
                c0 = max(s, TENSION_FROM_STEP)  # the b9 (above the fifth) from the half bar
                out.append(Note(start + c0, track, tones[-1] + 1, end - c0, max(1, idm.velocity - 14)))
    return _merge([n for n in out if 21 <= n.pitch <= 108])


# ------------------------------------------------------------------------------------ bass
def _against(pc: int, root: int, iv: tuple[int, ...]) -> bool:
    """Whether the chord (``root`` + ``iv``) has a tone a semitone from pitch class ``pc``."""
    return any((int(root) + i - pc) % 12 in (1, 11) for i in iv)


def bass_line(controls: Controls, idm: Idiom, bars: tuple[int, int] | None = None,
              seed: int = 0) -> list[Note]:
    """The bass of ``idm.bass`` in bars ``[a, b)`` (MIDI 36..59)."""
    a, b = bars or (0, controls.n_bars)
    spb, bpb = controls.steps_per_bar, controls.beats_per_bar
    roots, ivs = chord_at_steps(controls)
    acc = np.asarray(controls.accent_steps, dtype=bool)
    hits = _hits(controls)
    tonic = int(controls.key_tonic) % 12
    out: list[Note] = []
    kind = idm.bass
    for bar in range(a, b):
        start = bar * spb
        if bar == controls.ending_bar:  # the final root, re-struck on the button
            out += ending_bass(controls, BASS_LOW + int(roots[start]))
            continue
        if controls.ending_bar is not None and bar > controls.ending_bar:
            continue
        d = _density(controls, bar)
        if d < 1:
            continue
        var_bar = bar % idm.variation_bars == idm.variation_bars - 1
        changes = {s for s in range(1, spb) if roots[start + s] != roots[start + s - 1]}
        ev: list[tuple[int, int, int]] = []  # (step in bar, pitch, duration)

        def root(s: int, up: int = 0, start: int = start) -> int:
            return BASS_LOW + int(roots[start + s]) + up

        if kind == "offbeat":  # the kick owns the beats; the bass answers on the "and"s
            ev = [(s + 2, root(s) + 12 * (var_bar and s >= 8), 2) for s in range(0, spb, STEPS_PER_BEAT)]
        elif kind == "root_fifth":
            half = spb // 2 if bpb >= 4 else spb
            ev = [(0, root(0), half)]
            if bpb >= 4:
                fifth = root(half) + 7 if root(half) + 7 <= 52 else root(half) - 5
                ev.append((half, fifth, half))
        elif kind == "sustained":
            pts = [0] + sorted(changes)
            ev = [(s, root(s), (pts[i + 1] if i + 1 < len(pts) else spb) - s) for i, s in enumerate(pts)]
        elif kind == "pedal":  # tonic pedal point, restruck each bar (and halfway in busy bars)
            p = BASS_LOW + tonic
            ev = [(0, p, spb)] if d < 10 or bpb < 4 else [(0, p, spb // 2), (spb // 2, p, spb // 2)]
            if tension_bar(controls, idm, bar) and spb > TENSION_FROM_STEP and idm.texture == "model":
                # the half-step ostinato of suspense, where no arranged texture sounds the b9
                # against the pedal (the model's own piano): from the half bar the pedal leans on
                # the semitone above the tonic, against the tonic (or V's leading tone) above
                # it, and falls back on the next downbeat
                ev = [(0, p, TENSION_FROM_STEP), (TENSION_FROM_STEP, p + 1, spb - TENSION_FROM_STEP)]
            else:
                # outside the tension bars the pedal yields to the chord's root wherever the
                # chord has a tone a semitone from the tonic (V's leading tone, bII)
                ev = [(s, root(s) if _against(tonic, roots[start + s], ivs[start + s]) else p, n)
                      for s, _, n in ev]
        elif kind == "bouncy":
            ev = [(s, root(s) + (12 if (s // STEPS_PER_BEAT) % 2 else 0), 2)
                  for s in range(0, spb, STEPS_PER_BEAT)]
            if var_bar:
                ev.append((spb - 2, root(spb - 2) + 7, 1))
        elif kind == "driving":
            ev = [(s, root(s) + (12 if var_bar and s % 8 == 6 else 0), 2) for s in range(0, spb, 2)]
        else:  # "root": on 1 (and 3 when the bar is busy), at chord changes, a pickup in var bars
            pts = {0} | changes
            if d >= 10 and bpb >= 4:
                pts.add(spb // 2)
            if var_bar and bpb >= 4:
                pts.add(spb - 2)
            pts_l = sorted(pts)
            ev = [(s, root(s) + (7 if s == spb - 2 and var_bar else 0),
                   (pts_l[i + 1] if i + 1 < len(pts_l) else spb) - s) for i, s in enumerate(pts_l)]
        hit_here = [k - start for k in hits if start <= k < start + spb]
        if idm.texture not in ("strum", "block", "pad", "model") and "piano" in controls.arranged:
            # a strong visual beat: the bass re-strikes the root where the single-line texture
            # has no onset of its own (the texture keeps its regular pulse)
            wants = [s for s in range(spb) if acc.shape[0] > start + s and acc[start + s]
                     and (start + s) not in hits]
            if wants:  # (the texture as rule_notes plays it: this bar's bass counted against it)
                tex = {n.onset_16th - start for n in texture_notes(controls, idm, (bar, bar + 1), seed,
                                                                   {bar: len(ev)})}
                hit_here += [s for s in wants if s not in tex]
        for s in hit_here:
            if all(e[0] != s for e in ev):
                ev.append((s, root(s), 2))
        for s, p, dur in ev:
            g = start + s
            vel = 112 if g in hits else 104 if g < acc.shape[0] and acc[g] else 90 - (6 if s % 4 else 0)
            out.append(Note(g, "bass", int(p), max(1, int(dur)), int(vel)))
    return _merge(out)


# ----------------------------------------------------------------------------------- drums
def drum_part(controls: Controls, idm: Idiom, mood: str = "", bars: tuple[int, int] | None = None,
              seed: int = 0) -> list[Note]:
    """The drums of ``idm.drums`` in bars ``[a, b)`` (GM percussion keys)."""
    if idm.drums == "none":
        return []
    a, b = bars or (0, controls.n_bars)
    spb, bpb = controls.steps_per_bar, controls.beats_per_bar
    acc = np.asarray(controls.accent_steps, dtype=bool)
    hits = _hits(controls)
    fills = set(controls.fill_bars)
    vb = idm.variation_bars
    out: list[Note] = []
    for bar in range(a, b):
        start = bar * spb
        if controls.ending_bar is not None and bar > controls.ending_bar:
            continue
        h: dict[tuple[int, int], int] = {}
        d = _density(controls, bar)
        ending = bar == controls.ending_bar
        fill = (bar in fills or bar % vb == vb - 1) and not ending
        variant = int(_rng(seed, bar // vb, 11).integers(2))
        if ending:  # the final chord and its buttons
            h.update(ending_hits(controls, KICK if idm.drums != "cinematic" else TOM_LOW))
        elif d >= 1:
            if idm.drums == "backbeat":
                _backbeat(h, spb, bpb, d, variant, bar % vb == vb - 1, mood)
            elif idm.drums == "four_floor":
                _four_floor(h, spb, bpb, d, bar % vb == vb - 1, bar % vb == 0 and bar > 0)
            else:
                _cinematic_groove(h, spb, bpb, mood, variant)
        if fill and d >= 1:
            _fill(h, spb, idm.drums, long=bar in fills and idm.drums == "four_floor")
        for s in range(spb):
            g = start + s
            kind = hits.get(g, "")
            if kind in ("section", "crash", "stab"):
                h[(s, CRASH)] = HIT_CRASH_VELOCITY
                if idm.drums == "cinematic":
                    h[(s, TOM_LOW)], h[(s, KICK2)] = 120, 112
                else:
                    h[(s, KICK)] = HIT_KICK_VELOCITY
            elif kind == "accent":
                if idm.drums == "cinematic":
                    h[(s, TOM_LOW)], h[(s, KICK2)] = 115, 106
                else:
                    h[(s, KICK)], h[(s, SNARE)] = 110, 104
            elif g < acc.shape[0] and acc[g]:
                for key in [k for (st, k) in h if st == s]:
                    h[(s, key)] = min(127, h[(s, key)] + 16)
                if not ending and not any(st == s and k in _ACCENT_VOICES for (st, k) in h):
                    # a strong visual beat off the groove's own strokes: the kit catches it
                    key, vel = ACCENT_STROKE[idm.drums]
                    h[(s, key)] = vel
        for (s, key), vel in sorted(h.items()):
            out.append(Note(start + s, "drums", key, 8 if key == CRASH else 2, vel))
    # a hit point owns its moment: the kit is silent on the 16th before it (a kick or clap there
    # would still ring and mask the hit's attack), except for the cinematic roll into it
    before = {k - 1 for k, kind in hits.items() if kind in ("section", "crash", "stab", "accent")}
    before -= set(hits)
    out = [n for n in out if n.onset_16th not in before]
    if idm.drums == "four_floor":  # the producer's stop: the whole kit rests an 8th before a crash
        gap = {k - 2 for k, kind in hits.items() if kind in ("section", "crash")} - set(hits)
        out = [n for n in out if n.onset_16th not in gap]
    # cinematic: a timpani-like roll (low tom 16ths, crescendo) into every section hit
    if idm.drums == "cinematic":
        for k, kind in hits.items():
            if kind in ("section", "crash") and a * spb <= k < b * spb:
                for i in range(1, STEPS_PER_BEAT + 1):
                    if k - i >= 0:
                        out.append(Note(k - i, "drums", TOM_FLOOR, 1, 60 + 10 * (STEPS_PER_BEAT - i)))
    return _merge(out)


def _backbeat(h: dict, spb: int, bpb: int, d: int, variant: int, var_bar: bool, mood: str) -> None:
    h[(0, KICK)] = 100
    if bpb >= 4 and mood not in ("calm", "sad"):
        h[(8, KICK)] = 94
        if variant or var_bar:
            h[(10, KICK)] = 84
    if bpb >= 4 and mood == "happy":
        h[(6, KICK)] = 86  # a push into beat 3
    if bpb >= 4 and mood in ("tense", "sad"):
        h[(11, KICK)] = 80
    for beat in range(1, bpb, 2 if bpb >= 4 else 1):
        h[(beat * STEPS_PER_BEAT, SNARE)] = 94
    hat = 1 if mood in ("playful", "tense") and d >= 10 else 4 if mood in ("calm", "sad") or d < 6 else 2
    for s in range(0, spb, hat):
        h[(s, HAT)] = 78 if s % STEPS_PER_BEAT == 0 else 60
    if var_bar:
        h.pop((spb - 2, HAT), None)
        h[(spb - 2, OPEN_HAT)] = 74


def _four_floor(h: dict, spb: int, bpb: int, d: int, var_bar: bool, drop: bool) -> None:
    for beat in range(bpb):
        h[(beat * STEPS_PER_BEAT, KICK)] = 108
    for beat in range(1, bpb, 2):
        h[(beat * STEPS_PER_BEAT, CLAP)] = 96
    for beat in range(bpb):
        h[(beat * STEPS_PER_BEAT + 2, OPEN_HAT if var_bar else HAT)] = 80
    if d >= HAT16_DENSITY:  # the 16th hats are the busy bars' energy layer, not the floor
        for beat in range(bpb):
            for o in (1, 3):
                h[(beat * STEPS_PER_BEAT + o, HAT)] = 52
    if drop:
        h[(0, CRASH)] = 110


def _cinematic_groove(h: dict, spb: int, bpb: int, mood: str, variant: int) -> None:
    if mood == "epic":  # a taiko-like tom ostinato
        for s, key in ((0, TOM_LOW), (3, TOM_FLOOR), (6, TOM_FLOOR), (8, TOM_LOW), (11, TOM_FLOOR),
                       (14, TOM_MID if variant else TOM_FLOOR)):
            if s < spb:
                h[(s, key)] = 100 if s % 8 == 0 else 82
        h[(0, KICK2)] = 104
    elif mood == "tense":  # a heartbeat
        h[(0, KICK2)], h[(3, KICK2)] = 84, 66
    elif mood in ("happy", "playful", "neutral"):
        h[(0, KICK2)] = 80
        if bpb >= 4:
            h[(8, TOM_LOW)] = 70


def _fill(h: dict, spb: int, drums: str, *, long: bool) -> None:
    n = 2 * STEPS_PER_BEAT if long else STEPS_PER_BEAT
    first = spb - n
    for key in [k for k in list(h) if k[0] >= first and k[1] in (HAT, OPEN_HAT, SNARE, CLAP)]:
        h.pop(key)
    for i in range(n):
        s = first + i
        if drums == "cinematic":
            key = TOM_LOW if i % 2 == 0 else TOM_FLOOR
        elif drums == "four_floor":
            key = SNARE
        else:
            key = SNARE if i < n - 1 else TOM_MID
        h[(s, key)] = int(70 + 40 * (i + 1) / n)
