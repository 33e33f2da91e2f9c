"""The command line starts fast and reports user errors in one line."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests._reliability import (  # the fixtures (files, sample_video, ...) come through tests/conftest.py
    TINY,
    assert_cli_error,
    cli,
    valid_mp4,
    visible_files,
    write_audio_only,
)
from tests.test_schema import _refused, _run  # noqa: F401 (shared with test_schema.py)
from videobgm.apps.cli.main import main


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys, time; t=time.perf_counter(); "
        "from videobgm.apps.cli.main import build_parser; build_parser().format_help(); "
        "heavy=[m for m in ('torch','cv2','av','gradio','ray','matplotlib','scipy') if m in sys.modules]; "
        "print(heavy, time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy, _ = out.stdout.rsplit(" ", 1)
    assert heavy.strip() == "[]"


def test_help_subprocess_wall_time():
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "videobgm", "--help"], capture_output=True, check=True)
    assert time.perf_counter() - t0 < 3.0  # generous for a loaded CI box; typically ~0.05 s


def test_no_command_prints_help_and_returns_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_cli_bad_inputs_one_line(files, tmp_path):
    (files / "zero.mp4").write_bytes(b"")
    write_audio_only(files / "audio.mp4")
    (files / "text.mp4").write_text("this is not a video\n")
    for name, frag in {"zero.mp4": "empty", "audio.mp4": "audio-only", "text.mp4": "not a readable",
                       "missing.mp4": "not found"}.items():
        assert_cli_error(cli("score", files / name, "-o", tmp_path / "o.mp4", *TINY), frag)
    assert visible_files(tmp_path) == []


def test_cli_non_ascii_and_spaces_in_paths(tmp_path, short_clip):
    d = tmp_path / "vidéos à noter 日本"
    d.mkdir()
    src = d / "clip ü 1.mp4"
    src.write_bytes(short_clip.read_bytes())
    out = tmp_path / "sortie é" / "résultat final ✓.mp4"
    proc = cli("score", src, "-o", out, "--midi", out.with_suffix(".mid"), *TINY)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dur, has_audio = valid_mp4(out)
    assert has_audio and abs(dur - 3.0) < 0.5 and out.with_suffix(".mid").stat().st_size > 0


FSIZE_SCRIPT = r"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
from videobgm.apps.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("limit,extra", [(2_000, ()), (40_000, ("--wav",))], ids=["mp4", "wav"])
def test_disk_full_real_writers_cli(tmp_path, short_clip, limit, extra):
    """The OS refuses writes past ``limit`` bytes (RLIMIT_FSIZE): like a disk filling up.

    ``mp4``: FFmpeg's muxer hits the limit; ``wav``: Python's wave writer does (it runs first).
    """
    out = tmp_path / "o.mp4"
    more = [str(tmp_path / "o.wav")] if extra else []
    proc = subprocess.run([sys.executable, "-c", FSIZE_SCRIPT, str(limit), "-q", "score", str(short_clip),
                           "-o", str(out), *extra, *more, *TINY], capture_output=True, text=True, timeout=240)
    assert_cli_error(proc, "File too large")  # the OS's reason reaches the user
    assert visible_files(tmp_path) == []


def test_cli_refuses_overwriting_input_and_odd_inputs(tmp_path, short_clip):
    clip = tmp_path / "c.mp4"
    clip.write_bytes(short_clip.read_bytes())
    assert_cli_error(cli("score", clip, "-o", clip, *TINY), "input")
    assert clip.read_bytes() == short_clip.read_bytes()
    (tmp_path / "d.mp4").mkdir()
    assert_cli_error(cli("score", tmp_path / "d.mp4", "-o", tmp_path / "o.mp4", *TINY), "not a file")
    (tmp_path / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert_cli_error(cli("score", tmp_path / "img.png", "--wav", tmp_path / "o.wav", *TINY), "--duration")


@pytest.mark.parametrize("args,words", [
    (["score", "x.mp4", "--tempo", "abc"], "argument --tempo: invalid float value: 'abc'"),
    (["score", "x.mp4", "--seed", "1.5"], "argument --seed: invalid int value"),
    (["compose", "--prompt", "calm", "--duration", "ten", "-o", "o.mid"], "--duration"),
    (["score"], "the following arguments are required: video"),
    (["score", "x.mp4", "--preset", "huge"], "argument --preset: invalid choice"),
    (["nope"], "invalid choice: 'nope'"),
])
def test_option_type_errors_are_one_line(capsys, args, words) -> None:
    rc, err = _run(args, capsys)
    line = _refused(rc, err, field=words)
    assert "see `videobgm" in line  # the usage is one --help away
