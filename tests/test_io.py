"""Atomic writes leave nothing behind on failure."""

from __future__ import annotations

import pytest

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
