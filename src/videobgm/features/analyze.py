"""[2] Video -> Features: motion, motion saliency and visual beats, tempo, scene cuts, colour.

One streaming pass over the video (:func:`videobgm.video.decode.iter_frames`, chunked): per analysis
frame we keep only a handful of numbers (speed, an 8-bin directogram, colour statistics, the
histogram distance to the previous frame), so memory does not grow with the frames' size and
only by a few hundred bytes per frame with length. Beats, tempo and cuts are computed from those
per-frame series at the end.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from videobgm.config import FeaturesConfig, VideoConfig
from videobgm.progress import ProgressFn, null_progress
from videobgm.types import Features

GATE_LAG = 4  # frames between the two images compared by the motion noise gate


def extract_features(
    path: str | os.PathLike[str],
    cfg: FeaturesConfig | None = None,
    video_cfg: VideoConfig | None = None,
    *,
    progress: ProgressFn | None = None,
) -> Features:
    """Analyse a video file into :class:`~videobgm.types.Features`.

    Parameters
    ----------
    path : path-like
        The video.
    cfg : FeaturesConfig, optional
        Feature settings (flow method, beat/tempo/cut thresholds).
    video_cfg : VideoConfig, optional
        Decoding settings (analysis fps/size, limits).
    progress : callable, optional
        ``progress(done_s, total_s)`` called after each decoded chunk (seconds of video).

    Returns
    -------
    Features
        All series sampled at ``frame_times_s`` (the analysed frames' own timestamps).

    Raises
    ------
    InputError
        The file is not a usable video (see :func:`videobgm.video.decode.probe`).
    """
    from videobgm.features import beats, scenes
    from videobgm.video import decode as video
    cfg = cfg or FeaturesConfig()
    video_cfg = video_cfg or VideoConfig()
    progress = progress or null_progress
    info = video.probe(path, video_cfg)
    frames = _measure_frames(path, cfg, video_cfg, info.duration_s, progress)
    t = np.concatenate(frames.times) if frames.times else np.zeros(0)
    mspeed = np.asarray(frames.speed, dtype=float)
    dg = np.asarray(frames.dgrams, dtype=float).reshape(-1, cfg.direction_bins)
    dist = np.asarray(frames.hist_dist, dtype=float)
    gate, pix_change, colour = frames.gate, frames.pix_change, frames.colour
    # the noise gate, held over +-2 frames so that a slow drift that changes few pixels on some
    # frames is not switched on and off (which would read as sudden stops)
    if t.size:
        from scipy.ndimage import maximum_filter1d

        g = maximum_filter1d(np.asarray(gate, dtype=float), size=5, mode="nearest")
        mspeed *= g
        dg *= g[:, None]
    cut_idx = scenes.detect_cuts(
        t, dist, threshold=cfg.cut_threshold, ratio=cfg.cut_ratio, min_gap_s=cfg.min_cut_gap_s,
        pixel_change=np.asarray(pix_change), min_pixel_change=cfg.cut_min_pixel_change,
    )
    # optical flow across a cut (and into frame 0) is meaningless: carry the previous motion over
    bogus = np.zeros(t.size, dtype=bool)
    bogus[cut_idx] = True
    if t.size:
        bogus[0] = True
    for i in np.flatnonzero(bogus[1:]) + 1:
        mspeed[i], dg[i] = mspeed[i - 1], dg[i - 1]
    if t.size > 1 and not bogus[1]:
        mspeed[0] = mspeed[1]
    sal = beats.saliency(dg, eps=cfg.saliency_eps_px_s, power=cfg.saliency_power)
    sal[bogus] = 0.0
    beat_t, beat_s, _ = beats.pick_beats(
        t, sal, window_s=cfg.beat_window_s, k=cfg.beat_threshold,
        floor=cfg.beat_min_saliency_px_s, min_gap_s=cfg.min_beat_gap_s, speed=mspeed,
        min_relative=cfg.beat_min_relative,
    )
    tempo, conf = beats.estimate_tempo(
        t, sal, bpm_range=cfg.tempo_range_bpm, half_lag_ratio=cfg.tempo_half_lag_ratio,
        min_confidence=cfg.tempo_min_confidence,
    )
    if beat_t.size == 0:
        tempo, conf = float("nan"), 0.0

    def cat(key: str, shape: tuple[int, ...]) -> np.ndarray:
        return np.concatenate(colour[key]) if colour[key] else np.zeros(shape)

    meta = _meta(cfg, video_cfg, info.duration_s, t, frames.size, dist)
    progress(info.duration_s, info.duration_s)
    return Features(
        video=info,
        frame_times_s=t,
        motion_speed=mspeed,
        saliency=sal,
        visual_beat_times_s=beat_t,
        visual_beat_strength=beat_s,
        tempo_bpm=float(tempo),
        tempo_confidence=float(conf),
        cut_times_s=t[cut_idx] if cut_idx.size else np.zeros(0),
        brightness=cat("brightness", (0,)),
        saturation=cat("saturation", (0,)),
        warmth=cat("warmth", (0,)),
        hue_hist=cat("hue_hist", (0, 12)),
        meta=meta,
    )


@dataclass
class _FrameSeries:
    """The per-frame numbers of one pass over the video (lists, one entry per analysed frame)."""

    times: list[np.ndarray] = field(default_factory=list)  # one array per decoded chunk
    speed: list[float] = field(default_factory=list)
    dgrams: list[np.ndarray] = field(default_factory=list)
    hist_dist: list[float] = field(default_factory=list)
    pix_change: list[float] = field(default_factory=list)
    gate: list[float] = field(default_factory=list)
    colour: dict[str, list[np.ndarray]] = field(default_factory=lambda: {
        "brightness": [], "saturation": [], "warmth": [], "hue_hist": []})
    size: tuple[int, int] = (0, 0)


def _measure_frames(path: str | os.PathLike[str], cfg: FeaturesConfig, video_cfg: VideoConfig,
                    duration_s: float, progress: ProgressFn) -> _FrameSeries:
    """The streaming pass: per analysed frame, optical-flow speed and directogram, the noise
    gate, pixel change, histogram distance to the previous frame and colour statistics."""
    import cv2

    from videobgm.features import color, motion, scenes
    from videobgm.video import decode as video

    cv2.setNumThreads(1)  # tiny frames: threads cost more than they save; leave cores to decoding
    meter = motion.FlowMeter(
        cfg.flow, n_bins=cfg.direction_bins, dis_preset=cfg.dis_preset,
        noise_level=cfg.flow_noise_level, min_changed=cfg.flow_min_changed,
        finest_scale=cfg.dis_finest_scale,
    )

    out = _FrameSeries()
    times, speed, dgrams, hist_dist = out.times, out.speed, out.dgrams, out.hist_dist
    pix_change, gate, colour = out.pix_change, out.gate, out.colour
    history: deque[np.ndarray] = deque(maxlen=GATE_LAG)
    prev_gray: np.ndarray | None = None
    prev_hist: np.ndarray | None = None
    prev_t = 0.0
    zero_dgram = np.zeros(cfg.direction_bins)
    progress(0.0, duration_s)
    for ts, frames in video.iter_frames(path, video_cfg):
        n, h, w, _ = frames.shape
        out.size = (w, h)
        # colour and histograms are global statistics: every 2nd pixel in each direction is plenty
        hsv = color.hsv_stack(np.ascontiguousarray(frames[:, ::2, ::2]))
        stats = color.color_stats(hsv)
        for key in colour:
            colour[key].append(stats[key])
        hists = scenes.frame_histograms(hsv)
        grays = cv2.cvtColor(frames.reshape(n * h, w, 3), cv2.COLOR_RGB2GRAY).reshape(n, h, w)
        for i in range(n):
            if prev_gray is None:
                speed.append(0.0)
                dgrams.append(zero_dgram)
                hist_dist.append(0.0)
                pix_change.append(0.0)
                gate.append(0.0)
            else:
                diff = cv2.absdiff(prev_gray, grays[i])
                sp, dg = meter.measure(prev_gray, grays[i], float(ts[i] - prev_t))
                # also against the frame GATE_LAG frames back: motion accumulates, coding noise not
                gate.append(max(meter.change_gate(diff), meter.change_gate(cv2.absdiff(history[0], grays[i]))))
                pix_change.append(float(diff.mean()) / 255.0)
                speed.append(sp)
                dgrams.append(dg)
                hist_dist.append(scenes.histogram_distance(prev_hist, hists[i]))
            prev_gray, prev_hist, prev_t = grays[i], hists[i], float(ts[i])
            history.append(prev_gray)
        times.append(ts)
        progress(float(ts[-1]), duration_s)
    return out


def _meta(cfg: FeaturesConfig, video_cfg: VideoConfig, duration_s: float, t: np.ndarray,
          size: tuple[int, int], dist: np.ndarray) -> dict[str, Any]:
    """``Features.meta``: what was analysed (size, fps, frames), how, and any warning."""
    decoded_s = float(t[-1] - t[0]) if t.size > 1 else 0.0
    warnings: list[str] = []
    if t.size and duration_s - (t[-1] if t.size else 0.0) > max(1.0, 0.05 * duration_s):
        warnings.append(f"decoded only up to {t[-1]:.2f} s of {duration_s:.2f} s (damaged data?)")
    return {
        "analysis_size": list(size),
        "analysis_fps": float((t.size - 1) / decoded_s) if decoded_s > 0 else 0.0,
        "n_analysed_frames": int(t.size),
        "flow": cfg.flow if cfg.flow != "dis" else (
            f"dis/{cfg.dis_preset}" + ("" if cfg.dis_finest_scale is None else f"/finest{cfg.dis_finest_scale}")
        ),
        "motion_units": "px/s at analysis size",
        "tempo_definition": "visual beats per minute (autocorrelation of motion saliency)",
        "cut_distance_max": float(dist.max()) if dist.size else 0.0,
        "features_config": cfg.to_dict(),
        "video_config": video_cfg.to_dict(),
        "warnings": warnings,
    }


__all__ = ["extract_features"]
