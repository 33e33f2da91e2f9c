"""Sound-side analysis of any soundtrack (ours or another system's): what a listener hears.

:func:`load_audio` decodes the first audio stream of any file PyAV reads (MP4/MKV/MOV with audio,
WAV, MP3, FLAC, ...); :func:`analyze_audio` turns it into :class:`AudioAnalysis` with librosa, the
standard MIR library (onset strength envelope, onsets, beat tracking, RMS, chroma), and
:func:`music_metrics` computes the music-only metrics:

* ``key_clarity`` -- the best Pearson correlation of the mean chroma with the 24 rotated
  Krumhansl-Kessler key profiles (Krumhansl 1990); in [-1, 1], higher = clearer key;
* ``ibi_cv`` -- coefficient of variation of the inter-beat intervals of librosa's beat tracker
  (Ellis 2007); lower = steadier tempo (0 = a metronome);
* ``loudness_lufs`` -- integrated loudness (ITU-R BS.1770-4 with gating) by pyloudnorm;
  ``true_peak_dbtp`` -- the peak of the 4x oversampled signal (BS.1770 Annex 2), in dBTP;
  ``dc_offset`` -- the largest per-channel mean, in full-scale units;
* ``band_share_*`` -- share of the spectral energy in five bands (sub < 60 Hz, low 60-250,
  mid 250-2000, high-mid 2000-6000, high >= 6000 Hz); sums to 1;
* ``onsets_per_s`` -- librosa onsets per second;
* ``si_short/mid/long`` -- MusDr-style structureness indicators (Wu & Yang 2020): the maximum
  fitness-scape value of the chroma self-similarity over segments of 3-8 s, 8-15 s, >= 15 s,
  only where the audio is at least :data:`MIN_STRUCTURE_S` long (NaN otherwise).

Every time is in seconds; undefined values are NaN, never an exception. Bad input (no audio
stream, a silent track, audio shorter than :data:`MIN_DURATION_S`) raises a one-line
:class:`~videobgm.errors.InputError`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.errors import InputError

NAN = float("nan")
ANALYSIS_SR = 22050  # librosa's default rate: every sound-side feature is computed at it
HOP = 256  # 11.6 ms frames at 22050 Hz (beat times to +-6 ms: a steady tempo reads steady)
MIN_DURATION_S = 1.0
SILENCE_DBFS = -60.0  # a track whose peak stays below this is "silent"
MIN_STRUCTURE_S = 30.0
STRUCTURE_RATE_HZ = 2.0
BANDS_HZ: tuple[tuple[str, float, float], ...] = (
    ("sub", 0.0, 60.0), ("low", 60.0, 250.0), ("mid", 250.0, 2000.0),
    ("highmid", 2000.0, 6000.0), ("high", 6000.0, math.inf),
)
# Krumhansl & Kessler (1982) probe-tone profiles, C first
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MUSIC_METRICS = ("key_clarity", "tempo_bpm", "ibi_cv", "loudness_lufs", "true_peak_dbtp",
                 "dc_offset", "onsets_per_s", "si_short", "si_mid", "si_long")


@dataclass
class AudioAnalysis:
    """A soundtrack, analysed. Frame series are at ``frame_times_s`` (hop ``HOP`` at ``sr``).

    Attributes
    ----------
    path : str
        The file.
    duration_s : float
        Length of the decoded audio.
    sr : int
        Analysis sample rate (``ANALYSIS_SR``).
    frame_times_s : ndarray (F,)
        Centre times of the analysis frames.
    onset_env : ndarray (F,)
        librosa onset strength envelope (spectral flux), >= 0.
    onset_times_s : ndarray (K,)
        librosa onsets.
    beat_times_s : ndarray (B,)
        librosa beat tracker output; ``tempo_bpm`` its global tempo.
    rms : ndarray (F,)
        Frame RMS of the mono mix, full-scale units.
    chroma : ndarray (12, F)
        librosa constant-Q chroma (unbiased across octaves: noise reads flat).
    native : ndarray (n, channels)
        The decoded audio at ``native_sr`` (for loudness and peaks).
    """

    path: str
    duration_s: float
    sr: int
    frame_times_s: np.ndarray
    onset_env: np.ndarray
    onset_times_s: np.ndarray
    beat_times_s: np.ndarray
    tempo_bpm: float
    rms: np.ndarray
    chroma: np.ndarray
    native: np.ndarray
    native_sr: int
    meta: dict[str, Any] = field(default_factory=dict)


def has_video_stream(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has a video stream (False for WAV/MP3/FLAC and unreadable files)."""
    import av

    try:
        with av.open(str(path)) as c:
            return any(s.type == "video" and s.codec_context is not None
                       and getattr(s.codec_context, "name", "") not in ("png", "mjpeg")
                       for s in c.streams.video)
    except (av.FFmpegError, OSError, ValueError):
        return False


def load_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """The first audio stream of ``path`` as float32 ``(n, channels)`` (1 or 2) at its own rate.

    In a file with a video stream, row 0 is the video's first frame (audio that starts later is
    padded with silence, audio that starts earlier is cut); in an audio-only file, row 0 is the
    first decoded sample (an MP3's start time is its encoder delay, already removed).

    Raises
    ------
    InputError
        Missing or unreadable file, no audio stream, undecodable audio, empty stream.
    """
    import av

    p = Path(path)
    if not p.is_file():
        raise InputError(f"input not found: {p}")
    try:
        c = av.open(str(p))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"not a readable audio or video file: {p} ({' '.join(str(exc).split())[:160]})") from None
    with c:
        if not c.streams.audio:
            raise InputError(f"no audio stream in {p.name} (nothing to judge)")
        st = c.streams.audio[0]
        sr = int(st.codec_context.sample_rate or st.rate or 0)
        if sr <= 0:
            raise InputError(f"audio stream of {p.name} has no sample rate")
        stereo = (st.codec_context.channels or 1) >= 2
        res = av.AudioResampler(format="fltp", layout="stereo" if stereo else "mono", rate=sr)
        video_t0 = None
        if c.streams.video:
            vs = c.streams.video[0]
            video_t0 = float(vs.start_time * vs.time_base) if vs.start_time is not None and vs.time_base else 0.0
        chunks: list[np.ndarray] = []
        t0 = None
        try:
            for frame in c.decode(st):
                if t0 is None:
                    t0 = float(frame.time) if frame.time is not None else 0.0
                chunks.extend(f.to_ndarray() for f in res.resample(frame))
            chunks.extend(f.to_ndarray() for f in res.resample(None))
        except av.FFmpegError as exc:
            raise InputError(f"undecodable audio in {p.name}: {' '.join(str(exc).split())[:160]}") from None
    if not chunks:
        raise InputError(f"empty audio stream in {p.name}")
    x = np.concatenate(chunks, axis=1).T.astype(np.float32)
    lead = int(round(((t0 or 0.0) - video_t0) * sr)) if video_t0 is not None else 0
    if lead > 0:
        x = np.concatenate([np.zeros((lead, x.shape[1]), np.float32), x])
    elif lead < 0:
        x = x[-lead:]
    return x, sr


def check_audio(x: np.ndarray, sr: int, name: str) -> None:
    """Refuse audio shorter than ``MIN_DURATION_S`` or silent (peak below ``SILENCE_DBFS``)."""
    dur = x.shape[0] / sr
    if dur < MIN_DURATION_S:
        raise InputError(f"audio of {name} is {dur:.2f} s long; at least {MIN_DURATION_S:g} s is needed")
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if not np.isfinite(peak):
        raise InputError(f"audio of {name} contains NaN or infinite samples")
    if peak < 10 ** (SILENCE_DBFS / 20):
        level = "digital silence" if peak == 0 else f"peak {20 * math.log10(peak):.1f} dBFS"
        raise InputError(f"silent audio track in {name} ({level}); nothing to judge")


def analyze_audio(path: str | os.PathLike[str], *, audio: tuple[np.ndarray, int] | None = None) -> AudioAnalysis:
    """Decode (unless ``audio=(samples, sr)`` is given), check and analyse a soundtrack."""
    import librosa

    x, native_sr = audio if audio is not None else load_audio(path)
    name = Path(path).name
    check_audio(x, native_sr, name)
    mono = x.mean(axis=1) if x.ndim == 2 else np.asarray(x, np.float32)
    y = librosa.resample(mono, orig_sr=native_sr, target_sr=ANALYSIS_SR) if native_sr != ANALYSIS_SR else mono
    y = np.ascontiguousarray(y, dtype=np.float32)
    sr = ANALYSIS_SR
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=HOP)
    times = librosa.times_like(env, sr=sr, hop_length=HOP)
    onsets = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=HOP, units="time")
    # trim=False: librosa 0.11 otherwise drops whole seconds of beats at the end of music whose
    # tempo changes (a planned tempo map), leaving cuts and visual beats there with no beat
    tempo, beats = librosa.beat.beat_track(onset_envelope=env, sr=sr, hop_length=HOP, units="time",
                                           trim=False)
    rms = librosa.feature.rms(y=y, hop_length=HOP)[0]
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=HOP)
    n = min(env.size, rms.size, chroma.shape[1])
    return AudioAnalysis(
        path=str(path), duration_s=x.shape[0] / native_sr, sr=sr, frame_times_s=times[:n],
        onset_env=env[:n].astype(float), onset_times_s=np.asarray(onsets, float),
        beat_times_s=np.asarray(beats, float), tempo_bpm=float(np.atleast_1d(tempo)[0]),
        rms=rms[:n].astype(float), chroma=chroma[:, :n].astype(float),
        native=x if x.ndim == 2 else x[:, None], native_sr=int(native_sr),
        meta={"analysis_sr": sr, "hop": HOP, "native_sr": int(native_sr), "channels": int(x.shape[1])},
    )


# ------------------------------------------------------------------------------------------------
# music-only metrics
# ------------------------------------------------------------------------------------------------
def key_clarity(chroma: np.ndarray) -> tuple[float, str]:
    """Best Krumhansl-Kessler correlation of the mean chroma (12, F) and the key it names."""
    m = np.asarray(chroma, float).mean(axis=1)
    if m.size != 12 or np.ptp(m) == 0:
        return NAN, ""
    best, key = -2.0, ""
    for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(m, np.roll(prof, tonic))[0, 1])
            if r > best:
                best, key = r, f"{PITCH_NAMES[tonic]} {mode}"
    return best, key


def ibi_cv(beat_times_s: np.ndarray) -> float:
    """Coefficient of variation of the inter-beat intervals (NaN with fewer than 3 beats)."""
    ibi = np.diff(np.asarray(beat_times_s, float))
    return float(ibi.std() / ibi.mean()) if ibi.size >= 2 and ibi.mean() > 0 else NAN


def loudness_lufs(x: np.ndarray, sr: int) -> float:
    """Integrated loudness (BS.1770-4, gated; pyloudnorm) of ``x`` (n, channels): the renderer's
    meter (:func:`videobgm.audio.meters.loudness_lufs`), NaN where it gives -inf (silent, or shorter
    than one gating block)."""
    from videobgm.audio.meters import loudness_lufs as meter

    v = meter(np.asarray(x, np.float64), sr)
    return v if np.isfinite(v) else NAN


def true_peak_dbtp(x: np.ndarray, sr: int) -> float:
    """Peak of the 4x oversampled signal in dBTP (BS.1770 Annex 2): the renderer's meter
    (:func:`videobgm.audio.meters.true_peak_dbtp`), chunked so memory does not grow with length."""
    from videobgm.audio.meters import true_peak_dbtp as meter

    return meter(np.asarray(x, np.float64), sr)


def band_shares(y: np.ndarray, sr: int) -> dict[str, float]:
    """Share of STFT power in each band of :data:`BANDS_HZ` (sums to 1)."""
    import librosa

    p = np.abs(librosa.stft(y, n_fft=4096, hop_length=2048)) ** 2
    f = librosa.fft_frequencies(sr=sr, n_fft=4096)
    e = p.sum(axis=1)
    tot = float(e.sum())
    return {f"band_share_{name}": (float(e[(f >= lo) & (f < hi)].sum() / tot) if tot > 0 else NAN)
            for name, lo, hi in BANDS_HZ}


def audio_structureness(chroma: np.ndarray, frame_times_s: np.ndarray,
                        *, rate_hz: float = STRUCTURE_RATE_HZ) -> dict[str, float]:
    """MusDr-style SI_short/mid/long of an audio chroma (12, F) at ``frame_times_s``: the chroma
    summed into ``rate_hz`` frames per second, rows L2-normalised, then the symbolic metrics'
    fitness scape (:func:`videobgm.eval.structure.chroma_structureness`)."""
    from videobgm.eval.structure import chroma_structureness

    t = np.asarray(frame_times_s, float)
    n = int(t[-1] * rate_hz) if t.size else 0
    idx = np.minimum((t * rate_hz).astype(int), max(n - 1, 0))
    ch = np.zeros((max(n, 0), 12))
    if n:
        np.add.at(ch, idx, np.asarray(chroma, float).T)
    norm = np.linalg.norm(ch, axis=1, keepdims=True)
    ch = np.divide(ch, norm, out=np.zeros_like(ch), where=norm > 0)
    return chroma_structureness(ch, rate_hz)


def music_metrics(a: AudioAnalysis, *, structure: bool = True) -> dict[str, Any]:
    """The music-only metrics of :data:`MUSIC_METRICS` (+ ``key``, band shares, counts)."""
    clarity, key = key_clarity(a.chroma)
    mono = a.native.mean(axis=1)
    out: dict[str, Any] = {
        "duration_s": float(a.duration_s),
        "key_clarity": clarity, "key": key,
        "tempo_bpm": float(a.tempo_bpm) if a.beat_times_s.size >= 2 else NAN,
        "ibi_cv": ibi_cv(a.beat_times_s),
        "loudness_lufs": loudness_lufs(a.native, a.native_sr),
        "true_peak_dbtp": true_peak_dbtp(a.native, a.native_sr),
        "dc_offset": float(np.max(np.abs(a.native.mean(axis=0)))),
        "onsets_per_s": float(a.onset_times_s.size / a.duration_s),
        "n_onsets": int(a.onset_times_s.size), "n_beats": int(a.beat_times_s.size),
    }
    out.update(band_shares(mono, a.native_sr))
    if structure and a.duration_s >= MIN_STRUCTURE_S:
        out.update(audio_structureness(a.chroma, a.frame_times_s))
    else:
        out.update(si_short=NAN, si_mid=NAN, si_long=NAN)
    return out
