"""The planner's musical choices from the description (mood, style, key, mode, instruments; the
tables are the lexicon's, :mod:`videobgm.music.lexicon`) and diatonic chord progressions per section.

Used only by :mod:`videobgm.plan.planner` (which re-exports the public names); see ``docs/plan_render_sync.md``.
"""

from __future__ import annotations

import numpy as np

from videobgm.music import lexicon
from videobgm.music.theory import SCALE_SEMITONES, chord_name, parse_key
from videobgm.types import (
    MODES,
    PITCH_CLASS_NAMES,
    TRACKS,
    Description,
    Reference,
    Section,
)

# the lexicon (moods, styles, instruments, their defaults) lives in videobgm.music.lexicon; re-exported
MOODS = lexicon.MOOD_NAMES
STYLES: tuple[str, ...] = tuple(lexicon.STYLES)
INSTRUMENTS: dict[str, int] = {name: prog for name, (prog, _) in lexicon.INSTRUMENTS.items()}
check_choice = lexicon.check_choice
check_instruments = lexicon.check_instruments

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
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7}

def choose_mood(desc: Description) -> str:
    """The description's mood (the planner's only source of it)."""
    return check_choice(desc.mood or lexicon.NEUTRAL_MOOD, MOODS, "mood in description")


def choose_key(desc: Description, reasons: dict[str, str]) -> tuple[int, str]:
    """Tonic and mode: the description's (the planner's only source of them)."""
    mode = check_choice(desc.mode or "major", MODES, "mode in description")
    tonic = parse_key(desc.key or ("C" if mode == "major" else "A"))
    reasons["key"] = f"{PITCH_CLASS_NAMES[tonic]} (description: {desc.reasons.get('key', 'given')})"
    reasons["mode"] = f"{mode} (description: {desc.reasons.get('mode', 'given')})"
    return tonic, mode


def choose_instruments(desc: Description, mood: str,
                       reasons: dict[str, str]) -> tuple[str, tuple[str, ...], dict[str, int], dict[str, str]]:
    """Style, tracks, GM programs and track -> instrument, all from the description."""
    from videobgm.music.styles import has_drums

    default = lexicon.MOODS[mood].style if mood in lexicon.MOODS else "pop"
    style = check_choice(desc.style or default, STYLES, "style in description")
    reasons["style"] = f"{style} (description: {desc.reasons.get('style', 'given')})"
    names = check_instruments(desc.instruments) if desc.instruments else lexicon.STYLES[style].instruments
    table = lexicon.assign_tracks(names)
    if "drums" not in table and desc.instruments and desc.origin("instruments") == "text" \
            and has_drums(style, mood, style_named=desc.origin("style") != "video"):
        table["drums"] = "drums"  # a prompt's instruments keep the style's drum idiom
    tracks = tuple(t for t in TRACKS if t in table)
    programs = {t: INSTRUMENTS[table[t]] for t in tracks}
    reasons["instruments"] = (f"description: {', '.join(names)} -> "
                              + ", ".join(f"{t}={table[t]} (GM {programs[t]})" for t in tracks))
    return style, tracks, programs, {t: table[t] for t in tracks}


def _parse_roman(sym: str, mode: str, tonic: int) -> tuple[int, str]:
    dim = sym.endswith("o")
    core = sym[:-1] if dim else sym
    deg = _ROMAN[core.lower()]
    quality = "dim" if dim else ("maj" if core.isupper() else "min")
    return (tonic + SCALE_SEMITONES[mode][deg - 1]) % 12, quality


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
