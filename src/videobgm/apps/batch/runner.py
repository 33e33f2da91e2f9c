"""Score many videos: a resumable JSONL manifest, one failure never stops the rest, Ray workers.

``videobgm batch INPUT -o OUT_DIR`` scores every video of a folder (or every path listed in a
text / JSONL manifest) into ``OUT_DIR``. Each finished attempt appends one JSON line to
``OUT_DIR/manifest.jsonl``::

    {"video": "/abs/in/a.mp4", "name": "a", "status": "ok", "outputs": {"video": ".../a.mp4"},
     "timings_s": {"features": 1.2, ..., "total": 4.1}, "error": null, ...}

Rules (see ``docs/batch.md``):

- *finished* = the manifest's last record for the video says ``ok`` with the same config, the
  input file is unchanged (size, mtime) and every requested output exists. Finished videos are
  skipped and get no new manifest line, so a second run changes nothing.
- a video whose last attempt *failed* (same config, unchanged input) is not retried unless
  ``retry_failed`` is set; it still counts as failed in the summary.
- a failure is recorded with a one-line reason; the video's outputs (complete or not) are removed,
  so an output file exists only for ``ok`` videos.
- Ctrl-C / SIGTERM: workers are stopped, outputs and temporary files of unfinished videos are
  removed, the manifest keeps every finished line (each line is one ``O_APPEND`` write).

Execution: ``workers=0`` runs in this process (the serial baseline); ``workers=N`` starts N Ray
actors, each loading the model once (a :class:`~videobgm.pipeline.Pipeline`) and scoring one video
per task. A local Ray is started offline and quiet unless ``ray_address`` names a cluster.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from videobgm.apps.batch.items import (
    BatchItem,
    BatchSummary,
    Manifest,
    Scorer,
    ScorerFactory,
    collect_inputs,
    config_hash,
    input_fingerprint,
    is_finished,
    make_items,
    one_line,
    run_item,
    temp_files,
)
from videobgm.errors import OptionError, VideobgmError, sigterm_raises


def pipeline_scorer(spec: dict[str, Any]) -> Scorer:
    """The real scorer: one :class:`~videobgm.pipeline.Pipeline` (model loaded once) per worker.

    ``spec`` = ``{"config": PipelineConfig, "untrained": bool, "warm_up": bool (default True)}``;
    the warm-up scores a 1 s synthetic clip so that start-up problems (a bad soundfont, a broken
    install) stop the batch with one line instead of failing every video.
    """
    from videobgm.pipeline import Pipeline

    pipe = Pipeline(spec["config"], untrained=bool(spec.get("untrained", False)), progress=False)
    pipe.load_model()
    if spec.get("warm_up", True):
        _warm_up(pipe)

    def score(video: Path, outputs: dict[str, Path]) -> dict[str, float]:
        res = pipe.run(video, outputs.get("video"), midi=outputs.get("midi"),
                         wav=outputs.get("wav"), plan_json=outputs.get("plan_json"))
        return dict(res.timings_s)

    return score


def _warm_up(pipe: Any) -> None:
    """Score a 1 s synthetic clip once, so that a worker's first video does not pay the stages'
    first-call costs (imports of SciPy/OpenCV/FFmpeg, soundfont loading: ~2-4 s)."""
    import tempfile

    from videobgm.testing import synthetic_videos as synth
    with tempfile.TemporaryDirectory(prefix="videobgm-warmup-") as d:
        clip = synth.write_video(Path(d) / "warmup.mp4", synth.oscillating_square(
            period_s=0.5, width=64, height=48, size=8), duration_s=1.0, fps=10.0, width=64, height=48)
        pipe.run(clip, Path(d) / "out.mp4", midi=Path(d) / "out.mid")


def run_batch(
    source: str | os.PathLike[str] | list[Path],
    out_dir: str | os.PathLike[str],
    *,
    spec: Any,
    workers: int = 0,
    ray_address: str | None = None,
    factory: ScorerFactory = pipeline_scorer,
    kinds: tuple[str, ...] = ("video",),
    retry_failed: bool = False,
    timeout_s: float | None = None,
    log: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Score every video of ``source`` into ``out_dir``, resumably.

    Parameters
    ----------
    source : path or list of paths
        Folder or manifest (see :func:`collect_inputs`), or the videos themselves.
    out_dir : path
        Output folder (created); holds ``manifest.jsonl`` and ``NAME.mp4`` (+ ``.mid``,
        ``.wav``, ``.plan.json`` per ``kinds``).
    spec : any picklable
        Passed to ``factory`` in each worker; for :func:`pipeline_scorer`
        ``{"config": PipelineConfig, "untrained": bool}``. Its ``"config"`` (or itself) is hashed
        into each record so that changing settings re-scores.
    workers : int
        0 = in this process, without Ray. N >= 1 = N Ray actors (one CPU each).
    ray_address : str, optional
        Existing Ray cluster (``"auto"``, ``"ray://host:10001"``); default: start a local one.
    factory : callable
        ``factory(spec) -> scorer``; called once per worker.
    kinds : tuple of str
        Outputs per video, keys of :data:`OUTPUT_SUFFIXES`.
    retry_failed : bool
        Retry videos whose last attempt failed (by default only changed inputs are retried).
    timeout_s : float, optional
        Ray mode only: a video taking longer fails ("timed out") and its worker is replaced.
    log : callable, optional
        Receives one line per finished video.
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OptionError(f"output folder {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK):
        raise OptionError(f"output folder is not writable: {out}")
    videos = list(source) if isinstance(source, list) else collect_inputs(source)
    if not isinstance(source, list) and Path(source).is_dir() and Path(source).resolve() == out.resolve():
        raise OptionError("the output folder must differ from the input folder")
    if workers < 0:
        raise OptionError(f"--workers must be >= 0, got {workers}")
    items = make_items([Path(os.path.abspath(v)) for v in videos], out.resolve(), kinds)
    manifest = Manifest(out)
    chash = config_hash(spec.get("config", spec) if isinstance(spec, dict) else spec)
    last = manifest.load()
    summary = BatchSummary(manifest=str(manifest.path))
    todo: list[BatchItem] = []
    for it in items:
        rec = last.get(it.key)
        if is_finished(rec, it, chash):
            summary.skipped.append(it.key)
        elif (rec is not None and rec.get("status") == "failed" and not retry_failed
              and rec.get("config_hash") == chash and rec.get("input") == input_fingerprint(it.video)):
            summary.failed[it.key] = f"{rec.get('error')} (earlier run; --retry-failed to retry)"
        else:
            todo.append(it)

    def finish(rec: dict[str, Any]) -> None:
        summary.scoring_s = time.perf_counter() - summary.ready_at
        rec["config_hash"] = chash
        manifest.append(rec)
        summary.scored += 1
        if rec["status"] == "ok":
            summary.ok.append(rec["video"])
        else:
            summary.failed[rec["video"]] = rec["error"]
        if log is not None:
            extra = f"{rec['timings_s'].get('total', 0):.1f} s" if rec["status"] == "ok" else rec["error"]
            log(f"{rec['status']:>6}  {rec['name']}  ({extra})")

    for it in todo:  # temporaries left by a killed earlier run (SIGKILL, power loss)
        for tmp in temp_files(it):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    if todo:
        with sigterm_raises(KeyboardInterrupt):
            if workers == 0:
                _run_serial(todo, factory, spec, finish, summary)
            else:
                from videobgm.apps.batch.ray import run_ray

                run_ray(todo, factory, spec, finish, summary, workers=workers,
                        address=ray_address, timeout_s=timeout_s)
    summary.wall_s = time.perf_counter() - t_start
    return summary


def _run_serial(todo: list[BatchItem], factory: ScorerFactory, spec: Any,
                finish: Callable[[dict[str, Any]], None], summary: BatchSummary) -> None:
    t0 = time.perf_counter()
    try:
        scorer = factory(spec)
    except Exception as exc:
        raise VideobgmError(f"cannot start the scorer: {one_line(exc)}") from None
    summary.ready_at = time.perf_counter()
    summary.startup_s = summary.ready_at - t0
    for it in todo:
        finish(run_item(scorer, it))  # run_item cleans up the item on KeyboardInterrupt


def print_summary(summary: BatchSummary, stream: Any = None) -> None:
    """Human summary: counts, then one line per failed video."""
    stream = stream or sys.stdout
    print(f"{len(summary.ok)} ok, {len(summary.failed)} failed, {len(summary.skipped)} already done "
          f"({summary.scored} scored in {summary.wall_s:.1f} s); manifest: {summary.manifest}", file=stream)
    for video, reason in summary.failed.items():
        print(f"failed  {video}: {reason}", file=stream)
