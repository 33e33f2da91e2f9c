"""[apps/ui] One browser session's state and what its user set: the page's music controls, the
session (upload, features, description, result, versions), a handler's :class:`Outcome`, and the
description planned from the edited text with the controls laid on top.

Plain data and pure functions (no Gradio, no files): :mod:`videobgm.apps.ui.handlers` runs the
jobs that fill them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from videobgm.config import PipelineConfig
from videobgm.errors import OptionError
from videobgm.music import lexicon
from videobgm.types import PITCH_CLASS_NAMES, Description, Result

AUTO = "auto"
KEYS = PITCH_CLASS_NAMES


def vocabulary() -> dict[str, tuple[str, ...]]:
    """The planner's accepted moods, styles and instruments (what the page offers)."""
    return {"moods": tuple(lexicon.MOOD_NAMES), "styles": tuple(lexicon.STYLES),
            "instruments": tuple(lexicon.INSTRUMENTS)}


@dataclasses.dataclass
class MusicControls:
    """What the user set in the page; ``None`` / ``"auto"`` means: derive it from the video."""

    mood: str | None = None
    style: str | None = None
    tempo_bpm: float | None = None
    key: str | None = None
    mode: str | None = None
    instruments: tuple[str, ...] | None = None
    density_scale: float = 1.0
    seed: int = 0

    @classmethod
    def from_inputs(
        cls, mood: Any = None, style: Any = None, tempo: Any = None, key: Any = None,
        mode: Any = None, instruments: Any = None, density: Any = 1.0, seed: Any = 0,
    ) -> MusicControls:
        """Parse raw widget values (strings, floats, lists), refusing bad ones with OptionError."""

        def opt(v: Any) -> str | None:
            v = None if v is None else str(v).strip()
            return None if not v or v.lower() == AUTO else v

        tempo_f = None
        if tempo not in (None, "", 0, 0.0):
            tempo_f = float(tempo)
            lexicon.check_tempo(tempo_f, "tempo (0 = auto)")
        dens = 1.0 if density in (None, "") else float(density)
        if not 0.0 < dens <= 10.0:
            raise OptionError(f"density must be in (0, 10], got {dens:g}")
        seed_i = 0 if seed in (None, "") else int(seed)
        if seed_i < 0:
            raise OptionError(f"seed must be >= 0, got {seed_i}")
        inst = tuple(str(x) for x in instruments) if instruments else None
        return cls(mood=opt(mood), style=opt(style), tempo_bpm=tempo_f, key=opt(key),
                   mode=opt(mode), instruments=inst, density_scale=dens, seed=seed_i)

    def unchanged_as_auto(self, proposed: MusicControls) -> MusicControls:
        """These controls with every musical choice still equal to ``proposed`` set to auto.

        The page pre-fills the controls with what the upload's plan chose; when the user then
        edits the description text, the untouched controls must not override the new words.
        """
        def same(a: Any, b: Any) -> bool:
            if isinstance(a, float) and isinstance(b, float):
                return abs(a - b) < 0.05
            if isinstance(a, str) and isinstance(b, str):
                return a.lower() == b.lower()
            return a == b

        kw = {f: None if same(getattr(self, f), getattr(proposed, f)) else getattr(self, f)
              for f in ("mood", "style", "tempo_bpm", "key", "mode", "instruments")}
        return dataclasses.replace(self, **kw)

    def apply(self, config: PipelineConfig) -> PipelineConfig:
        """``config`` with these controls in its plan and sample sections."""
        plan = config.plan.replace(
            mood=self.mood or config.plan.mood, style=self.style or config.plan.style,
            tempo_bpm=self.tempo_bpm if self.tempo_bpm is not None else config.plan.tempo_bpm,
            key=self.key or config.plan.key, mode=self.mode or config.plan.mode,
            instruments=self.instruments or config.plan.instruments,
            density_scale=self.density_scale,
        )
        return config.replace(plan=plan, sample=config.sample.replace(seed=self.seed))


@dataclasses.dataclass
class SessionState:
    """One browser session's work (held in a ``gr.State``)."""

    video_path: str | None = None
    video_info: dict[str, Any] | None = None
    features: Any = None  # Features
    description: Description | None = None
    preview_plan: Any = None  # Plan planned at upload (for the plot)
    result: Result | None = None
    config: PipelineConfig | None = None  # the config ``result`` was made with
    work_dir: str | None = None
    version: int = 0
    history: list[str] = dataclasses.field(default_factory=list)
    proposed: MusicControls | None = None  # the controls as pre-filled after the upload
    owns_upload: bool = False  # video_path is the server's copy of the upload (deleted with the session)


@dataclasses.dataclass
class Outcome:
    """What a handler hands back to the page."""

    ok: bool
    status: str
    state: SessionState
    figure: Any = None
    video: str | None = None
    files: list[str] = dataclasses.field(default_factory=list)
    sections: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    description_text: str | None = None
    controls: MusicControls | None = None


def section_choices(plan: Any) -> list[tuple[str, str]]:
    """Dropdown choices ``(label, "a-b")`` for the plan's sections (bars 0-based, end exclusive)."""
    out = []
    for i, s in enumerate(plan.sections):
        label = (f"{i + 1}. {s.label}: bars {s.start_bar + 1}-{s.end_bar} "
                 f"({s.start_s:.1f}-{s.end_s:.1f} s)")
        out.append((label, f"{s.start_bar}-{s.end_bar}"))
    return out


def edited_description(base: Description | None, text: str | None, controls: MusicControls,
                       max_chars: int | None = None) -> Description | None:
    """The description to plan from: the edited text (parsed) with the controls on top; ``base``:
    the session's description (the video's, or the last one played)."""
    text = (text or "").strip()
    if not text and base is None:
        return None
    desc = base
    if base is None or text != (base.text or "").strip():
        desc = parse_text(text, max_chars) if text else None
        if desc is None:
            desc = Description(text=text, source="edited")
        elif base is not None:
            # keep the video-derived timing (sections, energy) that the text does not carry
            desc = dataclasses.replace(
                desc, sections=desc.sections or base.sections,
                energy_curve=desc.energy_curve or base.energy_curve, source="edited",
            )
    overrides = {k: v for k, v in (
        ("mood", controls.mood), ("style", controls.style), ("tempo_bpm", controls.tempo_bpm),
        ("key", controls.key), ("mode", controls.mode),
        ("instruments", list(controls.instruments) if controls.instruments else None),
    ) if v is not None}
    return dataclasses.replace(desc, **overrides) if overrides else desc


def parse_text(text: str, max_chars: int | None = None) -> Description | None:
    """The edited text parsed into a description (None where the text bridge is unavailable)."""
    try:
        from videobgm.bridges.resolve import parse_description
    except ImportError:
        return None
    return parse_description(text, max_prompt_chars=max_chars)
