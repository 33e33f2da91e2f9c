"""The lexicon: the one definition of moods, styles, instruments, their words and anchors, and
every tempo / energy / density range (issue 16: ``grep`` finds each table here and only here).

Plain data and small pure functions (NumPy-free), so that the text bridge (``describe.py``), the
music bridge (``retrieve.py``) and the planner can agree on one vocabulary without importing each
other. Every canonical name here is a value the planner accepts (``Description.mood`` /
``.style`` / ``.instruments``); the synonym lists map free text onto them.

Mood model: each mood is a point in (arousal, valence) with the musical defaults it implies when
nothing else says otherwise (tempo, mode, energy). These defaults are also what the
controllability benchmark measures against (``bench/controllability.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from videobgm.errors import OptionError


@dataclass(frozen=True)
class Mood:
    """A mood with its place in (arousal, valence) and its musical defaults."""

    name: str
    arousal: float  # 0 (still) .. 1 (excited)
    valence: float  # -1 (negative) .. 1 (positive)
    tempo_bpm: float
    mode: str
    energy: float  # default section energy in [0, 1]
    words: tuple[str, ...]  # synonyms recognised in free text (lower case)
    anchors: tuple[str, ...]  # phrases for sentence-embedding nearest-neighbour matching
    style: str = "pop"  # the style a prompt / an option naming only this mood gets


MOODS: dict[str, Mood] = {
    m.name: m
    for m in (
        Mood("calm", 0.25, 0.5, 80.0, "major", 0.3,
             ("calm", "peaceful", "relaxing", "relaxed", "gentle", "quiet", "serene", "soft",
              "tranquil", "chill", "soothing", "dreamy", "lullaby", "meditative", "tender"),
             ("a calm peaceful quiet scene", "relaxing soothing gentle music",
              "a serene landscape at dawn", "soft dreamy lullaby",
              "a slow quiet morning with a cup of tea", "gentle waves on an empty beach"), style="ambient"),
        Mood("happy", 0.65, 0.8, 112.0, "major", 0.65,
             ("happy", "joyful", "joy", "cheerful", "upbeat", "sunny", "uplifting", "positive",
              "celebration", "celebrate", "party", "summer", "wedding", "bright", "optimistic"),
             ("happy cheerful upbeat music", "a sunny day at the beach with friends",
              "a joyful celebration", "uplifting optimistic song",
              "friends laughing together on a road trip", "a bright festival full of colour"), style="pop"),
        Mood("sad", 0.25, -0.7, 77.0, "minor", 0.3,
             ("sad", "melancholic", "melancholy", "sorrow", "sorrowful", "lonely", "nostalgic",
              "tearful", "grief", "heartbreak", "heartbroken", "rainy", "rain", "gloomy",
              "mournful", "farewell", "funeral", "longing"),
             ("sad melancholic music", "a lonely rainy evening", "a farewell full of sorrow",
              "nostalgic memories of the past", "missing someone you love, heartbroken",
              "an empty room after someone has gone"), style="cinematic"),
        Mood("tense", 0.75, -0.6, 104.0, "minor", 0.7,
             ("tense", "tension", "suspense", "suspenseful", "scary", "horror", "thriller",
              "anxious", "dark", "ominous", "danger", "dangerous", "chase", "creepy", "mystery",
              "mysterious", "spooky"),
             ("tense suspenseful thriller music", "a dark scary night chase",
              "ominous danger is coming", "a mysterious creepy place",
              "someone is following you in an abandoned building"), style="cinematic"),
        Mood("epic", 0.9, 0.1, 114.0, "minor", 0.85,
             ("epic", "heroic", "triumphant", "powerful", "grand", "majestic", "battle",
              "adventure", "inspiring", "inspirational", "glorious", "intense", "dramatic"),
             ("epic heroic orchestral music", "a grand battle in the mountains",
              "a triumphant powerful adventure", "dramatic trailer music",
              "soaring over snowy peaks at sunrise", "the final race to the finish line"), style="cinematic"),
        Mood("playful", 0.7, 0.7, 119.0, "major", 0.6,
             ("playful", "fun", "funny", "quirky", "bouncy", "cute", "silly", "whimsical",
              "cartoon", "kids", "children", "comedy", "goofy", "energetic", "lively"),
             ("playful quirky fun music", "cute animals playing", "a silly cartoon comedy",
              "lively bouncy song for kids", "a puppy chasing its own tail",
              "a funny clumsy cooking video"), style="pop"),
    )
}
NEUTRAL_MOOD = "neutral"
MOOD_NAMES: tuple[str, ...] = (NEUTRAL_MOOD, *MOODS)  # every mood the planner accepts


@dataclass(frozen=True)
class Style:
    """A style: its synonyms, embedding anchors and default instruments (canonical names)."""

    name: str
    words: tuple[str, ...]
    anchors: tuple[str, ...]
    instruments: tuple[str, ...]  # in the planner's track order: melody, piano, bridge, bass, drums


STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style("pop", ("pop", "catchy", "radio", "mainstream", "ballad"),
              ("a catchy pop song", "mainstream radio pop"),
              ("piano", "guitar", "bass", "drums")),
        Style("ambient", ("ambient", "atmospheric", "drone", "spacey", "minimal", "ethereal",
                          "background", "lofi", "lo-fi", "meditation"),
              ("ambient atmospheric soundscape", "minimal ethereal background music"),
              ("electric_piano", "pad", "strings")),
        Style("cinematic", ("cinematic", "film", "movie", "orchestral", "orchestra", "trailer",
                            "soundtrack", "symphonic", "score"),
              ("cinematic orchestral film score", "movie trailer soundtrack"),
              ("strings", "piano", "flute", "cello")),
        Style("electronic", ("electronic", "edm", "synthwave", "techno", "house", "dance",
                             "club", "electro", "trance", "dubstep", "retro"),
              ("electronic dance music", "synthwave club track with a strong beat"),
              ("synth_lead", "electric_piano", "pad", "synth_bass", "drums")),
        Style("acoustic", ("acoustic", "folk", "unplugged", "country", "campfire", "indie"),
              ("acoustic folk song with guitar", "unplugged indie music"),
              ("guitar", "acoustic_guitar", "flute", "acoustic_bass")),
    )
}


# canonical instrument name -> (GM program, synonyms); the planner assigns them to tracks with
# :func:`assign_tracks` ("drums" is the percussion channel).
INSTRUMENTS: dict[str, tuple[int, tuple[str, ...]]] = {
    "piano": (0, ("piano", "pianos", "keys", "grand piano", "acoustic piano")),
    "bright_piano": (1, ("bright piano", "bright_piano")),
    "electric_piano": (4, ("electric piano", "rhodes", "e-piano", "epiano", "electric_piano")),
    "celesta": (8, ("celesta", "bells", "chimes")),
    "glockenspiel": (9, ("glockenspiel",)),
    "music_box": (10, ("music box", "music_box", "musicbox")),
    "vibraphone": (11, ("vibraphone", "vibes")),
    "marimba": (12, ("marimba", "xylophone")),
    "organ": (19, ("organ",)),
    "accordion": (21, ("accordion",)),
    "guitar": (24, ("guitar", "guitars", "nylon guitar", "classical guitar")),
    "acoustic_guitar": (25, ("acoustic guitar", "acoustic_guitar", "steel guitar")),
    "electric_guitar": (27, ("electric guitar", "electric_guitar", "clean guitar")),
    "acoustic_bass": (32, ("acoustic bass", "acoustic_bass", "double bass", "upright bass")),
    "bass": (33, ("bass", "bass guitar", "bassline", "electric bass")),
    "synth_bass": (38, ("synth bass", "synth_bass")),
    "violin": (40, ("violin", "violins", "fiddle")),
    "cello": (42, ("cello", "cellos")),
    "harp": (46, ("harp",)),
    "strings": (48, ("strings", "string", "string ensemble", "viola", "orchestra strings")),
    "choir": (52, ("choir", "voices", "vocals", "chorus")),
    "trumpet": (56, ("trumpet", "trumpets")),
    "brass": (61, ("brass", "horns", "horn", "trombone")),
    "sax": (65, ("sax", "saxophone")),
    "clarinet": (71, ("clarinet",)),
    "flute": (73, ("flute", "flutes", "whistle")),
    "synth_lead": (80, ("synth", "synths", "synthesizer", "synth lead", "lead synth", "synth_lead")),
    "pad": (89, ("pad", "pads", "synth pad", "warm pad")),
    "drums": (0, ("drums", "drum", "percussion", "beat", "beats", "drum kit")),
}

# instruments that take the bass track when named (the others are pitched: melody/piano/bridge)
BASS_INSTRUMENTS: tuple[str, ...] = ("bass", "acoustic_bass", "synth_bass", "cello")

# instruments that sound one note at a time (a wind player, a solo string, a mono lead synth): the
# track that one of them plays is one voice (videobgm.compose.phrasing.one_voice), whatever it is
MONOPHONIC_INSTRUMENTS: frozenset[str] = frozenset({"flute", "clarinet", "sax", "trumpet", "synth_lead",
                                                    "violin", "cello"})

# ---- ranges (the one definition of each; configs, CLI, UI, schema and prompt import them) -------
TEMPO_LIMITS_BPM: tuple[float, float] = (20.0, 300.0)  # any tempo a user, text or JSON may give
VIDEO_TEMPO_RANGE_BPM: tuple[float, float] = (70.0, 140.0)  # a video's tempo is folded into this
SCALE_RANGE: tuple[float, float] = (0.0, 4.0)  # density / strength scale: (low, high]
ENERGY_RANGE: tuple[float, float] = (0.0, 1.0)  # section energy


def check_tempo(t: object, what: str = "tempo") -> float:
    """The one tempo check: a finite number within :data:`TEMPO_LIMITS_BPM` (one-line error)."""
    try:
        v = float(t)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(f"{what} must be a number in bpm, got {t!r}") from None
    lo, hi = TEMPO_LIMITS_BPM
    if not (v == v and lo <= v <= hi):
        raise OptionError(f"{what} must be between {lo:g} and {hi:g} bpm, got {v:g}")
    return v


def check_scale(v: object, what: str) -> float:
    """The one density/strength-scale check: a number in :data:`SCALE_RANGE` ``(low, high]``."""
    lo, hi = SCALE_RANGE
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(f"{what} must be a number in ({lo:g}, {hi:g}], got {v!r}") from None
    if not (f == f and lo < f <= hi):
        raise OptionError(f"{what} must be in ({lo:g}, {hi:g}], got {f:g}")
    return f


def check_choice(value: object, accepted: tuple[str, ...] | dict, what: str) -> str:  # type: ignore[type-arg]
    """The one check of a named control (mood, style, mode): lower-cased, one-line error."""
    v = str(value).strip().lower()
    if v not in accepted:
        raise OptionError(f"unknown {what} {value!r}; accepted: {', '.join(accepted)}")
    return v


def assign_tracks(names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Track -> instrument for a list of canonical instrument names (the one rule).

    Pitched instruments in order take melody, then the piano (accompaniment) track, then the
    bridge; with two, the first also plays the accompaniment and the second the bridge; the
    first bass instrument takes the bass track; ``drums`` the drum track.
    """
    pitched = [n for n in names if n != "drums" and n not in BASS_INSTRUMENTS]
    basses = [n for n in names if n in BASS_INSTRUMENTS]
    table: dict[str, str] = {}
    if pitched:
        table["melody"] = pitched[0]
        if len(pitched) == 2:
            table["piano"], table["bridge"] = pitched[0], pitched[1]
        else:
            table["piano"] = pitched[1] if len(pitched) > 1 else pitched[0]
            table["bridge"] = pitched[2] if len(pitched) > 2 else table["piano"]
    elif basses:  # only basses named: the first plays everything pitched
        table["melody"] = table["piano"] = table["bridge"] = basses[0]
    if basses:
        table["bass"] = basses[0]
    if "drums" in names:
        table["drums"] = "drums"
    return table


def track_instruments(table: dict[str, str]) -> list[str]:
    """The distinct instruments of a track table, in first-use order (a description's list)."""
    return list(dict.fromkeys(table.values()))


# visual label word -> (mood, style) votes
LABEL_HINTS: dict[str, tuple[str | None, str | None]] = {
    "beach": ("happy", "acoustic"), "sea": ("calm", "ambient"), "ocean": ("calm", "ambient"),
    "sunset": ("calm", "acoustic"), "forest": ("calm", "ambient"), "nature": ("calm", "acoustic"),
    "mountain": ("epic", "cinematic"), "city": (None, "electronic"), "night": ("tense", "electronic"),
    "party": ("happy", "electronic"), "concert": ("happy", "pop"), "sport": ("epic", "electronic"),
    "car": (None, "electronic"), "rain": ("sad", "ambient"), "snow": ("calm", "ambient"),
    "wedding": ("happy", "acoustic"), "dog": ("playful", "pop"), "cat": ("playful", "pop"),
    "child": ("playful", "pop"), "food": ("happy", "acoustic"), "fire": ("tense", "cinematic"),
}

# tempo bins used by retrieval and its evaluation (upper edges, bpm)
TEMPO_BINS: tuple[tuple[str, float, float], ...] = (
    ("slow", 0.0, 80.0),
    ("moderate", 80.0, 100.0),
    ("medium", 100.0, 120.0),
    ("fast", 120.0, 1000.0),
)
TEMPO_WORDS: dict[str, float] = {
    "very slow": 62.0, "slow": 72.0, "slowly": 72.0, "laid-back": 84.0, "moderate": 96.0,
    "mid-tempo": 100.0, "medium tempo": 100.0, "fast": 128.0, "quick": 128.0, "very fast": 140.0,
    "driving": 124.0, "rapid": 136.0,
}

def tempo_bin(tempo_bpm: float) -> str:
    """Name of the tempo bin (``slow`` < 80 <= ``moderate`` < 100 <= ``medium`` < 120 <= ``fast``)."""
    for name, lo, hi in TEMPO_BINS:
        if lo <= tempo_bpm < hi:
            return name
    return TEMPO_BINS[-1][0]


def instrument_program(name: str) -> int:
    """GM program of a canonical instrument name (drums: 0 on the percussion channel)."""
    return INSTRUMENTS[name][0]


def _norm(word: str) -> str:
    return " ".join(str(word).strip().lower().replace("_", " ").replace("-", " ").split())


def canonical_instrument(word: str) -> str | None:
    """The canonical instrument name for a word or phrase (``"Rhodes"`` -> ``"electric_piano"``)."""
    w = _norm(word)
    for name in INSTRUMENTS:
        if w == _norm(name):
            return name
    for name, (_, syn) in INSTRUMENTS.items():
        if w in {_norm(x) for x in syn}:
            return name
    return None


def check_instruments(names: object) -> tuple[str, ...]:
    """Canonical instrument names for ``names`` (a list, or one comma/space-separated string).

    The one instrument check: ``--instruments``, the UI, a description JSON and the planner all
    accept exactly the names and synonyms of :data:`INSTRUMENTS` (``"Rhodes"`` ->
    ``"electric_piano"``). Raises :class:`OptionError` naming the accepted names otherwise.
    """
    if isinstance(names, str):
        names = [n for n in names.replace(",", " ").split() if n]
    out: list[str] = []
    for n in names:  # type: ignore[attr-defined]
        v = canonical_instrument(str(n))
        if v is None:
            raise OptionError(f"unknown instrument {n!r}; accepted: {', '.join(INSTRUMENTS)}")
        out.append(v)
    if not out:
        raise OptionError(f"empty instrument list; accepted: {', '.join(INSTRUMENTS)}")
    return tuple(out)


def canonical_mood(word: str) -> str | None:
    """The canonical mood for a word (``"melancholic"`` -> ``"sad"``), or None."""
    w = word.strip().lower()
    if w in MOODS or w == NEUTRAL_MOOD:
        return w
    for m in MOODS.values():
        if w in m.words:
            return m.name
    return None


def canonical_style(word: str) -> str | None:
    """The canonical style for a word (``"orchestral"`` -> ``"cinematic"``), or None."""
    w = word.strip().lower()
    if w in STYLES:
        return w
    for s in STYLES.values():
        if w in s.words:
            return s.name
    return None


def mood_from_arousal_valence(arousal: float, valence: float) -> str:
    """Nearest mood in (arousal, valence) space (valence scaled to [0, 1] for the distance)."""
    best, best_d = NEUTRAL_MOOD, float("inf")
    for m in MOODS.values():
        d = (m.arousal - arousal) ** 2 + ((m.valence - valence) / 2.0) ** 2
        if d < best_d:
            best, best_d = m.name, d
    return best


# ---- image-text anchors (the optional --clip-model scores frames against these) ----
ANCHOR_GROUPS = ("mood", "style", "instrument")
NO_INSTRUMENT = "none"
INSTRUMENT_PROMPTS = ("a photo of a {}", "someone playing the {}")
NO_INSTRUMENT_PROMPTS = ("a photo with no musical instrument in it", "a photo of a place or people")


def anchor_groups() -> dict[str, dict[str, tuple[str, ...]]]:
    """Group -> label -> anchor phrases, from the lexicon (the tables above) only."""
    inst = {name: tuple(p.format("drum kit" if name == "drums" else name.replace("_", " "))
                        for p in INSTRUMENT_PROMPTS) for name in INSTRUMENTS}
    inst[NO_INSTRUMENT] = NO_INSTRUMENT_PROMPTS
    return {"mood": {m.name: m.anchors for m in MOODS.values()},
            "style": {s.name: s.anchors for s in STYLES.values()},
            "instrument": inst}
