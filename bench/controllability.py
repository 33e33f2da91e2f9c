"""Controllability of the text bridge: does asking for a different value move the music?

For each attribute, ``--n`` seeded trials (default 50). A trial draws two different requested
values A and B, writes a prompt for each, and composes both with the same seed through the same
path as ``videobgm compose --prompt`` (prompt -> Description -> plan on neutral features ->
sampler -> MIDI file, read back). It agrees when the *measured* attribute of the music moves from
A to B in the requested direction:

* **tempo** - prompts "piano music at T bpm", |T_A - T_B| >= 15 (70..140); measured: 60 / median
  beat interval of the MIDI file read back. Agrees when the order of the measured tempi matches.
* **mode** - "piano music in K major" vs "... in K minor" (random K); measured: Krumhansl-Kessler
  correlation of the pitched notes' pitch-class histogram with the K-major profile minus the
  K-minor one. Agrees when it is higher for the major request. (Also printed: the same with the
  best major vs best minor key over all tonics, where natural minor can read as relative major.)
* **instrument** - "I_A music" vs "I_B music" (two instruments with different GM programs);
  measured: GM programs of the MIDI file's pitched tracks. Agrees when each file holds its own
  requested program and not the other's.
* **mood** - "M_A music" vs "M_B music". When the two moods' default modes differ the valence
  proxy (the mode measure above, at each plan's tonic; free-tonic count printed too) is tested; otherwise the arousal proxy
  ``tempo / 100 + onsets per bar / 25`` must move with ``lexicon.MOODS[m].arousal`` (pairs whose
  arousal differs by < 0.1 and that share a mode are not drawn: nothing musical tells them apart).
* **style** - "S_A music" vs "S_B music"; measured: the style idiom checks of
  ``videobgm.eval.idioms`` on the MIDI read back (four-on-the-floor, backbeat, strum/broken
  chords, sustain without drums, ostinato/sustain with toms on hits). Agrees when each piece
  passes its own style's check and fails the other's.

Also reported: the absolute hit rate (tempo within 8 % of the request, estimated mode = requested,
program present) and mean |tempo error|.

**describe / score agreement** (issue 16): for each shared video (``../shared/videos``), the
description ``videobgm describe VIDEO`` prints (run on the video's features JSON) against what
``score`` plans and plays from the same features: mood, style, key, mode, instruments equal and
tempo within 3 %. Written to ``docs/results/describe_score.md``.

    python bench/controllability.py [--n 50] [--duration 20] [--checkpoint DIR | --untrained]
    python bench/controllability.py --attributes agreement   # only the describe/score table
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from videobgm.music import analysis, lexicon, theory
from videobgm.schema import read_features

INSTRUMENT_CHOICES = ("piano", "strings", "guitar", "flute", "synth_lead", "organ", "marimba",
                      "electric_piano", "violin", "trumpet", "sax", "harp", "choir", "pad")


class Composer:
    """prompt + seed -> measured Score (MIDI written and read back), cached."""

    def __init__(self, checkpoint: str | None, untrained: bool, duration_s: float) -> None:
        import torch

        from videobgm.config import PipelineConfig
        from videobgm.pipeline import Pipeline

        torch.set_num_threads(1)
        self.pipe = Pipeline(PipelineConfig(), checkpoint=checkpoint, untrained=untrained)
        self.pipe.load_model()
        self.duration_s = duration_s
        self.tmp = Path(tempfile.mkdtemp(prefix="videobgm-ctrl-"))
        self.cache: dict[tuple[str, int], tuple] = {}
        self.n_generated = 0
        self.seconds = 0.0

    def __call__(self, prompt: str, seed: int):  # noqa: ANN204
        key = (prompt, seed)
        if key not in self.cache:
            from videobgm.bridges.resolve import parse_description
            from videobgm.config import MidiConfig
            from videobgm.features.still import neutral_features
            from videobgm.music.midi import read_midi, write_midi

            t0 = time.perf_counter()
            desc = parse_description(prompt)
            plan = self.pipe.plan(neutral_features(self.duration_s), description=desc)
            score = self.pipe.compose(plan, seed=seed)
            path = self.tmp / f"g{len(self.cache)}.mid"
            write_midi(score, path, MidiConfig())
            back = read_midi(path)
            import pretty_midi

            programs = {i.program for i in pretty_midi.PrettyMIDI(str(path)).instruments if not i.is_drum and i.notes}
            self.cache[key] = (back, programs, plan)
            self.n_generated += 1
            self.seconds += time.perf_counter() - t0
        return self.cache[key]


def arousal_proxy(score) -> float:  # noqa: ANN001
    dens = analysis.onsets_per_bar(score)
    return analysis.realised_tempo_bpm(score) / 100.0 + (float(dens.mean()) if dens.size else 0.0) / 25.0


def run_tempo(gen: Composer, n: int, rng: random.Random) -> dict:
    agree, hits, errs = 0, 0, []
    for i in range(n):
        while True:
            a, b = rng.randint(70, 140), rng.randint(70, 140)
            if abs(a - b) >= 15:
                break
        sa, _, _ = gen(f"piano music at {a} bpm", i)
        sb, _, _ = gen(f"piano music at {b} bpm", i)
        ta, tb = analysis.realised_tempo_bpm(sa), analysis.realised_tempo_bpm(sb)
        agree += (tb - ta) * (b - a) > 0
        for req, got in ((a, ta), (b, tb)):
            errs.append(abs(got - req))
            hits += abs(got - req) <= 0.08 * req
    return {"agree": agree / n, "absolute": hits / (2 * n), "extra": f"mean |tempo error| {np.mean(errs):.1f} bpm"}


def run_mode(gen: Composer, n: int, rng: random.Random) -> dict:
    agree, agree_free, hits = 0, 0, 0
    for i in range(n):
        pc = rng.randrange(12)
        key = theory.key_name(pc)
        smaj, _, _ = gen(f"piano music in {key} major", i)
        smin, _, _ = gen(f"piano music in {key} minor", i)
        agree += analysis.mode_strength(smaj, pc) > analysis.mode_strength(smin, pc)
        agree_free += analysis.mode_strength(smaj) > analysis.mode_strength(smin)
        hits += (analysis.estimate_key(smaj)[1] == "major") + (analysis.estimate_key(smin)[1] == "minor")
    return {"agree": agree / n, "absolute": hits / (2 * n),
            "extra": f"KK profiles at the requested tonic; over all tonics {agree_free / n:.0%}; "
                     "absolute = free KK key estimate"}


def run_instrument(gen: Composer, n: int, rng: random.Random) -> dict:
    agree, hits = 0, 0
    for i in range(n):
        a, b = rng.sample(INSTRUMENT_CHOICES, 2)
        pa, pb = lexicon.instrument_program(a), lexicon.instrument_program(b)
        _, progs_a, _ = gen(f"{a.replace('_', ' ')} music", i)
        _, progs_b, _ = gen(f"{b.replace('_', ' ')} music", i)
        agree += (pa in progs_a and pb not in progs_a and pb in progs_b and pa not in progs_b)
        hits += (pa in progs_a) + (pb in progs_b)
    return {"agree": agree / n, "absolute": hits / (2 * n), "extra": "programs of the MIDI tracks"}


def mood_pairs() -> list[tuple[str, str, str]]:
    pairs = []
    for a, b in itertools.permutations(lexicon.MOODS, 2):
        ma, mb = lexicon.MOODS[a], lexicon.MOODS[b]
        if ma.mode != mb.mode:
            pairs.append((a, b, "valence"))
        elif abs(ma.arousal - mb.arousal) >= 0.1:
            pairs.append((a, b, "arousal"))
    return pairs


def run_mood(gen: Composer, n: int, rng: random.Random) -> dict:
    pairs = mood_pairs()
    agree, by_axis = 0, {"valence": [0, 0], "arousal": [0, 0]}
    free_ok = 0
    failures: dict[str, int] = {}
    for i in range(n):
        a, b, axis = rng.choice(pairs)
        sa, _, pa = gen(f"{a} music", i)
        sb, _, pb = gen(f"{b} music", i)
        if axis == "valence":
            want = 1 if lexicon.MOODS[b].mode == "major" else -1
            ta, tb = pa.controls.key_tonic, pb.controls.key_tonic
            ok = (analysis.mode_strength(sb, tb) - analysis.mode_strength(sa, ta)) * want > 0
            free_ok += (analysis.mode_strength(sb) - analysis.mode_strength(sa)) * want > 0
        else:
            want = np.sign(lexicon.MOODS[b].arousal - lexicon.MOODS[a].arousal)
            ok = (arousal_proxy(sb) - arousal_proxy(sa)) * want > 0
        agree += ok
        by_axis[axis][0] += ok
        by_axis[axis][1] += 1
        if not ok:
            failures[f"{a}->{b}"] = failures.get(f"{a}->{b}", 0) + 1
    extra = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in by_axis.items())
    extra += f" (valence over all tonics {free_ok}/{by_axis['valence'][1]})"
    worst = ", ".join(f"{k} x{v}" for k, v in sorted(failures.items(), key=lambda kv: -kv[1])[:4])
    return {"agree": agree / n, "absolute": float("nan"), "extra": f"{extra}; failures: {worst or 'none'}"}


def run_agreement(videos: list[Path], out_md: Path | None) -> dict:
    """describe vs score on each video: the fields that agree, the tempi."""
    import contextlib
    import io
    import json

    from videobgm.apps.cli.main import main as cli
    from videobgm.config import PipelineConfig
    from videobgm.pipeline import Pipeline
    from videobgm.schema import load_json

    tmp = Path(tempfile.mkdtemp(prefix="videobgm-agree-"))
    pipe = Pipeline(PipelineConfig())
    rows, n_ok = [], 0
    for v in videos:
        fj, dj = tmp / f"{v.stem}.features.json", tmp / f"{v.stem}.desc.json"
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli(["-q", "analyze", str(v), "-o", str(fj)]) == 0
            assert cli(["-q", "describe", str(fj), "-o", str(dj)]) == 0
        d = json.loads(dj.read_text())
        feats = read_features(load_json(fj, "features"))
        plan = pipe.plan(feats, description=pipe.describe(feats), resolved=True)
        inst = lexicon.track_instruments(plan.instruments)
        checks = {
            "mood": d["mood"] == plan.mood, "style": d["style"] == plan.style,
            "key": theory.parse_key(d["key"]) == plan.controls.key_tonic,
            "mode": d["mode"] == plan.controls.mode, "instruments": set(d["instruments"]) == set(inst),
            "tempo": abs(plan.tempo_bpm / d["tempo_bpm"] - 1) <= 0.03,
        }
        ok = all(checks.values())
        n_ok += ok
        rows.append(f"| {v.stem} | {d['mood']} {d['style']}, {d['key']} {d['mode']}, {d['tempo_bpm']:.0f} bpm, "
                    f"{'/'.join(d['instruments'])} | {plan.mood} {plan.style}, "
                    f"{theory.key_name(plan.controls.key_tonic)} {plan.controls.mode}, {plan.tempo_bpm:.1f} bpm, "
                    f"{'/'.join(inst)} | {'yes' if ok else 'NO: ' + ', '.join(k for k, c in checks.items() if not c)} "
                    f"| {time.perf_counter() - t0:.0f} s |")
    share = n_ok / max(len(videos), 1)
    table = ("| video | `describe` says | `score` plays | agree | time |\n|---|---|---|---|---|\n"
             + "\n".join(rows) + f"\n\nagreement: {n_ok}/{len(videos)} = {share:.0%} "
             "(mood, style, key, mode, instruments equal; tempo within 3 %)\n")
    print("\n" + table)
    if out_md is not None:
        out_md.write_text("# describe / score agreement (issue 16)\n\n`python bench/controllability.py "
                          "--attributes agreement` on the shared videos; `describe` on each video's "
                          "features JSON, `score`'s plan from the same features (default preset).\n\n"
                          + table, encoding="utf-8")
    return {"agree": share, "absolute": float("nan"), "extra": f"{n_ok}/{len(videos)} videos"}


def run_style(gen: Composer, n: int, rng: random.Random) -> dict:
    """"S_A music" vs "S_B music": agrees when each piece passes its own style's idiom check
    (:func:`videobgm.eval.idioms.check`, measured from the MIDI read back) and fails the other's."""
    from videobgm.eval import idioms

    agree, hits = 0, 0
    for i in range(n):
        a, b = rng.sample(list(lexicon.STYLES), 2)
        sa, _, pa = gen(f"{a} music", i)
        sb, _, pb = gen(f"{b} music", i)
        ha, hb = [k for k, _ in pa.controls.hits], [k for k, _ in pb.controls.hits]
        own_a, own_b = idioms.check(a, sa, ha)[0], idioms.check(b, sb, hb)[0]
        agree += own_a and own_b and not idioms.check(b, sa, ha)[0] and not idioms.check(a, sb, hb)[0]
        hits += own_a + own_b
    return {"agree": agree / n, "absolute": hits / (2 * n),
            "extra": "idiom checks on the MIDI (absolute = piece passes its own style's check)"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50, help="trials per attribute")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of music per generation")
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder (default: packaged)")
    ap.add_argument("--untrained", action="store_true", help="randomly initialised model (baseline)")
    ap.add_argument("--attributes", default="tempo,mode,instrument,mood,style,agreement")
    ap.add_argument("--videos", default=None, help="folder of videos for the describe/score agreement "
                    "(default ../shared/videos)")
    args = ap.parse_args(argv)
    names = args.attributes.split(",")
    rows = []
    if "agreement" in names:
        folder = Path(args.videos) if args.videos else Path(__file__).resolve().parents[1].parent / "shared" / "videos"
        vids = sorted(folder.glob("*.mp4"))
        out_md = Path(__file__).resolve().parents[1] / "docs" / "results" / "describe_score.md"
        rows.append(("describe/score agreement", run_agreement(vids, out_md if vids else None)))
        names.remove("agreement")
        if not names:
            return 0
    gen = Composer(args.checkpoint, args.untrained, args.duration)
    runners = {"tempo": run_tempo, "mode": run_mode, "instrument": run_instrument, "mood": run_mood,
               "style": run_style}
    for name in names:
        r = runners[name](gen, args.n, random.Random(f"{name}-0"))
        rows.append((name, r))
        print(f"{name}: {r['agree']:.0%} ({gen.n_generated} generations so far)", file=sys.stderr)
    meta = gen.pipe._model_meta
    model = (f"checkpoint={meta.get('checkpoint')} steps={meta.get('provenance', {}).get('steps')} "
             f"untrained={meta.get('untrained', False)}")
    print(f"\nmodel: {model}; {args.n} trials per attribute, {args.duration:g} s each; "
          f"{gen.n_generated} generations in {gen.seconds:.0f} s; loadavg {os.getloadavg()[0]:.1f}")
    print("\n| attribute | agreement (requested direction) | absolute hit rate | notes |\n|---|---|---|---|")
    for name, r in rows:
        ab = "-" if np.isnan(r["absolute"]) else f"{r['absolute']:.0%}"
        print(f"| {name} | {r['agree']:.0%} | {ab} | {r['extra']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
