"""[3b] Music bridge: a library of phrases, searched with a music description.

**Entries.** Every score is cut into fixed ``phrase_bars``-bar windows (default 8, from bar 0,
non-overlapping; a window needs notes in at least half of its bars; a trailing partial window is
dropped). Each entry keeps only derived data, never notes: key tonic and mode (the score's own
annotation, else Krumhansl-Kessler estimation), tempo (60 / median beat interval in the window),
onsets per bar (pitched tracks), mean velocity, an energy in [0, 1]
(``0.7 * min(density / 32, 1) + 0.3 * velocity / 127``), tracks and GM programs, the chord
progression (annotations, else one estimated triad per bar; onsets relative to the window) and an
automatic text description (:func:`entry_text`) embedded with MiniLM (float16, unit norm).

**Search.** ``score = cos(query text, entry text)`` (when both have embeddings) plus attribute
terms for the fields the query sets: ``+0.3`` same mode, ``+0.3 * exp(-(dtempo / 12)^2)``,
``+0.1`` same key, ``+0.2 * (1 - distance of the entry's energy to the query's energy or
energy bin)`` (text queries: only an energy they name, "low/medium/high energy"). ``filters`` are hard constraints (``mode``,
``key``, ``tempo_range``, ``tempo_bin``, ``exclude`` id prefixes). A query string is parsed with the
prompt rules first, so ``"sad piano at 70 bpm in A minor"`` gets both terms.

**Storage.** A folder with ``index.json.gz`` (meta + entries) and ``embeddings.npy`` (float16,
(N, 384)). ``load_index(None)`` loads the default index shipped in ``videobgm/assets/index``
(built from the POP909 train split by ``bench/retrieval.py --build-default``).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.config import ASSETS_DIR
from videobgm.errors import InputError, OptionError
from videobgm.io import atomic_path
from videobgm.music import analysis, lexicon, theory
from videobgm.types import Chord, Description, Reference, Score

INDEX_VERSION = 1
PHRASE_BARS = 8
DEFAULT_INDEX_DIR = ASSETS_DIR / "index"
WEIGHTS = {"text": 1.0, "mode": 0.3, "tempo": 0.3, "key": 0.1, "energy": 0.2}
TEMPO_SCALE_BPM = 12.0


@dataclass
class Index:
    """A phrase library: ``entries`` (dicts, see module doc), ``embeddings`` float16 (N, 384) or None."""

    entries: list[dict[str, Any]]
    embeddings: np.ndarray | None
    meta: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def columns(self) -> dict[str, np.ndarray]:
        """Attribute arrays (mode is "major"/"minor", key_tonic, tempo_bpm, energy), built once."""
        if getattr(self, "_cols", None) is None or len(self._cols["mode"]) != len(self.entries):
            self._cols = {k: np.array([e[k] for e in self.entries])
                          for k in ("mode", "key_tonic", "tempo_bpm", "energy")}
        return self._cols

    def matrix(self) -> np.ndarray | None:
        """Embeddings as float32 (N, 384), converted once and kept."""
        if self.embeddings is None:
            return None
        if getattr(self, "_f32", None) is None or self._f32.shape != self.embeddings.shape:
            self._f32 = np.asarray(self.embeddings, dtype=np.float32)
        return self._f32


# ------------------------------------------------------------------------------------------------
# entries
# ------------------------------------------------------------------------------------------------
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


def _entry_to_json(e: dict[str, Any]) -> dict[str, Any]:
    d = {k: v for k, v in e.items() if k != "chords_obj"}
    d["chords"] = [[c.onset_16th, c.root, c.quality] for c in e["chords_obj"]]
    return d


def _entry_from_json(d: dict[str, Any]) -> dict[str, Any]:
    e = dict(d)
    e["chords_obj"] = [Chord(int(a), int(b), str(q)) for a, b, q in d.get("chords", [])]
    return e


# ------------------------------------------------------------------------------------------------
# build / save / load
# ------------------------------------------------------------------------------------------------
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


def save_index(index: Index, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``index`` as a folder: ``index.json.gz`` and (with embeddings) ``embeddings.npy``."""
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise OptionError(f"index output must be a folder, {d} is a file")
    d.mkdir(parents=True, exist_ok=True)
    data = {"meta": index.meta, "entries": [_entry_to_json(e) for e in index.entries]}
    with atomic_path(d / "index.json.gz") as tmp:
        with gzip.GzipFile(tmp, "wb", mtime=0) as f:
            f.write(json.dumps(data, separators=(",", ":")).encode("utf-8"))
    emb_file = d / "embeddings.npy"
    if index.embeddings is not None:
        with atomic_path(emb_file) as tmp:
            np.save(tmp, np.asarray(index.embeddings, dtype=np.float16))
    elif emb_file.exists():
        emb_file.unlink()
    return d


def load_index(path: str | os.PathLike[str] | None = None) -> Index:
    """Load an index folder; ``None`` = the default index shipped with the package (cached)."""
    if path is None:
        return _load_default()
    return _load(Path(path))


@functools.lru_cache(maxsize=1)
def _load_default() -> Index:
    if not (DEFAULT_INDEX_DIR / "index.json.gz").is_file():
        raise InputError(f"the default music index is missing from the package ({DEFAULT_INDEX_DIR}); "
                         "reinstall videobgm or pass an index folder")
    return _load(DEFAULT_INDEX_DIR)


def _load(d: Path) -> Index:
    f = d / "index.json.gz"
    if not f.is_file():
        raise InputError(f"not a music index folder (no index.json.gz): {d}")
    try:
        with gzip.open(f, "rb") as fh:
            data = json.loads(fh.read().decode("utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"music index {f} is corrupt: {exc}") from None
    if data.get("meta", {}).get("version") != INDEX_VERSION:
        raise InputError(f"music index {d} has version {data.get('meta', {}).get('version')}, "
                         f"expected {INDEX_VERSION}; rebuild it with `videobgm index`")
    entries = [_entry_from_json(e) for e in data["entries"]]
    emb = None
    if (d / "embeddings.npy").is_file():
        emb = np.load(d / "embeddings.npy")
        if emb.shape[0] != len(entries):
            raise InputError(f"music index {d}: {emb.shape[0]} embeddings for {len(entries)} entries")
    return Index(entries, emb, data["meta"], str(d))


# ------------------------------------------------------------------------------------------------
# search
# ------------------------------------------------------------------------------------------------
def description_query_text(desc: Description) -> str:
    """The query text for a description: the entry template filled with the fields it sets."""
    mood = desc.mood or ""
    tempo = f"{lexicon.tempo_bin(desc.tempo_bpm)} " if desc.tempo_bpm else ""
    insts = " and ".join(desc.instruments or []) or "piano"
    key = f" in {desc.key or ''} {desc.mode or ''}".rstrip() if (desc.key or desc.mode) else ""
    bpm = f" at {desc.tempo_bpm:.0f} bpm" if desc.tempo_bpm else ""
    energy = ""
    if desc.energy_curve:
        e = float(np.mean(desc.energy_curve))
        energy = f", {'low' if e < 0.35 else 'medium' if e < 0.6 else 'high'} energy"
    return f"{mood} {tempo}{insts} music{key}{bpm}{energy}".strip()


def search(description: Description | str, *, k: int = 5, index: Index | None = None,
           filters: dict[str, Any] | None = None, weights: dict[str, float] | None = None,
           use_text: bool = True) -> list[Reference]:
    """The ``k`` library phrases that best fit ``description``, best first.

    Parameters
    ----------
    description : Description or str
        A description, or free text (parsed with the prompt rules for the attribute terms and
        embedded as it is).
    k : int
        Number of references (>= 1).
    index : Index, optional
        Default: the packaged index.
    filters : dict, optional
        Hard constraints: ``mode`` ("major"/"minor"), ``key`` (name), ``tempo_range`` ((lo, hi)
        bpm), ``tempo_bin`` (see :func:`lexicon.tempo_bin`), ``exclude`` (id prefixes to skip).
    weights : dict, optional
        Override :data:`WEIGHTS`.
    use_text : bool
        Use the text embedding term (False: attributes only).

    Returns
    -------
    list of Reference
    """
    if k < 1:
        raise OptionError(f"k must be >= 1, got {k}")
    index = index if index is not None else load_index(None)
    w = {**WEIGHTS, **(weights or {})}
    energy_range: tuple[float, float] | None = None
    if isinstance(description, str):
        from videobgm.bridges.prompt import parse_prompt, stated_energy

        text = description
        desc = parse_prompt(description, use_embeddings=False)
        # only an energy the text names is scored (a mood's default energy is a guess)
        energy_range = stated_energy(description)
        desc.energy_curve = []
    else:
        desc = description
        text = description_query_text(desc)
        if desc.energy_curve:
            e = float(np.mean(desc.energy_curve))
            energy_range = (e, e)
    n = len(index)
    if n == 0:
        return []
    score = np.zeros(n)
    if use_text and index.embeddings is not None and w["text"] > 0:
        from videobgm.bridges import textembed
        if textembed.available():
            q = textembed.load_embedder().encode([text])[0]
            score += w["text"] * (index.matrix() @ q)
    ents = index.entries
    cols = index.columns()
    if desc.mode:
        score += w["mode"] * (cols["mode"] == desc.mode)
    if desc.tempo_bpm:
        t = cols["tempo_bpm"]
        score += w["tempo"] * np.exp(-(((t - float(desc.tempo_bpm)) / TEMPO_SCALE_BPM) ** 2))
    if desc.key:
        score += w["key"] * (cols["key_tonic"] == theory.parse_key(desc.key))
    if energy_range is not None:
        en = cols["energy"]
        gap = np.maximum(energy_range[0] - en, 0.0) + np.maximum(en - energy_range[1], 0.0)
        score += w["energy"] * (1.0 - gap)
    keep = _filter_mask(ents, filters or {})
    score[~keep] = -np.inf
    order = np.argsort(-score, kind="stable")[:k]
    return [_reference(ents[i], float(score[i])) for i in order if np.isfinite(score[i])]


def _filter_mask(ents: list[dict[str, Any]], f: dict[str, Any]) -> np.ndarray:
    known = {"mode", "key", "tempo_range", "tempo_bin", "exclude"}
    unknown = sorted(set(f) - known)
    if unknown:
        raise OptionError(f"unknown search filter(s) {', '.join(unknown)}; accepted: {', '.join(sorted(known))}")
    m = np.ones(len(ents), dtype=bool)
    if f.get("mode"):
        if f["mode"] not in ("major", "minor"):
            raise OptionError(f"unknown mode {f['mode']!r}; accepted: major, minor")
        m &= np.array([e["mode"] == f["mode"] for e in ents])
    if f.get("key"):
        pc = theory.parse_key(f["key"])
        m &= np.array([e["key_tonic"] == pc for e in ents])
    if f.get("tempo_range"):
        lo, hi = (float(x) for x in f["tempo_range"])
        m &= np.array([lo <= e["tempo_bpm"] <= hi for e in ents])
    if f.get("tempo_bin"):
        names = [b[0] for b in lexicon.TEMPO_BINS]
        if f["tempo_bin"] not in names:
            raise OptionError(f"unknown tempo bin {f['tempo_bin']!r}; accepted: {', '.join(names)}")
        m &= np.array([lexicon.tempo_bin(e["tempo_bpm"]) == f["tempo_bin"] for e in ents])
    for prefix in f.get("exclude") or ():
        m &= np.array([not e["id"].startswith(prefix) for e in ents])
    return m


def _reference(e: dict[str, Any], score: float) -> Reference:
    return Reference(id=e["id"], similarity=round(score, 4), key_tonic=int(e["key_tonic"]), mode=e["mode"],
                     tempo_bpm=float(e["tempo_bpm"]), chords=list(e["chords_obj"]),
                     n_bars=int(e["n_bars"]), density_per_bar=list(e["density_per_bar"]),
                     text=e["text"])


# ------------------------------------------------------------------------------------------------
# sources
# ------------------------------------------------------------------------------------------------
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
