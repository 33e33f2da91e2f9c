"""Streaming audio for long videos: the render and the mastering chain in chunks, with the
audio on disk, so memory stays flat with length (issue 13 part 5).

The same chain as :func:`videobgm.audio.master.master`, reorganised into passes over the audio,
each holding one chunk (``CHUNK_S``, 10 s) at a time:

1. per stem: synthesise to a float32 file on disk (:class:`DiskAudio`), summing for the DC offset;
2. per stem, in place: DC removed, high-pass and reverb (pedalboard plugins called with
   ``reset=False``: their state carries over), while measuring what the gain staging needs:
   each stem's integrated loudness (:class:`LoudnessMeter`: pyloudnorm's K-weighting filters
   with state, BS.1770 block energies from running sums) and the melody's frame powers;
3. the accompaniment's in-band level (one or two passes over the accompaniment), as
   :func:`videobgm.audio.master.stage_gains`;
4. the mix: bell cut, gains and pans, summed to a mix file, with the compressor's frame powers;
5. the bus: compressor gain (from its frame levels, which are small), fades, loudness of the
   bus output, its 4x true-peak envelope (to disk), then the normalise/limit rounds of
   :func:`videobgm.audio.master.normalise`, each a pass (the limiter's min and box filters run per
   chunk with enough context either side); then the final gain, applied in place.

Results match the whole-array path up to float rounding and one difference: tinysoundfont's
output is generated in pieces cut at chunk boundaries (measured in tests/audio/test_stream.py:
at most 1e-3 of full scale per sample on a short piece, loudness within 0.01 LU).
The audio files are :class:`videobgm.audio.disk.DiskAudio`; the meters and effects that carry their
state across chunks are :mod:`videobgm.audio.chunk_dsp`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from videobgm.audio.chunk_dsp import (
    BandPower,
    FramePower,
    LoudnessMeter,
    highpass_effect,
    peak_eq_effect,
    reverb_effect,
)
from videobgm.audio.disk import DiskAudio

CHUNK_S = 10.0  # = meters.CHUNK_S: the pieces pedalboard effects run in (same cuts, same result)
TP_CHUNK = 1 << 15  # = the chunk of meters._oversampled_chunks (true-peak grid)
TP_PAD = 64


# ----------------------------------------------------------------------------------------------
# synthesis to disk
# ----------------------------------------------------------------------------------------------
def play_to_disk(events: list, out: DiskAudio, sample_rate: int, generate: Callable[[int], np.ndarray],
                 send: Callable[[str, int, int, int], None], step: int) -> np.ndarray:
    """:func:`videobgm.audio.render._play` into ``out`` a chunk of ``step`` rows at a time; returns
    the per-channel sum (float64) for the DC offset."""
    n = out.shape[0]
    buf = np.zeros((step, out.shape[1]), np.float32)
    state = {"base": 0, "fill": 0}
    total = np.zeros(out.shape[1])

    def upto(at: int) -> None:
        while state["base"] + state["fill"] < at:
            k = min(at - state["base"] - state["fill"], step - state["fill"])
            f = state["fill"]
            buf[f:f + k] = generate(k)
            state["fill"] = f + k
            if state["fill"] == step:
                flush()

    def flush() -> None:
        f = state["fill"]
        if f:
            out.write(state["base"], buf[:f])
            total[:] += buf[:f].sum(axis=0, dtype=np.float64)
            state["base"] += f
            state["fill"] = 0

    for t, _, kind, ch, key, vel in events:
        at = min(n, max(0, int(round(t * sample_rate))))
        upto(at)
        if at >= n:
            break
        send(kind, ch, key, vel)
    upto(n)
    flush()
    return total


# ----------------------------------------------------------------------------------------------
# the bus: fades, compressor, limiter per range
# ----------------------------------------------------------------------------------------------
def fade_range(a: int, b: int, n: int, sr: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """Rows a..b of :func:`videobgm.audio.master.fade_envelope` (n, sr, fade_in_s, fade_out_s)."""
    env = np.ones(b - a, dtype=np.float32)
    fi = min(n // 2, int(round(fade_in_s * sr)))
    fo = min(n // 2, int(round(fade_out_s * sr)))
    i = np.arange(a, b)
    if fi > 0 and a < fi:
        m = i < fi
        env[m] *= (0.5 - 0.5 * np.cos(np.pi * i[m] / fi)).astype(np.float32)
    if fo > 0 and b > n - fo:
        m = i >= n - fo
        env[m] *= (0.5 + 0.5 * np.cos(np.pi * (i[m] - (n - fo) + 1) / fo)).astype(np.float32)
    return env


class Bus:
    """The bus gain before normalising (compressor x fades) and the limiter, by row range."""

    def __init__(self, mix: DiskAudio, sr: int, cfg: Any, comp_frames: tuple[np.ndarray, np.ndarray] | None) -> None:
        self.mix, self.sr, self.cfg, self.n = mix, sr, cfg, mix.shape[0]
        self.comp = comp_frames  # (frame centres, gain dB per frame) or None (no compression)

    def gain(self, a: int, b: int) -> np.ndarray:
        if self.comp is None:
            g = np.ones(b - a, np.float32)
        else:
            centres, gdb = self.comp
            g = np.interp(np.arange(a, b, dtype=np.float32), centres, gdb).astype(np.float32)
            g *= np.float32(math.log(10) / 20)
            np.exp(g, out=g)
        return g * fade_range(a, b, self.n, self.sr, self.cfg.fade_in_s, self.cfg.fade_out_s)

    def y(self, a: int, b: int) -> np.ndarray:
        """Rows a..b of mix * bus."""
        return self.mix.read(a, b) * self.gain(a, b)[:, None]


def tp_env_range(x: np.ndarray, lo: int, a: int, b: int, n: int, *, need: np.ndarray | None = None) -> np.ndarray:
    """Rows a..b of :func:`videobgm.audio.meters.true_peak_envelope` of a signal of n rows, given its
    rows lo.. in ``x`` (at least ``TP_PAD`` rows of context each side where they exist); a and
    b on the true-peak grid (multiples of ``TP_CHUNK``, or b = n). ``need``: rows lo.. of the
    bool mask, as there."""
    from scipy.signal import resample_poly

    from videobgm.audio.meters import OVERSAMPLE

    out = np.abs(x[a - lo:b - lo]).max(axis=1).astype(np.float32)
    for s in range(a, b, TP_CHUNK):
        c0, c1 = max(0, s - TP_PAD), min(n, s + TP_CHUNK + TP_PAD)
        if need is not None and not need[c0 - lo:c1 - lo].any():
            continue
        y = resample_poly(x[c0 - lo:c1 - lo], OVERSAMPLE, 1, axis=0)
        q = (s - c0) * OVERSAMPLE
        m = min(n, s + TP_CHUNK) - s
        y = y[q:q + m * OVERSAMPLE]
        m = y.shape[0] // OVERSAMPLE
        o = s - a
        out[o:o + m] = np.maximum(out[o:o + m], np.abs(y[: m * OVERSAMPLE]).reshape(m, OVERSAMPLE, -1).max(axis=(1, 2)))
    return out


class Limiter:
    """:func:`videobgm.audio.master.limiter_gain` by row range, from the true-peak envelope on disk."""

    def __init__(self, env: DiskAudio, env_max: float, sr: int, ceiling: float) -> None:
        from videobgm.audio.master import LIMITER_HOLD_S, LIMITER_LOOKAHEAD_S

        self.env, self.env_max, self.ceiling, self.n = env, env_max, ceiling, env.shape[0]
        self.h = max(1, int(round(LIMITER_LOOKAHEAD_S * sr)))
        self.r = 2 * max(1, int(round(LIMITER_HOLD_S * sr / 2)))
        self.pad = 2 * self.h + self.r + 4

    def gain(self, a: int, b: int, g0: float) -> np.ndarray:
        from scipy.ndimage import minimum_filter1d, uniform_filter1d

        tp_max = np.float32(self.env_max) * np.float32(g0)
        if np.float32(self.ceiling) / max(tp_max, np.float32(1e-12)) >= 1.0:
            return np.ones(b - a, dtype=np.float32)
        lo, hi = max(0, a - self.pad), min(self.n, b + self.pad)
        tp = self.env.read(lo, hi)[:, 0] * np.float32(g0)
        req = np.minimum(np.float32(1.0), np.float32(self.ceiling) / np.maximum(tp, np.float32(1e-12)),
                         dtype=np.float32)
        h, r = self.h, self.r
        cm = minimum_filter1d(req, 2 * h + 1 + r, mode="nearest")
        m = np.concatenate([np.full(r // 2, cm[0], dtype=np.float32), cm[: cm.size - r // 2]]) if lo == 0 \
            else cm[: cm.size - r // 2]
        m_lo = 0 if lo == 0 else lo + r // 2  # row of m[0]; m ends at row hi - 1 either way
        out = uniform_filter1d(m, 2 * h + 1, mode="nearest")
        return out[a - m_lo:b - m_lo]


# ----------------------------------------------------------------------------------------------
# the chain
# ----------------------------------------------------------------------------------------------
def master_stream(raw: dict[str, DiskAudio], dc_sums: dict[str, np.ndarray], sample_rate: int, cfg: Any,
                  settings: Any, *, band_hz: tuple[float, float] | None = None,
                  keep_stems: bool = False, chunk_s: float = CHUNK_S) -> tuple[DiskAudio, dict[str, DiskAudio] | None, dict[str, Any]]:
    """Mix and master the stems on disk (``raw``, processed in place; ``dc_sums``: per-channel
    sums of each). Returns the mastered mix (on disk, clipped to [-1, 1]), the processed stems
    (summing to the mix; None unless ``keep_stems``: the stem files are then closed) and the
    report of :func:`videobgm.audio.master.master`."""
    from videobgm.audio import master as M
    from videobgm.audio.meters import ACCOMPANIMENT

    sr = int(sample_rate)
    names = list(raw)
    n = next(iter(raw.values())).shape[0] if raw else 0
    step = max(1, int(chunk_s * sr))
    report: dict[str, Any] = {"reverb": settings.reverb if M.pedalboard_available() else None}
    mix = DiskAudio(n)
    if not names or n == 0:
        return mix, ({} if keep_stems else None), report
    hop = 1024
    loud: dict[str, float] = {}
    mel_frames = FramePower(hop) if "melody" in raw else None
    mel_band = BandPower(sr, band_hz, hop) if band_hz is not None and "melody" in raw else None
    for t in names:  # 2. per stem, in place
        part = raw[t]
        mean = (dc_sums[t] / n).astype(np.float32)
        hp = highpass_effect(sr, M.HIGHPASS_HZ.get(t, M.HIGHPASS_DEFAULT_HZ))
        send = float(settings.send.get(t, 0.0))
        rev = reverb_effect(sr, settings.reverb) if send > 0 else None
        meter = LoudnessMeter(sr, n)
        for a, x in part.chunks(step):
            x = x - mean
            x = hp(x)
            if rev is not None:
                x = x + rev(x * np.float32(send))
            part.write(a, x)
            meter.add(x)
            if t == "melody":
                mel_frames.add(x)
                if mel_band is not None:
                    mel_band.add(x)
        loud[t] = meter.lufs()
    gains, dip = _stage_gains(raw, loud, sr, settings, band_hz, mel_frames, mel_band, step)
    report["gains_db"] = {t: round(g, 2) for t, g in gains.items()}
    if dip is not None:
        report["accompaniment_dip"] = [round(v, 2) for v in dip]
    eqs = {t: peak_eq_effect(sr, *dip) for t in ACCOMPANIMENT if t in raw and dip is not None}
    pans = {}
    for t in names:
        left, right = M.pan_gains(settings.pan.get(t, 0.0))
        g = 10 ** (gains[t] / 20)
        pans[t] = np.array([g * left, g * right], dtype=np.float32)
    comp_hop = max(1, int(round(M.COMP_FRAME_S * sr)))
    comp_p = FramePower(comp_hop)
    for a in range(0, n, step):  # 4. the mix
        acc = np.zeros((min(n, a + step) - a, 2), np.float32)
        for t in names:
            x = raw[t].read(a, a + step)
            if t in eqs:
                x = eqs[t](x)
            x = x * pans[t]
            if keep_stems:
                raw[t].write(a, x)
            acc += x
        mix.write(a, acc)
        comp_p.add(acc)
    comp_frames, comp_db = M.compressor_frames(comp_p.result(), comp_hop)
    bus = Bus(mix, sr, cfg, comp_frames)
    gain_of, rep = _normalise_stream(bus, sr, float(cfg.target_lufs), float(cfg.true_peak_dbtp))
    report.update(rep, compressor_max_db=round(comp_db, 2))
    bstep = TP_CHUNK * max(1, step // TP_CHUNK)
    for a in range(0, n, bstep):  # the final gain, in place
        b = min(n, a + bstep)
        total = (bus.gain(a, b) * gain_of(a, b)).astype(np.float32)[:, None]
        if keep_stems:
            for t in names:
                raw[t].write(a, raw[t].read(a, b) * total)
        mix.write(a, np.clip(mix.read(a, b) * total, -1.0, 1.0))
    if not keep_stems:
        for t in names:
            raw[t].close()
        return mix, None, report
    return mix, raw, report


def _stage_gains(parts: dict[str, DiskAudio], loud: dict[str, float], sr: int, settings: Any,
                 band_hz: tuple[float, float] | None, mel_frames: FramePower | None,
                 mel_band: BandPower | None, step: int) -> tuple[dict[str, float], tuple[float, float, float] | None]:
    """:func:`videobgm.audio.master.stage_gains` from the measures of pass 2 (and passes over the
    accompaniment for its in-band level)."""
    from videobgm.audio import master as M
    from videobgm.audio.meters import ACCOMPANIMENT, active_from_power

    gains = {t: 0.0 for t in parts}
    if "melody" not in parts or band_hz is None:
        return gains, None
    mel_l = loud["melody"]
    if not math.isfinite(mel_l):
        return gains, None
    dip = None
    acc = [t for t in ACCOMPANIMENT if t in parts and math.isfinite(loud[t])]
    n = parts["melody"].shape[0]
    if acc:
        for t in acc:
            gains[t] = mel_l + M.ACCOMPANIMENT_LU - loud[t] - 10 * math.log10(len(acc))
        hop = 1024
        frames = active_from_power(mel_frames.result())
        mel_db = mel_band.level_db(frames)

        def group_level(eq: tuple[float, float, float] | None) -> float:
            bp = BandPower(sr, band_hz, hop)
            fx = peak_eq_effect(sr, *eq) if eq is not None else None
            for a in range(0, n, step):
                g = sum(parts[t].read(a, a + step) * np.float32(10 ** (gains[t] / 20)) for t in acc)
                bp.add(fx(g) if fx is not None else g)
            return bp.level_db(frames)

        need = mel_db - group_level(None) - settings.melody_over_accompaniment_db
        if math.isfinite(need) and need < 0:
            lo, hi = max(20.0, band_hz[0]), min(0.45 * sr, band_hz[1])
            centre = math.sqrt(lo * hi)
            dip = (centre, float(np.clip(centre / (hi - lo), 0.3, 4.0)), max(need, M.MAX_DIP_DB))
            need = mel_db - group_level(dip) - settings.melody_over_accompaniment_db
        if math.isfinite(need):
            move = float(np.clip(need, *M.ACCOMPANIMENT_MOVE_DB))
            for t in acc:
                gains[t] += move
    for t, target in (("bass", settings.bass_lu), ("drums", settings.drums_lu)):
        if t in parts and math.isfinite(loud[t]):
            gains[t] = mel_l + target - loud[t]
    return gains, dip


def _normalise_stream(bus: Bus, sr: int, target_lufs: float, ceiling_dbtp: float, *,
                      max_rounds: int = 4) -> tuple[Callable[[int, int], np.ndarray], dict[str, float]]:
    """:func:`videobgm.audio.master.normalise` of ``bus.y``: returns the gain by row range and the report."""
    n = bus.n
    bstep = TP_CHUNK * max(1, int(CHUNK_S * sr) // TP_CHUNK)
    env = DiskAudio(n, 1)
    meter = LoudnessMeter(sr, n)
    env_max = 0.0
    for a in range(0, n, bstep):  # loudness and true-peak envelope of the bus output
        b = min(n, a + bstep)
        lo, hi = max(0, a - TP_PAD), min(n, b + TP_PAD)
        y = bus.y(lo, hi)
        meter.add(y[a - lo:b - lo])
        e = tp_env_range(y, lo, a, b, n)
        env.write(a, e[:, None])
        env_max = max(env_max, float(e.max()))
    lufs = meter.lufs()
    if not math.isfinite(lufs):
        env.close()
        tp = 20 * math.log10(env_max) if env_max > 0 else -math.inf
        return (lambda a, b: np.ones(b - a, np.float32)), {"loudness_lufs": lufs, "true_peak_dbtp": tp,
                                                            "limiter_max_db": 0.0}
    ceiling = 10 ** ((ceiling_dbtp - 0.05) / 20)
    lim = Limiter(env, env_max, sr, ceiling)
    g0 = 10 ** ((target_lufs - lufs) / 20)
    out, lim_min = lufs, 1.0
    for _ in range(max_rounds):
        meter = LoudnessMeter(sr, n)
        lim_min = 1.0
        for a in range(0, n, bstep):
            b = min(n, a + bstep)
            gain = lim.gain(a, b, g0) * np.float32(g0)
            lim_min = min(lim_min, float(gain.min() / np.float32(g0)))
            meter.add(bus.y(a, b) * gain[:, None])
        out = meter.lufs()
        err = target_lufs - out
        if abs(err) < 0.1 or not math.isfinite(out):
            break
        g0 *= 10 ** (err / 20)
    g_final = g0
    near_db = 10 ** ((ceiling_dbtp - 0.5) / 20)
    tp_max = 0.0
    for a in range(0, n, bstep):  # check the true peak where it comes near the ceiling
        b = min(n, a + bstep)
        lo, hi = max(0, a - TP_PAD), min(n, b + TP_PAD)
        gain = lim.gain(lo, hi, g_final) * np.float32(g_final)
        near = gain * env.read(lo, hi)[:, 0] > near_db
        y = bus.y(lo, hi) * gain[:, None]
        tp_max = max(tp_max, float(tp_env_range(y, lo, a, b, n, need=near).max()))
    tp = 20 * math.log10(max(1e-12, tp_max))
    trim = np.float32(10 ** ((ceiling_dbtp - 0.01 - tp) / 20)) if tp > ceiling_dbtp else None

    def gain_of(a: int, b: int) -> np.ndarray:
        g = lim.gain(a, b, g_final) * np.float32(g_final)
        return g * trim if trim is not None else g

    return gain_of, {"loudness_lufs": out, "limiter_max_db": float(-20 * math.log10(max(1e-12, lim_min)))}
