"""[1] Video input: probe a file and decode it in chunks at an analysis size and frame rate (PyAV).

Nothing here holds the whole video in memory: :func:`iter_frames` yields chunks of at most
``VideoConfig.chunk_frames`` small RGB frames together with their own presentation timestamps.
Frames are *selected* by timestamp (never duplicated), so variable-frame-rate input keeps its real
timing. Rotation metadata (display matrix or legacy ``rotate`` tag) is applied to the frames.

Every way a file can be unusable (missing, not a video, audio only, empty, corrupt, unknown codec,
absurd size or length) is refused with a one-line :class:`~videobgm.errors.InputError`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.config import VideoConfig
from videobgm.errors import InputError
from videobgm.types import VideoInfo


def _one_line(exc: BaseException) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    msg = " ".join(str(msg).split())
    return msg[:200] if msg else type(exc).__name__


def _open(path: str | os.PathLike[str]) -> Any:
    """Open ``path`` with PyAV after the cheap checks; return the container."""
    import av

    p = Path(path)
    if not p.exists():
        raise InputError(f"input video not found: {p}")
    if not p.is_file():
        raise InputError(f"input is not a file: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"input file is empty (0 bytes): {p}")
    try:
        return av.open(str(p), "r")
    except av.FFmpegError as exc:
        raise InputError(f"not a readable video file: {p} ({_one_line(exc)})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot read {p}: {_one_line(exc)}") from None


def _video_stream(container: Any, path: str | os.PathLike[str]) -> Any:
    streams = list(container.streams.video)
    if not streams:
        if container.streams.audio:
            raise InputError(f"audio-only file, no video stream: {path}")
        if not container.streams:
            raise InputError(f"zero-length video: no streams or frames in {path}")
        raise InputError(f"no video stream in {path}")
    stream = streams[0]
    ctx = stream.codec_context
    if ctx is None or not getattr(ctx, "name", None):
        raise InputError(f"unsupported video codec in {path} (no decoder in the bundled FFmpeg)")
    return stream


def _rotation_from_tag(stream: Any) -> int | None:
    tag = (stream.metadata or {}).get("rotate")
    if tag is None:
        return None
    try:
        return int(round(float(tag) / 90.0)) * 90 % 360
    except ValueError:
        return None


def _rotation_cw(frame: Any, stream: Any) -> int:
    """Clockwise rotation in degrees (0/90/180/270) that displays ``frame`` upright."""
    tag = _rotation_from_tag(stream)
    if tag is not None and tag != 0:
        return tag
    # FFmpeg's display matrix angle is counter-clockwise; display needs the inverse (clockwise).
    ccw = float(getattr(frame, "rotation", 0) or 0)
    return int(round(-ccw / 90.0)) * 90 % 360


def probe(path: str | os.PathLike[str], cfg: VideoConfig | None = None) -> VideoInfo:
    """Describe a video file from its packet timestamps and first decoded frame.

    Duration and frame rate come from the presentation timestamps of every video packet
    (demuxing only, no decoding), so variable-frame-rate input is measured, not guessed.

    Parameters
    ----------
    path : path-like
        The video file.
    cfg : VideoConfig, optional
        Limits (``max_duration_s``, ``max_pixels``); default ``VideoConfig()``.

    Returns
    -------
    VideoInfo
        ``width``/``height`` are the display size after rotation; ``rotation_deg`` is the
        clockwise rotation applied for display.

    Raises
    ------
    InputError
        Missing, empty, non-video, audio-only, zero-length, corrupt or undecodable input, or
        input beyond the configured size/duration limits.
    """
    import av

    cfg = cfg or VideoConfig()
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        codec = stream.codec_context.name
        tb = float(stream.time_base) if stream.time_base else 1e-6
        pts: list[int] = []
        last_dur, max_pts = 0, None
        first = None
        try:
            for pkt in container.demux(stream):
                if pkt.size == 0:
                    continue
                if first is None:  # decode until the first frame: proves codec and data usable
                    first = next(iter(pkt.decode()), None)
                p = pkt.pts if pkt.pts is not None else pkt.dts
                if p is None:
                    continue
                pts.append(int(p))
                if max_pts is None or p >= max_pts:
                    max_pts, last_dur = int(p), int(pkt.duration or 0)
            if first is None and pts:
                first = next(iter(stream.decode(None)), None)
        except av.FFmpegError as exc:
            raise InputError(f"corrupt or undecodable video stream ({codec}) in {path}: {_one_line(exc)}") from None
        if not pts:
            raise InputError(f"zero-length video: no video frames in {path}")
        if first is None:
            raise InputError(f"no decodable video frame in {path} (codec {codec})")
        t = np.unique(np.asarray(pts, dtype=np.int64))
        diffs = np.diff(t)
        med = float(np.median(diffs)) if diffs.size else 0.0
        if last_dur <= 0:
            last_dur = int(med) if med > 0 else 0
        n = int(t.size)
        duration = (float(t[-1] - t[0]) + last_dur) * tb
        if duration <= 0:
            rate = stream.average_rate or stream.guessed_rate
            duration = n / float(rate) if rate else 0.0
        if duration <= 0:
            raise InputError(f"zero-length video: {path} has no measurable duration")
        fps = n / duration
        vfr = False
        if diffs.size >= 2 and med > 0:
            tol = max(0.01 * med, 1.5)  # 1 % or timebase rounding (e.g. 33/34 ms in 1/1000)
            vfr = bool(np.mean(np.abs(diffs - med) > tol) > 0.05)
        if duration > cfg.max_duration_s:
            raise InputError(
                f"video is too long: {duration:.0f} s > max_duration_s {cfg.max_duration_s:.0f} s ({path})"
            )
        w, h = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        if w <= 0 or h <= 0:
            raise InputError(f"video stream has no frame size (corrupt header?): {path}")
        if w * h > cfg.max_pixels:
            raise InputError(f"frame size {w}x{h} exceeds the limit of {cfg.max_pixels} pixels ({path})")
        has_audio = bool(container.streams.audio)
        rot = _rotation_cw(first, stream)
    finally:
        container.close()
    if rot in (90, 270):
        w, h = h, w
    return VideoInfo(
        path=str(path), duration_s=float(duration), fps=float(fps), width=w, height=h,
        rotation_deg=rot, n_frames=n, codec=codec, has_audio=has_audio, variable_frame_rate=vfr,
    )


# OpenCV's DIS optical flow crashes (segfault) on small or very thin images, e.g. 96x24 or
# 160x16; every size with both sides >= 32 and an aspect ratio <= 4 works (swept 3260 sizes).
MIN_ANALYSIS_SIDE = 32
MAX_ANALYSIS_RATIO = 4.0


def analysis_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Size (w, h) of analysis frames: longest side ``max_side`` (never upscaled), aspect kept.

    Tiny or very thin videos are stretched so that each side is at least ``MIN_ANALYSIS_SIDE``
    pixels and the aspect ratio at most ``MAX_ANALYSIS_RATIO`` (what optical flow needs).
    """
    scale = min(1.0, max_side / max(width, height))
    w = max(MIN_ANALYSIS_SIDE, int(round(width * scale)))
    h = max(MIN_ANALYSIS_SIDE, int(round(height * scale)))
    if w > h * MAX_ANALYSIS_RATIO:
        h = int(math.ceil(w / MAX_ANALYSIS_RATIO))
    elif h > w * MAX_ANALYSIS_RATIO:
        w = int(math.ceil(h / MAX_ANALYSIS_RATIO))
    return w, h


_YUV420 = ("yuv420p", "yuvj420p")


def _plane(frame: Any, i: int, w: int, h: int) -> np.ndarray:
    pl = frame.planes[i]
    return np.frombuffer(pl, np.uint8).reshape(-1, pl.line_size)[:h, :w]


def _small_rgb(frame: Any, size: tuple[int, int]) -> np.ndarray:
    """Frame -> RGB uint8 (size[1], size[0], 3), area-averaged.

    8-bit 4:2:0 frames (nearly all H.264/H.265/VP9 video) are shrunk plane by plane with OpenCV's
    INTER_AREA before the colour conversion, which is 5-10x faster than converting the full frame;
    anything else goes through FFmpeg's swscale.
    """
    import cv2

    w, h = size
    fmt = frame.format.name
    if fmt not in _YUV420 or (w >= frame.width and h >= frame.height):
        return frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
    fw, fh = frame.width, frame.height
    y = cv2.resize(_plane(frame, 0, fw, fh), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    cw, ch = (fw + 1) // 2, (fh + 1) // 2
    u = cv2.resize(_plane(frame, 1, cw, ch), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) - 128.0
    v = cv2.resize(_plane(frame, 2, cw, ch), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) - 128.0
    full = fmt == "yuvj420p" or int(getattr(frame, "color_range", 0) or 0) == 2
    if not full:
        y = (y - 16.0) * (255.0 / 219.0)
        u *= 255.0 / 224.0
        v *= 255.0 / 224.0
    space = int(getattr(frame, "colorspace", 2) or 2)
    bt709 = space == 1 or (space == 2 and fh >= 720)
    kr, kb = (0.2126, 0.0722) if bt709 else (0.299, 0.114)
    r = y + 2 * (1 - kr) * v
    b = y + 2 * (1 - kb) * u
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.stack([r, g, b], axis=-1) + 0.5, 0, 255).astype(np.uint8)


def iter_frames(
    path: str | os.PathLike[str],
    cfg: VideoConfig | None = None,
    *,
    fps: float | None = None,
    max_side: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Decode ``path`` in chunks of small upright RGB frames, selected by timestamp.

    A frame is kept when its timestamp reaches the next point of a ``fps`` grid (frames are
    dropped, never duplicated), so input at or below ``fps`` keeps every frame with its own
    timestamp, including variable-frame-rate input. Scaling happens inside FFmpeg (swscale).

    Parameters
    ----------
    path : path-like
        The video file.
    cfg : VideoConfig, optional
        Default analysis fps/size and ``chunk_frames``.
    fps : float, optional
        Maximum analysis frame rate (default ``cfg.analysis_fps``; 0 or None there = every frame).
    max_side : int, optional
        Longest side of the analysis frames in pixels (default ``cfg.analysis_max_side``).

    Yields
    ------
    times_s : ndarray, shape (N,)
        Presentation time of each frame in seconds, relative to the stream start.
    frames : ndarray of uint8, shape (N, H, W, 3)
        RGB frames at analysis size, upright (rotation metadata applied).

    Raises
    ------
    InputError
        When the file cannot be opened or decoded.

    Notes
    -----
    Decoding and shrinking run in a background thread, at most two chunks ahead, so that
    FFmpeg's decoder threads keep working while the caller analyses the previous chunk.
    """
    import queue
    import threading

    chunks = _decode_chunks(path, cfg or VideoConfig(), fps=fps, max_side=max_side)
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for chunk in chunks:
                if not put(("chunk", chunk)):
                    break
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(("error", exc))
        finally:
            chunks.close()

    worker = threading.Thread(target=work, name="videobgm-decode", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "chunk":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        worker.join(timeout=10)


def _decode_chunks(
    path: str | os.PathLike[str], cfg: VideoConfig, *, fps: float | None, max_side: int | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The decoding loop of :func:`iter_frames` (runs in its worker thread)."""
    import av

    target_fps = cfg.analysis_fps if fps is None else fps
    side = cfg.analysis_max_side if max_side is None else max_side
    chunk = max(1, int(cfg.chunk_frames))
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        # deblocking only smooths 8x8 block edges, invisible after shrinking to analysis size
        stream.codec_context.options = {"skip_loop_filter": "all"}
        tb = float(stream.time_base) if stream.time_base else None
        origin = (stream.start_time or 0) * tb if (tb and stream.start_time is not None) else 0.0
        rate = float(stream.average_rate or stream.guessed_rate or 30.0)
        step = 1.0 / target_fps if target_fps and target_fps > 0 else 0.0
        tol = 0.25 * step
        next_t = -math.inf
        size: tuple[int, int] | None = None
        rot = 0
        times: list[float] = []
        frames: list[np.ndarray] = []
        index = 0
        try:
            for frame in container.decode(stream):
                t = float(frame.pts * tb) - origin if (frame.pts is not None and tb) else index / rate
                index += 1
                if step and t < next_t - tol:
                    continue
                next_t = t + step if next_t == -math.inf else max(next_t + step, t + 0.5 * step)
                if size is None:
                    rot = _rotation_cw(frame, stream)
                    w, h = frame.width, frame.height
                    dw, dh = (h, w) if rot in (90, 270) else (w, h)
                    aw, ah = analysis_size(dw, dh, side)
                    size = (ah, aw) if rot in (90, 270) else (aw, ah)
                img = _small_rgb(frame, size)
                if rot:
                    img = np.rot90(img, k=-(rot // 90))
                frames.append(np.ascontiguousarray(img))
                times.append(t)
                if len(frames) >= chunk:
                    yield np.asarray(times, dtype=float), np.stack(frames)
                    times, frames = [], []
        except av.FFmpegError as exc:
            if index == 0:
                raise InputError(f"corrupt or undecodable video stream in {path}: {_one_line(exc)}") from None
            # data damaged part-way: keep what was decoded (the caller records the decoded span)
        if frames:
            yield np.asarray(times, dtype=float), np.stack(frames)
        if index == 0:
            raise InputError(f"no decodable video frame in {path}")
    finally:
        container.close()
