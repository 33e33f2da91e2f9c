"""Motion speed per frame from dense optical flow (OpenCV DIS or Farneback).

CMT defines a frame's motion speed as the mean optical-flow magnitude over its pixels; we report
it per second (``px/s`` at analysis size) so that variable frame rates compare. Beside the speed,
each frame gets a *directogram* (Davis & Agrawala 2018): the flow magnitude summed into angle
bins, from which :mod:`videobgm.features.beats` finds decelerations and direction changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videobgm.errors import OptionError

FLOW_METHODS = ("dis", "farneback")


class FlowMeter:
    """Dense optical flow between consecutive grey frames, reduced to speed and directogram.

    Parameters
    ----------
    method : str
        ``"dis"`` (OpenCV DIS, preset ``dis_preset``) or ``"farneback"``.
    n_bins : int
        Number of angle bins of the directogram (soft assignment to the two nearest bins).
    dis_preset : str
        ``"ultrafast"``, ``"fast"`` or ``"medium"``.
    finest_scale : int, optional
        DIS pyramid level the flow is finished at (0 = full analysis resolution, 1 = half...);
        None keeps the preset's (``fast``: 2, ``medium``: 1).
    noise_level : int
        Grey-level change (0..255) that counts as a real change rather than coding noise.
    min_changed : float
        Fraction of pixels that must change by ``noise_level`` for the flow to count fully (see
        :meth:`change_gate`). Without this gate, the flicker of a still image between keyframes
        (1-3 grey levels on a smooth gradient) reads as sub-pixel "motion" through the aperture
        problem.
    """

    def __init__(
        self, method: str = "dis", *, n_bins: int = 8, dis_preset: str = "medium",
        noise_level: int = 5, min_changed: float = 0.002, finest_scale: int | None = None,
    ) -> None:
        import cv2

        if method not in FLOW_METHODS:
            raise OptionError(f"unknown flow method {method!r}; accepted: {', '.join(FLOW_METHODS)}")
        self.method = method
        self.n_bins = int(n_bins)
        self.noise_level = int(noise_level)
        self.min_changed = float(min_changed)
        self._dis: Any = None
        if method == "dis":
            presets = {
                "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
            }
            if dis_preset not in presets:
                raise OptionError(f"unknown DIS preset {dis_preset!r}; accepted: {', '.join(presets)}")
            self._dis = cv2.DISOpticalFlow_create(presets[dis_preset])
            if finest_scale is not None:
                self._dis.setFinestScale(int(finest_scale))

    def flow(self, prev_gray: np.ndarray, gray: np.ndarray) -> np.ndarray:
        """Dense flow from ``prev_gray`` to ``gray`` (both uint8 (H, W)); returns float32 (H, W, 2) in px."""
        import cv2

        if self._dis is not None:
            return self._dis.calc(prev_gray, gray, None)
        return cv2.calcOpticalFlowFarneback(prev_gray, gray, None, 0.5, 3, 15, 3, 5, 1.2, 0)

    def change_gate(self, diff: np.ndarray) -> float:
        """Trust in the flow of a frame pair, in [0, 1], from their absolute difference (H, W) uint8.

        ``min(1, fraction of pixels changed by >= noise_level / min_changed)``: 0 when no pixel
        changed beyond coding noise. Callers should smooth it over a few frames (a slow smooth
        drift can change few pixels on some frames) -- see ``extract_features``.
        """
        changed = np.count_nonzero(diff >= self.noise_level) / diff.size
        return min(1.0, changed / self.min_changed) if self.min_changed > 0 else 1.0

    def measure(self, prev_gray: np.ndarray, gray: np.ndarray, dt_s: float) -> tuple[float, np.ndarray]:
        """Motion between two frames ``dt_s`` seconds apart (not gated).

        Returns
        -------
        speed_px_s : float
            Mean flow magnitude over pixels divided by ``dt_s`` (px/s at analysis size).
        directogram : ndarray, shape (n_bins,)
            Mean over pixels of the magnitude falling in each angle bin, px/s; sums to ``speed_px_s``.
        """
        # the flow field is smooth at this scale: every 2nd pixel gives the same means, 4x cheaper
        return directogram(self.flow(prev_gray, gray)[::2, ::2], self.n_bins, dt_s)


def directogram(flow: np.ndarray, n_bins: int, dt_s: float) -> tuple[float, np.ndarray]:
    """Reduce a flow field (H, W, 2) in px to (mean speed px/s, directogram (n_bins,) px/s).

    Each pixel's magnitude is split between the two nearest angle bins (linear in angle), so a
    direction wobbling across a bin edge does not move energy in jumps.
    """
    import cv2

    mag, ang = cv2.cartToPolar(np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1]))
    mag = mag.ravel()
    pos = ang.ravel() * np.float32(n_bins / (2 * np.pi))
    lo = pos.astype(np.int32)
    frac = pos - lo
    lo %= n_bins
    upper = mag * frac
    hist = np.bincount(lo, weights=mag - upper, minlength=n_bins)
    hist += np.bincount((lo + 1) % n_bins, weights=upper, minlength=n_bins)
    scale = 1.0 / (mag.size * max(dt_s, 1e-6))
    return float(hist.sum() * scale), hist * scale
