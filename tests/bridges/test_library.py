"""library.py: songs cut into phrase entries (key, tempo, density, chords, text), MIDI folders
and POP909 as sources, and `videobgm index` building an index from them."""

from __future__ import annotations

import pytest

from tests.bridges.test_retrieve import make_score
from tests.conftest import POP909
from videobgm.bridges import library, retrieve


@pytest.fixture(scope="module")
def scores():
    return [make_score("bright", 0, "major", 126.0, velocity=100),
            make_score("dark", 9, "minor", 68.0, notes_per_bar=(13, 16), velocity=50)]


def test_phrase_entries(scores):
    es = library.phrase_entries(scores[0], source="test")
    assert [e["id"] for e in es] == ["test:bright:bars0-8", "test:bright:bars8-16"]
    e0, e1 = es
    assert e0["mode"] == "major" and e0["key_tonic"] == 0 and e0["tempo_bpm"] == pytest.approx(126.0)
    assert e0["density_per_bar"] == [12] * 8 and e1["density_per_bar"] == [24] * 8
    assert e1["energy"] > e0["energy"]
    assert [(c.root, c.quality) for c in e0["chords_obj"][:4]] == [(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")]
    assert e0["chords_obj"][1].onset_16th == 16  # relative to the phrase start
    assert "C major at 126 bpm" in e0["text"] and "fast" in e0["text"]


def test_midi_folder_and_cli(scores, tmp_path, capsys):
    from videobgm.apps.cli.main import main
    from videobgm.music.midi import write_midi

    lib = tmp_path / "lib"
    (lib / "sub").mkdir(parents=True)
    write_midi(scores[1], lib / "sub" / "dark.mid")
    write_midi(scores[0], lib / "bright.mid")
    (lib / "broken.mid").write_bytes(b"MThd junk")
    read = library.midi_folder_scores(lib, on_error=lambda p, m: None)
    by_name = {s.name: s for s in read}
    assert set(by_name) == {"bright", "sub/dark"}
    assert (by_name["sub/dark"].key_tonic, by_name["sub/dark"].mode) == (9, "minor")
    assert by_name["bright"].tempo_bpm == pytest.approx(126.0, abs=0.5)
    out = tmp_path / "myindex"
    assert main(["index", str(lib), "-o", str(out), "--no-embed"]) == 0
    assert "skipped" in capsys.readouterr().err
    idx = retrieve.load_index(out)
    assert len(idx) == 4 and {e["mode"] for e in idx.entries} == {"major", "minor"}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["index", str(empty), "-o", str(tmp_path / "x")]) == 2
    assert "no .mid" in capsys.readouterr().err


@pytest.mark.skipif(not POP909.is_dir(), reason="POP909 not available")
def test_pop909_phrases_use_annotations():
    pytest.importorskip("videobgm.data.dataset")
    sc = next(iter(library.pop909_scores(POP909, split="test", limit=1)))
    es = library.phrase_entries(sc, source="pop909")
    assert es and all(e["n_bars"] == 8 and len(e["density_per_bar"]) == 8 for e in es)
    assert all(40 <= e["tempo_bpm"] <= 200 for e in es)
    assert sum(len(e["chords_obj"]) for e in es) >= len(es)
