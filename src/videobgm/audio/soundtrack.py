"""[8] The soundtrack: the music, and the input's own sound decoded and mixed or ducked under it.

``MuxConfig.original_audio`` says what happens to the input's own sound: ``replace`` (only the
music), ``mix`` (music x ``music_level`` + original x ``original_level``) or ``duck`` (like
``mix``, but the music is lowered to ``duck_level`` wherever the original is active, 50 ms attack,
400 ms release: the "auto-ducking" of video editors). Music on disk stays on disk when it plays
alone (:class:`StreamTrack`, read by slices). :mod:`videobgm.audio.mux` encodes the soundtrack
and writes the file.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from videobgm.config import MuxConfig
from videobgm.errors import OptionError

ORIGINAL_AUDIO_MODES = ("replace", "mix", "duck")


_ATTACK_S, _RELEASE_S, _HOP_S = 0.05, 0.4, 0.01


def check_mode(cfg: MuxConfig) -> str:
    """``cfg.original_audio`` in lower case, after checking it, the levels and the audio bitrate."""
    mode = str(cfg.original_audio).lower()
    if mode not in ORIGINAL_AUDIO_MODES:
        raise OptionError(f"unknown original-audio mode {cfg.original_audio!r}; accepted: "
                          f"{', '.join(ORIGINAL_AUDIO_MODES)}")
    for name in ("original_level", "music_level", "duck_level"):
        v = float(getattr(cfg, name))
        if not (math.isfinite(v) and 0 <= v <= 4):
            raise OptionError(f"{name.replace('_', ' ')} must be in [0, 4], got {v}")
    if not (16_000 <= int(cfg.audio_bitrate) <= 512_000):
        raise OptionError(f"audio bitrate must be 16000..512000 bit/s, got {cfg.audio_bitrate}")
    return mode


def fit_rows(x: np.ndarray, n: int) -> np.ndarray:
    """Cut or zero-pad ``x`` (k, 2) to exactly n rows."""
    if x.shape[0] >= n:
        return x[:n]
    return np.concatenate([x, np.zeros((n - x.shape[0], x.shape[1]), x.dtype)])


def as_stereo(audio: np.ndarray) -> np.ndarray:
    """The music as float32 (n, 2): mono duplicated, other shapes refused."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] not in (1, 2):
        raise OptionError(f"music must have shape (n,) or (n, 1|2), got {a.shape}")
    return np.repeat(a, 2, axis=1) if a.shape[1] == 1 else a


def decode_original_audio(path: str | os.PathLike[str], sample_rate: int, n_samples: int,
                          video_start_s: float = 0.0) -> np.ndarray | None:
    """The input's first audio track as float32 (n_samples, 2) at ``sample_rate``, aligned so that
    row 0 is the video's first frame; None when the file has no audio."""
    import av

    out = np.zeros((n_samples, 2), np.float32)
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        st = c.streams.audio[0]
        mono = st.codec_context.channels == 1  # duplicated at unit gain (not FFmpeg's -3 dB upmix)
        res = av.AudioResampler(format="fltp", layout="mono" if mono else "stereo",
                                rate=int(sample_rate))
        pos = None  # write position of the next resampled sample in ``out``

        def put(frames: list) -> None:  # noqa: ANN001
            nonlocal pos
            for f in frames:
                x = f.to_ndarray()  # (channels, k)
                a, b = pos, pos + x.shape[1]
                lo, hi = max(a, 0), min(b, n_samples)
                if hi > lo:
                    out[lo:hi] = x[:, lo - a:hi - a].T
                pos = b

        for frame in c.decode(st):
            if pos is None:
                t0 = float(frame.time) if frame.time is not None else 0.0
                pos = int(round((t0 - video_start_s) * sample_rate))
            put(res.resample(frame))
            if pos >= n_samples:
                break
        if pos is not None and pos < n_samples:
            put(res.resample(None))
    return out


def duck_gain(original: np.ndarray, sample_rate: int, *, duck_level: float,
              threshold_dbfs: float) -> np.ndarray:
    """Music gain per sample, shape (n,): 1 where the original is quiet, ``duck_level`` where it
    is active (short-term RMS over 10 ms hops above ``threshold_dbfs``), 50 ms attack, 400 ms release."""
    n = original.shape[0]
    hop = max(1, int(sample_rate * _HOP_S))
    m = n // hop
    if m == 0:
        return np.ones(n, np.float32)
    power = np.empty(m)
    for k in range(0, m, 1000):  # 10 s at a time: bounded temporaries for long videos
        blk = original[k * hop:min(m, k + 1000) * hop].astype(np.float64)
        power[k:k + blk.shape[0] // hop] = (blk**2).mean(axis=1).reshape(-1, hop).mean(axis=1)
    active = 10 * np.log10(power + 1e-12) > threshold_dbfs
    a_up = 1 - math.exp(-_HOP_S / _ATTACK_S)
    a_dn = 1 - math.exp(-_HOP_S / _RELEASE_S)
    env = np.empty(m)
    e = 0.0
    for i, on in enumerate(active):
        e += (a_up if on else a_dn) * ((1.0 if on else 0.0) - e)
        env[i] = e
    g = 1.0 - (1.0 - duck_level) * env
    centres = (np.arange(m) + 0.5) * hop
    return np.interp(np.arange(n), centres, g).astype(np.float32)


class StreamTrack:
    """The music-only soundtrack of music on disk (``videobgm.audio.disk.DiskAudio``), computed by
    slices: zero-padded to ``n`` rows, times ``level`` and the peak scale (as :func:`mix_audio`)."""

    def __init__(self, music: Any, n: int, level: float) -> None:
        self.music, self.level, self.shape = music, np.float32(level), (int(n), 2)
        m = min(n, music.shape[0])
        peak = 0.0
        for a in range(0, m, 1 << 20):
            peak = max(peak, float(np.max(np.abs(music[a:min(m, a + (1 << 20))] * self.level))))
        self.scale = np.float32(0.999 / peak) if peak > 0.999 else None

    def __getitem__(self, key: slice) -> np.ndarray:
        a, b, _ = key.indices(self.shape[0])
        x = self.music[a:min(b, self.music.shape[0])] * self.level
        if x.shape[0] < b - a:
            x = np.concatenate([x, np.zeros((b - a - x.shape[0], 2), np.float32)])
        return x * self.scale if self.scale is not None else x


def mix_audio(music: Any, original: np.ndarray | None, sample_rate: int,
              cfg: MuxConfig) -> tuple[Any, str]:
    """The final soundtrack (n, 2) for ``cfg.original_audio``; returns it and the mode applied.
    Music on disk (``videobgm.audio.disk.DiskAudio``) alone stays on disk (read by slices when encoded);
    mixed with the original audio it is read into memory."""
    from videobgm.audio.disk import is_disk

    mode = check_mode(cfg)
    if is_disk(music):
        if mode == "replace" or original is None:
            return StreamTrack(music, music.shape[0], cfg.music_level), "replace"
        music = music.to_array()
    out = np.array(music, dtype=np.float32)  # one working copy, then in place
    out *= np.float32(cfg.music_level)
    if mode == "replace" or original is None:
        applied = "replace"
    else:
        orig = fit_rows(original, music.shape[0])
        if mode == "duck":
            out *= duck_gain(orig, sample_rate, duck_level=float(cfg.duck_level),
                             threshold_dbfs=float(cfg.duck_threshold_dbfs))[:, None]
        out += orig * np.float32(cfg.original_level)
        applied = mode
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0.999:
        out *= np.float32(0.999 / peak)
    return out, applied
