"""Constrained sampling of a :class:`~videobgm.plan.chord_model.HarmonyModel` over a phrase layout.

:func:`plan_progression` is the planner's entry point: the learned model when its asset loads,
else :func:`fallback_progression` (a hand table, with the reason). :func:`sample_progression`
(= ``HarmonyModel.sample``) does the work:

1. harmonic rhythm: per bar a change mask from ``P(mask | meter, role, bar position)`` (at most
   ``max_changes`` changes; bar 0 starts with a chord; a cadence or fixed bar is one chord);
2. chords: the trigram (tilted per event by role and position) sampled *exactly* under the
   constraints - fixed chords, V on a half cadence's last bar, I on an authentic cadence's last
   bar with V as the chord before, and the chords of ``context_after`` - by a backward pass
   (``beta_t(a, b)`` = probability of meeting every constraint from event ``t`` on, given the
   trigram state) and forward sampling with ``P(c | a, b) * beta_{t+1}(b, c)``;
3. bass: an inversion per chord from ``P(inv | chord, next chord)``.

A :class:`~videobgm.music.styles.Vocabulary` (``vocabulary=``, per mood/style) is one more
expert in the product: per-chord log-weights on every event, a log-weight on semitone root
motion folded into the trigram, a log-weight per change in the harmonic rhythm, and optionally
a tonic pedal in the bass. ``change_beats`` (bar -> beat, e.g. hit points) forces a chord change
on that beat where the bar is free (not a cadence or fixed bar).

Constraints that contradict each other (a cadence whose V-slot is a fixed non-V chord) are
dropped one by one, fixed chords last, and each drop is named in ``Progression.notes``.

The constraints are built by :mod:`videobgm.plan.chord_constraints`; the exact pass is
:func:`videobgm.plan.chord_chain.sample_chain`. This module runs the steps in order (harmonic
rhythm, constraints, the exact pass, the motif repeats pass, bass, the reason).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videobgm.music.styles import Vocabulary
from videobgm.plan.chord_chain import ChainContext
from videobgm.plan.chord_constraints import (
    allowed_sets,
    cadence_bars,
    check_arguments,
    fixed_sets,
    fixed_symbols,
    forced_changes,
    relative_symbol,
    repeat_mask,
    section_roles,
    valid_repeats,
)
from videobgm.plan.chord_corpus import BOS, V, bar_positions, split_phrases, unsymbol
from videobgm.plan.chord_model import TONIC_QUALITIES, HarmonyModel, Progression
from videobgm.plan.chord_vocab import boosted, chord_log_weights, motion_log_weights
from videobgm.types import STEPS_PER_BEAT, Chord


def progression(model: HarmonyModel, n_bars: int, **kw: Any) -> list[Chord]:
    """Chords only (``Progression.chords``) of :func:`sample_progression`."""
    return sample_progression(model, n_bars, **kw).chords


def sample_progression(model: HarmonyModel, n_bars: int, *, beats_per_bar: int = 4,
                       mode: str = "major", tonic: int = 0, sections: list | None = None,
                       phrases: list[tuple[int, int]] | None = None, phrase_bars: int = 4,
                       cadences: dict[int, str | None] | None = None,
                       fixed: dict[int, Any] | None = None,
                       context_before: list[Chord] | None = None,
                       context_after: list[Chord] | None = None, max_changes: int = 2,
                       seed: int = 0, vocabulary: Vocabulary | None = None,
                       change_beats: dict[int, int | tuple[int, ...]] | None = None,
                       repeats: dict[int, int] | None = None) -> Progression:
    """Sample ``n_bars`` bars of chords from ``model``.

    Parameters
    ----------
    sections : list of Section or (start_bar, end_bar, role), optional
        Roles are :data:`~videobgm.plan.chord_model.ROLES` (an unknown role uses the role-free tables).
        Default: one ``verse`` over all bars.
    phrases : list of (start_bar, end_bar), optional
        Default: ``phrase_bars``-bar phrases inside each section.
    cadences : dict bar -> "authentic" | "half" | None, optional
        Overrides of the default (half cadence on every phrase's last bar, authentic on every
        section's last bar); ``None`` removes the cadence of that bar.
    fixed : dict bar -> Chord or (root, quality), optional
        That bar holds that chord (absolute pitch classes), e.g. a held final tonic or a chord on
        a hit point.
    context_before, context_after : list of Chord, optional
        Chords just before / after the span (absolute roots): the span continues the former and
        leads into the first two of the latter.
    seed : int
        Same arguments and seed, same progression.
    vocabulary : Vocabulary, optional
        Per-mood/style tilt (:mod:`videobgm.music.styles`); None = the learned model as is.
    change_beats : dict bar -> beat or tuple of beats, optional
        A chord change on that beat of that bar (hit points), unless the bar is a cadence or
        fixed bar or the bar would change more than ``max_changes`` times; each one left out is
        named in ``Progression.notes``.
    repeats : dict bar -> earlier bar, optional
        That bar repeats the earlier bar's harmonic rhythm, chords and basses (the melody's motif
        form, :func:`videobgm.music.motif.layout`), where neither is a fixed bar, the repeating
        bar is no cadence (an earlier cadence bar may be repeated inside a phrase) and the
        repeat keeps every other constraint satisfiable (a second, exact pass with the earlier
        bars' chords fixed); each repeat left out is counted in ``Progression.notes``. A hit
        change in either bar is kept: the repeating bar changes on its hit beat too (a chord of
        its own there, the earlier bar's around it).
    """
    check_arguments(n_bars, beats_per_bar, mode, max_changes)
    tonic = int(tonic) % 12
    secs = section_roles(sections, n_bars)
    phr = phrases if phrases is not None else split_phrases(secs, phrase_bars)
    pos, role = bar_positions(n_bars, secs, phr)
    cad = cadence_bars(secs, phr, cadences, n_bars)
    fix = fixed_symbols(fixed, tonic, n_bars)
    before = [relative_symbol(c, tonic) for c in (context_before or []) if c.quality != "N"]
    after = [relative_symbol(c, tonic) for c in (context_after or []) if c.quality != "N"][:2]
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    if vocabulary is not None:
        max_changes = min(max_changes, vocabulary.max_changes)

    # 1. harmonic rhythm (the chord events), 2. the constraints on each event
    forced = forced_changes(change_beats, n_bars, beats_per_bar, fix, cad, max_changes, notes)
    rep0 = valid_repeats(repeats, n_bars, fix, cad)
    # 1-3 again where a repeat just before an authentic cadence was left out ("V before I"):
    # then that bar takes the dominant on its middle beat (:func:`_dominant_approach`)
    approach: set[int] = set()
    notes0 = list(notes)
    best = None
    for _try in range(2):
        rng = np.random.default_rng(seed)
        notes = list(notes0)
        rep_ = dict(rep0)
        events = _harmonic_rhythm(model, n_bars, beats_per_bar, role, pos, fix, cad, forced, rep_,
                                  max_changes, vocabulary, rng, approach)
        allowed = allowed_sets(events, fix, cad, mode, before, notes)
        chain = _chain_context(model, mode, beats_per_bar, role, pos, events, before, after,
                               vocabulary)
        # 3. the chords: the exact pass, then the motif's repeats where they keep the constraints
        syms = _exact_pass(chain, allowed, events, fix, rng, notes)
        syms, pairs = _repeats_pass(chain, allowed, events, rep_, syms, rng, notes, forced)
        kept = {events[t][0] for t, _ in pairs}
        if best is None or len(kept) > best[0]:  # (the plain repeat on a tie)
            best = (len(kept), rng, notes, rep_, events, syms, pairs)
        dropped = {events[t][0] for t, _ in repeat_pairs(events, rep_, forced)} - kept
        approach = {b for b in rep_ if dropped & {b - 1, b} and cad.get(b + 1) == "authentic"
                    and b + 1 not in rep_ and cad.get(rep_[b] + 1) != "authentic"}
        if _try or not approach:
            break
    _, rng, notes, rep_, events, syms, pairs = best
    # 4. bass
    chords, bass = _basses(model, mode, tonic, beats_per_bar, events, syms, after, pairs, rng)
    n_pedal = _tonic_pedal(vocabulary, cad, phr, fix, events, bass, tonic)
    reason = _reason(model, mode, seed, len(chords), n_bars, cad, fix, forced, vocabulary, n_pedal)
    return Progression(chords=chords, bass=bass, source="pop909-ngram", reason=reason, notes=notes)


def _harmonic_rhythm(model: HarmonyModel, n_bars: int, bpb: int, role: list, pos: list,
                     fix: dict[int, int], cad: dict[int, str], forced: dict[int, int],
                     rep_: dict[int, int], max_changes: int, voc_: Vocabulary | None,
                     rng: np.random.Generator,
                     approach: set[int] | None = None) -> list[tuple[int, int]]:
    """The (bar, beat) chord events: per bar a change mask drawn from ``P(mask | meter, role,
    bar position)`` (bar 0 starts with a chord; a cadence or fixed bar is one chord; a repeated
    bar takes the earlier bar's mask; forced beats change; a repeated bar in ``approach`` adds
    the change of :func:`_dominant_approach`)."""
    n_masks = 1 << bpb
    n_on = np.array([bin(m).count("1") for m in range(n_masks)])
    ok = n_on <= max_changes
    tilt = np.exp(voc_.change * n_on) if voc_ is not None and voc_.change else 1.0
    events: list[tuple[int, int]] = []  # (bar, beat)
    masks: dict[int, int] = {}
    for b in range(n_bars):
        mask = None
        if b in rep_:  # the earlier bar's rhythm; at the start of a repeated run the chord the
            # earlier bar holds is restated on the downbeat (inside a run it is held on as there);
            # a hit beat changes there too
            run_start = rep_.get(b - 1) != rep_[b] - 1
            extra = _dominant_approach(masks[rep_[b]], bpb) if b in (approach or ()) else 0
            if extra:
                mask = repeat_mask(masks[rep_[b]], run_start, rep_[b], forced.get(b, 0) | extra,
                                   max_changes)
            if mask is None:
                mask = repeat_mask(masks[rep_[b]], run_start, rep_[b], forced.get(b, 0), max_changes)
            if mask is None:
                del rep_[b]  # the bar's own rhythm (its chords are free)
        if mask is None and (b in fix or b in cad):
            held = b in fix and b - 1 in fix and fix[b - 1] == fix[b]
            mask = 0 if held else 1
        elif mask is None:
            p = model.rhythm(bpb, role[b], pos[b]) * ok * tilt
            if b == 0:
                p = p * (np.arange(n_masks) & 1).astype(bool)
            if b in forced:
                p = p * ((np.arange(n_masks) & forced[b]) == forced[b])
            mask = int(rng.choice(n_masks, p=p / p.sum()))
        masks[b] = mask
        events += [(b, j) for j in range(bpb) if mask >> j & 1]
    return events


def _dominant_approach(src_mask: int, bpb: int) -> int:
    """The change (bit mask of one beat, 0: none) that a repeating bar just before an authentic
    cadence adds for the cadence's dominant, where its statement bar led to no such cadence and
    the plain repeat could not keep "V before I" (it was left out: new chords under the whole
    restated bar, its melody adapted): the statement's chords hold on, the V comes on the bar's
    middle beat (after the statement's last change, ``src_mask``), as a restated phrase's
    approach to its cadence (ii/IV - V - I)."""
    if bpb < 2:
        return 0
    last = max((j for j in range(bpb) if src_mask >> j & 1), default=-1)
    beat = max(bpb // 2, last + 1)
    return 1 << beat if beat < bpb else 0


def _chain_context(model: HarmonyModel, mode: str, bpb: int, role: list, pos: list,
                   events: list[tuple[int, int]], before: list[int], after: list[int],
                   voc_: Vocabulary | None) -> ChainContext:
    """The sampling setting shared by the passes: each event's (role, position), the trigram
    state from ``before``, P(holding into ``after``) and the vocabulary's weights."""
    ctx = [(role[b], "mid" if pos[b] == "start" and j else pos[b]) for b, j in events]
    # P(no chord change on the downbeat after the span), for context_after
    q = model.rhythm(bpb, role[-1], "start")
    hold = float(q[0::2].sum())
    init = (before[-2] if len(before) > 1 else BOS, before[-1] if before else BOS)
    bias = chord_log_weights(voc_, mode) if voc_ is not None else None
    motion = motion_log_weights(voc_) if voc_ is not None else None
    extra = boosted(voc_, mode) if voc_ is not None else []
    return ChainContext(model, mode, ctx, init, after, hold, bias, motion, extra)


def _exact_pass(chain: ChainContext, allowed: list[np.ndarray], events: list[tuple[int, int]],
                fix: dict[int, int], rng: np.random.Generator, notes: list[str]) -> list[int]:
    """The chords under every constraint; where they cannot all be met, under the fixed chords
    only (the cadences dropped, named in ``notes``). ``allowed`` is narrowed in place then."""
    try:
        return chain.sample(allowed, rng)
    except ValueError:
        notes.append("cadences dropped: the fixed chords and cadences cannot all be met")
        allowed[:] = fixed_sets(events, fix)
        return chain.sample(allowed, rng)


def _repeats_pass(chain: ChainContext, allowed: list[np.ndarray], events: list[tuple[int, int]],
                  rep_: dict[int, int], syms: list[int], rng: np.random.Generator,
                  notes: list[str], forced: dict[int, int]) -> tuple[list[int], list[tuple[int, int]]]:
    """The motif's repeats, bar by bar where they keep every constraint satisfiable: the earlier
    bars' chords fixed as sampled, the repeating bars' equal to them (a second exact pass).
    Returns the chords and the kept (event, earlier event) pairs."""
    pairs = repeat_pairs(events, rep_, forced)
    if not pairs:
        return syms, pairs

    def constrained(ps: list[tuple[int, int]]) -> list[np.ndarray] | None:
        al2 = [a.copy() for a in allowed]
        for t, s_ in ps:
            ok_ = bool(allowed[t][syms[s_]] and allowed[s_][syms[s_]])
            if not ok_:
                return None
            for i in (t, s_):
                al2[i] = np.zeros(V, dtype=bool)
                al2[i][syms[s_]] = True
        return al2

    kept: list[tuple[int, int]] = []
    for b in sorted(rep_):
        trial = kept + [(t, s_) for t, s_ in pairs if events[t][0] == b]
        al2 = constrained(trial)
        if al2 is None:
            continue
        try:  # feasibility only (a throwaway generator: the draws stay the same)
            chain.sample(al2, np.random.default_rng(0))
        except ValueError:
            continue
        kept = trial
    # (a bar whose rhythm restates held chords only, or only a hit's own chord, has no pair)
    dropped = len({events[t][0] for t, _ in pairs} - {events[t][0] for t, _ in kept})
    pairs = kept
    if pairs:
        syms = chain.sample(constrained(pairs), rng)
    if dropped:
        notes.append(f"{dropped} repeated bar(s) of the motif form left free: their chords "
                     "would break a constraint")
    return syms, pairs


def _basses(model: HarmonyModel, mode: str, tonic: int, bpb: int, events: list[tuple[int, int]],
            syms: list[int], after: list[int], pairs: list[tuple[int, int]],
            rng: np.random.Generator) -> tuple[list[Chord], list[int]]:
    """The chords (absolute roots) and an inversion per chord from ``P(inv | chord, next chord)``;
    a repeated bar keeps its model's bass."""
    bt = model.bass_table(mode)
    rep_src = dict(pairs)
    chords, bass = [], []
    for i, ((b, j), s) in enumerate(zip(events, syms)):
        nxt = syms[i + 1] if i + 1 < len(syms) else (after[0] if after else BOS)
        p = bt[s, nxt]
        inv = int(rng.choice(12, p=p / p.sum()))
        deg, q = unsymbol(s)
        src = rep_src.get(i)
        if src is not None:  # a repeated bar keeps its model's bass too
            inv = (bass[src] - tonic - deg) % 12
        chords.append(Chord(onset_16th=(b * bpb + j) * STEPS_PER_BEAT, root=(tonic + deg) % 12,
                            quality=q))
        bass.append((tonic + deg + inv) % 12)
    return chords, bass


def _tonic_pedal(voc_: Vocabulary | None, cad: dict[int, str], phr: list[tuple[int, int]],
                 fix: dict[int, int], events: list[tuple[int, int]], bass: list[int],
                 tonic: int) -> int:
    """A vocabulary's tonic pedal from each phrase's start up to its cadence (the cadence's V
    and I keep their learned bass), in ``bass`` in place; returns how many basses it changed."""
    n_pedal = 0
    if voc_ is not None and voc_.pedal == "tonic":
        cad_v = {b - 1 for b, k in cad.items() if k == "authentic"}
        pedal_bars = {b for a, z in phr for b in range(a, z - 1) if b not in cad and b not in cad_v}
        for i, (b, _j) in enumerate(events):
            if b in pedal_bars and b not in fix:
                n_pedal += bass[i] != tonic
                bass[i] = tonic
    return n_pedal


def _reason(model: HarmonyModel, mode: str, seed: int, n_chords: int, n_bars: int,
            cad: dict[int, str], fix: dict[int, int], forced: dict[int, int],
            voc_: Vocabulary | None, n_pedal: int) -> str:
    n_forced = sum(bin(m & ~1 if b == 0 else m).count("1") for b, m in forced.items())
    n_auth = sum(1 for k in cad.values() if k == "authentic")
    n_half = sum(1 for k in cad.values() if k == "half")
    ppl = model.meta.get("perplexity", {}).get("test")
    return (f"POP909 chord trigram ({mode}, seed {seed}; {n_chords / n_bars:.2f} chords/bar)"
            f"; {n_auth} authentic and {n_half} half cadences by constrained sampling"
            + (f"; {len(fix)} fixed bars" if fix else "")
            + (f"; changes asked on {n_forced} hit beat(s)" if forced else "")
            + (f"; vocabulary {voc_.name} ({voc_.why})" if voc_ is not None and voc_ != Vocabulary()
               else "")
            + (f"; tonic pedal under {n_pedal} chords" if n_pedal else "")
            + (f"; held-out perplexity {ppl:.1f}" if ppl else ""))


def repeat_pairs(events: list[tuple[int, int]], repeats: dict[int, int],
                 forced: dict[int, int] | None = None) -> list[tuple[int, int]]:
    """(event, earlier event it repeats) for the events of repeating bars, beat by beat (a
    repeating bar's downbeat restates the chord an earlier bar without a downbeat change holds,
    unless a hit forces a change there: ``forced``, bar -> bit mask of beats; that chord is free)."""
    at = {e: i for i, e in enumerate(events)}
    out = []
    for i, (b, j) in enumerate(events):
        if b not in repeats:
            continue
        src = (repeats[b], j)
        if src in at:
            out.append((i, at[src]))
        elif j == 0 and not (forced or {}).get(b, 0) & 1:  # the earlier bar holds the chord before it
            before = [k for k, e in enumerate(events) if e < src]
            if before:
                out.append((i, before[-1]))
    return out


# --------------------------------------------------------------------------------------------
# fallback and the planner's entry point
# --------------------------------------------------------------------------------------------
_FALLBACK = {"major": ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),
             "minor": ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj"))}


def fallback_progression(n_bars: int, *, beats_per_bar: int = 4, mode: str = "major",
                         tonic: int = 0, sections: list | None = None,
                         phrases: list[tuple[int, int]] | None = None, phrase_bars: int = 4,
                         fixed: dict[int, Any] | None = None, reason: str = "") -> Progression:
    """Hand table (I vi IV V / i VI III VII per phrase, V on phrase ends, V-I on section ends),
    one chord per bar; used only when no model asset is available (``reason`` says why)."""
    check_arguments(n_bars, beats_per_bar, mode, 1)
    tonic = int(tonic) % 12
    secs = section_roles(sections, n_bars)
    phr = phrases if phrases is not None else split_phrases(secs, phrase_bars)
    cad = cadence_bars(secs, phr, None, n_bars)
    per_bar = [_FALLBACK[mode][0]] * n_bars
    for a, z in phr:
        for b in range(a, z):
            per_bar[b] = _FALLBACK[mode][(b - a) % 4]
    home = (0, TONIC_QUALITIES[mode][0])
    for b, kind in cad.items():
        per_bar[b] = (7, "maj") if kind == "half" else home
        if kind == "authentic" and b > 0:
            per_bar[b - 1] = (7, "maj")
    for b, c in (fixed or {}).items():
        per_bar[int(b)] = unsymbol(relative_symbol(c, tonic))
    chords: list[Chord] = []
    for b, (deg, q) in enumerate(per_bar):
        root = (tonic + deg) % 12
        if not chords or (chords[-1].root, chords[-1].quality) != (root, q):
            chords.append(Chord(b * beats_per_bar * STEPS_PER_BEAT, root, q))
    return Progression(chords=chords, bass=[c.root for c in chords], source="hand-table",
                       reason=f"hand table I vi IV V with cadences ({reason})")


def plan_progression(n_bars: int, *, model: HarmonyModel | None = None, **kw: Any) -> Progression:
    """The learned model's :func:`sample_progression` (``model`` or the shipped asset); the hand
    table of :func:`fallback_progression` when no asset loads (its reason names the error)."""
    from videobgm.errors import InputError
    from videobgm.plan.chord_model import load

    if model is None:
        try:
            model = load()
        except InputError as e:
            keep = {k: kw[k] for k in ("beats_per_bar", "mode", "tonic", "sections", "phrases",
                                       "phrase_bars", "fixed") if k in kw}
            return fallback_progression(n_bars, reason=f"no harmony model: {e}", **keep)
    return sample_progression(model, n_bars, **kw)

