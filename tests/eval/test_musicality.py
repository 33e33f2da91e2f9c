"""Issue 18: the musicality statistics on hand-built scores with known answers, the melody levers of
the sampler (non-chord tones resolve by step, phrase ends breathe, no bar-end splats) and the
dynamics stage, with an untrained ``tiny`` model."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest

from videobgm.eval import musicality as M
from videobgm.types import Chord, Note, Score

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def _score(notes, n_bars=2, chords=None, key=0):
    return Score(notes=sorted(notes, key=lambda n: (n.onset_16th, n.track, n.pitch)), n_bars=n_bars,
                 chords=chords if chords is not None else [Chord(0, 0, "maj")], key_tonic=key, mode="major")


def _scale():
    return _score([Note(4 * i, "melody", p, 4, 80) for i, p in enumerate(C_MAJOR)])


def test_scale_is_all_steps_in_one_key():
    s = M.stats(_scale())
    assert s["stepwise"] == 1.0 and s["repeated"] == 0.0
    assert s["out_of_scale"] == 0.0
    # over C major: C E G C5 are chord tones (4 of 8 notes, 4 16ths each)
    assert s["chord_tone_time"] == pytest.approx(0.5)
    # onsets on beats 1 and 3: C (0), E (8), G (16), B (24): B is the one non-chord tone
    assert s["nct_strong"] == pytest.approx(0.25)
    # non-chord tones D F A B: D->E, F->G, B->C5 resolve by step to a chord tone; A->B does not
    assert s["nct_resolved"] == pytest.approx(0.75)
    assert s["empty_beats"] == 0.0 and s["bar_end_splat"] == 0.0
    assert s["velocity_top_bin"] == 1.0
    assert s["chord_changes_per_bar"] == 0.0 and s["tonic_bars"] == 1.0 and s["distinct_chords"] == 1.0


def test_repeated_notes_motif_and_leaps():
    rep = M.stats(_score([Note(4 * i, "melody", 67, 4, 80) for i in range(8)]))
    assert rep["repeated"] == 1.0 and rep["stepwise"] == 0.0
    # a 4-note figure stated and sequenced a fourth higher: the longest repeated motif is 4 notes
    fig = [60, 62, 64, 60, 65, 67, 69, 65]
    mot = M.stats(_score([Note(4 * i, "melody", p, 4, 80) for i, p in enumerate(fig)]))
    assert mot["motif"] == 4.0
    arp = M.stats(_score([Note(4 * i, "melody", p, 4, 80) for i, p in enumerate([60, 64, 67, 72, 67, 64, 60, 55])]))
    assert arp["stepwise"] == 0.0 and arp["chord_tone_time"] == 1.0
    assert rep["melody_overlap"] == 0.0
    # 8 quarter-note onsets, the 1st and 5th held for a half note: 2 of the 7 pairs overlap
    held = M.stats(_score([Note(4 * i, "melody", p, 8 if i in (0, 4) else 4, 80) for i, p in enumerate(C_MAJOR)]))
    assert held["melody_overlap"] == pytest.approx(2 / 7)


def test_splats_clashes_empty_beats_and_harmony():
    notes = [Note(0, "melody", 64, 4, 80), Note(0, "piano", 53, 4, 60)]  # E over F: a semitone clash
    notes += [Note(15, "piano", p, 1, 60) for p in (48, 52, 55, 60, 64)]  # 5 notes on the last 16th
    chords = [Chord(0, 0, "maj"), Chord(8, 5, "maj"), Chord(16, 7, "7"), Chord(24, 0, "maj")]
    s = M.stats(_score(notes, chords=chords))
    assert s["bar_end_splat"] == pytest.approx(5 / 7)
    assert s["bar_end_splat_chords"] == 1.0  # the one 5-note chord is on the last 16th
    assert s["semitone_clash"] == pytest.approx(4 / 5)  # sounding 16ths 0-3 and 15: 0-3 clash
    assert s["empty_beats"] == pytest.approx(6 / 8)  # beats 1 and 4 of bar 0 sound
    assert s["chord_changes_per_bar"] == 1.5 and s["tonic_bars"] == 0.5 and s["distinct_chords"] == 3.0


def test_energy_velocity_correlation():
    notes = [Note(16 * b + s, "melody", 60 + s % 5, 2, 40 + 20 * b) for b in range(4) for s in range(0, 16, 4)]
    sc = _score(notes, n_bars=4)
    assert M.stats(sc, bar_energy=np.array([0.1, 0.3, 0.5, 0.9]))["energy_velocity_r"] > 0.95
    assert np.isnan(M.stats(sc, bar_energy=np.full(4, 0.5))["energy_velocity_r"])
    assert np.isnan(M.stats(sc)["energy_velocity_r"])


def test_melody_tessitura_and_energy_register_correlation():
    # bar b's melody: four notes at 60 + 4b; energies rise with the bars
    notes = [Note(16 * b + s, "melody", 60 + 4 * b, 4, 80) for b in range(4) for s in range(0, 16, 4)]
    notes.append(Note(0, "piano", 40, 16, 80))  # other tracks do not count
    st = M.stats(_score(notes, n_bars=4), bar_energy=np.array([0.1, 0.3, 0.5, 0.9]))
    assert st["melody_pitch"] == pytest.approx(66.0)
    assert st["melody_high"] == pytest.approx(np.percentile(np.repeat([60, 64, 68, 72], 4), 95))
    assert st["energy_register_r"] == pytest.approx(np.corrcoef([0.1, 0.3, 0.5, 0.9], [60, 64, 68, 72])[0, 1])
    falling = M.stats(_score(notes, n_bars=4), bar_energy=np.array([0.9, 0.5, 0.3, 0.1]))
    assert falling["energy_register_r"] < -0.9


def test_chord_adherence_counts_strong_beats_and_downbeat_root():
    notes = [Note(0, "melody", 62, 8, 80), Note(0, "piano", 48, 16, 60), Note(8, "melody", 64, 8, 80),
             Note(16, "piano", 52, 16, 60), Note(24, "melody", 65, 8, 80)]
    a = M.chord_adherence(_score(notes))
    assert a["strong_beat_tones"] == pytest.approx(3 / 5)  # D and F are not tones of C
    assert a["downbeat_root"] == pytest.approx(0.5)  # bar 1's lowest downbeat note is E


# ------------------------------------------------------------------ sampler and dynamics
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny():
    from videobgm.compose.checkpoint import build_untrained
    from videobgm.compose.tokens import Tokenizer
    from videobgm.config import ModelConfig

    torch.set_num_threads(1)
    tok = Tokenizer()
    return build_untrained(ModelConfig.preset("tiny"), tok, seed=0), tok


def _controls(n_bars=8, density=10):
    from videobgm.types import Controls

    prog = [(0, "maj"), (9, "min"), (5, "maj"), (7, "7")]
    return Controls(n_bars=n_bars, beats_per_bar=4, density_per_bar=np.full(n_bars, density),
                    strength_per_beat=np.tile([2, 1, 2, 1], n_bars), accent_steps=np.zeros(n_bars * 16, dtype=bool),
                    chords=[Chord(16 * b, *prog[b % 4]) for b in range(n_bars)], key_tonic=0, mode="major",
                    tracks=("melody", "piano"), melody_bars=np.ones(n_bars, dtype=bool))


def test_melody_non_chord_tones_resolve_by_step(tiny):
    from videobgm.compose.sampler import generate
    from videobgm.config import SampleConfig

    model, tok = tiny

    def resolutions(sc):
        """(non-chord tones, resolved): the last melody note of an onset against the first of the
        next (the untrained model also writes melody dyads; the sampler resolves from the last)."""
        ch = M.chord_at_steps(sc, sc.n_steps)
        by: dict[int, list[int]] = {}
        for n in sc.notes:
            if n.track == "melody":
                by.setdefault(n.onset_16th, []).append(n.pitch)
        steps = sorted(by)
        nct = ok = 0
        for a, b in zip(steps, steps[1:]):
            p, q = by[a][-1], by[b][0]
            if p % 12 not in M.chord_pcs(*ch[a]):
                nct += 1
                ok += 1 <= abs(q - p) <= 2 and q % 12 in M.chord_pcs(*ch[b])
        return nct, ok

    cfg = SampleConfig(seed=3, repeat_prob=0.0, melody_resolve_bias=30.0)
    sc = generate(_controls(), model, tok, cfg)
    nct, ok = resolutions(sc)
    assert nct >= 3 and ok == nct  # the chord conditions the melody, it does not mask it
    assert M.stats(sc)["nct_strong"] > 0.0
    nct, ok = resolutions(generate(_controls(), model, tok, cfg.replace(melody_resolve_bias=0.0, melody_step_bias=0.0)))
    assert ok < nct


def test_no_bar_end_splats_and_phrase_ends_breathe(tiny):
    from videobgm.compose.sampler import generate
    from videobgm.config import SampleConfig

    model, tok = tiny
    import dataclasses

    ctl = _controls(n_bars=4, density=40)  # more onsets than a bar's beats hold
    # a chord change on each bar's last 16th: the rule bass plays there too, and counts
    chords = sorted(ctl.chords + [Chord(16 * b + 15, 7, "7") for b in range(4)], key=lambda c: c.onset_16th)
    ctl = dataclasses.replace(ctl, chords=chords, tracks=("melody", "piano", "bass"))
    for seed in range(3):
        sc = generate(ctl, model, tok, SampleConfig(seed=seed))
        per_step: dict[int, int] = {}
        for n in sc.notes:
            per_step[n.onset_16th] = per_step.get(n.onset_16th, 0) + 1
        assert any(n.track == "bass" and n.onset_16th % 16 == 15 for n in sc.notes)
        assert max(c for st, c in per_step.items() if st % 4) <= SampleConfig().max_offbeat_onsets
    sc = generate(_controls(), model, tok, SampleConfig(seed=1), phrase_ends=(3, 7))
    for b in (3, 7):
        late = [n for n in sc.notes if n.track == "melody" and 16 * b + 8 <= n.onset_16th < 16 * b + 16]
        assert len(late) <= 1  # one last (long) note, then the melody rests
        assert all(n.onset_16th + n.duration_16th <= 16 * (b + 1) for n in late)
        if late and 16 * (b + 1) - late[0].onset_16th >= 4:
            assert late[0].duration_16th >= 4


def test_section_breath_leaves_the_last_beat_silent(tiny):
    import dataclasses

    from videobgm.compose.sampler import generate
    from videobgm.config import SampleConfig
    from videobgm.eval.symbolic import empty_beat_rate

    model, tok = tiny
    ctl = dataclasses.replace(_controls(n_bars=6), tracks=("melody", "piano", "bass", "drums"))
    for seed in range(2):
        sc = generate(ctl, model, tok, SampleConfig(seed=seed), breath_bars=(2,))
        # nothing sounds from the 16th before bar 2's last beat to the next bar line
        assert not [n for n in sc.notes if n.onset_16th < 48 and n.onset_16th + n.duration_16th > 16 * 2 + 11]
        assert any(n.onset_16th == 48 for n in sc.notes)  # the next section starts on time
        assert empty_beat_rate(sc, convention="papers") > 0  # empty by muspy's convention too
        plain = generate(ctl, model, tok, SampleConfig(seed=seed))
        assert [n for n in plain.notes if 16 * 2 + 12 <= n.onset_16th < 48]  # without it: notes there


def test_same_seed_same_midi(tiny):
    from videobgm.compose.dynamics import shape
    from videobgm.compose.sampler import generate
    from videobgm.config import SampleConfig
    from videobgm.music.midi import score_to_midi

    model, tok = tiny
    secs = [SimpleNamespace(start_bar=0, end_bar=4, energy=0.3), SimpleNamespace(start_bar=4, end_bar=8, energy=0.7)]

    def midi(seed):
        sc = shape(generate(_controls(), model, tok, SampleConfig(seed=seed), phrase_ends=(3,)), secs)
        buf = io.BytesIO()
        score_to_midi(sc).write(buf)
        return buf.getvalue()

    assert midi(5) == midi(5)
    assert midi(5) != midi(6)
