"""Generation speed: 32 bars with the ``small`` checkpoint (target: <= 3 s on 2 CPU cores).

Usage::

    python bench/generate.py [--checkpoint DIR] [--bars 32] [--runs 3] [--threads N] [--song ID] [--split]

Controls come from a POP909 test song (its first ``--bars`` bars: density, strength, chords, key)
when POP909 is present, else from a synthetic plan (18 onsets per bar, I-vi-IV-V). Prints one row
per run: seconds, compound tokens, notes, tokens/s (with ``--split``, also the seconds spent in the
backbone, in the output heads and in the sampler's own Python/NumPy); then model load time, peak
RSS and the load average (the machine is shared, so numbers under load are pessimistic).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np

from videobgm.data import pop909


def _controls(n_bars: int, song: int | None):
    from videobgm.compose.score_controls import controls_from_score
    from videobgm.types import Chord, Controls

    try:
        dirs = pop909.song_dirs(None, "test")
        if dirs:
            d = next((x for x in dirs if song is None or int(x.name) == song), dirs[0])
            score, _ = pop909.load_song(d)
            c = controls_from_score(score)
            spb = c.steps_per_bar
            c.n_bars = min(n_bars, c.n_bars)
            c.density_per_bar = c.density_per_bar[: c.n_bars]
            c.strength_per_beat = c.strength_per_beat[: c.n_bars * c.beats_per_bar]
            c.accent_steps = c.accent_steps[: c.n_bars * spb]
            if c.melody_bars is not None:
                c.melody_bars = c.melody_bars[: c.n_bars]
            c.chords = [ch for ch in c.chords if ch.onset_16th < c.n_bars * spb]
            c.tracks = ("melody", "bridge", "piano")
            return c, f"POP909 test song {d.name}"
    except Exception as exc:  # noqa: BLE001 - the benchmark falls back to synthetic controls
        print(f"(POP909 unavailable: {exc}; synthetic controls)", file=sys.stderr)
    prog = [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")]
    chords = [Chord(b * 16, *prog[b % 4]) for b in range(n_bars)]
    strength = np.tile([3, 1, 2, 1], n_bars)
    acc = np.zeros(n_bars * 16, dtype=bool)
    return Controls(n_bars=n_bars, beats_per_bar=4, density_per_bar=np.full(n_bars, 18),
                    strength_per_beat=strength, accent_steps=acc, chords=chords,
                    tracks=("melody", "piano")), "synthetic"


def _timers(model) -> dict[str, float]:  # noqa: ANN001
    """Wrap the model's backbone and head calls (instance attributes) to add up their seconds."""
    spent = {"backbone": 0.0, "heads": 0.0}

    def timed(fn, key):  # noqa: ANN001, ANN202
        def wrapper(*a, **k):  # noqa: ANN202
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.perf_counter() - t
        return wrapper

    model.hidden = timed(model.hidden, "backbone")
    model.field_logits = timed(model.field_logits, "heads")
    model.extend_context = timed(model.extend_context, "heads")
    return spent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder (default: packaged small)")
    ap.add_argument("--bars", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads while decoding (SampleConfig.threads; default 1)")
    ap.add_argument("--song", type=int, default=None, help="POP909 test song id for the controls")
    ap.add_argument("--untrained", action="store_true", help="untrained small model (no checkpoint)")
    ap.add_argument("--split", action="store_true",
                    help="time the backbone, the heads and the sampler separately (adds ~2 %% overhead)")
    args = ap.parse_args()

    import torch

    from videobgm.compose import checkpoint as ckpt
    from videobgm.compose.sampler import generate
    from videobgm.compose.tokens import Tokenizer
    from videobgm.config import ModelConfig, SampleConfig

    t0 = time.perf_counter()
    if args.untrained:
        tok = Tokenizer()
        model = ckpt.build_untrained(ModelConfig.preset("small"), tok, seed=0)
    else:
        model, tok, _ = ckpt.load_checkpoint(args.checkpoint)
    load_s = time.perf_counter() - t0
    controls, source = _controls(args.bars, args.song)
    print(f"controls: {source}, {controls.n_bars} bars, tracks {','.join(controls.tracks)}, "
          f"mean density {np.mean(controls.density_per_bar):.1f} onsets/bar")
    print(f"model: {model.num_parameters():,} parameters {model.cfg.to_dict()}; load {load_s:.2f} s; "
          f"decoding threads {args.threads} (torch {torch.__version__})")
    spent = _timers(model) if args.split else None
    split_head = f" {'backbone':>8} {'heads':>6} {'sampler':>7}" if spent else ""
    print(f"{'run':>3} {'seed':>4} {'seconds':>8} {'cpu s':>6} {'tokens':>7} {'notes':>6} {'tokens/s':>9}{split_head}")
    rows = []
    for r in range(args.runs):
        if spent:
            spent.update(backbone=0.0, heads=0.0)
        t, c0 = time.perf_counter(), time.process_time()
        score = generate(controls, model, tok, SampleConfig(seed=r, threads=args.threads))
        dt, cpu = time.perf_counter() - t, time.process_time() - c0
        n_tok = int(tok.encode(score)[0].shape[0])  # the compound tokens generated (BOS..EOS)
        rows.append((dt, cpu, n_tok, len(score.notes)))
        split = (f" {spent['backbone']:>8.2f} {spent['heads']:>6.2f} "
                 f"{dt - spent['backbone'] - spent['heads']:>7.2f}") if spent else ""
        print(f"{r:>3} {r:>4} {dt:>8.2f} {cpu:>6.2f} {n_tok:>7} {len(score.notes):>6} {n_tok / dt:>9.0f}{split}")
    secs = np.array([x[0] for x in rows])
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    cpus = np.array([x[1] for x in rows])
    target = " (target <= 3 s)" if controls.n_bars == 32 else ""
    print(f"median {np.median(secs):.2f} s wall, {np.median(cpus):.2f} s CPU for {controls.n_bars} bars{target}; "
          f"peak RSS {rss_mb:.0f} MiB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
