"""eval/audio_sync.py: picture events against the music's beats (known click tracks)."""

from __future__ import annotations

import math

import numpy as np

from tests.eval.test_audio import SR, _clicks  # noqa: F401 (shared with test_audio.py)


def test_sync_metrics_known_beats() -> None:
    """Visual beats on the music's beats: beat alignment ~1 and a lift well above 1; off-beat: low."""
    from videobgm.eval.audio import analyze_audio
    from videobgm.eval.audio_sync import PictureEvents, sync_audio_metrics

    beats = np.arange(0.25, 10.0, 0.5)
    a = analyze_audio("m", audio=(_clicks(beats, 10.0)[:, None], SR))
    t = np.arange(0, 10.0, 1 / 30)
    empty = np.zeros(0)

    def ev(vb: np.ndarray) -> PictureEvents:
        return PictureEvents(duration_s=10.0, cut_times_s=empty, cut_strength=empty, beat_times_s=vb,
                             beat_strength=np.ones(vb.size), motion_times_s=t, motion_speed=np.ones(t.size))

    on = sync_audio_metrics(ev(beats[::2]), a)
    off = sync_audio_metrics(ev(beats[::2] + 0.25), a)
    # 1.0 less the beat tracker's own jitter (its beats drift by 10-25 ms around the clicks)
    assert on["beat_alignment"] > 0.8 and on["beat_lift"] > 3
    assert off["beat_alignment"] < 0.05 and off["beat_lift"] < 0.5
    assert math.isnan(on["cut_hit_rate"]) and math.isnan(on["motion_onset_spearman"])  # no cuts, flat motion
