"""``videobgm eval``: table, JSON, CSV, reference gap, bad inputs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from videobgm.apps.cli.main import main
from videobgm.eval.symbolic import METRIC_NAMES, compute_all
from videobgm.music import midi
from videobgm.types import Note, Score

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def _scale_piece(n_bars: int, shift: int = 0) -> Score:
    notes = [Note(4 * i, "melody", C_MAJOR[i % 8] + shift, 4, 80) for i in range(4 * n_bars)]
    return Score(notes=notes, n_bars=n_bars, key_tonic=shift % 12)


def _half_silent(n_bars: int) -> Score:
    return Score(notes=[Note(8 * i, "piano", 60 + (i % 3), 4, 80) for i in range(2 * n_bars)], n_bars=n_bars)


@pytest.fixture()
def sets(tmp_path: Path) -> tuple[Path, Path]:
    inp, ref = tmp_path / "in", tmp_path / "ref"
    midi.write_midi(_scale_piece(8), inp / "a.mid")
    midi.write_midi(_scale_piece(8, shift=2), inp / "sub" / "b.mid")
    midi.write_midi(_half_silent(8), ref / "r.mid")
    return inp, ref


def test_eval_json_csv_and_gap(sets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    inp, ref = sets
    js, cs = tmp_path / "out.json", tmp_path / "out.csv"
    rc = main(["-q", "eval", str(inp), "--reference", str(ref), "--json", str(js), "--csv", str(cs)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "scale_consistency" in out and "gap" in out
    rep = json.loads(js.read_text())
    assert rep["inputs"]["n_files"] == 2 and rep["reference"]["n_files"] == 1
    a = rep["inputs"]["per_file"][str(inp / "a.mid")]
    assert a["scale_consistency"] == 1.0 and a["pitch_in_scale_rate"] == 1.0  # key signature written
    assert a["empty_beat_rate"] == 0.0
    r = rep["reference"]["mean"]
    assert r["empty_beat_rate"] == 0.5
    # the JSON values are those of compute_all on the (written and re-read) scores
    expect = compute_all(midi.read_midi(inp / "a.mid"))
    for k in METRIC_NAMES:
        assert (a[k] is None and math.isnan(expect[k])) or a[k] == pytest.approx(expect[k])
    g = rep["gap"]["pitch_entropy"]
    assert g == pytest.approx((rep["inputs"]["mean"]["pitch_entropy"] - r["pitch_entropy"]) / r["pitch_entropy"])
    rows = list(csv.reader(cs.open()))
    assert rows[0][:2] == ["set", "file"] and rows[0][2:] == list(METRIC_NAMES)
    assert [row[0] for row in rows[1:]] == ["inputs", "inputs", "inputs", "reference", "reference", "gap"]


@pytest.mark.parametrize("name", ["papers", "muspy"])  # muspy: the old name, still accepted
def test_eval_papers_convention(sets: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    _, ref = sets
    js = tmp_path / "m.json"
    assert main(["-q", "eval", str(ref), "--convention", name, "--no-structure", "--json", str(js)]) == 0
    rep = json.loads(js.read_text())
    assert rep["convention"] == "papers"
    mean = rep["inputs"]["mean"]
    # muspy counts the beat a note ends on as filled: no empty beat in the half-silent piece
    assert mean["empty_beat_rate"] == 0.0
    assert mean["si_mid"] is None
    # mgeval avg_IOI: one note every 2 beats at 120 bpm
    assert mean["avg_ioi_s"] == pytest.approx(1.0)
    assert "ioi_unique_onsets_s" not in mean and "grooving_similarity" not in mean
    with pytest.raises(SystemExit) as exc:
        main(["-q", "eval", str(ref), "--convention", "nope"])
    assert exc.value.code == 2


def test_eval_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["-q", "eval", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.mid").write_bytes(b"MThd garbage")
    assert main(["-q", "eval", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "no readable MIDI" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    assert main(["-q", "eval", str(tmp_path / "empty")]) == 2
    # a corrupt file next to a good one is skipped and reported, the rest is evaluated
    midi.write_midi(_scale_piece(2), bad / "good.mid")
    js = tmp_path / "s.json"
    assert main(["-q", "eval", str(bad), "--json", str(js)]) == 0
    rep = json.loads(js.read_text())
    assert rep["inputs"]["n_files"] == 1 and list(rep["inputs"]["skipped"]) == [str(bad / "x.mid")]


def test_eval_drums_only_gives_nan_not_crash(tmp_path: Path) -> None:
    s = Score(notes=[Note(4 * i, "drums", 36, 1, 100) for i in range(8)], n_bars=2)
    midi.write_midi(s, tmp_path / "d.mid")
    js = tmp_path / "d.json"
    assert main(["-q", "eval", str(tmp_path / "d.mid"), "--json", str(js)]) == 0
    m = json.loads(js.read_text())["inputs"]["per_file"][str(tmp_path / "d.mid")]
    assert m["pitch_entropy"] is None and m["empty_beat_rate"] == 0.0


def test_eval_pop909_split_applies_to_the_pop909_folder(sets: tuple[Path, Path], tmp_path: Path) -> None:
    from tests.data.test_dataset import _fake_song

    root = tmp_path / "POP909"
    _fake_song(root, 19, seed=1)  # test split
    _fake_song(root, 21, seed=2)  # train split
    inp, _ = sets
    js = tmp_path / "p.json"
    assert main(["-q", "eval", str(inp), "--reference", str(root), "--pop909-split", "test",
                 "--no-structure", "--json", str(js)]) == 0
    rep = json.loads(js.read_text())
    assert rep["inputs"]["n_files"] == 2
    assert list(rep["reference"]["per_file"]) == [str(root / "019" / "019.mid")]
    # read on its annotations: the key comes from key_audio.txt (G major), so pitch-in-scale is set
    assert rep["reference"]["mean"]["pitch_in_scale_rate"] is not None
