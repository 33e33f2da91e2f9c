"""[7] The soundfont and the synthesiser backend a render uses: bank choice, loading, caching.

Bank: the best General MIDI soundfont present (:func:`choose_soundfont`): ``RenderConfig.soundfont``
(a .sf2/.sf3 path or a bank name), else FluidR3_GM (Debian's ``fluid-soundfont-gm``), else
MuseScore General (``musescore-general-soundfont-small``, sf3; first with FluidSynth, see
:data:`BANK_PREFERENCE`), else the TimGM6mb bank inside the ``pretty_midi`` wheel (always there).
``scripts/install_soundfonts.sh`` installs the Debian banks. Backend (:func:`resolve_backend`):
``tinysoundfont`` (a pip wheel; reads sf2 and sf3); optional FluidSynth through ``pyfluidsynth``
(only when importable). :func:`loaded_synth` keeps one loaded tinysoundfont bank per process.
This module owns which sounds play; :mod:`videobgm.audio.render` owns playing them.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

from videobgm.config import RenderConfig
from videobgm.errors import InputError, MissingDependencyError, OptionError

BACKENDS = ("auto", "tinysoundfont", "fluidsynth")
# General MIDI banks by preference (name, label, candidate paths: the first existing one is used)
BANKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("musescore", "MuseScore General", (
        "/usr/share/sounds/sf3/MuseScore_General.sf3", "/usr/share/sounds/sf3/MuseScore_General_Full.sf3",
        "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3", "/usr/share/sounds/sf2/MuseScore_General.sf2",
        "/usr/share/soundfonts/MuseScore_General.sf3", "/usr/share/soundfonts/MuseScore_General.sf2")),
    ("fluidr3", "FluidR3_GM", (
        "/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
        "/usr/share/soundfonts/default.sf2")),
)
FALLBACK_BANK = ("timgm6mb", "TimGM6mb")
BANK_NAMES = tuple(b[0] for b in BANKS) + (FALLBACK_BANK[0],)
# Preference per backend. tinysoundfont plays MuseScore General's pianos wrongly (measured on
# MuseScore_General_Lite.sf3: C4 at velocity 90 peaks 12 dB *under* velocity 40 and 20-25 dB under
# FluidR3_GM's piano; its velocity layers are mis-weighted), so FluidR3_GM comes first there.
BANK_PREFERENCE = {"tinysoundfont": ("fluidr3", "musescore"), "fluidsynth": ("musescore", "fluidr3")}


def default_soundfont() -> Path:
    """Path of the TimGM6mb GM soundfont inside the installed ``pretty_midi`` package."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("pretty_midi", "pip install pretty_midi (it ships TimGM6mb.sf2)")
    path = Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2"
    if not path.is_file():
        raise MissingDependencyError("the GM soundfont TimGM6mb.sf2", f"not found at {path}")
    return path


@dataclass(frozen=True)
class Bank:
    """The soundfont a render uses: its path, bank name (or ``"user"``), label and a note when
    it is a fallback."""

    path: Path
    name: str
    label: str
    note: str | None = None

    def describe(self) -> str:
        return f"sound bank: {self.label} ({self.path})"


def installed_soundfont(name: str) -> Path | None:
    for bank, _, paths in BANKS:
        if bank == name:
            return next((Path(p) for p in paths if Path(p).is_file()), None)
    return default_soundfont() if name == FALLBACK_BANK[0] else None


def choose_soundfont(cfg: RenderConfig, backend: str = "tinysoundfont") -> Bank:
    """The bank to use: ``cfg.soundfont`` (a path, which must exist, or a bank name from
    :data:`BANK_NAMES`), else the first installed in the backend's :data:`BANK_PREFERENCE`,
    else TimGM6mb."""
    want = cfg.soundfont
    if want:
        key = str(want).strip().lower()
        if key in BANK_NAMES:
            path = installed_soundfont(key)
            label = dict((b[0], b[1]) for b in BANKS).get(key, FALLBACK_BANK[1])
            if path is None:
                raise InputError(f"sound bank {label} is not installed; run scripts/install_soundfonts.sh "
                                 f"or give a .sf2/.sf3 path (accepted names: {', '.join(BANK_NAMES)})")
            return Bank(path, key, label)
        p = Path(want).expanduser()
        if not p.is_file():
            raise InputError(f"soundfont not found: {p} (or give a bank name: {', '.join(BANK_NAMES)})")
        if p.suffix.lower() not in (".sf2", ".sf3"):
            raise InputError(f"soundfont must be an .sf2/.sf3 file, got {p.name}")
        return Bank(p, "user", p.name)
    labels = {b[0]: b[1] for b in BANKS}
    for name in BANK_PREFERENCE.get(backend, BANK_PREFERENCE["tinysoundfont"]):
        path = installed_soundfont(name)
        if path is not None:
            return Bank(path, name, labels[name])
    return Bank(default_soundfont(), *FALLBACK_BANK,
                note="no better GM bank installed: using TimGM6mb (scripts/install_soundfonts.sh "
                     "installs FluidR3_GM and MuseScore General)")


def resolve_soundfont(cfg: RenderConfig) -> Path:
    """Path of the soundfont :func:`choose_soundfont` picks for ``cfg``'s backend."""
    return choose_soundfont(cfg, resolve_backend(cfg)).path


def resolve_backend(cfg: RenderConfig) -> str:
    """``"tinysoundfont"`` or ``"fluidsynth"`` for ``cfg.backend`` (refusing unavailable ones)."""
    b = str(cfg.backend).lower()
    if b not in BACKENDS:
        raise OptionError(f"unknown render backend {cfg.backend!r}; accepted: {', '.join(BACKENDS)}")
    if b == "fluidsynth":
        if importlib.util.find_spec("fluidsynth") is None:
            raise MissingDependencyError("the FluidSynth backend",
                                         "pip install pyfluidsynth (and the fluidsynth library)")
        return b
    if importlib.util.find_spec("tinysoundfont") is None:
        if b == "auto" and importlib.util.find_spec("fluidsynth") is not None:
            return "fluidsynth"
        raise MissingDependencyError("the tinysoundfont backend", "pip install tinysoundfont")
    return "tinysoundfont"


@functools.lru_cache(maxsize=2)
def loaded_synth(path: str, mtime_ns: int, size: int, sr: int):  # noqa: ANN202, ARG001 (cache key)
    """A tinysoundfont Synth with ``path`` loaded, kept for the process (loading a large bank
    takes seconds); every use resets it and holds its lock."""
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=sr, gain=-3.0)
    try:
        sfid = synth.sfload(path)
    except (tinysoundfont.SoundFontException, OSError, RuntimeError) as exc:
        raise InputError(f"cannot load soundfont {Path(path).name}: {exc}") from None
    return synth, sfid, threading.Lock()
