"""The planner's musical vocabulary and choices: moods, styles, a GM instrument table, keys,
mode/tonic from colour, instruments per style, diatonic chord progressions per section.

Used only by :mod:`videobgm.plan` (which re-exports the public names); see ``docs/plan_render_sync.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videobgm.config import PlanConfig
from videobgm.errors import OptionError
from videobgm.types import (
    MODES,
    PITCH_CLASS_NAMES,
    TRACKS,
    Description,
    Features,
    Reference,
    Section,
)

MOODS: tuple[str, ...] = ("neutral", "calm", "happy", "playful", "tense", "sad", "epic")
STYLES: tuple[str, ...] = ("pop", "ambient", "cinematic", "electronic", "acoustic")
# General MIDI programs (0-based); "drums" is the percussion channel.
INSTRUMENTS: dict[str, int] = {
    "piano": 0, "bright_piano": 1, "electric_piano": 4, "celesta": 8, "glockenspiel": 9,
    "music_box": 10, "vibraphone": 11, "marimba": 12, "organ": 19, "accordion": 21,
    "guitar": 24, "acoustic_guitar": 25, "electric_guitar": 27, "acoustic_bass": 32, "bass": 33,
    "synth_bass": 38, "violin": 40, "cello": 42, "harp": 46, "strings": 48, "choir": 52,
    "trumpet": 56, "brass": 61, "sax": 65, "clarinet": 71, "flute": 73, "synth_lead": 80,
    "pad": 89, "drums": 0,
}
_BASS_INSTRUMENTS = ("bass", "acoustic_bass", "synth_bass", "cello")
# track -> instrument per style (tracks missing from a style are not generated)
STYLE_INSTRUMENTS: dict[str, dict[str, str]] = {
    "pop": {"melody": "piano", "bridge": "guitar", "piano": "piano", "bass": "bass", "drums": "drums"},
    "ambient": {"melody": "electric_piano", "bridge": "strings", "piano": "pad"},
    "cinematic": {"melody": "strings", "bridge": "flute", "piano": "piano", "bass": "cello"},
    "electronic": {"melody": "synth_lead", "bridge": "pad", "piano": "electric_piano",
                   "bass": "synth_bass", "drums": "drums"},
    "acoustic": {"melody": "guitar", "bridge": "flute", "piano": "acoustic_guitar",
                 "bass": "acoustic_bass"},
}
MOOD_STYLE = {"neutral": "pop", "calm": "ambient", "happy": "pop", "playful": "pop",
              "tense": "cinematic", "sad": "cinematic", "epic": "cinematic"}
MOOD_MODE = {"calm": "major", "happy": "major", "playful": "major", "tense": "minor",
             "sad": "minor", "epic": "minor"}
# Default tempo when the video has no periodic motion: fraction of tempo_range_bpm per mood.
MOOD_TEMPO_FRAC = {"neutral": 0.45, "calm": 0.15, "happy": 0.6, "playful": 0.7, "tense": 0.5,
                   "sad": 0.1, "epic": 0.65}

# Diatonic progressions (one chord per bar), roman numerals relative to the key: upper case =
# major triad, lower case = minor, "o" suffix = diminished. Chosen per section label (seeded).
PROGRESSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "major": {
        "bright": ("I V vi IV", "I IV V IV", "I vi IV V", "IV V iii vi", "I iii IV V"),
        "calm": ("I IV I V", "I iii IV I", "vi IV I V", "IV I ii V", "I vi ii V"),
    },
    "minor": {
        "dark": ("i VI III VII", "i iv VII III", "i VII VI VII", "i iv v i", "VI VII i i"),
        "tense": ("i VI VII i", "i iv V i", "i iio V i", "i VII VI V", "iv V i i"),
    },
}
_MOOD_FAMILY = {"neutral": "bright", "happy": "bright", "playful": "bright", "calm": "calm",
                "sad": "dark", "tense": "tense", "epic": "tense"}
_DEGREE_SEMITONES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7}

_KEY_ALIASES = {"Db": 1, "Eb": 3, "Gb": 6, "Ab": 8, "Bb": 10, "Cb": 11, "Fb": 4, "E#": 5, "B#": 0}
def parse_key(key: str) -> int:
    """Tonic pitch class 0..11 from a name like ``"C"``, ``"F#"``, ``"Bb"``."""
    k = str(key).strip().replace("\u266f", "#").replace("\u266d", "b")
    name = k[:1].upper() + k[1:].lower()
    if name in PITCH_CLASS_NAMES:
        return PITCH_CLASS_NAMES.index(name)
    if name in _KEY_ALIASES:
        return _KEY_ALIASES[name]
    raise OptionError(
        f"unknown key {key!r}; accepted: C, C#/Db, D, D#/Eb, E, F, F#/Gb, G, G#/Ab, A, A#/Bb, B"
    )


def check_choice(value: str, accepted: tuple[str, ...], what: str) -> str:
    v = str(value).strip().lower()
    if v not in accepted:
        raise OptionError(f"unknown {what} {value!r}; accepted: {', '.join(accepted)}")
    return v


def check_instruments(names: Any) -> tuple[str, ...]:
    """Canonical instrument names (the one check, :func:`videobgm.vocab.check_instruments`)."""
    from videobgm.vocab import check_instruments as check

    return check(names)


def chord_name(root: int, quality: str) -> str:
    """Readable chord name, e.g. ``(9, "min") -> "Am"``."""
    if root < 0 or quality == "N":
        return "N"
    suffix = {"maj": "", "min": "m", "dim": "dim", "aug": "aug"}.get(quality, quality)
    return PITCH_CLASS_NAMES[root % 12] + suffix


def choose_mood(cfg: PlanConfig, desc: Description, valence: float, arousal: float) -> tuple[str, str]:
    if cfg.mood is not None:
        return check_choice(cfg.mood, MOODS, "mood"), "user option"
    if desc.mood:
        return check_choice(desc.mood, MOODS, "mood in description"), "description"
    if valence >= 0:
        mood = "playful" if arousal >= 0.75 else "happy" if arousal >= 0.4 else "calm"
    else:
        mood = "epic" if arousal >= 0.75 else "tense" if arousal >= 0.4 else "sad"
    return mood, "from colour valence x motion arousal"


def choose_key(features: Features, cfg: PlanConfig, desc: Description, ref: Reference | None,
                mood: str, valence: float, reasons: dict[str, str]) -> tuple[int, str]:
    if cfg.mode is not None:
        mode, why_m = check_choice(cfg.mode, MODES, "mode"), "user option"
    elif desc.mode:
        mode, why_m = check_choice(desc.mode, MODES, "mode in description"), "description"
    elif (cfg.mood is not None or desc.mood) and mood in MOOD_MODE:
        mode, why_m = MOOD_MODE[mood], f"{mood} mood"
    elif ref is not None and ref.mode in MODES:
        mode, why_m = ref.mode, f"reference {ref.id}"
    else:
        mode = "major" if valence >= 0 else "minor"
        why_m = (f"colour valence {valence:+.2f} ({'bright/warm' if valence >= 0 else 'dark/cold'}"
                 f" -> {mode})")
    hist = np.asarray(features.hue_hist, dtype=float)
    if cfg.key is not None:
        tonic, why_k = parse_key(cfg.key), "user option"
    elif desc.key:
        tonic, why_k = parse_key(desc.key), "description"
    elif ref is not None and 0 <= ref.key_tonic < 12:
        tonic, why_k = int(ref.key_tonic), f"reference {ref.id}"
    elif hist.ndim == 2 and hist.size and hist.sum() > 1e-6:
        h = hist.mean(axis=0)
        k = int(np.argmax(h))
        tonic = (7 * k) % 12
        why_k = (f"dominant hue {30 * k}-{30 * k + 30} deg -> {PITCH_CLASS_NAMES[tonic]} "
                 "(hue circle = circle of fifths, red = C)")
    else:
        tonic = 0 if mode == "major" else 9
        why_k = "grey video: C major / A minor"
    reasons["key"] = f"{PITCH_CLASS_NAMES[tonic]} ({why_k})"
    reasons["mode"] = f"{mode} ({why_m})"
    return tonic, mode


def choose_instruments(cfg: PlanConfig, desc: Description, mood: str,
                        reasons: dict[str, str]) -> tuple[str, tuple[str, ...], dict[str, int]]:
    if cfg.style is not None:
        style, why = check_choice(cfg.style, STYLES, "style"), "user option"
    elif desc.style:
        style, why = check_choice(desc.style, STYLES, "style in description"), "description"
    else:
        style, why = MOOD_STYLE.get(mood, "pop"), f"{mood} mood"
    reasons["style"] = f"{style} ({why})"
    table = dict(STYLE_INSTRUMENTS[style])
    names = None
    if cfg.instruments is not None:
        names, src = check_instruments(cfg.instruments), "user option"
    elif desc.instruments:
        names, src = check_instruments(desc.instruments), "description"
    if names is not None:
        pitched = [n for n in names if n != "drums" and n not in _BASS_INSTRUMENTS]
        basses = [n for n in names if n in _BASS_INSTRUMENTS]
        table = {k: v for k, v in table.items() if k in ("melody", "bridge", "piano")}
        if pitched:
            table["melody"] = pitched[0]
            table["piano"] = pitched[1] if len(pitched) > 1 else pitched[0]
            table["bridge"] = pitched[2] if len(pitched) > 2 else table["piano"]
        if basses:
            table["bass"] = basses[0]
        if "drums" in names:
            table["drums"] = "drums"
        why_i = f"{src}: {', '.join(names)}"
    else:
        if mood in ("calm", "sad"):
            table.pop("drums", None)
        why_i = f"{style} style table" + (" (no drums for a calm/sad mood)" if mood in ("calm", "sad") else "")
    tracks = tuple(t for t in TRACKS if t in table)
    programs = {t: INSTRUMENTS[table[t]] for t in tracks}
    reasons["instruments"] = f"{why_i} -> " + ", ".join(f"{t}={table[t]} (GM {programs[t]})" for t in tracks)
    return style, tracks, programs


def _parse_roman(sym: str, mode: str, tonic: int) -> tuple[int, str]:
    dim = sym.endswith("o")
    core = sym[:-1] if dim else sym
    deg = _ROMAN[core.lower()]
    quality = "dim" if dim else ("maj" if core.isupper() else "min")
    return (tonic + _DEGREE_SEMITONES[mode][deg - 1]) % 12, quality


CADENCES = {"ambient": "plagal"}  # style -> cadence other than V-I


def _cadence(mode: str, style: str, tonic: int) -> list[tuple[int, str]]:
    """The two chords before the final tonic: ii-V (major) / iv-V (minor, V major: harmonic
    minor) for an authentic cadence; vi-IV / VI-iv for the plagal cadence of ambient styles."""
    if CADENCES.get(style) == "plagal":
        syms = ("vi", "IV") if mode == "major" else ("VI", "iv")
    else:
        syms = ("ii", "V") if mode == "major" else ("iv", "V")
    out = []
    for sym in syms:
        if mode == "minor" and sym == "V":
            out.append(((tonic + 7) % 12, "maj"))  # the raised leading tone of harmonic minor
        else:
            out.append(_parse_roman(sym, mode, tonic))
    return out


def phrase_chords(sections: list[Section], n_bars: int, spb: int, tonic: int, mode: str, mood: str,
                  style: str, ref: Reference | None, seed: int, reasons: dict[str, str]) -> list[tuple[int, str]]:
    """One chord per bar: each section's progression (one per label, seeded; or the reference's)
    runs phrase by phrase (4 bars; a 2-bar phrase takes the progression's second half, so it
    leads on), never restarting mid-phrase; the last bars cadence into the held tonic."""
    rng = np.random.default_rng(seed)
    home = (tonic, "maj" if mode == "major" else "min")
    per_bar: list[tuple[int, str]] = [home] * n_bars
    progs: dict[str, list[tuple[int, str]]] = {}
    if ref is not None and ref.chords and ref.n_bars > 0:
        ref_chords = sorted(ref.chords, key=lambda c: c.onset_16th)
        # the reference's scale is moved onto the plan's: same mode -> same tonic; otherwise its
        # relative key (minor ref in a major plan: ref tonic + 3 -> plan tonic, and vice versa)
        ref_home = ref.key_tonic if ref.mode == mode else ref.key_tonic + (3 if mode == "major" else 9)
        prog = []
        for k in range(min(ref.n_bars, 8)):
            at = [c for c in ref_chords if c.onset_16th <= k * spb]
            c = at[-1] if at else ref_chords[0]
            root = -1 if c.root < 0 else (c.root - ref_home + tonic) % 12
            prog.append((root, c.quality))
        for s in sections:
            progs[s.label] = prog
        how = "transposed" if ref.mode == mode else f"moved from {ref.mode} to the relative {mode} key of"
        why = (f"progression of reference {ref.id} ({ref.mode}, {len(prog)} bars) {how} "
               f"{PITCH_CLASS_NAMES[tonic]} {mode}, phrase by phrase")
    else:
        family = _MOOD_FAMILY.get(mood, "bright")
        fams = PROGRESSIONS[mode]
        if family not in fams:
            family = next(iter(fams))
        chosen: dict[str, str] = {}
        for s in sections:
            if s.label not in chosen:
                options = fams[family]
                chosen[s.label] = options[int(rng.integers(len(options)))]
                progs[s.label] = [_parse_roman(x, mode, tonic) for x in chosen[s.label].split()]
        why = (f"{family} {mode} progressions (seed {seed}), phrase by phrase: "
               + "; ".join(f"{k}: {v}" for k, v in chosen.items()))
    for s in sections:
        prog = progs[s.label]
        n = len(prog)
        b = s.start_bar
        while b < s.end_bar:
            left = s.end_bar - b
            plen = n if left >= n else left
            # a short phrase takes the end of the progression (it leads on to what follows)
            offs = 0 if plen == n else n - plen
            for i in range(plen):
                per_bar[b + i] = prog[(offs + i) % n]
            b += plen
    cad = ""
    per_bar[-1] = home
    if n_bars >= 3:
        pre, dom = _cadence(mode, style, tonic)
        per_bar[-2] = dom
        if n_bars >= 4:
            per_bar[-3] = pre
        kind = "plagal" if CADENCES.get(style) == "plagal" else "authentic"
        names = [chord_name(*c) for c in per_bar[-3 if n_bars >= 4 else -2:]]
        cad = f"{kind} ({' - '.join(names)})"
    elif n_bars == 2:
        cad = f"{chord_name(*per_bar[0])} - {chord_name(*home)}"
    per_bar[-1] = home
    reasons["chords"] = why + (f"; ending: {cad} cadence, tonic held in the last bar" if cad else "")
    reasons["cadence"] = cad
    return per_bar
