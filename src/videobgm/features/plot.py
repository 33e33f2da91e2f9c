"""A one-page plot of :class:`~videobgm.types.Features` against time (matplotlib, Agg backend)."""

from __future__ import annotations

import os

import numpy as np

from videobgm.features.color import frame_rgb
from videobgm.io import atomic_path
from videobgm.types import Features


def plot_features(features: Features, path: str | os.PathLike[str], *, title: str | None = None) -> None:
    """Write a PNG: motion speed, saliency with visual beats, colour curves, colour strip; cuts as lines.

    Parameters
    ----------
    features : Features
    path : path-like
        Output PNG (written atomically).
    title : str, optional
        Figure title (default: the video file name, tempo, counts).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(features.frame_times_s, dtype=float)
    end = max(float(features.duration_s), float(t[-1]) if t.size else 0.0, 1e-3)
    fig, axes = plt.subplots(
        4, 1, figsize=(12, 7.5), sharex=True, gridspec_kw={"height_ratios": [2, 2, 1.6, 0.5]}
    )
    ax_m, ax_s, ax_c, ax_strip = axes
    ax_m.plot(t, features.motion_speed, lw=0.8, color="tab:blue")
    ax_m.set_ylabel("motion\n(px/s)")
    ax_s.plot(t, features.saliency, lw=0.8, color="tab:purple", label="saliency")
    bt = np.asarray(features.visual_beat_times_s, dtype=float)
    if bt.size:
        bs = np.asarray(features.visual_beat_strength, dtype=float)
        top = float(np.max(features.saliency)) if np.size(features.saliency) else 1.0
        ax_s.vlines(bt, 0, top * (0.3 + 0.7 * bs), color="tab:red", lw=0.9, label="visual beats")
    ax_s.set_ylabel("saliency")
    ax_s.legend(loc="upper right", fontsize=8)
    ax_c.plot(t, features.brightness, lw=0.9, color="0.2", label="brightness")
    ax_c.plot(t, features.saturation, lw=0.9, color="tab:green", label="saturation")
    ax_c.plot(t, features.warmth, lw=0.9, color="tab:orange", label="warmth")
    ax_c.set_ylim(-1.05, 1.05)
    ax_c.axhline(0, color="0.8", lw=0.5)
    ax_c.legend(loc="upper right", fontsize=8, ncol=3)
    ax_c.set_ylabel("colour")
    if t.size:
        strip = frame_rgb(hue_hist=features.hue_hist, saturation=features.saturation,
                          brightness=features.brightness)[None, :, :]
        ax_strip.imshow(strip, aspect="auto", extent=(t[0], t[-1] if t.size > 1 else end, 0, 1))
    ax_strip.set_yticks([])
    ax_strip.set_xlabel("time (s)")
    for ax in axes:
        for c in np.asarray(features.cut_times_s, dtype=float):
            ax.axvline(c, color="black", lw=1.0, ls="--", alpha=0.7)
        ax.set_xlim(0, end)
    tempo = "none" if not np.isfinite(features.tempo_bpm) else f"{features.tempo_bpm:.1f} bpm"
    fig.suptitle(title or (
        f"{os.path.basename(features.video.path)}: {end:.1f} s, visual tempo {tempo}, "
        f"{bt.size} beats, {np.size(features.cut_times_s)} cuts (dashed)"
    ), fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
