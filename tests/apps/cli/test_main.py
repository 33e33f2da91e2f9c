"""The command line starts fast and reports user errors in one line."""

from __future__ import annotations

import subprocess
import sys
import time

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
