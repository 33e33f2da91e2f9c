"""The style and mood grammar of the music itself (not of the GM patches).

Every style (``vocab.STYLES``) and every mood (``vocab.MOODS`` + neutral) sets how the arranger
(:mod:`videobgm.compose.textures`) realises the plan's chords: tempo range and feel, the accompaniment
texture, its register, density and articulation, and the drum and bass idioms, with a variation
every ``variation_bars`` bars and fills at phrase ends. A style gives the frame; the mood moves it
(register, density, articulation, dynamics, a tense semitone ostinato/cluster, a bouncy bass).

=========== ============== ============ ============= ============ ==============
style       tempo (bpm)    feel         texture       drums        bass
=========== ============== ============ ============= ============ ==============
pop         88..128        straight     model (POP909 backbeat     root (1, 3)
                                        PIANO track)
electronic  118..132       straight     arpeggiator   four-on-the  off-beat 8ths
                                        (16ths)       -floor       (room for kick)
acoustic    76..120        light swing  guitar strum  none         root-fifth
ambient     56..90         half-time    sustained pad none         held roots
cinematic   66..124        straight     string        toms/timpani tonic pedal
                                        ostinato      on hits
=========== ============== ============ ============= ============ ==============

Each style and mood also has a harmonic vocabulary (:data:`STYLE_HARMONY`, :data:`MOOD_HARMONY`,
:func:`harmony_vocabulary`): the tilts of the learned chord sampler (calm: sus2/sus4/maj7, slower
changes; tense: diminished, bII, chromatic motion, a tonic pedal; epic: i-VI-III-VII; ...).

The names are the lexicon's (imported from :mod:`videobgm.music.lexicon`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from videobgm.music.lexicon import MOODS, NEUTRAL_MOOD, STYLES

TEXTURES: tuple[str, ...] = ("model", "arpeggio", "block", "alberti", "strum", "pad", "ostinato",
                             "arpeggiator")
DRUM_IDIOMS: tuple[str, ...] = ("backbeat", "four_floor", "cinematic", "none")
BASS_IDIOMS: tuple[str, ...] = ("root", "offbeat", "root_fifth", "sustained", "pedal", "bouncy",
                                "driving")
FEELS: tuple[str, ...] = ("straight", "swing", "half")
FIT_MARGIN = 0.04  # fit_tempo aims this far inside the range (the planner's tempo freedom)


@dataclass(frozen=True)
class Idiom:
    """How one style x mood is arranged.

    Attributes
    ----------
    tempo_range_bpm : (float, float)
        Tempi the idiom is written for (the bench checks the plan against it).
    feel : str
        ``straight``, ``swing`` (the performer swings off-beat 16ths, :mod:`videobgm.audio.perform`) or
        ``half`` (half-time: texture and bass move at half the rate).
    texture : str
        One of :data:`TEXTURES`; ``model`` keeps the transformer's POP909-learned PIANO track.
    register : (int, int)
        MIDI range of the texture's notes.
    step_16th : int
        The texture's basic note value in 16ths (before the mood's density and the feel).
    articulation : float
        Share of the gap to the next onset a texture note sounds (1 legato .. 0.4 staccato).
    velocity : int
        Base velocity of the texture.
    drums, bass : str
        One of :data:`DRUM_IDIOMS` / :data:`BASS_IDIOMS`.
    variation_bars : int
        Every this many bars the pattern varies (inversion, fill, kick variant).
    clash : bool
        Tense colour: the texture's ostinato / arpeggio alternates the root with the semitone
        above (b9) and pads add it as a cluster tone, against the bass's root.
    octave_double : bool
        Epic colour: the texture doubles its top voice an octave up.
    model_share : float
        Share of the plan's density / strength targets left to the model (melody, bridge) when
        the arranger writes the accompaniment: the density range of the style's foreground.
    pad_tracks : tuple of str
        Further tracks the arranger writes as a sustained high pad (ambient: the bridge's
        strings), so that the model writes only the melody over them.
    avoid_notes : bool
        Calm colour: the melody avoids pitches a semitone from the sounding bass (the major
        seventh over the root: a non-chord tone on the beat, an appoggiatura, restated with its
        motif), with the sampler's ``melody_avoid_bias``
        (:func:`videobgm.compose.note_constraints.avoid_note_bias`). Its other non-chord tones
        (the 9th, 4th, 6th) stay.
    """

    tempo_range_bpm: tuple[float, float]
    feel: str
    texture: str
    register: tuple[int, int]
    step_16th: int
    articulation: float
    velocity: int
    drums: str
    bass: str
    variation_bars: int = 4
    clash: bool = False
    octave_double: bool = False
    model_share: float = 0.4
    pad_tracks: tuple[str, ...] = ()
    avoid_notes: bool = False


STYLE_IDIOMS: dict[str, Idiom] = {
    "pop": Idiom((88.0, 128.0), "straight", "model", (48, 76), 2, 0.9, 80, "backbeat", "root", 4),
    "electronic": Idiom((118.0, 132.0), "straight", "arpeggiator", (57, 84), 1, 0.5, 78,
                        "four_floor", "offbeat", 8),
    "acoustic": Idiom((76.0, 120.0), "swing", "strum", (45, 69), 2, 0.8, 76, "none",
                      "root_fifth", 4),
    "ambient": Idiom((56.0, 90.0), "half", "pad", (50, 79), 16, 1.0, 64, "none", "sustained", 8,
                     model_share=0.15, pad_tracks=("bridge",)),
    "cinematic": Idiom((66.0, 124.0), "straight", "ostinato", (45, 64), 2, 0.85, 80, "cinematic",
                       "pedal", 4),
}


@dataclass(frozen=True)
class MoodColour:
    """What a mood changes in any style's idiom."""

    tempo_range_bpm: tuple[float, float]
    density: float  # texture rate multiplier: 2 = twice as many onsets, 0.5 = half
    register_shift: int  # semitones added to the texture's register
    articulation: float  # multiplier of the style's articulation
    velocity: int  # added to the style's velocity
    clash: bool = False
    octave_double: bool = False
    bass: str | None = None  # replaces the style's bass idiom (None: keep it)
    texture: dict[str, str] | None = None  # style -> texture replacing the style's
    avoid_notes: bool = False  # the melody avoids a semitone from the bass (Idiom.avoid_notes)


MOOD_COLOURS: dict[str, MoodColour] = {
    NEUTRAL_MOOD: MoodColour((80.0, 124.0), 1.0, 0, 1.0, 0),
    "calm": MoodColour((56.0, 92.0), 0.5, 3, 1.15, -14, bass="sustained",
                       texture={"cinematic": "pad", "acoustic": "arpeggio"}, avoid_notes=True),
    "happy": MoodColour((100.0, 132.0), 2.0, 5, 0.9, 6),
    "sad": MoodColour((56.0, 84.0), 0.5, -5, 1.1, -10, texture={"electronic": "pad",
                                                                 "acoustic": "arpeggio"}),
    "tense": MoodColour((84.0, 128.0), 1.0, -3, 0.8, 4, clash=True, bass="pedal",
                        ),
    "epic": MoodColour((92.0, 140.0), 2.0, -2, 0.9, 16, octave_double=True, bass="driving",
                       texture={"acoustic": "strum"}),
    "playful": MoodColour((104.0, 140.0), 1.0, 7, 0.5, 8, bass="bouncy"),
}


@dataclass(frozen=True)
class Vocabulary:
    """A mood's or style's harmonic vocabulary: log-weights that tilt the learned POP909 chord
    sampler (:mod:`videobgm.plan.chord_sampling`, via :mod:`videobgm.plan.chord_vocab`); all 0 =
    neutral.

    Attributes
    ----------
    quality, degree : dict
        Log-weights per chord quality and per scale degree (semitones above the tonic) - e.g.
        tense favours ``dim`` and the minor-second ``bII``, calm ``sus2``/``sus4``/``maj7``.
    chromatic : float
        Log-weight of a root outside the mode's diatonic scale.
    semitone_motion : float
        Log-weight of a root moving by one semitone (chromatic motion), a factor on the
        trigram's transition ``b -> c``.
    change : float
        Log-weight per chord change in a bar's harmonic rhythm (< 0: slower, > 0: faster).
        It acts per bar, and a calm piece's bars are already long (the calm/ambient tempo
        ranges sit near 80 bpm: 3 s a bar), while POP909 holds a chord about 2 s at any tempo
        (first 150 train songs in 4/4: 1.47 changes a bar at 70-85 bpm, 1.07 above 130 bpm;
        ``bench/harmonic_rhythm.py --pop909 150``). So calm's tilt is -0.35 (about 2.6 s a
        chord at 80 bpm, 25 % slower than the data there); -0.7 made it 3 s and more, under
        one change a bar.
    max_changes : int
        Chord changes per bar at most.
    pedal : str or None
        ``"tonic"`` holds the tonic in the bass under the changing chords of each phrase up to
        its cadence bars (a pedal point); None keeps the learned inversions.
    why : str
        The reason the plan's ``reasons["chords"]`` names.
    """

    name: str = "neutral"
    quality: dict[str, float] = field(default_factory=dict)
    degree: dict[int, float] = field(default_factory=dict)
    chromatic: float = 0.0
    semitone_motion: float = 0.0
    change: float = 0.0
    max_changes: int = 2
    pedal: str | None = None
    why: str = "the learned POP909 vocabulary, untilted"

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
MOOD_HARMONY: dict[str, Vocabulary] = {
    "neutral": NEUTRAL,
    "calm": Vocabulary(
        "calm", quality={"sus2": 1.2, "sus4": 0.8, "maj7": 0.3, "min7": 0.4, "dim": -1.5,
                         "aug": -1.5, "7": -0.3},
        chromatic=-0.5, change=-0.35,
        why="calm: sus2/sus4 colour, a little maj7, no dim/aug, a slower harmonic rhythm"),
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
STYLE_HARMONY: dict[str, Vocabulary] = {
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


def harmony_vocabulary(mood: str | None, style: str | None) -> Vocabulary:
    """The mood's vocabulary plus the style's at half strength (unknown names: neutral)."""
    m = MOOD_HARMONY.get(str(mood or "neutral"), NEUTRAL)
    s = STYLE_HARMONY.get(str(style or "pop"), NEUTRAL)
    return m if s is NEUTRAL else m.combine(s, 0.5)


def idiom(style: str, mood: str | None = None) -> Idiom:
    """The idiom of ``style`` coloured by ``mood`` (unknown mood: neutral).

    Raises
    ------
    KeyError
        ``style`` is not a lexicon style.
    """
    base = STYLE_IDIOMS[style]
    colour = MOOD_COLOURS.get(mood or NEUTRAL_MOOD, MOOD_COLOURS[NEUTRAL_MOOD])
    texture = (colour.texture or {}).get(style, base.texture)
    if base.texture == "model":
        texture = "model"  # pop keeps the POP909-learned accompaniment in every mood
    lo = max(21, min(max(base.tempo_range_bpm[0], colour.tempo_range_bpm[0]), base.tempo_range_bpm[1] - 8))
    hi = max(lo + 8, min(base.tempo_range_bpm[1], colour.tempo_range_bpm[1]))
    step = base.step_16th if texture == base.texture else (16 if texture == "pad" else 2)
    step = max(1, min(16, round(step / colour.density)))
    return replace(
        base, texture=texture, tempo_range_bpm=(float(lo), float(hi)),
        register=(base.register[0] + colour.register_shift, base.register[1] + colour.register_shift),
        step_16th=step, articulation=min(1.0, base.articulation * colour.articulation),
        velocity=max(30, min(120, base.velocity + colour.velocity)),
        bass=base.bass if base.bass == "sustained" else colour.bass or base.bass, clash=colour.clash, octave_double=colour.octave_double,
        avoid_notes=base.avoid_notes or colour.avoid_notes,
    )


def fit_tempo(tempo_bpm: float, style: str, mood: str, *, visual: bool) -> tuple[float, str]:
    """A tempo derived from the video, fitted to the style x mood range: the octave of it
    (x1, x2, x0.5) that lies inside the range, else the octave nearest to the range, moved to the
    range's nearest bound. Returns (tempo, reason); the reason is empty when ``tempo_bpm`` is
    already inside.

    A reliable periodic motion (``visual``) only decides which octave: the style and mood set
    the range (issue 19); the planner's tempo map still bends the grid onto the cuts and the
    strong visual beats, so a visual pulse a little outside the range stays heard.
    """
    lo0, hi0 = idiom(style, mood).tempo_range_bpm
    # aimed inside the range by the planner's own tempo freedom (cuts anchored, hit points bent,
    # the final ritardando), so that the piece's mean tempo stays in the range too
    mid = math.sqrt(lo0 * hi0)
    lo, hi = min(lo0 * (1 + FIT_MARGIN), mid), max(hi0 / (1 + FIT_MARGIN), mid)
    t = float(tempo_bpm)
    if lo <= t <= hi:
        return t, ""
    for f in (2.0, 0.5):
        if lo <= t * f <= hi:
            return t * f, f"folded x{f:g} into the {style}/{mood} range {lo0:g}-{hi0:g} bpm"

    def gap(x: float) -> float:  # log distance to the range
        return max(0.0, math.log(lo / x), math.log(x / hi))

    f = min((1.0, 2.0, 0.5), key=lambda f_: (gap(t * f_), f_ != 1.0))
    c = min(max(t * f, lo), hi)
    how = "" if f == 1.0 else f"folded x{f:g} ({t * f:.0f} bpm) and "
    src = "visual tempo" if visual else "tempo"
    return c, f"{src} {how}moved into the {style}/{mood} range {lo0:g}-{hi0:g} bpm"


def has_drums(style: str, mood: str, *, style_named: bool) -> bool:
    """Whether a plan in ``style`` / ``mood`` gets a drum track: the style's drum idiom decides
    when the user or a prompt named the style; a style the video's mood chose drops its drums
    for calm and sad moods, except cinematic percussion (toms / timpani on the hits only)."""
    kind = STYLE_IDIOMS[style].drums
    if kind == "none":
        return False
    return style_named or kind == "cinematic" or mood not in ("calm", "sad")


def check_tables() -> None:
    """Every lexicon style and mood has an entry (called by the tests)."""
    missing = set(STYLES) - set(STYLE_IDIOMS)
    missing |= (set(MOODS) | {NEUTRAL_MOOD}) - set(MOOD_COLOURS)
    missing |= set(STYLES) - set(STYLE_HARMONY)
    missing |= (set(MOODS) | {NEUTRAL_MOOD}) - set(MOOD_HARMONY)
    if missing:
        raise KeyError(f"styles.py lacks idioms for {sorted(missing)}")
    for s in STYLE_IDIOMS.values():
        if s.texture not in TEXTURES or s.drums not in DRUM_IDIOMS or s.bass not in BASS_IDIOMS:
            raise KeyError(f"unknown idiom name in {s}")
