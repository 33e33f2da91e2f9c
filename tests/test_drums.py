"""drums.py: a rule-based drum part that follows the plan."""

from __future__ import annotations

import numpy as np

from test_plan import make_features
from videobgm.config import PlanConfig
from videobgm.drums import CRASH, KICK, LOW_TOM, SNARE, drum_part
from videobgm.plan import make_plan
from videobgm.types import Note


def _plan(**kw):  # noqa: ANN003, ANN202
    f = make_features(24.0, tempo_bpm=120.0, beats_s=np.arange(0.25, 24.0, 1.5),
                      cuts_s=(8.0, 16.0), speed=lambda t: 5 + t, brightness=0.8, warmth=0.4)
    return make_plan(f, PlanConfig(**kw))


def test_drums_follow_the_plan() -> None:
    plan = _plan(style="pop", mood="happy")
    assert "drums" in plan.controls.tracks
    notes = drum_part(plan)
    assert notes == sorted(notes) and all(isinstance(n, Note) and n.track == "drums" for n in notes)
    spb = plan.controls.steps_per_bar
    assert all(0 <= n.onset_16th < plan.n_bars * spb for n in notes)
    at = {(n.onset_16th, n.pitch): n.velocity for n in notes}
    # every accent step (strong visual beat) has a loud kick
    for st in np.flatnonzero(plan.controls.accent_steps):
        assert at.get((int(st), KICK), 0) >= 120
    # back beats carry the snare, sections after the first start with a crash and get a fill
    assert (spb // 4, SNARE) in at and (3 * spb // 4, SNARE) in at
    for s in plan.sections[1:]:
        assert (s.start_bar * spb, CRASH) in at
        assert (s.start_bar * spb - 1, LOW_TOM) in at
    # busier bars get more drum onsets (hats follow the planned density)
    per_bar = np.bincount([n.onset_16th // spb for n in notes], minlength=plan.n_bars)[:-1]
    d = plan.controls.density_per_bar[:-1]
    assert per_bar[np.argmax(d)] > per_bar[np.argmin(d)]
    assert drum_part(plan) == notes  # deterministic


def test_no_drums_when_the_style_has_none() -> None:
    plan = _plan(style="ambient")
    assert "drums" not in plan.controls.tracks and drum_part(plan) == []
