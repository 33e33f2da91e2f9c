"""``videobgm analyze``: JSON + plot outputs, and one-line refusals (exit 2) for bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests._badvideos import make_bad_inputs
from videobgm.apps.cli.main import main
from videobgm.schema import read_features


def test_analyze_writes_json_and_plot(square_video, tmp_path, capsys):
    out, png = tmp_path / "f.json", tmp_path / "f.png"
    rc = main(["-q", "analyze", str(square_video["path"]), "-o", str(out), "--plot", str(png)])
    assert rc == 0
    text = out.read_text()
    assert len(text.splitlines()) < 120  # compact: every array on one line
    f = read_features(json.loads(text))
    assert f.tempo_bpm == pytest.approx(120.0, rel=0.02)
    assert f.frame_times_s.size == 360
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    printed = re.search(r"visual tempo ([\d.]+) bpm", capsys.readouterr().out)
    assert printed and float(printed.group(1)) == pytest.approx(120.0, rel=0.02)
    assert not list(tmp_path.glob(".*part*"))  # no temporary files left


def test_analyze_default_output_name(static_video, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "analyze", str(static_video["path"])]) == 0
    assert (tmp_path / "static.features.json").is_file()


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return make_bad_inputs(tmp_path_factory.mktemp("bad_cli"))


@pytest.mark.parametrize("kind", [
    "missing", "text", "zero_bytes", "zero_length", "audio_only", "truncated",
    "corrupt_payload", "random_bytes", "unknown_codec",
])
def test_bad_input_exit_2_one_line(bad_inputs, kind, tmp_path):
    out = tmp_path / "f.json"
    proc = subprocess.run(
        [sys.executable, "-m", "videobgm", "analyze", str(bad_inputs[kind]), "-o", str(out)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("videobgm: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_plot_must_be_png(static_video, tmp_path, capsys):
    assert main(["analyze", str(static_video["path"]), "-o", str(tmp_path / "f.json"),
                 "--plot", str(tmp_path / "f.jpg")]) == 2
    assert "png" in capsys.readouterr().err
