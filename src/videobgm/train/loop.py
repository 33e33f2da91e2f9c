"""Training loop for the music transformer: plain, seeded, resumable.

AdamW, linear warm-up then cosine decay, gradient clipping, a checkpoint folder rewritten every
``ckpt_every`` steps (weights + optimizer + step, so ``resume=True`` continues where it stopped),
validation NLL on fixed windows of the validation split, and at the end the held-out NLL per field
on the test split, written to ``provenance.json``. Uses CUDA when available, else the CPU with all
cores. Data: :mod:`videobgm.data.dataset` (POP909 windows starting at bar lines, random transposition).

Loss: mean over token fields of each field's mean cross-entropy (target id 0 = "none" ignored),
as in the CP transformer.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.config import ModelConfig
from videobgm.data import pop909
from videobgm.errors import OptionError

log = logging.getLogger("videobgm.train")

SNAPSHOTS = "snapshots"  # weights-only copies every ``snapshot_every`` steps, under the run folder


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings of one run (saved in provenance)."""

    preset: str = "small"
    steps: int = 2000
    batch_size: int = 8
    seq_len: int = 512
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ckpt_every: int = 100
    eval_every: int = 200
    val_windows: int = 32
    test_windows: int | None = None  # None = every window of the test split
    log_every: int = 10
    seed: int = 0
    transpose: bool = True
    max_minutes: float | None = None  # stop (and save) after this much wall time
    threads: int | None = None  # CPU threads (None = os.cpu_count())
    snapshot_every: int | None = None  # also keep a weights-only copy every K steps (out/snapshots/)


def lr_at(step: int, s: TrainSettings) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up, then cosine down to ``min_lr_ratio * lr``."""
    if step < s.warmup_steps:
        return s.lr * (step + 1) / s.warmup_steps
    t = min(1.0, (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps))
    return s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def pick_device(threads: int | None = None) -> str:
    """``"cuda"`` when a GPU is usable, else ``"cpu"`` with ``threads`` threads (None = every core).

    On a machine shared with other jobs one thread is often faster than all cores: the threads of
    one matrix product wait for each other whenever one of them is descheduled.
    """
    import torch

    if torch.cuda.is_available():
        return "cuda"
    torch.set_num_threads(max(1, int(threads) if threads else (os.cpu_count() or 1)))
    return "cpu"


def fixed_windows(dataset: Sequence[tuple[np.ndarray, np.ndarray]], seq_len: int,
                  limit: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Consecutive windows of ``seq_len + 1`` rows covering each song (for held-out NLL).

    Windows overlap by one row so that every token after the first is a target exactly once.
    With ``limit``, an evenly spaced subset of that many windows (deterministic).
    """
    out = []
    for tok, cond in dataset:
        for s in range(0, max(1, tok.shape[0] - 1), seq_len):
            out.append((tok[s:s + seq_len + 1], cond[s:s + seq_len + 1]))
    if limit is not None and len(out) > limit:
        idx = np.linspace(0, len(out) - 1, limit).round().astype(int)
        out = [out[i] for i in idx]
    return out


def evaluate_nll(model: Any, windows: Sequence[tuple[np.ndarray, np.ndarray]], *, batch_size: int = 8,
                 device: str = "cpu") -> dict[str, Any]:
    """Held-out negative log-likelihood per field (nats per target) over ``windows``.

    Returns
    -------
    dict
        ``{"per_field": {name: nll}, "mean": mean over fields, "tokens": targets counted (type field)}``.
    """
    import torch

    from videobgm.compose.model import field_nll_sums

    nf = len(model.field_sizes)
    sums = torch.zeros(nf, dtype=torch.float64)
    counts = torch.zeros(nf, dtype=torch.float64)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(windows), batch_size):
            chunk = windows[i:i + batch_size]
            n = max(t.shape[0] for t, _ in chunk)
            x = np.zeros((len(chunk), n, nf), dtype=np.int64)
            c = np.zeros((len(chunk), n, windows[0][1].shape[1]), dtype=np.int64)
            for j, (t, cc) in enumerate(chunk):
                x[j, :t.shape[0]], c[j, :t.shape[0]] = t, cc
            xt, ct = torch.from_numpy(x).to(device), torch.from_numpy(c).to(device)
            logits, _ = model(xt[:, :-1], ct[:, :-1], targets=xt[:, 1:])
            s, k = field_nll_sums(logits, xt[:, 1:])
            sums += s.double().cpu()
            counts += k.double().cpu()
    model.train(was_training)
    per = {name: (float(sums[i] / counts[i]) if counts[i] > 0 else float("nan"))
           for i, name in enumerate(model.field_names)}
    vals = [v for v in per.values() if np.isfinite(v)]
    return {"per_field": per, "mean": float(np.mean(vals)) if vals else float("nan"),
            "tokens": int(counts[0])}


def _start(out: Path, s: TrainSettings, tokenizer: Any, *, resume: bool, model_cfg: ModelConfig | None,
           init_from: Path | None = None
           ) -> tuple[Any, Any, dict[str, Any], int, float, int, list[dict[str, Any]]]:
    """The model to train: resumed from ``out`` (with its optimiser state, step, wall time, tokens
    and history), warm-started from the weights of ``init_from`` (a fresh optimiser and schedule),
    or built untrained. Returns (model, tokenizer, extra, start_step, wall_before_s, tokens_seen,
    history)."""
    from videobgm.compose import checkpoint as ckpt

    if resume:
        model, tokenizer, meta, extra = ckpt.load_checkpoint(out, with_extra=True)
        prov = meta["provenance"]
        start_step = int(extra.get("step", prov.get("steps", 0)))
        log.info("resuming from step %d", start_step)
        return (model, tokenizer, extra, start_step, float(prov.get("wall_time_s", 0.0)),
                int(prov.get("tokens_seen", 0)), list(prov.get("history", [])))
    if init_from is not None:
        model, init_tok, _meta = ckpt.load_checkpoint(init_from)
        if init_tok.to_json() != tokenizer.to_json():
            raise OptionError(f"--init: {init_from} was trained with another vocabulary")
        if model.cfg.max_len < s.seq_len:
            raise OptionError(f"--init: {init_from} attends to {model.cfg.max_len} tokens, "
                              f"fewer than --seq-len {s.seq_len}")
        log.info("warm start from %s", init_from)
        return model, tokenizer, {}, 0, 0.0, 0, []
    cfg = model_cfg or ModelConfig.preset(s.preset)
    cfg = cfg.replace(max_len=s.seq_len)  # generation attends to as many tokens as training saw
    return ckpt.build_untrained(cfg, tokenizer, seed=s.seed), tokenizer, {}, 0, 0.0, 0, []


def _optimizer(model: Any, s: TrainSettings, extra: dict[str, Any]) -> Any:
    """AdamW, weight decay on the matrices only (not embeddings, norms, biases); a resumed run's
    state loaded."""
    import torch

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "emb" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": s.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=s.lr, betas=(0.9, 0.98))
    if extra.get("optimizer"):
        opt.load_state_dict(extra["optimizer"])
    return opt


def _optimiser_step(model: Any, opt: Any, batches: Any, s: TrainSettings, step: int,
                    device: str) -> tuple[float, Any, Any, int]:
    """One step on the next batch at the scheduled learning rate. Returns (loss, per-field
    losses, gradient norm before clipping, target tokens)."""
    import torch

    from videobgm.compose.model import field_losses

    for g in opt.param_groups:
        g["lr"] = lr_at(step, s)
    xb, cb, _ = next(batches)
    x = torch.from_numpy(xb).to(device)
    c = torch.from_numpy(cb).to(device)
    logits, _ = model(x[:, :-1], c[:, :-1], targets=x[:, 1:])
    losses = field_losses(logits, x[:, 1:])
    loss = losses.mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
    opt.step()
    return float(loss.detach()), losses, gnorm, int((x[:, 1:, 0] != 0).sum())


def _final_fields(model: Any, test_set: Sequence[tuple[np.ndarray, np.ndarray]],
                  val_windows: Sequence[tuple[np.ndarray, np.ndarray]], s: TrainSettings,
                  device: str) -> dict[str, Any]:
    """The end-of-run provenance fields: validation and held-out test NLL (per field)."""
    test_windows = fixed_windows(test_set, s.seq_len, s.test_windows)
    test = evaluate_nll(model, test_windows, batch_size=s.batch_size, device=device) if test_windows else None
    val = evaluate_nll(model, val_windows, batch_size=s.batch_size, device=device) if val_windows else None
    return {
        "val_loss": None if val is None else val["mean"],
        "val_nll_per_field": None if val is None else val["per_field"],
        "test_nll_per_field": None if test is None else test["per_field"],
        "test_nll_mean": None if test is None else test["mean"],
        "test_targets": None if test is None else test["tokens"],
    }


def _read_provenance(path: Path) -> dict[str, Any]:
    import json

    from videobgm.compose import checkpoint as ckpt

    f = path / ckpt.PROVENANCE
    return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}


def _init_summary(path: Path) -> dict[str, Any]:
    """What a warm-started run records of the checkpoint it started from."""
    prov = _read_provenance(path)
    return {"path": str(path), "steps": prov.get("steps"), "tokens_seen": prov.get("tokens_seen"),
            "wall_time_s": prov.get("wall_time_s"), "settings": prov.get("settings"),
            "history": prov.get("history", []), "test_nll_mean": prov.get("test_nll_mean"),
            "init": prov.get("init")}  # a chain of warm starts keeps its whole lineage


def _provenance(data_root: Any, dataset: dict[str, list], s: TrainSettings, model: Any, n_params: int,
                device: str, command: str | None, history: list[dict[str, Any]], *, step: int, wall: float,
                tokens_seen: int, extra_fields: dict[str, Any]) -> dict[str, Any]:
    """What the checkpoint records about its training: data, split, settings, model, machine."""
    import torch

    return {
        "data": str(data_root) if data_root is not None else str(pop909.default_root()),
        "split": {"train": len(dataset["train"]), "val": len(dataset["val"]), "test": len(dataset["test"]),
                  "rule": "song id % 19 == 0 -> test, == 1 -> val, else train"},
        "augmentation": "random transposition in [-6, 5] semitones" if s.transpose else "none",
        "steps": step, "wall_time_s": round(wall, 1), "tokens_seen": tokens_seen,
        "settings": asdict(s), "model": model.cfg.to_dict(), "parameters": n_params,
        "device": device, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "torch": torch.__version__, "python": platform.python_version(),
        "command": command, "history": history, **extra_fields,
    }


def train(data_root: str | os.PathLike[str] | None, out_dir: str | os.PathLike[str], settings: TrainSettings,
          *, resume: bool = False, model_cfg: ModelConfig | None = None, dataset: dict[str, list] | None = None,
          command: str | None = None, on_step: Callable[[int, float], None] | None = None,
          init_from: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Train (or resume) and write a checkpoint folder at ``out_dir``.

    Parameters
    ----------
    data_root : path-like or None
        POP909 folder (None = default location, see :mod:`videobgm.data.dataset`).
    out_dir : path-like
        Checkpoint folder (rewritten every ``ckpt_every`` steps and at the end).
    settings : TrainSettings
    resume : bool
        Continue from the checkpoint in ``out_dir`` (weights, optimizer, step).
    model_cfg : ModelConfig, optional
        Default: ``ModelConfig.preset(settings.preset)`` with ``max_len >= seq_len``.
    dataset : dict, optional
        ``{"train": [(tokens, cond)], "val": [...], "test": [...]}`` instead of POP909 (tests).
    command : str, optional
        The command line, recorded in provenance.
    on_step : callable, optional
        ``on_step(step, loss)`` after every optimiser step.
    init_from : path-like, optional
        Warm start: begin from this checkpoint's weights (and model config) with a fresh optimiser
        and schedule (longer training of a shipped model). Its provenance (steps, tokens, wall
        time, validation history) is recorded under ``init`` in the new provenance.

    Returns
    -------
    dict
        The provenance written beside the weights.
    """
    import torch

    from videobgm.compose import checkpoint as ckpt
    from videobgm.compose.tokens import Tokenizer
    from videobgm.data import dataset as data_mod
    s = settings
    if s.steps < 1 or s.batch_size < 1 or s.seq_len < 2:
        raise OptionError("steps and batch size must be >= 1 and seq_len >= 2")
    out = Path(out_dir)
    if resume and not (out / ckpt.WEIGHTS).is_file():
        raise OptionError(f"--resume: no checkpoint to resume in {out}")
    if s.snapshot_every is not None and s.snapshot_every < 1:
        raise OptionError("--snapshot-every must be >= 1")
    init_path = None if init_from is None else Path(init_from)
    if init_path is not None and not resume and not (init_path / ckpt.WEIGHTS).is_file():
        raise OptionError(f"--init: no checkpoint in {init_path}")
    tokenizer = Tokenizer()
    if dataset is None:
        t0 = time.perf_counter()
        dataset = {sp: data_mod.load_dataset(data_root, sp, tokenizer) for sp in ("train", "val", "test")}
        log.info("data: %s sequences train / %s val / %s test (%.1f s)", len(dataset["train"]),
                 len(dataset["val"]), len(dataset["test"]), time.perf_counter() - t0)
    device = pick_device(s.threads)
    torch.manual_seed(s.seed)
    model, tokenizer, extra, start_step, wall_before, tokens_seen, history = _start(
        out, s, tokenizer, resume=resume, model_cfg=model_cfg, init_from=None if resume else init_path)
    model.to(device).train()
    opt = _optimizer(model, s, extra)
    # one seeded data stream per run; a resumed run skips the batches already used, so that
    # training k steps, stopping and resuming gives the same batches as an uninterrupted run
    batches = data_mod.iter_batches(dataset["train"], s.batch_size, s.seq_len + 1, seed=s.seed,
                                    tokenizer=tokenizer, transpose=s.transpose)
    for _ in range(start_step):
        next(batches)
    val_windows = fixed_windows(dataset["val"], s.seq_len, s.val_windows)
    n_params = model.num_parameters()
    log.info("model: %s parameters, %s, device %s, %d threads", f"{n_params:,}", model.cfg.to_dict(),
             device, torch.get_num_threads())

    # what the run records of its warm start (a resumed run keeps what it recorded then)
    init_info = _read_provenance(out).get("init") if resume else \
        (_init_summary(init_path) if init_path is not None else None)

    def provenance(step: int, wall: float, extra_fields: dict[str, Any]) -> dict[str, Any]:
        more = dict(extra_fields) if init_info is None else {**extra_fields, "init": init_info}
        return _provenance(data_root, dataset, s, model, n_params, device, command, history,
                           step=step, wall=wall, tokens_seen=tokens_seen, extra_fields=more)

    def save(step: int, wall: float, extra_fields: dict[str, Any]) -> None:
        model_cpu_state = {"optimizer": opt.state_dict(), "step": step}
        ckpt.save_checkpoint(out, model, tokenizer, provenance(step, wall, extra_fields), extra=model_cpu_state)

    stop = {"flag": False}

    def _on_signal(signum, frame):  # noqa: ANN001, ARG001
        stop["flag"] = True

    old_handler = signal.signal(signal.SIGTERM, _on_signal) if _main_thread() else None
    t_start = time.perf_counter()
    t_log, tok_log = t_start, 0
    step = start_step
    last_val: float | None = history[-1].get("val_nll") if history else None
    try:
        while step < s.steps and not stop["flag"]:
            lv, losses, gnorm, n_tok = _optimiser_step(model, opt, batches, s, step, device)
            step += 1
            tokens_seen += n_tok
            tok_log += n_tok
            if on_step is not None:
                on_step(step, lv)
            elapsed = time.perf_counter() - t_start
            if step % s.log_every == 0 or step == s.steps:
                now = time.perf_counter()
                log.info("step %d/%d loss %.4f (%s) lr %.2e gnorm %.2f %.0f tok/s %.0f s", step, s.steps,
                         lv, " ".join(f"{n}={v:.2f}" for n, v in zip(model.field_names, losses.detach().tolist())),
                         lr_at(step - 1, s), float(gnorm), tok_log / max(now - t_log, 1e-9), wall_before + elapsed)
                t_log, tok_log = now, 0
            if step % s.eval_every == 0 or step == s.steps:
                v = evaluate_nll(model, val_windows, batch_size=s.batch_size, device=device)
                last_val = v["mean"]
                history.append({"step": step, "train_loss": round(lv, 4), "val_nll": round(last_val, 4),
                                "wall_time_s": round(wall_before + elapsed, 1)})
                log.info("step %d validation NLL %.4f (%s)", step, last_val,
                         " ".join(f"{n}={x:.2f}" for n, x in v["per_field"].items()))
            if step % s.ckpt_every == 0:
                save(step, wall_before + elapsed, {"val_loss": last_val})
            if s.snapshot_every is not None and step % s.snapshot_every == 0:
                ckpt.save_checkpoint(out / SNAPSHOTS / f"step_{step:06d}", model, tokenizer,
                                     provenance(step, wall_before + elapsed, {"val_loss": last_val}))
            if s.max_minutes is not None and wall_before + elapsed > 60.0 * s.max_minutes:
                log.info("time budget of %.1f min reached at step %d", s.max_minutes, step)
                break
    except KeyboardInterrupt:
        log.info("interrupted at step %d; saving", step)
        stop["flag"] = True
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
    wall = wall_before + time.perf_counter() - t_start
    fields = _final_fields(model, dataset["test"], val_windows, s, device)
    fields["finished"] = step >= s.steps
    save(step, wall, fields)
    log.info("saved %s at step %d (%.0f s); test NLL %s", out, step, wall,
             None if fields["test_nll_mean"] is None else round(fields["test_nll_mean"], 4))
    return provenance(step, wall, fields)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def export_checkpoint(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, half: bool = False) -> Path:
    """Copy a training checkpoint without optimizer state (for shipping), keeping provenance."""
    from videobgm.compose import checkpoint as ckpt
    model, tokenizer, meta = ckpt.load_checkpoint(src)
    return ckpt.save_checkpoint(dst, model, tokenizer, meta["provenance"], half=half)


def setup_logging(quiet: bool = False) -> None:
    """Log training progress to stderr (one line per event)."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
