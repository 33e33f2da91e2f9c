"""[7] Signal processing with state carried from chunk to chunk, for the streamed mastering.

Meters fed a chunk at a time (:class:`LoudnessMeter`, integrated loudness equal to pyloudnorm's on
the whole signal; :class:`FramePower`, :class:`BandPower`) and effects that run on consecutive
chunks with their filter state carried (high-pass, reverb, peak EQ): the stateful twins of
:mod:`videobgm.audio.meters` and :mod:`videobgm.audio.master`, used by
:mod:`videobgm.audio.stream`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np


class LoudnessMeter:
    """Integrated loudness (ITU-R BS.1770-4) of a signal fed in chunks: pyloudnorm's K-weighting
    filters (its own coefficients) run with their state carried over, and the 400 ms / 75 %
    overlap gating blocks (pyloudnorm's bounds) are summed from running energies. Equal to
    ``pyloudnorm.Meter(sr).integrated_loudness`` of the whole signal up to float rounding."""

    def __init__(self, sample_rate: int, n_samples: int, channels: int = 2) -> None:
        import pyloudnorm

        meter = pyloudnorm.Meter(int(sample_rate))
        self.sr, self.n, self.ch = int(sample_rate), int(n_samples), channels
        self.stages = [(np.asarray(f.b, float), np.asarray(f.a, float), float(f.passband_gain))
                       for f in meter._filters.values()]  # noqa: SLF001 - pyloudnorm's own filters
        self.zi = [np.zeros((max(len(a), len(b)) - 1, channels)) for b, a, _ in self.stages]
        t_g, step = meter.block_size, 1.0 - meter.overlap
        self.t_g = t_g
        nb = int(np.round((self.n / self.sr - t_g) / (t_g * step))) + 1 if self.n else 0
        j = np.arange(max(0, nb))
        self.lo = (t_g * (j * step) * self.sr).astype(np.int64)
        self.hi = np.minimum((t_g * (j * step + 1) * self.sr).astype(np.int64), self.n)
        self.bounds = np.unique(np.concatenate([self.lo, self.hi]))
        self.energy = np.zeros((self.bounds.size, channels))  # sum of squares before each bound
        self.pos, self.acc, self.nonzero = 0, np.zeros(channels), False

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x)
        x = x[:, None] if x.ndim == 1 else x
        k = x.shape[0]
        if k == 0:
            return
        self.nonzero = self.nonzero or bool(np.any(x))
        dt = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        y = x.astype(dt)
        from scipy.signal import lfilter

        for i, (b, a, g) in enumerate(self.stages):
            out, self.zi[i] = lfilter(b, a, y, axis=0, zi=self.zi[i])
            y = (g * out).astype(dt)
        cs = np.cumsum(np.square(y.astype(np.float64)), axis=0)
        i0, i1 = np.searchsorted(self.bounds, [self.pos, self.pos + k], side="left")
        sel = self.bounds[i0:i1]  # bounds p with pos <= p < pos + k: energy before sample p
        if sel.size:
            idx = sel - self.pos - 1
            before = np.where(idx[:, None] >= 0, cs[np.maximum(idx, 0)], 0.0)
            self.energy[i0:i1] = self.acc + before
        self.acc = self.acc + cs[-1]
        self.pos += k
        if self.pos >= self.n:
            j = np.searchsorted(self.bounds, self.pos, side="left")
            self.energy[j:] = self.acc

    def lufs(self) -> float:
        if self.n < int(0.4 * self.sr) + 1 or not self.nonzero or self.lo.size == 0:
            return -math.inf
        e_lo = self.energy[np.searchsorted(self.bounds, self.lo)]
        e_hi = self.energy[np.searchsorted(self.bounds, self.hi)]
        z = (e_hi - e_lo).T / (self.t_g * self.sr)  # (channels, blocks)
        g = np.array([1.0, 1.0, 1.0, 1.41, 1.41])[: self.ch, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            lj = -0.691 + 10.0 * np.log10(np.sum(g * z, axis=0))
            gate = lj >= -70.0
            z_avg = z[:, gate].mean(axis=1) if gate.any() else np.full(self.ch, np.nan)
            gamma_r = -0.691 + 10.0 * np.log10(np.sum(g[:, 0] * z_avg)) - 10.0
            gate = (lj > gamma_r) & (lj > -70.0)
            z_avg = np.nan_to_num(z[:, gate].mean(axis=1) if gate.any() else np.full(self.ch, np.nan))
            value = float(-0.691 + 10.0 * np.log10(np.sum(g[:, 0] * z_avg)))
        return value if math.isfinite(value) else -math.inf


def stream_lufs(chunks: Iterator[np.ndarray], sample_rate: int, n_samples: int, channels: int = 2) -> float:
    """Integrated loudness of a signal given as consecutive chunks (see :class:`LoudnessMeter`)."""
    m = LoudnessMeter(sample_rate, n_samples, channels)
    for c in chunks:
        m.add(c)
    return m.lufs()


class FramePower:
    """:func:`videobgm.audio.meters.frame_power` of a signal fed in chunks (frames on the global
    grid of ``hop`` samples; a partial last frame is dropped, as there)."""

    def __init__(self, hop: int) -> None:
        self.hop, self.rest, self.parts = int(hop), None, []

    def add(self, x: np.ndarray) -> None:
        from videobgm.audio.meters import frame_power

        if self.rest is not None and self.rest.shape[0]:
            x = np.concatenate([self.rest, x])
        k = x.shape[0] // self.hop * self.hop
        if k:
            self.parts.append(frame_power(x[:k], self.hop))
        self.rest = np.array(x[k:])

    def result(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0)


class BandPower:
    """Frame powers of a signal band-passed to ``band_hz`` as in
    :func:`videobgm.audio.meters.band_level_db` (the Butterworth band-pass with its state carried)."""

    def __init__(self, sample_rate: int, band_hz: tuple[float, float], hop: int, channels: int = 2) -> None:
        from scipy.signal import butter

        lo, hi = max(20.0, band_hz[0]), min(0.45 * sample_rate, band_hz[1])
        self.sos = butter(2, [lo, hi], btype="bandpass", fs=sample_rate, output="sos")
        self.zi = np.zeros((self.sos.shape[0], 2, channels))
        self.frames = FramePower(hop)

    def add(self, x: np.ndarray) -> None:
        from scipy.signal import sosfilt

        y, self.zi = sosfilt(self.sos, np.asarray(x).astype(np.float64), axis=0, zi=self.zi)
        self.frames.add(y)

    def level_db(self, frames: np.ndarray) -> float:
        p = self.frames.result()
        k = min(p.size, frames.size)
        sel = p[:k][frames[:k]]
        return 10 * math.log10(float(sel.mean()) + 1e-20) if sel.size else -math.inf


Effect = Callable[[np.ndarray], np.ndarray]


def _pedal(fx: Any, sample_rate: int) -> Effect:
    fx.reset()

    def run(x: np.ndarray) -> np.ndarray:
        return fx(np.ascontiguousarray(x.T, dtype=np.float32), sample_rate, reset=False).T

    return run


def _sos_effect(sos: np.ndarray, channels: int = 2) -> Effect:
    from scipy.signal import sosfilt

    zi = [np.zeros((sos.shape[0], 2, channels))]

    def run(x: np.ndarray) -> np.ndarray:
        y, zi[0] = sosfilt(sos, x, axis=0, zi=zi[0])
        return y.astype(np.float32)

    return run


def highpass_effect(sample_rate: int, cutoff_hz: float) -> Effect:
    """The stateful equivalent of :func:`videobgm.audio.master.highpass`."""
    from videobgm.audio.master import pedalboard_available

    if pedalboard_available():
        import pedalboard

        return _pedal(pedalboard.Pedalboard([pedalboard.HighpassFilter(cutoff_hz),
                                             pedalboard.HighpassFilter(cutoff_hz)]), sample_rate)
    from scipy.signal import butter

    return _sos_effect(butter(2, cutoff_hz, btype="highpass", fs=sample_rate, output="sos"))


def reverb_effect(sample_rate: int, kind: str) -> Effect | None:
    """The wet reverb of :func:`videobgm.audio.master.add_reverb` (None without pedalboard)."""
    from videobgm.audio.master import REVERBS, pedalboard_available

    if not pedalboard_available():
        return None
    import pedalboard

    return _pedal(pedalboard.Reverb(wet_level=1.0, dry_level=0.0, **REVERBS.get(kind, REVERBS["room"])),
                  sample_rate)


def peak_eq_effect(sample_rate: int, centre_hz: float, q: float, gain_db: float) -> Effect:
    """The stateful equivalent of :func:`videobgm.audio.master.peak_eq`."""
    from videobgm.audio.master import peak_sos, pedalboard_available

    if pedalboard_available():
        import pedalboard

        return _pedal(pedalboard.PeakFilter(cutoff_frequency_hz=centre_hz, gain_db=gain_db, q=q), sample_rate)
    return _sos_effect(peak_sos(sample_rate, centre_hz, q, gain_db))
