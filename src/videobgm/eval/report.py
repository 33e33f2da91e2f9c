"""Metric reports over sets of MIDI files: per-file values, set means, reference gap, table/JSON/CSV.

Used by ``videobgm eval``. A MIDI file that sits in a POP909 song folder (a ``beat_midi.txt``
beside it) is read on its annotated beat grid (:func:`videobgm.data.dataset.load_song`); any other
file on its own tempo map (:func:`videobgm.music.midi.read_midi`). Files that cannot be read are listed
under ``skipped`` with their one-line reason; they never stop the rest.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.errors import InputError
from videobgm.eval.symbolic import canonical_convention, compute_all, metric_names
from videobgm.types import Score

MIDI_SUFFIXES = (".mid", ".midi")


def collect_midi(path: str | os.PathLike[str]) -> list[Path]:
    """A MIDI file, or every ``*.mid``/``*.midi`` under a folder (recursive, sorted)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in MIDI_SUFFIXES and f.is_file())
        if not files:
            raise InputError(f"no MIDI files (*.mid, *.midi) under {p}")
        return files
    raise InputError(f"not found: {p}")


def is_pop909_root(path: str | os.PathLike[str]) -> bool:
    """True for a folder holding POP909-style song folders (``NNN/NNN.mid`` + ``beat_midi.txt``)."""
    p = Path(path)
    if not p.is_dir():
        return False
    return any((d / "beat_midi.txt").is_file() and (d / f"{d.name}.mid").is_file()
               for d in p.iterdir() if d.is_dir() and d.name.isdigit())


def pop909_files(root: str | os.PathLike[str], split: str) -> list[Path]:
    """The MIDI files of one POP909 split (``NNN/NNN.mid`` of the songs of ``split``)."""
    from videobgm.data.pop909 import song_dirs

    files = [d / f"{d.name}.mid" for d in song_dirs(root, split)]
    files = [f for f in files if f.is_file()]
    if not files:
        raise InputError(f"no POP909 songs of split {split!r} under {root}")
    return files


def load_for_eval(path: str | os.PathLike[str]) -> tuple[Score, bool]:
    """Read a MIDI file for evaluation: ``(score, key_known)``.

    POP909 song folders use their beat and key annotations; other files their tempo map, and their
    first key signature if they have one (``key_known`` False otherwise: pitch-in-scale is then NaN).
    """
    p = Path(path)
    if (p.parent / "beat_midi.txt").is_file() and p.stem == p.parent.name:
        from videobgm.data.pop909 import load_song

        return load_song(p.parent)[0], True
    from videobgm.music.midi import load_pretty_midi, pretty_midi_to_score

    pm = load_pretty_midi(p)
    return pretty_midi_to_score(pm, name=p.stem, source=str(p)), bool(pm.key_signature_changes)


def evaluate_files(
    paths: list[Path],
    *,
    convention: str = "default",
    seed: int = 0,
    structure: bool = True,
    extra: Callable[[Path, Score], dict[str, float]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Metrics of every file and their summary.

    Returns
    -------
    dict
        ``per_file`` {path: {metric: float}}, ``mean`` / ``std`` {metric: float} (NaN-ignoring;
        NaN when no file defines it), ``n_defined`` {metric: int}, ``n_files``, ``skipped``
        {path: reason}, ``metrics`` (the names, :func:`videobgm.eval.symbolic.metric_names` of the
        convention first). ``extra(path, score)`` may add metrics (e.g. video sync).
    """
    base = metric_names(convention)
    per_file: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    for i, p in enumerate(paths):
        try:
            score, key_known = load_for_eval(p)
            m = compute_all(score, convention=convention, seed=seed, structure=structure)
            if not key_known:
                m["pitch_in_scale_rate"] = math.nan
            if extra is not None:
                m.update(extra(p, score))
        except InputError as exc:
            skipped[str(p)] = str(exc)
        else:
            per_file[str(p)] = m
        if progress is not None:
            progress(i + 1, len(paths))
    names = list(base) + sorted({k for m in per_file.values() for k in m} - set(base))
    mean, std, n_def = {}, {}, {}
    for k in names:
        v = np.array([m.get(k, math.nan) for m in per_file.values()], dtype=float)
        ok = np.isfinite(v)
        n_def[k] = int(ok.sum())
        mean[k] = float(v[ok].mean()) if ok.any() else math.nan
        std[k] = float(v[ok].std()) if ok.any() else math.nan
    return {"per_file": per_file, "mean": mean, "std": std, "n_defined": n_def,
            "n_files": len(per_file), "skipped": skipped, "metrics": names}


def relative_gap(value: float, reference: float) -> float:
    """(value - reference) / |reference|; NaN when either is undefined or the reference is 0."""
    if not (math.isfinite(value) and math.isfinite(reference)) or reference == 0:
        return math.nan
    return (value - reference) / abs(reference)


def build_report(inputs: dict[str, Any], reference: dict[str, Any] | None, *, convention: str) -> dict[str, Any]:
    """The JSON report: inputs, reference (or None) and the relative gap per metric."""
    gap = None
    if reference is not None:
        gap = {k: relative_gap(inputs["mean"].get(k, math.nan), reference["mean"].get(k, math.nan))
               for k in inputs["metrics"]}
    return {"convention": convention, "inputs": inputs, "reference": reference, "gap": gap}


def _fmt(mean: float, std: float) -> str:
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.3f} ± {std:.3f}" if math.isfinite(std) else f"{mean:.3f}"


def render_table(report: dict[str, Any]) -> Any:
    """A ``rich.table.Table`` of the report (metric, inputs, reference, relative gap)."""
    from rich.table import Table

    inp, ref = report["inputs"], report["reference"]
    table = Table(title=f"symbolic metrics ({report['convention']} convention)")
    table.add_column("metric")
    table.add_column(f"inputs (n={inp['n_files']})", justify="right")
    if ref is not None:
        table.add_column(f"reference (n={ref['n_files']})", justify="right")
        table.add_column("gap", justify="right")
    for k in inp["metrics"]:
        row = [k, _fmt(inp["mean"][k], inp["std"][k])]
        if ref is not None:
            g = report["gap"][k]
            row += [_fmt(ref["mean"].get(k, math.nan), ref["std"].get(k, math.nan)),
                    f"{100 * g:+.1f} %" if math.isfinite(g) else "n/a"]
        table.add_row(*row)
    return table


def write_csv(report: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """One row per file (``set``, ``file``, metrics...) plus ``mean`` rows per set; atomic."""
    from videobgm.io import atomic_path

    names = report["inputs"]["metrics"]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["set", "file", *names])
            for set_name in ("inputs", "reference"):
                part = report.get(set_name)
                if part is None:
                    continue
                for f, m in part["per_file"].items():
                    w.writerow([set_name, f, *[_num(m.get(k, math.nan)) for k in names]])
                w.writerow([set_name, "mean", *[_num(part["mean"].get(k, math.nan)) for k in names]])
            if report.get("gap") is not None:
                w.writerow(["gap", "relative", *[_num(report["gap"][k]) for k in names]])
    return Path(path)


def _num(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.6g}"


def jsonable(report: dict[str, Any]) -> dict[str, Any]:
    """The report with NaN replaced by None (valid JSON)."""

    def fix(o: Any) -> Any:
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: fix(v) for k, v in o.items()}
        if isinstance(o, list):
            return [fix(v) for v in o]
        return o

    return fix(report)


def run_eval(
    midi: str | os.PathLike[str],
    *,
    reference: str | os.PathLike[str] | None = None,
    json_out: str | os.PathLike[str] | None = None,
    csv_out: str | os.PathLike[str] | None = None,
    convention: str = "default",
    seed: int = 0,
    structure: bool = True,
    pop909_split: str | None = None,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """``videobgm eval``: metrics of ``midi`` (file or folder) and of ``reference``; print the table,
    write JSON/CSV. Returns the report.

    ``convention``: ``"default"`` (ours) or ``"papers"`` (muspy / mgeval as published; the old name
    ``"muspy"`` is accepted and reported as ``"papers"``), see :mod:`videobgm.eval.symbolic`.

    With ``pop909_split`` ("train", "val", "test"), whichever of ``midi`` / ``reference`` is the
    POP909 folder contributes only the songs of that split (:func:`videobgm.data.dataset.split_of`).

    Raises
    ------
    InputError
        When no input file can be read (the reasons of the first few are in the message).
    """
    from rich.console import Console

    from videobgm.io import write_json
    from videobgm.progress import stage_bar

    convention = canonical_convention(convention)  # OptionError if unknown; "muspy" -> "papers"
    sets = {"inputs": midi} if reference is None else {"inputs": midi, "reference": reference}
    results: dict[str, Any] = {}
    for name, path in sets.items():
        files = pop909_files(path, pop909_split) if pop909_split and is_pop909_root(path) else collect_midi(path)
        with stage_bar(f"{name}: {len(files)} MIDI", enabled=show_progress) as bar:
            res = evaluate_files(files, convention=convention, seed=seed, structure=structure,
                                 progress=lambda d, t: bar(d, t))
        if res["n_files"] == 0:
            first = "; ".join(f"{Path(k).name}: {v}" for k, v in list(res["skipped"].items())[:3])
            raise InputError(f"no readable MIDI in {path}: {first}")
        results[name] = res
    report = build_report(results["inputs"], results.get("reference"), convention=convention)
    console = Console()
    console.print(render_table(report))
    for name, res in results.items():
        for f, why in res["skipped"].items():
            console.print(f"skipped ({name}) {f}: {why}", style="yellow", markup=False, highlight=False)
    if json_out:
        write_json(json_out, jsonable(report))
    if csv_out:
        write_csv(report, csv_out)
    return report
