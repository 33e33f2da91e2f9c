"""Atomic writes leave nothing behind on failure."""

from __future__ import annotations

import pytest

from tests.test_outputs import snapshot, work  # noqa: F401 (shared with test_outputs.py)
from videobgm.errors import OptionError
from videobgm.io import atomic_path, write_json


def test_atomic_success(tmp_path):
    p = write_json(tmp_path / "a.json", {"x": 1})
    assert p.read_text().strip().startswith("{")
    assert [f.name for f in tmp_path.iterdir()] == ["a.json"]


def test_atomic_failure_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "b.mp4") as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_unwritable_dir(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        import os
        if os.access(d, os.W_OK):  # running as root: permissions are not enforced
            pytest.skip("running as root: cannot make a directory unwritable")
        with pytest.raises(OptionError, match="not writable"):
            with atomic_path(d / "x.json"):
                pass
    finally:
        d.chmod(0o700)


def test_atomic_output_has_umask_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        p = write_json(tmp_path / "perm.json", {})
    finally:
        os.umask(umask)
    assert (p.stat().st_mode & 0o777) == 0o644


def test_output_set_commit_and_abort(work):  # noqa: F811 (the fixture of test_outputs.py)
    from videobgm.io import OutputSet

    stems = work / "stems"
    stems.mkdir()
    for name, data in {"a.mid": b"old a", "b.mid": b"old b", "notes.txt": b"mine"}.items():
        (stems / name).write_bytes(data)
    (work / "old.wav").write_bytes(b"old wav")
    before = snapshot(work)
    with pytest.raises(KeyboardInterrupt), OutputSet() as outs:
        outs.file(work / "old.wav").write_bytes(b"new wav")
        outs.file(work / "new" / "deeper" / "x.json").write_bytes(b"{}")
        (outs.folder(stems, owned=("a.mid", "b.mid")) / "a.mid").write_bytes(b"new a")
        raise KeyboardInterrupt
    assert snapshot(work) == before  # created folders removed too
    with OutputSet() as outs:
        outs.file(work / "old.wav").write_bytes(b"new wav")
        outs.file(work / "new" / "deeper" / "x.json").write_bytes(b"{}")
        (outs.folder(stems, owned=("a.mid", "b.mid")) / "a.mid").write_bytes(b"new a")
        assert not (work / "new" / "deeper" / "x.json").exists()  # nothing visible before the end
    assert (work / "old.wav").read_bytes() == b"new wav" and (work / "new" / "deeper" / "x.json").exists()
    # the new stem set replaces the old one (b.mid was not made again); other files are kept
    assert {p.name: p.read_bytes() for p in stems.iterdir()} == {"a.mid": b"new a", "notes.txt": b"mine"}
    assert not [p for p in work.rglob(".*")]
