"""The plan's chords: the learned POP909 progression model over the plan's form (issue 18).

:func:`make_chords` is the planner's chord stage. The plan's sections are phrase-sized (4-8
bars, cut by strong cuts and phrase boundaries), so the harmony groups them into periods:

* every plan section is a phrase (one of more than 8 bars is split into 4-bar phrases);
* a period ends - with an **authentic** cadence (V then I, one chord in the I bar) - where the
  next section starts on a strong cut, where the period has reached 8 bars, and at the end of
  the piece; every other phrase end is a **half** cadence (V);
* the final bar (``ending_bar``) is fixed to the tonic triad: the held tonic after the cadence;
* a hit point that falls on (within one 16th of) a beat forces a chord change on that beat,
  where the bar is free (not a cadence bar, not the last two bars);
* the mood/style vocabulary (:func:`videobgm.music.styles.harmony_vocabulary`) tilts the sampler.

The learned model's bass (inversions, passing basses, pedal points) goes into ``Chord.bass``;
the arranger's bass line plays it. A retrieved reference's progression is used as before
(:func:`videobgm.plan.controls.phrase_chords`); the hand tables of ``plan_music`` remain only as
the fallback when no harmony asset loads, with the reason in ``reasons["chords"]``.

:func:`regenerate_chords` re-samples the chords of a bar span of an existing plan with the
chords around it as context (``context_before`` / ``context_after``), so a regenerated section
joins its neighbours.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from videobgm.music.motif import PERIOD_BARS  # a period closes on an authentic cadence (shared)
from videobgm.plan.chord_corpus import split_phrases
from videobgm.types import STEPS_PER_BEAT, Chord, Plan, Reference, Section

HIT_TOLERANCE_STEPS = 1  # a hit within one 16th of a beat moves a chord change onto that beat


def harmony_layout(sections: list[Section], n_bars: int) -> tuple[list[tuple[int, int, str]],
                                                                   list[tuple[int, int]],
                                                                   dict[int, str]]:
    """(periods as (start, end, role), phrases, cadence per phrase-end bar) of a plan's form."""
    phrases: list[tuple[int, int]] = []
    periods: list[tuple[int, int, str]] = []
    cad: dict[int, str] = {}
    start = 0
    secs = sorted(sections, key=lambda s: s.start_bar) or [Section(0, n_bars, "verse")]
    for i, s in enumerate(secs):
        a, z = int(s.start_bar), int(s.end_bar)
        if z - a > PERIOD_BARS:
            phrases += split_phrases([(a, z, s.label)], 4)
        else:
            phrases.append((a, z))
        nxt = secs[i + 1] if i + 1 < len(secs) else None
        close = (nxt is None or str(nxt.reason).startswith("strong cut")
                 or z - start >= PERIOD_BARS)
        cad[z - 1] = "authentic" if close else "half"
        if close:
            role = secs[next(j for j, t in enumerate(secs) if t.start_bar >= start)].label
            periods.append((start, z, role if role else "verse"))
            start = z
    for _a, z in phrases:  # phrase ends inside a longer section: half cadences
        cad.setdefault(z - 1, "half")
    return periods, phrases, cad


def _change_beats(hits: Any, n_bars: int, bpb: int,
                  ending_bar: int | None) -> dict[int, tuple[int, ...]]:
    spb = bpb * STEPS_PER_BEAT
    out: dict[int, tuple[int, ...]] = {}
    for h in hits:
        k, kind = int(h[0]) if h[0] is not None else None, str(h[1])
        if k is None or kind.startswith("section"):
            continue
        bar = k // spb
        beat = int(round((k % spb) / STEPS_PER_BEAT))
        if beat >= bpb or abs(k % spb - beat * STEPS_PER_BEAT) > HIT_TOLERANCE_STEPS:
            continue
        if ending_bar is not None and bar + 1 >= ending_bar:
            continue
        if bar < n_bars and beat not in out.get(bar, ()):
            out[bar] = (*out.get(bar, ()), beat)
    return out


def _name(c: Chord) -> str:
    from videobgm.music.theory import chord_name

    return chord_name(c.root, c.quality)


def _chords_of(prog: Any, offset_16th: int = 0) -> list[Chord]:
    return [Chord(c.onset_16th + offset_16th, c.root, c.quality,
                  bass=b if 0 <= b != c.root else -1)
            for c, b in zip(prog.chords, prog.bass)]


def make_chords(sections: list[Section], n_bars: int, bpb: int, tonic: int, mode: str, mood: str,
                style: str, ref: Reference | None, hits: Any, ending_bar: int | None, seed: int,
                reasons: dict[str, str], *, model: Any = None,
                repeats: dict[int, int] | None = None) -> tuple[list[Chord], set[int]]:
    """The plan's chords and the steps of the hit points on which a chord starts.

    Sets ``reasons["chords"]`` (source, cadences, vocabulary; or why the fallback) and
    ``reasons["cadence"]`` (the final cadence, for the ending's reason). ``repeats`` (bar ->
    earlier bar, the melody's motif form :func:`videobgm.music.motif.layout`): those bars repeat the
    earlier bars' chords where the constraints allow (learned model only).
    """
    from videobgm.errors import InputError
    from videobgm.music.styles import harmony_vocabulary
    from videobgm.plan import form
    from videobgm.plan.chord_model import TONIC_QUALITIES, load
    from videobgm.plan.chord_sampling import sample_progression
    from videobgm.plan.controls import phrase_chords

    spb = bpb * STEPS_PER_BEAT
    hit3 = [(k, kind, "") for k, kind, *_ in hits]
    why_fallback = None
    if ref is None or not ref.chords or ref.n_bars <= 0:
        if model is None:
            try:
                model = load()
            except InputError as e:
                why_fallback = f"no harmony model: {e}"
    if model is None:  # a reference's progression, or the hand tables without the asset
        per_bar = phrase_chords(sections, n_bars, spb, tonic, mode, mood, style, ref, seed, reasons)
        early = form.chord_change_beats(hit3, per_bar, bpb, ending_bar)
        chords = []
        for b, (r, q) in enumerate(per_bar):
            at = b * spb if b - 1 not in early else (b - 1) * spb + early[b - 1] * STEPS_PER_BEAT
            chords.append(Chord(onset_16th=int(at), root=int(r), quality=q))
        if why_fallback:
            reasons["chords"] = f"hand tables (fallback, {why_fallback}): {reasons['chords']}"
        if early:
            reasons["chords"] += f"; {len(early)} chord change(s) moved onto a hit point's beat"
        return chords, {b * spb + j * STEPS_PER_BEAT for b, j in early.items()}

    periods, phrases, cad = harmony_layout(sections, n_bars)
    home = (tonic % 12, TONIC_QUALITIES[mode][0])
    fixed = {ending_bar: home} if ending_bar is not None else {}
    changes = _change_beats(hit3, n_bars, bpb, ending_bar)
    vocab = harmony_vocabulary(mood, style)
    prog = sample_progression(model, n_bars, beats_per_bar=bpb, mode=mode, tonic=tonic,
                              sections=periods, phrases=phrases, cadences=cad, fixed=fixed,
                              change_beats=changes, vocabulary=vocab, seed=seed, repeats=repeats)
    chords = _chords_of(prog)
    onsets = {c.onset_16th for c in chords}
    placed = {k for k, kind, _ in hit3  # hit points on a beat where a chord starts
              if k is not None and not str(kind).startswith("section") and k in onsets and k % spb}
    reasons["chords"] = (f"learned ({prog.source}): {prog.reason}; {len(periods)} period(s) over "
                         f"{len(phrases)} phrase(s)"
                         + (f"; {len(placed)} chord change(s) on a hit point's beat" if placed else "")
                         + ("; " + "; ".join(prog.notes) if prog.notes else ""))
    if ending_bar is not None and len(chords) >= 2:
        tail = [c for c in chords if c.onset_16th < ending_bar * spb][-2:]
        names = " - ".join(_name(c) for c in tail) + f" - {_name(chords[-1])}"
        reasons["chords"] += "; ending: authentic cadence, tonic held in the last bar"
        reasons["cadence"] = f"authentic ({names})"
    else:
        reasons["cadence"] = ""
    return chords, placed


def _sounding(chords: list[Chord], step: int) -> Chord | None:
    at = [c for c in chords if c.onset_16th <= step]
    return at[-1] if at else None


def regenerate_chords(plan: Plan, bars: tuple[int, int], seed: int, *, model: Any = None) -> Plan:
    """``plan`` with the chords of bars ``[a, b)`` re-sampled (seed ``seed``) by the learned
    model, continuing the chords before ``a`` and leading into those from ``b`` on; the same
    cadences, hit-point changes, held final tonic and vocabulary as :func:`make_chords`.
    A plan whose chords did not come from the learned model (a reference's progression, the
    fallback hand tables) and a plan without the harmony asset are returned unchanged."""
    from videobgm.errors import InputError
    from videobgm.music.styles import harmony_vocabulary
    from videobgm.plan.chord_model import TONIC_QUALITIES, load
    from videobgm.plan.chord_sampling import sample_progression

    c = plan.controls
    a, b = int(bars[0]), int(bars[1])
    n_bars, bpb = int(c.n_bars), int(c.beats_per_bar)
    if not 0 <= a < b <= n_bars or not plan.reasons.get("chords", "").startswith("learned"):
        return plan
    if model is None:
        try:
            model = load()
        except InputError:
            return plan
    spb = bpb * STEPS_PER_BEAT
    periods, phrases, cad = harmony_layout(plan.sections, n_bars)

    def clip(spans: list) -> list:
        out = []
        for s in spans:
            lo, hi = max(s[0], a), min(s[1], b)
            if lo < hi:
                out.append((lo - a, hi - a, *s[2:]))
        return out

    old = sorted(c.chords, key=lambda x: x.onset_16th)
    before = [x for x in old if x.onset_16th < a * spb][-2:]
    after_at = _sounding(old, b * spb) if b < n_bars else None
    after = ([after_at] + [x for x in old if x.onset_16th > b * spb][:1]) if after_at else []
    fixed = {}
    if c.ending_bar is not None and a <= c.ending_bar < b:
        fixed[c.ending_bar - a] = (int(c.key_tonic) % 12, TONIC_QUALITIES[c.mode][0])
    changes = {k - a: v for k, v in _change_beats(c.hits, n_bars, bpb, c.ending_bar).items()
               if a <= k < b}
    span_cad = {k - a: v for k, v in cad.items() if a <= k < b}
    if cad.get(b) == "authentic" and b - 1 - a not in span_cad:
        span_cad[b - 1 - a] = "half"  # the kept cadence's I needs its V at the span's end
    prog = sample_progression(model, b - a, beats_per_bar=bpb, mode=c.mode, tonic=c.key_tonic,
                              sections=clip(periods), phrases=clip(phrases), cadences=span_cad,
                              fixed=fixed, change_beats=changes, context_before=before,
                              context_after=after, seed=seed,
                              vocabulary=harmony_vocabulary(plan.mood, plan.style))
    new = _chords_of(prog, a * spb)
    kept_after = [x for x in old if x.onset_16th >= b * spb]
    if after_at is not None and (not kept_after or kept_after[0].onset_16th != b * spb):
        kept_after.insert(0, dataclasses.replace(after_at, onset_16th=b * spb))
    chords = [x for x in old if x.onset_16th < a * spb] + new + kept_after
    reasons = dict(plan.reasons)
    reasons["chords"] = (reasons.get("chords", "") + f"; bars {a}-{b - 1} re-sampled (seed {seed}) "
                         f"between their neighbours: {prog.reason}")
    return dataclasses.replace(plan, controls=dataclasses.replace(c, chords=chords),
                               reasons=reasons)
