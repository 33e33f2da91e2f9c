"""Synthetic videos with known answers, for tests, benchmarks and the demo.

Each generator draws frames from a function of time and writes an H.264 MP4 with PyAV, so the
true motion period, turning points, cut times and colours are known exactly.

``python -m videobgm.testing.synthetic_videos OUT.mp4 [--kind square|cut|ramp|static|pan] [--duration S]``
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

FrameFn = Callable[[float], np.ndarray]


def write_video(
    path: str | Path,
    frame_fn: FrameFn,
    *,
    duration_s: float,
    fps: float = 30.0,
    width: int = 320,
    height: int = 240,
    audio_tone_hz: float | None = None,
    rotation_deg: int = 0,
) -> Path:
    """Write ``frame_fn(t)`` for ``t = i / fps`` to an H.264 MP4.

    Parameters
    ----------
    frame_fn : callable
        ``t_s -> uint8 array (height, width, 3)`` in RGB.
    duration_s, fps : float
        Length in seconds and frame rate; ``round(duration_s * fps)`` frames are written.
    width, height : int
        Frame size in pixels (even numbers).
    audio_tone_hz : float, optional
        Also write a mono AAC sine tone of this frequency (an "original audio" track).
    rotation_deg : int
        Rotation metadata to store (0/90/180/270).
    """
    import av

    path = Path(path)
    n = int(round(duration_s * fps))
    from fractions import Fraction

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "18", "g": "30"}
        if rotation_deg:
            # display-matrix side data (the legacy 'rotate' tag is dropped by current FFmpeg);
            # metadata rotation is clockwise, the display matrix counter-clockwise
            vs.set_display_rotation(-int(rotation_deg))
        aus = None
        if audio_tone_hz:
            aus = out.add_stream("aac", rate=44100)
            aus.layout = "mono"
        for i in range(n):
            img = np.ascontiguousarray(frame_fn(i / fps), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for pkt in vs.encode(frame):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        if aus is not None:
            sr, hop = 44100, 1024
            total = int(duration_s * sr)
            for start in range(0, total, hop):
                t = (np.arange(start, min(total, start + hop)) / sr).astype(np.float32)
                x = (0.3 * np.sin(2 * np.pi * audio_tone_hz * t)).astype(np.float32)[None, :]
                af = av.AudioFrame.from_ndarray(x, format="fltp", layout="mono")
                af.sample_rate, af.pts = sr, start
                for pkt in aus.encode(af):
                    out.mux(pkt)
            for pkt in aus.encode():
                out.mux(pkt)
    return path


def oscillating_square(
    *, period_s: float, width: int = 320, height: int = 240, size: int = 40,
    amplitude: float = 0.35, bg: tuple[int, int, int] = (30, 30, 30),
    color: tuple[int, int, int] = (240, 240, 240),
) -> FrameFn:
    """A square moving back and forth horizontally, ``x(t) = c + A sin(2 pi t / period)``.

    It turns (velocity zero, sharpest deceleration/direction change) at
    ``t = period/4 + k * period/2``: two turning points per period.
    """
    cx = width / 2
    amp = amplitude * width

    def fn(t: float) -> np.ndarray:
        img = np.empty((height, width, 3), np.uint8)
        img[:] = bg
        x = int(round(cx + amp * math.sin(2 * math.pi * t / period_s) - size / 2))
        y = int(height / 2 - size / 2)
        img[y:y + size, max(0, x):max(0, x + size)] = color
        return img

    return fn


def square_turning_times(period_s: float, duration_s: float) -> np.ndarray:
    """True turning points of :func:`oscillating_square` in ``[0, duration_s)``, shape (K,)."""
    t = np.arange(period_s / 4, duration_s, period_s / 2)
    return t


def bouncing_square(*, period_s: float, width: int = 320, height: int = 240, size: int = 40) -> FrameFn:
    """A square moving at constant speed and reversing sharply every ``period_s / 2`` (triangle wave)."""
    span = width - size - 20

    def fn(t: float) -> np.ndarray:
        img = np.full((height, width, 3), 30, np.uint8)
        phase = (t / period_s) % 1.0
        tri = 2 * phase if phase < 0.5 else 2 - 2 * phase
        x = int(round(10 + tri * span))
        y = height // 2 - size // 2
        img[y:y + size, x:x + size] = 235
        return img

    return fn


def hard_cut(*, cut_times_s: list[float], width: int = 320, height: int = 240) -> FrameFn:
    """Textured scenes whose content and colours change abruptly at ``cut_times_s``.

    Within a scene a textured pattern drifts slowly (so there is some motion but no cut).
    """
    rng = np.random.default_rng(1234)
    palettes = rng.integers(0, 256, size=(len(cut_times_s) + 1, 3))
    yy, xx = np.mgrid[0:height, 0:width]

    def fn(t: float) -> np.ndarray:
        k = int(np.searchsorted(cut_times_s, t, side="right"))
        base = palettes[k]
        freq = 0.05 + 0.03 * k
        pattern = 0.5 + 0.5 * np.sin(freq * (xx + 20 * t) + 0.07 * (k + 1) * yy)
        img = (base[None, None, :] * (0.4 + 0.6 * pattern[..., None])).clip(0, 255)
        return img.astype(np.uint8)

    return fn


def smooth_pan(*, speed_px_per_s: float = 60.0, width: int = 320, height: int = 240) -> FrameFn:
    """A camera pan across a large smooth textured image (no cuts)."""
    big_w = width * 4
    yy, xx = np.mgrid[0:height, 0:big_w]
    tex = (127 + 60 * np.sin(xx / 23.0) * np.cos(yy / 17.0) + 50 * np.sin((xx + yy) / 41.0))
    rgb = np.stack([tex, tex * 0.8 + 30, 255 - tex], axis=-1).clip(0, 255).astype(np.uint8)

    def fn(t: float) -> np.ndarray:
        x0 = int(speed_px_per_s * t) % (big_w - width)
        return rgb[:, x0:x0 + width]

    return fn


def color_ramp(*, duration_s: float, width: int = 320, height: int = 240) -> FrameFn:
    """A flat frame whose grey level rises linearly from 10 to 245 over the video."""

    def fn(t: float) -> np.ndarray:
        v = int(round(10 + 235 * min(1.0, t / duration_s)))
        return np.full((height, width, 3), v, np.uint8)

    return fn


def static(*, width: int = 320, height: int = 240) -> FrameFn:
    """A still textured frame (no motion)."""
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([(xx * 255 // width), (yy * 255 // height), np.full_like(xx, 128)], -1).astype(np.uint8)
    return lambda t: img


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m videobgm.testing.synthetic_videos", description=__doc__)
    p.add_argument("output")
    p.add_argument("--kind", default="square", choices=["square", "cut", "ramp", "static", "pan"])
    p.add_argument("--duration", type=float, default=12.0)
    p.add_argument("--period", type=float, default=1.0, help="motion period of 'square' in seconds")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    a = p.parse_args(argv)
    w, h = a.width, a.height
    fns = {
        "square": lambda: oscillating_square(period_s=a.period, width=w, height=h),
        "cut": lambda: hard_cut(cut_times_s=[a.duration / 3, 2 * a.duration / 3], width=w, height=h),
        "ramp": lambda: color_ramp(duration_s=a.duration, width=w, height=h),
        "static": lambda: static(width=w, height=h),
        "pan": lambda: smooth_pan(width=w, height=h),
    }
    write_video(a.output, fns[a.kind](), duration_s=a.duration, fps=a.fps, width=w, height=h)
    print(a.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
