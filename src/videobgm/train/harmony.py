"""Train the chord-progression model (:mod:`videobgm.plan.chord_model`) on POP909's chord annotations.

Usage::

    python -m videobgm.train.harmony [--data ../shared/data/POP909] [--out src/videobgm/assets/harmony]
        [--songs N]

Each song is read by :func:`videobgm.data.pop909.load_song` (chords on its annotated beat grid,
qualities mapped by :func:`~videobgm.data.pop909.parse_chord`). Per chord, the local key is the
``key_audio.txt`` label sounding at its onset (so modulated passages are key-relative to their own
key) and the bass interval comes from the raw label's ``/x`` inversion (Harte degrees). Onsets are
quantised to the nearest beat.

POP909 has no section labels, so the layout is a documented heuristic (:func:`pop909_layout`):
intro = the bars before the melody starts (a melody onset in the second half of a bar is a pickup
to the next), outro = the bars after it ends, the body in 8-bar sections of 4-bar phrases from the
melody's first downbeat, a section ``chorus`` when its mean melody pitch is above the song's median
section, else ``verse``.

Fits on the train split only, picks the context tilt and smoothing on val, reports perplexity per
chord change on val and test (with unigram / bigram / trigram ablations) and writes
``harmony.json`` and ``PROVENANCE.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

from videobgm.data.pop909 import (
    QUALITY_MAP,
    default_root,
    key_for_span,
    load_song,
    parse_chord,
    read_keys,
    song_dirs,
    split_of,
)
from videobgm.errors import InputError
from videobgm.plan.chord_corpus import HarmonySong, count, split_phrases
from videobgm.plan.chord_model import HarmonyModel
from videobgm.types import STEPS_PER_BEAT, Score

# Harte interval of an inversion "/x" -> semitones above the root
_HARTE = {"1": 0, "b2": 1, "2": 2, "#2": 3, "b3": 3, "3": 4, "4": 5, "#4": 6, "b5": 6, "5": 7,
          "#5": 8, "b6": 8, "6": 9, "bb7": 9, "b7": 10, "7": 11, "b9": 1, "9": 2, "11": 5, "13": 9}


def bass_interval(label: str) -> int:
    """Semitones from the root to the bass of a POP909 label (``"F#:maj7/5" -> 7``; 0 = root)."""
    _, _, inv = label.strip().partition("/")
    return _HARTE.get(inv, 0)


def pop909_layout(score: Score) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """Heuristic (sections, phrases) of a POP909 song (see the module docstring)."""
    spb, n = score.steps_per_bar, score.n_bars
    mel = [x for x in score.notes if x.track == "melody"]
    if not mel:
        secs = [(a, min(n, a + 8), "verse") for a in range(0, n, 8)]
        return secs, split_phrases(secs)
    on0 = min(x.onset_16th for x in mel)
    first = on0 // spb + (1 if on0 % spb >= spb // 2 else 0)
    last = max(x.onset_16th + x.duration_16th for x in mel)
    end = min(n, max(first + 1, -(-last // spb)))
    secs: list[tuple[int, int, str]] = []
    if first > 0:
        secs.append((0, first, "intro"))
    body = []
    a = first
    while a < end:
        z = min(end, a + 8)
        if end - z < 4:
            z = end
        body.append((a, z))
        a = z
    pitch = []
    for a, z in body:
        p = [x.pitch for x in mel if a * spb <= x.onset_16th < z * spb]
        pitch.append(np.mean(p) if p else -1.0)
    med = float(np.median(pitch)) if pitch else 0.0
    secs += [(a, z, "chorus" if p > med else "verse") for (a, z), p in zip(body, pitch)]
    if end < n:
        secs.append((end, n, "outro"))
    return secs, split_phrases(secs)


def song_from_pop909(song_dir: str | Path, score: Score | None = None) -> HarmonySong:
    """One POP909 folder -> :class:`~videobgm.plan.chord_corpus.HarmonySong` (local keys, bass, layout);
    ``score``: the folder's :func:`~videobgm.data.pop909.load_song` Score when already read."""
    d = Path(song_dir)
    if score is None:
        score, _ = load_song(d)
    keys = read_keys(d / "key_audio.txt")
    raw = []
    chord_file = d / "chord_midi.txt"
    for line in chord_file.read_text().splitlines() if chord_file.is_file() else []:
        parts = line.split()
        if len(parts) >= 3:
            raw.append((float(parts[0]), parts[2]))
    raw_t = np.array([t for t, _ in raw]) if raw else np.zeros(0)
    bt = np.asarray(score.beat_times_s, dtype=float)
    bpb = score.beats_per_bar
    events: list[tuple[int, int, str, int, str]] = []
    for c in score.chords:
        beat = int(round(c.onset_16th / STEPS_PER_BEAT))
        t = float(np.interp(c.onset_16th / STEPS_PER_BEAT, np.arange(bt.size), bt))
        tonic, mode = key_for_span(keys, t, t + 1e-3) if keys else (score.key_tonic, score.mode)
        inv = 0
        if raw_t.size:
            label = raw[int(np.argmin(np.abs(raw_t - t)))][1]
            if parse_chord(label) == (c.root, c.quality):
                inv = bass_interval(label)
        ev = (beat, -1, "N", 0, mode) if c.root < 0 else (beat, (c.root - tonic) % 12, c.quality, inv, mode)
        if events and events[-1][0] == beat:  # two labels on one beat: the later wins
            events.pop()
        events.append(ev)
    secs, phrases = pop909_layout(score)
    return HarmonySong(beats_per_bar=bpb, n_bars=score.n_bars, events=events, sections=secs,
                       phrases=phrases, name=d.name)


def load_corpus(root: str | Path | None = None, *, split: str | None = None, limit: int | None = None,
                verbose: bool = False) -> list[HarmonySong]:
    """HarmonySongs of POP909 (optionally one split, the first ``limit`` songs)."""
    dirs = song_dirs(root, split)[:limit]
    out = []
    for i, d in enumerate(dirs):
        out.append(song_from_pop909(d))
        if verbose and (i + 1) % 100 == 0:
            print(f"  read {i + 1}/{len(dirs)} songs", file=sys.stderr, flush=True)
    return out


def evaluate(model: HarmonyModel, songs: list[HarmonySong]) -> dict[str, float]:
    """Perplexity per chord change: unigram / bigram / trigram / trigram + context."""
    out = {}
    for name, order, ctx in (("unigram", 1, False), ("bigram", 2, False), ("trigram", 3, False),
                             ("trigram+context", 3, True)):
        loss, _ = model.log2_loss(songs, order=order, context=ctx)
        out[name] = float(2.0 ** loss)
    return out


def train(root: str | Path | None = None, *, limit: int | None = None, verbose: bool = True,
          songs: list[HarmonySong] | None = None) -> tuple[HarmonyModel, dict]:
    """Fit on the train split, choose tilt/smoothing on val, measure val and test (``songs``:
    an already loaded corpus instead of ``root``)."""
    if songs is None:
        songs = load_corpus(root, limit=limit, verbose=verbose)
    by = {s: [x for x in songs if split_of(int(x.name)) == s] for s in ("train", "val", "test")}
    if not by["train"] or not by["val"]:
        raise InputError(f"need train and val songs, found {len(by['train'])} and {len(by['val'])}")
    counts = count(by["train"])
    grid = {}
    for disc in (None, 0.9, 0.95, 0.98):
        for tilt in (0.0, 0.5, 1.0):
            for k in (200.0, 800.0, 3200.0):
                m = HarmonyModel(counts, tilt=tilt, smoothing=k, discount=disc)
                grid[disc, tilt, k] = m.log2_loss(by["val"])[0]
    disc, tilt, k = min(grid, key=grid.get)
    model = HarmonyModel(counts, tilt=tilt, smoothing=k, discount=disc)
    ev = {s: evaluate(model, by[s]) for s in ("val", "test")}
    n_changes = {s: model.log2_loss(by[s])[1] for s in ("train", "val", "test")}
    report = {
        "data": "POP909 chord_midi.txt + key_audio.txt + beat_midi.txt via videobgm.data.pop909",
        "split": "train (song id % 19 not in {0, 1}); discount, tilt and smoothing chosen on val; test held out",
        "songs": {s: len(v) for s, v in by.items()},
        "chord_changes": n_changes,
        "tilt": tilt, "smoothing": k, "discount": disc,
        "val_grid_log2_loss": {f"discount={d},tilt={a},k={b}": round(v, 4) for (d, a, b), v in grid.items()},
        "perplexity_per_change": ev,
        "perplexity": {"val": ev["val"]["trigram+context"], "test": ev["test"]["trigram+context"]},
        "date": datetime.date.today().isoformat(),
        "command": "python -m videobgm.train.harmony --data ../shared/data/POP909 "
                   "--out src/videobgm/assets/harmony",
    }
    report["quality_map"] = {"POP909 -> ours": dict(QUALITY_MAP),
                             "inversions": "/x kept as the bass interval (Harte degree -> semitones)"}
    report["sampling_vocabulary"] = {m: int(model.vocabulary(m).size) for m in ("major", "minor")}
    model.meta = report
    return model, report


def _provenance(report: dict) -> str:
    ev = report["perplexity_per_change"]
    rows = "\n".join(f"| {name} | {ev['val'][name]:.2f} | {ev['test'][name]:.2f} |" for name in ev["val"])
    return f"""# harmony.json: provenance

Chord-progression model of `videobgm.plan.chord_model` (Kneser-Ney trigram over key-relative chord
changes per mode, role/position tilt, harmonic-rhythm and bass tables), counts only.

- data: {report['data']}
- split: {report['split']}
- songs: {report['songs']}; chord changes: {report['chord_changes']}
- chosen on val: discount = {report['discount']} (None = Kneser-Ney estimate), tilt =
  {report['tilt']}, smoothing = {report['smoothing']}
- command: `{report['command']}`
- date: {report['date']}
- section roles and phrases of POP909 are heuristic (see `videobgm.train.harmony.pop909_layout`)
- chord qualities, POP909 -> ours (`videobgm.data.pop909.parse_chord`):
  {', '.join(f'{k or "(none)"} -> {v}' for k, v in report['quality_map']['POP909 -> ours'].items())};
  inversions `/x` are kept apart as the bass interval
- sampling vocabulary (chords seen >= 20 times in the mode): {report['sampling_vocabulary']}

Perplexity per chord change (lower is better; 108 possible chords):

| model | val | test |
|---|---|---|
{rows}
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m videobgm.train.harmony", description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="POP909 folder (default: $VIDEOBGM_POP909 or ../shared/data/POP909)")
    ap.add_argument("--out", default="src/videobgm/assets/harmony", help="output folder")
    ap.add_argument("--songs", type=int, default=None, help="only the first N songs (quick runs)")
    a = ap.parse_args(argv)
    from videobgm.errors import VideobgmError
    from videobgm.io import atomic_path

    out = Path(a.out)
    try:
        model, report = train(a.data if a.data else default_root(), limit=a.songs)
        model.save(out / "harmony.json")
        with atomic_path(out / "PROVENANCE.md") as tmp:
            Path(tmp).write_text(_provenance(report))
    except VideobgmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ev = report["perplexity_per_change"]
    for s in ("val", "test"):
        print(f"{s}: " + ", ".join(f"{k} {v:.2f}" for k, v in ev[s].items()))
    print(f"discount {report['discount']}, tilt {report['tilt']}, smoothing {report['smoothing']}; "
          f"wrote {out / 'harmony.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
