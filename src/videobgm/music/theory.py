"""Music theory names: key and chord parsing and naming, and the scales, defined once (issue 16).

``describe``, ``prompt``, the planner, the schema, the UI and the retrieval index all use these
(``vocab`` re-exports :func:`parse_key` / :func:`key_name` for the lexicon's users).
"""

from __future__ import annotations

import re

from videobgm.errors import OptionError
from videobgm.types import PITCH_CLASS_NAMES

_NOTE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_RE = re.compile(r"([A-Ga-g])\s*(#|b|-?sharp|-?flat|\s+sharp|\s+flat)?")
CHORD_SUFFIX = {"maj": "", "min": "m", "dim": "dim", "aug": "aug"}
# the diatonic scale of each mode, as semitones above the tonic (minor = natural minor)
SCALE_SEMITONES: dict[str, tuple[int, ...]] = {"major": (0, 2, 4, 5, 7, 9, 11),
                                               "minor": (0, 2, 3, 5, 7, 8, 10)}


def scale_pitch_classes(tonic: int, mode: str) -> tuple[int, ...]:
    """The pitch classes of ``tonic``'s ``mode`` scale, from the tonic up.

    Raises
    ------
    OptionError
        ``mode`` is neither ``major`` nor ``minor``.
    """
    if mode not in SCALE_SEMITONES:
        raise OptionError(f"unknown mode {mode!r}; accepted: {', '.join(SCALE_SEMITONES)}")
    return tuple((int(tonic) + i) % 12 for i in SCALE_SEMITONES[mode])


def parse_key(name: object) -> int:
    """Pitch class 0..11 of a key name such as ``"C"``, ``"F#"``, ``"Bb"``, ``"Gb"``, ``"E#"``.

    Raises
    ------
    OptionError
        When the name is not a note name (one line naming the accepted form).
    """
    s = str(name).strip().replace("\u266f", "#").replace("\u266d", "b")
    m = _KEY_RE.fullmatch(s)
    if not m:
        raise OptionError(f"unknown key {name!r}; accepted: C, C#/Db, D, D#/Eb, E, F, F#/Gb, G, "
                          f"G#/Ab, A, A#/Bb, B (a note name such as F# or Bb)")
    pc = _NOTE[m.group(1).upper()]
    acc = (m.group(2) or "").strip().lstrip("-")
    if acc in ("#", "sharp"):
        pc += 1
    elif acc in ("b", "flat"):
        pc -= 1
    return pc % 12


def key_name(pc: int) -> str:
    """Canonical name of pitch class ``pc`` (sharps, as in :data:`PITCH_CLASS_NAMES`)."""
    return PITCH_CLASS_NAMES[int(pc) % 12]


def chord_name(root: int, quality: str) -> str:
    """Readable chord name, e.g. ``(9, "min") -> "Am"``; ``"N"`` for no chord."""
    if root < 0 or quality == "N":
        return "N"
    return PITCH_CLASS_NAMES[root % 12] + CHORD_SUFFIX.get(quality, quality)
