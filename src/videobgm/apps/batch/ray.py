"""Ray side of ``videobgm batch``: a local (offline, quiet) or remote Ray, one actor per worker.

Each actor (:class:`Worker`) builds the scorer once (for the real pipeline: loads the model and
warms up), limits itself to one CPU thread, then scores one :class:`~videobgm.apps.batch.items.BatchItem`
per task. The driver (:func:`run_ray`) hands the next video to whichever actor is free, records
every result through ``finish`` as it arrives, replaces actors that die or time out, and on
Ctrl-C kills its actors, shuts down the Ray it started and removes what in-flight videos left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from videobgm.apps.batch.items import (
    BatchItem,
    BatchSummary,
    ScorerFactory,
    input_fingerprint,
    one_line,
    remove_outputs,
    run_item,
)
from videobgm.errors import OptionError, VideobgmError


def limit_threads(n: int) -> None:
    """Make a worker use ``n`` CPU threads (torch, OpenCV, OpenMP) so workers do not oversubscribe."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(n)
    with contextlib.suppress(ImportError):
        import cv2

        cv2.setNumThreads(n)


class Worker:
    """Ray actor body: builds the scorer (loads the model) once, then scores one item per call."""

    def __init__(self, factory: ScorerFactory, spec: Any, threads: int) -> None:
        limit_threads(threads)
        self.error: str | None = None
        try:
            self.scorer = factory(spec)
        except Exception as exc:
            self.error = one_line(exc)

    def ready(self) -> tuple[int, str | None]:
        return os.getpid(), self.error

    def run(self, item: BatchItem) -> dict[str, Any]:
        return run_item(self.scorer, item)


# ----------------------------------------------------------------------------------------------
# the batch
# ----------------------------------------------------------------------------------------------

def _ray_init(workers: int, address: str | None) -> bool:
    """Connect to ``address`` or start a local, offline, quiet Ray; return True if we started it."""
    import logging

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    os.environ.setdefault("RAY_DISABLE_DOCKER_CPU_WARNING", "1")
    try:
        import ray
    except ImportError:
        from videobgm.errors import MissingDependencyError

        raise MissingDependencyError("ray", "pip install 'videobgm[batch]' or use --workers 0") from None
    if ray.is_initialized():
        return False
    kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                              logging_level=logging.ERROR, configure_logging=True)
    try:
        if address:
            ray.init(address=address, **kw)
        else:
            ray.init(num_cpus=workers, _node_ip_address="127.0.0.1",
                     object_store_memory=128 * 1024 * 1024, **kw)
    except Exception as exc:
        raise OptionError(f"cannot start Ray{f' at {address}' if address else ''}: {one_line(exc)}") from None
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_ray(todo: list[BatchItem], factory: ScorerFactory, spec: Any,
             finish: Callable[[dict[str, Any]], None], summary: BatchSummary, *, workers: int,
             address: str | None, timeout_s: float | None) -> None:
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    t_init = time.perf_counter()
    started = _ray_init(workers, address)
    Actor = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(Worker)
    pids: dict[Any, int] = {}
    pending: dict[Any, tuple[Any, BatchItem, float]] = {}  # ref -> (actor, item, t0)

    def start_actors(n: int) -> list[Any]:
        """Start ``n`` actors in parallel (each loads the model once) and wait until ready."""
        new = [Actor.remote(factory, spec, 1) for _ in range(n)]
        try:
            answers = ray.get([a.ready.remote() for a in new])
        except RayActorError as exc:
            raise VideobgmError(f"a Ray worker died while starting: {one_line(exc)}") from None
        for a, (pid, err) in zip(new, answers):
            pids[a] = pid
            if err:
                raise VideobgmError(f"cannot start the scorer in a Ray worker: {err}")
        return new

    def new_actor() -> Any:
        return start_actors(1)[0]

    def failed(it: BatchItem, reason: str, t0: float) -> dict[str, Any]:
        remove_outputs(it)
        return {"video": it.key, "name": it.name, "status": "failed",
                "outputs": {k: str(p) for k, p in it.outputs.items()},
                "timings_s": {"total": round(time.perf_counter() - t0, 4)}, "error": reason,
                "worker": None, "input": input_fingerprint(it.video)}

    try:
        free = start_actors(max(1, min(workers, len(todo))))
        summary.ready_at = time.perf_counter()
        summary.startup_s = summary.ready_at - t_init
        queue = deque(todo)
        while queue or pending:
            while free and queue:
                a, it = free.pop(), queue.popleft()
                pending[a.run.remote(it)] = (a, it, time.perf_counter())
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                a, it, t0 = pending.pop(ref)
                try:
                    rec = ray.get(ref)
                    free.append(a)
                except RayActorError:
                    rec = failed(it, "worker process died while scoring (crash or out of memory)", t0)
                    pids.pop(a, None)
                    free.append(new_actor())
                except RayTaskError as exc:  # run_item catches Exceptions; this is a bug
                    rec = failed(it, one_line(exc.cause if getattr(exc, "cause", None) else exc), t0)
                    free.append(a)
                finish(rec)
            if timeout_s:
                now = time.perf_counter()
                for ref, (a, it, t0) in list(pending.items()):
                    if now - t0 > timeout_s and ref not in done:
                        del pending[ref]
                        ray.kill(a, no_restart=True)
                        pids.pop(a, None)
                        finish(failed(it, f"timed out after {timeout_s:g} s", t0))
                        free.append(new_actor())
    except BaseException:
        # Ctrl-C (or a broken cluster): stop the workers, then remove what they left half-done
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
        try:
            for a in list(pids):
                with contextlib.suppress(Exception):
                    ray.kill(a, no_restart=True)
            if started:
                with contextlib.suppress(Exception):
                    ray.shutdown()
            deadline = time.monotonic() + 10.0
            while address is None and time.monotonic() < deadline and any(map(_pid_alive, pids.values())):
                time.sleep(0.05)
            for _, it, _ in pending.values():
                remove_outputs(it)
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        raise
    if started:
        ray.shutdown()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
