"""Style idioms and texture measured from a Score (the notes, not the plan).

* idiom checks, one per style (:data:`CHECKS`): electronic four-on-the-floor, pop backbeat,
  acoustic strum / broken-chord pattern, ambient sustain without drums, cinematic ostinato or
  sustained strings with toms / timpani on the cuts;
* :func:`clash_rate` - share of sounding 16ths where two different tracks sound a semitone apart;
* :func:`texture_features` - 13 named features of the pitched notes (:data:`FEATURES`) for a
  texture distance standardised by a reference set (POP909 in ``bench/styles.py``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

import numpy as np

from videobgm.types import STEPS_PER_BEAT, Note, Score

KICKS = (35, 36)
SNARES = (38, 40)
TOMS = (41, 43, 45, 47, 48, 50)
ACCOMPANIMENT = "piano"
BACKBEAT_SHARE = 0.5  # share of bars with snare on 2 and 4
FOUR_FLOOR_SHARE = 0.8  # share of bars with a kick on every beat
PATTERN_SHARE = 0.5  # share of accompaniment bars with a strum / broken-chord pattern


def _bars(score: Score) -> int:
    """Bars that count: all but a final held bar (the ending chord)."""
    return max(1, score.n_bars - 1) if score.n_bars > 1 else score.n_bars


def _by_bar(notes: Iterable[Note], spb: int) -> dict[int, list[Note]]:
    out: dict[int, list[Note]] = defaultdict(list)
    for n in notes:
        out[n.onset_16th // spb].append(n)
    return out


def four_on_the_floor(score: Score) -> float:
    """Share of bars with a kick on every beat."""
    spb, bpb = score.steps_per_bar, score.beats_per_bar
    bars = _by_bar([n for n in score.notes if n.track == "drums" and n.pitch in KICKS], spb)
    nb = _bars(score)
    ok = sum(1 for b in range(nb) if {n.onset_16th % spb for n in bars.get(b, [])}
             >= {k * STEPS_PER_BEAT for k in range(bpb)})
    return ok / nb


def backbeat(score: Score) -> float:
    """Share of bars with a snare on beats 2 and 4 (every other beat from 2 in other metres)."""
    spb, bpb = score.steps_per_bar, score.beats_per_bar
    bars = _by_bar([n for n in score.notes if n.track == "drums" and n.pitch in SNARES], spb)
    want = {k * STEPS_PER_BEAT for k in range(1, bpb, 2)}
    nb = _bars(score)
    return sum(1 for b in range(nb) if {n.onset_16th % spb for n in bars.get(b, [])} >= want) / nb


def _bar_share(score: Score, pattern: Callable[[list[Note]], bool]) -> float:
    """Share of the counted bars whose accompaniment notes satisfy ``pattern``."""
    bars = _by_bar(score.track_notes(ACCOMPANIMENT), score.steps_per_bar)
    nb = _bars(score)
    return sum(1 for b in range(nb) if bars.get(b) and pattern(bars[b])) / nb


def _strum_or_broken_bar(notes: list[Note]) -> bool:
    at = Counter(n.onset_16th for n in notes)
    chords = [o for o, c in at.items() if c >= 4]
    if len(chords) >= 3 and any(o % STEPS_PER_BEAT for o in chords):
        return True
    if max(at.values()) > 2:  # a broken chord: one note an onset, or a thumb bass under it
        return False
    top: dict[int, Note] = {}
    for n in notes:
        if n.onset_16th not in top or n.pitch > top[n.onset_16th].pitch:
            top[n.onset_16th] = n
    single = sorted(top.values())
    if len(single) < 4:
        return False
    ioi = set(np.diff([n.onset_16th for n in single]).tolist())
    return len(ioi) == 1 and min(ioi) >= 2 and len({n.pitch % 12 for n in single}) >= 3 \
        and np.median([n.duration_16th for n in single]) >= min(ioi)


def strum_or_broken(score: Score) -> float:
    """Share of accompaniment bars with a guitar strum (>= 3 onsets of >= 4 notes, one of them
    an up-stroke off the beat) or a ringing broken-chord / fingerpicked pattern (>= 4
    onsets at one regular rate of an 8th or slower, one note each or a thumb bass under it,
    >= 3 pitch classes in the upper voice, notes ringing at least to the next onset)."""
    return _bar_share(score, _strum_or_broken_bar)


def median_length_beats(score: Score) -> float:
    d = [n.duration_16th for n in score.notes if n.track != "drums"]
    return float(np.median(d)) / STEPS_PER_BEAT if d else 0.0


def has_drums(score: Score) -> bool:
    return any(n.track == "drums" for n in score.notes)


def _ostinato_or_sustained_bar(notes: list[Note]) -> bool:
    ons = {n.onset_16th for n in notes}
    if len(ons) >= 4 and len({n.pitch % 12 for n in notes if n.velocity < 118}) <= 2:
        return True
    return bool(np.median([n.duration_16th for n in notes]) >= 2 * STEPS_PER_BEAT)


def ostinato_or_sustained(score: Score) -> float:
    """Share of accompaniment bars with an ostinato (>= 4 onsets on <= 2 pitch classes, hit
    stabs aside) or a sustained chord (median note >= 2 beats)."""
    return _bar_share(score, _ostinato_or_sustained_bar)


def toms_on_hits(score: Score, hit_steps: Iterable[int]) -> float:
    """Share of hit steps with a tom / timpani-like drum onset (no hits: 1.0 when the drums
    play toms at all, else 0.0)."""
    hits = [int(k) for k in hit_steps]
    toms = {n.onset_16th for n in score.notes if n.track == "drums" and n.pitch in TOMS}
    if not hits:
        return 1.0 if toms else 0.0
    return sum(1 for k in hits if k in toms) / len(hits)


def check(style: str, score: Score, hit_steps: Iterable[int] = ()) -> tuple[bool, str]:
    """The idiom check of ``style`` on ``score``: (passed, measured values)."""
    if style == "electronic":
        v = four_on_the_floor(score)
        return v >= FOUR_FLOOR_SHARE, f"kick on every beat in {v:.0%} of bars"
    if style == "pop":
        v = backbeat(score)
        return v >= BACKBEAT_SHARE, f"snare on 2 and 4 in {v:.0%} of bars"
    if style == "acoustic":
        v = strum_or_broken(score)
        return v >= PATTERN_SHARE, f"strum/broken-chord pattern in {v:.0%} of bars"
    if style == "ambient":
        m, d = median_length_beats(score), has_drums(score)
        return m >= 1.0 and not d, f"median length {m:.2f} beats, drums {'yes' if d else 'no'}"
    if style == "cinematic":
        o, t = ostinato_or_sustained(score), toms_on_hits(score, hit_steps)
        return o >= PATTERN_SHARE and t >= 0.8 and has_drums(score), \
            f"ostinato/sustained in {o:.0%} of bars, toms on {t:.0%} of hits"
    raise KeyError(f"no idiom check for style {style!r}")


CHECKS: tuple[str, ...] = ("electronic", "pop", "acoustic", "ambient", "cinematic")


def clash_rate(score: Score) -> float:
    """Share of sounding 16ths (any pitched note) where two different tracks sound pitch
    classes a semitone apart (:func:`videobgm.compose.clashes.clash_share`, the measure the
    clash resolver is written against)."""
    from videobgm.compose.clashes import clash_share

    return clash_share(score.notes, score.n_steps)


FEATURES: tuple[str, ...] = (
    "onsets_per_bar", "mean_pitch", "pitch_range", "polyphony", "median_duration_beats",
    "mean_velocity", "velocity_std", "syncopation", "sixteenth_share", "chord_onset_share",
    "pitch_class_entropy", "low_register_share", "ioi_cv",
)


def texture_features(score: Score, *, bars: int | None = None) -> np.ndarray:
    """The :data:`FEATURES` of the pitched notes in the first ``bars`` bars, shape (13,).

    onsets per bar; mean MIDI pitch; 5-95 % pitch range; mean number of sounding notes over
    sounding steps; median duration (beats); velocity mean and std; share of onsets off the
    beat (syncopation); share on odd 16ths; share of onsets in a chord of >= 3 notes; entropy
    (bits) of the pitch-class histogram; share of notes below C3 (48); coefficient of variation
    of the inter-onset intervals of all onsets.
    """
    spb = score.steps_per_bar
    nb = min(score.n_bars, bars) if bars else score.n_bars
    notes = [n for n in score.notes if n.track != "drums" and n.onset_16th < nb * spb]
    if not notes:
        return np.zeros(len(FEATURES))
    pitch = np.array([n.pitch for n in notes], dtype=float)
    dur = np.array([n.duration_16th for n in notes], dtype=float)
    vel = np.array([n.velocity for n in notes], dtype=float)
    ons = np.array([n.onset_16th for n in notes])
    at = Counter(ons.tolist())
    sound = np.zeros(nb * spb)
    for n in notes:
        sound[n.onset_16th:min(nb * spb, n.onset_16th + n.duration_16th)] += 1
    pc = np.bincount(pitch.astype(int) % 12, minlength=12) / len(notes)
    pc = pc[pc > 0]
    uniq = np.unique(ons)
    ioi = np.diff(uniq)
    return np.array([
        len(notes) / nb,
        pitch.mean(),
        np.percentile(pitch, 95) - np.percentile(pitch, 5),
        sound[sound > 0].mean() if (sound > 0).any() else 0.0,
        np.median(dur) / STEPS_PER_BEAT,
        vel.mean(),
        vel.std(),
        float(np.mean(ons % STEPS_PER_BEAT != 0)),
        float(np.mean(ons % 2 == 1)),
        float(np.mean([at[o] >= 3 for o in ons])),
        float(-(pc * np.log2(pc)).sum()),
        float(np.mean(pitch < 48)),
        float(ioi.std() / ioi.mean()) if ioi.size > 1 and ioi.mean() > 0 else 0.0,
    ])


def standardiser(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of reference feature rows (std floored at 1e-6 of the mean's scale)."""
    mu = reference.mean(axis=0)
    sd = reference.std(axis=0)
    return mu, np.maximum(sd, 1e-6 + 1e-3 * np.abs(mu))


def distance(a: np.ndarray, b: np.ndarray, sd: np.ndarray) -> float:
    """Euclidean distance of two feature rows in units of the reference std."""
    return float(np.linalg.norm((a - b) / sd))
