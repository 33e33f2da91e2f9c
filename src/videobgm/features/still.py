"""Features without a video: a still image (colour only) or neutral features (text-to-music).

Both give :class:`~videobgm.types.Features` of a chosen length with zero motion, no visual beats,
no cuts and no visual tempo (NaN), sampled at ``SAMPLE_FPS`` so that every stage downstream
(describe, plan, eval) works unchanged. A still image contributes its colour statistics
(brightness, saturation, warmth, hue histogram; the same definitions as ``features.color``);
neutral features are mid-grey (brightness 0.5, no saturation, warmth 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from videobgm.errors import InputError, OptionError
from videobgm.types import Features, VideoInfo

# still-image inputs (scored with --duration instead of a video stream)

SAMPLE_FPS = 2.0  # rows per second of the constant feature curves
ANALYSIS_MAX_SIDE = 256


def _check_duration(duration_s: float) -> float:
    try:
        d = float(duration_s)
    except (TypeError, ValueError):
        raise OptionError(f"duration must be a number of seconds, got {duration_s!r}") from None
    if not (np.isfinite(d) and 0.0 < d <= 4 * 3600.0):
        raise OptionError(f"duration must be in (0, 14400] seconds, got {duration_s}")
    return d


def _constant_features(info: VideoInfo, colour: dict[str, np.ndarray | float], note: str) -> Features:
    t = np.arange(0.0, info.duration_s, 1.0 / SAMPLE_FPS)
    n = t.size
    hue = np.asarray(colour["hue_hist"], dtype=float).reshape(12)
    return Features(
        video=info, frame_times_s=t, motion_speed=np.zeros(n), saliency=np.zeros(n),
        visual_beat_times_s=np.zeros(0), visual_beat_strength=np.zeros(0),
        tempo_bpm=float("nan"), tempo_confidence=0.0, cut_times_s=np.zeros(0),
        brightness=np.full(n, float(colour["brightness"])),
        saturation=np.full(n, float(colour["saturation"])),
        warmth=np.full(n, float(colour["warmth"])),
        hue_hist=np.tile(hue, (n, 1)),
        meta={"source": note, "analysis_max_side": ANALYSIS_MAX_SIDE, "sample_fps": SAMPLE_FPS},
    )


def neutral_features(duration_s: float) -> Features:
    """Features of ``duration_s`` seconds with no visual content (for ``compose --prompt``).

    Returns
    -------
    Features
        Zero motion, no beats or cuts, tempo NaN, mid-grey colour; ``video.path`` is ``""``.
    """
    d = _check_duration(duration_s)
    info = VideoInfo(path="", duration_s=d, fps=SAMPLE_FPS, width=0, height=0,
                     n_frames=int(np.ceil(d * SAMPLE_FPS)), codec="none")
    colour = {"brightness": 0.5, "saturation": 0.0, "warmth": 0.0, "hue_hist": np.zeros(12)}
    return _constant_features(info, colour, "neutral (no video)")


def image_colour(rgb: np.ndarray) -> dict[str, float | np.ndarray]:
    """Colour statistics of one RGB image, uint8 (H, W, 3): brightness, saturation, warmth, hue_hist (12,)."""
    from videobgm.features.color import color_stats, hsv_stack

    stats = color_stats(hsv_stack(rgb[None]))
    return {k: (v[0] if k != "hue_hist" else v[0].reshape(12)) for k, v in stats.items()}


def still_image_features(path: str | Path, duration_s: float) -> Features:
    """Features for a still image shown for ``duration_s`` seconds (``videobgm score IMAGE --duration``).

    Parameters
    ----------
    path : path
        A JPEG / PNG / BMP / WebP / TIFF image.
    duration_s : float
        Length of the music in seconds.

    Returns
    -------
    Features
        The image's colour (resized so its longest side is ``ANALYSIS_MAX_SIDE``), zero motion,
        no beats, no cuts, tempo NaN.

    Raises
    ------
    InputError
        Missing or unreadable image.
    """
    p = Path(path)
    d = _check_duration(duration_s)
    if not p.is_file():
        raise InputError(f"image not found: {p}")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            width, height = im.size
            im = im.convert("RGB")
            im.thumbnail((ANALYSIS_MAX_SIDE, ANALYSIS_MAX_SIDE))
            rgb = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"cannot read image {p}: {exc}") from None
    info = VideoInfo(path=str(p), duration_s=d, fps=SAMPLE_FPS, width=int(width), height=int(height),
                     n_frames=int(np.ceil(d * SAMPLE_FPS)), codec="image")
    return _constant_features(info, image_colour(rgb), "still image")
