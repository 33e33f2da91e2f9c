"""Tokenizer: vocabulary, grammar, encode -> decode round trips, controls."""

from __future__ import annotations

import numpy as np
import pytest

from videobgm.compose import token_codes as T
from videobgm.compose.conditioning import cond_from_controls
from videobgm.compose.score_controls import controls_from_score
from videobgm.compose.tokens import Tokenizer
from videobgm.errors import InputError
from videobgm.types import TRACKS, Chord, Note, Score


def synthetic_score(seed: int = 0, n_bars: int = 6, beats_per_bar: int = 4) -> Score:
    rng = np.random.default_rng(seed)
    spb = beats_per_bar * 4
    notes = set()
    for bar in range(n_bars):
        for _ in range(int(rng.integers(0, 20))):
            onset = bar * spb + int(rng.integers(0, spb))
            track = TRACKS[int(rng.integers(0, len(TRACKS)))]
            pitch = int(rng.integers(30, 90))
            dur = int(rng.choice(T.DURATION_STEPS))
            vel = T.velocity_of_bin(int(rng.integers(1, 9)))
            notes.add(Note(onset, track, pitch, dur, vel))
    # dedupe by (onset, track, pitch)
    uniq = {}
    for n in sorted(notes):
        uniq[(n.onset_16th, n.track, n.pitch)] = n
    chords = [Chord(0, 0, "maj"), Chord(spb, 9, "min"), Chord(2 * spb + 8, 7, "7"), Chord(3 * spb, -1, "N")]
    return Score(notes=sorted(uniq.values(), key=lambda n: (n.onset_16th, TRACKS.index(n.track), n.pitch)),
                 n_bars=n_bars, beats_per_bar=beats_per_bar, tempo_bpm=100.0, key_tonic=9, mode="minor",
                 chords=chords)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("bpb", [4, 3])
def test_round_trip_exact(seed: int, bpb: int) -> None:
    tok = Tokenizer()
    s = synthetic_score(seed, beats_per_bar=bpb)
    toks, cond = tok.encode(s)
    assert toks.dtype == np.int64 and cond.dtype == np.int64
    assert toks.shape[1] == len(tok.field_names) and cond.shape == (toks.shape[0], len(tok.cond_names))
    assert (toks < np.array(tok.field_sizes)).all() and (toks >= 0).all()
    assert (cond < np.array(tok.cond_sizes)).all() and (cond >= 0).all()
    back = tok.decode(toks, beats_per_bar=bpb, tempo_bpm=100.0, key_tonic=9, mode="minor")
    assert back.n_bars == s.n_bars
    assert back.notes == s.notes  # durations on DURATION_STEPS and binned velocities survive exactly
    assert back.chords == s.chords


def test_sequence_shape_and_grammar() -> None:
    tok = Tokenizer()
    s = Score(notes=[Note(0, "piano", 48, 4, 80), Note(0, "melody", 72, 2, 100), Note(5, "melody", 74, 3, 90)],
              n_bars=2, chords=[Chord(0, 0, "maj")])
    toks, cond = tok.encode(s)
    types = toks[:, 0].tolist()
    assert types == [T.TYPE_BOS, T.TYPE_BAR, T.TYPE_POS, T.TYPE_NOTE, T.TYPE_NOTE, T.TYPE_POS, T.TYPE_NOTE,
                     T.TYPE_BAR, T.TYPE_EOS]
    # ordered by track then pitch: melody before piano
    assert toks[3, tok.F["track"]] == 1 and toks[4, tok.F["track"]] == 3
    # each row sets exactly the fields of its type
    for row in toks:
        assert ((row != 0) == tok.field_mask(int(row[0]))).all()
    # consecutive types obey next_type_mask
    for a, b in zip(types[:-1], types[1:]):
        assert tok.next_type_mask(a)[b]
    # conditioning: density of bar 0 = 3 onsets, bar 1 = 0; strength of beat 0 = 2 notes on step 0
    assert cond[1, tok.C["density"]] == T.density_bin(3)
    assert cond[7, tok.C["density"]] == T.density_bin(0)
    assert cond[2, tok.C["strength"]] == T.strength_bin(2)
    assert cond[6, tok.C["strength"]] == T.strength_bin(0)  # step 5 is in beat 1
    assert cond[1, tok.C["progress"]] == 1 and cond[7, tok.C["progress"]] == T.N_PROGRESS_BINS
    assert (cond[:, tok.C["key"]] == T.key_index(0, "major")).all()
    assert cond[2, tok.C["chord"]] == T.chord_index(0, "maj")


def test_decode_is_tolerant() -> None:
    tok = Tokenizer()
    s = synthetic_score(3)
    toks, _ = tok.encode(s)
    rng = np.random.default_rng(0)
    junk = rng.integers(0, np.array(tok.field_sizes) + 3, size=(200, len(tok.field_sizes)))
    mixed = np.concatenate([junk[:50], toks, junk[50:]])
    out = tok.decode(mixed)  # never raises
    for n in out.notes:
        assert n.track in TRACKS and 0 <= n.pitch <= 127 and n.duration_16th >= 1
        assert 0 <= n.onset_16th < out.n_steps
    # a note before any POS, a POS out of order: ignored
    bad = np.zeros((5, len(tok.field_names)), dtype=np.int64)
    bad[0, 0] = T.TYPE_BAR
    bad[1, [0, tok.F["track"], tok.F["pitch"], tok.F["duration"], tok.F["velocity"]]] = [T.TYPE_NOTE, 1, 61, 4, 5]
    bad[2, [0, tok.F["pos"], tok.F["chord"]]] = [T.TYPE_POS, 5, 1]
    bad[3, [0, tok.F["pos"], tok.F["chord"]]] = [T.TYPE_POS, 3, 1]
    bad[4, [0, tok.F["track"], tok.F["pitch"], tok.F["duration"], tok.F["velocity"]]] = [T.TYPE_NOTE, 1, 61, 4, 5]
    out = tok.decode(bad)
    assert [(n.onset_16th, n.pitch) for n in out.notes] == [(4, 60)]


def test_json_round_trip() -> None:
    tok = Tokenizer()
    tok2 = Tokenizer.from_json(tok.to_json())
    assert tok2.field_sizes == tok.field_sizes and tok2.cond_sizes == tok.cond_sizes
    d = tok.to_dict()
    d["field_sizes"] = [1, 2, 3]
    with pytest.raises(InputError):
        Tokenizer.from_json(d)
    with pytest.raises(InputError):
        Tokenizer.from_json("{not json")


def test_encode_refuses_bad_scores() -> None:
    tok = Tokenizer()
    with pytest.raises(InputError):
        tok.encode(Score(notes=[], n_bars=1, beats_per_bar=5))
    with pytest.raises(InputError):
        tok.encode(Score(notes=[Note(0, "violin", 60, 1, 80)], n_bars=1))


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    given = None

if given is not None:
    _note = st.tuples(st.integers(0, 4 * 16 - 1), st.sampled_from(TRACKS), st.integers(0, 127),
                      st.sampled_from(T.DURATION_STEPS), st.integers(1, 8))
    _chord = st.tuples(st.integers(0, 4 * 16 - 1), st.integers(-1, 11), st.sampled_from(T.CHORD_TYPES))

    @settings(max_examples=60, deadline=None)
    @given(st.lists(_note, max_size=60), st.lists(_chord, max_size=8), st.sampled_from([3, 4]))
    def test_round_trip_property(raw_notes: list, raw_chords: list, bpb: int) -> None:
        tok = Tokenizer()
        n_steps = 4 * bpb * 4
        uniq = {}
        for on, tr, p, d, vb in raw_notes:
            uniq[(on % n_steps, tr, p)] = Note(on % n_steps, tr, p, d, T.velocity_of_bin(vb))
        notes = sorted(uniq.values(), key=lambda n: (n.onset_16th, TRACKS.index(n.track), n.pitch))
        # chord labels: one per onset, consecutive duplicates merged, as decode() normalises them
        by_onset = {on % n_steps: (r, q if r >= 0 else "N") for on, r, q in raw_chords}
        chords, last = [], (-1, "N")
        for on in sorted(by_onset):
            if by_onset[on] != last:
                chords.append(Chord(on, *by_onset[on]))
                last = by_onset[on]
        s = Score(notes=notes, n_bars=4, beats_per_bar=bpb, chords=chords)
        toks, cond = tok.encode(s)
        back = tok.decode(toks, beats_per_bar=bpb)
        assert back.notes == notes and back.chords == chords and back.n_bars == 4
        assert (cond_from_controls(controls_from_score(s), toks) == cond).all()
