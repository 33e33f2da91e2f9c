"""Semitone clashes between tracks: the accompaniment yields to the foreground (issue 19).

A minor second (or minor ninth) between two tracks is a colour that tense music places on
purpose and that calm music avoids. The model writes the melody and the counter-melody against
chords; the arranger writes the accompaniment and bass from the same chords; a melody's passing
or neighbour tone can still land a semitone from a held pad, strum or bass note. As an arranger
drops the voicing's tone that grinds against the tune, :func:`yield_to_foreground` shortens (or
drops) the lower-priority note wherever two tracks sound a semitone apart:

    melody, bass (standing) > bridge > piano     (drums are never touched)

* a lower note that started before the higher one is released at the higher note's onset and,
  when it was held past the higher note, returns (softer) where the higher note ends: the chord
  is not left thin for the rest of the bar;
* a lower note that starts while the higher one sounds moves to the nearest chord tone that
  clashes with nothing above it; with none, it is dropped, unless it is its track's only onset
  on a protected step (a hit point or accent: the cut must still be heard), which then stays
  as it is (an accent stroke is re-voiced like any other note first: its onset is what the cut
  needs, not its pitch);
* the melody is one voice: a melody note still sounding when its next note enters ends there
  where its tail would sound a semitone from another track (:func:`release_melody_tails`);
* in a tense idiom's *tension bars* (:func:`videobgm.compose.textures.tension_bar`) nothing is changed:
  there the semitone colour (b9 in the texture, the tonic pedal under the dominant) is the point.

Pure function of its inputs; a score without clashes comes back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from videobgm.types import Note

# the outer voices stand: the melody (foreground) and the bass (the chord's root: moving or
# dropping it unseated the harmony, chord accuracy 0.83 -> 0.57 on the pipeline test); the inner
# voices (the counter-melody, then the piano / pad / strum) yield to what sounds above them
PRIORITY: dict[str, int] = {"melody": 0, "bass": 1, "bridge": 2, "piano": 3}
STANDING = ("melody", "bass")  # never changed; the inner voices yield to both
RESUME_SOFTER = 12  # a held tone that returns after the clash comes back softer


def _semitone(a: int, b: int) -> bool:
    return (a - b) % 12 in (1, 11)


def yield_to_foreground(notes: list[Note], steps_per_bar: int, *, allowed_bars: Iterable[int] = (),
                        protected_steps: Iterable[int] = (), bars: tuple[int, int] | None = None,
                        chord_at: Callable[[int], set[int]] | None = None) -> list[Note]:
    """``notes`` with every semitone clash between tracks resolved in favour of the higher track.

    Parameters
    ----------
    allowed_bars
        Bars whose clashes stay (a tense idiom's tension bars).
    protected_steps
        Onsets that are never dropped (hit points, accents).
    bars
        Only clashes that begin in bars ``[a, b)`` are resolved (``None``: all).
    chord_at
        ``chord_at(step)`` -> the chord's pitch classes there: a note that would be dropped (or
        kept clashing on a protected step) is first re-voiced to the nearest chord tone (within a
        fourth) that clashes with nothing above it, as an arranger moves the voice rather than
        losing the chord.
    """
    allowed = set(int(b) for b in allowed_bars)
    protected = set(int(s) for s in protected_steps)
    lo_step = hi_step = None
    if bars is not None:
        lo_step, hi_step = bars[0] * steps_per_bar, bars[1] * steps_per_bar
    notes = release_melody_tails(notes, steps_per_bar, allowed, lo_step, hi_step)
    fixed: list[Note] = [n for n in notes if n.track not in PRIORITY]
    pitched = sorted((n for n in notes if n.track in PRIORITY),
                     key=lambda n: (PRIORITY[n.track], n.onset_16th, n.pitch))
    kept: list[Note] = []  # higher-priority notes first: each later note yields to these
    onsets: dict[tuple[str, int], int] = {}  # notes per (track, onset): a protected step keeps one
    for n in pitched:
        onsets[(n.track, n.onset_16th)] = onsets.get((n.track, n.onset_16th), 0) + 1
    queue = list(pitched)
    while queue:
        n = queue.pop(0)
        if n.track in STANDING:
            kept.append(n)
            continue
        start, end = n.onset_16th, n.onset_16th + n.duration_16th
        drop = False
        held_on_protected = False  # its track's only onset on a protected step, clashing
        resume: Note | None = None
        for h in kept:
            if PRIORITY[h.track] >= PRIORITY[n.track] or not _semitone(h.pitch, n.pitch):
                continue
            h0, h1 = h.onset_16th, h.onset_16th + h.duration_16th
            c0 = max(start, h0)
            if c0 >= min(end, h1):
                continue  # no overlap
            if c0 // steps_per_bar in allowed:
                continue
            if lo_step is not None and not (lo_step <= c0 < hi_step):
                continue
            if start < h0:
                if h1 < end and h1 - h0 < end - start:  # the held tone returns after the clash
                    resume = Note(h1, n.track, n.pitch, end - h1, max(1, n.velocity - RESUME_SOFTER))
                end = min(end, h0)  # released where the foreground note enters
            elif start not in protected or onsets.get((n.track, start), 0) > 1:
                drop = True
                break
            else:
                held_on_protected = True
        if (drop or held_on_protected) and chord_at is not None:
            moved = _revoice(n, chord_at(start), kept, queue, steps_per_bar)
            if moved is not None:
                queue.insert(0, moved)
                continue
        if drop:
            onsets[(n.track, start)] -= 1
            continue
        kept.append(n if end == n.onset_16th + n.duration_16th else
                    Note(n.onset_16th, n.track, n.pitch, max(1, end - start), n.velocity))
        if resume is not None and end < resume.onset_16th:
            key = (resume.track, resume.onset_16th)  # a new onset of its track
            onsets[key] = onsets.get(key, 0) + 1
            queue.insert(0, resume)
    return sorted(fixed + kept)


def release_melody_tails(notes: list[Note], steps_per_bar: int, allowed_bars: Iterable[int] = (),
                         lo_step: int | None = None, hi_step: int | None = None) -> list[Note]:
    """The melody is one voice: a melody note still sounding when the melody's next note enters
    ends there if the rest of it would sound a semitone from another track (an appoggiatura
    held on under its own resolution, against the bass's root). Pitches and onsets stay; only
    that overlapping tail goes. Tension bars (``allowed_bars``) and clashes outside
    ``[lo_step, hi_step)`` are left as they are."""
    allowed = set(int(b) for b in allowed_bars)
    mel = sorted((n for n in notes if n.track == "melody"), key=lambda n: (n.onset_16th, n.pitch))
    others = [n for n in notes if n.track in PRIORITY and n.track != "melody"]
    cut: dict[int, Note] = {}
    for i, a in enumerate(mel):
        nxt = next((b.onset_16th for b in mel[i + 1:] if b.onset_16th > a.onset_16th), None)
        end = a.onset_16th + a.duration_16th
        if nxt is None or nxt >= end or nxt // steps_per_bar in allowed:
            continue
        if lo_step is not None and not (lo_step <= nxt < hi_step):
            continue
        if any(_semitone(a.pitch, o.pitch) and o.onset_16th < end and nxt < o.onset_16th + o.duration_16th
               for o in others):
            cut[id(a)] = Note(a.onset_16th, a.track, a.pitch, nxt - a.onset_16th, a.velocity)
    return [cut.get(id(n), n) for n in notes] if cut else notes


def _revoice(n: Note, chord_pcs: set[int], kept: list[Note], queue: list[Note],
             steps_per_bar: int = 0) -> Note | None:
    """``n`` moved to the nearest chord tone within a fourth that no higher-priority note sounding
    with it clashes with and that its track does not already play at that onset; None if none.
    A tone its track already plays in the bar comes first (within the fourth): a figure (an
    ostinato's root and fifth, an arpeggio) keeps its pitches rather than gaining a new one."""
    start, end = n.onset_16th, n.onset_16th + n.duration_16th
    above = [h.pitch for h in kept if PRIORITY[h.track] < PRIORITY[n.track]
             and h.onset_16th < end and start < h.onset_16th + h.duration_16th]
    taken = {m.pitch for m in (*kept, *queue) if m.track == n.track and m.onset_16th == start}
    own: set[int] = set()
    if steps_per_bar > 0:
        bar = start // steps_per_bar
        own = {m.pitch % 12 for m in (*kept, *queue) if m.track == n.track
               and m.onset_16th // steps_per_bar == bar and m is not n}
    for d in sorted(range(-5, 6), key=lambda d: ((n.pitch + d) % 12 not in own, abs(d), d)):
        p = n.pitch + d
        if d and 0 <= p <= 127 and p % 12 in chord_pcs and p not in taken \
                and not any(_semitone(p, q) for q in above):
            return Note(start, n.track, p, n.duration_16th, n.velocity)
    return None


def clash_share(notes: list[Note], n_steps: int) -> float:
    """Share of sounding 16ths where two different pitched tracks sound pitch classes a semitone
    apart (``videobgm.eval.idioms.clash_rate`` measures a score with it)."""
    pcs: list[dict[str, set[int]]] = [{} for _ in range(n_steps)]
    for n in notes:
        if n.track == "drums":
            continue
        for s in range(max(0, n.onset_16th), min(n_steps, n.onset_16th + n.duration_16th)):
            pcs[s].setdefault(n.track, set()).add(n.pitch % 12)
    sounding = clash = 0
    for tr in pcs:
        if not tr:
            continue
        sounding += 1
        vals = list(tr.values())
        clash += any(_semitone(x, y) for i, a in enumerate(vals) for b in vals[i + 1:]
                     for x in a for y in b)
    return clash / sounding if sounding else 0.0


def resolve_score_clashes(score, plan, bars: tuple[int, int] | None = None):  # noqa: ANN001, ANN201
    """:func:`yield_to_foreground` on a composed score of ``plan`` (in place; returns it): the
    tension bars of the plan's style x mood idiom keep their clashes, the plan's hit points and
    accent steps keep their onsets."""
    import numpy as np

    from videobgm.compose import textures
    from videobgm.music import styles
    c = plan.controls
    spb = int(c.steps_per_bar)
    allowed: list[int] = []
    if plan.style in styles.STYLE_IDIOMS:
        idm = styles.idiom(plan.style, plan.mood)
        allowed = [b for b in range(int(c.n_bars)) if textures.tension_bar(c, idm, b)]
    protected = set(np.flatnonzero(np.asarray(c.accent_steps, dtype=bool)).tolist())
    protected |= {int(k) for k, _ in c.hits}
    from videobgm.compose.constraints import CHORD_INTERVALS

    chords = sorted(c.chords, key=lambda ch: ch.onset_16th)

    def chord_at(step: int) -> set[int]:
        ch = next((x for x in reversed(chords) if x.onset_16th <= step), None)
        if ch is None or ch.root < 0:
            return set()
        return {(ch.root + i) % 12 for i in CHORD_INTERVALS.get(ch.quality, (0, 4, 7))}

    score.notes = yield_to_foreground(list(score.notes), spb, allowed_bars=allowed,
                                      protected_steps=protected, bars=bars, chord_at=chord_at)
    return score
