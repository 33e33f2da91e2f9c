"""eval/audio_sync.py: picture events against the music's beats (known click tracks)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

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


def _env_audio(env: np.ndarray, hop_s: float = 0.01):
    """An AudioAnalysis holding only an onset envelope at ``hop_s`` frames (no onsets, no beats)."""
    from videobgm.eval.audio import AudioAnalysis

    t = np.arange(env.size) * hop_s
    z = np.zeros(0)
    return AudioAnalysis(path="env", duration_s=float(env.size * hop_s), sr=100, frame_times_s=t,
                         onset_env=np.asarray(env, float), onset_times_s=z, beat_times_s=z,
                         tempo_bpm=float("nan"), rms=np.ones(env.size), chroma=np.zeros((12, env.size)),
                         native=np.zeros((env.size, 1)), native_sr=100)


def _cut_events(cuts: np.ndarray, duration_s: float):
    from videobgm.eval.audio_sync import PictureEvents

    empty = np.zeros(0)
    t = np.arange(0, duration_s, 1 / 30)
    return PictureEvents(duration_s=duration_s, cut_times_s=cuts, cut_strength=np.ones(cuts.size),
                         beat_times_s=empty, beat_strength=empty, motion_times_s=t,
                         motion_speed=np.ones(t.size))


def test_cut_lift_known_envelopes() -> None:
    """cut_lift: onset strength at the cuts / at shifted cuts. 20 s envelope at 10 ms frames, a
    background pulse of height 1 every 0.5 s and cuts at irregular times:

    * strength 10 exactly at the cuts: a shifted cut meets a pulse within 70 ms about 28 % of the
      time (0.15 s of every 0.5 s) and another cut's onset now and then, so the shifted mean is
      ~0.7 and the lift ~15 (> 5 asserted);
    * the strong onsets 0.25 s away from every cut (outside the 70 ms window): the cuts see only
      the background, less than arbitrary moments do: lift < 1;
    * a flat envelope: every moment alike, lift 1; a silent one: NaN (no chance level to divide by).
    """
    from videobgm.eval.audio_sync import SYNC_METRICS, sync_audio_metrics

    hop, dur = 0.01, 20.0
    n = int(dur / hop)
    cuts = np.array([1.37, 3.02, 5.91, 7.44, 10.18, 12.63, 15.29, 17.85])
    pulse = np.zeros(n)
    pulse[(np.arange(0.0, dur, 0.5) / hop).round().astype(int)] = 1.0
    ev = _cut_events(cuts, dur)

    def lift(env: np.ndarray) -> float:
        return sync_audio_metrics(ev, _env_audio(env, hop))["cut_lift"]

    at = pulse.copy()
    at[(cuts / hop).round().astype(int)] = 10.0
    away = pulse.copy()
    away[((cuts + 0.25) / hop).round().astype(int)] = 10.0
    assert lift(at) > 5
    assert lift(away) < 1
    assert lift(np.full(n, 0.7)) == pytest.approx(1.0, abs=1e-9)
    assert math.isnan(lift(np.zeros(n)))
    assert sync_audio_metrics(ev, _env_audio(at, hop))["cut_lift_chance"] == 1.0
    assert "cut_lift" in SYNC_METRICS


def test_cut_lift_grades_what_the_hit_rate_saturates() -> None:
    """Two soundtracks that hit every cut over the same background pulse (height 1, 96 per
    minute), one marking the cuts with onsets of strength 5, the other 2: the same hit rate (1)
    and cut_hit_x_chance, but cut_lift tells them apart (the stronger marks lift more)."""
    from videobgm.eval.audio_sync import sync_audio_metrics

    hop, dur = 0.01, 24.0
    n = int(dur / hop)
    cuts = np.array([1.37, 3.02, 5.91, 7.44, 10.18, 12.63, 15.29, 17.85, 20.4])
    pulse_t = np.arange(0.0, dur, 60.0 / 96)
    out = {}
    for mark in (5.0, 2.0):
        env = np.full(n, 0.2)
        env[(pulse_t / hop).round().astype(int)] = 1.0
        env[(cuts / hop).round().astype(int)] = mark
        a = replace(_env_audio(env, hop), onset_times_s=np.sort(np.concatenate([pulse_t, cuts])))
        out[mark] = sync_audio_metrics(_cut_events(cuts, dur), a)
    assert out[5.0]["cut_hit_rate"] == out[2.0]["cut_hit_rate"] == 1.0
    assert out[5.0]["cut_hit_x_chance"] == pytest.approx(out[2.0]["cut_hit_x_chance"])
    assert out[2.0]["cut_lift"] > 1.5
    assert out[5.0]["cut_lift"] > 1.6 * out[2.0]["cut_lift"]
