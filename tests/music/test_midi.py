"""MIDI writing/reading: grid-exact round trips, tempo map, determinism, stems, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests._reliability import (  # the fixtures (files, sample_video, ...) come through tests/conftest.py
    FUZZ,
    HEAVY,
    _flip,
    _outcome,
    flips_st,
    time_limit,
)
from tests.conftest import POP909
from videobgm.config import MidiConfig
from videobgm.errors import InputError
from videobgm.music import midi
from videobgm.types import Chord, Note, Score


def _score(beat_times: np.ndarray | None = None, bpb: int = 4) -> Score:
    notes = [
        Note(0, "melody", 72, 4, 100), Note(0, "piano", 48, 16, 70), Note(3, "bridge", 67, 1, 60),
        Note(5, "bass", 36, 3, 90), Note(8, "drums", 36, 1, 110), Note(8, "drums", 42, 1, 80),
        Note(17, "melody", 74, 7, 95), Note(2 * 4 * bpb - 1, "piano", 60, 2, 64),
    ]
    return Score(notes=sorted(notes, key=lambda n: (n.onset_16th, n.track, n.pitch)), n_bars=2,
                 beats_per_bar=bpb, tempo_bpm=100.0, key_tonic=2, mode="minor",
                 chords=[Chord(0, 2, "min")], beat_times_s=beat_times, programs={"melody": 73})


def _key(s: Score) -> list[tuple]:
    return sorted((n.onset_16th, n.track, n.pitch, n.duration_16th, n.velocity) for n in s.notes)


def test_score_to_midi_times_and_programs() -> None:
    s = _score()
    pm = midi.score_to_midi(s, MidiConfig())
    names = [i.name for i in pm.instruments]
    assert names == ["MELODY", "BRIDGE", "PIANO", "BASS", "DRUMS"]
    mel = pm.instruments[0]
    assert mel.program == 73 and pm.instruments[3].program == MidiConfig().program_bass
    assert pm.instruments[4].is_drum
    st = s.step_times()
    assert mel.notes[1].start == pytest.approx(st[17], abs=1e-4)
    assert mel.notes[0].end == pytest.approx(st[4], abs=1e-4)
    assert np.allclose(pm.get_beats()[:8], s.beat_times()[:8], atol=1e-4)


@pytest.mark.parametrize("bpb", [4, 3])
def test_write_read_round_trip_with_varying_tempo(tmp_path: Path, bpb: int) -> None:
    rng = np.random.default_rng(1)
    bt = np.concatenate([[0.0], np.cumsum(rng.uniform(0.4, 0.8, size=2 * bpb))])
    s = _score(bt, bpb)
    path = midi.write_midi(s, tmp_path / "a.mid")
    back = midi.read_midi(path, beats_per_bar=bpb)
    assert _key(back) == _key(s)
    assert back.n_bars == s.n_bars and back.key_tonic == 2 and back.mode == "minor"
    assert np.allclose(back.beat_times(), bt, atol=1e-3)
    # quantising with the given beat times gives the same answer
    back2 = midi.read_midi(path, beat_times_s=bt, beats_per_bar=bpb)
    assert _key(back2) == _key(s)


def test_write_is_deterministic_and_atomic(tmp_path: Path) -> None:
    s = _score()
    a = midi.write_midi(s, tmp_path / "a.mid").read_bytes()
    b = midi.write_midi(s, tmp_path / "b.mid").read_bytes()
    assert a == b
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mid", "b.mid"]  # no temporary files left
    bad = Score(notes=[Note(0, "melody", 60, 1, 80)], n_bars=1, beat_times_s=np.array([0, 1, 1, 2, 3.0]))
    with pytest.raises(InputError):
        midi.write_midi(bad, tmp_path / "c.mid")
    assert not (tmp_path / "c.mid").exists()


def test_write_stems(tmp_path: Path) -> None:
    s = _score()
    paths = midi.write_stems(s, tmp_path / "stems")
    assert list(paths) == ["melody", "bridge", "piano", "bass", "drums"]
    for track, p in paths.items():
        back = midi.read_midi(p)
        assert {n.track for n in back.notes} == {track}
        assert _key(back) == sorted(k for k in _key(s) if k[1] == track)


def test_quantisation_of_off_grid_notes(tmp_path: Path) -> None:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)  # 16th = 0.125 s
    inst = pretty_midi.Instrument(program=0, name="Lead")
    inst.notes += [pretty_midi.Note(velocity=80, pitch=60, start=0.13, end=0.49),
                   pretty_midi.Note(velocity=80, pitch=62, start=0.99, end=1.01)]
    pm.instruments.append(inst)
    bass = pretty_midi.Instrument(program=33)
    bass.notes.append(pretty_midi.Note(velocity=80, pitch=40, start=0.0, end=0.5))
    pm.instruments.append(bass)
    pm.write(str(tmp_path / "x.mid"))
    s = midi.read_midi(tmp_path / "x.mid")
    assert [(n.onset_16th, n.track, n.pitch, n.duration_16th) for n in s.notes] == [
        (0, "bass", 40, 4), (1, "piano", 60, 3), (8, "piano", 62, 1)]
    assert s.tempo_bpm == pytest.approx(120.0)


def test_bad_midi_files(tmp_path: Path) -> None:
    import pretty_midi

    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06garbage" + bytes(range(50)))
    with pytest.raises(InputError, match="not a readable MIDI"):
        midi.read_midi(corrupt)
    with pytest.raises(InputError, match="not found"):
        midi.read_midi(tmp_path / "missing.mid")
    empty = tmp_path / "empty.mid"
    pretty_midi.PrettyMIDI().write(str(empty))
    with pytest.raises(InputError, match="no notes.*empty.mid"):
        midi.read_midi(empty)
    fast = tmp_path / "fast.mid"
    pm = pretty_midi.PrettyMIDI(initial_tempo=5000.0)
    inst = pretty_midi.Instrument(0)
    inst.notes.append(pretty_midi.Note(velocity=80, pitch=60, start=0.0, end=0.01))
    pm.instruments.append(inst)
    pm.write(str(fast))
    with pytest.raises(InputError, match="absurd tempo"):
        midi.read_midi(fast)
    # drums only: a valid Score with only the drums track
    drums = tmp_path / "drums.mid"
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(0, is_drum=True)
    inst.notes.append(pretty_midi.Note(velocity=100, pitch=36, start=0.0, end=0.1))
    pm.instruments.append(inst)
    pm.write(str(drums))
    s = midi.read_midi(drums)
    assert {n.track for n in s.notes} == {"drums"}


@pytest.mark.skipif(not POP909.is_dir(), reason="POP909 not available")
def test_pop909_song_write_read_round_trip(tmp_path: Path) -> None:
    from videobgm.data.pop909 import load_song

    s, _ = load_song(POP909 / "001")
    path = midi.write_midi(s, tmp_path / "001.mid")
    back = midi.read_midi(path, beats_per_bar=s.beats_per_bar)
    assert _key(back) == _key(s)
    bt = s.beat_times()
    assert np.allclose(back.beat_times()[: len(bt)], bt - bt[0], atol=1e-3)


# ----------------------------------------------------------------------------------------------
# fuzzed and truncated MIDI
# ----------------------------------------------------------------------------------------------
def check_midi(path: Path) -> str:
    from videobgm.music.midi import read_midi
    from videobgm.types import TRACKS

    try:
        with time_limit(30):
            s = read_midi(path)
    except InputError as exc:
        return _outcome(exc, path)
    assert s.n_bars >= 1 and s.notes
    assert all(n.track in TRACKS and 0 <= n.pitch <= 127 and n.duration_16th >= 1
               and 1 <= n.velocity <= 127 and 0 <= n.onset_16th < s.n_steps for n in s.notes)
    bt = s.beat_times()
    assert np.all(np.isfinite(bt)) and np.all(np.diff(bt) > 0)
    return "ok"


@FUZZ
@given(flips=flips_st, region=st.sampled_from(["all", "head"]))
def test_fuzz_midi_byte_flips(tmp_path, sample_midi, flips, region):
    p = tmp_path / "fuzz.mid"
    p.write_bytes(_flip(sample_midi, flips, region))
    event(f"{region}: {check_midi(p)}")


@FUZZ
@given(frac=st.floats(0, 1))
def test_fuzz_midi_truncation(tmp_path, sample_midi, frac):
    p = tmp_path / "cut.mid"
    p.write_bytes(sample_midi[: int(frac * len(sample_midi))])
    event(check_midi(p))


@pytest.mark.slow
@HEAVY
@given(flips=flips_st, frac=st.floats(0.0, 1))
def test_fuzz_midi_heavy(tmp_path, sample_midi, flips, frac):
    p = tmp_path / "fuzz.mid"
    p.write_bytes(_flip(sample_midi[: int(frac * len(sample_midi))] or b"M", flips, "all"))
    event(check_midi(p))


def test_midi_edge_cases(tmp_path, sample_midi):
    cases = {"empty.mid": b"", "text.mid": b"hello, not midi\n", "header_only.mid": sample_midi[:14],
             "random.mid": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert check_midi(tmp_path / name).startswith("error"), name
    assert check_midi(tmp_path / "missing.mid").startswith("error")
