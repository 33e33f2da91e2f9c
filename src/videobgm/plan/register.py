"""The melody's register over the form: a per-bar target pitch, a singable tessitura lifted in the
energetic sections.

A composer lifts the tune in the energetic sections (chorus, climax) and lets it sit lower in the
calm ones, with the highest point late in the piece rather than everywhere. :func:`register_arc`
turns the sections' energies into one offset in semitones per bar (``Controls.register_per_bar``):
each section's energy, normalised over the piece, weighted a little toward the end (so that of two
equally energetic sections the later one peaks), scaled to ``span_semitones`` between the calmest
and the peak section and centred on the melody bars; inside a section a small arch rises to its
last third. None when the sections do not differ in energy.

:func:`melody_register` adds the arc to :data:`TESSITURA_MIDI`, the centre of POP909's melodies:
the model alone does not keep a tessitura (under 6 POP909 test songs' own controls its melody's
mean pitch was 59-81 against the songs' 68-74; on the video-driven plans of ``bench/musicality.py``
it sat at 81, A5, with notes up to B6), so the plan gives it one. The sampler pulls the line
softly toward the bar's target (:func:`videobgm.compose.note_constraints.register_bias`).
"""

from __future__ import annotations

import numpy as np

from videobgm.types import Section

SPAN_SEMITONES = 5.0  # calmest section -> peak section
ARCH_SEMITONES = 1.0  # inside a section: rise toward its last third
LATE_WEIGHT = 0.3  # share of a section's level that depends on its position (peak placed late)
# MIDI pitch: mean of POP909's melody notes (first 60 songs: 73.6, 5th..95th percentile 63..84)
TESSITURA_MIDI = 74.0


def register_arc(sections: list[Section], n_bars: int, melody_bars: np.ndarray | None = None, *,
                 span_semitones: float = SPAN_SEMITONES, arch_semitones: float = ARCH_SEMITONES,
                 late_weight: float = LATE_WEIGHT) -> np.ndarray | None:
    """Register offset (semitones, mean 0 over the melody bars) per bar, shape (n_bars,); None
    when fewer than two sections differ in energy or there is no bar."""
    if n_bars <= 0 or not sections:
        return None
    energy = np.array([float(s.energy) for s in sections])
    if np.ptp(energy) < 1e-6:
        return None
    level = (energy - energy.min()) / np.ptp(energy)
    pos = np.array([0.5 * (s.start_bar + s.end_bar) / n_bars for s in sections])
    level = level * ((1.0 - late_weight) + late_weight * np.clip(pos, 0.0, 1.0))
    level = level / max(level.max(), 1e-9)
    out = np.full(n_bars, np.nan)
    for s, lv in zip(sections, level):
        a, b = max(0, int(s.start_bar)), min(n_bars, int(s.end_bar))
        if b <= a:
            continue
        x = (np.arange(a, b) - a + 0.5) / (b - a)
        arch = arch_semitones * (np.minimum(x / 0.7, (1.0 - x) / 0.3 * 0.5 + 0.5) - 0.5) if b - a >= 2 else 0.0
        out[a:b] = span_semitones * lv + arch
    if np.isnan(out).all():
        return None
    out = np.nan_to_num(out, nan=float(np.nanmean(out)))
    mel = np.ones(n_bars, dtype=bool) if melody_bars is None else np.asarray(melody_bars, dtype=bool)
    centre = float(out[mel].mean()) if mel.any() else float(out.mean())
    return out - centre


def melody_register(sections: list[Section], n_bars: int, melody_bars: np.ndarray | None = None, *,
                    centre_midi: float = TESSITURA_MIDI) -> np.ndarray:
    """The melody's target MIDI pitch per bar, shape (n_bars,): ``centre_midi`` plus the
    :func:`register_arc` (flat at ``centre_midi`` when the sections do not differ in energy)."""
    arc = register_arc(sections, n_bars, melody_bars)
    return np.full(max(0, n_bars), float(centre_midi)) + (0.0 if arc is None else arc)
