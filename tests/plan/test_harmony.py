"""The planner's chords from the learned POP909 model (issue 18 part 1) with the mood/style
vocabulary (issue 19): cadences on the plan's form, the held tonic, chord changes on hit points,
the fallback, regeneration between neighbours, the bass reaching the arranger."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.plan.test_planner import make_features
from videobgm.compose.arrange import bass_notes
from videobgm.config import PlanConfig
from videobgm.errors import InputError
from videobgm.music.analysis import cadence_check, chord_changes
from videobgm.music.styles import MOOD_HARMONY, harmony_vocabulary
from videobgm.plan import chord_model as harmony
from videobgm.plan.harmony import harmony_layout, regenerate_chords
from videobgm.plan.plan_json import plan_to_dict
from videobgm.plan.planner import make_plan
from videobgm.types import Chord, Controls

CUTS = (1.3, 2.9, 4.1, 7.7, 9.0, 12.4, 13.1, 17.6, 21.2, 26.3, 31.0)


@pytest.fixture(scope="module")
def model():
    return harmony.load()


def _plan(seed: int = 0, mood: str | None = None, duration: float = 36.0, **kw):
    f = make_features(duration, cuts_s=tuple(c for c in CUTS if c < duration - 1), tempo_bpm=100.0)
    return make_plan(f, PlanConfig(mood=mood, **kw), seed=seed)


def _deg(c: Chord, tonic: int) -> int:
    return (c.root - tonic) % 12


def test_chords_come_from_the_model_one_or_two_per_bar() -> None:
    p = _plan()
    c = p.controls
    assert p.reasons["chords"].startswith("learned (pop909-ngram)")
    spb = c.steps_per_bar
    per_bar = np.bincount([x.onset_16th // spb for x in chord_changes(c.chords, c.n_bars * spb)],
                          minlength=c.n_bars)
    assert per_bar.max() <= 2 and per_bar.sum() > c.n_bars  # some bars change twice
    assert all(x.onset_16th % 4 == 0 for x in c.chords)  # chords change on beats


def test_cadences_on_the_form_and_the_held_tonic() -> None:
    for seed in range(3):
        p = _plan(seed)
        c = p.controls
        spb, tonic = c.steps_per_bar, c.key_tonic
        _, _, cad = harmony_layout(p.sections, c.n_bars)
        assert c.ending_bar == c.n_bars - 1 and cad[c.ending_bar] == "authentic"
        assert {p.sections[-1].end_bar - 1} <= set(cad)
        met = cadence_check(c.chords, n_bars=c.n_bars, steps_per_bar=spb, tonic=tonic, bars=cad)
        assert met["authentic"][0] == met["authentic"][1] >= 1
        assert met["half"][0] == met["half"][1]
        # the final held tonic: the last chord, from the ending bar's downbeat, after V
        last, before = c.chords[-1], c.chords[-2]
        assert last.onset_16th == c.ending_bar * spb
        assert (_deg(last, tonic), last.quality) == (0, "maj" if c.mode == "major" else "min")
        assert _deg(before, tonic) == 7
        assert "authentic" in p.reasons["ending"] and "held" in p.reasons["ending"]


def test_hit_points_get_a_chord_change_where_the_harmony_allows() -> None:
    p = _plan()
    c = p.controls
    spb = c.steps_per_bar
    _, _, cad = harmony_layout(p.sections, c.n_bars)
    onsets = {x.onset_16th for x in c.chords}
    free = [k for k, kind in c.hits if not kind.startswith("section") and k % 4 == 0
            and k // spb not in cad and k // spb + 1 < c.ending_bar]
    assert free, "the layout should leave hit points in free bars"
    assert all(k in onsets for k in free)
    assert all(kind.endswith("+chord") for k, kind in c.hits if k in free and k % spb)


def test_seeded_and_deterministic() -> None:
    a, b, other = _plan(1), _plan(1), _plan(2)
    assert a.controls.chords == b.controls.chords
    assert a.controls.chords != other.controls.chords


def test_fallback_when_the_asset_is_missing(monkeypatch) -> None:
    def missing(path=None):
        raise InputError("cannot read harmony model /nowhere/harmony.json: missing")

    monkeypatch.setattr(harmony, "load", missing)
    p = _plan()
    c = p.controls
    assert p.reasons["chords"].startswith("hand tables (fallback, no harmony model: cannot read")
    assert all(x.bass == -1 for x in c.chords)
    assert _deg(c.chords[-1], c.key_tonic) == 0 and c.chords[-1].onset_16th == c.ending_bar * 16
    # regeneration leaves a plan without the learned chords as it is
    assert regenerate_chords(p, (2, 6), seed=5) is p


def test_regeneration_joins_its_neighbours(model) -> None:
    p = _plan()
    c = p.controls
    spb = c.steps_per_bar
    _, _, cad = harmony_layout(p.sections, c.n_bars)
    # a span ending just before an authentic cadence bar (kept): it must lead into it on V
    b = next(k for k, v in sorted(cad.items()) if v == "authentic" and k >= 4)
    a = b - 3
    q = regenerate_chords(p, (a, b), seed=11, model=model)
    old, new = c.chords, q.controls.chords
    assert [x for x in new if x.onset_16th < a * spb] == [x for x in old if x.onset_16th < a * spb]
    assert [x for x in new if x.onset_16th >= b * spb] == [x for x in old if x.onset_16th >= b * spb]
    inside = [x for x in new if a * spb <= x.onset_16th < b * spb]
    assert inside != [x for x in old if a * spb <= x.onset_16th < b * spb]
    assert _deg(inside[-1], c.key_tonic) == 7 and inside[-1].onset_16th >= (b - 1) * spb
    # every chord sounding at a bar line is the one the plan says (no gap at the joins)
    assert inside[0].onset_16th == a * spb
    assert regenerate_chords(p, (a, b), seed=11, model=model).controls.chords == new
    assert "re-sampled" in q.reasons["chords"]


def _colour(chords: list[Chord], tonic: int, mode: str) -> dict[str, int]:
    dia = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}[mode]
    return {
        "chromatic_dim_pedal": sum(_deg(x, tonic) not in dia or x.quality == "dim"
                                   or (x.bass == tonic and x.root != tonic) for x in chords),
        "sus_maj7": sum(x.quality in ("sus2", "sus4", "maj7") for x in chords),
        "n": len(chords),
    }


def test_tense_has_more_chromatic_diminished_and_pedal_content_than_calm() -> None:
    tense = {"chromatic_dim_pedal": 0, "sus_maj7": 0, "n": 0}
    calm = dict(tense)
    for seed in range(3):
        for mood, acc in (("tense", tense), ("calm", calm)):
            p = _plan(seed, mood=mood, mode="minor", key="D")
            for k, v in _colour(p.controls.chords, p.controls.key_tonic, "minor").items():
                acc[k] += v
            assert f"vocabulary {mood}" in p.reasons["chords"]
    assert tense["chromatic_dim_pedal"] > 3 * max(calm["chromatic_dim_pedal"], 1)
    assert calm["sus_maj7"] > 2 * max(tense["sus_maj7"], 1)


def test_vocabulary_tilts_the_sampler(model) -> None:
    secs = [(0, 8, "verse"), (8, 16, "chorus"), (16, 24, "verse"), (24, 32, "chorus")]
    kw = dict(beats_per_bar=4, mode="minor", tonic=2, sections=secs, fixed={31: (2, "min")})
    tense = MOOD_HARMONY["tense"]
    from videobgm.plan.chord_sampling import sample_progression

    p = sample_progression(model, 32, seed=0, **kw)
    t = sample_progression(model, 32, seed=0, vocabulary=tense, **kw)
    # a tonic pedal from each phrase's start up to the bar before its cadence
    for ch, bass in zip(t.chords, t.bass):
        bar = ch.onset_16th // 16
        if bar % 4 < 2:
            assert bass == 2
    assert sum(c.quality == "dim" or _deg(c, 2) == 1 for c in t.chords) > \
        sum(c.quality == "dim" or _deg(c, 2) == 1 for c in p.chords)
    # slower harmonic rhythm for calm than the untilted model, faster for playful (same layout,
    # seeds 0-2)
    rate = {}
    for mood in ("calm", "neutral", "playful"):
        v = harmony_vocabulary(mood, None)
        rate[mood] = np.mean([len(sample_progression(model, 32, seed=s, vocabulary=v, **kw).chords)
                              for s in range(3)])
    assert rate["calm"] < rate["neutral"] < rate["playful"]


def test_the_bass_reaches_the_plan_json_and_the_arranger() -> None:
    chords = [Chord(0, 0, "maj"), Chord(16, 7, "maj", bass=11), Chord(32, 0, "maj")]
    ctl = Controls(n_bars=3, beats_per_bar=4, density_per_bar=np.full(3, 12),
                   strength_per_beat=np.zeros(12, int), accent_steps=np.zeros(48, bool),
                   chords=chords, tracks=("piano", "bass"))
    notes = bass_notes(ctl)
    by_bar = {n.onset_16th // 16: n.pitch % 12 for n in notes if n.onset_16th % 16 == 0}
    assert by_bar == {0: 0, 1: 11, 2: 0}
    p = _plan(0, mood="tense", mode="minor")
    d = plan_to_dict(p)["controls"]["chords"]
    assert any("bass" in x for x in d)
    assert all(x.get("bass", x["root"]) == (c.bass if c.bass >= 0 else c.root)
               for x, c in zip(d, p.controls.chords))
    # a plain chord keeps its old equality (no bass)
    assert dataclasses.replace(chords[0]) == Chord(0, 0, "maj")


def test_pipeline_regenerate_resamples_the_chords_of_the_bars(tmp_path) -> None:
    from videobgm.config import PipelineConfig
    from videobgm.pipeline import Pipeline
    from videobgm.types import Result

    pipe = Pipeline(PipelineConfig.preset("tiny"), untrained=True)
    f = make_features(20.0, cuts_s=(4.1, 9.0, 13.1), tempo_bpm=100.0)
    plan = pipe.plan(f)
    res = Result(features=f, plan=plan, score=pipe.compose(plan))
    spb = plan.controls.steps_per_bar
    a, b = 1, 3
    new = pipe.regenerate(res, bars=(a, b), seed=5, plan_json=tmp_path / "plan.json")
    old_c, new_c = plan.controls.chords, new.plan.controls.chords
    assert [x for x in new_c if x.onset_16th < a * spb] == [x for x in old_c if x.onset_16th < a * spb]
    assert [x for x in new_c if x.onset_16th >= b * spb] == [x for x in old_c if x.onset_16th >= b * spb]
    assert ([x for x in new_c if a * spb <= x.onset_16th < b * spb]
            != [x for x in old_c if a * spb <= x.onset_16th < b * spb])
    assert "re-sampled" in new.plan.reasons["chords"]
    assert (tmp_path / "plan.json").exists()
    # every note outside the bars is kept
    keep = {(n.onset_16th, n.track, n.pitch) for n in res.score.notes
            if not a * spb <= n.onset_16th < b * spb}
    assert keep <= {(n.onset_16th, n.track, n.pitch) for n in new.score.notes}


def test_section_end_cadences_agree_with_the_motif_form() -> None:
    # the melody's form (music.motif.section_cadences) restates an ending where the harmony puts
    # the same cadence: both read the sections alike (a period closes at 8 bars or a strong cut)
    from videobgm.music.motif import section_cadences
    from videobgm.types import Section

    secs = [Section(0, 6, "intro", 0.0, 12.0), Section(6, 10, "verse", 12.0, 20.0),
            Section(10, 14, "verse", 20.0, 28.0, reason="strong cut at 20 s"),
            Section(14, 18, "chorus", 28.0, 36.0), Section(18, 20, "outro", 36.0, 40.0)]
    _, _, cad = harmony_layout(secs, 20)
    ends = section_cadences(secs, 20)
    assert ends == {5: "half", 9: "authentic", 13: "half", 17: "authentic", 19: "authentic"}
    assert {b: cad[b] for b in ends} == ends
