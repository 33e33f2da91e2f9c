"""Audio measures used by the mastering chain and the audio bench: integrated loudness (ITU-R
BS.1770-4 with pyloudnorm), true peak (4x oversampled), band levels while a part plays, the
melody-over-accompaniment level, octave-band energy shares and stereo width.

Plain NumPy/SciPy functions over (n,) or (n, channels) float arrays; memory stays bounded
(oversampling and band filters run chunk by chunk).
"""

from __future__ import annotations

import math

import numpy as np

from videobgm.errors import MissingDependencyError

MAX_OVERSHOOT = 2.0  # inter-sample peaks of music stay well under +6 dB over the sample peak
OVERSAMPLE = 4  # true-peak detection (ITU-R BS.1770-4 annex 2 uses 4x at 48 kHz)
CHUNK_S = 10.0  # band filters run over the audio in pieces of this length (memory)
ACCOMPANIMENT = ("bridge", "piano")


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4, gated; pyloudnorm) of ``audio`` (n,) or (n, ch) in
    LUFS; -inf when silent or shorter than one 400 ms block."""
    try:
        import pyloudnorm
    except ImportError:  # pragma: no cover - a core dependency
        raise MissingDependencyError("pyloudnorm (the loudness meter)", "pip install pyloudnorm") from None
    x = np.asarray(audio)
    x = x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)
    if x.size == 0 or x.shape[0] < int(0.4 * sample_rate) + 1 or not np.any(x):
        return -math.inf
    with np.errstate(divide="ignore"):
        value = float(pyloudnorm.Meter(int(sample_rate)).integrated_loudness(x))
    return value if math.isfinite(value) else -math.inf


def _oversampled_chunks(x: np.ndarray, factor: int, chunk: int = 1 << 15, floor: float = 0.0,  # noqa: ANN202
                        need: np.ndarray | None = None):
    """Yield (start, oversampled chunk (m * factor, ch)) with 64 samples of context each side,
    for the chunks whose sample peak is at least ``floor / MAX_OVERSHOOT`` and that hold a
    ``need`` sample (when given)."""
    from scipy.signal import resample_poly

    pad = 64
    n = x.shape[0]
    for start in range(0, n, chunk):
        a, b = max(0, start - pad), min(n, start + chunk + pad)
        if floor > 0 and float(np.abs(x[a:b]).max()) * MAX_OVERSHOOT < floor:
            continue
        if need is not None and not need[a:b].any():
            continue
        y = resample_poly(x[a:b], factor, 1, axis=0)
        lo = (start - a) * factor
        yield start, y[lo: lo + (min(n, start + chunk) - start) * factor]


def true_peak_envelope(audio: np.ndarray, sample_rate: int, *, factor: int = OVERSAMPLE,
                       floor: float = 0.0, need: np.ndarray | None = None) -> np.ndarray:
    """Per sample, the largest |value| of the ``factor``-times oversampled signal (all channels)
    between this sample and the next; shape (n,). Chunks whose sample peak is under ``floor`` /
    :data:`MAX_OVERSHOOT` are not oversampled (their true peak cannot reach ``floor``), nor, when
    ``need`` (bool, (n,)) is given, chunks without a ``need`` sample."""
    x = np.asarray(audio)
    if x.ndim == 1:
        x = x[:, None]
    out = np.abs(x).max(axis=1).astype(np.float32)
    for start, y in _oversampled_chunks(x, factor, floor=floor, need=need):
        m = y.shape[0] // factor
        out[start:start + m] = np.maximum(out[start:start + m],
                                          np.abs(y[: m * factor]).reshape(m, factor, -1).max(axis=(1, 2)))
    return out


def true_peak_dbtp(audio: np.ndarray, sample_rate: int, *, floor_dbtp: float | None = None) -> float:
    """True peak in dBTP (4x oversampling); -inf for silence. With ``floor_dbtp`` only the
    parts that could reach it are oversampled (exact when the true peak is above it)."""
    if np.asarray(audio).size == 0:
        return -math.inf
    floor = 0.0 if floor_dbtp is None else 10 ** (floor_dbtp / 20)
    peak = float(true_peak_envelope(audio, sample_rate, floor=floor).max())
    return 20 * math.log10(peak) if peak > 0 else -math.inf


# ----------------------------------------------------------------------------------------------
# per-stem processing
# ----------------------------------------------------------------------------------------------
def midi_hz(pitch: float) -> float:
    return 440.0 * 2 ** ((float(pitch) - 69) / 12)


def melody_band_hz(pitches: list[int] | np.ndarray) -> tuple[float, float] | None:
    """The melody's band: from a half-octave under its lowest fundamental to 1.5 octaves over its
    highest (fundamentals and second harmonics); None without notes."""
    p = np.asarray(pitches)
    if p.size == 0:
        return None
    return midi_hz(p.min()) / math.sqrt(2), midi_hz(p.max()) * 2 * math.sqrt(2)


def _mono(x: np.ndarray) -> np.ndarray:
    return (x[:, 0] + x[:, 1]) * 0.5 if x.ndim == 2 and x.shape[1] == 2 else (x.mean(axis=1) if x.ndim == 2 else x)


def frame_power(x: np.ndarray, hop: int) -> np.ndarray:
    """Mean power per frame of ``hop`` samples, averaged over the channels (as BS.1770 sums
    channel powers: a wide stereo part is not measured quieter than a centred one)."""
    x = np.asarray(x)
    chans = [x] if x.ndim == 1 else [x[:, c] for c in range(x.shape[1])]
    k = x.shape[0] // hop
    total = np.zeros(k)
    for c in chans:
        m = c[: k * hop].astype(np.float64).reshape(k, hop)
        total += np.einsum("ij,ij->i", m, m)
    return total / (hop * len(chans))


def active_frames(x: np.ndarray, hop: int, *, floor_db: float = -40.0) -> np.ndarray:
    """Frames where ``x`` plays: power within ``floor_db`` of its 95th percentile."""
    return active_from_power(frame_power(x, hop), floor_db=floor_db)


def active_from_power(p: np.ndarray, *, floor_db: float = -40.0) -> np.ndarray:
    """:func:`active_frames` from the frame powers ``p``."""
    if p.size == 0 or not np.any(p > 0):
        return np.zeros(p.shape, dtype=bool)
    return p > np.percentile(p, 95) * 10 ** (floor_db / 10)


def band_level_db(x: np.ndarray, sample_rate: int, band_hz: tuple[float, float],
                  frames: np.ndarray, hop: int) -> float:
    """Mean power (dB, channels averaged) of ``x`` band-passed to ``band_hz`` over the
    ``frames`` (bool mask)."""
    from scipy.signal import butter, sosfilt

    lo, hi = max(20.0, band_hz[0]), min(0.45 * sample_rate, band_hz[1])
    sos = butter(2, [lo, hi], btype="bandpass", fs=sample_rate, output="sos")
    x = np.asarray(x)
    x = x[:, None] if x.ndim == 1 else x
    zi = np.zeros((sos.shape[0], 2, x.shape[1]))
    step = hop * max(1, int(CHUNK_S * sample_rate) // hop)
    parts = []
    for a in range(0, x.shape[0], step):
        y, zi = sosfilt(sos, x[a:a + step].astype(np.float64), axis=0, zi=zi)
        parts.append(frame_power(y, hop))
    p = np.concatenate(parts) if parts else np.zeros(0)
    k = min(p.size, frames.size)
    sel = p[:k][frames[:k]]
    return 10 * math.log10(float(sel.mean()) + 1e-20) if sel.size else -math.inf


def melody_over_accompaniment_db(stems: dict[str, np.ndarray], sample_rate: int,
                                 band_hz: tuple[float, float] | None) -> float:
    """Melody level minus accompaniment (bridge + piano) level in the melody's band, while the
    melody plays, in dB; NaN when either is missing."""
    mel = stems.get("melody")
    acc = [stems[t] for t in ACCOMPANIMENT if t in stems]
    if mel is None or not acc or band_hz is None:
        return float("nan")
    hop = 1024
    frames = active_frames(mel, hop)
    a = band_level_db(sum(acc), sample_rate, band_hz, frames, hop)
    m = band_level_db(mel, sample_rate, band_hz, frames, hop)
    return m - a if math.isfinite(a) and math.isfinite(m) else float("nan")


def octave_band_shares(audio: np.ndarray, sample_rate: int,
                       centres_hz: tuple[float, ...] = (63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)) -> dict[int, float]:
    """Share of the energy in each octave band (centre frequency -> fraction; the rest, under
    44 Hz, is left out), from the power spectrum of the mono mix."""
    m = _mono(np.asarray(audio, dtype=np.float64))
    spec = np.abs(np.fft.rfft(m)) ** 2
    f = np.fft.rfftfreq(m.shape[0], 1.0 / sample_rate)
    total = float(spec.sum()) or 1.0
    return {int(c): float(spec[(f >= c / math.sqrt(2)) & (f < c * math.sqrt(2))].sum()) / total
            for c in centres_hz}


def side_mid_ratio(audio: np.ndarray) -> float:
    """Stereo width: energy of (L - R) / 2 over energy of (L + R) / 2 (0 = mono)."""
    x = np.asarray(audio, dtype=np.float64)
    mid, side = (x[:, 0] + x[:, 1]) / 2, (x[:, 0] - x[:, 1]) / 2
    e = float(np.sum(mid ** 2))
    return float(np.sum(side ** 2)) / e if e > 0 else 0.0
