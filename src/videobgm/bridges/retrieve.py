"""[3b] Music bridge: a library of phrases, searched with a music description.

**Entries** are the phrases of songs, built by :mod:`videobgm.bridges.library` (:func:`~videobgm.bridges.library.build_index`).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.config import ASSETS_DIR
from videobgm.errors import InputError, OptionError
from videobgm.io import atomic_path
from videobgm.music import lexicon, theory
from videobgm.types import Chord, Description, Reference

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
def _entry_to_json(e: dict[str, Any]) -> dict[str, Any]:
    d = {k: v for k, v in e.items() if k != "chords_obj"}
    d["chords"] = [[c.onset_16th, c.root, c.quality] for c in e["chords_obj"]]
    return d


def _entry_from_json(d: dict[str, Any]) -> dict[str, Any]:
    e = dict(d)
    e["chords_obj"] = [Chord(int(a), int(b), str(q)) for a, b, q in d.get("chords", [])]
    return e


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

