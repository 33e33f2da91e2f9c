"""Chord recognition from notes and chord accuracy, with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from videobgm.errors import InputError
from videobgm.eval import chords as C
from videobgm.types import Chord, Note, Score

TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "sus4": (0, 5, 7)}


def _block(beat: int, root: int, quality: str, *, bass_octave: int = 3, track: str = "piano") -> list[Note]:
    """One beat of a root-position chord: the root in the bass, the chord above it."""
    notes = [Note(4 * beat, track, 12 * (bass_octave + 1) + root, 4, 70)]
    notes += [Note(4 * beat, track, 60 + root + i, 4, 70) for i in TRIADS[quality]]
    return notes


def test_beat_chroma_counts_steps_bass_and_onsets() -> None:
    # beat 0: C (2 steps) under E (4 steps); a G starts at step 3 and lasts into beat 1
    s = Score(notes=[Note(0, "piano", 48, 2, 70), Note(0, "melody", 64, 4, 70), Note(3, "melody", 67, 2, 70),
                     Note(0, "drums", 36, 1, 100)], n_bars=1)
    bc = C.beat_chroma(s)
    assert bc.chroma.shape == (4, 12)
    assert bc.chroma[0, 0] == 2 and bc.chroma[0, 4] == 4 and bc.chroma[0, 7] == 1 and bc.chroma[1, 7] == 1
    # lowest pitch per step: C on steps 0-1, E on 2-3 (drums never count)
    assert bc.bass[0, 0] == 2 and bc.bass[0, 4] == 2 and bc.bass[1, 7] == 1
    assert bc.onset[0].tolist() == [1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0] and bc.onset[1].sum() == 0
    assert bc.sounding.tolist() == [True, True, False, False]
    f = bc.features()
    assert f.shape == (4, 36) and not f[2:].any()
    assert f[:2].reshape(2, 3, 12).sum(2).round(9).tolist() == [[1, 1, 1], [1, 1, 0]]  # no onset in beat 1


@pytest.mark.parametrize("method", C.METHODS)
def test_clear_triads_on_every_root(method: str) -> None:
    notes, chords = [], []
    for k, (root, q) in enumerate((r, q) for r in range(12) for q in ("maj", "min")):
        notes += _block(k, root, q)
        chords.append(Chord(4 * k, root, q))
    s = Score(notes=sorted(notes), n_bars=6, chords=chords)
    got = C.recognise(s, method=method)
    assert got == [(c.root, c.quality) for c in chords]
    acc = C.chord_accuracy(s, method=method)
    assert (acc["correct"], acc["beats"], acc["accuracy"]) == (24, 24, 1.0)
    # a semitone off, every beat is wrong
    shifted = [Chord(c.onset_16th, (c.root + 1) % 12, c.quality) for c in chords]
    assert C.chord_accuracy(s, shifted, method=method)["accuracy"] == 0.0


def test_learned_recogniser_uses_the_bass() -> None:
    """C-E-G over a C bass with a long A in the melody (C6): the chroma template matcher calls
    it Am7, the learned recogniser, which sees that C is the bass, C major."""
    notes = [Note(0, "piano", 48, 4, 70), Note(0, "piano", 64, 4, 70), Note(0, "piano", 67, 4, 70),
             Note(0, "melody", 69, 4, 80), Note(0, "melody", 81, 2, 80)]
    s = Score(notes=notes, n_bars=1, chords=[Chord(0, 0, "maj")])
    assert C.recognise(s, method="template")[0] == (9, "min")
    assert C.chord_accuracy(s, method="template")["tolerant_accuracy"] == 0.0
    assert C.recognise(s, method="learned")[0] == (0, "maj")


def test_accuracy_counts_only_beats_with_a_chord_and_notes() -> None:
    notes = _block(0, 0, "maj") + _block(2, 7, "maj")  # beats 1 and 3 are silent
    s = Score(notes=sorted(notes), n_bars=1, chords=[Chord(0, 0, "maj"), Chord(8, -1, "N")])
    assert C.chord_accuracy(s) == {"correct": 1, "beats": 1, "accuracy": 1.0}  # beat 2 has no chord
    assert C.recognise(s)[1] is None
    assert C.requested_per_beat([Chord(0, 0, "min7"), Chord(4, 9, "7")], 2) == [(0, "min"), (9, "maj")]
    empty = Score(notes=[], n_bars=1, chords=[Chord(0, 0, "maj")])
    assert np.isnan(C.chord_accuracy(empty)["accuracy"])
    with pytest.raises(InputError):
        C.recognise(s, method="nope")


def _synthetic_corpus(n_bars: int, seed: int) -> list[Score]:
    """Songs of random triads (random voicing, root in the bass) with a sixth (root + 9) in the
    melody on every second beat: C-E-G-A is Am7 to a chroma template, the bass says C."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(4):
        notes, chords = [], []
        for b in range(n_bars * 4):
            root, q = int(rng.integers(12)), str(rng.choice(list(TRIADS)))
            chords.append(Chord(4 * b, root, q))
            notes.append(Note(4 * b, "piano", 36 + root, 4, 70))
            for i in TRIADS[q]:
                notes.append(Note(4 * b, "piano", 60 + (root + i) % 12 + 12 * int(rng.integers(2)), 4, 70))
            if b % 2:
                notes.append(Note(4 * b + 1, "melody", 84 + (root + 9) % 12, 3, 80))
        out.append(Score(notes=sorted(set(notes)), n_bars=n_bars, chords=chords))
    return out


def test_fit_recogniser_learns_a_synthetic_corpus(tmp_path) -> None:  # noqa: ANN001
    train, test = _synthetic_corpus(16, 0), _synthetic_corpus(8, 1)
    w = C.fit_recogniser(train)
    assert w.shape == (len(C.FAMILIES), C.N_FEATURES + 1)
    acc = [C.chord_accuracy(s, method="learned", weights=w)["accuracy"] for s in test]
    tmpl = [C.chord_accuracy(s, method="template")["accuracy"] for s in test]
    assert min(acc) >= 0.97 and np.mean(acc) > np.mean(tmpl) + 0.05, (acc, tmpl)
    # round trip through the file format
    p = tmp_path / "rec.json"
    C.save_weights(p, w, {"data": "synthetic"})
    w2, prov = C.load_weights(p)
    assert np.allclose(w, w2, atol=1e-6) and prov == {"data": "synthetic"}
    with pytest.raises(InputError):
        C.fit_recogniser([Score(notes=[], n_bars=1)])


def test_load_weights_errors(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(InputError, match="cannot read"):
        C.load_weights(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"weights": [[1.0, 2.0]]}))
    with pytest.raises(InputError, match="shape"):
        C.load_weights(bad)


def test_packaged_recogniser_provenance() -> None:
    _, prov = C.load_weights()
    agree = prov["agreement_with_annotations"]
    # held-out POP909 songs: the learned recogniser agrees with the annotations more often
    assert agree["val"]["learned"] > agree["val"]["template"]
    assert "train split" in prov["fitted_on"]
