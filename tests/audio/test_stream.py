"""stream.py: the chunked render/master path (flat memory for long videos) against the
whole-array path, with known answers (issue 13 part 5)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.audio.test_chunk_dsp import stepped_noise
from videobgm.audio.disk import DiskAudio
from videobgm.audio.master import limiter_gain
from videobgm.audio.meters import loudness_lufs, true_peak_envelope
from videobgm.audio.stream import Limiter, tp_env_range
from videobgm.config import MuxConfig, RenderConfig
from videobgm.types import Note, Score

SR = 22050
CFG = RenderConfig(sample_rate=SR, soundfont="timgm6mb")


def test_limiter_and_true_peak_by_range_equal_whole() -> None:
    x = stepped_noise(6.0, seed=2) * np.float32(8.0)  # loud: the limiter works hard
    n = x.shape[0]
    env = true_peak_envelope(x, SR)
    grid = 1 << 15
    parts = [tp_env_range(x[max(0, a - 64):min(n, a + grid + 64)], max(0, a - 64), a, min(n, a + grid), n)
             for a in range(0, n, grid)]
    np.testing.assert_allclose(np.concatenate(parts), env, rtol=1e-6, atol=1e-7)
    disk = DiskAudio(n, 1)
    disk.write(0, env[:, None])
    ceiling = 0.5
    whole = limiter_gain(x, SR, ceiling, envelope=env * np.float32(1.3))
    lim = Limiter(disk, float(env.max()), SR, ceiling)
    cuts = [0, 777, 20000, 20001, 70000, n]
    got = np.concatenate([lim.gain(a, b, 1.3) for a, b in zip(cuts, cuts[1:])])
    assert whole.min() < 0.3
    np.testing.assert_allclose(got, whole, rtol=1e-5, atol=1e-6)
    disk.close()
    assert not disk.path.exists()


def _song(n_bars: int) -> Score:
    notes = []
    for b in range(n_bars):
        for k in range(4):
            notes.append(Note(b * 16 + 4 * k, "melody", 64 + 2 * k + (b % 3), 4, 70 + 10 * (b % 4)))
            notes.append(Note(b * 16 + 4 * k, "drums", 36 if k % 2 == 0 else 38, 1, 100))
        notes.append(Note(b * 16, "piano", 48 + b % 5, 16, 70))
        notes.append(Note(b * 16, "bass", 36, 8, 80))
    return Score(notes=sorted(notes), n_bars=n_bars, tempo_bpm=120.0,
                 programs={"melody": 73, "piano": 0, "bass": 33})


def test_streamed_render_matches_the_whole_array_path() -> None:
    from videobgm.audio.render import render

    score, dur = _song(14), 27.0  # 27 s: three 10 s chunks, the last one partial
    whole = render(score, dur, CFG, stems=True)
    streamed = render(score, dur, CFG, stems=True, stream=True)
    assert streamed.info["streamed"] and not whole.info["streamed"]
    mix = streamed.mix.to_array()
    assert mix.shape == whole.mix.shape
    # tolerance: tinysoundfont generates in pieces cut at the chunk boundaries (its 64-sample
    # effect blocks shift there); everything else is float rounding
    assert np.abs(mix - whole.mix).max() < 2e-3
    assert abs(loudness_lufs(mix, SR) - loudness_lufs(whole.mix, SR)) < 0.01
    for key in ("loudness_lufs", "compressor_max_db", "limiter_max_db"):
        assert streamed.info[key] == pytest.approx(whole.info[key], abs=0.02), key
    for t, g in whole.info["gains_db"].items():
        assert streamed.info["gains_db"][t] == pytest.approx(g, abs=0.02)
    stems = {t: s.to_array() for t, s in streamed.stems.items()}
    assert set(stems) == set(whole.stems)
    np.testing.assert_allclose(sum(stems.values()), mix, atol=2e-5)  # (the mix is clipped)
    for t in stems:
        assert np.abs(stems[t] - whole.stems[t]).max() < 2e-3


def test_streamed_wav_and_mux_decode_to_the_video_length(tmp_path) -> None:
    import av

    from videobgm.audio.mux import mux
    from videobgm.audio.render import read_wav, render, write_wav
    from videobgm.testing.synthetic_videos import bouncing_square, write_video

    video = write_video(tmp_path / "v.mp4", bouncing_square(period_s=2.0, width=64, height=48),
                        duration_s=12.0, fps=10, width=64, height=48)
    r = render(_song(6), 12.0, CFG, stream=True)
    wav, sr = read_wav(write_wav(r.mix, SR, tmp_path / "m.wav"))
    assert sr == SR and wav.shape == r.mix.shape
    np.testing.assert_allclose(wav, r.mix.to_array(), atol=1.0 / 32767 + 1e-6)
    out = tmp_path / "out.mp4"
    info = mux(video, r.mix, SR, out, MuxConfig())
    assert info["original_audio"] == "replace"
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        n = sum(f.samples for f in c.decode(a))
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        vdur = float(v.duration * v.time_base) if v.duration else 12.0
    assert abs(n / a.rate - vdur) <= 0.1
