"""Per-mood / per-style harmonic vocabulary: biases on the learned chord sampler (issue 19).

A :class:`Vocabulary` does not paste progressions. It tilts the POP909 trigram that
:func:`videobgm.plan.chord_sampling.sample_progression` samples, as one more expert in its
product (exact under the cadence and fixed-chord constraints):

* ``quality`` / ``degree``: log-weights per chord quality and per scale degree (semitones above
  the tonic) - e.g. tense favours ``dim`` and the minor-second ``bII``, calm ``sus2``/``sus4``/
  ``maj7``;
* ``chromatic``: log-weight of a root outside the mode's diatonic scale;
* ``semitone_motion``: log-weight of a root moving by one semitone (chromatic motion), a factor
  on the trigram's transition ``b -> c``;
* ``change``: log-weight per chord change in a bar's harmonic rhythm (< 0: slower, > 0:
  faster), and ``max_changes`` per bar. It acts per bar, and a calm piece's bars are already
  long (the calm/ambient tempo ranges sit near 80 bpm: 3 s a bar), while POP909 holds a chord
  about 2 s at any tempo (first 150 train songs in 4/4: 1.47 changes a bar at 70-85 bpm,
  1.07 above 130 bpm; ``bench/harmonic_rhythm.py --pop909 150``). So calm's tilt is -0.35
  (about 2.6 s a chord at 80 bpm, 25 % slower than the data there); -0.7 made it 3 s and
  more, under one change a bar;
* ``pedal``: ``"tonic"`` holds the tonic in the bass under the changing chords of each phrase
  up to its cadence bars (a pedal point), ``None`` keeps the learned inversions.

Keyed by the lexicon's mood names (:data:`MOOD_VOCABULARY`) and style names
(:data:`STYLE_VOCABULARY`); :func:`vocabulary_for` adds a style's weights at half strength to
its mood's. These tables are part of the one lexicon (moods and styles); they live here, next to
the sampler they tilt, until the lexicon module owns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from videobgm.plan.chord_corpus import QUALITIES, V, symbol

_DIATONIC = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}


@dataclass(frozen=True)
class Vocabulary:
    """Log-weights that tilt the learned sampler (see the module docstring); all 0 = neutral."""

    name: str = "neutral"
    quality: dict[str, float] = field(default_factory=dict)
    degree: dict[int, float] = field(default_factory=dict)
    chromatic: float = 0.0
    semitone_motion: float = 0.0
    change: float = 0.0
    max_changes: int = 2
    pedal: str | None = None
    why: str = "the learned POP909 vocabulary, untilted"

    def chord_log_weights(self, mode: str) -> np.ndarray:
        """Log-weight of every chord symbol, shape (V,)."""
        w = np.zeros(V)
        dia = _DIATONIC.get(mode, _DIATONIC["major"])
        for deg in range(12):
            for q in QUALITIES:
                w[symbol(deg, q)] = (self.quality.get(q, 0.0) + self.degree.get(deg, 0.0)
                                     + (self.chromatic if deg not in dia else 0.0))
        return w

    def motion_log_weights(self) -> np.ndarray | None:
        """Log-weight of each transition ``b -> c`` (V, V), or None when there is none."""
        if not self.semitone_motion:
            return None
        roots = np.arange(V) // len(QUALITIES)
        d = (roots[None, :] - roots[:, None]) % 12
        return np.where((d == 1) | (d == 11), self.semitone_motion, 0.0)

    def boosted(self, mode: str, threshold: float = 0.9) -> list[int]:
        """Symbols this vocabulary favours strongly (added to the sampling vocabulary)."""
        return np.flatnonzero(self.chord_log_weights(mode) >= threshold).tolist()

    def combine(self, other: Vocabulary, scale: float = 0.5) -> Vocabulary:
        """This vocabulary plus ``scale`` times ``other``'s weights."""
        q = {k: self.quality.get(k, 0.0) + scale * other.quality.get(k, 0.0)
             for k in {*self.quality, *other.quality}}
        d = {k: self.degree.get(k, 0.0) + scale * other.degree.get(k, 0.0)
             for k in {*self.degree, *other.degree}}
        return Vocabulary(
            name=f"{self.name}+{other.name}", quality=q, degree=d,
            chromatic=self.chromatic + scale * other.chromatic,
            semitone_motion=self.semitone_motion + scale * other.semitone_motion,
            change=self.change + scale * other.change,
            max_changes=min(self.max_changes, other.max_changes),
            pedal=self.pedal or other.pedal, why=f"{self.why}; {other.why}")


NEUTRAL = Vocabulary()
MOOD_VOCABULARY: dict[str, Vocabulary] = {
    "neutral": NEUTRAL,
    "calm": Vocabulary(
        "calm", quality={"sus2": 1.2, "sus4": 0.8, "maj7": 1.0, "min7": 0.4, "dim": -1.5,
                         "aug": -1.5, "7": -0.3},
        chromatic=-0.5, change=-0.35,
        why="calm: sus2/sus4/maj7 colour, no dim/aug, a slower harmonic rhythm"),
    "happy": Vocabulary(
        "happy", quality={"maj": 0.4, "dim": -1.0, "aug": -1.0, "min7": -0.2},
        degree={0: 0.2, 5: 0.3, 7: 0.3}, chromatic=-0.3, change=0.15,
        why="happy: bright major triads (I IV V), a slightly faster harmonic rhythm"),
    "playful": Vocabulary(
        "playful", quality={"maj": 0.4, "7": 0.3, "dim": -0.8, "aug": -1.0},
        degree={5: 0.3, 7: 0.3, 2: 0.2}, chromatic=-0.2, change=0.4,
        why="playful: major and dominant-7th colour, a faster harmonic rhythm"),
    "sad": Vocabulary(
        "sad", quality={"min": 0.4, "min7": 0.5, "aug": -1.0},
        degree={5: 0.3, 8: 0.3}, change=-0.15,
        why="sad: minor and minor-7th chords, iv and VI"),
    "tense": Vocabulary(
        "tense", quality={"dim": 1.8, "aug": 0.6, "sus2": -0.8, "maj7": -0.8},
        degree={1: 2.2, 6: 0.6}, chromatic=0.6, semitone_motion=1.2, pedal="tonic",
        why="tense: diminished chords, the minor-second bII, chromatic (semitone) root motion, "
            "a tonic pedal under each phrase"),
    "epic": Vocabulary(
        "epic", quality={"maj": 0.5, "min": 0.3, "7": -0.6, "maj7": -0.8, "min7": -0.6,
                         "sus2": -0.6, "dim": -1.0, "aug": -1.0},
        degree={0: 0.3, 8: 0.9, 3: 0.8, 10: 0.9}, chromatic=-0.5, change=-0.6,
        why="epic: i-VI-III-VII triads, a slow ostinato-friendly harmonic rhythm"),
}
STYLE_VOCABULARY: dict[str, Vocabulary] = {
    "pop": NEUTRAL,
    "ambient": Vocabulary(
        "ambient", quality={"sus2": 0.8, "maj7": 0.8, "min7": 0.4, "sus4": 0.4}, change=-0.15,
        why="ambient style: open sus/maj7 chords, slower changes"),
    "cinematic": Vocabulary(
        "cinematic", quality={"maj": 0.2, "7": -0.3}, degree={8: 0.4, 3: 0.3, 10: 0.3},
        why="cinematic style: modal VI/III/VII colour"),
    "electronic": Vocabulary(
        "electronic", quality={"min7": 0.6, "sus4": 0.4, "sus2": 0.4}, change=-0.2,
        why="electronic style: min7/sus loops, steady changes"),
    "acoustic": Vocabulary(
        "acoustic", quality={"sus2": 0.6, "sus4": 0.6, "maj": 0.2},
        why="acoustic style: guitar-friendly sus2/sus4 colour"),
}


def vocabulary_for(mood: str | None, style: str | None) -> Vocabulary:
    """The mood's vocabulary plus the style's at half strength (unknown names: neutral)."""
    m = MOOD_VOCABULARY.get(str(mood or "neutral"), NEUTRAL)
    s = STYLE_VOCABULARY.get(str(style or "pop"), NEUTRAL)
    return m if s is NEUTRAL else m.combine(s, 0.5)
