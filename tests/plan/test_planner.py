"""plan.py on hand-built Features with known motion, beats, cuts and colours (no video decoding)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from videobgm.config import PlanConfig
from videobgm.errors import InputError, OptionError
from videobgm.music.theory import parse_key
from videobgm.plan.controls import INSTRUMENTS
from videobgm.plan.grid import fold_tempo
from videobgm.plan.plan_json import plan_to_dict
from videobgm.plan.planner import make_plan
from videobgm.types import Chord, Description, Features, Reference, VideoInfo, step_times_from_beats


def make_features(
    duration_s: float = 12.0,
    *,
    fps: float = 15.0,
    tempo_bpm: float = float("nan"),
    beats_s: np.ndarray | None = None,
    beat_strength: np.ndarray | None = None,
    cuts_s: tuple[float, ...] = (),
    speed=None,  # callable t -> px/s, or None for a constant 10 px/s
    brightness: float = 0.5,
    saturation: float = 0.3,
    warmth: float = 0.0,
    hue_bin: int | None = None,
) -> Features:
    t = np.arange(0.0, duration_s, 1.0 / fps)
    sp = np.full_like(t, 10.0) if speed is None else np.asarray(speed(t), dtype=float)
    beats = np.zeros(0) if beats_s is None else np.asarray(beats_s, dtype=float)
    strength = np.ones(beats.size) if beat_strength is None else np.asarray(beat_strength, float)
    sal = np.zeros_like(t)
    for b, s in zip(beats, strength):
        sal[int(np.argmin(np.abs(t - b)))] = 5.0 * s
    hist = np.zeros((t.size, 12))
    if hue_bin is not None:
        hist[:, hue_bin] = 1.0
    return Features(
        video=VideoInfo(path="synthetic.mp4", duration_s=duration_s, fps=30.0, width=320, height=240),
        frame_times_s=t, motion_speed=sp, saliency=sal, visual_beat_times_s=beats,
        visual_beat_strength=strength, tempo_bpm=tempo_bpm,
        tempo_confidence=0.0 if np.isnan(tempo_bpm) else 0.8, cut_times_s=np.asarray(cuts_s, float),
        brightness=np.full_like(t, brightness), saturation=np.full_like(t, saturation),
        warmth=np.full_like(t, warmth), hue_hist=hist,
    )


# the synthetic clip reads as ambient (little motion, muted colour), whose tempo range (56-90 bpm)
# the description now fits the video's tempo into (issue 19): tests of tempo folding and
# accents at a given tempo name a style whose range holds that tempo
POP = "pop"


@pytest.mark.parametrize("duration", [1.3, 7.3, 12.0, 33.3, 61.7])
@pytest.mark.parametrize("tempo", [float("nan"), 57.0, 120.0, 173.0])
def test_grid_starts_at_zero_and_ends_with_the_video(duration: float, tempo: float) -> None:
    f = make_features(duration, tempo_bpm=tempo, cuts_s=tuple(np.arange(4.3, duration - 1, 6.1)))
    plan = make_plan(f, PlanConfig())
    bt = plan.beat_times_s
    assert bt[0] == 0.0
    assert np.all(np.diff(bt) > 0)
    assert bt.size == plan.n_bars * plan.beats_per_bar + 1
    if duration > 2:
        # the grid covers the video: it ends with it, or its last bar (the held final tonic,
        # struck >= 1 beat before the end) rings past the end and the renderer trims it (issue 17)
        assert bt[-1] >= duration - 0.05
        assert bt[-plan.beats_per_bar - 1] <= duration - (bt[-1] - bt[-2]) + 1e-6
    else:  # shorter than a bar: one bar that runs past the end (trimmed later)
        assert bt[-1] >= duration - 0.05
    lo, hi = 20.0, 300.0
    assert lo <= plan.tempo_bpm <= hi
    c = plan.controls
    assert c.density_per_bar.shape == (plan.n_bars,)
    assert c.strength_per_beat.shape == (plan.n_bars * 4,)
    assert c.accent_steps.shape == (plan.n_bars * 16,)
    assert [s.start_bar for s in plan.sections][0] == 0 and plan.sections[-1].end_bar == plan.n_bars
    for s, nxt in zip(plan.sections, plan.sections[1:]):
        assert s.end_bar == nxt.start_bar and s.end_bar > s.start_bar


def test_visual_tempo_is_folded_into_range() -> None:
    assert fold_tempo(30.0, 70, 140) == (120.0, 4.0)
    assert fold_tempo(250.0, 70, 140) == (125.0, 0.5)
    f = make_features(16.0, tempo_bpm=60.0)  # folded x2 -> 120, 8 bars fit exactly
    plan = make_plan(f, PlanConfig(style=POP, mood="happy"))
    assert plan.tempo_bpm == pytest.approx(120.0, abs=0.5)
    assert "folded x2" in plan.reasons["tempo"]


@pytest.mark.parametrize("tempo", [float("nan"), 120.0, 96.0])
def test_every_cut_gets_a_hit_point_or_a_section_within_70ms(tempo: float) -> None:
    # issue 17: a section no longer starts at every cut; every cut gets its own event instead
    cuts = (4.1, 9.7, 15.2, 21.0)
    f = make_features(26.0, tempo_bpm=tempo, cuts_s=cuts)
    plan = make_plan(f, PlanConfig())
    steps = step_times_from_beats(plan.beat_times_s)
    for c, rec in zip(cuts, plan.cuts):
        assert rec["role"] in ("section", "hit") and abs(steps[rec["step"]] - c) <= 0.07, rec
        assert plan.controls.accent_steps[rec["step"]]
    assert min(s.end_bar - s.start_bar for s in plan.sections) >= 4


def test_cut_video_layout_nine_seconds() -> None:
    """The conftest cut video: 9 s with cuts at 3 and 6 s and no periodic motion: a short piece
    (sections of >= 2 bars), both cuts are hit points within 70 ms."""
    plan = make_plan(make_features(9.0, cuts_s=(3.0, 6.0)), PlanConfig())
    steps = step_times_from_beats(plan.beat_times_s)
    assert [abs(steps[c["step"]] - c["time_s"]) <= 0.07 for c in plan.cuts] == [True, True]
    assert min(s.end_bar - s.start_bar for s in plan.sections) >= 2
    assert 70 <= plan.tempo_bpm <= 140


def test_colour_sets_mode_and_tonic() -> None:
    bright = make_plan(make_features(brightness=0.8, warmth=0.5, saturation=0.6, hue_bin=0), PlanConfig())
    dark = make_plan(make_features(brightness=0.15, warmth=-0.5, saturation=0.2, hue_bin=8), PlanConfig())
    assert bright.controls.mode == "major" and dark.controls.mode == "minor"
    assert bright.controls.key_tonic == 0  # red -> C
    assert dark.controls.key_tonic == (7 * 8) % 12  # blue -> G#
    assert "major" in bright.reasons["mode"] and "dark" in dark.reasons["mode"] and "cold" in dark.reasons["mode"]
    # last bar resolves to the tonic chord
    last = bright.controls.chords[-1]
    assert (last.root, last.quality) == (0, "maj")
    last = dark.controls.chords[-1]
    assert (last.root, last.quality) == (8, "min")


def test_overrides_and_priority() -> None:
    f = make_features(20.0, tempo_bpm=120.0, brightness=0.8, warmth=0.5, hue_bin=2)
    cfg = PlanConfig(tempo_bpm=90.0, key="Bb", mode="minor", mood="tense", style="electronic",
                     instruments=("strings", "bass", "drums"), density_scale=0.5)
    plan = make_plan(f, cfg)
    assert abs(plan.tempo_bpm - 90.0) / 90.0 < 0.1
    assert plan.controls.key_tonic == 10 and plan.controls.mode == "minor"
    assert plan.mood == "tense" and plan.style == "electronic"
    assert plan.programs["melody"] == INSTRUMENTS["strings"] and plan.programs["bass"] == INSTRUMENTS["bass"]
    assert "drums" in plan.controls.tracks
    assert all("user option" in plan.reasons[k] for k in ("key", "mode", "mood", "style"))
    # description overrides the video, cfg overrides the description
    desc = Description(mood="sad", tempo_bpm=75.0, key="D", style="acoustic", source="text")
    p2 = make_plan(f, PlanConfig(), description=desc)
    assert p2.mood == "sad" and p2.controls.mode == "minor" and p2.controls.key_tonic == 2
    assert p2.style == "acoustic" and abs(p2.tempo_bpm - 75) / 75 < 0.1
    p3 = make_plan(f, PlanConfig(key="E"), description=desc)
    assert p3.controls.key_tonic == 4


def test_reference_supplies_chords() -> None:
    ref = Reference(id="pop909:001:0", similarity=0.9, key_tonic=2, mode="major", tempo_bpm=100.0,
                    chords=[Chord(0, 2, "maj"), Chord(16, 7, "maj"), Chord(32, 11, "min"),
                            Chord(48, 9, "maj")], n_bars=4, density_per_bar=[20, 20, 20, 20])
    f = make_features(16.0, tempo_bpm=120.0, hue_bin=0, brightness=0.8)  # C major from colour
    plan = make_plan(f, PlanConfig(style=POP, mood="happy", key="C"), references=[ref])
    roots = [c.root for c in plan.controls.chords[:4]]
    assert roots == [0, 5, 9, 7]  # D G Bm A transposed to C: C F Am G
    assert "reference" in plan.reasons["chords"]
    # a major reference in an A minor plan: D major's scale lands on C major, A minor's relative
    # major: D G Bm A -> C F Am G, all diatonic to A minor
    minor = make_plan(f, PlanConfig(style=POP, mood="happy", key="A", mode="minor"), references=[ref])
    assert [(c.root, c.quality) for c in minor.controls.chords[:4]] == [(0, "maj"), (5, "maj"), (9, "min"), (7, "maj")]


def test_deterministic_and_json() -> None:
    f = make_features(20.0, tempo_bpm=100.0, cuts_s=(7.0, 13.0), hue_bin=3,
                      beats_s=np.arange(0.3, 20, 0.6))
    a = plan_to_dict(make_plan(f, PlanConfig(), seed=5))
    b = plan_to_dict(make_plan(f, PlanConfig(), seed=5))
    assert json.dumps(a) == json.dumps(b)
    assert set(a["reasons"]) >= {"tempo", "grid", "sections", "density", "strength", "accents",
                                 "key", "mode", "mood", "style", "instruments", "chords"}
    assert a["beat_times_s"][0] == 0.0


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"tempo_bpm": -5.0}, "between 20 and 300"),
        ({"tempo_bpm": 5000.0}, "between 20 and 300"),
        ({"key": "H"}, "accepted: C"),
        ({"mode": "dorian"}, "accepted: major, minor"),
        ({"mood": "angry"}, "accepted: neutral"),
        ({"style": "polka"}, "accepted: pop"),
        ({"instruments": ("piano", "kazoo")}, "accepted: piano"),
        ({"density_scale": 0.0}, "density scale"),
        ({"melody_intro_bars": -1}, "melody intro bars"),
    ],
)
def test_bad_options_are_one_line_errors(kw: dict, needle: str) -> None:
    with pytest.raises(OptionError) as e:
        make_plan(make_features(), PlanConfig(**kw))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_key_names_and_zero_duration() -> None:
    assert [parse_key(k) for k in ("C", "c#", "Db", "F#", "Bb", "B")] == [0, 1, 1, 6, 10, 11]
    f = make_features(4.0)
    f.video = VideoInfo(path="x", duration_s=0.0, fps=30.0, width=2, height=2)
    with pytest.raises(InputError):
        make_plan(f, PlanConfig())


def test_slow_visual_tempo_with_strong_beats_stays_at_the_description_tempo() -> None:
    # issue 17: no double time outside the mood's range; the hit points bend the grid instead
    beats = np.arange(0.4, 24.0, 0.75)  # 80 bpm pulse
    f = make_features(24.0, tempo_bpm=80.0, beats_s=beats)
    for desc in (None, Description(tempo_bpm=80.0, source="video")):
        plan = make_plan(f, PlanConfig(), description=desc)
        assert 72 <= plan.tempo_bpm <= 88, plan.reasons["tempo"]
    assert "80" in make_plan(f, PlanConfig()).reasons["tempo"]


def test_description_tempo_fixes_or_suggests_the_tempo() -> None:
    beats = np.arange(0.4, 24.0, 0.75)
    f = make_features(24.0, tempo_bpm=80.0, beats_s=beats)
    user = make_plan(f, PlanConfig(style=POP, mood="happy"), description=Description(tempo_bpm=110.0, source="text"))
    assert abs(user.tempo_bpm / 110.0 - 1) <= 0.03
    video = make_plan(f, PlanConfig(style=POP, mood="happy"), description=Description(tempo_bpm=110.0, source="video"))
    assert abs(video.tempo_bpm / 110.0 - 1) <= 0.10
    assert "description's tempo 110" in video.reasons["tempo"]


@pytest.mark.parametrize("user_tempo", [72.0, 96.0, 128.0])
def test_user_tempo_is_kept(user_tempo: float) -> None:
    # cuts at awkward times: a tempo the user asked for is kept in every section; only the hit
    # points bend it locally, by at most beat_warp (4 %)
    f = make_features(40.0, tempo_bpm=120.0, cuts_s=(9.0, 17.3, 29.9))
    plan = make_plan(f, PlanConfig(tempo_bpm=user_tempo))
    local_bpm = 60.0 / np.diff(plan.beat_times_s)
    assert np.all(np.abs(local_bpm / user_tempo - 1) <= 0.04 + 1e-9)
    assert abs(plan.tempo_bpm / user_tempo - 1) <= 0.04
    assert plan.beat_times_s[-1] >= 40.0 - 0.05


def test_melody_enters_after_the_intro() -> None:
    """The melody enters after a 2-bar intro (4 bars from 32 bars; ``melody_intro_bars`` sets it)
    and leaves the last bar to the held tonic (a rule note); short pieces have no intro."""
    f = make_features(30.0, tempo_bpm=120.0)
    plan = make_plan(f, PlanConfig(style=POP, mood="happy"))
    mb = plan.controls.melody_bars
    assert plan.n_bars >= 8 and mb is not None and mb.shape == (plan.n_bars,)
    assert not mb[:2].any() and mb[2:-1].all() and not mb[-1]
    assert plan_to_dict(plan)["controls"]["melody_bars"] == list(range(2, plan.n_bars - 1))
    assert not make_plan(f, PlanConfig(style=POP, mood="happy", melody_intro_bars=3)).controls.melody_bars[:3].any()
    long = make_plan(make_features(80.0, tempo_bpm=120.0), PlanConfig(style=POP, mood="happy"))
    assert long.n_bars >= 32 and not long.controls.melody_bars[:4].any() and long.controls.melody_bars[4]
    short = make_plan(make_features(6.0, tempo_bpm=120.0), PlanConfig(style=POP, mood="happy"))
    assert short.n_bars < 6 and short.controls.melody_bars[:-1].all()
    no_melody = make_plan(f, PlanConfig(style=POP, mood="happy", instruments=("piano",)))
    assert "melody" in no_melody.controls.tracks or no_melody.controls.melody_bars is None




def test_the_final_bars_strong_visual_beats_restrike_the_held_chord() -> None:
    # sparse visual beats (all strong); four fall in the held final bar: 0.1 s after its downbeat
    # (too close to the cadence), two inside, one 0.2 s before the end (too late to ring)
    body = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    f = make_features(10.0, beats_s=np.array(body + [8.1, 8.6, 9.0, 9.8]),
                      beat_strength=np.array([0.7] * 6 + [1.0, 0.7, 1.0, 1.0]))
    plan = make_plan(f, PlanConfig(), description=Description(style=POP, tempo_bpm=120.0), seed=0)
    c = plan.controls
    assert c.ending_bar == c.n_bars - 1
    steps = step_times_from_beats(plan.beat_times_s)
    t0, beat = steps[c.ending_bar * 16], float(np.median(np.diff(plan.beat_times_s)))
    want = sorted(int(np.argmin(np.abs(steps - t))) for t in (8.6, 9.0)
                  if t0 + beat <= t <= plan.duration_s - beat)
    assert want and c.ending_accents() == want
    assert int(np.asarray(c.accent_steps)[c.ending_bar * 16:].sum()) == len(want)
    # the fade covers only the ring-out after the last button (half a beat of the unbent grid later)
    assert plan.fade_out_s == pytest.approx(plan.duration_s - steps[want[-1]] - 0.5 * beat, abs=0.02)
    assert "the buttons" in plan.reasons["ending"]
    # no visual beat in the final bar: the held chord is struck once
    g = make_features(10.0, beats_s=np.array(body), beat_strength=np.full(6, 0.7))
    assert make_plan(g, PlanConfig(), description=Description(style=POP, tempo_bpm=120.0),
                     seed=0).controls.ending_accents() == []
