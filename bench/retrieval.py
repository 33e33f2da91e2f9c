"""Music-bridge retrieval benchmark on POP909 (and builder of the shipped default index).

Index: every 8-bar phrase of the POP909 *train* split (engineer B's split: song id % 19 not in
{0, 1}). Queries: every 8-bar phrase of the *test* split (id % 19 == 0; never in the index),
each queried with its own automatic description (``library.entry_text``). A query counts as a hit
at k when one of the top-k results has the same mode and the same tempo bin
(``lexicon.TEMPO_BINS``: <80, 80-100, 100-120, >=120 bpm). The query text names the
mode and the bpm, so this mostly tests that the bridge keeps those attributes; a "vague" row
queries without key, mode, bpm and chords (mood, tempo word, density, energy only). Reported for three scorers:
hybrid (MiniLM text cosine + attribute terms parsed from the query text), text only, and
attributes only; and for the full train index and the small shipped one.

    python bench/retrieval.py [--pop909 DIR] [--build-default] [--limit N]

``--build-default`` also writes ``src/videobgm/assets/index`` (train split, at most
``DEFAULT_PER_SONG`` phrases per song, evenly spread).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from videobgm.bridges import library, retrieve, textembed
from videobgm.music import lexicon

DEFAULT_PER_SONG = 4
KS = (1, 5, 10)


def _load(split: str, root: str | None, limit: int | None) -> list[dict]:
    entries = []
    for sc in library.pop909_scores(root, split=split, limit=limit):
        entries += library.phrase_entries(sc, source="pop909")
    return entries


def _subset(entries: list[dict], per_song: int) -> list[int]:
    by_song: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        by_song.setdefault(e["id"].rsplit(":", 1)[0], []).append(i)
    keep: list[int] = []
    for idx in by_song.values():
        if len(idx) > per_song:
            pick = np.unique(np.linspace(0, len(idx) - 1, per_song).round().astype(int))
            idx = [idx[j] for j in pick]
        keep += idx
    return sorted(keep)


def _words_only(q: dict) -> str:
    """The query's description without key, mode, bpm and chords (a harder, vaguer query)."""
    return q["text"].split(" music in ")[0] + " music, " + q["text"].split(" bpm, ")[1].split(", chords")[0]


def _recall(index: retrieve.Index, queries: list[dict], *, vague: bool = False, **kw) -> dict[int, float]:
    hits = {k: 0 for k in KS}
    for q in queries:
        refs = retrieve.search(_words_only(q) if vague else q["text"], k=max(KS), index=index, **kw)
        ok = [r.mode == q["mode"] and lexicon.tempo_bin(r.tempo_bpm) == lexicon.tempo_bin(q["tempo_bpm"])
              for r in refs]
        for k in KS:
            hits[k] += any(ok[:k])
    return {k: hits[k] / max(len(queries), 1) for k in KS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pop909", default=None, help="POP909 folder (default: $VIDEOBGM_POP909 or ../shared)")
    ap.add_argument("--build-default", action="store_true", help="write src/videobgm/assets/index")
    ap.add_argument("--limit", type=int, default=None, help="songs per split (quick runs)")
    ap.add_argument("--rebuild", action="store_true", help="re-embed the train index even if cached")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # faster than 2 on a shared 2-core machine
    meta = {"version": retrieve.INDEX_VERSION, "phrase_bars": retrieve.PHRASE_BARS,
            "embedding_model": textembed.MODEL_NAME, "source": "pop909 train split",
            "energy": "0.7*min(density/32,1)+0.3*velocity/127", "weights": retrieve.WEIGHTS}
    cache = Path(os.environ.get("VIDEOBGM_CACHE") or Path.home() / ".cache" / "videobgm") / "retrieval-train-index"
    t0 = time.perf_counter()
    test = _load("test", args.pop909, args.limit and max(2, args.limit // 10))
    t_embed = 0.0
    if args.limit is None and not args.rebuild and (cache / "index.json.gz").is_file():
        full = retrieve.load_index(cache)
        train, vecs = full.entries, full.embeddings
        t_load = time.perf_counter() - t0
        print(f"reusing the embedded train index in {cache} (--rebuild to redo it)")
    else:
        train = _load("train", args.pop909, args.limit)
        t_load = time.perf_counter() - t0
        emb = textembed.load_embedder()
        t0 = time.perf_counter()
        vecs = emb.encode([e["text"] for e in train]).astype(np.float16)
        t_embed = time.perf_counter() - t0
        full = retrieve.Index(train, vecs, {**meta, "n_entries": len(train)})
        if args.limit is None:
            retrieve.save_index(full, cache)
    keep = _subset(train, DEFAULT_PER_SONG)
    small = retrieve.Index([train[i] for i in keep], vecs[keep],
                           {**meta, "n_entries": len(keep), "per_song": DEFAULT_PER_SONG})
    if args.build_default:
        out = retrieve.save_index(small, retrieve.DEFAULT_INDEX_DIR)
        size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
        print(f"wrote default index {out} ({len(keep)} phrases, {size:.2f} MB)")
    load = os.getloadavg()[0]
    print(f"\nindex: {len(train)} train phrases ({len(small)} in the shipped index); "
          f"queries: {len(test)} test phrases; load {t_load:.0f} s, embed {t_embed:.0f} s; "
          f"loadavg {load:.1f}")
    print("\n| index | scorer | recall@1 | recall@5 | recall@10 |\n|---|---|---|---|---|")
    for name, idx in (("full train", full), ("shipped", small)):
        for scorer, kw in (("hybrid (text + attributes)", {}),
                           ("text only (MiniLM)", {"weights": {"mode": 0, "tempo": 0, "key": 0, "energy": 0}}),
                           ("attributes only", {"use_text": False})):
            r = _recall(idx, test, **kw)
            print(f"| {name} ({len(idx)}) | {scorer} | {r[1]:.3f} | {r[5]:.3f} | {r[10]:.3f} |")
        r = _recall(idx, test, vague=True)
        print(f"| {name} ({len(idx)}) | hybrid, vague query (no key/mode/bpm/chords) | {r[1]:.3f} | "
              f"{r[5]:.3f} | {r[10]:.3f} |")
    # chance level: share of index entries with the query's mode and tempo bin
    share = np.mean([np.mean([e["mode"] == q["mode"] and lexicon.tempo_bin(e["tempo_bpm"]) ==
                              lexicon.tempo_bin(q["tempo_bpm"]) for e in train]) for q in test[:200]])
    print(f"\nchance (share of index phrases with the query's mode and tempo bin): {share:.3f}")
    print("git:", subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                  cwd=Path(__file__).parent).stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
