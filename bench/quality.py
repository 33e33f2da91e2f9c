"""Quality and control fidelity on POP909 test songs (CMT-style ablation table).

Usage::

    python bench/quality.py [--checkpoint DIR] [--songs N] [--first I] [--max-bars B] [--raw R.json]
        [--md OUT.md] [--json OUT.json]
    python bench/quality.py --merge R1.json R2.json ... [--md OUT.md] [--json OUT.json] [--update-provenance]

For each of the first ``N`` POP909 test songs (first ``B`` bars), the song's own controls (per-bar
density, per-beat strength, accents, chords, key, tracks, bars with melody) drive one generation
per row:

* ``real``: the test songs themselves (same bars);
* ``untrained``: an untrained ``small`` model, constrained decoding on;
* ``no controls``: the trained model fed the song's controls with bars shuffled (density,
  strength, accents, chords and melody activity of a random other bar) and constrained decoding
  off;
* ``conditioning only``: the trained model fed the true controls, constrained decoding off;
* ``controls``: the trained model with the true controls and constrained decoding (the default).

Metrics (:mod:`videobgm.eval.symbolic`) are averaged over songs; ``gap`` is the relative
difference to the real songs. Two tables: our default convention, and the papers' convention
(muspy 0.5 SC / PE / PCE / EBR / groove consistency, mgeval ``avg_IOI`` in seconds; see
docs/metrics.md), whose numbers compare with published tables such as V-MusProd's. Control fidelity is pooled over all bars / beats of all songs:
Spearman correlation of requested vs realised density (onsets per bar) and strength (onsets on a
beat's first 16th), and chord accuracy = fraction of beats (with a requested chord and sounding notes) whose
recognised chord (same root and family) is the requested one, with the two recognisers of
:mod:`videobgm.eval.chords`: ``template`` (chroma template matching; ``tolerant`` also counts a
beat whose requested chord's template scores within 5 % of the best) and ``learned`` (chroma,
bass and onset features, fitted to POP909's train-split annotations; on held-out real songs it
agrees with the annotations more often than the template matcher, see its provenance).
Generated scores get the real song's tempo and beat times so that real-time metrics compare.
A last table gives the melody statistics of :mod:`videobgm.eval.musicality` (stepwise and
repeated intervals, chord-tone time, non-chord tones on beats 1 and 3 and their resolution,
longest repeated motif, the top velocity bin's share) over the whole excerpt, and the tolerant
chord adherence (chord tones among the pitched onsets on beats 1 and 3; the lowest note sounding
on each downbeat is the root), which is reported, not traded against the melody.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np

from videobgm.data import pop909

METRICS = ("pitch_class_entropy", "pitch_entropy", "scale_consistency", "empty_beat_rate",
           "ioi_unique_onsets_beats", "grooving_similarity", "si_short", "si_mid", "si_long")
PAPERS_METRICS = ("scale_consistency", "pitch_entropy", "pitch_class_entropy", "empty_beat_rate", "avg_ioi_s",
                  "groove_consistency")  # convention="papers"
OLD_NAMES = {"ioi_beats": "ioi_unique_onsets_beats", "ioi_s": "ioi_unique_onsets_s"}  # raw files before #21


def _renamed(m: dict) -> dict:
    return {OLD_NAMES.get(k, k): v for k, v in m.items()}


def truncate(score, n_bars: int):  # noqa: ANN001, ANN201
    """The first ``n_bars`` bars of a Score (notes by onset; beat times and chords cut)."""
    n = min(n_bars, score.n_bars)
    end = n * score.steps_per_bar
    bt = None if score.beat_times_s is None else np.asarray(score.beat_times_s)[: n * score.beats_per_bar + 1]
    return dataclasses.replace(
        score, n_bars=n, notes=[x for x in score.notes if x.onset_16th < end],
        chords=[c for c in score.chords if c.onset_16th < end], beat_times_s=bt,
    )


def shuffled_controls(c, rng):  # noqa: ANN001, ANN201
    """Controls whose bars are permuted (density, strength, accents and chords move together)."""
    from videobgm.compose.conditioning import chord_per_step
    from videobgm.compose.token_codes import chord_of_index
    from videobgm.types import Chord

    nb, bpb, spb = c.n_bars, c.beats_per_bar, c.steps_per_bar
    perm = rng.permutation(nb)
    per_step = chord_per_step(c.chords, nb * spb).reshape(nb, spb)[perm].reshape(-1)
    chords, last = [], None
    for s, v in enumerate(per_step):
        if v != last:
            r, q = chord_of_index(int(v))
            chords.append(Chord(s, r, q if r >= 0 else "N"))
            last = v
    return dataclasses.replace(
        c, density_per_bar=np.asarray(c.density_per_bar)[perm],
        strength_per_beat=np.asarray(c.strength_per_beat).reshape(nb, bpb)[perm].reshape(-1),
        accent_steps=np.asarray(c.accent_steps).reshape(nb, spb)[perm].reshape(-1), chords=chords,
        melody_bars=None if c.melody_bars is None else np.asarray(c.melody_bars)[perm],
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None, help="trained checkpoint (default: packaged small)")
    ap.add_argument("--songs", type=int, default=8, help="number of test songs (default 8)")
    ap.add_argument("--max-bars", type=int, default=48, help="bars per song (default 48)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", default="real,untrained,no controls,conditioning only,controls")
    ap.add_argument("--md", default=None, help="also write the tables as Markdown here")
    ap.add_argument("--json", default=None, help="also write all numbers as JSON here")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a SampleConfig field for the generated rows (JSON value), repeatable")
    ap.add_argument("--first", type=int, default=0, help="index of the first test song (to split runs)")
    ap.add_argument("--split", default="test", choices=["train", "val", "test"],
                    help="POP909 split (default test; tune sampler settings on val)")
    ap.add_argument("--seed-offset", type=int, default=0,
                    help="song i of a run is generated with seed i + this (run-to-run spread)")
    ap.add_argument("--raw", default=None, help="write per-song raw results here (for --merge)")
    ap.add_argument("--merge", nargs="+", default=None, help="combine --raw files and print the tables")
    ap.add_argument("--update-provenance", action="store_true",
                    help="with --merge: store the table in the checkpoint's provenance.json (metrics.rows)")
    args = ap.parse_args()
    if args.merge:
        merged = merge(args.merge)
        summary = report(merged, args)
        if args.update_provenance:
            store_in_provenance(merged, summary)
        return 0

    import torch

    from videobgm.compose import checkpoint as ckpt
    from videobgm.compose.sampler import generate
    from videobgm.compose.score_controls import controls_from_score
    from videobgm.compose.tokens import Tokenizer
    from videobgm.config import SampleConfig
    from videobgm.eval import chords as CH
    from videobgm.eval import musicality as MU
    from videobgm.eval import symbolic as S
    torch.set_num_threads(args.threads)
    overrides = {k: json.loads(v) for k, v in (x.split("=", 1) for x in args.set)}
    t_start = time.perf_counter()
    model, tok, meta = ckpt.load_checkpoint(args.checkpoint)
    untrained = ckpt.build_untrained(model.cfg, Tokenizer(), seed=0)
    rows = [r.strip() for r in args.rows.split(",")]
    dirs = pop909.song_dirs(None, args.split)[args.first: args.first + args.songs]
    rng = np.random.default_rng(0)
    res: dict[str, dict] = {r: {"metrics": [], "metrics_papers": [], "dens": ([], []), "stren": ([], []), "chord": [0, 0],
                                "chord_near": 0, "chord_learned": [0, 0], "seconds": 0.0,
                                "melody": [], "adherence": []} for r in rows}
    chord_weights = CH.load_weights()[0]
    for i, d in enumerate(dirs):
        real, _ = pop909.load_song(d)
        real = truncate(real, args.max_bars)
        ctl = controls_from_score(real)
        ctl = dataclasses.replace(ctl, tracks=tuple(t for t in ctl.tracks if t != "drums") or ("piano",))
        shuffled = shuffled_controls(ctl, rng)
        for r in rows:
            t0 = time.perf_counter()
            if r == "real":
                out = real
            else:
                m = untrained if r == "untrained" else model
                c = shuffled if r == "no controls" else ctl
                cfg = SampleConfig(seed=i + args.seed_offset, constrained=r in ("controls", "untrained")).replace(**overrides)
                out = generate(c, m, tok, cfg)
                out = dataclasses.replace(out, beat_times_s=real.beat_times_s, tempo_bpm=real.tempo_bpm,
                                          chords=list(ctl.chords))
            res[r]["seconds"] += time.perf_counter() - t0
            res[r]["metrics"].append(S.compute_all(out, seed=0))
            res[r]["metrics_papers"].append(S.compute_all(out, convention="papers", structure=False))
            mstats = MU.stats(out, first_bars=out.n_bars)
            res[r]["melody"].append({k: mstats[k] for k in MU.MELODY_STATS})
            res[r]["adherence"].append(MU.chord_adherence(dataclasses.replace(out, chords=list(ctl.chords))))
            got = controls_from_score(out)
            res[r]["dens"][0].extend(np.asarray(ctl.density_per_bar).tolist())
            res[r]["dens"][1].extend(got.density_per_bar.tolist())
            res[r]["stren"][0].extend(np.asarray(ctl.strength_per_beat).tolist())
            res[r]["stren"][1].extend(got.strength_per_beat.tolist())
            tm = CH.chord_accuracy(out, ctl.chords, method="template")
            le = CH.chord_accuracy(out, ctl.chords, method="learned", weights=chord_weights)
            res[r]["chord"][0] += tm["correct"]
            res[r]["chord"][1] += tm["beats"]
            res[r]["chord_near"] += tm["near"]
            res[r]["chord_learned"][0] += le["correct"]
            res[r]["chord_learned"][1] += le["beats"]
        print(f"song {d.name}: {real.n_bars} bars, {len(real.notes)} notes ({time.perf_counter() - t_start:.0f} s)",
              file=sys.stderr)

    raw = {"songs": [d.name for d in dirs], "max_bars": args.max_bars, "rows": rows, "res": res,
           "seed_offset": args.seed_offset, "split": args.split,
           "checkpoint": meta["checkpoint"], "steps": meta["provenance"].get("steps"),
           "load": os.getloadavg()[0]}
    if args.raw:
        with open(args.raw, "w", encoding="utf-8") as fh:
            json.dump(raw, fh)
    report(raw, args)
    return 0


def store_in_provenance(raw: dict, summary: dict) -> None:
    """Write the table into ``provenance.json`` of the checkpoint the raw results came from."""
    import subprocess
    from pathlib import Path

    from videobgm.io import write_json

    path = Path(raw["checkpoint"]) / "provenance.json"
    prov = json.loads(path.read_text(encoding="utf-8"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    metrics = dict(prov.get("metrics") or {})
    metrics.update(source=f"bench/quality.py, {len(raw['songs'])} POP909 {raw.get('split', 'test')} songs, first "
                          f"{raw['max_bars']} bars each (sampler at commit {commit or '?'})",
                   rows=summary)
    prov["metrics"] = metrics
    write_json(path, prov)
    print(f"stored in {path}", file=sys.stderr)


def report(raw: dict, args: argparse.Namespace) -> dict:
    """Print (and write) the tables from raw per-song results; returns the summary rows."""
    from scipy.stats import spearmanr

    rows, res, songs = raw["rows"], raw["res"], raw["songs"]
    summary: dict[str, dict] = {}
    have_papers = all(res[r].get("metrics_papers") for r in rows)  # raw files before #21 lack them
    for r in rows:
        ms = [_renamed(m) for m in res[r]["metrics"]]
        row = {k: float(np.nanmean([m[k] for m in ms])) for k in METRICS}
        if have_papers:
            row["papers"] = {k: float(np.nanmean([m[k] for m in res[r]["metrics_papers"]])) for k in PAPERS_METRICS}
        row["density_spearman"] = float(spearmanr(*res[r]["dens"]).statistic)
        row["strength_spearman"] = float(spearmanr(*res[r]["stren"]).statistic)
        ok, cnt = res[r]["chord"]
        row["chord_accuracy"] = ok / cnt if cnt else float("nan")
        row["chord_accuracy_tolerant"] = res[r].get("chord_near", float("nan")) / cnt if cnt else float("nan")
        ok, cnt = res[r].get("chord_learned", (0, 0))
        row["chord_accuracy_learned"] = ok / cnt if cnt else float("nan")
        row["seconds_per_song"] = res[r]["seconds"] / max(1, len(songs))
        for part in ("melody", "adherence"):
            got = res[r].get(part) or []
            if got:
                row[part] = {k: float(np.nanmean([m[k] for m in got])) for k in got[0]}
        summary[r] = row
    real_row = summary.get("real")
    lines = [f"POP909 {raw.get('split', 'test')} songs: {len(songs)} (ids {', '.join(songs)}), first {raw['max_bars']} bars each; "
             f"checkpoint {raw['checkpoint']} (steps {raw['steps']}); "
             f"load average {raw['load']:.1f} on {os.cpu_count()} cores", ""]
    head = "| row | " + " | ".join(METRICS) + " |"
    lines += [head, "|" + "---|" * (len(METRICS) + 1)]
    for r in rows:
        cells = []
        for k in METRICS:
            v = summary[r][k]
            gap = "" if real_row is None or r == "real" or not real_row[k] else f" ({100 * (v - real_row[k]) / abs(real_row[k]):+.0f}%)"
            cells.append(f"{v:.3f}{gap}")
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    if have_papers:
        ref = real_row["papers"] if real_row is not None else None
        lines += ["", "Papers' convention (muspy 0.5 SC, PE, PCE, EBR, groove consistency; mgeval avg_IOI in s):",
                  "", "| row | " + " | ".join(PAPERS_METRICS) + " |", "|" + "---|" * (len(PAPERS_METRICS) + 1)]
        for r in rows:
            cells = []
            for k in PAPERS_METRICS:
                v = summary[r]["papers"][k]
                gap = "" if ref is None or r == "real" or not ref[k] else f" ({100 * (v - ref[k]) / abs(ref[k]):+.0f}%)"
                cells.append(f"{v:.3f}{gap}")
            lines.append(f"| {r} | " + " | ".join(cells) + " |")
    lines += ["", "| row | density Spearman | strength Spearman | chord accuracy (template) | "
              "chord accuracy (template, tolerant) | chord accuracy (learned) | s/song |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        s = summary[r]
        lines.append(f"| {r} | {s['density_spearman']:.3f} | {s['strength_spearman']:.3f} | "
                     f"{s['chord_accuracy']:.3f} | {s['chord_accuracy_tolerant']:.3f} | "
                     f"{s['chord_accuracy_learned']:.3f} | {s['seconds_per_song']:.1f} |")
    if all("melody" in summary[r] for r in rows):
        mk = list(summary[rows[0]]["melody"])
        ak = list(summary[rows[0]].get("adherence", {}))
        lines += ["", "Melody statistics (videobgm.eval.musicality, whole excerpt) and tolerant chord adherence "
                  "(chord tones among onsets on beats 1 and 3; lowest note on the downbeat = root):", "",
                  "| row | " + " | ".join(mk + ak) + " |", "|" + "---|" * (len(mk) + len(ak) + 1)]
        for r in rows:
            s = summary[r]
            lines.append(f"| {r} | " + " | ".join(f"{s['melody'][k]:.3f}" for k in mk)
                         + "".join(f" | {s['adherence'][k]:.3f}" for k in ak) + " |")
    text = "\n".join(lines)
    print(text)
    if args.md:
        with open(args.md, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"songs": songs, "max_bars": raw["max_bars"], "rows": summary}, fh, indent=1)
    return summary


def merge(paths: list[str]) -> dict:
    """Combine raw results of runs over different songs (same rows and bars)."""
    parts = [json.load(open(p, encoding="utf-8")) for p in paths]
    out = dict(parts[0])
    out["songs"] = [s for p in parts for s in p["songs"]]
    out["load"] = float(np.mean([p["load"] for p in parts]))
    out["res"] = {}
    for r in parts[0]["rows"]:
        out["res"][r] = {
            "metrics": [m for p in parts for m in p["res"][r]["metrics"]],
            "metrics_papers": [m for p in parts for m in p["res"][r].get("metrics_papers", [])]
            if all(p["res"][r].get("metrics_papers") for p in parts) else [],
            "dens": ([x for p in parts for x in p["res"][r]["dens"][0]], [x for p in parts for x in p["res"][r]["dens"][1]]),
            "stren": ([x for p in parts for x in p["res"][r]["stren"][0]], [x for p in parts for x in p["res"][r]["stren"][1]]),
            "chord": [sum(p["res"][r]["chord"][0] for p in parts), sum(p["res"][r]["chord"][1] for p in parts)],
            "chord_near": sum(p["res"][r].get("chord_near", 0) for p in parts),
            "chord_learned": [sum(p["res"][r].get("chord_learned", [0, 0])[i] for p in parts) for i in (0, 1)],
            "seconds": sum(p["res"][r]["seconds"] for p in parts),
            "melody": [m for p in parts for m in p["res"][r].get("melody", [])],
            "adherence": [m for p in parts for m in p["res"][r].get("adherence", [])],
        }
    return out


if __name__ == "__main__":
    sys.exit(main())
