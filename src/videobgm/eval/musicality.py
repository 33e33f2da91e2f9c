"""Melodic, harmonic and dynamic statistics of a :class:`~videobgm.types.Score` (NumPy only).

The aggregate metrics of :mod:`videobgm.eval.symbolic` (PE, PCE, SC, EBR, IOI) are blind to how
a melody moves: broken chords and a singable line can score the same. These statistics (issue 18)
look at the melody track and at the chord labels, and are computed by the same code on generated
pieces and on POP909 songs (quantised on their beat annotations, first 24 bars):

* ``stepwise`` / ``repeated``: share of consecutive melody intervals of 1-2 semitones / of 0;
* ``chord_tone_time``: share of the melody's sounding 16ths (under a chord label) whose pitch
  class is a tone of the chord sounding there;
* ``nct_strong``: share of melody onsets on beats 1 and 3 (beat 1 in bars of < 4 beats) that are
  not chord tones;
* ``nct_resolved``: share of melody non-chord tones whose next melody note is 1-2 semitones away
  and a chord tone (passing, neighbour, suspension and appoggiatura all resolve by step);
* ``melody_overlap``: share of consecutive melody onsets where the earlier note still sounds at
  the later one's onset (a melody is one voice: POP909's overlap in 0.4 % of them);
* ``motif``: longest run of melody notes (in notes) whose interval and rhythm pattern recurs,
  transposed or not, without overlap, in the first 24 bars;
* ``chord_changes_per_bar``, ``tonic_bars`` (bars whose first chord has the key's tonic as root),
  ``distinct_chords`` (distinct root/quality labels in the first 24 bars);
* ``out_of_scale``: share of pitched notes outside the best-fitting major / natural-minor scale;
* ``semitone_clash``: share of sounding 16ths in which two different pitched tracks sound pitch
  classes a semitone (or major seventh) apart;
* ``empty_beats``: share of beats in which nothing sounds (drums included);
* ``bar_end_splat``: share of pitched onsets that belong to a 5+-note chord on the last 16th of
  a bar; ``bar_end_splat_chords``: share of the 5+-note chords (onset steps with 5+ pitched
  onsets) that lie on the last 16th of a bar;
* ``velocity_top_bin``: share of melody notes in their most common velocity bin (8 bins of 16);
* ``melody_pitch`` / ``melody_high``: the melody notes' mean MIDI pitch / 95th percentile (its
  tessitura: POP909's melodies sit around 74, C#5-D5, with 95 % under 85);
* ``energy_register_r``: Pearson correlation of each bar's section energy with the bar's mean
  melody pitch (generated pieces only);
* ``energy_velocity_r``: Pearson correlation of each bar's section energy with the bar's mean
  velocity of the pitched tracks (generated pieces only: POP909 has no energy).

Chord tones: root, third, fifth and seventh as :data:`videobgm.compose.constraints.CHORD_INTERVALS`
spells them (POP909's labels are read into the same qualities).
"""

from __future__ import annotations

import numpy as np

from videobgm.music.theory import SCALE_SEMITONES
from videobgm.types import STEPS_PER_BEAT, Score

PITCHED = ("melody", "bridge", "piano", "bass")
FIRST_BARS = 24
STAT_NAMES: tuple[str, ...] = (
    "stepwise", "repeated", "chord_tone_time", "nct_strong", "nct_resolved", "motif",
    "chord_changes_per_bar", "tonic_bars", "distinct_chords", "out_of_scale", "semitone_clash",
    "empty_beats", "energy_velocity_r", "bar_end_splat", "bar_end_splat_chords", "velocity_top_bin",
    "melody_pitch", "melody_high", "energy_register_r", "melody_overlap",
)
MELODY_STATS: tuple[str, ...] = ("stepwise", "repeated", "chord_tone_time", "nct_strong", "nct_resolved",
                                 "motif", "velocity_top_bin", "melody_pitch", "melody_high")


def chord_pcs(root: int, quality: str) -> frozenset[int]:
    """Pitch classes of a chord label (empty for no chord or an unknown quality)."""
    from videobgm.compose.constraints import CHORD_INTERVALS

    if root < 0 or quality not in CHORD_INTERVALS:
        return frozenset()
    return frozenset((root + i) % 12 for i in CHORD_INTERVALS[quality])


def chord_at_steps(score: Score, n_steps: int) -> list[tuple[int, str] | None]:
    """The chord label (root, quality) sounding at each 16th (None before the first / for N)."""
    out: list[tuple[int, str] | None] = [None] * n_steps
    cur = None
    chords = sorted(score.chords, key=lambda c: c.onset_16th)
    j = 0
    for s in range(n_steps):
        while j < len(chords) and chords[j].onset_16th <= s:
            c = chords[j]
            cur = (int(c.root), str(c.quality)) if c.root >= 0 else None
            j += 1
        out[s] = cur
    return out


def melody_line(score: Score, end_step: int | None = None) -> list:
    """Melody notes by onset (the highest note where several start together)."""
    end = score.n_steps if end_step is None else end_step
    by_onset: dict[int, object] = {}
    for n in score.notes:
        if n.track == "melody" and n.onset_16th < end:
            if n.onset_16th not in by_onset or n.pitch > by_onset[n.onset_16th].pitch:
                by_onset[n.onset_16th] = n
    return [by_onset[k] for k in sorted(by_onset)]


def longest_repeat(seq: list[tuple[int, int]]) -> int:
    """Length of the longest substring of ``seq`` occurring twice without overlap."""
    n = len(seq)
    if n < 2:
        return 0
    best = 0
    prev = np.zeros(n + 1, dtype=np.int64)
    for i in range(1, n + 1):
        cur = np.zeros(n + 1, dtype=np.int64)
        for j in range(i + 1, n + 1):
            if seq[i - 1] == seq[j - 1] and prev[j - 1] < j - i:
                cur[j] = prev[j - 1] + 1
                best = max(best, int(cur[j]))
        prev = cur
    return best


def _scale_share_out(pcs_hist: np.ndarray) -> float:
    total = pcs_hist.sum()
    if total <= 0:
        return float("nan")
    major = np.array(SCALE_SEMITONES["major"])
    best = 0.0
    for t in range(12):
        for sc in (major, (major + 9) % 12):  # natural minor = relative major's pitch set
            best = max(best, float(pcs_hist[(sc + t) % 12].sum()))
    return 1.0 - best / float(total)


def stats(score: Score, *, first_bars: int = FIRST_BARS, bar_energy: np.ndarray | None = None) -> dict[str, float]:
    """All statistics of ``score``'s first ``first_bars`` bars (see the module docstring).

    ``bar_energy`` (one value per bar of the whole score) gives ``energy_velocity_r``; without it
    (or with a constant energy) that entry is NaN. Entries with nothing to count are NaN.
    """
    nan = float("nan")
    spb, bpb = score.steps_per_bar, score.beats_per_bar
    n_bars = min(int(first_bars), int(score.n_bars))
    end = n_bars * spb
    chords = chord_at_steps(score, end)
    pcs_at = [chord_pcs(*c) if c is not None else frozenset() for c in chords]
    out: dict[str, float] = {k: nan for k in STAT_NAMES}
    mel = melody_line(score, end)
    # intervals and motif
    if len(mel) >= 2:
        iv = np.abs(np.diff([n.pitch for n in mel]))
        out["stepwise"] = float(np.mean((iv >= 1) & (iv <= 2)))
        out["repeated"] = float(np.mean(iv == 0))
        out["melody_overlap"] = float(np.mean([a.onset_16th + a.duration_16th > b.onset_16th
                                               for a, b in zip(mel, mel[1:])]))
        pattern = [(mel[i + 1].pitch - mel[i].pitch, mel[i + 1].onset_16th - mel[i].onset_16th)
                   for i in range(len(mel) - 1)]
        rep = longest_repeat(pattern)
        out["motif"] = float(rep + 1 if rep else 0)
    # chord-tone time, strong-beat non-chord tones, their resolution
    sounding = on = 0
    strong_steps = {0, 2 * STEPS_PER_BEAT} if bpb >= 4 else {0}
    n_strong = nct_strong = n_nct = resolved = 0
    for i, n in enumerate(mel):
        nxt_on = mel[i + 1].onset_16th if i + 1 < len(mel) else n.onset_16th + n.duration_16th
        stop = min(end, n.onset_16th + n.duration_16th, max(nxt_on, n.onset_16th + 1))
        for s in range(n.onset_16th, stop):
            if pcs_at[s]:
                sounding += 1
                on += (n.pitch % 12) in pcs_at[s]
        pcs = pcs_at[n.onset_16th]
        if not pcs:
            continue
        is_ct = (n.pitch % 12) in pcs
        if n.onset_16th % spb in strong_steps:
            n_strong += 1
            nct_strong += not is_ct
        if not is_ct and i + 1 < len(mel):
            m = mel[i + 1]
            n_nct += 1
            mp = pcs_at[m.onset_16th] if m.onset_16th < end else frozenset()
            resolved += 1 <= abs(m.pitch - n.pitch) <= 2 and (m.pitch % 12) in mp
    if sounding:
        out["chord_tone_time"] = on / sounding
    if n_strong:
        out["nct_strong"] = nct_strong / n_strong
    if n_nct:
        out["nct_resolved"] = resolved / n_nct
    # velocity bins of the melody
    if mel:
        bins = np.bincount([min(7, (n.velocity - 1) // 16) for n in mel], minlength=8)
        out["velocity_top_bin"] = float(bins.max() / bins.sum())
        pitches = np.array([n.pitch for n in mel], dtype=float)
        out["melody_pitch"] = float(pitches.mean())
        out["melody_high"] = float(np.percentile(pitches, 95))
    # harmony of the labels
    if n_bars:
        labels = [chords[b * spb] for b in range(n_bars)]
        changes = sum(1 for s in range(1, end) if chords[s] != chords[s - 1] and chords[s] is not None)
        out["chord_changes_per_bar"] = changes / n_bars
        out["tonic_bars"] = float(np.mean([c is not None and c[0] == int(score.key_tonic) % 12 for c in labels]))
        out["distinct_chords"] = float(len({c for c in chords if c is not None}))
    # pitched notes: scale, clashes, splats
    pitched = [n for n in score.notes if n.track in PITCHED and n.onset_16th < end]
    hist = np.zeros(12)
    for n in pitched:
        hist[n.pitch % 12] += 1
    out["out_of_scale"] = _scale_share_out(hist)
    tracks = sorted({n.track for n in pitched})
    if pitched:
        roll = np.zeros((len(tracks), end, 12), dtype=bool)
        for n in pitched:
            roll[tracks.index(n.track), n.onset_16th:min(end, n.onset_16th + max(1, n.duration_16th)), n.pitch % 12] = True
        any_sound = roll.any(axis=(0, 2))
        clash = np.zeros(end, dtype=bool)
        for a in range(len(tracks)):
            for b in range(len(tracks)):
                if a != b:
                    up = np.roll(roll[b], 1, axis=1)  # b's pitch class + 1
                    clash |= (roll[a] & up).any(axis=1)
        out["semitone_clash"] = float(clash[any_sound].mean()) if any_sound.any() else nan
        onsets: dict[int, int] = {}
        for n in pitched:
            onsets[n.onset_16th] = onsets.get(n.onset_16th, 0) + 1
        splat = sum(c for s, c in onsets.items() if s % spb == spb - 1 and c >= 5)
        out["bar_end_splat"] = splat / len(pitched)
        big = [s for s, c in onsets.items() if c >= 5]
        if big:
            out["bar_end_splat_chords"] = sum(1 for s in big if s % spb == spb - 1) / len(big)
    # empty beats (every track, drums included)
    if n_bars:
        n_beats = n_bars * bpb
        snd = np.zeros(end, dtype=bool)
        for n in score.notes:
            if n.onset_16th < end:
                snd[n.onset_16th:min(end, n.onset_16th + max(1, n.duration_16th))] = True
        out["empty_beats"] = float(np.mean(~snd.reshape(n_beats, STEPS_PER_BEAT).any(axis=1)))
    # section energy -> velocity
    if bar_energy is not None:
        e = np.asarray(bar_energy, dtype=float)[:score.n_bars]
        vel = np.full(e.shape[0], np.nan)
        for b in range(e.shape[0]):
            v = [n.velocity for n in score.notes if n.track in PITCHED and b * spb <= n.onset_16th < (b + 1) * spb]
            if v:
                vel[b] = float(np.mean(v))
        ok = ~np.isnan(vel)
        if ok.sum() >= 3 and np.ptp(e[ok]) > 1e-9 and np.ptp(vel[ok]) > 1e-9:
            out["energy_velocity_r"] = float(np.corrcoef(e[ok], vel[ok])[0, 1])
        reg = np.full(e.shape[0], np.nan)
        for n_b in range(e.shape[0]):
            p = [n.pitch for n in mel if n_b * spb <= n.onset_16th < (n_b + 1) * spb]
            if p:
                reg[n_b] = float(np.mean(p))
        ok = ~np.isnan(reg)
        if ok.sum() >= 3 and np.ptp(e[ok]) > 1e-9 and np.ptp(reg[ok]) > 1e-9:
            out["energy_register_r"] = float(np.corrcoef(e[ok], reg[ok])[0, 1])
    return out


def bar_energy_of_plan(plan) -> np.ndarray:  # noqa: ANN001
    """Each bar's section energy from a :class:`~videobgm.types.Plan`, shape (n_bars,)."""
    e = np.full(plan.n_bars, np.nan)
    for s in plan.sections:
        e[max(0, s.start_bar):min(plan.n_bars, s.end_bar)] = float(s.energy)
    return np.nan_to_num(e, nan=float(np.nanmean(e)) if np.isfinite(e).any() else 0.5)


def mean_stats(rows: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each statistic over pieces (NaNs skipped; NaN where no piece has a value)."""
    out = {}
    for k in STAT_NAMES:
        v = [r[k] for r in rows if k in r and np.isfinite(r[k])]
        out[k] = float(np.mean(v)) if v else float("nan")
    return out


def chord_adherence(score: Score, *, first_bars: int | None = None) -> dict[str, float]:
    """Tolerant chord adherence to ``score.chords`` (the requested labels): ``strong_beat_tones``
    = share of pitched onsets on beats 1 and 3 that are chord tones; ``downbeat_root`` = share of
    bars (with a chord and a sounding note on the downbeat) whose lowest sounding pitch class on
    the downbeat is the chord's root or its stated bass (``Chord.bass``). Passing and neighbour tones between beats are not counted."""
    spb, bpb = score.steps_per_bar, score.beats_per_bar
    n_bars = score.n_bars if first_bars is None else min(int(first_bars), score.n_bars)
    end = n_bars * spb
    chords = chord_at_steps(score, end)
    strong = {0, 2 * STEPS_PER_BEAT} if bpb >= 4 else {0}
    pitched = [n for n in score.notes if n.track in PITCHED and n.onset_16th < end]
    ok = cnt = 0
    for n in pitched:
        c = chords[n.onset_16th]
        if c is not None and n.onset_16th % spb in strong and chord_pcs(*c):
            cnt += 1
            ok += (n.pitch % 12) in chord_pcs(*c)
    basses = [-1] * end  # the label's stated bass (an inversion or pedal), -1 = the root
    for c in sorted(score.chords, key=lambda c: c.onset_16th):
        if 0 <= c.onset_16th < end:
            basses[c.onset_16th:] = [int(getattr(c, "bass", -1))] * (end - c.onset_16th)
    roots = bars = 0
    for b in range(n_bars):
        c = chords[b * spb]
        low = [n.pitch for n in pitched if n.onset_16th <= b * spb < n.onset_16th + max(1, n.duration_16th)]
        if c is None or not low:
            continue
        bars += 1
        roots += min(low) % 12 in (c[0], basses[b * spb])
    return {"strong_beat_tones": ok / cnt if cnt else float("nan"),
            "downbeat_root": roots / bars if bars else float("nan")}
