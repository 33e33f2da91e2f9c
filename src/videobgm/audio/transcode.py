"""The output's video stream: copy it, or re-encode it when the output container cannot hold it.

:func:`choose_streams` is the decision, a pure function of the input's video codec and the output
suffix (a table: what each container holds as a plain stream copy that common players read);
:func:`plan_output` reads the input's codec and checks the needed encoders exist, so that the
pipeline can refuse up front, in one line, when no output is possible. :class:`VideoWriter`
writes the stream: packets copied as they are (decoding timestamps made strictly increasing), or
frames re-encoded to H.264 (VP9 for WebM), yuv420p, even sides, every frame at its own
timestamp (variable frame rate, GIF delays) and the input's display rotation kept.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from videobgm.config import MuxConfig
from videobgm.errors import InputError, OptionError

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
# Video codecs (FFmpeg's canonical names) that each container holds as a plain stream copy that
# common players read. Everything else is re-encoded with REENCODE[container].
COPYABLE = {
    "mp4": frozenset({"h264", "hevc", "av1", "vp9", "mpeg4"}),
    "mov": frozenset({"h264", "hevc", "mpeg4", "prores", "mjpeg"}),
    "matroska": frozenset({"h264", "hevc", "av1", "vp8", "vp9", "mpeg4", "mpeg1video", "mpeg2video",
                           "prores", "mjpeg", "ffv1", "theora"}),
    "webm": frozenset({"vp8", "vp9", "av1"}),
}
REENCODE = {"mp4": "libx264", "mov": "libx264", "matroska": "libx264", "webm": "libvpx-vp9"}
AUDIO_CODEC = {"mp4": "aac", "mov": "aac", "matroska": "aac", "webm": "libopus"}
OPUS_RATE = 48000  # libopus encodes at 48 kHz; the music is resampled by FFmpeg


@dataclass(frozen=True)
class MuxPlan:
    """How the output is made: the muxer, and per stream ``"copy"`` or the encoder used."""

    container: str  # FFmpeg muxer name (mp4, mov, matroska, webm)
    input_codec: str  # the input's video codec (FFmpeg canonical name)
    video: str  # "copy" or the video encoder (libx264, libvpx-vp9)
    audio: str  # the audio encoder (aac, libopus)

    @property
    def copy(self) -> bool:
        return self.video == "copy"


def choose_streams(input_codec: str, out_suffix: str) -> MuxPlan:
    """Copy or re-encode, from the input's video codec and the output suffix alone.

    Raises :class:`OptionError` for an output suffix that is not a supported container.
    """
    fmt = CONTAINERS.get(str(out_suffix).lower())
    if fmt is None:
        raise OptionError(f"unsupported output extension {out_suffix or '(none)'!r}; accepted: "
                          f"{', '.join(CONTAINERS)}")
    codec = str(input_codec).lower()
    video = "copy" if codec in COPYABLE[fmt] else REENCODE[fmt]
    return MuxPlan(container=fmt, input_codec=codec, video=video, audio=AUDIO_CODEC[fmt])


def _has_encoder(name: str) -> bool:
    import av

    try:
        return av.Codec(name, "w").is_encoder
    except (av.codec.codec.UnknownCodecError, ValueError):
        return False


def input_video_codec(path: str | os.PathLike[str]) -> str | None:
    """Canonical name of the first video stream's codec (``av1`` also when libdav1d decodes it);
    None when the file cannot be opened or has no video stream (analysis then says why)."""
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                return None
            ctx = c.streams.video[0].codec_context
            if ctx is None or ctx.codec is None:
                return None
            return str(ctx.codec.canonical_name)
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        return None


def plan_output(video_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> MuxPlan | None:
    """The :class:`MuxPlan` for muxing ``video_path`` into ``out_path``, checked before any work.

    Raises :class:`OptionError` (one line) when no output is possible: unsupported extension or a
    needed encoder missing from this FFmpeg build. Returns None when the input cannot be read
    (the video stage reports that, with its own message).
    """
    choose_streams("", Path(out_path).suffix)  # the extension first, before reading the input
    codec = input_video_codec(video_path)
    if codec is None:
        return None
    plan = choose_streams(codec, Path(out_path).suffix)
    for enc in ([] if plan.copy else [plan.video]) + [plan.audio]:
        if not _has_encoder(enc):
            raise OptionError(f"cannot write {Path(out_path).suffix} from {codec} video here: the "
                              f"bundled FFmpeg has no {enc} encoder; try an .mkv output")
    return plan


class VideoWriter:
    """Adds the output's video stream to ``out`` (first, before the audio) and writes it.

    ``run(on_time)`` calls ``on_time(t_s)`` with each packet's or frame's time in seconds (input
    time, before writing it) so that the caller can interleave the audio.
    """

    def __init__(self, inp: Any, out: Any, plan: MuxPlan, cfg: MuxConfig, name: str) -> None:
        self.inp, self.out, self.plan = inp, out, plan
        self.vin = inp.streams.video[0]
        if plan.copy:
            self.vout = out.add_stream_from_template(self.vin, opaque=True)  # libdav1d AV1 too
            self._frames: Iterator[Any] = iter(())
            return
        self._frames = _frames(inp, self.vin)
        first = next(self._frames, None)
        if first is None:
            raise InputError(f"no decodable video frame in {name} to re-encode")
        self._frames = itertools.chain([first], self._frames)
        self.vout = _video_encoder(out, plan, self.vin, first, cfg)

    def run(self, on_time: Callable[[float], None]) -> None:
        if self.plan.copy:
            self._copy(on_time)
        else:
            self._reencode(on_time)

    def _copy(self, on_time: Callable[[float], None]) -> None:
        last_dts = None
        for pkt in self.inp.demux(self.vin):
            if pkt.size == 0:
                continue
            if pkt.dts is not None:  # strictly increasing dts (duplicate timestamps in VFR files)
                if last_dts is not None and pkt.dts <= last_dts:
                    pkt.dts = last_dts + 1
                    if pkt.pts is not None and pkt.pts < pkt.dts:
                        pkt.pts = pkt.dts
                last_dts = pkt.dts
            t = pkt.dts if pkt.dts is not None else pkt.pts
            if t is not None:
                on_time(float(t * pkt.time_base))
            pkt.stream = self.vout
            self.out.mux(pkt)

    def _reencode(self, on_time: Callable[[float], None]) -> None:
        vout = self.vout
        tb = vout.codec_context.time_base
        step = max(1, int(round(1 / (float(vout.codec_context.framerate or 30) * float(tb)))))
        last = None
        for frame in self._frames:
            pts = frame.pts if frame.pts is not None else (0 if last is None else last + step)
            if frame.pts is not None and frame.time_base and frame.time_base != tb:
                pts = int(round(frame.pts * frame.time_base / tb))
            if last is not None and pts <= last:  # the encoder needs strictly increasing pts
                pts = last + 1
            last = pts
            f = frame.reformat(width=vout.width, height=vout.height, format="yuv420p")
            f.pts, f.time_base = pts, tb
            on_time(float(pts * tb))
            for p in vout.encode(f):
                self.out.mux(p)
        for p in vout.encode(None):
            self.out.mux(p)


def _frames(inp: Any, vin: Any) -> Iterator[Any]:
    """Decoded frames of ``vin``; packets the decoder rejects (damaged data) are skipped."""
    import av

    for pkt in inp.demux(vin):
        try:
            yield from pkt.decode()
        except av.error.InvalidDataError:
            continue


def _display_rotation_ccw(frame: Any, vin: Any) -> float:
    """Counter-clockwise display rotation of the input (display matrix, else ``rotate`` tag)."""
    try:
        tag = -float((vin.metadata or {}).get("rotate", 0)) % 360
    except ValueError:
        tag = 0.0
    return tag if tag else float(getattr(frame, "rotation", 0) or 0) % 360


def _video_encoder(out: Any, plan: MuxPlan, vin: Any, first: Any, cfg: MuxConfig) -> Any:
    rate = vin.average_rate or vin.guessed_rate or Fraction(30)
    vout = out.add_stream(plan.video, rate=rate)
    vout.width = max(2, first.width - first.width % 2)  # 4:2:0 needs even sides
    vout.height = max(2, first.height - first.height % 2)
    vout.pix_fmt = "yuv420p"
    tb = vin.time_base or Fraction(1, 1000)
    vout.codec_context.time_base = tb
    vout.time_base = tb
    sar = vin.sample_aspect_ratio
    if sar:
        vout.sample_aspect_ratio = sar
    if plan.video == "libx264":
        vout.options = {"crf": str(int(cfg.video_crf)), "preset": str(cfg.video_preset)}
    else:  # libvpx-vp9: constant quality, moderate speed
        vout.options = {"crf": "32", "b": "0", "deadline": "good", "cpu-used": "5", "row-mt": "1"}
    rot = _display_rotation_ccw(first, vin)
    if rot:
        vout.set_display_rotation(rot)
    return vout
