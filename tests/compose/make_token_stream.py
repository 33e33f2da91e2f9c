"""Write tests/compose/data/token_stream.npz: the sampler's full token stream and notes for fixed cases.

Provenance: written by the sampler as it stood before the decoder was re-built in parts (issue 15,
branch i15d, parent commit e3224d0: one ~640-line ``generate()``); tests/compose/test_token_stream.py
asserts that the sampler still produces exactly these streams. Rewrite the file only for an
intended change of the sampler's behaviour (and say so in the commit):

    PYTHONPATH=src python -m tests.compose.make_token_stream

The cases use an untrained ``tiny`` model (``build_untrained(..., seed=0)``) on one torch thread:
three seeds of a plain 6-bar request with off-beat accents, section regeneration
(``keep`` + ``regenerate_bars``), phrase ends with breath bars, a melodic form (``motif``) with
melody bars, the full band (rule bass/drums, hits, a fill), rests that ring, arranged piano and
the unconstrained mode.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).parent / "data" / "token_stream.npz"
PROG = [(0, "maj"), (9, "min"), (5, "maj"), (7, "7")]


class RecordingTokenizer:
    """A tokenizer that remembers the token array the sampler decodes last."""

    def __init__(self, tok: Any) -> None:
        self.tok = tok
        self.last: np.ndarray | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tok, name)

    def decode(self, tokens: np.ndarray, **kw: Any) -> Any:
        self.last = np.array(tokens, dtype=np.int64, copy=True)
        return self.tok.decode(tokens, **kw)


def reference(n_bars: int) -> Any:
    """A plain song: melody on 8ths (+ extra 16ths growing per bar), piano triads on beats 1 and 3."""
    from videobgm.compose.constraints import CHORD_INTERVALS
    from videobgm.types import Chord, Note, Score

    notes, chords = [], []
    for b in range(n_bars):
        root, q = PROG[b % 4]
        chords.append(Chord(b * 16, root, q))
        for s in range(0, 16, 2):
            notes.append(Note(b * 16 + s, "melody", 72 + (s // 2) % 5, 2, 80))
        for s in range(1, 2 + 2 * min(b % 6, 6), 2):
            notes.append(Note(b * 16 + s, "melody", 79, 1, 70))
        for s in (0, 8):
            for i in CHORD_INTERVALS[q]:
                notes.append(Note(b * 16 + s, "piano", 48 + root + i, 8, 64))
    notes.sort(key=lambda n: (n.onset_16th, n.track, n.pitch))
    return Score(notes=notes, n_bars=n_bars, chords=chords, key_tonic=0, mode="major", tempo_bpm=100.0)


def _controls(n_bars: int, accents: tuple[int, ...]) -> Any:
    from videobgm.compose.score_controls import controls_from_score

    c = controls_from_score(reference(n_bars))
    c.accent_steps = np.zeros_like(c.accent_steps)
    c.accent_steps[list(accents)] = True
    return c


def cases() -> list[tuple[str, dict[str, Any]]]:
    """(name, keyword arguments of ``generate`` besides model/tokenizer; ``keep_case`` names the
    case whose Score is ``keep``)."""
    from videobgm.config import SampleConfig
    from videobgm.types import Chord

    c6 = _controls(6, (3, 21, 40, 90))
    c8 = _controls(8, (3, 40, 70, 100))
    from videobgm.compose.score_controls import controls_from_score
    from videobgm.types import Note, Score

    ring = [Note(s, "piano", 60 + i, 2, 64) for s in (0, 4, 8) for i in (0, 4, 7)]
    ring += [Note(48 + s, "piano", 60, 2, 64) for s in (0, 4, 8, 12)]
    rest = controls_from_score(Score(notes=ring, n_bars=4, chords=[Chord(0, 0, "maj"), Chord(16, -1, "N"),
                                                                   Chord(48, 7, "maj")]))
    bar0 = [n for n in reference(4).notes if n.onset_16th < 16]
    chords = [Chord(16 * b, *PROG[b % 4]) for b in range(8)]
    chords.insert(6, Chord(16 * 5 + 12, 2, "min"))  # bar 5, last beat: Dm instead of Am
    similar = controls_from_score(Score(notes=[dataclasses.replace(n, onset_16th=n.onset_16th + 16 * b)
                                               for b in range(8) for n in bar0], n_bars=8, chords=chords))
    similar.accent_steps[:] = False
    band = dataclasses.replace(c8, tracks=("melody", "bridge", "piano", "bass", "drums"), hits=((40, "crash"), (70, "stab")),
                               fill_bars=(3,), melody_bars=np.array([1, 1, 0, 1, 1, 1, 1, 0], bool), ending_bar=7)
    arranged = dataclasses.replace(c8, tracks=("melody", "bridge", "bass"), arranged=("piano",), style="pop", seed=3,
                                   melody_bars=np.ones(8, bool))
    return [
        ("seed1", dict(controls=c6, cfg=SampleConfig(seed=1))),
        ("seed2", dict(controls=c6, cfg=SampleConfig(seed=2))),
        ("seed3", dict(controls=c6, cfg=SampleConfig(seed=3))),
        ("regen", dict(controls=c6, cfg=SampleConfig(seed=7), keep_case="seed1", regenerate_bars=(2, 4))),
        ("phrase", dict(controls=c8, cfg=SampleConfig(seed=4), phrase_ends=(3, 7), breath_bars=(3, 5))),
        ("motif", dict(controls=dataclasses.replace(c8, melody_bars=np.array([1, 1, 1, 1, 1, 0, 1, 1], bool)),
                       cfg=SampleConfig(seed=5, repeat_periods=(4,)), motif={2: 0, 3: 1, 6: 0, 7: 3},
                       phrase_ends=(3, 7))),
        ("band", dict(controls=band, cfg=SampleConfig(seed=6, melody_chord_bias=2.0, max_offbeat_onsets=2),
                      phrase_ends=(3, 7), breath_bars=(5,))),
        ("band_regen", dict(controls=band, cfg=SampleConfig(seed=8), keep_case="band", regenerate_bars=(4, 8))),
        ("arranged", dict(controls=arranged, cfg=SampleConfig(seed=9, melody_voicing_bias=1.0,
                                                               melody_chord_tones_on_beats=True))),
        ("rest", dict(controls=rest, cfg=SampleConfig(seed=10))),
        ("similar", dict(controls=similar, cfg=SampleConfig(seed=0, repeat_periods=(4,), melody_chord_bias=2.0))),
        ("similar2", dict(controls=similar, cfg=SampleConfig(seed=3, repeat_periods=(4,)))),
        ("free", dict(controls=c6, cfg=SampleConfig(seed=11, constrained=False, max_tokens_per_bar=40))),
    ]


def notes_array(score: Any) -> np.ndarray:
    """(n, 5) int64: onset_16th, track index, pitch, duration_16th, velocity."""
    from videobgm.types import TRACKS

    return np.array([[n.onset_16th, TRACKS.index(n.track), n.pitch, n.duration_16th, n.velocity]
                     for n in score.notes], dtype=np.int64).reshape(-1, 5)


def run_all() -> dict[str, np.ndarray]:
    """Every case's token array (``<name>_tokens``) and notes (``<name>_notes``)."""
    import torch

    from videobgm.compose.checkpoint import build_untrained
    from videobgm.compose.sampler import generate
    from videobgm.compose.tokens import Tokenizer
    from videobgm.config import ModelConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tok = Tokenizer()
        model = build_untrained(ModelConfig.preset("tiny"), tok, seed=0)
        scores: dict[str, Any] = {}
        out: dict[str, np.ndarray] = {}
        for name, kw in cases():
            kw = dict(kw)
            keep = kw.pop("keep_case", None)
            rec = RecordingTokenizer(tok)
            score = generate(kw.pop("controls"), model, rec, kw.pop("cfg"),
                             keep=scores[keep] if keep else None, **kw)
            scores[name] = score
            out[f"{name}_tokens"] = rec.last
            out[f"{name}_notes"] = notes_array(score)
        return out
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    arrays = run_all()
    DATA.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(DATA, **arrays)
    for k, v in arrays.items():
        print(k, v.shape)
