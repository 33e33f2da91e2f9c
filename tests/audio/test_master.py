"""master.py and meters.py: mastering chain and its measures, with known answers (perform.py: test_perform.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from videobgm.audio.master import master, normalise, pan_gains, peak_eq, stage_gains
from videobgm.audio.meters import (
    loudness_lufs,
    melody_over_accompaniment_db,
    side_mid_ratio,
    true_peak_dbtp,
)
from videobgm.audio.perform import style_performance
from videobgm.config import RenderConfig
from videobgm.types import Note, Score

SR = 22050


def tone(freq: float, seconds: float, amp: float = 0.1, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = amp * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    return np.stack([x, 0.9 * x], 1).astype(np.float32)


def oversampled_peak_db(x: np.ndarray, factor: int = 8) -> float:
    """An independent true-peak check: FFT interpolation (scipy.signal.resample)."""
    from scipy.signal import resample

    return 20 * math.log10(float(np.abs(resample(x, x.shape[0] * factor, axis=0)).max()))


@pytest.mark.parametrize("target", [-14.0, -16.0, -23.0])
def test_minus_20_lufs_input_comes_out_at_the_target(target: float) -> None:
    x = tone(440, 6.0)
    x *= np.float32(10 ** ((-20.0 - loudness_lufs(x, SR)) / 20))
    assert loudness_lufs(x, SR) == pytest.approx(-20.0, abs=0.01)
    gain, _ = normalise(x, SR, target, -1.0)
    assert abs(loudness_lufs(x * gain[:, None], SR) - target) <= 0.5


@pytest.mark.parametrize("target", [-14.0, -4.0])
def test_full_scale_square_wave_never_exceeds_minus_1_dbtp(target: float) -> None:
    """At -4 LUFS the limiter has to work hard; inter-sample peaks are caught too."""
    t = np.arange(int(3.0 * SR)) / SR
    sq = np.sign(np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    x = np.stack([sq, sq], 1)
    assert oversampled_peak_db(x) > 0.5  # the square's own inter-sample overshoot
    gain, _ = normalise(x, SR, target, -1.0)
    y = (x * gain[:, None]).astype(np.float32)
    assert true_peak_dbtp(y, SR) <= -1.0
    assert oversampled_peak_db(y) <= -1.0 + 0.05


def test_dc_offset_is_removed() -> None:
    x = tone(220, 4.0) + np.float32(0.2)
    cfg = RenderConfig(sample_rate=SR)
    out = master({"melody": x}, SR, cfg, style_performance("pop"), band_hz=(150, 700))
    assert np.abs(out.mix.mean(axis=0)).max() < 1e-4
    assert abs(loudness_lufs(out.mix, SR) - cfg.target_lufs) <= 0.5


def _band_stems() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.02, (int(5 * SR), 2)).astype(np.float32)
    return {"melody": tone(660, 5.0, 0.05), "piano": tone(660, 5.0, 0.2) + noise,
            "bass": tone(80, 5.0, 0.3), "drums": rng.normal(0, 0.1, (int(5 * SR), 2)).astype(np.float32)}


def test_stems_sum_to_the_mix_and_melody_is_on_top() -> None:
    cfg = RenderConfig(sample_rate=SR)
    settings = style_performance("pop")
    band = (400.0, 1800.0)
    raw = _band_stems()
    assert melody_over_accompaniment_db(raw, SR, band) < 0  # the piano masks the melody
    out = master({k: v.copy() for k, v in raw.items()}, SR, cfg, settings, band_hz=band, keep_stems=True)
    total = sum(out.stems.values())
    level = 10 * math.log10(float(np.sum(total.astype(np.float64) ** 2)) / float(np.sum(out.mix.astype(np.float64) ** 2)))
    assert abs(level) < 0.5
    assert float(np.sum((total - out.mix) ** 2)) < 1e-6 * float(np.sum(out.mix ** 2))
    got = melody_over_accompaniment_db(out.stems, SR, band)
    assert abs(got - settings.melody_over_accompaniment_db) < 1.0  # the bus compressor weighs frames
    mel = loudness_lufs(out.stems["melody"], SR)
    assert loudness_lufs(out.stems["drums"], SR) < mel  # drums under the melody
    assert abs(loudness_lufs(out.stems["bass"], SR) - (mel + settings.bass_lu)) < 1.0
    assert side_mid_ratio(out.mix) > 0  # panned parts and the reverb give a stereo image


def test_stage_gains_known_answer() -> None:
    stems = {"melody": tone(660, 4.0, 0.1), "piano": tone(660, 4.0, 0.1)}
    s = style_performance("pop")
    st = stage_gains(stems, SR, s, (400.0, 1800.0))
    # same signal: the accompaniment goes melody_over_accompaniment_db under it in the band
    # (a bell cut centred there, the rest broadband)
    assert st.gains_db["melody"] == 0.0 and st.dip is not None
    centre, q, dip = st.dip
    assert centre == pytest.approx(math.sqrt(400 * 1800)) and -12.0 <= dip < 0
    acc = peak_eq(stems["piano"], SR, *st.dip) * np.float32(10 ** (st.gains_db["piano"] / 20))
    got = melody_over_accompaniment_db({"melody": stems["melody"], "piano": acc}, SR, (400.0, 1800.0))
    assert got == pytest.approx(s.melody_over_accompaniment_db, abs=0.1)


def test_pan_law() -> None:
    assert pan_gains(0.0) == pytest.approx((1.0, 1.0))
    left, right = pan_gains(-1.0)
    assert left == pytest.approx(math.sqrt(2)) and right == pytest.approx(0.0, abs=1e-12)
    a, b = pan_gains(0.3)
    assert a * a + b * b == pytest.approx(2.0)


def _score() -> Score:
    notes = []
    for bar in range(4):
        for k in range(16):
            notes.append(Note(bar * 16 + k, "melody", 72 + k % 5, 1, 80))
        notes.append(Note(bar * 16, "piano", 60, 16, 70))
    return Score(notes=sorted(notes), n_bars=4, tempo_bpm=120.0, programs={"melody": 0, "piano": 0})


def test_same_seed_same_samples() -> None:
    from videobgm.audio.render import render_audio

    cfg = RenderConfig(sample_rate=SR, soundfont="timgm6mb")
    s = _score()
    a = render_audio(s, 3.0, cfg)
    assert a.tobytes() == render_audio(s, 3.0, cfg).tobytes()


def test_loudness_option() -> None:
    from videobgm.apps.cli.main import build_parser
    from videobgm.apps.cli.options import config_from_args
    from videobgm.errors import OptionError

    args = build_parser().parse_args(["score", "v.mp4", "-o", "o.mp4", "--loudness", "-23"])
    assert config_from_args(args).render.target_lufs == -23.0
    assert RenderConfig().target_lufs == -14.0
    with pytest.raises(OptionError, match="--loudness"):
        config_from_args(build_parser().parse_args(["score", "v.mp4", "-o", "o.mp4", "--loudness", "3"]))
