"""Musicality of video-driven pieces against POP909 (issue 18's measuring stick).

Usage::

    python bench/musicality.py [--seeds 0,1,2] [--cache DIR] [--md docs/results/musicality.md]
        [--json OUT.json] [--label NAME] [--src OTHER/src] [--baseline BASE.json]
        [--checkpoint FOLDER]

Pieces: the default :class:`~videobgm.pipeline.Pipeline` (packaged small checkpoint, no prompt,
no bridges) scores the four shared videos and four synthetic ones (hard cuts every 6 s; a slow
square, 2 s period; a fast square, 0.4 s period; a textured clip with cuts every 15 s and a
0.8 s motion) with each seed: 8 x 3 = 24 pieces. Each piece's statistics
(:mod:`videobgm.eval.musicality`, first 24 bars) and papers-convention metrics (muspy SC, PE, PCE,
EBR; mgeval avg IOI in s) are averaged over pieces and printed next to the same code's values on
POP909's first 24 bars (quantised on its beat annotations): the validation split (the calibration
reference) and, separately, the test split. Below the papers' metrics, ``empty_beat_rate_in_music``
is muspy's EBR counted from each piece's first onset (not a paper metric): it shows that POP909's
empty beats are the silence before its first note.

Composed pieces are cached as JSON per (video, seed, code version) under ``--cache`` (the code
version hashes ``src/videobgm``'s Python files); ``--src`` composes with another checkout's code
(e.g. the base commit, exported with ``git archive``) in a subprocess, so that today's code and
the new one are measured by the same statistics. ``--baseline`` adds that run's column.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_VIDEOS = ("bigbuckbunny.mp4", "car-detection.mp4", "bottle-detection.mp4", "one-by-one-person-detection.mp4")
SYNTH = ("cuts", "slow", "fast", "textured")
PAPERS = ("scale_consistency", "pitch_entropy", "pitch_class_entropy", "empty_beat_rate", "avg_ioi_s")
ROWS = (  # (statistic, label, target on video-driven pieces)
    ("stepwise", "stepwise intervals (1-2 semitones)", ">= 0.35"),
    ("repeated", "repeated notes", "<= 0.30"),
    ("chord_tone_time", "melody time on chord tones", "0.65-0.85"),
    ("nct_strong", "non-chord tones on beats 1 and 3", "0.10-0.35"),
    ("nct_resolved", "non-chord tones resolving by step", ""),
    ("motif", "longest repeated motif (notes, first 24 bars)", ">= 12"),
    ("chord_changes_per_bar", "chord changes per bar", "1.0-1.8"),
    ("tonic_bars", "bars on the tonic", "<= 0.40"),
    ("distinct_chords", "distinct chords per 24 bars", ">= 5"),
    ("out_of_scale", "notes outside one major/natural-minor scale", ""),
    ("semitone_clash", "semitone clashes between tracks (sounding 16ths)", ""),
    ("empty_beats", "empty beats", "<= 2x POP909"),
    ("energy_velocity_r", "section energy -> velocity correlation", ">= 0.5"),
    ("bar_end_splat", "5+-note chords on the last 16th of a bar (share of onsets)", "<= 2x POP909"),
    ("bar_end_splat_chords", "5+-note chords: share on the last 16th of a bar", "<= 2x POP909"),
    ("velocity_top_bin", "melody notes in the most common velocity bin", "<= 0.40"),
    ("melody_pitch", "melody mean pitch (MIDI)", ""),
    ("melody_high", "melody 95th-percentile pitch (MIDI)", ""),
    ("energy_register_r", "section energy -> melody register correlation", "> 0"),
    ("melody_overlap", "melody notes still sounding at the next melody onset", ""),
)


def code_version(src: Path) -> str:
    """Hash of the composing code (``videobgm``'s Python files outside eval/ and ui/)."""
    h = hashlib.sha1()
    pkg = src / "videobgm"
    for p in sorted(pkg.rglob("*.py")):
        rel = p.relative_to(pkg).as_posix()
        if rel.startswith(("eval/", "ui/")):
            continue
        h.update(rel.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def synth_video(kind: str, folder: Path) -> Path:
    """One of the synthetic videos (written once into ``folder``)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _util import moving_clip

    from videobgm.testing import synthetic_videos as synth
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"synth-{kind}.mp4"
    if path.exists():
        return path
    if kind == "cuts":
        return synth.write_video(path, synth.hard_cut(cut_times_s=[6.0, 12.0, 18.0, 24.0]), duration_s=30.0)
    if kind == "slow":
        return synth.write_video(path, synth.bouncing_square(period_s=2.0), duration_s=30.0)
    if kind == "fast":
        return synth.write_video(path, synth.bouncing_square(period_s=0.4), duration_s=30.0)
    return moving_clip(path, duration_s=45.0, width=320, height=240)


def score_to_json(score, plan) -> dict:  # noqa: ANN001
    return {
        "notes": [[n.onset_16th, n.track, n.pitch, n.duration_16th, n.velocity] for n in score.notes],
        "n_bars": score.n_bars, "beats_per_bar": score.beats_per_bar, "tempo_bpm": float(score.tempo_bpm),
        "key_tonic": int(score.key_tonic), "mode": score.mode,
        "chords": [[c.onset_16th, c.root, c.quality, getattr(c, "bass", -1)] for c in score.chords],
        "beat_times_s": [float(x) for x in score.beat_times_s],
        "sections": [[s.start_bar, s.end_bar, float(s.energy), s.label] for s in plan.sections],
        "style": plan.style, "mood": plan.mood, "tracks": list(plan.controls.tracks),
    }


def score_from_json(d: dict):  # noqa: ANN201
    from videobgm.types import Chord, Note, Score

    return Score(notes=[Note(int(a), t, int(p), int(du), int(v)) for a, t, p, du, v in d["notes"]],
                 n_bars=int(d["n_bars"]), beats_per_bar=int(d["beats_per_bar"]), tempo_bpm=float(d["tempo_bpm"]),
                 key_tonic=int(d["key_tonic"]), mode=d["mode"],
                 chords=[Chord(int(c[0]), int(c[1]), c[2]) for c in d["chords"]],
                 beat_times_s=np.asarray(d["beat_times_s"]))


def bar_energy(d: dict) -> np.ndarray:
    e = np.full(int(d["n_bars"]), 0.5)
    for a, b, en, _ in d["sections"]:
        e[max(0, a):min(len(e), b)] = en
    return e


def weights_version(checkpoint: str | None) -> str:
    """'' for the packaged checkpoint, else a short hash of the folder's weights (cache key)."""
    if checkpoint is None:
        return ""
    w = Path(checkpoint) / "model.pt"
    if not w.is_file():
        raise SystemExit(f"musicality: no checkpoint weights in {checkpoint}")
    return "-w" + hashlib.sha1(w.read_bytes()).hexdigest()[:10]


def compose_all(videos: list[Path], seeds: list[int], cache: Path, checkpoint: str | None = None,
                overrides: dict | None = None) -> list[dict]:
    """Compose (or read from the cache) every (video, seed) piece with the importable code (and
    ``checkpoint``'s weights, default the packaged model)."""
    import videobgm
    from videobgm.config import PipelineConfig
    from videobgm.pipeline import Pipeline

    src = Path(videobgm.__file__).resolve().parents[1]
    ver = code_version(src) + weights_version(checkpoint)
    if overrides:
        ver += "-o" + hashlib.sha1(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
    out = []
    feats: dict[str, object] = {}
    pipe = None
    for seed in seeds:
        for v in videos:
            path = cache / ver / f"{v.stem}-s{seed}.json"
            if path.exists():
                out.append(json.loads(path.read_text(encoding="utf-8")))
                continue
            cfg = PipelineConfig()
            o = overrides or {}
            cfg = cfg.replace(sample=cfg.sample.replace(seed=seed, checkpoint=checkpoint,
                                                        **{k: x for k, x in o.items() if not k.startswith("plan.")}),
                              plan=cfg.plan.replace(**{k[5:]: x for k, x in o.items() if k.startswith("plan.")}))
            if pipe is None:
                pipe = Pipeline(cfg)
            else:  # same model, this seed
                pipe.config = cfg
            t0 = time.perf_counter()
            if v.name not in feats:
                feats[v.name] = pipe.analyze(v)
            plan = pipe.plan(feats[v.name])
            score = pipe.compose(plan)
            d = score_to_json(score, plan)
            d.update(video=v.stem, seed=seed, code=ver, seconds=time.perf_counter() - t0)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(d), encoding="utf-8")
            print(f"{v.stem} seed {seed}: {score.n_bars} bars, {len(score.notes)} notes "
                  f"({d['seconds']:.0f} s)", file=sys.stderr)
            out.append(d)
    return out


def piece_rows(pieces: list[dict]) -> list[dict]:
    from videobgm.eval import musicality as M
    from videobgm.eval import symbolic as S

    rows = []
    for d in pieces:
        sc = score_from_json(d)
        r = M.stats(sc, bar_energy=bar_energy(d))
        r.update({f"papers.{k}": v for k, v in S.compute_all(_first(sc), convention="papers", structure=False).items()
                  if k in PAPERS})
        r["papers.empty_beat_rate_in_music"] = ebr_in_music(_first(sc))
        r["video"], r["seed"] = d["video"], d["seed"]
        rows.append(r)
    return rows


def ebr_in_music(score) -> float:  # noqa: ANN001
    """muspy's empty-beat rate counted from the beat of the first onset: the silence before a song's
    first note (half of POP909's songs start after an empty beat or more, on average 1.1 beats)
    is left out. Not a paper metric; printed beside EBR to show where POP909's empty beats lie."""
    import dataclasses

    from videobgm.eval import symbolic as S
    if not score.notes:
        return float("nan")
    b = min(n.onset_16th for n in score.notes) // 4 * 4
    return S.empty_beat_rate(dataclasses.replace(
        score, notes=[dataclasses.replace(n, onset_16th=n.onset_16th - b) for n in score.notes]), convention="papers")


def _first(score, n_bars: int = 24):  # noqa: ANN001, ANN201
    sys.path.insert(0, str(Path(__file__).parent))
    from quality import truncate

    return truncate(score, n_bars)


def pop909_rows(split: str, limit: int | None = None) -> list[dict]:
    from videobgm.data import pop909
    from videobgm.eval import musicality as M
    from videobgm.eval import symbolic as S
    rows = []
    for d in pop909.song_dirs(None, split)[:limit]:
        sc, _ = pop909.load_song(d)
        sc = _first(sc)
        r = M.stats(sc)
        r.update({f"papers.{k}": v for k, v in S.compute_all(sc, convention="papers", structure=False).items()
                  if k in PAPERS})
        r["papers.empty_beat_rate_in_music"] = ebr_in_music(sc)
        rows.append(r)
    return rows


def mean(rows: list[dict], k: str) -> float:
    v = [r[k] for r in rows if isinstance(r.get(k), float) and np.isfinite(r[k])]
    return float(np.mean(v)) if v else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--cache", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "videobgm-musicality"))
    ap.add_argument("--src", default=None, help="compose with this checkout's src/ (subprocess)")
    ap.add_argument("--label", default="this code")
    ap.add_argument("--baseline", action="append", default=[], help="JSON of an earlier run: adds its column (repeatable)")
    ap.add_argument("--md", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--compose-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--videos", default=None, help="comma-separated subset of video stems (development)")
    ap.add_argument("--checkpoint", default=None, help="compose with this checkpoint folder (default: packaged)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a SampleConfig field, or a PlanConfig one as plan.KEY (JSON value), repeatable (calibration)")
    args = ap.parse_args()
    overrides = {}
    for kv in args.set:
        k, _, v = kv.partition("=")
        overrides[k] = json.loads(v)
    cache = Path(args.cache)
    seeds = [int(s) for s in args.seeds.split(",")]
    videos = [SHARED / "videos" / v for v in SHARED_VIDEOS if (SHARED / "videos" / v).exists()]
    videos += [synth_video(k, cache / "videos") for k in SYNTH]
    if args.videos:
        keep = set(args.videos.split(","))
        videos = [v for v in videos if v.stem in keep]
    if args.compose_only:
        print(json.dumps(compose_all(videos, seeds, cache, args.checkpoint, overrides)))
        return 0
    if args.src:
        env = {**os.environ, "PYTHONPATH": str(Path(args.src).resolve())}
        r = subprocess.run([sys.executable, __file__, "--compose-only", "--seeds", args.seeds, "--cache", str(cache)]
                           + (["--videos", args.videos] if args.videos else [])
                           + (["--checkpoint", args.checkpoint] if args.checkpoint else [])
                           + [a for kv in args.set for a in ("--set", kv)],
                           env=env, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(r.stderr[-2000:])
        pieces = json.loads(r.stdout.strip().splitlines()[-1])
    else:
        pieces = compose_all(videos, seeds, cache, args.checkpoint, overrides)
    gen = piece_rows(pieces)
    val, test = pop909_rows("val"), pop909_rows("test")
    base = [json.loads(Path(b).read_text(encoding="utf-8")) for b in args.baseline]
    summary = {"label": args.label, "pieces": len(gen), "code": pieces[0].get("code") if pieces else None,
               "gen": {k: mean(gen, k) for k in gen[0] if k not in ("video", "seed")},
               "per_piece": gen,
               "pop909_val": {k: mean(val, k) for k in val[0]}, "pop909_test": {k: mean(test, k) for k in test[0]},
               "n_val": len(val), "n_test": len(test),
               "pieces_in_scale": int(sum(1 for r in gen if r["out_of_scale"] == 0.0))}
    text = report(summary, base)
    sys.path.insert(0, str(Path(__file__).parent))
    from _util import emit

    emit(text, summary, args.md, args.json)
    return 0


def report(s: dict, base: list[dict]) -> str:
    runs = [*base, s]
    cols = [r["label"] for r in runs] + ["POP909 val", "POP909 test"]
    lines = [f"{s['pieces']} video-driven pieces ({len(SHARED_VIDEOS)} shared + {len(SYNTH)} synthetic videos x "
             f"seeds; code {s['code']}); POP909: first 24 bars of {s['n_val']} val / {s['n_test']} test songs.", "",
             "| statistic | " + " | ".join(cols) + " | target |", "|---|" + "---|" * (len(cols) + 1)]
    for k, label, target in ROWS:
        cells = [f"{r['gen'].get(k, float('nan')):.3f}" for r in runs]
        cells += [f"{s['pop909_val'][k]:.3f}", f"{s['pop909_test'][k]:.3f}", target]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| pieces with no note outside one scale | " + " | ".join(
        f"{r['pieces_in_scale']}/{r['pieces']}" for r in runs) + " | | | |")
    lines += ["", "Papers' convention (muspy SC, PE, PCE, EBR; mgeval avg IOI in s), first 24 bars; gap of the last "
              "column to POP909 val / test:", "",
              "| metric | " + " | ".join(cols) + " | gap val | gap test |", "|---|" + "---|" * (len(cols) + 2)]
    # (the last row, empty_beat_rate_in_music, is not a paper metric: EBR from each piece's first onset)
    for k in (*PAPERS, "empty_beat_rate_in_music"):
        kk = f"papers.{k}"
        g, v, t = s["gen"][kk], s["pop909_val"][kk], s["pop909_test"][kk]
        cells = [f"{r['gen'].get(kk, float('nan')):.3f}" for r in runs] + [f"{v:.3f}", f"{t:.3f}",
                                                          f"{100 * (g - v) / abs(v):+.0f}%", f"{100 * (g - t) / abs(t):+.0f}%"]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines += ["", "Per piece (this code):", "", "| video | seed | stepwise | repeated | chord-tone time | NCT 1&3 | motif | "
              "energy->velocity r | splat | top velocity bin | melody pitch |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in s["per_piece"]:
        lines.append(f"| {r['video']} | {r['seed']} | " + " | ".join(
            f"{r[k]:.2f}" for k in ("stepwise", "repeated", "chord_tone_time", "nct_strong", "motif",
                                    "energy_velocity_r", "bar_end_splat", "velocity_top_bin", "melody_pitch")) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
