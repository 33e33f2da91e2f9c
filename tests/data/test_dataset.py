"""POP909 dataset: annotations, grid, split, transposition, cache and batches.

A miniature POP909 folder is synthesised for the always-run tests; the real-data tests skip when
POP909 is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import POP909
from videobgm import errors
from videobgm.compose.tokens import Tokenizer
from videobgm.data import dataset as D
from videobgm.data import pop909
from videobgm.music import midi
from videobgm.types import TRACKS, Chord, Note, Score


def _fake_song(root: Path, sid: int, *, bpb: int = 4, pickup_beats: int = 1, seed: int = 0) -> Score:
    """Write a POP909-style song folder; returns the Score (on the annotated grid) it encodes."""
    rng = np.random.default_rng(seed)
    ibi = 0.5
    n_bars = 6
    n_beats = pickup_beats + n_bars * bpb
    t = 0.2 + ibi * np.arange(n_beats + 1)
    d = root / f"{sid:03d}"
    d.mkdir(parents=True)
    rows = []
    for i, ti in enumerate(t[:-1]):
        j = i - pickup_beats
        down4 = 1.0 if bpb == 4 and j % 4 == 0 else 0.0
        down2 = 1.0 if (bpb == 4 and j % 2 == 0) or (bpb == 3 and j % 3 == 0) else 0.0
        if bpb == 3:
            down4 = 1.0 if j % 6 == 0 else 0.0
        rows.append(f"{ti} {down2} {down4}")
    (d / "beat_midi.txt").write_text("\n".join(rows) + "\n")
    spb = bpb * 4
    notes = []
    for bar in range(n_bars):
        for k in range(6):
            onset = bar * spb + int(rng.integers(0, spb))
            notes.append(Note(onset, ["melody", "bridge", "piano"][k % 3], int(rng.integers(48, 84)),
                              int(rng.integers(1, 8)), int(rng.integers(40, 120))))
    uniq = {(n.onset_16th, n.track, n.pitch): n for n in notes}
    notes = sorted(uniq.values(), key=lambda n: (n.onset_16th, TRACKS.index(n.track), n.pitch))
    # the MIDI's time axis: bar 0 of our grid starts at beat `pickup_beats`
    grid = t[pickup_beats:]
    s = Score(notes=notes, n_bars=n_bars, beats_per_bar=bpb, beat_times_s=grid, key_tonic=7, mode="major")
    pm = midi.score_to_midi(s)  # starts at the first beat: move the notes to the real times
    for inst in pm.instruments:
        for n in inst.notes:
            n.start += grid[0]
            n.end += grid[0]
    pm.write(str(d / f"{sid:03d}.mid"))
    t0 = grid[0]
    (d / "chord_midi.txt").write_text(
        f"{t[0]:.6f}\t{t0:.6f}\tN\n{t0:.6f}\t{t0 + 2 * ibi:.6f}\tG:maj/3\n"
        f"{t0 + 2 * ibi:.6f}\t{t0 + bpb * ibi:.6f}\tE:min7\n{t0 + bpb * ibi:.6f}\t{t[-1]:.6f}\tC:sus4(b7)\n")
    (d / "key_audio.txt").write_text(f"0.0\t1.0\tA:min\n1.0\t{t[-1]}\tG:maj\n")
    return s


def _pitches(s: Score) -> list[tuple[int, str, int]]:
    return [(n.onset_16th, n.track, n.pitch) for n in s.notes]


@pytest.mark.parametrize("bpb", [4, 3])
def test_load_song_uses_annotations(tmp_path: Path, bpb: int) -> None:
    truth = _fake_song(tmp_path, 38, bpb=bpb, pickup_beats=1)
    s, info = pop909.load_song(tmp_path / "038")
    assert s.beats_per_bar == bpb and info.beats_per_bar == bpb
    # the pickup beat becomes an extrapolated part of bar 0 or removed as a leading empty bar
    assert _pitches(s) == _pitches(truth)
    assert info.notes_kept == info.notes_in_midi == len(truth.notes)
    assert (s.key_tonic, s.mode) == (7, "major")  # the longest key label
    assert s.chords[:3] == [Chord(0, 7, "maj"), Chord(8, 4, "min7"), Chord(bpb * 4, 0, "sus4")]
    assert np.allclose(s.beat_times()[: 6 * bpb + 1], truth.beat_times()[: 6 * bpb + 1], atol=1e-3)


def test_segments_follow_irregular_downbeats(tmp_path: Path) -> None:
    """A 2-beat bar in the annotation splits the song; every segment bar line is a downbeat."""
    import pretty_midi

    gaps = [4] * 5 + [2] + [4] * 6
    down = np.concatenate([[0], np.cumsum(gaps)])
    n_beats = int(down[-1]) + 4
    t = 0.1 + 0.5 * np.arange(n_beats + 1)
    d = tmp_path / "099"
    d.mkdir()
    is_down = np.isin(np.arange(n_beats), down)
    (d / "beat_midi.txt").write_text("".join(f"{t[i]} {float(is_down[i])} {float(is_down[i])}\n"
                                             for i in range(n_beats)))
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0, name="PIANO")
    for b in range(n_beats):  # a loud chord on every annotated downbeat, a soft note on other beats
        pitches = (48, 52, 55) if is_down[b] else (60,)
        for p in pitches:
            inst.notes.append(pretty_midi.Note(velocity=100 if is_down[b] else 50, pitch=p,
                                               start=t[b], end=t[b] + 0.4))
    pm.instruments.append(inst)
    pm.write(str(d / "099.mid"))
    whole, segs, info = pop909.load_song_segments(d)
    assert [s.n_bars for s in segs] == [5, 7]
    for s in segs:
        chord_onsets = {n.onset_16th for n in s.notes if n.pitch == 48}
        assert chord_onsets == set(range(0, s.n_steps, 16))
    assert info.notes_in_segments == info.notes_kept - 4  # the 2-beat bar (chord + 1 note) is left out
    assert whole.n_bars == 13 and info.irregular_bars == 1


def test_parse_chord_and_split() -> None:
    assert pop909.parse_chord("N") == (-1, "N")
    assert pop909.parse_chord("C#:maj/5") == (1, "maj")
    assert pop909.parse_chord("Bb:hdim7") == (10, "dim")
    assert pop909.parse_chord("A:min7/b7") == (9, "min7")
    assert pop909.parse_chord("H:maj") is None and pop909.parse_chord("C:weird") is None
    splits = [pop909.split_of(i) for i in range(1, 910)]
    assert splits.count("test") / 909 >= 0.05 and splits.count("val") >= 45
    assert pop909.split_of(19) == "test" and pop909.split_of(20) == "val" and pop909.split_of(21) == "train"


def test_transpose_tokens_equals_transpose_score(tmp_path: Path) -> None:
    tok = Tokenizer()
    s = _fake_song(tmp_path, 5, seed=3)
    s = Score(notes=s.notes + [Note(3, "drums", 36, 1, 100)], n_bars=s.n_bars,
              chords=[Chord(0, 7, "maj"), Chord(16, 4, "min7"), Chord(40, -1, "N")], key_tonic=7, mode="minor")
    s.notes.sort(key=lambda n: (n.onset_16th, TRACKS.index(n.track), n.pitch))
    t, c = tok.encode(s)
    for k in (-5, 3, 6):
        t2, c2 = D.transpose_tokens(t, c, k, tok)
        t3, c3 = tok.encode(D.transpose_score(s, k))
        assert (t2 == t3).all() and (c2 == c3).all()


def test_cache_load_dataset_and_batches(tmp_path: Path) -> None:
    root = tmp_path / "POP909"
    for sid, seed in ((19, 0), (20, 1), (21, 2), (22, 3)):
        _fake_song(root, sid, seed=seed)
    tok = Tokenizer()
    cache = tmp_path / "cache"
    train = D.load_dataset(root, "train", tok, cache_dir=cache)
    assert len(train) == 2 and len(D.load_dataset(root, "test", tok, cache_dir=cache)) == 1
    files = list(cache.glob("*.npz"))
    assert len(files) == 1
    again = D.load_dataset(root, "train", tok, cache_dir=cache)  # from the cache
    assert all((a[0] == b[0]).all() and (a[1] == b[1]).all() for a, b in zip(train, again))
    _, segs, _ = pop909.load_song_segments(root / "021")
    assert len(segs) == 1 and (train[0][0] == tok.encode(segs[0])[0]).all()
    stats = D.load_cache(root, tok, cache_dir=cache)["stats"]
    assert stats["songs"] == 4 and stats["note_survival"] == 1.0 and stats["roundtrip_exact_songs"] == 4
    assert stats["segments"] == 4 and stats["notes_in_segments"] == 1.0

    b1 = D.iter_batches(train, 3, 64, seed=7)
    b2 = D.iter_batches(train, 3, 64, seed=7)
    for _ in range(3):
        (x1, c1, m1), (x2, c2, m2) = next(b1), next(b2)
        assert x1.shape == (3, 64, len(tok.field_names)) and c1.shape == (3, 64, len(tok.cond_names))
        assert (x1 == x2).all() and (c1 == c2).all() and (m1 == m2).all()
        assert set(np.unique(x1[:, 0, 0])) <= {tok.TYPE_BOS, tok.TYPE_BAR}
        assert (x1[~m1] == 0).all()
        assert (x1 < np.array(tok.field_sizes)).all()
    with pytest.raises(errors.InputError):
        D.load_dataset(root, "nope", tok, cache_dir=cache)


@pytest.mark.skipif(not POP909.is_dir(), reason="POP909 not available")
def test_pop909_test_split_round_trip() -> None:
    """Acceptance: every test song round-trips exactly; >= 98 % of notes survive quantisation."""
    tok = Tokenizer()
    kept = total = 0
    dirs = pop909.song_dirs(POP909, "test")
    assert len(dirs) >= 45
    for d in dirs:
        s, info = pop909.load_song(d)
        kept += info.notes_kept
        total += info.notes_in_midi
        t, _ = tok.encode(s)
        back = tok.decode(t, beats_per_bar=s.beats_per_bar)
        assert _pitches(back) == _pitches(s), d.name
        assert back.n_bars == s.n_bars
    assert kept / total >= 0.98


def test_segment_key_follows_modulation(tmp_path: Path) -> None:
    """A key change in key_audio.txt reaches the segments it overlaps (whole song: longest key)."""
    import pretty_midi

    gaps = [4] * 6 + [2] + [4] * 4  # two segments: bars 0-5 and 4 bars after the 2-beat bar
    down = np.concatenate([[0], np.cumsum(gaps)])
    n_beats = int(down[-1]) + 4
    t = 0.5 * np.arange(n_beats + 1)
    d = tmp_path / "077"
    d.mkdir()
    is_down = np.isin(np.arange(n_beats), down)
    (d / "beat_midi.txt").write_text("".join(f"{t[i]} {float(is_down[i])} {float(is_down[i])}\n"
                                             for i in range(n_beats)))
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0, name="MELODY")
    inst.notes += [pretty_midi.Note(velocity=80, pitch=60 + b % 7, start=t[b], end=t[b] + 0.4) for b in range(n_beats)]
    pm.instruments.append(inst)
    pm.write(str(d / "077.mid"))
    switch = t[int(down[7])]  # modulation at the start of the second segment
    (d / "key_audio.txt").write_text(f"0.0\t{switch}\tC:maj\n{switch}\t{t[-1]}\tD:min\n")
    whole, segs, info = pop909.load_song_segments(d)
    assert [s.n_bars for s in segs] == [6, 5]
    assert [(s.key_tonic, s.mode) for s in segs] == [(0, "major"), (2, "minor")]
    assert (whole.key_tonic, whole.mode) == (0, "major") and info.key_changes == 1
