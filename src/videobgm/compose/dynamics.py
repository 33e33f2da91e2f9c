"""Dynamics: velocities that follow the section energy and the phrase (issue 18, part 3).

POP909, the training data, is a set of transcriptions whose velocities say little about the form
(two thirds of a song's melody notes sit in one velocity bin of 16), so the model's velocities
do not follow the plan: on video-driven pieces the correlation of a bar's mean velocity with its
section's energy was 0.00, and one prompt put 98 of 112 melody notes at velocity 120. This stage
re-shapes the sampled velocities from the plan, deterministically:

* level: each section's energy, half as planned (absolute) and half relative to the piece's
  quietest and loudest sections (so that a verse of 0.47 and a chorus of 0.52 are heard as
  softer and louder), mapped to ``[SampleConfig.dynamics_low, SampleConfig.dynamics_high]`` for the melody,
  ``dynamics_accompaniment_offset`` lower for the other pitched tracks;
* phrase: a swell over each phrase (``melody_phrase_bars`` bars inside a section, shorter at its end),
  an even arch (:func:`phrase_arch`) to ``dynamics_phrase_swell`` at its crest
  (``dynamics_phrase_apex`` into the phrase; the melody's on its phrase's highest note,
  :func:`melody_peak`), softer at its start and end, where the melody breathes;
  for the melody the arch spans its own notes in the phrase, first onset to last
  (``dynamics_melody_span``): a line that enters late in the planned phrase (a chorus melody
  from its third bar) still rises to its crest and falls, where with the bars' arch it played
  only the crest (one fast video's melody: 10 of 40 notes in velocity 97-112);
* form (melody): over a stretch of sections at one level (:func:`level_runs`) holding two phrases
  or more, a second, longer arch of ``dynamics_form_swell`` cresting ``dynamics_form_apex`` into
  the stretch: a flat-energy video's phrases rise to a climax and ease off instead of all
  playing at one level (the level is the form's dynamics where the plan's energy changes);
* metre (:func:`metric_accent`): beat 1 a little stronger, the weak beats (2 and 4 of 4/4) and
  more the off-beat 16ths a little softer;
* contour (melody): ``dynamics_contour`` per semitone above / below the phrase's median melody
  pitch, at most ``dynamics_contour_max`` either way (a line swells toward its high notes, as a
  singer's or a player's does);
* the model's own nuance: ``dynamics_model_weight`` of each note's deviation from its track's median;
* accents (the plan's visual hits) ``dynamics_accent_boost`` louder than their surroundings
  (not at their sampled velocity: in a fast video most melody notes are accents, and the sampler
  gives those bin 7-8, which put 81-95 % of the melody's notes in one bin), and at least
  ``dynamics_accent_floor`` - on the melody only where no other pitched track plays that step
  (there the accompaniment's hit carries the accent; with the floor on every melody note, a
  fast video's melody sat 80 % in one velocity bin) or where accents are rare in its phrase (at
  most ``dynamics_accent_rare`` of its notes): a few visual hits in a slow line are the melody's
  to sing out too (car-detection's accented notes had velocity ~65 under a piano hit at 97, and
  its beat lift from the audio sat at chance);
* the melody's softest notes (:func:`soft_floor`): below ``dynamics_melody_knee`` the shaping is
  halved, so that a phrase's first note in a quiet section stays audible (the arch reached
  velocity 1-10 there).

Drums keep their velocities (rule part with its own accents).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from videobgm.compose.hit_marks import marked_hits
from videobgm.config import SampleConfig
from videobgm.types import STEPS_PER_BEAT, Score


def section_levels(energies: list[float]) -> np.ndarray:
    """Level 0..1 per section: half the planned energy, half its place between the piece's
    quietest and loudest section (0.5 when they all have the same energy)."""
    e = np.clip(np.asarray(energies, dtype=float), 0.0, 1.0)
    if e.size == 0:
        return e
    span = float(e.max() - e.min())
    rel = (e - e.min()) / span if span > 1e-6 else np.full(e.shape, 0.5)
    return 0.5 * e + 0.5 * rel


def phrases(sections: list, n_bars: int, phrase_bars: int = 4) -> list[tuple[int, int]]:
    """Melodic phrases ``[start, end)`` in bars: each section cut into phrases of ``phrase_bars``
    bars (a last remainder of one bar joins the phrase before it)."""
    out = []
    for s in sorted(sections, key=lambda s: s.start_bar):
        lo, hi = max(0, int(s.start_bar)), min(int(n_bars), int(s.end_bar))
        k = lo
        while k < hi:
            n = min(max(1, int(phrase_bars)), hi - k)
            if hi - (k + n) == 1:  # no one-bar stub at the section's end
                n += 1
            out.append((k, k + n))
            k += n
    return out


def phrase_ends(plan, phrase_bars: int = 4) -> tuple[int, ...]:  # noqa: ANN001
    """Last bar of every melodic phrase of ``plan`` (see :func:`phrases`), the piece's last bar
    and its held ending excepted."""
    last = plan.n_bars - 1 if plan.controls.ending_bar is None else int(plan.controls.ending_bar) - 1
    return tuple(e - 1 for _, e in phrases(plan.sections, plan.n_bars, phrase_bars) if e - 1 < last)


def section_breaths(plan) -> tuple[int, ...]:  # noqa: ANN001
    """Bars that end a section before a new one (another label or a hit point of kind
    ``section`` on its downbeat): the texture breathes on their last beat, then the new section
    lands. Not before the held ending (its fill runs into it)."""
    spb = plan.controls.steps_per_bar
    opens = {int(step) for step, kind in plan.controls.hits if str(kind).startswith("section")}
    secs = sorted(plan.sections, key=lambda s: s.start_bar)
    end = plan.n_bars - 1 if plan.controls.ending_bar is None else int(plan.controls.ending_bar) - 1
    return tuple(int(b.start_bar) - 1 for a, b in zip(secs, secs[1:], strict=False)
                 if 0 < b.start_bar and b.start_bar - 1 < end and (a.label != b.label or b.start_bar * spb in opens))


def phrase_arch(x: float, apex: float = 0.6) -> float:
    """The phrase's swell at position ``x`` (0..1) in it: -1 at its start, rising evenly to +1 at
    ``apex``, falling evenly to -1 at its end (velocities spread evenly over the swell's range)."""
    x, apex = float(np.clip(x, 0.0, 1.0)), float(np.clip(apex, 0.05, 0.95))
    return 2.0 * (x / apex if x <= apex else (1.0 - x) / (1.0 - apex)) - 1.0


def metric_accent(pos: int, spb: int, cfg: SampleConfig) -> float:
    """Velocity offset of a note on 16th ``pos`` of the bar: the metre's hierarchy (the downbeat
    strongest, then the half bar, the other beats, the off-beats softest)."""
    if pos == 0:
        return float(cfg.dynamics_downbeat_boost)
    if pos % STEPS_PER_BEAT:
        return -float(cfg.dynamics_offbeat_cut)
    if spb % (2 * STEPS_PER_BEAT) == 0 and spb // STEPS_PER_BEAT >= 4 and pos == spb // 2:
        return 0.0  # the half bar of 4/4
    return -float(cfg.dynamics_weak_beat_cut)


def level_runs(sections: list, n_bars: int, tol: float = 0.02) -> list[tuple[int, int]]:
    """Stretches ``[start, end)`` in bars of consecutive sections whose levels
    (:func:`section_levels`) differ by at most ``tol``: where the plan's energy gives the music no
    larger shape than its phrases."""
    secs = sorted(sections, key=lambda s: s.start_bar)
    out: list[list[int]] = []
    prev = None
    for s, lv in zip(secs, section_levels([s.energy for s in secs]), strict=True):
        lo, hi = max(0, int(s.start_bar)), min(int(n_bars), int(s.end_bar))
        if hi <= lo:
            continue
        if out and prev is not None and abs(lv - prev) <= tol and out[-1][1] == lo:
            out[-1][1] = hi
        else:
            out.append([lo, hi])
        prev = lv
    return [(a, b) for a, b in out]


def melody_peak(onsets: list[int], pitches: list[int], lo: float = 0.3, hi: float = 0.85,
                default: float = 0.6) -> float:
    """Where a phrase's melody crests, 0..1 from its first onset to its last: at its highest
    note (the first of equals), kept within ``[lo, hi]`` (a line that peaks on its first or last
    note still rises and falls); ``default`` for a line on one pitch."""
    first, last = min(onsets), max(onsets)
    if last <= first or max(pitches) == min(pitches):
        return float(default)
    top = max(pitches)
    at = min(o for o, p in zip(onsets, pitches, strict=True) if p == top)
    return float(np.clip((at - first) / (last - first), lo, hi))


def soft_floor(v: float, knee: float) -> float:
    """``v`` above ``knee``; below it, half as far below (a line's softest notes stay audible:
    velocity 10 at a knee of 40 becomes 25)."""
    return float(v) if v >= knee else float(knee) - 0.5 * (float(knee) - float(v))


def shape(score: Score, sections: list, accent_steps: np.ndarray | None = None, *,
          cfg: SampleConfig | None = None, bars: tuple[int, int] | None = None,
          hits: tuple[tuple[int, str], ...] | list[tuple[int, str]] = ()) -> Score:
    """``score`` with the velocities of its pitched notes in bars ``[a, b)`` (default all)
    re-shaped from ``sections`` (objects with ``start_bar``, ``end_bar``, ``energy``).

    ``hits``: the plan's hit points (``controls.hits``); the marked ones
    (:func:`videobgm.compose.hit_marks.marked_hits`) get the hit contrast: their accompaniment
    notes ``dynamics_hit_boost`` louder and at least ``dynamics_hit_floor``, the melody's note there
    ``dynamics_hit_boost`` louder, every pitched note in the beat before ``dynamics_pre_hit_cut``
    softer."""
    cfg = cfg or SampleConfig()
    if not cfg.dynamics or not sections:
        return score
    spb = score.steps_per_bar
    a, b = bars or (0, score.n_bars)
    secs = sorted(sections, key=lambda s: s.start_bar)
    levels = section_levels([s.energy for s in secs])
    bar_level = np.full(score.n_bars, 0.5)
    for s, lv in zip(secs, levels, strict=True):
        bar_level[max(0, int(s.start_bar)):min(score.n_bars, int(s.end_bar))] = lv
    phrase_pos = np.zeros(score.n_bars)  # where each bar starts in its phrase (0..1)
    phrase_len = np.ones(score.n_bars)
    for lo, hi in phrases(secs, score.n_bars, cfg.melody_phrase_bars):
        phrase_pos[lo:hi] = np.arange(hi - lo) / (hi - lo)
        phrase_len[lo:hi] = hi - lo
    phrase_of = np.zeros(score.n_bars, dtype=np.int64)
    for k, (lo, hi) in enumerate(phrases(secs, score.n_bars, cfg.melody_phrase_bars)):
        phrase_of[lo:hi] = k
    mel_pitches: dict[int, list[int]] = {}
    mel_onsets: dict[int, list[int]] = {}
    for n in score.notes:
        if n.track == "melody" and 0 <= n.onset_16th // spb < score.n_bars:
            mel_pitches.setdefault(int(phrase_of[n.onset_16th // spb]), []).append(n.pitch)
            mel_onsets.setdefault(int(phrase_of[n.onset_16th // spb]), []).append(n.onset_16th)
    mel_mid = {k: float(np.median(v)) for k, v in mel_pitches.items()}
    # the melody's own phrase: its swell runs from the phrase's first melody note to its last
    # (a line that enters late in the planned phrase still rises to its crest and falls)
    mel_span = {k: (min(v), max(v)) for k, v in mel_onsets.items() if max(v) > min(v)}
    # ... cresting on its highest note, where its contour is loudest (a fixed crest fought it)
    lo_pk, hi_pk = cfg.dynamics_peak_range
    mel_apex = {k: melody_peak(mel_onsets[k], mel_pitches[k], lo_pk, hi_pk, cfg.dynamics_phrase_apex)
                for k in mel_span} \
        if cfg.dynamics_melody_peak else {}
    # the melody's swell over a stretch of one level (two phrases or more), per 16th
    form = np.zeros(score.n_steps)
    if cfg.dynamics_form_swell:
        plist = phrases(secs, score.n_bars, cfg.melody_phrase_bars)
        for lo, hi in level_runs(secs, score.n_bars):
            if sum(1 for p0, p1 in plist if lo <= p0 and p1 <= hi) >= 2:
                t = np.arange(lo * spb, min(hi * spb, score.n_steps))
                form[t] = [cfg.dynamics_form_swell * phrase_arch((k - lo * spb) / ((hi - lo) * spb),
                                                                  cfg.dynamics_form_apex) for k in t]
    acc = np.zeros(score.n_steps, dtype=bool) if accent_steps is None else np.asarray(accent_steps, dtype=bool)
    # accent steps where another pitched track plays: it takes the floor, the melody keeps its line
    # ... unless accents are rare in the melody's phrase: there its note is the hit's voice too
    backed = {n.onset_16th for n in score.notes if n.track not in ("melody", "drums")}
    rare = {k for k, v in mel_onsets.items()
            if np.mean([o < acc.shape[0] and acc[o] for o in v]) <= cfg.dynamics_accent_rare}
    hit_at = set(marked_hits(hits))
    pre_hit = {k - i for k in hit_at for i in range(1, STEPS_PER_BEAT + 1)} - hit_at
    med = {t: float(np.median([n.velocity for n in score.notes if n.track == t]))
           for t in {n.track for n in score.notes}}
    notes = []
    for n in score.notes:
        bar = n.onset_16th // spb
        if n.track == "drums" or not a <= bar < b or bar >= score.n_bars:
            notes.append(n)
            continue
        x = phrase_pos[bar] + (n.onset_16th % spb) / spb / phrase_len[bar]
        apex = cfg.dynamics_phrase_apex
        if n.track == "melody" and cfg.dynamics_melody_span and int(phrase_of[bar]) in mel_span:
            first, last = mel_span[int(phrase_of[bar])]
            x = (n.onset_16th - first) / (last - first)
            apex = mel_apex.get(int(phrase_of[bar]), apex)
        v = cfg.dynamics_low + (cfg.dynamics_high - cfg.dynamics_low) * bar_level[bar]
        v += cfg.dynamics_phrase_swell * phrase_arch(x, apex)
        v += metric_accent(n.onset_16th % spb, spb, cfg)
        if n.track != "melody":
            v -= cfg.dynamics_accompaniment_offset
        else:
            v += form[n.onset_16th] if n.onset_16th < form.shape[0] else 0.0
            if cfg.dynamics_contour:
                lim = float(cfg.dynamics_contour_max)
                v += float(np.clip(cfg.dynamics_contour * (n.pitch - mel_mid[int(phrase_of[bar])]), -lim, lim))
        v += cfg.dynamics_model_weight * (n.velocity - med[n.track])
        if n.onset_16th < acc.shape[0] and acc[n.onset_16th]:
            v += cfg.dynamics_accent_boost
            if n.track != "melody" or n.onset_16th not in backed or int(phrase_of[bar]) in rare:
                v = max(v, cfg.dynamics_accent_floor)
        if n.onset_16th in hit_at:  # the hit lands: the loudest of its beat
            v += cfg.dynamics_hit_boost
            if n.track != "melody":
                v = max(v, cfg.dynamics_hit_floor)
        elif n.onset_16th in pre_hit and not (n.onset_16th < acc.shape[0] and acc[n.onset_16th]):
            # the beat before it clears (a strong visual beat there keeps its accent)
            v -= cfg.dynamics_pre_hit_cut
        if n.track == "melody":
            v = soft_floor(v, cfg.dynamics_melody_knee)
        notes.append(dataclasses.replace(n, velocity=int(np.clip(round(v), 1, 127))))
    return dataclasses.replace(score, notes=notes)


