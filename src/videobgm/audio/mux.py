"""[8] Video + music -> a playable video: the video stream is copied packet for packet when the
output container can hold it, re-encoded otherwise; the music is AAC (Opus in WebM).

Copy or re-encode is decided before any work, from the input's video codec and the output
container alone (:func:`videobgm.audio.transcode.choose_streams`, a pure function;
:func:`~videobgm.audio.transcode.plan_output` reads the codec and checks the encoders exist). A stream
that cannot be copied (msmpeg4/WMV/GIF/ProRes/... into MP4, H.264 into WebM, ...) is
re-encoded by :class:`~videobgm.audio.transcode.VideoWriter`: H.264 (libx264, yuv420p, even frame
size) for .mp4/.m4v/.mov/.mkv, VP9 for .webm, every frame at its own timestamp (variable frame
rate included) and the display rotation kept. When a copy that the table allows is still refused
by the muxer (broken timestamps), the video is re-encoded instead and ``info["notes"]`` says so.
This module owns the encoding of the soundtrack (AAC/Opus, interleaving) and the file.

``MuxConfig.original_audio`` (replace / mix / duck the input's own sound) is applied by
:mod:`videobgm.audio.soundtrack`; when the input has no audio, ``mix``/``duck`` fall back to the
music alone (``info["notes"]`` says so). The output holds the input's first video stream (rotation metadata included) and the
new soundtrack; other streams (subtitles, extra audio, data) are not carried over. The output is
written under a temporary name beside the target and renamed into place only when complete; the
input is never overwritten (output == input is refused).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.audio.soundtrack import (
    StreamTrack,
    as_stereo,
    check_mode,
    decode_original_audio,
    fit_rows,
    mix_audio,
)
from videobgm.audio.transcode import (
    OPUS_RATE,
    REENCODE,
    MuxPlan,
    VideoWriter,
    choose_streams,
    plan_output,
)
from videobgm.config import MuxConfig
from videobgm.errors import InputError, OptionError
from videobgm.io import atomic_path, same_file

AAC_FRAME = 1024  # samples per AAC frame


def video_duration_s(path: str | os.PathLike[str]) -> float:
    """Duration of the first video stream in seconds (stream header, else container, else packets)."""
    import av

    with av.open(str(path)) as c:
        if not c.streams.video:
            raise InputError(f"no video stream in {Path(path).name}")
        s = c.streams.video[0]
        if s.duration and s.time_base:
            return float(s.duration * s.time_base)
        if c.duration:
            return float(c.duration) / 1e6
        end, start = 0.0, None
        for p in c.demux(s):
            if p.pts is None:
                continue
            t0 = float(p.pts * p.time_base)
            start = t0 if start is None else min(start, t0)
            end = max(end, t0 + float((p.duration or 0) * p.time_base))
        return end - (start or 0.0)


def _encode_until(stream: Any, out: Any, audio: np.ndarray, pos: int, target: int, pts0: int,
                  sr: int, final: bool) -> int:
    import av

    n = audio.shape[0]
    target = min(n, target)
    while pos < target:
        k = min(AAC_FRAME, n - pos)
        if k < AAC_FRAME and not final:
            break
        if not final and pos + k > target:
            break
        chunk = np.ascontiguousarray(audio[pos:pos + k].T)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = sr, pts0 + pos
        for p in stream.encode(frame):
            out.mux(p)
        pos += k
    return pos


def mux(
    video_path: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate: int,
    out_path: str | os.PathLike[str],
    cfg: MuxConfig,
    *,
    duration_s: float | None = None,
    progress: Callable[[float, float | None], None] | None = None,
) -> dict[str, Any]:
    """Write ``out_path``: the input's video stream (copied, or re-encoded when the container
    cannot hold it, see :func:`choose_streams`) plus the music.

    Parameters
    ----------
    video_path : path
        Input video.
    audio : ndarray, shape (n, 2) or (n,)
        The music, float in [-1, 1] at ``sample_rate``; cut or zero-padded to the video length.
    sample_rate : int
        Sample rate of ``audio`` in Hz (also the AAC rate; Opus is always 48 kHz).
    out_path : path
        Output file (.mp4, .m4v, .mov, .mkv or .webm); never the input.
    cfg : MuxConfig
        ``original_audio`` (replace/mix/duck), levels, audio bitrate, re-encoding quality.
    duration_s : float, optional
        Length of the soundtrack in seconds; default: the video stream's duration.
    progress : callable, optional
        ``progress(done_s, total_s)``.

    Returns
    -------
    dict
        ``{"output", "video_copied", "video_codec", "audio_codec", "original_audio",
        "duration_s", "sample_rate", "notes"}``.

    Raises
    ------
    OptionError
        Bad mode/level/bitrate, output equal to the input, unsupported output extension,
        missing encoder or unwritable directory.
    InputError
        Missing or unreadable input, no video stream, or no decodable frame to re-encode.
    """
    import av

    mode = check_mode(cfg)
    src, dst = Path(video_path), Path(out_path)
    if not src.is_file():
        raise InputError(f"video not found: {src}")
    if same_file(src, dst):
        raise OptionError(f"output path is the input video ({dst}); choose another output file")
    choose_streams("", dst.suffix)  # the extension first: a one-line refusal before reading
    sr = int(sample_rate)
    if not (8000 <= sr <= 192000):
        raise OptionError(f"sample rate must be 8000..192000 Hz, got {sample_rate}")
    from videobgm.audio.disk import is_disk

    disk = is_disk(audio)
    music = audio if disk else as_stereo(audio)
    plan = plan_output(src, dst)
    try:
        total = float(duration_s) if duration_s is not None else video_duration_s(src)
        with av.open(str(src)) as probe:
            if not probe.streams.video:
                raise InputError(f"no video stream in {src.name}; nothing to put the music on")
            vin = probe.streams.video[0]
            start = float(vin.start_time * vin.time_base) if vin.start_time is not None else 0.0
            has_audio = bool(probe.streams.audio)
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot read video {src.name}: {' '.join(str(exc).split())}") from None
    if plan is None:
        raise InputError(f"cannot read the video stream of {src.name}")
    n = int(round(total * sr))
    notes = []
    original = None
    if mode != "replace":
        if has_audio:
            original = decode_original_audio(src, sr, n, start)
        else:
            notes.append(f"input has no audio: '{mode}' falls back to the music alone")
    if disk and (mode == "replace" or original is None):
        track, applied = StreamTrack(music, n, cfg.music_level), "replace"
    else:
        track, applied = mix_audio(fit_rows(music.to_array() if disk else music, n), original, sr, cfg)
    job = _Job(src=src, track=track, sr=sr, n=n, start_s=start, total_s=total, cfg=cfg,
               progress=progress)
    if not plan.copy:
        notes.append(f"{plan.input_codec} video cannot be copied into {dst.suffix}: re-encoded "
                     f"with {plan.video}")
    try:
        _write(job, plan, dst)
    except _CopyRefused as exc:
        plan = MuxPlan(plan.container, plan.input_codec, REENCODE[plan.container], plan.audio)
        notes.append(f"stream copy refused by the {plan.container} muxer ({exc}): re-encoded "
                     f"with {plan.video}")
        _write(job, plan, dst)
    return {"output": str(dst), "video_copied": plan.copy, "video_codec": plan.input_codec
            if plan.copy else plan.video, "audio_codec": plan.audio, "original_audio": applied,
            "duration_s": n / sr, "sample_rate": sr, "notes": notes}


_WRITE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES)


class _CopyRefused(Exception):
    """The muxer refused the copied packets (e.g. non-monotonic timestamps): re-encode instead."""


@dataclass
class _Job:
    src: Path
    track: Any  # the final soundtrack (n, 2) at sr: an array or a StreamTrack
    sr: int
    n: int
    start_s: float  # the video stream's start time: audio sample 0 plays at this time
    total_s: float
    cfg: MuxConfig
    progress: Callable[[float, float | None], None] | None


def _write(job: _Job, plan: MuxPlan, dst: Path) -> None:
    import av

    with atomic_path(dst) as tmp:
        try:
            with av.open(str(job.src)) as inp, av.open(str(tmp), "w", format=plan.container) as out:
                video = VideoWriter(inp, out, plan, job.cfg, job.src.name)
                audio = _Audio(_add_audio(out, plan, job), out, job)
                video.run(lambda t_s: audio.until(t_s - job.start_s))
                audio.finish()
        except av.error.FFmpegError as exc:
            if getattr(exc, "errno", None) in _WRITE_ERRNOS:
                raise OptionError(f"cannot write {dst}: {exc.strerror or 'write error'}") from None
            reason = getattr(exc, "strerror", None) or " ".join(str(exc).split())
            if plan.copy:
                raise _CopyRefused(reason) from None
            raise InputError(f"cannot re-encode the video of {job.src.name} into {dst.suffix}: "
                             f"{reason}") from None


def _add_audio(out: Any, plan: MuxPlan, job: _Job) -> Any:
    aout = out.add_stream(plan.audio, rate=OPUS_RATE if plan.audio == "libopus" else job.sr)
    aout.layout = "stereo"
    aout.bit_rate = int(job.cfg.audio_bitrate)
    return aout


class _Audio:
    """Encodes the soundtrack in step with the video (interleaved by time)."""

    def __init__(self, stream: Any, out: Any, job: _Job) -> None:
        self.stream, self.out, self.job, self.pos = stream, out, job, 0
        self.pts0 = int(round(job.start_s * job.sr))

    def until(self, t_s: float) -> None:
        """Encode the music up to ``t_s`` (video time, 0 = the first frame) + 0.5 s."""
        j = self.job
        self.pos = _encode_until(self.stream, self.out, j.track, self.pos, int((t_s + 0.5) * j.sr),
                                 self.pts0, j.sr, False)
        if j.progress is not None:
            j.progress(min(j.total_s, max(0.0, t_s)), j.total_s)

    def finish(self) -> None:
        _encode_until(self.stream, self.out, self.job.track, self.pos, self.job.n, self.pts0,
                      self.job.sr, True)
        for p in self.stream.encode(None):
            self.out.mux(p)
