"""[3] Video features (+ description, references, user options) -> musical :class:`Plan`.

The mapping follows CMT (Di et al. 2021: motion speed -> note density, motion saliency -> note
strength, visual beats -> accents) and V-MusProd (Zhuo et al. 2022: colour -> key/mood), made
explicit and rule-based so that every choice is recorded with its reason in ``Plan.reasons``:

* **tempo** -- the video's dominant visual tempo folded by factors of 2 into
  ``lexicon.VIDEO_TEMPO_RANGE_BPM`` by the description (or the user's / an edited tempo);
* **bar grid** -- starts at 0 s and ends exactly with the video. Scene cuts are *anchored*: each
  stretch between two kept cuts gets an integer number of bars and its own (slightly adjusted)
  tempo, as film composers do with a tempo map so that hits land on bar lines. A cut that would
  need more than ``max_tempo_warp`` of tempo change is not anchored; its section boundary is then
  snapped to the nearest bar line. The global tempo is chosen by a small search near the base
  tempo that trades tempo change, cut fit and how close strong visual beats fall to 16th steps;
* **density** per bar -- mean motion speed over the bar, ranked (quantile) and mapped onto the
  onsets-per-bar distribution of POP909 (:data:`~videobgm.plan.motion_controls.DENSITY_TABLE`),
  times ``density_scale``;
* **strength** per beat -- motion saliency around the beat (plus a small metrical prior), mapped
  onto POP909's notes-per-beat-onset distribution
  (:data:`~videobgm.plan.motion_controls.STRENGTH_TABLE`);
* **accents** -- every strong visual beat (strength >= the ``accent_quantile`` quantile) marks
  the nearest 16th step;
* **mood, style, key, mode, tempo, instruments, section energy** -- the description's only
  (:func:`videobgm.bridges.resolve.resolve_description`: the video's description with an edited
  description / free text and the user's options laid over it; issue 16). The video gives
  only timing (beats, cuts, per-bar density and per-beat strength). The final tempo and
  instruments are written back into ``Plan.description``: it is what plays;
* **chords** -- one diatonic progression per section label (seeded), the last bar resolves to
  the tonic.

:func:`make_plan` runs these as steps, each owned by its module: the timing (tempo, bar grid, hit
points) by :mod:`~videobgm.plan.timing`, the sections by :mod:`~videobgm.plan.sections`, density,
strength and accents by :mod:`~videobgm.plan.motion_controls`, the chords by
:mod:`~videobgm.plan.harmony`; the fills, melody bars, per-cut record and ending are the planner's
own. ``plan.json`` is :mod:`~videobgm.plan.plan_json`'s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from videobgm.config import PlanConfig
from videobgm.errors import InputError, OptionError
from videobgm.music import lexicon
from videobgm.music.theory import parse_key
from videobgm.plan import form
from videobgm.plan.controls import (
    MOODS,
    STYLES,
    check_choice,
    check_instruments,
    choose_instruments,
    choose_key,
    choose_mood,
)
from videobgm.plan.harmony import make_chords
from videobgm.plan.motion_controls import (
    accent_steps,
    density_per_bar,
    ending_buttons,
    strength_per_beat,
    strong_beats,
)
from videobgm.plan.sections import Bounds, make_sections, section_bounds
from videobgm.plan.timing import Hit, TempoMap, hit_points, tempo_map
from videobgm.types import (
    MODES,
    STEPS_PER_BEAT,
    Chord,
    Controls,
    Description,
    Features,
    Plan,
    Reference,
    Section,
    step_times_from_beats,
)

_check_tempo = lexicon.check_tempo  # the one tempo check (lexicon.TEMPO_LIMITS_BPM)


# ----------------------------------------------------------------------------------------------
# option parsing
# ----------------------------------------------------------------------------------------------


def validate_config(cfg: PlanConfig) -> None:
    """Raise :class:`OptionError` (one line, naming the accepted values) for any invalid option."""
    if cfg.tempo_bpm is not None:
        _check_tempo(cfg.tempo_bpm, "tempo")
    if cfg.beats_per_bar not in (2, 3, 4, 5, 6, 7):
        raise OptionError(f"beats per bar must be 2..7, got {cfg.beats_per_bar}")
    if cfg.key is not None:
        parse_key(cfg.key)
    if cfg.mode is not None:
        check_choice(cfg.mode, MODES, "mode")
    if cfg.mood is not None:
        check_choice(cfg.mood, MOODS, "mood")
    if cfg.style is not None:
        check_choice(cfg.style, STYLES, "style")
    if cfg.instruments is not None:
        check_instruments(cfg.instruments)
    for name in ("density_scale", "strength_scale"):
        lexicon.check_scale(getattr(cfg, name), name.replace("_", " "))
    if cfg.min_section_bars < 1:
        raise OptionError(f"min section bars must be >= 1, got {cfg.min_section_bars}")
    if cfg.melody_intro_bars is not None and cfg.melody_intro_bars < 0:
        raise OptionError(f"melody intro bars must be >= 0, got {cfg.melody_intro_bars}")
    if not 0 <= cfg.accent_quantile <= 1:
        raise OptionError(f"accent quantile must be in [0, 1], got {cfg.accent_quantile}")
    if not 0 <= cfg.beat_warp <= 0.5:
        raise OptionError(f"beat warp must be in [0, 0.5], got {cfg.beat_warp}")
    if not 0 <= cfg.max_tempo_warp <= 0.5:
        raise OptionError(f"max tempo warp must be in [0, 0.5], got {cfg.max_tempo_warp}")
    if cfg.phrase_bars < 1:
        raise OptionError(f"phrase bars must be >= 1, got {cfg.phrase_bars}")


# ----------------------------------------------------------------------------------------------
# the planner
# ----------------------------------------------------------------------------------------------
def make_plan(
    features: Features,
    cfg: PlanConfig,
    *,
    description: Description | None = None,
    references: list[Reference] | None = None,
    seed: int = 0,
    resolved: bool = False,
) -> Plan:
    """Turn the video's features into a musical plan (tempo map, sections, controls, key, ...).

    Parameters
    ----------
    features : Features
        Visual features; uses ``motion_speed`` (T,), ``saliency`` (T,), visual beats (B,),
        ``tempo_bpm``, ``cut_times_s`` (C,), colour curves (T,) and ``hue_hist`` (T, 12).
    cfg : PlanConfig
        User options; every non-None field overrides the video-derived choice.
    description : Description, optional
        An edited description or free text (:func:`videobgm.bridges.resolve.resolve_description` lays
        it and ``cfg``'s options over the video's own description), or with ``resolved=True``
        the resolved description itself. The plan's ``description`` is it with the planner's
        final values written back (what plays).
    references : list of Reference, optional
        Retrieved passages; the best-scoring one supplies the chord progression and the density
        level when given.
    seed : int
        Seeds the (few) random choices: chord progressions per section.

    Returns
    -------
    Plan
        ``beat_times_s`` has shape (n_bars * beats_per_bar + 1,), starts at 0.0 and ends at the
        video's duration; ``controls`` holds per-bar density (n_bars,), per-beat strength
        (n_bars * beats_per_bar,), accent steps (n_bars * steps_per_bar,) and chords.

    Raises
    ------
    OptionError
        An invalid option (tempo, key, mode, mood, style, instrument, scale), naming the
        accepted values.
    InputError
        Features of a video with no duration.
    """
    validate_config(cfg)
    from videobgm.bridges.resolve import resolve_description

    # the one description: the planner's only source of mood, style, key, mode, tempo,
    # instruments and energy (issue 16); features give only timing
    desc = description if resolved else resolve_description(features, cfg, description)
    refs = sorted(references or [], key=lambda r: -r.similarity)
    ref = refs[0] if refs else None
    reasons: dict[str, str] = {}
    duration = float(features.duration_s)
    if not (math.isfinite(duration) and duration > 0):
        raise InputError(f"video has no duration ({duration!r} s); nothing to score")
    bpb = int(cfg.beats_per_bar)
    spb = bpb * STEPS_PER_BEAT
    cuts = np.sort(np.asarray(features.cut_times_s, dtype=float))
    cuts = cuts[(cuts > 0.25) & (cuts < duration - 0.25)]

    mood = choose_mood(desc)
    reasons["mood"] = f"{mood} (description: {desc.reasons.get('mood', 'given')})"
    strong_t, strong_s = strong_beats(features, duration, cfg.accent_quantile)
    # style and instruments first: the hit points depend on whether there are drums
    style, tracks, programs, table = choose_instruments(desc, mood, reasons)
    tm = tempo_map(features, cfg, desc, style, mood, cuts, strong_t, reasons)
    beat_s = float(np.median(np.diff(tm.beat_times)))
    bounds, intro = section_bounds(tm.beat_times[::bpb], beat_s, cuts, tm.cut_w, tm.cand,
                                   tm.anchored, tm.starts, tm.nbars, tm.min_bars)
    sections = make_sections(bounds, tm.beat_times[::bpb], desc, reasons)
    ending_bar, fill_bars = _fills(bounds, tm, reasons)
    beat_times, hits = hit_points(tm, cfg, cuts, strong_t, sections, tracks, reasons)
    bar_times = beat_times[::bpb]
    n_bars = tm.n_bars
    mean_tempo = n_bars * bpb * 60.0 / float(beat_times[-1])

    density = density_per_bar(features, bar_times, desc, ref, mean_tempo, cfg.density_scale, reasons)
    strength = strength_per_beat(features, beat_times, bpb, cfg.strength_scale, reasons)
    step_times = step_times_from_beats(beat_times)
    accents = accent_steps(step_times, strong_t, n_bars * spb,
                           min(beat_times[-1], duration), [k for k, _kind, _why in hits],
                           cfg.accent_quantile, reasons, strengths=strong_s)
    buttons: list[int] = []
    if ending_bar is not None:  # the final bar is the held tonic (rule parts): nothing forced
        accents[ending_bar * spb:] = False
        density[ending_bar] = 0
        strength[ending_bar * bpb:] = 0
        # ... but its strong visual beats re-strike it (the buttons)
        buttons = ending_buttons(step_times, strong_t, strong_s, ending_bar * spb,
                                 min(float(beat_times[-1]), duration), beat_s)
        accents[buttons] = True

    tonic, mode = choose_key(desc, reasons)
    melody_bars = _melody_bars(cfg, tracks, n_bars, intro, ending_bar, reasons)
    chords, early = _chords(sections, n_bars, bpb, tonic, mode, mood, style, ref, hits, ending_bar,
                            melody_bars, tracks, seed, reasons)
    hit_list = _record_cuts(tm, cfg, cuts, bounds, hits, early, reasons)
    fade = _ending(bar_times, ending_bar, duration, beat_s, reasons, [float(step_times[k]) for k in buttons])

    controls = Controls(
        n_bars=n_bars, beats_per_bar=bpb, density_per_bar=density,
        strength_per_beat=strength, accent_steps=accents, chords=chords,
        key_tonic=tonic, mode=mode, tracks=tracks, tempo_bpm=float(mean_tempo), melody_bars=melody_bars,
        hits=tuple(hit_list), fill_bars=tuple(sorted(b for b in fill_bars if 0 <= b < n_bars)),
        ending_bar=ending_bar, register_per_bar=_register(sections, n_bars, melody_bars, reasons),
    )
    _write_back(desc, mean_tempo, table, features)
    reasons["description"] = f"description ({desc.source}): {desc.text[:120]!r}"
    return Plan(
        duration_s=duration, tempo_bpm=float(mean_tempo), beats_per_bar=bpb,
        beat_times_s=beat_times, sections=sections, controls=controls, programs=programs,
        style=style, mood=mood, reasons=reasons, seed=int(seed), cuts=tm.records, fade_out_s=fade,
        instruments=dict(table), description=desc,
    )


# ----------------------------------------------------------------------------------------------
# the planner's own steps (timing: plan/timing.py; sections: plan/sections.py; the note controls:
# plan/motion_controls.py), in make_plan's order
# ----------------------------------------------------------------------------------------------
def _fills(bounds: Bounds, tm: TempoMap, reasons: dict[str, str]) -> tuple[int | None, set[int]]:
    """The held final bar, and the bars before a strong section-opening cut (an anacrusis,
    marked in the cut's record) and before the ending that get a fill."""
    n_bars = tm.n_bars
    ending_bar = n_bars - 1 if n_bars >= 2 else None
    fill_bars: set[int] = set()
    for k, (_, ci) in bounds.items():
        if ci is not None and k > 0 and tm.cut_w[ci] >= form.ANACRUSIS_STRENGTH:
            fill_bars.add(k - 1)
            tm.records[ci]["anacrusis"] = True
    if ending_bar is not None and ending_bar >= 4:
        fill_bars.add(ending_bar - 1)
    return ending_bar, fill_bars


def _melody_bars(cfg: PlanConfig, tracks: tuple[str, ...], n_bars: int, intro: int,
                 ending_bar: int | None, reasons: dict[str, str]) -> np.ndarray | None:
    """The melody enters after the intro and rests on the final held tonic (None: no melody)."""
    melody_bars = None
    if "melody" in tracks:
        if cfg.melody_intro_bars is not None:
            intro = int(cfg.melody_intro_bars) if n_bars >= 8 else 0
        melody_bars = np.arange(n_bars) >= intro
        if ending_bar is not None and ending_bar > intro:
            melody_bars[ending_bar] = False
        reasons["melody"] = (f"melody from bar {intro + 1}" +
                             (f" ({intro}-bar accompaniment intro)" if intro else "") +
                             "; in the last bar it holds the tonic (rule note)")
    return melody_bars


def _register(sections: list[Section], n_bars: int, melody_bars: np.ndarray | None,
              reasons: dict[str, str]) -> np.ndarray | None:
    """The melody's register target per bar (None: no melody)."""
    from videobgm.plan.register import TESSITURA_MIDI, melody_register
    if melody_bars is None:
        return None
    reg = melody_register(sections, n_bars, melody_bars)
    peak = int(np.argmax(reg))
    reasons["register"] = (f"melody around MIDI {TESSITURA_MIDI:.0f} (POP909's melodies), "
                           + (f"{reg.min():.0f}..{reg.max():.0f} with the sections' energies, highest in "
                              f"bar {peak + 1}" if np.ptp(reg) > 0 else "one level (the sections' energies do not differ)"))
    return reg


def _chords(sections: list[Section], n_bars: int, bpb: int, tonic: int, mode: str, mood: str,
            style: str, ref: Reference | None, hits: list[Hit], ending_bar: int | None,
            melody_bars: np.ndarray | None, tracks: tuple[str, ...], seed: int,
            reasons: dict[str, str]) -> tuple[list[Chord], Any]:
    """The learned progression over the form, cadences, held tonic, hit changes; the melody's
    motif form restates units bar by bar: those bars repeat the harmony too."""
    from videobgm.music import motif
    repeats = motif.layout(sections, n_bars, melody_bars, ending_bar) if "melody" in tracks else {}
    if repeats:
        reasons["motif"] = motif.describe(repeats)
    return make_chords(sections, n_bars, bpb, tonic, mode, mood, style, ref, hits,
                       ending_bar, seed, reasons, repeats=repeats)


def _record_cuts(tm: TempoMap, cfg: PlanConfig, cuts: np.ndarray, bounds: Bounds,
                 hits: list[Hit], early: Any, reasons: dict[str, str]) -> list[tuple[int, str]]:
    """Each cut's role (section / hit / ignored), step, kind and reason in its record
    (``reasons["cuts"]``); returns the sorted (step, kind) hit points."""
    records, anchored, cut_w = tm.records, tm.anchored, tm.cut_w
    hit_list = []
    for ci, (k, kind, why) in zip(range(cuts.size), hits):
        rec = records[ci]
        if k is not None and k in early:
            kind += "+chord"
            why += "; the next chord starts on this beat"
        rec["step"] = None if k is None else int(k)
        rec["kind"] = kind
        if ci in anchored or any(ci == c2 for c2 in (v[1] for v in bounds.values())):
            rec["role"] = "section"
            sec_why = next(v[0] for v in bounds.values() if v[1] == ci)
            rec["reason"] = f"{rec['reason']} -> section boundary: {sec_why}; {why}"
        elif k is None:
            rec["role"] = "ignored"
            rec["reason"] = f"{rec['reason']} -> {why}"
        else:
            rec["role"] = "hit"
            rec["reason"] = (f"{rec['reason']} -> hit point ("
                             + ("strength below the section threshold "
                                f"{form.BOUNDARY_STRENGTH:g}" if cut_w[ci] < form.BOUNDARY_STRENGTH
                                else f"strong, but no bar line within reach at <= {100 * cfg.max_tempo_warp:g}% tempo change")
                             + f"): {why}")
        if k is not None:
            hit_list.append((int(k), kind))
    hit_list.sort()
    reasons["cuts"] = (f"{cuts.size} cuts: {sum(r['role'] == 'section' for r in records)} section "
                       f"boundaries, {sum(r['role'] == 'hit' for r in records)} hit points, "
                       f"{sum(r['role'] == 'ignored' for r in records)} ignored (see plan.cuts)")
    return hit_list


def _ending(bar_times: np.ndarray, ending_bar: int | None, duration: float, beat_s: float,
            reasons: dict[str, str], buttons_s: tuple[float, ...] | list[float] = ()) -> float | None:
    """The fade-out (s) that covers only the final chord's ring-out, after its last button
    (``reasons["ending"]``)."""
    fade = None
    if ending_bar is not None:
        t_end = float(bar_times[ending_bar])
        last = max([t_end, *buttons_s])
        fade = round(max(0.1, duration - last - 0.5 * beat_s), 3)
        struck = ("" if not buttons_s else
                  f", re-struck at {', '.join(f'{t:.2f}' for t in buttons_s)} s on the final bar's "
                  f"strong visual beats (the buttons)")
        reasons["ending"] = (f"cadence {reasons.pop('cadence', '')} into the tonic at bar "
                             f"{ending_bar + 1} ({t_end:.2f} s), held as a chord ringing to the end "
                             f"({duration - t_end:.2f} s){struck}; fade-out at most {fade:.2f} s so it "
                             f"covers only the ring-out")
    return fade


def _write_back(desc: Description, mean_tempo: float, table: dict[str, str],
                features: Features) -> None:
    """Write the values the planner played back into the description, with the reason."""
    from videobgm.bridges.text import description_text

    asked = float(desc.tempo_bpm) if desc.tempo_bpm is not None else None
    played = round(float(mean_tempo), 1)
    if asked is None or abs(played - asked) >= 0.05:
        desc.reasons["tempo"] = (desc.reasons.get("tempo", "")
                                 + f"; planner: {asked if asked is None else f'{asked:g}'} -> "
                                   f"{played:g} bpm (mean tempo of the bar grid fitted to the video's "
                                   f"length and cuts)")
    desc.tempo_bpm = played
    inst = lexicon.track_instruments(table)
    if set(desc.instruments or []) == set(inst):
        inst = list(desc.instruments or [])  # same instruments: the description's order stays
    else:
        desc.reasons["instruments"] = (desc.reasons.get("instruments", "")
                                       + f"; planner: tracks {', '.join(f'{t}={n}' for t, n in table.items())}")
        desc.instruments = inst
    desc.text = description_text(desc, duration_s=float(features.duration_s) or None)


def plan_render_config(plan: Plan, render_cfg: Any) -> Any:
    """``render_cfg`` with its fade-out shortened to the plan's ring-out (``plan.fade_out_s``),
    so that the fade covers the final held chord, not the last musical gesture."""
    if plan.fade_out_s is None or plan.fade_out_s >= render_cfg.fade_out_s:
        return render_cfg
    import dataclasses

    return dataclasses.replace(render_cfg, fade_out_s=float(plan.fade_out_s))
