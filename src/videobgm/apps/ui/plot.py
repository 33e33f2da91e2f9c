"""The feature plot of the web UI: motion, visual beats, cuts and colour over time, with the plan.

Pure matplotlib (``matplotlib.figure.Figure``, no pyplot state), so it is thread-safe under the
Gradio queue and testable without a browser.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videobgm.features.color import frame_rgb
from videobgm.types import Features, Plan, Score

# one colour per section label, cycled (a soft qualitative palette)
_SECTION_COLOURS = ("#8ecae6", "#ffb703", "#90be6d", "#f28482", "#b8a1e3", "#f6bd60", "#84a59d")


def _norm(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return x
    hi = float(np.nanmax(x)) if np.isfinite(x).any() else 0.0
    return x / hi if hi > 0 else np.zeros_like(x)


def colour_strip(features: Features) -> np.ndarray:
    """Mean colour of every analysed frame as an image row, shape (1, T, 3) in [0, 1]
    (:func:`videobgm.features.color.frame_rgb`; one black pixel without frames)."""
    rgb = frame_rgb(hue_hist=features.hue_hist, saturation=features.saturation,
                    brightness=features.brightness)[: len(features.frame_times_s)]
    return rgb[None, :, :] if rgb.size else np.zeros((1, 1, 3))


def feature_figure(
    features: Features,
    plan: Plan | None = None,
    score: Score | None = None,
    *,
    highlight_bars: tuple[int, int] | None = None,
    width_in: float = 11.0,
) -> Any:
    """Draw the video's features and the planned sections on one time axis.

    Parameters
    ----------
    features : Features
        Motion speed (px/s), saliency, visual beats, cuts and colour over time.
    plan : Plan, optional
        Adds the section bands (labels, bar ranges) and the bar grid.
    score : Score, optional
        Adds the number of note onsets per bar (pitched and drums) under the sections.
    highlight_bars : (int, int), optional
        Bars ``[a, b)`` (0-based) to outline, e.g. the last regenerated range.
    width_in : float
        Figure width in inches (height follows).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    duration = max(float(features.duration_s), 1e-3)
    rows = 3 if plan is not None else 2
    ratios = [2.6, 0.45, 1.3][:rows]
    fig = Figure(figsize=(width_in, 1.2 * sum(ratios) + 0.6), dpi=100, layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    t = np.asarray(features.frame_times_s, dtype=float)

    # -- motion, saliency, beats, cuts
    ax = axes[0]
    if t.size:
        ax.fill_between(t, _norm(features.motion_speed), color="#219ebc", alpha=0.25, lw=0)
        ax.plot(t, _norm(features.motion_speed), color="#219ebc", lw=1.2, label="motion speed")
        ax.plot(t, _norm(features.saliency), color="#fb8500", lw=0.9, alpha=0.85,
                label="motion saliency")
    beats = np.asarray(features.visual_beat_times_s, dtype=float)
    if beats.size:
        strength = np.asarray(features.visual_beat_strength, dtype=float)
        h = strength if strength.size == beats.size else np.ones_like(beats)
        ax.vlines(beats, 0, 0.25 + 0.75 * np.clip(h, 0, 1), color="#023047", lw=1.0, alpha=0.7,
                  label=f"visual beats ({beats.size})")
    for i, c in enumerate(np.asarray(features.cut_times_s, dtype=float)):
        ax.axvline(c, color="#d62828", ls="--", lw=1.4, label="scene cut" if i == 0 else None)
    tempo = features.tempo_bpm
    title = "Video features"
    if np.isfinite(tempo):
        title += f" - visual tempo {tempo:.0f} bpm (confidence {features.tempo_confidence:.2f})"
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylim(0, 1.32)
    ax.set_yticks([])
    ax.legend(loc="upper right", fontsize=8, ncols=4, frameon=False, borderaxespad=0.2)

    # -- colour strip
    ax = axes[1]
    ax.imshow(colour_strip(features), aspect="auto", extent=(0, duration, 0, 1),
              interpolation="nearest")
    ax.set_yticks([])
    ax.set_ylabel("colour", rotation=0, ha="right", va="center", fontsize=9)

    # -- sections, bar grid, notes per bar
    if plan is not None:
        ax = axes[2]
        bars = plan.bar_times_s()
        labels: dict[str, str] = {}
        for sec in plan.sections:
            colour = labels.setdefault(sec.label, _SECTION_COLOURS[len(labels) % len(_SECTION_COLOURS)])
            ax.axvspan(sec.start_s, min(sec.end_s, duration), color=colour, alpha=0.55, lw=0)
            mid = (sec.start_s + min(sec.end_s, duration)) / 2
            bars_txt = (f"bar {sec.end_bar}" if sec.end_bar - sec.start_bar == 1
                        else f"bars {sec.start_bar + 1}-{sec.end_bar}")
            ax.text(mid, 0.72, f"{sec.label}\n{bars_txt}",
                    ha="center", va="center", fontsize=8)
        for b in bars[:-1]:
            if b <= duration:
                ax.axvline(b, color="#555", lw=0.4, alpha=0.6)
        if score is not None and len(bars) > 1:
            spb = score.steps_per_bar
            counts = np.zeros(plan.n_bars)
            for n in score.notes:
                k = n.onset_16th // spb
                if 0 <= k < plan.n_bars:
                    counts[k] += 1
            widths = np.diff(bars)[: plan.n_bars]
            ax.bar(bars[: plan.n_bars], 0.45 * _norm(counts), width=widths, align="edge",
                   color="#3a3a3a", alpha=0.35, label="notes per bar")
            ax.legend(loc="lower right", fontsize=8, frameon=False)
        hits = getattr(plan.controls, "hits", ())
        if hits:  # hit points on cuts (issue 17): a marker on each, drawn at its 16th step
            st = np.interp(np.arange(plan.n_bars * plan.controls.steps_per_bar + 1) / 4.0,
                           np.arange(len(plan.beat_times_s)), plan.beat_times_s)
            ht = [st[k] for k, _ in hits if k < st.size and st[k] <= duration]
            ax.plot(ht, [0.3] * len(ht), "v", color="#d62828", ms=6, label="hit points", ls="none")
            ax.legend(loc="lower right", fontsize=8, frameon=False)
        if highlight_bars is not None and len(bars) > 1:
            a, b = highlight_bars
            a, b = max(0, a), min(b, len(bars) - 1)
            if a < b:
                ax.axvspan(bars[a], min(bars[b], duration), fill=False, ec="#d62828", lw=2.0,
                           hatch="//", alpha=0.9)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_ylabel("plan", rotation=0, ha="right", va="center", fontsize=9)
        ax.set_title(f"Plan: {plan.tempo_bpm:.0f} bpm, {plan.n_bars} bars of {plan.beats_per_bar}, "
                     f"mood {plan.mood}, style {plan.style}", loc="left", fontsize=10)
    axes[-1].set_xlim(0, duration)
    axes[-1].set_xlabel("time (s)")
    return fig
