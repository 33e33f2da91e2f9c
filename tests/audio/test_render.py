"""render.py: soundfont synthesis of hand-made Scores and MIDI files."""

from __future__ import annotations

import importlib.util
import math
import wave

import numpy as np
import pytest

from videobgm.audio import render as render_mod
from videobgm.audio.meters import loudness_lufs, true_peak_dbtp
from videobgm.audio.render import (
    choose_soundfont,
    default_soundfont,
    read_wav,
    render,
    render_audio,
    write_stem_wavs,
    write_wav,
)
from videobgm.config import RenderConfig
from videobgm.errors import InputError, MissingDependencyError, OptionError
from videobgm.types import Chord, Note, Score

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


def test_soundfont_ships_with_pretty_midi() -> None:
    assert default_soundfont().stat().st_size > 1_000_000


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


def test_user_soundfont_path(tmp_path) -> None:  # noqa: ANN001
    import shutil

    sf = tmp_path / "my.sf2"
    shutil.copy(default_soundfont(), sf)
    a = render_audio(song(), 2.0, RenderConfig(sample_rate=SR, soundfont=str(sf)))
    assert a.tobytes() == render_audio(song(), 2.0, CFG).tobytes()
    txt = tmp_path / "x.txt"
    txt.write_text("not a soundfont")
    with pytest.raises(InputError, match=".sf2"):
        render_audio(song(), 2.0, RenderConfig(soundfont=str(txt)))
    junk = tmp_path / "junk.sf2"
    junk.write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(InputError, match="cannot load soundfont"):
        render_audio(song(), 2.0, RenderConfig(soundfont=str(junk)))


def test_bank_choice_order_and_fallback_note(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """FluidR3_GM > MuseScore General > TimGM6mb (MuseScore first with FluidSynth); a user path or
    bank name wins; none installed -> TimGM6mb and a note."""
    muse, fluid = tmp_path / "MuseScore_General.sf3", tmp_path / "FluidR3_GM.sf2"
    banks = (("musescore", "MuseScore General", (str(muse),)), ("fluidr3", "FluidR3_GM", (str(fluid),)))
    monkeypatch.setattr(render_mod, "BANKS", banks)
    auto = RenderConfig(sample_rate=SR)
    none = choose_soundfont(auto)
    assert none.name == "timgm6mb" and none.path == default_soundfont() and "TimGM6mb" in none.note
    r = render(song(1), 1.0, auto)
    assert r.info["bank"] == "TimGM6mb" and len(r.notes) == 2 and all("\n" not in n for n in r.notes)
    muse.write_bytes(b"x")
    assert choose_soundfont(auto).path == muse and choose_soundfont(auto).note is None
    fluid.write_bytes(b"x")
    assert choose_soundfont(auto).label == "FluidR3_GM"
    assert choose_soundfont(auto, "fluidsynth").label == "MuseScore General"
    assert choose_soundfont(RenderConfig(soundfont="FluidR3")).path == fluid
    assert choose_soundfont(RenderConfig(soundfont=str(default_soundfont()))).name == "user"
    fluid.unlink()
    with pytest.raises(InputError, match="not installed"):
        choose_soundfont(RenderConfig(soundfont="fluidr3"))


@pytest.mark.slow  # decoding the 40 MB sf3 takes 2.5 s idle, 10 s on a busy machine
@pytest.mark.skipif(not any(p.is_file() for p in map(__import__("pathlib").Path, render_mod.BANKS[0][2])),
                    reason="MuseScore General (sf3) not installed (scripts/install_soundfonts.sh)")
def test_sf3_bank_renders() -> None:
    r = render(song(2), 2.0, RenderConfig(sample_rate=SR, soundfont="musescore"), stems=True)
    assert r.info["soundfont"].endswith((".sf3", ".sf2"))
    assert r.stems is not None and all(rms(x) > 1e-3 for x in r.stems.values())


def test_fallback_without_pedalboard(monkeypatch) -> None:  # noqa: ANN001
    """pedalboard missing: a one-line note, SciPy high-pass, no reverb; still mastered."""
    import sys

    monkeypatch.setitem(sys.modules, "pedalboard", None)  # import fails, find_spec gives None
    r = render(song(2), 4.0, CFG)
    assert any("pedalboard not installed" in n for n in r.notes)
    assert r.info["reverb"] is None and r.info["mastering"].startswith("scipy")
    assert abs(loudness_lufs(r.mix, SR) - CFG.target_lufs) < 0.5
    assert true_peak_dbtp(r.mix, SR) <= -1.0


def test_sustain_pedal_holds_note_offs() -> None:
    from videobgm.audio.render import with_pedal

    ev = [(0.0, 2, "on", 0, 60, 90), (0.1, 1, "cc", 0, 64, 127), (0.5, 0, "off", 0, 60, 0),
          (0.6, 2, "on", 0, 64, 90), (0.7, 0, "off", 0, 64, 0), (1.0, 1, "cc", 0, 64, 0),
          (1.0, 2, "on", 0, 67, 90), (1.2, 0, "off", 0, 67, 0)]
    out = [(t, k, key) for t, _, k, _, key, _ in with_pedal(ev)]
    assert out == [(0.0, "on", 60), (0.6, "on", 64), (1.0, "off", 60), (1.0, "off", 64),
                   (1.0, "on", 67), (1.2, "off", 67)]
    # rendered: a short piano chord rings on under the pedal (pop) but not without it (electronic)
    s = Score(notes=[Note(0, "piano", p, 1, 90) for p in (60, 64, 67)] + [Note(0, "melody", 72, 1, 90)],
              n_bars=2, programs={"piano": 0, "melody": 0}, chords=[Chord(0, 0, "maj"), Chord(16, 7, "maj")])
    from videobgm.audio.perform import perform

    assert perform(s, style="pop").pedal_s["piano"][0] == pytest.approx((0.04, 2.0))
    assert perform(s, style="electronic").pedal_s == {}
