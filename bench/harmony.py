"""Chord progressions on video-like plans: the learned POP909 model against today's hand tables
and POP909 itself (issue 18, part 1).

Usage::

    python bench/harmony.py [--split test|val|train|all] [--songs N] [--md docs/results/harmony.md]
    python bench/harmony.py --video-plans [--old-src /work/main/src] [--md docs/results/harmony.md]

``--video-plans`` measures the chords of **video-driven plans** instead: the default Pipeline's
plan stage (no composing) on the four shared videos and the six synthetic videos of
``bench/form.py`` (features cached in ``--work``), seeds 0-2, once with the video's own mood and
once per forced mood; each in a subprocess, with ``--old-src`` (before: the hand tables) and
with this checkout (after: the learned model). It replaces the "Video-driven plans" section of
the markdown file.

Plans: synthetic layouts of 16, 24 and 48 bars in 4- or 8-bar sections (intro first, outro
last, verse/chorus alternating between), 4-bar phrases, 4/4, both modes, seeds 0-2, the final
bar fixed to the held tonic (as the planner does). Rows:

* ``learned``: :meth:`videobgm.plan.chord_model.HarmonyModel.sample` with the shipped asset (half
  cadences on phrase ends, authentic on section ends);
* ``hand tables``: ``plan_music.phrase_chords`` (``PROGRESSIONS``, now the fallback; moods neutral/calm/happy
  for major, sad/tense/epic for minor by seed);
* ``fallback``: :func:`videobgm.plan.chord_sampling.fallback_progression` (used only without asset);
* ``POP909``: the first 24 bars of each song of ``--split`` (chords on its beat annotations, as
  read by ``videobgm.data.pop909.load_song``), same statistics code; its cadence columns use the
  heuristic layout of ``videobgm.train.harmony.pop909_layout``.

Statistics (:func:`videobgm.music.analysis.progression_stats`, means over pieces): chord changes per
bar (target 1.0-1.8), bars on the tonic (<= 40 %), distinct chords in the first 24 bars (>= 5; a
16-bar plan counts its 16), share of 7th/sus chords, of secondary dominants, of inverted basses
(learned only), and cadences met (:func:`videobgm.music.analysis.cadence_check`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if "--plan-worker" not in sys.argv:  # a worker imports the planner of its PYTHONPATH
    sys.path.insert(0, str(ROOT / "src"))

from videobgm.music.analysis import cadence_check, progression_stats  # noqa: E402
from videobgm.plan import chord_model as harmony  # noqa: E402
from videobgm.plan.chord_corpus import split_phrases  # noqa: E402
from videobgm.plan.chord_sampling import (  # noqa: E402
    fallback_progression,
    sample_progression,
)
from videobgm.schema import read_features  # noqa: E402
from videobgm.types import Chord, Section  # noqa: E402

LAYOUTS = ((16, 4), (24, 4), (24, 8), (48, 4), (48, 8))
SEEDS = (0, 1, 2)
MOODS = {"major": ("neutral", "calm", "happy"), "minor": ("sad", "tense", "epic")}
COLS = ("changes_per_bar", "tonic_bars", "distinct", "seventh_sus", "secondary_dominants")


def layout(n_bars: int, sec: int) -> list[tuple[int, int, str]]:
    starts = list(range(0, n_bars, sec))
    out = []
    for i, a in enumerate(starts):
        role = "intro" if i == 0 else "outro" if i == len(starts) - 1 else ("verse", "chorus")[i % 2]
        out.append((a, min(n_bars, a + sec), role))
    return out


def cadence_bars(secs, phrases) -> dict[int, str]:
    ends = {z - 1 for _, z, _ in secs}
    return {z - 1: ("authentic" if z - 1 in ends else "half") for _, z in phrases}


def _row(name: str, stats: list[dict], cad: list[dict], inv: list[float] | None, secs_per: float) -> dict:
    out = {"name": name, "n": len(stats)}
    for c in COLS:
        out[c] = float(np.mean([s[c] for s in stats]))
    for kind in ("authentic", "half"):
        met = sum(c[kind][0] for c in cad)
        tot = sum(c[kind][1] for c in cad)
        out[kind] = f"{met}/{tot}" if tot else "-"
    out["inverted"] = f"{100 * np.mean(inv):.0f} %" if inv else "-"
    out["ms"] = f"{1000 * secs_per:.0f}" if secs_per else "-"
    return out


def plans(layouts=LAYOUTS):
    for n_bars, sec in layouts:
        secs = layout(n_bars, sec)
        for mode in ("major", "minor"):
            for seed in SEEDS:
                yield n_bars, secs, mode, seed


def bench_learned(model, layouts=LAYOUTS, *, cadences: bool = True, name: str = "learned (POP909 n-gram)") -> dict:
    stats, cad, inv = [], [], []
    t0 = time.perf_counter()
    n = 0
    for n_bars, secs, mode, seed in plans(layouts):
        tonic = (2 + 5 * seed) % 12
        home = (tonic, harmony.TONIC_QUALITIES[mode][0])
        off = {} if cadences else {"cadences": {b: None for b in range(n_bars)}}
        p = sample_progression(model, n_bars, mode=mode, tonic=tonic, sections=secs, fixed={n_bars - 1: home},
                         seed=seed, **off)
        n += 1
        phrases = split_phrases(secs, 4)
        stats.append(progression_stats(p.chords, n_bars=n_bars, steps_per_bar=16, tonic=tonic, mode=mode))
        cad.append(cadence_check(p.chords, n_bars=n_bars, steps_per_bar=16, tonic=tonic,
                                 bars=cadence_bars(secs, phrases)))
        inv.append(float(np.mean([b != c.root for b, c in zip(p.bass, p.chords)])))
    return _row(name, stats, cad, inv, (time.perf_counter() - t0) / n)


def bench_hand() -> dict:
    from videobgm.plan.controls import phrase_chords

    stats, cad = [], []
    for n_bars, secs, mode, seed in plans():
        tonic = (2 + 5 * seed) % 12
        sections = [Section(a, z, r, float(a), float(z)) for a, z, r in secs]
        per_bar = phrase_chords(sections, n_bars, 16, tonic, mode, MOODS[mode][seed], "pop", None,
                                seed, {})
        ch = [Chord(16 * b, r, q) for b, (r, q) in enumerate(per_bar)]
        stats.append(progression_stats(ch, n_bars=n_bars, steps_per_bar=16, tonic=tonic, mode=mode))
        cad.append(cadence_check(ch, n_bars=n_bars, steps_per_bar=16, tonic=tonic,
                                 bars=cadence_bars(secs, split_phrases(secs, 4))))
    return _row("hand tables (plan_music.phrase_chords, the fallback)", stats, cad, None, 0.0)


def bench_fallback() -> dict:
    stats, cad = [], []
    for n_bars, secs, mode, seed in plans():
        tonic = (2 + 5 * seed) % 12
        ch = fallback_progression(n_bars, mode=mode, tonic=tonic, sections=secs, reason="bench").chords
        stats.append(progression_stats(ch, n_bars=n_bars, steps_per_bar=16, tonic=tonic, mode=mode))
        cad.append(cadence_check(ch, n_bars=n_bars, steps_per_bar=16, tonic=tonic,
                                 bars=cadence_bars(secs, split_phrases(secs, 4))))
    return _row("fallback hand table (no asset)", stats, cad, None, 0.0)


def bench_pop909(split: str | None, limit: int | None) -> dict:
    from videobgm.data.pop909 import load_song, song_dirs
    from videobgm.train.harmony import pop909_layout, song_from_pop909

    stats, cad, inv = [], [], []
    for d in song_dirs(None, split)[:limit]:
        sc, _ = load_song(d)
        ev = [e for e in song_from_pop909(d, sc).events if e[2] != "N" and e[0] < 24 * sc.beats_per_bar]
        inv.append(float(np.mean([e[3] != 0 for e in ev])) if ev else 0.0)
        n_bars = min(24, sc.n_bars)
        spb = sc.steps_per_bar
        stats.append(progression_stats(sc.chords, n_bars=n_bars, steps_per_bar=spb, tonic=sc.key_tonic, mode=sc.mode))
        secs, phrases = pop909_layout(sc)
        bars = {b: k for b, k in cadence_bars(secs, phrases).items() if b < n_bars}
        cad.append(cadence_check(sc.chords, n_bars=n_bars, steps_per_bar=spb, tonic=sc.key_tonic, bars=bars))
    return _row(f"POP909 {split or 'all'} songs, first 24 bars", stats, cad, inv, 0.0)


def table(rows: list[dict]) -> str:
    head = ("| progressions | pieces | changes/bar | tonic bars | distinct / 24 bars | 7th+sus | "
            "sec. dominants | authentic met | half met | inverted bass | ms/plan |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['name']} | {r['n']} | {r['changes_per_bar']:.2f} | {100 * r['tonic_bars']:.0f} % | "
        f"{r['distinct']:.1f} | {100 * r['seventh_sus']:.0f} % | {100 * r['secondary_dominants']:.1f} % | "
        f"{r['authentic']} | {r['half']} | {r['inverted']} | {r['ms']} |\n" for r in rows)
    return head + body


# ----------------------------------------------------------------------------------------------
# --video-plans: the chords of the default Pipeline's plans on real and synthetic videos
# ----------------------------------------------------------------------------------------------
VIDEO_MOODS = (None, "calm", "happy", "playful", "sad", "tense", "epic", "neutral")
_DIATONIC = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}


def plan_worker(features_dir: str, out: str) -> None:
    """Plans (chords, form) of every cached features file x seeds x moods, as JSON."""
    import dataclasses
    import json

    from videobgm.config import PipelineConfig
    from videobgm.pipeline import Pipeline

    rows = []
    for fp in sorted(Path(features_dir).glob("*.features.json")):
        f = read_features(json.loads(fp.read_text()))
        for mood in VIDEO_MOODS:
            for seed in SEEDS:
                cfg = PipelineConfig()
                cfg = dataclasses.replace(cfg, plan=dataclasses.replace(cfg.plan, mood=mood),
                                          sample=dataclasses.replace(cfg.sample, seed=seed))
                t0 = time.perf_counter()
                p = Pipeline(cfg, untrained=True).plan(f)
                c = p.controls
                rows.append({
                    "video": fp.name.split(".")[0], "mood_opt": mood, "seed": seed,
                    "mood": p.mood, "style": p.style, "mode": c.mode, "tonic": c.key_tonic,
                    "n_bars": c.n_bars, "bpb": c.beats_per_bar, "ending_bar": c.ending_bar,
                    "sections": [[s.start_bar, s.end_bar, s.label, s.reason] for s in p.sections],
                    "chords": [[ch.onset_16th, ch.root, ch.quality, getattr(ch, "bass", -1)]
                               for ch in c.chords],
                    "hits": [[int(k), str(kind)] for k, kind in c.hits],
                    "reason": p.reasons.get("chords", ""), "s": time.perf_counter() - t0})
    Path(out).write_text(json.dumps(rows))


def colour_stats(chords: list[Chord], bass: list[int], *, n_bars: int, spb: int, tonic: int,
                 mode: str) -> dict[str, float]:
    """Shares over chord changes: chromatic roots (outside the mode's scale), diminished chords,
    semitone root motion, tonic pedal (bass on the tonic under a non-tonic chord), any bass other
    than the root, and a bass a semitone from a chord tone (the pedal's minor-second clash)."""
    from videobgm.compose.constraints import CHORD_INTERVALS
    from videobgm.music.analysis import chord_changes

    ch = chord_changes(chords, n_bars * spb)
    by_onset = {c.onset_16th: b for c, b in zip(chords, bass)}
    n = max(len(ch), 1)
    chrom = dim = semi = pedal = inv = clash = 0
    for i, c in enumerate(ch):
        deg = (c.root - tonic) % 12
        chrom += deg not in _DIATONIC[mode]
        dim += c.quality == "dim"
        if i and (c.root - ch[i - 1].root) % 12 in (1, 11):
            semi += 1
        b = by_onset.get(c.onset_16th, -1)
        b = c.root if b < 0 else b
        inv += b != c.root
        pedal += b == tonic % 12 and c.root != tonic % 12
        tones = {(c.root + x) % 12 for x in CHORD_INTERVALS.get(c.quality, (0,))}
        clash += any((b - t) % 12 in (1, 11) for t in tones)
    return {"chromatic": chrom / n, "dim": dim / n, "semitone_motion": semi / n,
            "pedal": pedal / n, "bass_not_root": inv / n, "bass_clash": clash / n}


def video_stats(r: dict) -> dict:
    from videobgm.plan.harmony import harmony_layout

    spb = 4 * r["bpb"]
    chords = [Chord(int(a), int(b), str(q)) for a, b, q, _ in r["chords"]]
    bass = [int(x[3]) for x in r["chords"]]
    n, tonic, mode = r["n_bars"], r["tonic"], r["mode"]
    st = progression_stats(chords, n_bars=n, steps_per_bar=spb, tonic=tonic, mode=mode)
    st.update(colour_stats(chords, bass, n_bars=n, spb=spb, tonic=tonic, mode=mode))
    secs = [Section(a, z, lab, 0.0, 0.0, reason=why) for a, z, lab, why in r["sections"]]
    _, _, cad = harmony_layout(secs, n)
    st["cad"] = cadence_check(chords, n_bars=n, steps_per_bar=spb, tonic=tonic, bars=cad)
    # held tonic after a cadence: the last chord starts on the ending bar's downbeat, is the
    # tonic, and the chord before it is V (or IV)
    e = r["ending_bar"]
    last = [c for c in chords if c.onset_16th <= (e if e is not None else n - 1) * spb]
    held = (e is not None and len(last) >= 2 and last[-1].onset_16th == e * spb
            and (last[-1].root - tonic) % 12 == 0 and (last[-2].root - tonic) % 12 in (5, 7)
            and all(c.onset_16th <= e * spb for c in chords))
    st["held"] = float(held)
    onsets = {c.onset_16th for c in chords}
    elig = [k for k, kind in r["hits"] if not kind.startswith("section") and k % 4 == 0
            and (e is None or k // spb + 1 < e)]
    st["hit_change"] = (sum(k in onsets for k in elig), len(elig))
    st["source"] = ("learned" if r["reason"].startswith("learned") else
                    "fallback" if "fallback" in r["reason"] else "hand tables")
    return st


def video_row(name: str, rs: list[dict]) -> str:
    sts = [video_stats(r) for r in rs]

    def m(k: str) -> float:
        return float(np.mean([s[k] for s in sts]))

    a = [sum(s["cad"][k][i] for s in sts) for k in ("authentic", "half") for i in (0, 1)]
    hc = (sum(s["hit_change"][0] for s in sts), sum(s["hit_change"][1] for s in sts))
    src = sorted({s["source"] for s in sts})
    return (f"| {name} | {len(sts)} | {'/'.join(src)} | {m('changes_per_bar'):.2f} | "
            f"{100 * m('tonic_bars'):.0f} % | {m('distinct'):.1f} | {100 * m('seventh_sus'):.0f} % | "
            f"{a[0]}/{a[1]} | {a[2]}/{a[3]} | {100 * m('held'):.0f} % | {hc[0]}/{hc[1]} | "
            f"{100 * m('chromatic'):.0f} % | {100 * m('dim'):.1f} % | {100 * m('semitone_motion'):.0f} % | "
            f"{100 * m('pedal'):.0f} % | {100 * m('bass_not_root'):.0f} % | {100 * m('bass_clash'):.0f} % |")


VIDEO_HEAD = ("| plans | pieces | chords from | changes/bar | tonic bars | distinct / 24 bars | 7th+sus | "
              "authentic met | half met | held tonic after V/IV | hit beats with a change | chromatic | "
              "dim | semitone motion | tonic pedal | bass not root | bass semitone clash |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def video_plans(a) -> int:
    import json
    import os
    import subprocess

    sys.path.insert(0, str(ROOT / "bench"))
    from form import SHARED, SHARED_VIDEOS, _features_for, synthetic_cases

    from videobgm.testing import synthetic_videos as synth
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    for n in SHARED_VIDEOS:
        if (SHARED / f"{n}.mp4").exists():
            _features_for(n, SHARED / f"{n}.mp4", work)
    for n, (dur, cuts) in synthetic_cases().items():
        if not (work / f"{n}.features.json").exists():
            p = work / f"{n}.mp4"
            if not p.exists():
                synth.write_video(p, synth.hard_cut(cut_times_s=cuts), duration_s=dur, fps=15)
            _features_for(n, p, work)
    res = {}
    for tag, src in (("before", a.old_src), ("after", str(ROOT / "src"))):
        out = work / f"plans.{tag}.json"
        env = dict(os.environ, PYTHONPATH=src, HF_HUB_OFFLINE="1")
        subprocess.run([sys.executable, __file__, "--plan-worker", str(work), str(out)], env=env,
                       check=True)
        res[tag] = json.loads(out.read_text())
    lines = [VIDEO_HEAD]
    for tag, label in (("before", a.old_label), ("after", "after (learned model)")):
        own = [r for r in res[tag] if r["mood_opt"] is None]
        lines.append(video_row(f"{label}, video's own mood", own))
    for mood in VIDEO_MOODS[1:]:
        for tag, label in (("before", "before"), ("after", "after")):
            rs = [r for r in res[tag] if r["mood_opt"] == mood]
            lines.append(video_row(f"{label}, --mood {mood}", rs))
    t = "\n".join(lines) + "\n"
    print(t)
    per_video = []
    for v in sorted({r["video"] for r in res["after"]}):
        rs = [r for r in res["after"] if r["mood_opt"] is None and r["video"] == v]
        sts = [video_stats(r) for r in rs]
        per_video.append(f"{v} ({rs[0]['n_bars']} bars, {rs[0]['mood']}): "
                         f"{np.mean([x['changes_per_bar'] for x in sts]):.2f} changes/bar, "
                         f"{100 * np.mean([x['tonic_bars'] for x in sts]):.0f} % tonic bars")
    videos = sorted({r["video"] for r in res["after"]})
    ms = 1000 * float(np.mean([r["s"] for r in res["after"]]))
    ms0 = 1000 * float(np.mean([r["s"] for r in res["before"]]))
    sec = f"""## Video-driven plans

Written by `python bench/harmony.py --video-plans --old-label "{a.old_label}"`
({time.strftime('%Y-%m-%d')}). The default Pipeline's plan stage (no composing) on
{len(videos)} videos ({', '.join(videos)}), seeds {', '.join(map(str, SEEDS))}: first with the
mood the video gives, then with each mood forced (`--mood`); the styles follow the mood. "before"
is the hand-table planner, "after" the learned model with the mood/style vocabulary
(`videobgm.plan.chord_vocab`). Targets (issue 18): changes/bar 1.0-1.8, tonic bars <= 40 %,
distinct chords per 24 bars >= 5. Mean plan-stage time {ms0:.0f} ms before, {ms:.0f} ms after
(the harmony asset is read and its tables built once per plan).

{t}
Columns: cadences are counted on the learned planner's layout (`plan_harmony.harmony_layout`:
an authentic cadence where a period closes - a strong cut follows, 8 bars reached, or the end -
a half cadence at the other phrase ends), for both rows; "held tonic after V/IV": the last chord
is the tonic from the ending bar's downbeat, the one before V or IV; "hit beats with a change":
hit points on a beat (not section starts, not the last two bars) where a chord starts. The
colour columns are shares of chord changes: roots outside the mode's scale, diminished chords,
roots a semitone from the previous root, a tonic bass under a non-tonic chord (pedal point),
any bass other than the root, and a bass a semitone from one of the chord's tones (a maj7
chord in root position counts: its root and 7th are a semitone apart).

Per video, after, the video's own mood (means over seeds): {'; '.join(per_video)}. Short pieces
hold the most tonic bars (the first and the held last bar are both I).
"""
    md = Path(a.md)
    text = md.read_text() if md.exists() else ""
    if "## Video-driven plans" in text:
        head, _, rest = text.partition("## Video-driven plans")
        nxt = rest.find("\n## ")
        text = head + sec + (rest[nxt + 1:] if nxt >= 0 else "")
    else:
        text = text.rstrip() + "\n\n" + sec
    md.write_text(text)
    print(f"wrote {md}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="test", choices=("train", "val", "test", "all"))
    ap.add_argument("--songs", type=int, default=None)
    ap.add_argument("--md", default=str(ROOT / "docs" / "results" / "harmony.md"))
    ap.add_argument("--video-plans", action="store_true")
    ap.add_argument("--work", default="/tmp/videobgm-bench-harmony")
    ap.add_argument("--old-src", default="/work/main/src")
    ap.add_argument("--old-label", default="before (main, hand tables)")
    ap.add_argument("--plan-worker", nargs=2, metavar=("FEATURES_DIR", "OUT"))
    a = ap.parse_args()
    if a.plan_worker:
        plan_worker(*a.plan_worker)
        return 0
    if a.video_plans:
        return video_plans(a)
    model = harmony.load()
    rows = [bench_learned(model), bench_hand(), bench_fallback()]
    rows += [bench_learned(model, [lay], name=f"learned, {lay[0]} bars / {lay[1]}-bar sections") for lay in LAYOUTS]
    rows.append(bench_learned(model, cadences=False, name="learned, cadences off (final tonic only)"))
    try:
        rows.append(bench_pop909(None if a.split == "all" else a.split, a.songs))
    except Exception as e:  # noqa: BLE001 - POP909 absent: the table says so
        print(f"POP909 row skipped: {e}", file=sys.stderr)
    t = table(rows)
    print(t)
    meta = model.meta
    ppl = meta.get("perplexity_per_change", {})
    ppl_rows = "".join(f"| {k} | {ppl['val'][k]:.2f} | {ppl['test'][k]:.2f} |\n" for k in ppl.get("val", {}))
    md = f"""# Learned harmony (issue 18, part 1)

Written by `python bench/harmony.py --split {a.split}{f' --songs {a.songs}' if a.songs else ''}`
({time.strftime('%Y-%m-%d')}). Plans: layouts {', '.join(f'{n} bars / {s}-bar sections' for n, s in LAYOUTS)};
intro, verse/chorus alternating, outro; 4-bar phrases; major and minor; seeds {', '.join(map(str, SEEDS))};
the last bar fixed to the held tonic. Cadences expected: half on every phrase end, authentic
(V then I, one chord in the bar) on every section end. Targets (issue 18): changes/bar 1.0-1.8,
tonic bars <= 40 %, distinct chords per 24 bars >= 5.

{t}
Notes: the per-layout rows show where the tonic bars come from: every section ends on I, so
4-bar sections alone put a quarter of the bars on the tonic. The hand tables change chord once per bar at most and end only the piece on the tonic, so
their cadence columns count how often a phrase/section end happens to be V / V-I. POP909's
cadence columns use the heuristic layout (4-bar phrases from the melody's first downbeat), so
they say how often real songs put V / V-I exactly there, not a target. "distinct" counts
(root, quality) pairs over every chord change (POP909: 10.2), not one triad per bar, so it is
higher than the 6.2 of issue 18's table; "ms/plan" is the sampling time per plan on this machine.

## Model

Asset `src/videobgm/assets/harmony/harmony.json` ({harmony.ASSET.stat().st_size / 1024:.0f} KiB), trained on
{meta.get('songs', {}).get('train')} POP909 train songs ({meta.get('chord_changes', {}).get('train')} chord changes);
tilt {meta.get('tilt')}, smoothing {meta.get('smoothing')} chosen on val. Perplexity per chord change:

| model | val | test |
|---|---|---|
{ppl_rows}"""
    Path(a.md).parent.mkdir(parents=True, exist_ok=True)
    Path(a.md).write_text(md)
    print(f"wrote {a.md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
