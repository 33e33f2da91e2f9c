"""[7b] Mixing and mastering: per-stem processing, reverb, bus compression, true-peak limiting and
loudness normalisation (pedalboard for the filters and the reverb; the measures, pyloudnorm's
loudness among them, are in :mod:`videobgm.audio.meters`).

Chain, in order (``master``):

1. per stem: DC removed (mean subtracted), high-passed (two first-order pedalboard high-passes,
   12 dB/octave: 28 Hz for bass and drums, 45 Hz for the other parts: rumble);
2. reverb: each stem sends ``send[track]`` of itself into its own copy of the style's reverb
   (room or hall, pedalboard's Freeverb, wet only) and gets the wet signal back; then it is
   gain-staged (:func:`stage_gains`: the melody on top, measured as heard, with the reverb) and
   panned (constant power); the mix is their sum;
3. a gentle bus compressor (RMS detector over 5 ms frames, 2.5:1 above the 65th percentile of
   the music's level, 10 ms attack, 250 ms release);
4. the fades (raised cosine, ``RenderConfig.fade_in_s`` / ``fade_out_s``);
5. loudness normalised to ``RenderConfig.target_lufs`` (ITU-R BS.1770-4 integrated, pyloudnorm),
   with a true-peak limiter (4x oversampled peak detection, 2.5 ms look-ahead, 50 ms hold) keeping
   the result at or under ``RenderConfig.true_peak_dbtp``; normalising and limiting are repeated
   until the loudness is within 0.1 LU of the target (or the limiter cannot give more).

Steps 3-5 are gains computed on the mix and applied to every stem alike, so the processed stems
add up to the mix. Without pedalboard the high-pass is SciPy's Butterworth
and there is no reverb (one note says so). Deterministic: same stems, same samples.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from videobgm.audio.meters import (
    ACCOMPANIMENT,
    CHUNK_S,
    active_frames,
    band_level_db,
    frame_power,
    loudness_lufs,
    true_peak_dbtp,
    true_peak_envelope,
)
from videobgm.audio.perform import StylePerformance
from videobgm.config import RenderConfig

# Freeverb settings of the two reverb kinds (pedalboard.Reverb arguments)
REVERBS: dict[str, dict[str, float]] = {
    "room": {"room_size": 0.38, "damping": 0.5, "width": 0.85},
    "hall": {"room_size": 0.82, "damping": 0.3, "width": 1.0},
}
HIGHPASS_HZ = {"bass": 28.0, "drums": 28.0}
HIGHPASS_DEFAULT_HZ = 45.0
LIMITER_LOOKAHEAD_S = 0.0025
LIMITER_HOLD_S = 0.05
COMP_RATIO = 2.5
COMP_PERCENTILE = 65.0
COMP_ATTACK_S = 0.01
COMP_RELEASE_S = 0.25
COMP_FRAME_S = 0.005
ACCOMPANIMENT_LU = -2.0  # accompaniment loudness under the melody before the in-band correction
ACCOMPANIMENT_MOVE_DB = (-6.0, 3.0)  # limits of the broadband correction
MAX_DIP_DB = -12.0  # deepest bell cut of the accompaniment in the melody band


def pedalboard_available() -> bool:
    return importlib.util.find_spec("pedalboard") is not None


def remove_dc(x: np.ndarray) -> None:
    """Subtract each channel's mean, in place."""
    x -= x.mean(axis=0, dtype=np.float64).astype(x.dtype)


def _run_in_place(fx, x: np.ndarray, sample_rate: int, *, scale: float = 1.0, add: bool = False) -> None:  # noqa: ANN001
    """Stream ``x`` (n, ch) through the pedalboard effect ``fx`` piece by piece (its state carried
    over, so the result is that of one pass): ``x = fx(scale * x)``, or ``x += fx(scale * x)``."""
    step = max(1, int(CHUNK_S * sample_rate))
    fx.reset()
    for a in range(0, x.shape[0], step):
        piece = np.ascontiguousarray(x[a:a + step].T, dtype=np.float32)
        if scale != 1.0:
            piece *= np.float32(scale)
        y = fx(piece, sample_rate, reset=False).T
        if add:
            x[a:a + step] += y
        else:
            x[a:a + step] = y


def highpass(x: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """12 dB/octave high-pass of ``x`` (n, ch), in place: pedalboard (two first-order stages) or
    SciPy's Butterworth. Returns ``x``."""
    if pedalboard_available():
        import pedalboard

        _run_in_place(pedalboard.Pedalboard([pedalboard.HighpassFilter(cutoff_hz),
                                             pedalboard.HighpassFilter(cutoff_hz)]), x, sample_rate)
        return x
    from scipy.signal import butter, sosfilt

    sos = butter(2, cutoff_hz, btype="highpass", fs=sample_rate, output="sos")
    x[:] = sosfilt(sos, x, axis=0)
    return x


def add_reverb(x: np.ndarray, sample_rate: int, kind: str, send: float) -> bool:
    """Add the wet signal of the ``kind`` reverb (:data:`REVERBS`) fed with ``send * x`` to ``x``
    (n, 2), in place; False (nothing done) without pedalboard."""
    if not pedalboard_available():
        return False
    import pedalboard

    fx = pedalboard.Reverb(wet_level=1.0, dry_level=0.0, **REVERBS.get(kind, REVERBS["room"]))
    _run_in_place(fx, x, sample_rate, scale=send, add=True)
    return True


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power (left, right) gains for ``pan`` in [-1, 1], unity at the centre."""
    theta = (float(np.clip(pan, -1.0, 1.0)) + 1.0) * math.pi / 4
    return math.sqrt(2) * math.cos(theta), math.sqrt(2) * math.sin(theta)


# ----------------------------------------------------------------------------------------------
# gain staging (the melody on top) and the measures the bench reports
# ----------------------------------------------------------------------------------------------
def peak_eq(x: np.ndarray, sample_rate: int, centre_hz: float, q: float, gain_db: float) -> np.ndarray:
    """Bell EQ of ``x`` (n, ch), in place (returns ``x``): pedalboard's PeakFilter, or the same
    RBJ biquad with SciPy."""
    if pedalboard_available():
        import pedalboard

        _run_in_place(pedalboard.PeakFilter(cutoff_frequency_hz=centre_hz, gain_db=gain_db, q=q), x, sample_rate)
        return x
    from scipy.signal import sosfilt

    x[:] = sosfilt(peak_sos(sample_rate, centre_hz, q, gain_db), x, axis=0)
    return x


def peak_sos(sample_rate: int, centre_hz: float, q: float, gain_db: float) -> np.ndarray:
    """The RBJ bell biquad as one SciPy second-order section (1, 6)."""
    a_ = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * centre_hz / sample_rate
    alpha = math.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a_, -2 * math.cos(w0), 1 - alpha * a_])
    a = np.array([1 + alpha / a_, -2 * math.cos(w0), 1 - alpha / a_])
    return np.concatenate([b / a[0], a / a[0]])[None, :]


@dataclass(frozen=True)
class Staging:
    """Gain per stem (dB) and the bell EQ cut (centre Hz, Q, dB) given to the accompaniment."""

    gains_db: dict[str, float]
    dip: tuple[float, float, float] | None = None


def stage_gains(stems: dict[str, np.ndarray], sample_rate: int, settings: StylePerformance,
                band_hz: tuple[float, float] | None) -> Staging:
    """The melody on top.

    Bridge and piano get equal loudness, together :data:`ACCOMPANIMENT_LU` under the melody. Where
    they still cover the melody in its band (measured while it plays), a bell cut over that band
    (at most :data:`MAX_DIP_DB`) and then a broadband move (:data:`ACCOMPANIMENT_MOVE_DB`) put the
    melody ``settings.melody_over_accompaniment_db`` above them there. Bass and drums sit at
    ``settings.bass_lu`` / ``drums_lu`` from the melody's loudness. Without a melody: 0 dB.
    """
    gains = {t: 0.0 for t in stems}
    if "melody" not in stems or band_hz is None:
        return Staging(gains)
    loud = {t: loudness_lufs(x, sample_rate) for t, x in stems.items()}
    mel_l = loud["melody"]
    if not math.isfinite(mel_l):
        return Staging(gains)
    dip = None
    acc = [t for t in ACCOMPANIMENT if t in stems and math.isfinite(loud[t])]
    if acc:
        for t in acc:
            gains[t] = mel_l + ACCOMPANIMENT_LU - loud[t] - 10 * math.log10(len(acc))
        hop = 1024
        frames = active_frames(stems["melody"], hop)
        mel_band = band_level_db(stems["melody"], sample_rate, band_hz, frames, hop)
        group = sum(stems[t] * np.float32(10 ** (gains[t] / 20)) for t in acc)
        need = mel_band - band_level_db(group, sample_rate, band_hz, frames, hop) - settings.melody_over_accompaniment_db
        if math.isfinite(need) and need < 0:
            lo, hi = max(20.0, band_hz[0]), min(0.45 * sample_rate, band_hz[1])
            centre = math.sqrt(lo * hi)
            dip = (centre, float(np.clip(centre / (hi - lo), 0.3, 4.0)), max(need, MAX_DIP_DB))
            need = mel_band - band_level_db(peak_eq(group, sample_rate, *dip), sample_rate, band_hz,
                                            frames, hop) - settings.melody_over_accompaniment_db
        if math.isfinite(need):
            move = float(np.clip(need, *ACCOMPANIMENT_MOVE_DB))
            for t in acc:
                gains[t] += move
    for t, target in (("bass", settings.bass_lu), ("drums", settings.drums_lu)):
        if t in stems and math.isfinite(loud[t]):
            gains[t] = mel_l + target - loud[t]
    return Staging(gains, dip)


# ----------------------------------------------------------------------------------------------
# bus gains: compressor, fades, limiter
# ----------------------------------------------------------------------------------------------
def compressor_frames(p: np.ndarray, hop: int) -> tuple[tuple[np.ndarray, np.ndarray] | None, float]:
    """The bus compressor on frame powers ``p`` (frames of ``hop`` samples): (frame centres in
    samples, gain in dB per frame), or None when there is nothing to compress, and the largest
    gain reduction in dB."""
    if p.size < 2 or not np.any(p > 0):
        return None, 0.0
    from scipy.signal import lfilter

    a = math.exp(-1.0 / (0.05 / COMP_FRAME_S))  # 50 ms RMS detector
    level = 10 * np.log10(lfilter([1 - a], [1, -a], p) + 1e-12)
    loud = level[p > np.percentile(p, 95) * 1e-4]
    thr = float(np.percentile(loud if loud.size else level, COMP_PERCENTILE))
    target = -np.maximum(0.0, level - thr) * (1 - 1 / COMP_RATIO)
    att = math.exp(-COMP_FRAME_S / COMP_ATTACK_S)
    rel = math.exp(-COMP_FRAME_S / COMP_RELEASE_S)
    g = np.empty_like(target)
    cur = 0.0
    for a in range(0, target.size, 1 << 16):  # in blocks: no list of a float per frame (memory)
        block = target[a:a + (1 << 16)].tolist()
        for i, t in enumerate(block):
            k = att if t < cur else rel
            cur = k * cur + (1 - k) * t
            block[i] = cur
        g[a:a + len(block)] = block
    centres = (np.arange(g.size) + 0.5) * hop
    return (centres, g), float(-g.min())


def compressor_gain(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Per-sample linear gain (n,) of the gentle bus compressor for ``x`` (n, ch), and its
    largest gain reduction in dB."""
    n = x.shape[0]
    hop = max(1, int(round(COMP_FRAME_S * sample_rate)))
    frames, max_db = compressor_frames(frame_power(x, hop), hop)
    if frames is None:
        return np.ones(n, dtype=np.float32), 0.0
    centres, g = frames
    gain = np.interp(np.arange(n, dtype=np.float32), centres, g).astype(np.float32)
    gain *= np.float32(math.log(10) / 20)
    np.exp(gain, out=gain)
    return gain, max_db


def limiter_gain(x: np.ndarray, sample_rate: int, ceiling: float, *,
                 envelope: np.ndarray | None = None) -> np.ndarray:
    """Per-sample gain (n,) <= 1 that keeps the true peak of ``x * gain`` at ``ceiling`` (linear):
    the required gain is min-filtered over the look-ahead (plus a hold) and smoothed by a box of
    the look-ahead's length, so the gain is down before each peak arrives."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    tp = true_peak_envelope(x, sample_rate, floor=ceiling) if envelope is None else envelope
    req = np.minimum(np.float32(1.0), np.float32(ceiling) / np.maximum(tp, np.float32(1e-12)), dtype=np.float32)
    if req.min() >= 1.0:
        return np.ones(x.shape[0], dtype=np.float32)
    h = max(1, int(round(LIMITER_LOOKAHEAD_S * sample_rate)))
    r = 2 * max(1, int(round(LIMITER_HOLD_S * sample_rate / 2)))
    del tp
    cm = minimum_filter1d(req, 2 * h + 1 + r, mode="nearest")
    del req
    m = np.concatenate([np.full(r // 2, cm[0], dtype=np.float32), cm[: cm.size - r // 2]])
    del cm
    return uniform_filter1d(m, 2 * h + 1, mode="nearest")


def apply_fades(x: np.ndarray, sr: int, fade_in_s: float, fade_out_s: float) -> None:
    """Raised-cosine fade-in/out applied in place to the edges of ``x`` (n, channels)."""
    n = x.shape[0]
    fi = min(n // 2, int(round(fade_in_s * sr)))
    fo = min(n // 2, int(round(fade_out_s * sr)))
    if fi > 0:
        x[:fi] *= (0.5 - 0.5 * np.cos(np.pi * np.arange(fi) / fi)).astype(x.dtype)[:, None]
    if fo > 0:
        x[n - fo:] *= (0.5 + 0.5 * np.cos(np.pi * (np.arange(fo) + 1) / fo)).astype(x.dtype)[:, None]


def fade_envelope(n: int, sr: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    env = np.ones((n, 1), dtype=np.float32)
    apply_fades(env, sr, fade_in_s, fade_out_s)
    return env[:, 0]


def normalise(x: np.ndarray, sample_rate: int, target_lufs: float, ceiling_dbtp: float,
              *, max_rounds: int = 4) -> tuple[np.ndarray, dict[str, float]]:
    """Per-sample gain (n,) bringing ``x`` to ``target_lufs`` with the true peak at most
    ``ceiling_dbtp``, and a report (loudness, true peak, largest limiting in dB)."""
    n = x.shape[0]
    lufs = loudness_lufs(x, sample_rate)
    if not math.isfinite(lufs):
        return np.ones(n, dtype=np.float32), {"loudness_lufs": lufs, "true_peak_dbtp": true_peak_dbtp(x, sample_rate),
                                              "limiter_max_db": 0.0}
    ceiling = 10 ** ((ceiling_dbtp - 0.05) / 20)  # margin for the gain's own interpolation
    g0 = 10 ** ((target_lufs - lufs) / 20)
    env = true_peak_envelope(x, sample_rate)  # of x * g0 it is g0 * env
    for _ in range(max_rounds):
        lim = limiter_gain(x, sample_rate, ceiling, envelope=env * np.float32(g0))
        gain = lim * np.float32(g0)
        out = loudness_lufs(x * gain[:, None], sample_rate)
        err = target_lufs - out
        if abs(err) < 0.1 or not math.isfinite(out):
            break
        g0 *= 10 ** (err / 20)
    # check: the gain is smooth, so the result's true peak is about gain * env; oversample again
    # only where that comes within 0.5 dB of the ceiling
    near = gain * env > 10 ** ((ceiling_dbtp - 0.5) / 20)
    y = x * gain[:, None]
    tp_env = true_peak_envelope(y, sample_rate, need=near)
    tp = 20 * math.log10(max(1e-12, float(tp_env.max())))
    if tp > ceiling_dbtp:  # the last hundredths of a dB, by a constant trim
        gain = gain * np.float32(10 ** ((ceiling_dbtp - 0.01 - tp) / 20))
    return gain, {"loudness_lufs": out, "limiter_max_db": float(-20 * math.log10(max(1e-12, lim.min())))}


# ----------------------------------------------------------------------------------------------
# the chain
# ----------------------------------------------------------------------------------------------
@dataclass
class Mastered:
    """The mastered mix (n, 2) float32, the processed stems (track -> (n, 2), summing to the
    mix) when asked for, and a report of what the chain did."""

    mix: np.ndarray
    stems: dict[str, np.ndarray] | None
    report: dict[str, Any] = field(default_factory=dict)


def master(stems: dict[str, np.ndarray], sample_rate: int, cfg: RenderConfig,
           settings: StylePerformance, *, band_hz: tuple[float, float] | None = None,
           keep_stems: bool = False) -> Mastered:
    """Mix and master ``stems`` (track -> raw synthesised (n, 2) float32, all the same length).

    ``stems`` is emptied (its arrays are processed in place). See the module docstring.
    """
    sr = int(sample_rate)
    names = list(stems)
    n = next(iter(stems.values())).shape[0] if stems else 0
    report: dict[str, Any] = {"reverb": settings.reverb if pedalboard_available() else None}
    if not names or n == 0:
        return Mastered(np.zeros((n, 2), np.float32), {} if keep_stems else None, report)
    parts: dict[str, np.ndarray] = {}  # each stem: dry (high-passed) + its reverb send's wet
    for t in names:
        part = stems.pop(t)  # processed in place (memory)
        remove_dc(part)
        highpass(part, sr, HIGHPASS_HZ.get(t, HIGHPASS_DEFAULT_HZ))
        send = float(settings.send.get(t, 0.0))
        if send > 0:
            add_reverb(part, sr, settings.reverb, send)
        parts[t] = part
    staging = stage_gains(parts, sr, settings, band_hz)  # with the reverb, as heard
    gains = staging.gains_db
    report["gains_db"] = {t: round(g, 2) for t, g in gains.items()}
    if staging.dip is not None:
        report["accompaniment_dip"] = [round(v, 2) for v in staging.dip]
        for t in ACCOMPANIMENT:
            if t in parts:
                parts[t] = peak_eq(parts[t], sr, *staging.dip)
    mix = np.zeros((n, 2), np.float32)
    for t in names:
        left, right = pan_gains(settings.pan.get(t, 0.0))
        g = 10 ** (gains[t] / 20)
        parts[t] *= np.array([g * left, g * right], dtype=np.float32)
        mix += parts[t]
    comp, comp_db = compressor_gain(mix, sr)
    bus = comp * fade_envelope(n, sr, cfg.fade_in_s, cfg.fade_out_s)
    gain, rep = normalise(mix * bus[:, None], sr, float(cfg.target_lufs), float(cfg.true_peak_dbtp))
    total = (bus * gain).astype(np.float32)[:, None]
    report.update(rep, compressor_max_db=round(comp_db, 2))
    out_stems = None
    if keep_stems:
        for t in names:
            parts[t] *= total
        out_stems = parts
    mix *= total
    return Mastered(mix, out_stems, report)
