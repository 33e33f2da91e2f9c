"""Held-out NLL against training budget (issue 18: "measure NLL and the statistics against
training budget").

Usage::

    python bench/train_budget.py CKPT [CKPT ...] [--data POP909] [--threads 1] [--md OUT.md] [--json OUT.json]

For each checkpoint folder (e.g. the packaged ``small`` model and the snapshots a run keeps with
``videobgm train --snapshot-every K``, under ``OUT/snapshots/``): the total optimiser steps and
target tokens it has seen (a warm-started run adds those of the checkpoint it started from, its
provenance's ``init``), and the NLL per token field over every window of the POP909 test split
(the same windows for all checkpoints: ``seq_len`` of the first checkpoint). The melody statistics
of the same checkpoints come from ``bench/quality.py --checkpoint`` (the songs' own controls) and
``bench/musicality.py --checkpoint`` (video-driven plans).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def budget(prov: dict) -> tuple[int, int, float]:
    """(total steps, total target tokens, total wall seconds) of a checkpoint, its warm start's included."""
    steps, tokens, wall = int(prov.get("steps") or 0), int(prov.get("tokens_seen") or 0), float(prov.get("wall_time_s") or 0)
    if prov.get("total_steps"):  # the packaged model's provenance sums its lineage itself
        return int(prov["total_steps"]), int(prov["total_tokens_seen"]), float(prov["total_wall_time_s"])
    init = prov.get("init")
    if init:
        s0, t0, w0 = budget(init)
        steps, tokens, wall = steps + s0, tokens + t0, wall + w0
    return steps, tokens, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--data", default=None, help="POP909 folder (default: $VIDEOBGM_POP909 or ../shared/data/POP909)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--md", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import torch

    from videobgm.compose import checkpoint as ckpt
    from videobgm.compose.tokens import Tokenizer
    from videobgm.data import dataset as data_mod
    from videobgm.train.loop import evaluate_nll, fixed_windows

    torch.set_num_threads(args.threads)
    for c in args.checkpoints:
        if not (Path(c) / ckpt.WEIGHTS).is_file():
            raise SystemExit(f"train_budget: no checkpoint in {c}")
    test = data_mod.load_dataset(args.data, "test", Tokenizer())
    rows, windows = [], None
    for c in args.checkpoints:
        model, _, meta = ckpt.load_checkpoint(c)
        prov = meta.get("provenance", {})
        if windows is None:
            windows = fixed_windows(test, int(prov.get("settings", {}).get("seq_len") or model.cfg.max_len), None)
        t0 = time.perf_counter()
        r = evaluate_nll(model, windows, batch_size=8)
        steps, tokens, wall = budget(prov)
        rows.append({"checkpoint": c, "steps": steps, "tokens_seen": tokens, "wall_time_s": round(wall, 1),
                     "parameters": model.num_parameters(), "test_nll": r["mean"], "per_field": r["per_field"],
                     "targets": r["tokens"]})
        print(f"{c}: {steps} steps, test NLL {r['mean']:.4f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    fields = list(rows[0]["per_field"])
    lines = [f"Held-out NLL (nats per target, POP909 test split, {rows[0]['targets']} type targets) "
             "against training budget", "",
             "| checkpoint | steps | target tokens (M) | train wall (min) | " + " | ".join(fields) + " | mean |",
             "|---|---|---|---|" + "---|" * (len(fields) + 1)]
    for r in rows:
        lines.append(f"| {r['checkpoint']} | {r['steps']} | {r['tokens_seen'] / 1e6:.2f} | {r['wall_time_s'] / 60:.1f} | "
                     + " | ".join(f"{r['per_field'][f]:.3f}" for f in fields) + f" | {r['test_nll']:.4f} |")
    text = "\n".join(lines)
    sys.path.insert(0, str(Path(__file__).parent))
    from _util import emit

    emit(text, rows, args.md, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
