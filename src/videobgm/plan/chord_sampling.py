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

A :class:`~videobgm.plan.chord_vocab.Vocabulary` (``vocabulary=``, per mood/style) is one more
expert in the product: per-chord log-weights on every event, a log-weight on semitone root
motion folded into the trigram, a log-weight per change in the harmonic rhythm, and optionally
a tonic pedal in the bass. ``change_beats`` (bar -> beat, e.g. hit points) forces a chord change
on that beat where the bar is free (not a cadence or fixed bar).

Constraints that contradict each other (a cadence whose V-slot is a fixed non-V chord) are
dropped one by one, fixed chords last, and each drop is named in ``Progression.notes``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videobgm.errors import OptionError
from videobgm.plan.chord_corpus import (
    BOS,
    QUALITIES,
    V,
    bar_positions,
    split_phrases,
    symbol,
    unsymbol,
)
from videobgm.plan.chord_model import (
    CADENCES,
    DOMINANT_QUALITIES,
    TONIC_QUALITIES,
    HarmonyModel,
    Progression,
    degree_set,
)
from videobgm.plan.chord_vocab import Vocabulary
from videobgm.types import MODES, STEPS_PER_BEAT, Chord


def _sections(sections: list | None, n_bars: int) -> list[tuple[int, int, str]]:
    if not sections:
        return [(0, n_bars, "verse")]
    out = []
    for s in sections:
        a, z, r = (s.start_bar, s.end_bar, s.label) if hasattr(s, "start_bar") else s
        if not 0 <= int(a) < int(z) <= n_bars:
            raise OptionError(f"section bars [{a}, {z}) outside the piece's {n_bars} bars")
        out.append((int(a), int(z), str(r)))
    return out


def _rel(chord: Any, tonic: int) -> int:
    """Key-relative symbol of a Chord or ``(root, quality)`` pair."""
    root, q = (chord.root, chord.quality) if hasattr(chord, "root") else chord
    if q not in QUALITIES or not 0 <= int(root) < 12:
        raise OptionError(f"fixed/context chord {chord!r}: needs a root 0..11 and a quality in "
                          f"{', '.join(QUALITIES)}")
    return symbol((int(root) - tonic) % 12, q)


def _check(n_bars: int, beats_per_bar: int, mode: str, max_changes: int) -> None:
    if n_bars < 1:
        raise OptionError(f"a progression needs at least 1 bar, got {n_bars}")
    if not 1 <= beats_per_bar <= 12:
        raise OptionError(f"beats per bar must be 1..12, got {beats_per_bar}")
    if mode not in MODES:
        raise OptionError(f"unknown mode {mode!r}; accepted: {', '.join(MODES)}")
    if max_changes < 1:
        raise OptionError(f"max_changes must be >= 1, got {max_changes}")


def _cadence_bars(sections, phrases, cadences, n_bars) -> dict[int, str]:
    """Bar -> cadence kind: half at every phrase end, authentic at every section end (default)."""
    out: dict[int, str] = {}
    ends = {z - 1 for _, z, _ in sections}
    for _, z in phrases:
        out[z - 1] = "authentic" if z - 1 in ends else "half"
    for b in ends:
        out[b] = "authentic"
    for b, kind in (cadences or {}).items():
        if kind is not None and kind not in CADENCES:
            raise OptionError(f"unknown cadence {kind!r}; accepted: {', '.join(CADENCES)} or None")
        if not 0 <= int(b) < n_bars:
            raise OptionError(f"cadence bar {b} outside the piece's {n_bars} bars")
        if kind is None:
            out.pop(int(b), None)
        else:
            out[int(b)] = kind
    return out


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
        Per-mood/style tilt (:mod:`videobgm.plan.chord_vocab`); None = the learned model as is.
    change_beats : dict bar -> beat or tuple of beats, optional
        A chord change on that beat of that bar (hit points), unless the bar is a cadence or
        fixed bar or the bar would change more than ``max_changes`` times; each one left out is
        named in ``Progression.notes``.
    repeats : dict bar -> earlier bar, optional
        That bar repeats the earlier bar's harmonic rhythm, chords and basses (the melody's motif
        form, :func:`videobgm.music.motif.layout`), where neither is a cadence, fixed or hit-change
        bar and the repeat keeps every other constraint satisfiable (a second, exact pass with
        the earlier bars' chords fixed); each repeat left out is counted in ``Progression.notes``.
    """
    _check(n_bars, beats_per_bar, mode, max_changes)
    tonic = int(tonic) % 12
    secs = _sections(sections, n_bars)
    phr = phrases if phrases is not None else split_phrases(secs, phrase_bars)
    pos, role = bar_positions(n_bars, secs, phr)
    cad = _cadence_bars(secs, phr, cadences, n_bars)
    fix = {int(b): _rel(c, tonic) for b, c in (fixed or {}).items()}
    for b in fix:
        if not 0 <= b < n_bars:
            raise OptionError(f"fixed bar {b} outside the piece's {n_bars} bars")
    before = [_rel(c, tonic) for c in (context_before or []) if c.quality != "N"]
    after = [_rel(c, tonic) for c in (context_after or []) if c.quality != "N"][:2]
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    voc_ = vocabulary
    if voc_ is not None:
        max_changes = min(max_changes, voc_.max_changes)

    # 1. harmonic rhythm
    bpb = beats_per_bar
    n_masks = 1 << bpb
    n_on = np.array([bin(m).count("1") for m in range(n_masks)])
    ok = n_on <= max_changes
    tilt = np.exp(voc_.change * n_on) if voc_ is not None and voc_.change else 1.0
    forced: dict[int, int] = {}  # bar -> bit mask of the beats that must change
    for b, js in sorted((change_beats or {}).items()):
        b = int(b)
        for j in sorted({int(x) for x in (js if isinstance(js, (tuple, list, set)) else (js,))}):
            if not (0 <= b < n_bars and 0 <= j < bpb):
                continue
            m = forced.get(b, 1 if b == 0 else 0) | 1 << j
            if b in fix or b in cad:
                notes.append(f"no chord change on beat {j + 1} of bar {b}: a cadence or fixed bar")
            elif bin(m).count("1") > max_changes:
                notes.append(f"no chord change on beat {j + 1} of bar {b}: at most {max_changes} "
                             "changes per bar")
            else:
                forced[b] = m
    events: list[tuple[int, int]] = []  # (bar, beat)
    rep_ = {int(t): int(j) for t, j in (repeats or {}).items() if 0 <= int(j) < int(t) < n_bars
            and not {int(t), int(j)} & (set(fix) | set(cad) | set(forced))}
    masks: dict[int, int] = {}
    for b in range(n_bars):
        if b in rep_:  # the earlier bar's rhythm; at the start of a repeated run the chord the
            # earlier bar holds is restated on the downbeat (inside a run it is held on as there)
            run_start = rep_.get(b - 1) != rep_[b] - 1
            mask = masks[rep_[b]] | (1 if run_start and rep_[b] > 0 and n_on[masks[rep_[b]] | 1] <= max_changes else 0)
        elif b in fix or b in cad:
            held = b in fix and b - 1 in fix and fix[b - 1] == fix[b]
            mask = 0 if held else 1
        else:
            p = model.rhythm(bpb, role[b], pos[b]) * ok * tilt
            if b == 0:
                p = p * (np.arange(n_masks) & 1).astype(bool)
            if b in forced:
                p = p * ((np.arange(n_masks) & forced[b]) == forced[b])
            mask = int(rng.choice(n_masks, p=p / p.sum()))
        masks[b] = mask
        events += [(b, j) for j in range(bpb) if mask >> j & 1]

    # 2. allowed symbols per event
    dom = degree_set(7, DOMINANT_QUALITIES)
    ton = degree_set(0, TONIC_QUALITIES[mode])
    allowed = [np.ones(V, dtype=bool) for _ in events]
    first = {b: i for i, (b, j) in reversed(list(enumerate(events)))}
    for i, (b, j) in enumerate(events):
        if j == 0 and b in fix:
            allowed[i] = np.zeros(V, dtype=bool)
            allowed[i][fix[b]] = True
    soft: list[tuple[str, int, np.ndarray]] = []  # (what, event, set), dropped on conflict
    for b, kind in sorted(cad.items()):
        if b not in first:
            continue
        i = first[b]
        if kind == "half" and b not in fix:
            soft.append((f"half cadence in bar {b}", i, dom))
        elif kind == "authentic":
            if b in fix and not ton[fix[b]]:
                notes.append(f"authentic cadence in bar {b} left out: the bar is fixed to a non-tonic chord")
                continue
            if b not in fix:
                soft.append((f"authentic cadence (I) in bar {b}", i, ton))
            if i > 0:
                soft.append((f"authentic cadence (V before I) in bar {b}", i - 1, dom))
            elif before and not dom[before[-1]]:
                notes.append(f"authentic cadence in bar {b}: the chord before the span is not V")
    for what, i, s in soft:
        if (allowed[i] & s).any():
            allowed[i] = allowed[i] & s
        else:
            notes.append(f"{what} dropped: it contradicts a fixed chord")

    ctx = [(role[b], "mid" if pos[b] == "start" and j else pos[b]) for b, j in events]
    # P(no chord change on the downbeat after the span), for context_after
    q = model.rhythm(bpb, role[-1], "start")
    hold = float(q[0::2].sum())
    init = (before[-2] if len(before) > 1 else BOS, before[-1] if before else BOS)
    bias = voc_.chord_log_weights(mode) if voc_ is not None else None
    motion = voc_.motion_log_weights() if voc_ is not None else None
    extra = voc_.boosted(mode) if voc_ is not None else []
    try:
        syms = _sample_chain(model, mode, ctx, allowed, init, after, rng, hold, bias, motion, extra)
    except ValueError:
        notes.append("cadences dropped: the fixed chords and cadences cannot all be met")
        allowed = [np.ones(V, dtype=bool) for _ in events]
        for i, (b, j) in enumerate(events):
            if j == 0 and b in fix:
                allowed[i] = np.zeros(V, dtype=bool)
                allowed[i][fix[b]] = True
        syms = _sample_chain(model, mode, ctx, allowed, init, after, rng, hold, bias, motion, extra)
    pairs = repeat_pairs(events, rep_)
    if pairs:  # 2b. the repeats, bar by bar where they keep every constraint satisfiable: the
        # earlier bars' chords fixed as sampled, the repeating bars' equal to them
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
                _sample_chain(model, mode, ctx, al2, init, after, np.random.default_rng(0), hold,
                              bias, motion, extra)
            except ValueError:
                continue
            kept = trial
        dropped = len(rep_) - len({events[t][0] for t, _ in kept})
        pairs = kept
        if pairs:
            syms = _sample_chain(model, mode, ctx, constrained(pairs), init, after, rng, hold, bias,
                                 motion, extra)
        if dropped:
            notes.append(f"{dropped} repeated bar(s) of the motif form left free: their chords "
                         "would break a constraint")

    # 3. bass
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
    n_pedal = 0
    if voc_ is not None and voc_.pedal == "tonic":
        # a tonic pedal from each phrase's start up to its cadence (the cadence's V and I keep
        # their learned bass)
        cad_v = {b - 1 for b, k in cad.items() if k == "authentic"}
        pedal_bars = {b for a, z in phr for b in range(a, z - 1) if b not in cad and b not in cad_v}
        for i, (b, _j) in enumerate(events):
            if b in pedal_bars and b not in fix:
                n_pedal += bass[i] != tonic
                bass[i] = tonic
    n_forced = sum(bin(m & ~1 if b == 0 else m).count("1") for b, m in forced.items())
    n_auth = sum(1 for k in cad.values() if k == "authentic")
    n_half = sum(1 for k in cad.values() if k == "half")
    ppl = model.meta.get("perplexity", {}).get("test")
    reason = (f"POP909 chord trigram ({mode}, seed {seed}; {len(chords) / n_bars:.2f} chords/bar)"
              f"; {n_auth} authentic and {n_half} half cadences by constrained sampling"
              + (f"; {len(fix)} fixed bars" if fix else "")
              + (f"; changes asked on {n_forced} hit beat(s)" if forced else "")
              + (f"; vocabulary {voc_.name} ({voc_.why})" if voc_ is not None and voc_ != Vocabulary()
                 else "")
              + (f"; tonic pedal under {n_pedal} chords" if n_pedal else "")
              + (f"; held-out perplexity {ppl:.1f}" if ppl else ""))
    return Progression(chords=chords, bass=bass, source="pop909-ngram", reason=reason, notes=notes)


def repeat_pairs(events: list[tuple[int, int]], repeats: dict[int, int]) -> list[tuple[int, int]]:
    """(event, earlier event it repeats) for the events of repeating bars, beat by beat (a
    repeating bar's downbeat restates the chord an earlier bar without a downbeat change holds)."""
    at = {e: i for i, e in enumerate(events)}
    out = []
    for i, (b, j) in enumerate(events):
        if b not in repeats:
            continue
        src = (repeats[b], j)
        if src in at:
            out.append((i, at[src]))
        elif j == 0:  # the earlier bar holds the chord before it: that chord
            before = [k for k, e in enumerate(events) if e < src]
            if before:
                out.append((i, before[-1]))
    return out


def _sample_chain(model: HarmonyModel, mode: str, ctx: list[tuple[str, str]],
                  allowed: list[np.ndarray], init: tuple[int, int], after: list[int],
                  rng: np.random.Generator, hold: float, bias: np.ndarray | None = None,
                  motion: np.ndarray | None = None, extra: list[int] | tuple = ()) -> list[int]:
    """Backward filtering, forward sampling of the tilted trigram under per-event allowed sets,
    over the model's sampling vocabulary plus every symbol the constraints, contexts or the
    vocabulary's favoured chords (``extra``) name. ``bias`` (V,): per-chord log-weights;
    ``motion`` (V, V): log-weights of transitions ``b -> c`` folded into the trigram."""
    named = {s for s in (*init, *after, *extra) if s != BOS}
    for al in allowed:
        if al.sum() < V:
            named |= set(np.flatnonzero(al).tolist())
    voc = np.array(sorted(set(model.vocabulary(mode).tolist()) | named))
    k = voc.size
    pos = {int(s): i for i, s in enumerate(voc)}
    pos[BOS] = k
    rows = np.append(voc, BOS)
    p3 = model.trigram(mode)[np.ix_(rows, rows, voc)]
    if motion is not None:
        m = np.ones((k + 1, k))
        m[:k] = np.exp(motion[np.ix_(voc, voc)])
        p3 = p3 * m[None, :, :]
    p3 /= p3.sum(-1, keepdims=True)
    p3t = np.ascontiguousarray(p3.transpose(1, 0, 2))  # (b, a, c)
    flat = p3.reshape(-1, k)
    al = [a[voc] for a in allowed]
    tilt = np.exp(bias[voc]) if bias is not None else 1.0
    weights = {c: model.context_weight(mode, *c)[voc] * tilt for c in set(ctx)}
    z = {c: (flat @ w).reshape(k + 1, k + 1) for c, w in weights.items()}
    beta = np.ones((k + 1, k + 1))  # beta[a, b] after the last event: P(context_after | a, b)
    if after:
        x = pos[after[0]]
        y = pos[after[1]] if len(after) > 1 else None
        beta = p3[:, :, x].copy()
        if y is not None:
            beta = beta * p3[:, x, y][None, :]
        # a span ending on the chord that follows holds into it, as often as a bar line keeps
        # its chord in the data (the rhythm table's masks without a downbeat change)
        beta *= 1.0 - hold
        beta[:, x] = hold * (p3[:, x, y] if y is not None else 1.0)
    betas = [beta]
    for t in range(len(ctx) - 1, -1, -1):
        g = weights[ctx[t]] * al[t] * beta[:, :k]  # (b, c) for the next state (b, c)
        num = np.matmul(p3t, g[:, :, None])[..., 0].T  # (a, b)
        beta = num / z[ctx[t]]
        m = beta.max()
        if not m > 0:
            raise ValueError("constraints cannot be met")
        beta = beta / m
        betas.append(beta)
    betas.reverse()  # betas[t] = before event t; betas[n] = after the last
    a, b = pos[init[0]], pos[init[1]]
    if not betas[0][a, b] > 0:
        raise ValueError("constraints cannot be met from the context")
    out = []
    for t in range(len(ctx)):
        p = p3[a, b] * weights[ctx[t]] * al[t] * betas[t + 1][b, :k]
        c = int(rng.choice(k, p=p / p.sum()))
        out.append(int(voc[c]))
        a, b = b, c
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
    _check(n_bars, beats_per_bar, mode, 1)
    tonic = int(tonic) % 12
    secs = _sections(sections, n_bars)
    phr = phrases if phrases is not None else split_phrases(secs, phrase_bars)
    cad = _cadence_bars(secs, phr, None, n_bars)
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
        per_bar[int(b)] = unsymbol(_rel(c, tonic))
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

