"""Tiny clips in every video codec PyAV can encode here, and a checker for scored outputs.

Used by tests/test_codecs.py (the codec/container matrix of issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

W, H = 64, 48  # even on purpose; ODD_* clips test the even-size rule of the re-encoder
HW_SUFFIXES = ("_nvenc", "_qsv", "_amf", "_v4l2m2m", "_vaapi", "_cuvid", "_mf", "_videotoolbox")


@dataclass(frozen=True)
class Clip:
    """How to write one input clip: encoder, container, pixel format, size, frame rate."""

    name: str
    encoder: str
    ext: str
    fmt: str | None = None  # FFmpeg muxer (None: from the extension)
    pix_fmt: str | None = None  # None: yuv420p if the encoder takes it, else its first format
    width: int = W
    height: int = H
    rate: int = 10
    vfr: bool = False  # irregular frame intervals (and one duplicate timestamp), 1 ms time base
    options: tuple[tuple[str, str], ...] = ()


# The codecs of issue 13's report plus the common ones, each in its usual container.
NAMED = [
    Clip("h264_mp4", "libx264", "mp4"),
    Clip("hevc_mp4", "libx265", "mp4", options=(("x265-params", "log-level=none"),)),
    Clip("mpeg4_mp4", "mpeg4", "mp4"),
    Clip("mpeg4_avi", "mpeg4", "avi"),
    Clip("msmpeg4v2_avi", "msmpeg4v2", "avi"),
    Clip("msmpeg4v3_avi", "msmpeg4", "avi"),
    Clip("wmv1_wmv", "wmv1", "wmv", fmt="asf"),
    Clip("wmv2_wmv", "wmv2", "wmv", fmt="asf"),
    Clip("vp8_webm", "libvpx", "webm"),
    Clip("vp9_webm", "libvpx-vp9", "webm"),
    Clip("av1_mp4", "libsvtav1", "mp4", options=(("svtav1-params", "log-level=0"),)),
    Clip("av1_mkv", "libsvtav1", "mkv", options=(("svtav1-params", "log-level=0"),)),
    Clip("prores_mov", "prores_ks", "mov", pix_fmt="yuv422p10le"),
    Clip("mjpeg_avi", "mjpeg", "avi", pix_fmt="yuvj420p"),
    Clip("gif", "gif", "gif", pix_fmt="rgb8"),
    Clip("mpeg2_mpg", "mpeg2video", "mpg", fmt="mpeg", rate=25),
    Clip("vfr_h264_mkv", "libx264", "mkv", vfr=True),
    Clip("odd_size_ffv1_mkv", "ffv1", "mkv", pix_fmt="yuv444p", width=65, height=49),
]
OUTPUTS = [".mp4", ".mov", ".mkv", ".webm"]
# containers and (width, height, fps) tried, in order, for encoders not in NAMED (the slow
# tier's sweep): some codecs only take standard sizes/rates (H.261/H.263: CIF family, MPEG-1:
# 25 fps, DV: 720x576 at 25 fps)
SWEEP_CONTAINERS = [("mkv", "matroska"), ("avi", "avi"), ("mov", "mov"), ("nut", "nut"),
                    ("flv", "flv"), ("webp", "webp"), ("apng", "apng"), ("3gp", "3gp"), ("rm", "rm"),
                    ("roq", "roq")]
SWEEP_SHAPES = [(W, H, 10), (176, 144, 25), (720, 576, 25), (64, 64, 30)]


def encodable_video_codecs() -> list[str]:
    """Every software video encoder of the bundled FFmpeg (hardware ones excluded)."""
    import av

    names = []
    for n in sorted(av.codecs_available):
        try:
            c = av.Codec(n, "w")
        except Exception:  # noqa: BLE001 -- not an encoder
            continue
        if c.type == "video" and not n.endswith(HW_SUFFIXES):
            names.append(n)
    return names


def _pix_fmt(encoder: str, wanted: str | None) -> str:
    import av

    fmts = [f.name for f in (av.Codec(encoder, "w").video_formats or [])]
    if wanted:
        return wanted
    for f in ("yuv420p", "yuvj420p", "rgb24", "bgr24", "yuv422p", "yuv444p", "pal8", "rgb8"):
        if f in fmts:
            return f
    return fmts[0] if fmts else "yuv420p"


def frame_image(i: int, width: int, height: int) -> np.ndarray:
    """Frame i: a white bar moving right on a dark background (so frames differ)."""
    img = np.full((height, width, 3), 30, np.uint8)
    x = (i * 3) % max(1, width - 8)
    img[:, x:x + 8] = 220
    return img


def vfr_pts_ms(duration_ms: int = 2000) -> list[int]:
    """Irregular frame times (20/33/50/100 ms steps, seeded) with one duplicate timestamp."""
    rng = np.random.default_rng(7)
    pts, t = [], 0
    while t < duration_ms:
        pts.append(t)
        t += int(rng.choice([20, 33, 50, 100]))
    pts.insert(5, pts[5])  # two frames at the same time: what breaks a naive stream copy
    return pts


def write_clip(clip: Clip, folder: Path, seconds: float = 1.5) -> Path:
    """Write ``clip`` into ``folder``; return its path. Raises when the encoder/muxer refuses."""
    import av

    path = folder / f"{clip.name}.{clip.ext}"
    pix = _pix_fmt(clip.encoder, clip.pix_fmt)
    with av.open(str(path), "w", format=clip.fmt) as out:
        s = out.add_stream(clip.encoder, rate=clip.rate)
        s.width, s.height, s.pix_fmt = clip.width, clip.height, pix
        if clip.options:
            s.options = dict(clip.options)
        if clip.vfr:
            s.codec_context.time_base = Fraction(1, 1000)
            times, tb = vfr_pts_ms(int(seconds * 1000)), Fraction(1, 1000)
        else:
            times, tb = list(range(int(seconds * clip.rate))), Fraction(1, clip.rate)
        last = None
        for i, t in enumerate(times):
            if t == last:  # the encoder itself needs increasing pts: the duplicate is made below
                continue
            last = t
            f = av.VideoFrame.from_ndarray(frame_image(i, clip.width, clip.height), format="rgb24")
            f = f.reformat(format=pix)
            f.pts, f.time_base = t, tb
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    if clip.vfr:
        _duplicate_a_timestamp(path)
    return path


def _duplicate_a_timestamp(path: Path) -> None:
    """Rewrite the MKV so that two packets share a dts (real VFR recordings do this)."""
    import av

    tmp = path.with_name("dup_" + path.name)
    with av.open(str(path)) as src, av.open(str(tmp), "w", format="matroska") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin, opaque=True)
        dts_seen = []
        for pkt in src.demux(vin):
            if pkt.size == 0:
                continue
            if len(dts_seen) == 6 and pkt.dts is not None:  # same dts as the packet before
                pkt.dts = dts_seen[-1]
                pkt.pts = max(pkt.pts, pkt.dts) if pkt.pts is not None else pkt.dts
            dts_seen.append(pkt.dts if pkt.dts is not None else -1)
            pkt.stream = vout
            dst.mux(pkt)
    tmp.replace(path)


def sweep_clips() -> list[Clip]:
    """One clip per encodable codec not already in NAMED (first container that takes it)."""
    named = {c.encoder for c in NAMED}
    return [Clip(f"sweep_{n}", n, "") for n in encodable_video_codecs() if n not in named]


def write_sweep_clip(clip: Clip, folder: Path) -> Path | None:
    """Write a sweep clip in the first container and shape that the codec takes; None if none
    does (still-image formats no video container holds, encoders with other constraints)."""
    import av

    for w, h, rate in SWEEP_SHAPES:
        for ext, fmt in SWEEP_CONTAINERS:
            c = Clip(clip.name, clip.encoder, ext, fmt=fmt, width=w, height=h, rate=rate)
            try:
                p = write_clip(c, folder)
                with av.open(str(p)) as r:
                    if sum(1 for _ in r.decode(video=0)) >= 10:
                        return p
            except Exception:  # noqa: BLE001 -- this container/encoder pair cannot make a clip
                continue
    return None


def stream_times(path: Path) -> dict:
    """Decode every frame: video frame times, audio start/end, codecs, rotation."""
    import av

    with av.open(str(path)) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1, (path, c.streams)
        vs, aus = c.streams.video[0], c.streams.audio[0]
        vcodec, acodec = vs.codec_context.codec.canonical_name, aus.codec_context.codec.canonical_name
        vt, rot = [], 0
        for fr in c.decode(vs):
            vt.append(float(fr.time))
            rot = rot or int(round(float(getattr(fr, "rotation", 0) or 0)))
    with av.open(str(path)) as c:
        a0, chunks, rate = None, [], 0
        for fr in c.decode(audio=0):
            if a0 is None:
                a0 = float(fr.time)
            chunks.append(fr.to_ndarray().astype(np.float32).reshape(-1, fr.samples)[0])
            rate = fr.sample_rate
    x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    mid = x[x.size // 4: 3 * x.size // 4]
    return {"video_times_s": np.asarray(vt), "audio_start_s": a0, "audio_s": x.size / rate if rate else 0.0,
            "audio_rms_mid": float(np.sqrt(np.mean(mid.astype(np.float64) ** 2))) if mid.size else 0.0,
            "video_codec": vcodec, "audio_codec": acodec, "rotation_ccw": rot % 360}


def input_frame_times(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.asarray([float(f.time) for f in c.decode(video=0)])
