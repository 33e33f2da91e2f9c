"""[3b] Building the music library: songs cut into phrase entries, their text, the index built.

Every score is cut into fixed ``phrase_bars``-bar windows (default 8, from bar 0, non-overlapping;
a window needs notes in at least half of its bars; a trailing partial window is dropped). Each
entry keeps only derived data, never notes: key tonic and mode (the score's own annotation, else
Krumhansl-Kessler estimation), tempo (60 / median beat interval in the window), onsets per bar
(pitched tracks), mean velocity, an energy in [0, 1] (:func:`energy_of`:
``0.7 * min(density / 32, 1) + 0.3 * velocity / 127``), tracks and GM programs, the chord
progression (annotations, else one estimated triad per bar; onsets relative to the window) and an
automatic text description (:func:`entry_text`) embedded with MiniLM (float16, unit norm).
:func:`build_index` makes the :class:`~videobgm.bridges.retrieve.Index` that
:mod:`videobgm.bridges.retrieve` stores and searches; the songs come from a MIDI folder or POP909.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.bridges.retrieve import INDEX_VERSION, PHRASE_BARS, WEIGHTS, Index, save_index
from videobgm.errors import InputError, OptionError
from videobgm.music import analysis, lexicon, theory
from videobgm.types import Chord, Score


def energy_of(density: float, velocity: float) -> float:
    """Energy in [0, 1] of a phrase from onsets per bar and mean velocity."""
    return float(np.clip(0.7 * min(density / 32.0, 1.0) + 0.3 * velocity / 127.0, 0.0, 1.0))


def _entry_mood(energy: float, tempo: float, mode: str) -> str:
    arousal = float(np.clip(0.6 * energy + 0.4 * (tempo - 60.0) / 80.0, 0.0, 1.0))
    return lexicon.mood_from_arousal_valence(arousal, 0.5 if mode == "major" else -0.5)


def _chord_names(chords: list[Chord]) -> str:
    names = [f"{theory.key_name(c.root)}{'m' if c.quality.startswith('min') else '' if c.quality == 'maj' else c.quality}"
             for c in chords if c.root >= 0][:8]
    return "-".join(names) if names else "no chords"


def entry_text(e: dict[str, Any]) -> str:
    """Automatic description of an entry (also the template a :class:`Description` query uses)."""
    insts = sorted({lexicon.canonical_instrument(n) or n for n in e.get("instruments", [])})
    dens = e["density"]
    dword = "sparse" if dens < 12 else "flowing" if dens < 22 else "busy"
    eword = "low" if e["energy"] < 0.35 else "medium" if e["energy"] < 0.6 else "high"
    return (f"{e['mood']} {lexicon.tempo_bin(e['tempo_bpm'])} {' and '.join(insts) or 'piano'} music in "
            f"{theory.key_name(e['key_tonic'])} {e['mode']} at {e['tempo_bpm']:.0f} bpm, {dword} "
            f"({dens:.0f} notes per bar), {eword} energy, chords {_chord_names(e['chords_obj'])}")


def phrase_entries(score: Score, *, phrase_bars: int = PHRASE_BARS, source: str = "") -> list[dict[str, Any]]:
    """Cut ``score`` into ``phrase_bars``-bar windows and describe each (no embeddings yet)."""
    if phrase_bars < 1:
        raise OptionError(f"phrase_bars must be >= 1, got {phrase_bars}")
    spb = score.steps_per_bar
    if score.chords:
        chords_all = list(score.chords)
    else:
        chords_all = analysis.estimate_chords(score)
    tonic, mode = int(score.key_tonic), str(score.mode)
    dens_all = analysis.onsets_per_bar(score)
    bt = score.beat_times()
    programs = {t: int(p) for t, p in (score.programs or {}).items()}
    out: list[dict[str, Any]] = []
    for b0 in range(0, score.n_bars - phrase_bars + 1, phrase_bars):
        dens = dens_all[b0:b0 + phrase_bars]
        if (dens > 0).sum() < phrase_bars / 2:
            continue
        s0, s1 = b0 * spb, (b0 + phrase_bars) * spb
        notes = [n for n in score.notes if s0 <= n.onset_16th < s1]
        pitched = [n for n in notes if n.track in analysis.PITCHED]
        vel = float(np.mean([n.velocity for n in pitched])) if pitched else 0.0
        beats = bt[b0 * score.beats_per_bar:(b0 + phrase_bars) * score.beats_per_bar + 1]
        d = np.diff(beats)
        tempo = float(60.0 / np.median(d[d > 0])) if np.any(d > 0) else float(score.tempo_bpm)
        prev = _last_before(chords_all, s0)
        chords = [Chord(max(0, c.onset_16th - s0), c.root, c.quality) for c in chords_all
                  if c.onset_16th < s1 and (c.onset_16th >= s0 or c is prev)]
        tracks = sorted({n.track for n in notes})
        instruments = sorted({_program_name(programs.get(t, 0), t) for t in tracks})
        density = float(dens.mean())
        e = {
            "id": f"{source + ':' if source else ''}{score.name or 'score'}:bars{b0}-{b0 + phrase_bars}",
            "key_tonic": tonic, "mode": mode, "tempo_bpm": round(tempo, 2), "n_bars": phrase_bars,
            "density": round(density, 2), "density_per_bar": [int(x) for x in dens],
            "velocity": round(vel, 1), "energy": round(energy_of(density, vel), 3),
            "tracks": tracks, "instruments": instruments, "chords_obj": chords,
        }
        e["mood"] = _entry_mood(e["energy"], tempo, mode)
        e["text"] = entry_text(e)
        out.append(e)
    return out


def _last_before(chords: list[Chord], step: int) -> Chord | None:
    prev = [c for c in chords if c.onset_16th <= step]
    return prev[-1] if prev else None


def _program_name(program: int, track: str) -> str:
    if track == "drums":
        return "drums"
    best = [name for name, (p, _) in lexicon.INSTRUMENTS.items() if p == program and name != "drums"]
    return best[0] if best else f"program {program}"


def build_index(scores: Iterable[Score], out_path: str | os.PathLike[str] | None = None, *,
                phrase_bars: int = PHRASE_BARS, source: str = "", embed: bool = True,
                max_per_score: int | None = None,
                progress: Callable[[float, float | None], None] | None = None) -> Index:
    """Index every phrase of ``scores``; write it to ``out_path`` (a folder) when given.

    Parameters
    ----------
    scores : iterable of Score
        Scores whose ``key_tonic``/``mode`` are set (annotated, or estimated with
        :func:`analysis.estimate_key` as :func:`midi_folder_scores` does).
    out_path : path, optional
        Index folder to write (``index.json.gz`` + ``embeddings.npy``), atomically per file.
    embed : bool
        Embed the texts with MiniLM (raises MissingDependencyError when it is missing).
    max_per_score : int, optional
        Keep at most this many phrases per score, evenly spread (smaller shipped index).
    """
    entries: list[dict[str, Any]] = []
    for i, sc in enumerate(scores):
        es = phrase_entries(sc, phrase_bars=phrase_bars, source=source)
        if max_per_score is not None and len(es) > max_per_score:
            pick = np.unique(np.linspace(0, len(es) - 1, max_per_score).round().astype(int))
            es = [es[j] for j in pick]
        entries += es
        if progress is not None:
            progress(i + 1, None)
    emb = None
    if embed and entries:
        from videobgm.bridges import textembed
        emb = textembed.load_embedder().encode([e["text"] for e in entries]).astype(np.float16)
    meta = {"version": INDEX_VERSION, "phrase_bars": phrase_bars, "n_entries": len(entries),
            "embedding_model": "all-MiniLM-L6-v2" if emb is not None else None, "source": source,
            "energy": "0.7*min(density/32,1)+0.3*velocity/127", "weights": WEIGHTS}
    index = Index(entries, emb, meta, str(out_path) if out_path else None)
    if out_path is not None:
        save_index(index, out_path)
    return index


def midi_folder_scores(folder: str | os.PathLike[str], *, on_error: Callable[[Path, str], None] | None = None
                       ) -> list[Score]:
    """Read every ``.mid``/``.midi`` under ``folder`` (recursively); key and mode are estimated.

    Unreadable files are skipped and reported through ``on_error(path, message)``.
    """
    from videobgm.errors import VideobgmError
    from videobgm.music.midi import read_midi

    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"MIDI folder not found: {d}")
    files = sorted(p for p in d.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file())
    if not files:
        raise InputError(f"no .mid/.midi files under {d}")
    out = []
    for p in files:
        try:
            sc = read_midi(p, name=str(p.relative_to(d).with_suffix("")))
        except VideobgmError as exc:
            if on_error is not None:
                on_error(p, str(exc))
            continue
        sc.key_tonic, sc.mode, _ = analysis.estimate_key(sc)
        out.append(sc)
    return out


def pop909_scores(root: str | os.PathLike[str] | None = None, *, split: str | None = "train",
                  limit: int | None = None) -> Iterable[Score]:
    """POP909 songs of ``split`` as Scores (engineer B's loader: annotated beats, chords, key)."""
    from videobgm.data.pop909 import load_song, song_dirs

    dirs = song_dirs(root, split)
    for d in dirs[:limit]:
        try:
            score, _ = load_song(d)
        except InputError:
            continue
        yield score
