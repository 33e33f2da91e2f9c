"""The description in words: the paragraph a user reads (and edits) and the terminal's listing.

Pure functions of a :class:`~videobgm.types.Description`; the describer, the prompt parser and
the planner (which writes back what plays) all word it here.
"""

from __future__ import annotations

import numpy as np

from videobgm.types import Description


def mmss(t_s: float) -> str:
    """``75.3`` -> ``"1:15"``."""
    t = max(0.0, float(t_s))
    return f"{int(t // 60)}:{int(t % 60):02d}"


def description_text(desc: Description, *, duration_s: float | None = None) -> str:
    """One readable paragraph built from the description's fields."""
    parts: list[str] = []
    head = " ".join(w for w in (desc.mood, desc.style) if w) or "Background"
    head = head[0].upper() + head[1:]
    key = f" in {desc.key} {desc.mode}" if desc.key and desc.mode else f" in {desc.mode}" if desc.mode else ""
    tempo = f" at {desc.tempo_bpm:.0f} bpm" if desc.tempo_bpm else ""
    inst = f" for {join_words([i.replace('_', ' ') for i in desc.instruments])}" if desc.instruments else ""
    parts.append(f"{head} music{key}{tempo}{inst}.")
    if desc.sections:
        bits = []
        for s in desc.sections:
            bits.append(f"{s.get('label', 'section')} {mmss(s['start_s'])}-{mmss(s['end_s'])} "
                        f"(energy {float(s.get('energy', 0.5)):.1f})")
        parts.append("Sections: " + "; ".join(bits) + ".")
    elif desc.energy_curve:
        e = desc.energy_curve
        shape = "rising" if e[-1] > e[0] + 0.1 else "falling" if e[-1] < e[0] - 0.1 else "even"
        parts.append(f"Energy {shape} around {float(np.mean(e)):.1f}.")
    if duration_s:
        parts.append(f"Length {mmss(duration_s)}.")
    return " ".join(parts)


def join_words(items: list[str] | None) -> str:
    items = list(items or [])
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def format_description(desc: Description) -> str:
    """The paragraph followed by one ``element: reason`` line per reason (for the terminal)."""
    lines = [desc.text, ""]
    width = max((len(k) for k in desc.reasons), default=0)
    lines += [f"  {k:<{width}}  {v}" for k, v in desc.reasons.items()]
    return "\n".join(lines)
