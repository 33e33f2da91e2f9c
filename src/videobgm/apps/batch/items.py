"""A batch's items and records: inputs -> items, the JSONL manifest, one item's attempt, the summary.

Shared by the serial runner (:mod:`videobgm.apps.batch.runner`) and the Ray workers
(:mod:`videobgm.apps.batch.ray`); see the runner for the rules.
"""


from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videobgm.errors import InputError, OptionError, VideobgmError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")
MANIFEST_NAME = "manifest.jsonl"
MAX_ERROR_CHARS = 300  # a manifest error is one readable line
OUTPUT_SUFFIXES = {"video": ".mp4", "midi": ".mid", "wav": ".wav", "plan_json": ".plan.json"}

# (video path, {output kind: path}) -> timings in seconds. Built once per worker by a factory.
Scorer = Callable[[Path, dict[str, Path]], dict[str, float]]
ScorerFactory = Callable[[Any], Scorer]


# ----------------------------------------------------------------------------------------------
# inputs and items
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchItem:
    """One video to score: its input path, output name and the output files it must produce."""

    video: Path
    name: str
    outputs: dict[str, Path]

    @property
    def key(self) -> str:
        return str(self.video)


def collect_inputs(source: str | os.PathLike[str]) -> list[Path]:
    """The videos named by ``source``, as absolute paths (order kept, duplicates dropped).

    Parameters
    ----------
    source : path
        A folder (its files with a suffix in :data:`VIDEO_SUFFIXES`, not recursive, sorted), a
        ``.jsonl`` file (one JSON object per line with a ``"video"`` key, e.g. an earlier
        manifest), or a text file (one path per line; blank lines and ``#`` comments ignored).
        Relative paths in a file are relative to that file's folder.
    """
    src = Path(source)
    if src.is_dir():
        vids = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not vids:
            raise InputError(f"no videos in {src} (accepted suffixes: {', '.join(VIDEO_SUFFIXES)})")
    elif src.is_file():
        try:
            text = src.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read manifest {src}: {exc}") from None
        vids = []
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if src.suffix.lower() == ".jsonl":
                try:
                    rec = json.loads(line)
                    line = str(rec["video"])
                except (ValueError, KeyError, TypeError):
                    raise InputError(f"{src}:{lineno}: expected a JSON object with a \"video\" key") from None
            p = Path(line).expanduser()
            vids.append(p if p.is_absolute() else src.parent / p)
        if not vids:
            raise InputError(f"manifest {src} lists no videos")
    else:
        raise InputError(f"input not found: {src} (give a folder of videos or a manifest file)")
    out, seen = [], set()
    for v in vids:
        a = Path(os.path.abspath(v))
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out


def make_items(videos: list[Path], out_dir: Path, kinds: tuple[str, ...] = ("video",)) -> list[BatchItem]:
    """Name each video's outputs in ``out_dir`` (``STEM.mp4``; ``STEM-<hash>`` when stems collide)."""
    bad = sorted(set(kinds) - set(OUTPUT_SUFFIXES))
    if bad:
        raise OptionError(f"unknown output kind(s) {', '.join(bad)}; accepted: {', '.join(OUTPUT_SUFFIXES)}")
    stems: dict[str, int] = {}
    for v in videos:
        stems[v.stem] = stems.get(v.stem, 0) + 1
    items = []
    for v in videos:
        name = v.stem
        if stems[name] > 1:
            name = f"{name}-{hashlib.sha1(str(v).encode()).hexdigest()[:8]}"
        items.append(BatchItem(v, name, {k: out_dir / f"{name}{OUTPUT_SUFFIXES[k]}" for k in kinds}))
    return items


def input_fingerprint(path: Path) -> dict[str, Any] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def config_hash(config: Any) -> str:
    """Short hash of a config (anything with ``to_dict`` or JSON-able): the manifest's identity of a run."""
    d = config.to_dict() if hasattr(config, "to_dict") else config
    blob = json.dumps(d, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


# ----------------------------------------------------------------------------------------------
# manifest
# ----------------------------------------------------------------------------------------------
class Manifest:
    """Append-only JSONL log of attempts in ``OUT_DIR/manifest.jsonl``; the last line per video wins."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / MANIFEST_NAME

    def load(self) -> dict[str, dict[str, Any]]:
        """Last record per video key. Unparseable lines (a write cut by a crash) are ignored."""
        last: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return last
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and "video" in rec:
                    last[str(rec["video"])] = rec
        return last

    def append(self, record: dict[str, Any]) -> None:
        """Append one record as one line with a single ``O_APPEND`` write (then fsync)."""
        data = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # a partial line left by an earlier crash must not swallow this one
            if os.fstat(fd).st_size and not self._ends_with_newline():
                data = b"\n" + data
            n = os.write(fd, data)
            if n != len(data):
                raise OSError(f"short write to {self.path}")
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"


def is_finished(rec: dict[str, Any] | None, item: BatchItem, chash: str) -> bool:
    """Whether ``item`` is done: last record ok, same config, same input file, all outputs present."""
    return (
        rec is not None and rec.get("status") == "ok" and rec.get("config_hash") == chash
        and rec.get("input") == input_fingerprint(item.video)
        and set(rec.get("outputs", {})) == set(item.outputs)
        and all(p.is_file() for p in item.outputs.values())
    )


# ----------------------------------------------------------------------------------------------
# scoring one item (runs in the worker: this process or a Ray actor)
# ----------------------------------------------------------------------------------------------
def one_line(exc: BaseException) -> str:
    """A one-line reason for ``exc``: the message of a user error, ``Type: message`` otherwise."""
    msg = " ".join(str(exc).split())
    if not isinstance(exc, VideobgmError):
        msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    msg = msg or type(exc).__name__
    return msg if len(msg) <= MAX_ERROR_CHARS else msg[: MAX_ERROR_CHARS - 3] + "..."


def temp_files(item: BatchItem) -> list[Path]:
    """Temporary files that ``fileio.atomic_path`` may have left for this item's outputs."""
    found = []
    for p in item.outputs.values():
        prefix = f".{p.stem}.part."
        with contextlib.suppress(OSError):
            found += [q for q in p.parent.iterdir() if q.name.startswith(prefix)]
    return found


def remove_outputs(item: BatchItem) -> None:
    """Delete the item's outputs and temporary files (after a failure or an interruption)."""
    for p in [*item.outputs.values(), *temp_files(item)]:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            p.unlink()


def run_item(scorer: Scorer, item: BatchItem) -> dict[str, Any]:
    """Score one item, never raising except on interruption; return its manifest record."""
    started = time.time()
    t0, cpu0 = time.perf_counter(), time.process_time()
    rec: dict[str, Any] = {
        "video": item.key, "name": item.name, "status": "ok",
        "outputs": {k: str(p) for k, p in item.outputs.items()}, "timings_s": {}, "error": None,
        "worker": f"{os.getpid()}@{socket.gethostname()}", "input": input_fingerprint(item.video),
    }
    try:
        if rec["input"] is None:
            raise InputError(f"input not found: {item.video}")
        timings = scorer(item.video, dict(item.outputs))
        missing = [str(p) for p in item.outputs.values() if not p.is_file()]
        if missing:
            raise RuntimeError(f"scorer finished without writing {', '.join(missing)}")
        rec["timings_s"] = {k: round(float(v), 4) for k, v in dict(timings or {}).items()}
    except Exception as exc:  # one bad video must never stop the rest: record it and go on
        remove_outputs(item)
        rec.update(status="failed", error=one_line(exc))
    except BaseException:  # KeyboardInterrupt / SystemExit: leave nothing half-done behind
        remove_outputs(item)
        raise
    rec["timings_s"]["total"] = round(time.perf_counter() - t0, 4)
    rec["timings_s"]["cpu"] = round(time.process_time() - cpu0, 4)  # all threads of the worker
    rec["started"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))
    return rec



@dataclass
class BatchSummary:
    """What a batch run did. ``exit_code``: 0 all ok, 3 some video failed."""

    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # video -> one-line reason
    skipped: list[str] = field(default_factory=list)  # finished in an earlier run
    scored: int = 0  # attempts made in this run
    wall_s: float = 0.0
    startup_s: float = 0.0  # until the workers were ready (Ray start, model loads, warm-up)
    scoring_s: float = 0.0  # from the workers being ready to the last video's result
    ready_at: float = 0.0  # perf_counter() when the workers were ready
    manifest: str = ""

    @property
    def exit_code(self) -> int:
        return 3 if self.failed else 0


