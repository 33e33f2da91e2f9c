"""Chord progressions on video-like plans: the learned POP909 model against today's hand tables
and POP909 itself (issue 18, part 1).

Usage::

    python bench/harmony.py [--split test|val|train|all] [--songs N] [--md docs/results/harmony.md]

Plans: synthetic layouts of 16, 24 and 48 bars in 4- or 8-bar sections (intro first, outro
last, verse/chorus alternating between), 4-bar phrases, 4/4, both modes, seeds 0-2, the final
bar fixed to the held tonic (as the planner does). Rows:

* ``learned``: :meth:`videobgm.harmony.HarmonyModel.sample` with the shipped asset (half
  cadences on phrase ends, authentic on section ends);
* ``hand tables``: today's ``plan_music.make_chords`` (``PROGRESSIONS``; moods neutral/calm/happy
  for major, sad/tense/epic for minor by seed);
* ``fallback``: :func:`videobgm.harmony_sampling.fallback_progression` (used only without asset);
* ``POP909``: the first 24 bars of each song of ``--split`` (chords on its beat annotations, as
  read by ``videobgm.train.pop909.load_song``), same statistics code; its cadence columns use the
  heuristic layout of ``videobgm.train.harmony.pop909_layout``.

Statistics (:func:`videobgm.musicstats.progression_stats`, means over pieces): chord changes per
bar (target 1.0-1.8), bars on the tonic (<= 40 %), distinct chords in the first 24 bars (>= 5; a
16-bar plan counts its 16), share of 7th/sus chords, of secondary dominants, of inverted basses
(learned only), and cadences met (:func:`videobgm.musicstats.cadence_check`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from videobgm import harmony  # noqa: E402
from videobgm.harmony_corpus import split_phrases  # noqa: E402
from videobgm.harmony_sampling import fallback_progression  # noqa: E402
from videobgm.musicstats import cadence_check, progression_stats  # noqa: E402
from videobgm.types import Section  # noqa: E402

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
        p = model.sample(n_bars, mode=mode, tonic=tonic, sections=secs, fixed={n_bars - 1: home},
                         seed=seed, **off)
        n += 1
        phrases = split_phrases(secs, 4)
        stats.append(progression_stats(p.chords, n_bars=n_bars, steps_per_bar=16, tonic=tonic, mode=mode))
        cad.append(cadence_check(p.chords, n_bars=n_bars, steps_per_bar=16, tonic=tonic,
                                 bars=cadence_bars(secs, phrases)))
        inv.append(float(np.mean([b != c.root for b, c in zip(p.bass, p.chords)])))
    return _row(name, stats, cad, inv, (time.perf_counter() - t0) / n)


def bench_hand() -> dict:
    from videobgm.plan_music import make_chords

    stats, cad = [], []
    for n_bars, secs, mode, seed in plans():
        tonic = (2 + 5 * seed) % 12
        sections = [Section(a, z, r, float(a), float(z)) for a, z, r in secs]
        ch = make_chords(sections, n_bars, 16, tonic, mode, MOODS[mode][seed], None, seed, {})
        stats.append(progression_stats(ch, n_bars=n_bars, steps_per_bar=16, tonic=tonic, mode=mode))
        cad.append(cadence_check(ch, n_bars=n_bars, steps_per_bar=16, tonic=tonic,
                                 bars=cadence_bars(secs, split_phrases(secs, 4))))
    return _row("hand tables (plan_music today)", stats, cad, None, 0.0)


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
    from videobgm.train.harmony import pop909_layout, song_from_pop909
    from videobgm.train.pop909 import load_song, song_dirs

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="test", choices=("train", "val", "test", "all"))
    ap.add_argument("--songs", type=int, default=None)
    ap.add_argument("--md", default=str(ROOT / "docs" / "results" / "harmony.md"))
    a = ap.parse_args()
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
