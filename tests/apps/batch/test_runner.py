"""Batch scoring: manifest, resumability, failure isolation, Ray workers, interruption.

The mechanics are tested with a small real scorer (it checks the MP4 signature and copies the
video to each output atomically); the end-to-end test uses the real pipeline (tiny preset).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from videobgm.apps.batch import items as batch_items
from videobgm.apps.batch import runner as batch
from videobgm.errors import InputError, OptionError
from videobgm.io import atomic_path

try:  # Ray workers cannot import tests/: ship this module's functions by value
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
except ImportError:
    pass


def copy_scorer(spec: dict):
    """A real scorer for the mechanics: refuses non-MP4 input, copies the video to each output."""
    with open(spec["log"], "a") as f:  # one line per model load (= per worker)
        f.write(f"{os.getpid()}\n")

    def score(video: Path, outputs: dict[str, Path]) -> dict[str, float]:
        t0 = time.perf_counter()
        data = video.read_bytes()
        if data[4:8] != b"ftyp":
            raise InputError(f"not an MP4 file: {video.name}")
        if "crash" in video.name:
            os._exit(3)
        if "hang" in video.name:
            time.sleep(120)
        if "slow" in video.name:
            time.sleep(float(spec.get("slow_s", 0)))
        for p in outputs.values():
            with atomic_path(p) as tmp:
                tmp.write_bytes(data[: len(data) // 2])
                if "interrupt" in video.name:
                    raise KeyboardInterrupt
                tmp.write_bytes(data)
        return {"copy": time.perf_counter() - t0}

    return score


@pytest.fixture(scope="module")
def mp4_bytes(tmp_path_factory) -> bytes:
    from videobgm.testing import synthetic_videos as synth
    p = synth.write_video(tmp_path_factory.mktemp("b") / "v.mp4", synth.static(width=64, height=48),
                          duration_s=0.5, fps=10.0, width=64, height=48)
    return p.read_bytes()


def make_folder(root: Path, mp4: bytes, good: list[str], bad: list[str]) -> Path:
    d = root / "in"
    d.mkdir()
    for n in good:
        (d / n).write_bytes(mp4)
    for n in bad:
        (d / n).write_bytes(b"" if "empty" in n else b"\x00garbage" * 50)
    (d / "notes.txt").write_text("not a video")
    return d


def run(src, out, spec, **kw):
    return batch.run_batch(src, out, spec=spec, factory=copy_scorer, **kw)


def records(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / batch_items.MANIFEST_NAME).read_text().splitlines()]


def test_partial_success_then_second_run_changes_nothing(tmp_path, mp4_bytes):
    src = make_folder(tmp_path, mp4_bytes, ["a.mp4", "b.mp4", "c.mov"], ["empty.mp4", "junk.mkv"])
    out = tmp_path / "out"
    spec = {"log": str(tmp_path / "loads.txt")}
    s = run(src, out, spec, kinds=("video", "midi"))
    assert s.exit_code == 3
    assert sorted(Path(v).name for v in s.ok) == ["a.mp4", "b.mp4", "c.mov"]
    assert {Path(v).name: r for v, r in s.failed.items()} == {
        "empty.mp4": "not an MP4 file: empty.mp4", "junk.mkv": "not an MP4 file: junk.mkv"}
    recs = records(out)
    assert len(recs) == 5 and {r["status"] for r in recs} == {"ok", "failed"}
    for r in recs:
        assert set(r["outputs"]) == {"video", "midi"} and r["timings_s"]["total"] >= 0
        exists = [Path(p).is_file() for p in r["outputs"].values()]
        assert exists == ([True, True] if r["status"] == "ok" else [False, False])
        assert r["error"] is None or "\n" not in r["error"]
    assert (out / "a.mp4").read_bytes() == mp4_bytes and (out / "c.mid").read_bytes() == mp4_bytes
    assert len((tmp_path / "loads.txt").read_text().split()) == 1  # model loaded once
    before = (out / batch_items.MANIFEST_NAME).read_bytes()
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    s2 = run(src, out, spec, kinds=("video", "midi"))
    assert s2.scored == 0 and len(s2.skipped) == 3 and len(s2.failed) == 2 and s2.exit_code == 3
    assert (out / batch_items.MANIFEST_NAME).read_bytes() == before
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    # nothing but finished outputs and the manifest in OUT_DIR
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["a.mp4", "a.mid", "b.mp4", "b.mid", "c.mp4", "c.mid", batch_items.MANIFEST_NAME])


def test_rescore_when_output_missing_input_changed_config_changed_or_retry(tmp_path, mp4_bytes):
    src = make_folder(tmp_path, mp4_bytes, ["a.mp4", "b.mp4"], ["junk.mp4"])
    out = tmp_path / "out"
    spec = {"log": str(tmp_path / "loads.txt")}
    assert run(src, out, spec).exit_code == 3
    (out / "a.mp4").unlink()  # output gone -> redo a
    (src / "junk.mp4").write_bytes(mp4_bytes)  # input fixed -> retried although it failed
    s = run(src, out, spec)
    assert s.exit_code == 0 and s.scored == 2 and sorted(Path(v).name for v in s.ok) == ["a.mp4", "junk.mp4"]
    assert len(run(src, out, spec).skipped) == 3
    assert run(src, out, {**spec, "seed": 1}).scored == 3  # other settings -> other music
    (src / "b.mp4").write_bytes(b"broken now")
    s = run(src, out, spec)
    assert s.failed and not (out / "b.mp4").exists()  # a failed item keeps no stale output
    assert run(src, out, spec).scored == 0
    assert run(src, out, spec, retry_failed=True).scored == 1


def test_collect_inputs_manifests_and_name_collisions(tmp_path, mp4_bytes):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    for p in ("x/clip.mp4", "y/clip.mp4", "x/other one é.mp4"):
        (tmp_path / p).write_bytes(mp4_bytes)
    txt = tmp_path / "list.txt"
    txt.write_text("# my videos\nx/clip.mp4\n\ny/clip.mp4\nx/clip.mp4\n" f"{tmp_path}/x/other one é.mp4\n")
    vids = batch_items.collect_inputs(txt)
    assert [v.relative_to(tmp_path).as_posix() for v in vids] == ["x/clip.mp4", "y/clip.mp4", "x/other one é.mp4"]
    items = batch_items.make_items(vids, tmp_path / "out")
    names = [i.name for i in items]
    assert len(set(names)) == 3 and names[0].startswith("clip-") and names[2] == "other one é"
    jl = tmp_path / "m.jsonl"
    jl.write_text("\n".join(json.dumps({"video": str(v), "status": "failed"}) for v in vids[:2]) + "\n")
    assert batch_items.collect_inputs(jl) == vids[:2]
    jl.write_text('{"path": 1}\n')
    with pytest.raises(InputError, match="m.jsonl:1"):
        batch_items.collect_inputs(jl)
    with pytest.raises(InputError, match="input not found"):
        batch_items.collect_inputs(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no videos"):
        batch_items.collect_inputs(tmp_path / "empty")
    s = run(txt, tmp_path / "o2", {"log": str(tmp_path / "l")})
    assert s.exit_code == 0 and len(list((tmp_path / "o2").glob("*.mp4"))) == 3


def test_bad_output_folders(tmp_path, mp4_bytes):
    src = make_folder(tmp_path, mp4_bytes, ["a.mp4"], [])
    (tmp_path / "file").write_text("x")
    with pytest.raises(OptionError, match="not a folder"):
        run(src, tmp_path / "file", {"log": "/dev/null"})
    with pytest.raises(OptionError, match="cannot create output folder"):
        run(src, tmp_path / "file" / "sub", {"log": "/dev/null"})
    with pytest.raises(OptionError, match="must differ"):
        run(src, src, {"log": "/dev/null"})


def test_interrupt_serial_leaves_no_partial_output(tmp_path, mp4_bytes):
    src = make_folder(tmp_path, mp4_bytes, ["a.mp4", "b_interrupt.mp4", "c.mp4"], [])
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(src, out, {"log": str(tmp_path / "l")}, kinds=("video", "wav"))
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "a.wav", batch_items.MANIFEST_NAME]
    assert [r["name"] for r in records(out)] == ["a"]


def test_manifest_survives_a_cut_line(tmp_path):
    m = batch_items.Manifest(tmp_path)
    m.append({"video": "/v/a.mp4", "status": "ok"})
    with open(m.path, "ab") as f:
        f.write(b'{"video": "/v/b.mp4", "sta')  # process killed mid-line
    assert list(m.load()) == ["/v/a.mp4"]
    m.append({"video": "/v/c.mp4", "status": "failed"})
    assert list(m.load()) == ["/v/a.mp4", "/v/c.mp4"]


def test_one_line_errors():
    assert batch_items.one_line(InputError("bad\nfile")) == "bad file"
    assert batch_items.one_line(ValueError("x\n  y")) == "ValueError: x y"
    assert batch_items.one_line(MemoryError()) == "MemoryError"


@pytest.fixture(scope="module")
def ray_run(tmp_path_factory, mp4_bytes):
    """One Ray run (2 workers) over good, broken, crashing and hanging videos."""
    pytest.importorskip("ray")
    root = tmp_path_factory.mktemp("ray")
    src = make_folder(root, mp4_bytes, [f"g{i}.mp4" for i in range(4)] + ["crash.mp4", "hang.mp4"],
                      ["junk.mp4"])
    spec = {"log": str(root / "loads.txt")}
    s = batch.run_batch(src, root / "out", spec=spec, factory=copy_scorer, workers=2, timeout_s=5)
    return root, src, spec, s


def test_ray_workers_isolate_failures_crashes_and_hangs(ray_run):
    root, src, spec, s = ray_run
    assert sorted(Path(v).name for v in s.ok) == [f"g{i}.mp4" for i in range(4)]
    reasons = {Path(v).name: r for v, r in s.failed.items()}
    assert reasons["junk.mp4"] == "not an MP4 file: junk.mp4"
    assert reasons["crash.mp4"].startswith("worker process died")
    assert reasons["hang.mp4"] == "timed out after 5 s"
    assert s.exit_code == 3
    recs = records(root / "out")
    assert len({r["worker"] for r in recs if r["status"] == "ok"}) <= 2
    # 2 workers at start + 1 replacing the crashed one + 1 replacing the hung one; one load each
    assert len((root / "loads.txt").read_text().split()) == 4
    assert sorted(p.name for p in (root / "out").iterdir()) == sorted(
        [f"g{i}.mp4" for i in range(4)] + [batch_items.MANIFEST_NAME])
    assert not s.skipped and s.scored == 7


def test_ray_rerun_is_a_no_op(ray_run):
    root, src, spec, s = ray_run
    before = (root / "out" / batch_items.MANIFEST_NAME).read_bytes()
    s2 = batch.run_batch(src, root / "out", spec=spec, factory=copy_scorer, workers=2)
    assert s2.scored == 0 and len(s2.skipped) == 4 and len(s2.failed) == 3
    assert (root / "out" / batch_items.MANIFEST_NAME).read_bytes() == before


SIGINT_SCRIPT = textwrap.dedent("""
    import sys, pathlib
    sys.path.insert(0, {tests!r})
    import test_runner as test_batch
    from videobgm.apps.batch import runner as batch
    spec = {{"log": {log!r}, "slow_s": 3.0}}
    batch.run_batch({src!r}, {out!r}, spec=spec, factory=test_batch.copy_scorer, workers={workers})
""")


@pytest.mark.parametrize("workers", [0, 2])
def test_sigint_stops_cleanly(tmp_path, mp4_bytes, workers):
    pytest.importorskip("ray")
    src = make_folder(tmp_path, mp4_bytes, ["a.mp4", "b_slow.mp4", "c_slow.mp4", "d_slow.mp4"], [])
    out, log = tmp_path / "out", tmp_path / "loads.txt"
    code = SIGINT_SCRIPT.format(tests=str(Path(__file__).parent), log=str(log), src=str(src),
                                out=str(out), workers=workers)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "a.mp4").exists():
        time.sleep(0.1)
    assert (out / "a.mp4").exists(), "batch did not start"
    time.sleep(0.5)  # the slow videos are in flight now
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    time.sleep(0.5)
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", batch_items.MANIFEST_NAME]
    assert [r["name"] for r in records(out)] == ["a"]
    for pid in map(int, log.read_text().split()):  # no worker left running
        if pid != proc.pid:
            assert not _pid_alive(pid) or _is_zombie(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


# ----------------------------------------------------------------------------------------------
# the real thing: `videobgm batch` with the real pipeline (tiny preset, untrained model)
# ----------------------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "videobgm", "-q", "batch", *map(str, args),
                           "--preset", "tiny", "--untrained"], capture_output=True, text=True, timeout=400)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_cli_batch_real_pipeline_partial_success_then_nothing_new(tmp_path, workers):
    import av

    from videobgm.testing import synthetic_videos as synth
    if workers != "0":
        pytest.importorskip("ray")
    src = tmp_path / "in put é"
    src.mkdir()
    synth.write_video(src / "square.mp4", synth.oscillating_square(period_s=1.0, width=128, height=96, size=12),
                      duration_s=2.0, fps=15.0, width=128, height=96)
    synth.write_video(src / "cuts.mov", synth.hard_cut(cut_times_s=[1.0], width=128, height=96),
                      duration_s=2.0, fps=15.0, width=128, height=96)
    (src / "empty.mp4").write_bytes(b"")
    data = (src / "square.mp4").read_bytes()
    (src / "cut off.mp4").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    proc = _cli(src, "-o", out, "--workers", workers, "--midi")
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    recs = {Path(r["video"]).name: r for r in records(out)}
    assert {k: r["status"] for k, r in recs.items()} == {
        "square.mp4": "ok", "cuts.mov": "ok", "empty.mp4": "failed", "cut off.mp4": "failed"}
    assert "empty" in recs["empty.mp4"]["error"] and "not a readable video" in recs["cut off.mp4"]["error"]
    for name in ("square", "cuts"):
        with av.open(str(out / f"{name}.mp4")) as c:
            assert c.streams.video and c.streams.audio
            assert abs(float(c.duration / 1e6) - 2.0) < 0.3
        assert (out / f"{name}.mid").stat().st_size > 0
        assert {"features", "compose", "mux", "total"} <= set(recs[f"{name}.mp4" if name == "square" else "cuts.mov"]["timings_s"])
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["square.mp4", "square.mid", "cuts.mp4", "cuts.mid", batch_items.MANIFEST_NAME])
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("2 ok, 2 failed, 0 already done") and len(lines) == 3
    before = (out / batch_items.MANIFEST_NAME).read_bytes()
    again = _cli(src, "-o", out, "--workers", workers, "--midi")
    assert again.returncode == 3 and again.stdout.startswith("0 ok, 2 failed, 2 already done")
    assert (out / batch_items.MANIFEST_NAME).read_bytes() == before


def test_cli_batch_usage_errors(tmp_path, mp4_bytes):
    (tmp_path / "f").write_text("x")
    (tmp_path / "v.mp4").write_bytes(mp4_bytes)
    for args, frag in [((tmp_path / "nope", "-o", tmp_path / "o"), "input not found"),
                       ((tmp_path, "-o", tmp_path / "f"), "not a folder"),
                       ((tmp_path, "-o", tmp_path / "o", "--workers", "-1"), "--workers"),
                       ((tmp_path, "-o", tmp_path / "o", "--serial", "--ray-address", "auto"), "--ray-address"),
                       ((tmp_path, "-o", tmp_path / "o", "--serial", "--soundfont", tmp_path / "no.sf2"),
                        "cannot start the scorer: soundfont not found")]:
        proc = _cli(*args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and frag in lines[0], proc.stderr


def test_temporaries_of_a_killed_run_are_removed(tmp_path, mp4_bytes):
    src = make_folder(tmp_path, mp4_bytes, ["a.mp4"], [])
    out = tmp_path / "out"
    out.mkdir()
    (out / ".a.part.x1y2z3.mp4").write_bytes(b"half")  # what SIGKILL mid-write leaves
    (out / ".other.part.x1y2z3.mp4").write_bytes(b"not ours")
    assert run(src, out, {"log": str(tmp_path / "l")}).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [".other.part.x1y2z3.mp4", "a.mp4", batch_items.MANIFEST_NAME]
