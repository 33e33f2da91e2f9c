"""Outputs are all or nothing, and safe (issue 13, part 2).

- Output paths that cannot or must not be written are refused before any work, in one line:
  devices, FIFOs, sockets (or symlinks to them), one path for two outputs, the input itself,
  unwritable folders, existing files that cannot be replaced. The node is left as it was.
- Every output is written to a temporary name and all are renamed together: after a failure,
  Ctrl-C (SIGINT) or SIGTERM at any of five points of a real ``videobgm score`` run, no output and
  no temporary is left, and earlier outputs are unchanged byte for byte.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from videobgm.errors import InputError, OptionError
from videobgm.testing import synthetic_videos as synth

TINY = ["--preset", "tiny", "--untrained"]
IS_ROOT = os.geteuid() == 0


def snapshot(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry under ``root``: its file type and, for regular files, its bytes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            mode = os.lstat(p).st_mode
            data = p.read_bytes() if stat.S_ISREG(mode) else None
            out[str(p.relative_to(root))] = (stat.S_IFMT(mode), data)
    return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("outclip")
    return synth.write_video(d / "clip.mp4", synth.oscillating_square(period_s=1.0, width=64, height=48,
                                                                      size=8),
                             duration_s=2.0, fps=10.0, width=64, height=48)


@pytest.fixture()
def work():
    """A short folder (AF_UNIX socket paths are limited to 107 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="vbo"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make_node(path: Path, kind: str) -> Path:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "chardev":
        if not IS_ROOT:
            pytest.skip("making a character device needs root")
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # what /dev/null is
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    return path


# ----------------------------------------------------------------------------------------------
# refusals before any work (in-process: analysis must never start)
# ----------------------------------------------------------------------------------------------
def _refused(pipe, monkeypatch, clip: Path, root: Path, fragment: str, **outputs) -> str:  # noqa: ANN001
    before = snapshot(root)
    monkeypatch.setattr(pipe, "analyze", lambda *a, **k: pytest.fail("analysis ran before the refusal"))
    output = outputs.pop("output", None)
    with pytest.raises(OptionError) as ei:
        pipe.run(clip, output, **outputs)
    msg = str(ei.value)
    assert msg and "\n" not in msg, msg
    assert fragment in msg, msg
    assert snapshot(root) == before  # nodes, files and folders exactly as they were
    return msg


NODE_CASES = [  # (kind, which output, expected words)
    ("fifo", "midi", "FIFO"), ("fifo", "wav", "FIFO"), ("fifo", "output", "FIFO"),
    ("fifo", "plan_json", "FIFO"), ("chardev", "midi", "character device"),
    ("chardev", "wav", "character device"), ("chardev", "output", "character device"),
    ("socket", "midi", "socket"), ("socket", "plan_json", "socket"), ("fifo", "stems", "FIFO"),
]


@pytest.mark.parametrize("kind,which,words", NODE_CASES)
def test_refuses_special_files(tiny_pipeline, monkeypatch, clip, work, kind, which, words):
    ext = {"midi": ".mid", "wav": ".wav", "output": ".mp4", "plan_json": ".json", "stems": ""}[which]
    node = make_node(work / f"n{ext}", kind)
    kw = {"output": work / "o.mp4"} if which != "output" else {}
    _refused(tiny_pipeline, monkeypatch, clip, work, words, **kw, **{which: node})
    assert {"fifo": stat.S_ISFIFO, "chardev": stat.S_ISCHR, "socket": stat.S_ISSOCK}[kind](
        os.lstat(node).st_mode)


@pytest.mark.parametrize("kind", ["fifo", "chardev", "socket"])
def test_refuses_symlink_to_special_file(tiny_pipeline, monkeypatch, clip, work, kind):
    node = make_node(work / "node", kind)
    (work / "link.mid").symlink_to(node)
    _refused(tiny_pipeline, monkeypatch, clip, work, "through the symlink", output=work / "o.mp4",
             midi=work / "link.mid")


def test_refuses_symlink_to_dev_null(tiny_pipeline, monkeypatch, clip, work):
    (work / "null.wav").symlink_to("/dev/null")
    _refused(tiny_pipeline, monkeypatch, clip, work, "character device", output=work / "o.mp4",
             wav=work / "null.wav")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_refuses_same_path_for_two_outputs(tiny_pipeline, monkeypatch, clip, work):
    _refused(tiny_pipeline, monkeypatch, clip, work, "same path", output=work / "out.mp4", midi=work / "out.mp4")
    _refused(tiny_pipeline, monkeypatch, clip, work, "same path", output=work / "o.mp4", wav=work / "a.wav",
             plan_json=work / "sub" / ".." / "a.wav")
    (work / "a.mid").write_bytes(b"old")
    (work / "alias.mid").symlink_to(work / "a.mid")
    _refused(tiny_pipeline, monkeypatch, clip, work, "same path", output=work / "o.mp4", midi=work / "a.mid",
             plan_json=work / "alias.mid")
    _refused(tiny_pipeline, monkeypatch, clip, work, "same path", output=work / "o.mp4", stems=work / "s",
             plan_json=work / "s")
    _refused(tiny_pipeline, monkeypatch, clip, work, "overwritten by a file of", output=work / "o.mp4",
             stems=work / "s", midi=work / "s" / "piano.mid")


def test_refuses_output_equal_to_input(tiny_pipeline, monkeypatch, clip, work):
    src = work / "in.mp4"
    src.write_bytes(clip.read_bytes())
    (work / "in_link.mid").symlink_to(src)
    _refused(tiny_pipeline, monkeypatch, src, work, "is the input", output=src)
    _refused(tiny_pipeline, monkeypatch, src, work, "is the input", output=work / "o.mp4", midi=work / "in_link.mid")
    _refused(tiny_pipeline, monkeypatch, src, work, "is the input", output=work / "o.mp4", wav=work / "." / "in.mp4")


@pytest.mark.parametrize("target,words", [
    ("/proc/videobgm_x.mp4", "not writable: /proc"), ("/proc/version", "not writable: /proc"),
    ("/sys/videobgm_x.mid", "not writable: /sys"), ("/proc/no/such/dir/x.mid", "not writable: /proc"),
])
def test_refuses_unwritable_folders(tiny_pipeline, monkeypatch, clip, work, target, words):
    which = "output" if target.endswith(".mp4") else "midi"
    kw = {"output": work / "o.mp4"} if which == "midi" else {}
    _refused(tiny_pipeline, monkeypatch, clip, work, words, **kw, **{which: Path(target)})


def test_refuses_folder_under_a_file_and_directory_as_file(tiny_pipeline, monkeypatch, clip, work):
    (work / "afile").write_text("x")
    _refused(tiny_pipeline, monkeypatch, clip, work, "afile is a file", output=work / "afile" / "o.mp4")
    (work / "d.mp4").mkdir()
    _refused(tiny_pipeline, monkeypatch, clip, work, "is a directory", output=work / "d.mp4")
    _refused(tiny_pipeline, monkeypatch, clip, work, "not a directory", output=work / "o.mp4", stems=work / "afile")


def test_refuses_existing_output_that_cannot_be_replaced(tiny_pipeline, monkeypatch, clip, work):
    old = work / "old.mid"
    old.write_bytes(b"earlier output")
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(old)],
                                                         capture_output=True).returncode != 0:
        pytest.skip("cannot make a file immutable here (chattr +i refused)")
    try:
        _refused(tiny_pipeline, monkeypatch, clip, work, "cannot be replaced", output=work / "o.mp4", midi=old)
    finally:
        subprocess.run(["chattr", "-i", str(old)], check=False)


@pytest.mark.parametrize("kind", ["fifo", "chardev"])
def test_cli_midi_at_fifo_or_device_refused_and_node_kept(clip, work, kind):
    """The acceptance test: `videobgm score --midi NODE` refuses, the node is still a node."""
    node = make_node(work / "music.mid", kind)
    proc = subprocess.run([sys.executable, "-m", "videobgm", "-q", "score", str(clip), "-o",
                           str(work / "o.mp4"), "--midi", str(node), *TINY],
                          capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("videobgm: error: "), proc.stderr
    assert (stat.S_ISFIFO if kind == "fifo" else stat.S_ISCHR)(os.lstat(node).st_mode)
    assert sorted(p.name for p in work.iterdir()) == ["music.mid"]


def test_cli_same_path_refused(clip, work):
    proc = subprocess.run([sys.executable, "-m", "videobgm", "-q", "score", str(clip), "-o",
                           str(work / "out.mp4"), "--midi", str(work / "out.mp4"), *TINY],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "same path" in proc.stderr
    assert list(work.iterdir()) == []


def test_cli_analyze_and_describe_refuse_before_analysing(clip, work):
    fifo = make_node(work / "features.json", "fifo")
    for args in (["analyze", str(clip), "-o", str(fifo)], ["describe", str(clip), "-o", "/proc/x.json"]):
        proc = subprocess.run([sys.executable, "-m", "videobgm", "-q", *args, "--preset", "tiny"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stdout == ""  # refused before the analysis (describe prints its result)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# ----------------------------------------------------------------------------------------------
# all or nothing (in-process)
# ----------------------------------------------------------------------------------------------
def _outputs(d: Path) -> dict:
    return {"output": d / "o.mp4", "midi": d / "o.mid", "wav": d / "o.wav", "stems": d / "stems",
            "plan_json": d / "o.plan.json"}


def test_all_outputs_appear_together(tiny_pipeline, clip, work):
    outs = _outputs(work / "new")  # the folder does not exist yet
    res = tiny_pipeline.run(clip, **outs)
    for key in ("output", "midi", "wav", "plan_json"):
        assert outs[key].stat().st_size > 0
    assert sorted(p.suffix for p in outs["stems"].iterdir())  # stems: MIDI + WAV per track
    assert res.output_path == str(outs["output"]) and res.stems_dir == str(outs["stems"])
    assert not [p for p in (work / "new").rglob(".*")]  # no temporary left


@pytest.mark.parametrize("where", ["render", "mux"])
def test_failure_late_leaves_no_output_and_keeps_earlier_ones(tiny_pipeline, clip, work, monkeypatch, where):
    from videobgm.audio import mux as mux_mod
    from videobgm.audio import render as render_mod
    outs = _outputs(work)
    outs["midi"].write_bytes(b"earlier midi")
    outs["stems"].mkdir()
    (outs["stems"] / "piano.mid").write_bytes(b"earlier stem")
    before = snapshot(work)
    if where == "mux":
        def fail(video, audio, sr, out, cfg, **kw):  # noqa: ANN001, ANN003, ARG001
            Path(out).write_bytes(b"half a video")
            raise InputError("simulated mux failure")

        monkeypatch.setattr(mux_mod, "mux", fail)
        with pytest.raises(InputError, match="simulated"):
            tiny_pipeline.run(clip, **outs)
    else:
        def interrupt(*a, **k):  # noqa: ANN002, ANN003, ANN202
            raise KeyboardInterrupt  # Ctrl-C while the stems render (MIDI, stems, WAV staged)

        monkeypatch.setattr(render_mod, "write_stem_wavs", interrupt)
        with pytest.raises(KeyboardInterrupt):
            tiny_pipeline.run(clip, **outs)
    assert snapshot(work) == before


# ----------------------------------------------------------------------------------------------
# SIGINT / SIGTERM to a real `videobgm score` at five points
# ----------------------------------------------------------------------------------------------
POINTS = ["features", "compose", "render", "mux", "commit"]
SIGNALS = {"SIGINT": (signal.SIGINT, 130, "interrupted"), "SIGTERM": (signal.SIGTERM, 143, "terminated")}
DEFAULT_PAIRS = [("features", "SIGINT"), ("compose", "SIGTERM"), ("render", "SIGINT"),
                 ("mux", "SIGTERM"), ("commit", "SIGINT")]
OTHER_PAIRS = [(p, s) for p in POINTS for s in SIGNALS if (p, s) not in DEFAULT_PAIRS]


def _signal_at(clip: Path, root: Path, point: str, sig_name: str) -> None:
    from videobgm.progress import TEST_PAUSE_ENV

    sig, rc, word = SIGNALS[sig_name]
    out = root / "out"
    out.mkdir()
    (out / "o.mp4").write_bytes(b"an earlier video")
    (out / "o.mid").write_bytes(b"an earlier midi")
    (out / "stems").mkdir()
    (out / "stems" / "piano.wav").write_bytes(b"an earlier stem")
    before = snapshot(root)
    env = {**os.environ, TEST_PAUSE_ENV: point, "VIDEOBGM_TEST_PAUSE_S": "60"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "videobgm", "-q", "score", str(clip), "-o", str(out / "o.mp4"),
         "--midi", str(out / "o.mid"), "--wav", str(out / "o.wav"), "--stems", str(out / "stems"),
         "--plan", str(out / "o.plan.json"), *TINY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line or line.startswith("videobgm-test: paused at"):
                break
        assert line.strip() == f"videobgm-test: paused at {point}", (line, proc.poll())
        if point == "mux":  # the video's temporary is open for writing
            assert any(p.name.startswith(".o.part.") and p.suffix == ".mp4" for p in out.iterdir())
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    lines = err.strip().splitlines()
    assert proc.returncode == rc, (proc.returncode, err[-2000:])
    assert lines == [f"videobgm: {word}{' (SIGTERM)' if sig_name == 'SIGTERM' else ''}; "
                     "no partial output was left"], err[-2000:]
    assert snapshot(root) == before  # no new output, no temporary, earlier files byte for byte


@pytest.mark.parametrize("point,sig_name", DEFAULT_PAIRS)
def test_signal_leaves_nothing(clip, work, point, sig_name):
    _signal_at(clip, work, point, sig_name)


@pytest.mark.slow
@pytest.mark.parametrize("point,sig_name", OTHER_PAIRS)
def test_signal_leaves_nothing_other_pairs(clip, work, point, sig_name):
    _signal_at(clip, work, point, sig_name)

