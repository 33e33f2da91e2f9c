"""compose/textures.py: the style x mood pattern generators (through arrange.rule_notes on styled controls)."""

from __future__ import annotations

import pytest

from tests.music.test_styles import HITS, MOODS, STYLES, _controls  # noqa: F401 (shared with test_styles.py)
from videobgm.compose import arrange
from videobgm.types import Note


@pytest.mark.parametrize("style", STYLES)
def test_generators_seeded_and_deterministic(style: str) -> None:
    for mood in ("calm", "tense", "happy"):
        a = arrange.rule_notes(_controls(style, mood, seed=3))
        b = arrange.rule_notes(_controls(style, mood, seed=3))
        assert a == b and a
    if style != "pop":  # the texture's variations are drawn from the seed
        runs = {tuple(arrange.rule_notes(_controls(style, "neutral", seed=s))) for s in range(6)}
        assert len(runs) > 1


@pytest.mark.parametrize("style", STYLES)
def test_hit_points_fall_on_accents(style: str) -> None:
    c = _controls(style, "neutral")
    notes = arrange.rule_notes(c)
    for step, _ in HITS:
        at = [n for n in notes if n.onset_16th == step]
        assert at, f"{style}: nothing at hit {step}"
        assert max(n.velocity for n in at) >= 110, f"{style}: hit {step} not accented"


@pytest.mark.parametrize("style", STYLES)
def test_stems_one_per_track(style: str) -> None:
    c = _controls(style, "tense")
    notes = arrange.rule_notes(c)
    assert {n.track for n in notes} <= set(c.tracks) | set(c.arranged)
    keys = [(n.onset_16th, n.track, n.pitch) for n in notes]
    assert len(keys) == len(set(keys))  # no doubled note inside one track
    if style == "pop":
        assert c.arranged == () and "piano" in c.tracks  # pop keeps the model's POP909 piano
    else:
        assert "piano" in c.arranged and "piano" not in c.tracks


def test_styles_and_moods_give_different_notes() -> None:
    by_style = {s: tuple(arrange.rule_notes(_controls(s, "neutral"))) for s in STYLES}
    assert len(set(by_style.values())) == len(STYLES)
    for s in STYLES:
        by_mood = {m: tuple((n.onset_16th, n.track, n.pitch) for n in arrange.rule_notes(_controls(s, m)))
                   for m in MOODS}
        assert len(set(by_mood.values())) == len(MOODS), s


# ------------------------------------------------ the ostinato across a mid-bar chord change
def _ostinato_controls(prog: list[tuple[int, int, str]], mood: str = "neutral", seed: int = 0):  # noqa: ANN202
    """Cinematic (string ostinato) controls of 2 bars + the ending bar; ``prog``: (step, root, quality)."""
    import dataclasses

    import numpy as np

    from videobgm.types import Chord
    c = _controls("cinematic", mood, seed)
    return dataclasses.replace(c, n_bars=3, density_per_bar=np.array([12, 12, 0]),
                               strength_per_beat=np.full(12, 2), accent_steps=np.zeros(48, bool),
                               chords=[Chord(s, r, q) for s, r, q in prog], hits=(), fill_bars=(),
                               ending_bar=2)


def _bar_pcs(c, bar: int) -> set[int]:  # noqa: ANN001
    from videobgm.compose import textures
    from videobgm.music import styles
    notes = textures.texture_notes(c, styles.idiom("cinematic", c.mood), seed=0)
    return {n.pitch % 12 for n in notes if n.onset_16th // 16 == bar}


def test_ostinato_keeps_its_figure_across_a_mid_bar_chord_change() -> None:
    """A | F#m at beat 4 (car-detection/cinematic/happy's bar 1): A-E sounds with both chords, so
    the figure stays on A and E (before: A, E then F#, C# = 4 pitch classes)."""
    c = _ostinato_controls([(0, 9, "maj"), (12, 6, "min"), (16, 2, "maj")])
    assert _bar_pcs(c, 0) == {9, 4}
    assert _bar_pcs(c, 1) == {2, 9}  # one chord: root and fifth, as before
    # E | F# (B would grind against A#): the downbeat chord's tones that sound with both: E and G#
    c = _ostinato_controls([(0, 4, "maj"), (12, 6, "maj"), (16, 2, "maj")])
    assert _bar_pcs(c, 0) == {4, 8}
    # D | E at beat 2 (A would grind against G#): root and third, D and F# (the 7th and 9th of E)
    c = _ostinato_controls([(0, 2, "maj"), (4, 4, "maj"), (16, 2, "maj")])
    assert _bar_pcs(c, 0) == {2, 6}
    # C | C# (every C-major tone a semitone from C#-major's): no common tone, the figure follows
    c = _ostinato_controls([(0, 0, "maj"), (8, 1, "maj"), (16, 2, "maj")])
    assert _bar_pcs(c, 0) == {0, 7, 1, 8}


def test_ostinato_idiom_check_passes_across_chord_changes() -> None:
    from videobgm.eval import idioms
    from videobgm.types import Score
    c = _ostinato_controls([(0, 9, "maj"), (12, 6, "min"), (16, 4, "maj"), (24, 6, "maj")])
    notes = [n for n in arrange.rule_notes(c) if n.onset_16th < 32]
    by_bar = [[n for n in notes if n.track == "piano" and n.onset_16th // 16 == b] for b in (0, 1)]
    assert all(idioms._ostinato_or_sustained_bar(b) for b in by_bar)
    assert idioms.ostinato_or_sustained(Score(notes=sorted(notes), n_bars=2)) == 1.0


def test_ostinato_divisi_under_the_beats_stays_on_the_figure() -> None:
    """A bar busier than the ostinato's 16ths allow gets a second note under the beat onsets:
    the figure's other pitch (before: the chord's third under the fifth, a third pitch class)."""
    import dataclasses

    import numpy as np
    for seed in range(4):  # both variants of the figure (the fifth on beat 2 or the octave)
        c = _ostinato_controls([(0, 7, "maj"), (16, 2, "maj")], seed=seed)
        c = dataclasses.replace(c, density_per_bar=np.array([20, 20, 0]))  # 8ths + 4 dyads
        notes = [n for n in arrange.rule_notes(c) if n.track == "piano" and n.onset_16th < 16]
        onsets = [n.onset_16th for n in notes]
        assert len(notes) > len(set(onsets))  # there are dyads
        assert {n.pitch % 12 for n in notes} == {7, 2}  # G and D only (no B)


# ------------------------------------------- four-on-the-floor: the hit's gap, the 16th hats
def _electronic(density: int, hits: tuple = ()):  # noqa: ANN001, ANN202
    import dataclasses

    import numpy as np
    c = _controls("electronic", "neutral")
    return dataclasses.replace(c, n_bars=3, density_per_bar=np.array([density, density, 0]),
                               strength_per_beat=np.full(12, 2), accent_steps=np.zeros(48, bool),
                               hits=hits, fill_bars=(), ending_bar=2)


def test_sixteenth_hats_only_in_busy_bars() -> None:
    from videobgm.compose import textures as T
    from videobgm.music import styles
    idm = styles.idiom("electronic", "neutral")
    for d, hats in ((12, [2, 6, 10, 14]), (T.HAT16_DENSITY, [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15])):
        drums = T.drum_part(_electronic(d), idm, "neutral", (0, 1))
        assert sorted(n.onset_16th for n in drums if n.pitch in (T.HAT, T.OPEN_HAT)) == hats, d
        assert sorted(n.onset_16th for n in drums if n.pitch == T.KICK) == [0, 4, 8, 12]


def test_crash_hit_comes_out_of_a_short_gap() -> None:
    """A crash at step 22 (the off-beat 8th of beat 2): the whole kit rests on 20 and 21, the
    kick on beat 2 too (the stop before the hit; before, that kick rang into the hit and masked
    it), the other beats keep theirs; the arpeggiator has no onset on 20-21 and nothing of it
    still sounds into the gap."""
    from videobgm.compose import textures as T
    from videobgm.music import styles
    idm = styles.idiom("electronic", "neutral")
    c = _electronic(T.HAT16_DENSITY, hits=((22, "crash"),))
    drums = T.drum_part(c, idm, "neutral")
    assert not [n for n in drums if n.onset_16th in (20, 21)]
    assert {n.onset_16th for n in drums if n.pitch == T.KICK} >= {0, 4, 8, 12, 16, 22, 24, 28}
    assert any(n.onset_16th == 22 and n.pitch == T.CRASH for n in drums)
    arp = T.texture_notes(c, idm)
    assert not [n for n in arp if n.onset_16th < 22 and n.onset_16th + n.duration_16th > 20]
    assert any(n.onset_16th == 22 and n.velocity >= T.HIT_VELOCITY for n in arp)
    assert T.pre_hit_gap([Note(16, "piano", 60, 6, 80)], {22: "crash"}) == [Note(16, "piano", 60, 4, 80)]


def test_bass_onsets_count_against_the_texture_share() -> None:
    """One onset budget: a bar's bass notes (``taken``) thin the texture that plays the rest of
    the bar's share; with nothing taken it is the texture of before."""
    import dataclasses

    import numpy as np

    from videobgm.compose import textures
    from videobgm.music import styles

    c = _controls("acoustic", "calm")
    c = dataclasses.replace(c, density_per_bar=np.full(c.n_bars, 24), hits=())
    idm = styles.idiom("acoustic", "calm")
    assert idm.texture == "arpeggio" and idm.model_share == 0.4 and idm.step_16th == 4
    free = textures.texture_notes(c, idm, (1, 2), seed=0)
    assert textures.texture_notes(c, idm, (1, 2), seed=0, taken={}) == free
    thin = textures.texture_notes(c, idm, (1, 2), seed=0, taken={1: 8})
    other_bar = textures.texture_notes(c, idm, (1, 2), seed=0, taken={2: 8})
    assert other_bar == free  # only the bar's own bass counts
    # share 24 - ceil(0.4 * 24) = 14 notes: 8ths (its fastest pulse, 8 onsets) + 6 dyad tones under
    # the 4 beat onsets = 12; with 8 taken, 6 are left: quarters (4 onsets) + 2 dyad tones = 6
    assert len(free) == 12 and len(thin) == 6


def test_accent_catches_thin_to_the_budget() -> None:
    from videobgm.compose import textures

    assert textures.catch_voicing([53, 57, 60, 65], 9.0) == [53, 57, 60, 65]  # fits: the chord
    assert textures.catch_voicing([53, 57, 60, 65], 2.4) == [53, 57]  # a dyad, from the bass up
    assert textures.catch_voicing([53, 57, 60, 65], -3.0) == [53]  # spent: the root still strikes


def test_model_floor_counts_forced_beats_and_accents() -> None:
    import dataclasses

    import numpy as np

    c = _controls("acoustic", "neutral")
    stren = np.zeros(c.n_bars * 4, dtype=np.int64)
    stren[:4] = [5, 0, 2, 1]  # bar 0: ceil(0.4 * 5) = 2, 0 (no accent), 1, 1
    acc = np.zeros(c.n_bars * 16, dtype=bool)
    acc[[4, 6, 17]] = True  # bar 0: beat 2 (strength 0, now forced: 1) and an off-beat; bar 1: off-beat
    c = dataclasses.replace(c, strength_per_beat=stren, accent_steps=acc)
    floor = arrange.model_floor(c, 0.4)
    assert floor[:3].tolist() == [2 + 1 + 1 + 1 + 1, 1, 0]


def test_texture_share_and_model_share_add_up_to_the_density() -> None:
    """The arranged parts take what the model's rounded-up share leaves: the two add up to the
    bar's density target (before, (1 - share) * d beside ceil(share * d) gave up to one onset a
    bar too many, 2-3 % over the plan on the video-driven pieces)."""
    import numpy as np

    from videobgm.compose import textures
    from videobgm.music import styles

    for style in ("acoustic", "ambient"):
        idm = styles.idiom(style, "neutral")
        for d in range(0, 41):
            model = int(np.ceil(idm.model_share * d))
            assert textures.texture_share(idm, d) + model == d
    assert textures.texture_share(styles.idiom("ambient", "neutral"), 18) == 15.0  # 18 - ceil(2.7)
    assert textures.texture_share(styles.idiom("acoustic", "neutral"), 19) == 11.0  # 19 - ceil(7.6)


def test_arranged_piece_delivers_the_planned_density() -> None:
    """An arranged piece (tiny untrained model, accents on off-beats of every bar) delivers its
    plan's onsets within 8 % (bars with target > 0, before hit marks and dynamics): the model
    part ceil(0.4 d) at least its forced beats and accents, the texture the rest."""
    import dataclasses

    import numpy as np

    from videobgm.compose import checkpoint, sampler
    from videobgm.compose.tokens import Tokenizer
    from videobgm.config import ModelConfig, SampleConfig

    c = _controls("acoustic", "calm")
    acc = np.zeros(c.n_bars * 16, dtype=bool)
    acc[[b * 16 + 6 for b in range(c.n_bars - 1)]] = True  # one off-beat accent a bar
    dens = np.asarray(c.density_per_bar).copy()
    c = dataclasses.replace(c, accent_steps=acc, hits=(), fill_bars=(), tracks=tuple(t for t in c.tracks if t != "drums"))
    tok = Tokenizer()
    model = checkpoint.build_untrained(ModelConfig.preset("tiny"), tok, seed=0)
    score = sampler.generate(c, model, tok, SampleConfig(seed=0))
    got = np.zeros(c.n_bars, dtype=np.int64)
    for n in score.notes:
        if n.track != "drums":
            got[n.onset_16th // 16] += 1
    body = dens > 0
    assert abs(got[body].sum() / dens[body].sum() - 1.0) <= 0.08, (got.tolist(), dens.tolist())


def test_pads_and_fill_runs_count_against_the_texture_share() -> None:
    """One onset budget in the ambient arrangement: the string pad's onsets (bridge) and a fill
    bar's pickup run count against the piano pad's share, as the bass's do. Density 10, model
    share 0.15: 8.5 onsets for the texture; the bass (1) and the pad (2) leave 5.5 for the
    piano's 4-note strikes: one a bar (before: two, 11 onsets a bar over a plan of 10)."""
    import dataclasses

    import numpy as np

    from videobgm.music import styles

    c = _controls("ambient", "neutral")
    c = dataclasses.replace(c, density_per_bar=np.full(c.n_bars, 10), hits=(),
                            accent_steps=np.zeros(c.n_bars * 16, bool),
                            strength_per_beat=np.zeros(c.n_bars * 4, np.int64),
                            tracks=tuple(t for t in c.tracks if t != "drums"))
    idm = styles.idiom("ambient", "neutral")
    assert idm.texture == "pad" and idm.model_share == 0.15 and c.fill_bars == (3,) and c.ending_bar == 7
    per: dict[str, list[int]] = {}
    for n in arrange.rule_notes(c):
        per.setdefault(n.track, [0] * c.n_bars)[n.onset_16th // 16] += 1
    assert per["bass"][:7] == [1] * 7 and per["bridge"][:7] == [2] * 7
    # bar 3 adds the fill's 4-note run to the piano; the ending bar holds the final chord
    assert per["piano"] == [4, 4, 4, 8, 4, 4, 4, 3]
