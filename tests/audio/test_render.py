"""render.py: soundfont synthesis of hand-made Scores and MIDI files."""

from __future__ import annotations

import importlib.util
import math
import wave

import numpy as np
import pytest

from videobgm.audio.meters import loudness_lufs, true_peak_dbtp
from videobgm.audio.render import (
    read_wav,
    render,
    render_audio,
    write_stem_wavs,
    write_wav,
)
from videobgm.config import RenderConfig
from videobgm.errors import InputError, MissingDependencyError, OptionError
from videobgm.types import Note, Score

SR = 22050
CFG = RenderConfig(sample_rate=SR, soundfont="timgm6mb")  # fast, on every machine


def song(n_bars: int = 4, tempo: float = 120.0, **kw) -> Score:
    notes = []
    for b in range(n_bars):
        for k in range(4):
            notes.append(Note(b * 16 + 4 * k, "melody", 64 + 2 * k, 4, 90))
            notes.append(Note(b * 16 + 4 * k, "drums", 36 if k % 2 == 0 else 38, 1, 100))
        notes.append(Note(b * 16, "piano", 48, 16, 70))
        notes.append(Note(b * 16, "bass", 36, 8, 80))
    return Score(notes=sorted(notes), n_bars=n_bars, tempo_bpm=tempo,
                 programs={"melody": 73, "piano": 0, "bass": 33}, **kw)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2))) if x.size else 0.0


@pytest.mark.parametrize("duration", [3.3, 8.0, 11.71])
def test_exact_length_non_silent_and_loudness(duration: float) -> None:
    a = render_audio(song(), duration, CFG)  # song is 8 s long: cut or padded
    assert a.shape == (round(duration * SR), 2) and a.dtype == np.float32
    assert rms(a) > 0.01
    assert true_peak_dbtp(a, SR) <= CFG.true_peak_dbtp + 1e-6
    assert abs(loudness_lufs(a, SR) - CFG.target_lufs) < 0.5
    assert np.abs(a.mean(axis=0)).max() < 1e-4  # no DC
    if duration > 10:  # after the song (8 s) and its release, only silence
        assert rms(a[int(9.5 * SR):]) < 1e-4


def test_deterministic() -> None:
    a = render_audio(song(), 5.0, CFG)
    b = render_audio(song(), 5.0, CFG)
    assert a.tobytes() == b.tobytes()


def test_fades() -> None:
    cfg = RenderConfig(sample_rate=SR, fade_in_s=0.5, fade_out_s=1.5)
    a = render_audio(song(), 8.0, cfg)
    assert np.all(a[0] == 0) and np.max(np.abs(a[-1])) < 1e-3
    mid = rms(a[int(3 * SR):int(5 * SR)])
    assert rms(a[-int(0.15 * SR):]) < 0.1 * mid  # last 10% of the fade-out
    assert rms(a[: int(0.05 * SR)]) < 0.2 * mid
    # without fades the edges are loud
    raw = render_audio(song(), 8.0, RenderConfig(sample_rate=SR, fade_in_s=0, fade_out_s=0))
    assert rms(raw[-int(0.15 * SR):]) > 0.3 * mid


def test_notes_follow_the_score_beat_grid() -> None:
    """A note on step 8 of a non-uniform grid sounds at that step's time."""
    beats = np.array([0.0, 0.3, 1.4, 1.9, 2.5])  # one 4/4 bar with uneven beats
    s = Score(notes=[Note(8, "melody", 60, 4, 110)], n_bars=1, beat_times_s=beats,
              programs={"melody": 0})
    a = render_audio(s, 3.0, RenderConfig(sample_rate=SR, fade_in_s=0, fade_out_s=0))
    first = int(np.argmax(np.abs(a[:, 0]) > 1e-3)) / SR
    assert abs(first - 1.4) < 0.01


def test_midi_input_and_errors(tmp_path) -> None:  # noqa: ANN001
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=40, name="melody")
    inst.notes = [pretty_midi.Note(velocity=100, pitch=67, start=0.5 * i, end=0.5 * i + 0.4) for i in range(8)]
    pm.instruments.append(inst)
    path = tmp_path / "x.mid"
    pm.write(str(path))
    a = render_audio(path, 4.0, CFG)
    b = render_audio(pm, 4.0, CFG)
    assert rms(a) > 0.01 and a.tobytes() == b.tobytes()
    with pytest.raises(InputError, match="not found"):
        render_audio(tmp_path / "missing.mid", 2.0, CFG)
    with pytest.raises(InputError, match="soundfont not found"):
        render_audio(song(), 2.0, RenderConfig(soundfont=str(tmp_path / "none.sf2")))
    with pytest.raises(OptionError, match="accepted: auto"):
        render_audio(song(), 2.0, RenderConfig(backend="timidity"))
    with pytest.raises(OptionError):
        render_audio(song(), -1.0, CFG)
    if importlib.util.find_spec("fluidsynth") is None:
        with pytest.raises(MissingDependencyError, match="pyfluidsynth"):
            render_audio(song(), 2.0, RenderConfig(backend="fluidsynth"))


def test_write_wav_round_trip_and_stems(tmp_path) -> None:  # noqa: ANN001
    a = render_audio(song(), 4.0, CFG)
    p = write_wav(a, SR, tmp_path / "mix.wav")
    with wave.open(str(p)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, SR, a.shape[0])
    back, sr = read_wav(p)
    assert sr == SR and np.max(np.abs(back - a)) < 2 / 32767
    assert not list(tmp_path.glob(".*part*"))  # no temporary left behind
    stems = write_stem_wavs(song(), tmp_path / "stems", 4.0, CFG)
    assert [s.name for s in stems] == ["melody.wav", "piano.wav", "bass.wav", "drums.wav"]
    total = np.zeros_like(a)
    for s in stems:
        x, _ = read_wav(s)
        assert x.shape == a.shape and rms(x) > 1e-3
        total += x
    # the stems went through the mix's chain, so they add up to the mix (16-bit rounding aside)
    assert rms(total - a) < 0.01 * rms(a)
    assert abs(20 * math.log10(rms(total) / rms(a))) < 0.5


def test_interrupted_wav_write_leaves_nothing(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    def boom(self, data):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(wave.Wave_write, "writeframes", boom)
    with pytest.raises(KeyboardInterrupt):
        write_wav(np.zeros((100, 2)), SR, tmp_path / "out.wav")
    assert list(tmp_path.iterdir()) == []


def test_loudness_of_silence_is_minus_inf() -> None:
    assert loudness_lufs(np.zeros((SR, 2)), SR) == -math.inf


def test_fallback_without_pedalboard(monkeypatch) -> None:  # noqa: ANN001
    """pedalboard missing: a one-line note, SciPy high-pass, no reverb; still mastered."""
    import sys

    monkeypatch.setitem(sys.modules, "pedalboard", None)  # import fails, find_spec gives None
    r = render(song(2), 4.0, CFG)
    assert any("pedalboard not installed" in n for n in r.notes)
    assert r.info["reverb"] is None and r.info["mastering"].startswith("scipy")
    assert abs(loudness_lufs(r.mix, SR) - CFG.target_lufs) < 0.5
    assert true_peak_dbtp(r.mix, SR) <= -1.0
