"""Typed objects that cross stage boundaries.

Every time is in seconds (``*_s``), every tempo in beats per minute (``*_bpm``); grid positions are
counted in 16th-note steps (``*_16th`` / ``*_step``). Arrays are NumPy arrays; shapes are given in
each docstring. Only NumPy is imported here so that the CLI stays fast to start.

Stage chain (``pipeline.py`` is the only module that wires them)::

    VideoInfo --features--> Features --plan--> Plan (Controls inside) --sample--> Score
        --midi--> MIDI bytes --render--> audio --mux--> MP4
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Track names of the symbolic music representation, in a fixed order (index = track id).
# melody: POP909 MELODY; bridge: POP909 BRIDGE (counter-melody); piano: POP909 PIANO
# (accompaniment); bass and drums are generated/added by rule where a style asks for them.
TRACKS: tuple[str, ...] = ("melody", "bridge", "piano", "bass", "drums")
STEPS_PER_BEAT = 4  # 16th-note grid
PITCH_CLASS_NAMES: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MODES: tuple[str, ...] = ("major", "minor")
# Chord qualities used by annotations, plans and tokens ("N" = no chord).
CHORD_QUALITIES: tuple[str, ...] = ("maj", "min", "dim", "aug", "sus4", "sus2", "7", "maj7", "min7", "N")


def step_times_from_beats(beat_times_s: np.ndarray) -> np.ndarray:
    """Time in seconds of every 16th step of a beat grid, linear inside each beat, shape
    (n_beats * STEPS_PER_BEAT + 1,): the one rule that times the 16th grid (scores, plans, MIDI)."""
    bt = np.asarray(beat_times_s, dtype=float)
    frac = np.arange(STEPS_PER_BEAT) / STEPS_PER_BEAT
    inner = (bt[:-1, None] + np.diff(bt)[:, None] * frac[None, :]).reshape(-1)
    return np.concatenate([inner, bt[-1:]])


# --------------------------------------------------------------------------------------------
# [1] video
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoInfo:
    """What probing a video file tells us (no frames decoded).

    Attributes
    ----------
    path : str
        The file.
    duration_s : float
        Duration of the video stream in seconds (from timestamps, not frame counts).
    fps : float
        Average frame rate (frames per second); for variable-frame-rate input this is the mean.
    width, height : int
        Display size in pixels, after applying ``rotation_deg``.
    rotation_deg : int
        Rotation metadata (0, 90, 180, 270) that the decoder applies.
    n_frames : int
        Number of frames (estimated from duration x fps where the container does not say).
    codec : str
        Video codec name.
    has_audio : bool
        Whether the file has an audio stream.
    variable_frame_rate : bool
        True when frame intervals vary by more than 1 %.
    """

    path: str
    duration_s: float
    fps: float
    width: int
    height: int
    rotation_deg: int = 0
    n_frames: int = 0
    codec: str = ""
    has_audio: bool = False
    variable_frame_rate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------
# [2] features
# --------------------------------------------------------------------------------------------
@dataclass
class Features:
    """Visual signals over time, sampled at the analysis frame times.

    Attributes
    ----------
    video : VideoInfo
        The probed video.
    frame_times_s : ndarray, shape (T,)
        Time of each analysed frame in seconds (presentation timestamps, start at ~0).
    motion_speed : ndarray, shape (T,)
        Mean optical-flow magnitude over pixels, in pixels (at analysis size) per second.
    saliency : ndarray, shape (T,)
        Motion saliency (rate of sudden deceleration / direction change), >= 0, arbitrary units.
    visual_beat_times_s : ndarray, shape (B,)
        Times of visual beats (local maxima of saliency over an adaptive threshold).
    visual_beat_strength : ndarray, shape (B,)
        Strength of each visual beat in [0, 1].
    tempo_bpm : float
        Dominant visual tempo (autocorrelation of saliency), inside ``tempo_range_bpm``;
        NaN when the video has no periodic motion.
    tempo_confidence : float
        Confidence of ``tempo_bpm`` in [0, 1].
    cut_times_s : ndarray, shape (C,)
        Scene cut times in seconds.
    brightness, saturation, warmth : ndarray, shape (T,)
        Mean brightness (HSV value) and saturation in [0, 1]; warmth in [-1, 1]
        (positive = red/yellow dominant, negative = blue/cyan dominant).
    hue_hist : ndarray, shape (T, 12)
        Saturation-weighted hue histogram (12 bins of 30 degrees), rows sum to 1 (or 0 if grey).
    meta : dict
        Analysis settings and notes (analysis fps/size, flow algorithm, warnings).
    labels : list of dict
        Optional visual labels ``{"time_s", "label", "score"}`` (semantics); empty when none.
    """

    video: VideoInfo
    frame_times_s: np.ndarray
    motion_speed: np.ndarray
    saliency: np.ndarray
    visual_beat_times_s: np.ndarray
    visual_beat_strength: np.ndarray
    tempo_bpm: float
    tempo_confidence: float
    cut_times_s: np.ndarray
    brightness: np.ndarray
    saturation: np.ndarray
    warmth: np.ndarray
    hue_hist: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    labels: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return float(self.video.duration_s)

    _ARRAYS = (
        "frame_times_s", "motion_speed", "saliency", "visual_beat_times_s", "visual_beat_strength",
        "cut_times_s", "brightness", "saturation", "warmth", "hue_hist",
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays become lists, rounded to 5 significant digits)."""
        out: dict[str, Any] = {"video": self.video.to_dict()}
        for name in self._ARRAYS:
            out[name] = np.round(np.asarray(getattr(self, name), dtype=float), 5).tolist()
        tempo = None if not np.isfinite(self.tempo_bpm) else float(self.tempo_bpm)
        out.update(tempo_bpm=tempo, tempo_confidence=float(self.tempo_confidence),
                   meta=self.meta, labels=self.labels)
        return out

    @classmethod
    def from_checked_dict(cls, d: dict[str, Any]) -> Features:
        """Build from ``to_dict()``'s output that :func:`videobgm.schema.read_features` has checked
        (files and user JSON go through that reader, the one features schema)."""
        kw: dict[str, Any] = {name: np.asarray(d[name], dtype=float) for name in cls._ARRAYS}
        if kw["hue_hist"].size == 0:
            kw["hue_hist"] = kw["hue_hist"].reshape(0, 12)
        tempo = d.get("tempo_bpm")
        return cls(
            video=VideoInfo(**d["video"]),
            tempo_bpm=float("nan") if tempo is None else float(tempo),
            tempo_confidence=float(d.get("tempo_confidence", 0.0)),
            meta=dict(d.get("meta", {})),
            labels=list(d.get("labels", [])),
            **kw,
        )


# --------------------------------------------------------------------------------------------
# symbolic music (shared by tokens, train/data, sample, midi, eval)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Note:
    """One note on the 16th grid.

    Attributes
    ----------
    onset_16th : int
        Onset position in 16th-note steps from the start of the piece (bar 0, step 0).
    track : str
        One of :data:`TRACKS`.
    pitch : int
        MIDI pitch 0..127 (for drums, the GM percussion key).
    duration_16th : int
        Duration in 16th steps, >= 1.
    velocity : int
        MIDI velocity 1..127.
    """

    onset_16th: int
    track: str
    pitch: int
    duration_16th: int
    velocity: int


@dataclass(frozen=True)
class Chord:
    """A chord label starting at ``onset_16th`` and lasting until the next label.

    ``root`` is a pitch class 0..11 (-1 for no chord), ``quality`` one of :data:`CHORD_QUALITIES`;
    ``bass`` the bass pitch class when it is not the root (an inversion, a passing bass or a pedal
    point: the plan's learned harmony sets it, the arranger's bass line plays it), else -1.
    """

    onset_16th: int
    root: int
    quality: str
    bass: int = -1


@dataclass
class Score:
    """A piece on the 16th grid, independent of real time.

    Attributes
    ----------
    notes : list of Note
        Sorted by (onset, track, pitch).
    n_bars : int
        Number of bars.
    beats_per_bar : int
        Beats per bar (4 for 4/4; 3 for 3/4). Steps per bar = ``beats_per_bar * STEPS_PER_BEAT``.
    tempo_bpm : float
        Nominal tempo (the real timing comes from ``beat_times_s`` when given).
    key_tonic : int
        Tonic pitch class 0..11.
    mode : str
        ``"major"`` or ``"minor"``.
    chords : list of Chord
        Chord labels, sorted by onset.
    beat_times_s : ndarray or None, shape (n_bars * beats_per_bar + 1,)
        Real time of every beat and of the end of the last bar; None = constant ``tempo_bpm``.
    programs : dict
        GM program per track (``{"melody": 0, ...}``); drums ignore it.
    name : str
        Identifier (e.g. POP909 song id).
    """

    notes: list[Note]
    n_bars: int
    beats_per_bar: int = 4
    tempo_bpm: float = 120.0
    key_tonic: int = 0
    mode: str = "major"
    chords: list[Chord] = field(default_factory=list)
    beat_times_s: np.ndarray | None = None
    programs: dict[str, int] = field(default_factory=dict)
    name: str = ""

    @property
    def steps_per_bar(self) -> int:
        return self.beats_per_bar * STEPS_PER_BEAT

    @property
    def n_steps(self) -> int:
        return self.n_bars * self.steps_per_bar

    def beat_times(self) -> np.ndarray:
        """Beat times in seconds, shape (n_bars * beats_per_bar + 1,)."""
        if self.beat_times_s is not None:
            return np.asarray(self.beat_times_s, dtype=float)
        n = self.n_bars * self.beats_per_bar + 1
        return np.arange(n, dtype=float) * 60.0 / float(self.tempo_bpm)

    def step_times(self) -> np.ndarray:
        """Time in seconds of every 16th step, shape (n_steps + 1,) (:func:`step_times_from_beats`)."""
        return step_times_from_beats(self.beat_times())

    def track_notes(self, track: str) -> list[Note]:
        return [n for n in self.notes if n.track == track]


# --------------------------------------------------------------------------------------------
# [3] plan: what the composer must follow
# --------------------------------------------------------------------------------------------
@dataclass
class Controls:
    """Per-bar / per-step targets handed to the sampler (all on the 16th grid).

    Attributes
    ----------
    n_bars : int
    beats_per_bar : int
    density_per_bar : ndarray of int, shape (n_bars,)
        Target number of note onsets in the bar, all pitched tracks together (drums excluded).
    strength_per_beat : ndarray of int, shape (n_bars * beats_per_bar,)
        Target note strength at each beat: number of notes (all pitched tracks) with an onset on
        that beat's first 16th step (CMT's "strength").
    accent_steps : ndarray of bool, shape (n_bars * steps_per_bar,)
        Steps that must carry an accented onset (a strong visual beat falls there).
    chords : list of Chord
        Chord for every part of the piece (sorted by onset).
    key_tonic : int
    mode : str
    tracks : tuple of str
        Tracks to generate (subset of :data:`TRACKS`).
    tempo_bpm : float
    melody_bars : ndarray of bool, shape (n_bars,), optional
        Bars in which the melody plays (when ``"melody"`` is in ``tracks``): constrained decoding
        keeps the melody out of the other bars and steers it into these. None: the model decides.
    hits : tuple of (int, str)
        Hit points: ``(step, kind)`` for every cut that gets a musical event (kind ``"section"``,
        ``"crash"``, ``"stab"`` or ``"accent"``, optionally ``"+chord"``). Rule parts put the
        cymbal / stab there; other accent steps are velocity accents only.
    fill_bars : tuple of int
        Bars that end with an anacrusis (drum fill or pickup run) into the next section.
    ending_bar : int or None
        Bar of the final held tonic (rule parts only: a chord ringing to the end), or None. Its
        accent steps after the downbeat (:meth:`ending_accents`; the planner puts the bar's
        strong visual beats there, :func:`videobgm.plan.motion_controls.ending_buttons`) are the
        ending's *buttons*: the rule parts re-strike the final chord on them; the model is not
        forced to play there.
    style, mood : str
        The plan's style and mood for the arranger's idioms (:mod:`videobgm.music.styles`); "" = the
        style-independent rule parts.
    arranged : tuple of str
        Tracks the arranger's pattern generators write (not the model), e.g. ``("piano",)`` for
        every style whose texture is not the POP909-learned piano.
    seed : int
        Seed of the arranger's pattern variations.
    register_per_bar : ndarray of float, shape (n_bars,), optional
        The melody's register target: a MIDI pitch per bar, a singable tessitura lifted in the
        energetic sections (:func:`videobgm.plan.register.melody_register`). Constrained decoding
        pulls the melody's line softly toward it. None: no register pull.
    """

    n_bars: int
    beats_per_bar: int
    density_per_bar: np.ndarray
    strength_per_beat: np.ndarray
    accent_steps: np.ndarray
    chords: list[Chord]
    key_tonic: int = 0
    mode: str = "major"
    tracks: tuple[str, ...] = ("melody", "piano")
    tempo_bpm: float = 120.0
    melody_bars: np.ndarray | None = None
    hits: tuple[tuple[int, str], ...] = ()
    fill_bars: tuple[int, ...] = ()
    ending_bar: int | None = None
    style: str = ""
    mood: str = ""
    arranged: tuple[str, ...] = ()
    seed: int = 0
    register_per_bar: np.ndarray | None = None

    @property
    def steps_per_bar(self) -> int:
        return self.beats_per_bar * STEPS_PER_BEAT

    def ending_accents(self) -> list[int]:
        """The accent steps in the held final bar after its downbeat (sorted; [] without an
        ending): the final chord is re-struck on each, a button on the picture's last hit."""
        if self.ending_bar is None:
            return []
        start = int(self.ending_bar) * self.steps_per_bar
        acc = np.asarray(self.accent_steps, dtype=bool)
        return [int(k) for k in np.flatnonzero(acc[start + 1:start + self.steps_per_bar]) + start + 1]

    def ending_spans(self) -> list[tuple[int, int]]:
        """``(onset_16th, duration_16ths)`` of each stroke of the held final chord: from the
        ending bar's downbeat, re-struck on every :meth:`ending_accents` step, the last ringing
        to the end of the piece ([] without an ending)."""
        if self.ending_bar is None:
            return []
        starts = [int(self.ending_bar) * self.steps_per_bar, *self.ending_accents()]
        ends = [*starts[1:], self.n_bars * self.steps_per_bar]
        return [(a, b - a) for a, b in zip(starts, ends, strict=True)]

    def progress_per_bar(self) -> np.ndarray:
        """Position of each bar in the piece in [0, 1] (CMT's beat-timing / progress)."""
        if self.n_bars <= 1:
            return np.zeros(self.n_bars)
        return np.arange(self.n_bars) / (self.n_bars - 1)


@dataclass
class Section:
    """A phrase/section: bars ``[start_bar, end_bar)`` with a label and the reason it exists."""

    start_bar: int
    end_bar: int
    label: str
    start_s: float
    end_s: float
    energy: float = 0.5
    reason: str = ""


@dataclass
class Plan:
    """The musical plan for one video (every choice with its reason).

    Attributes
    ----------
    duration_s : float
        Length the music must have (the video's duration).
    tempo_bpm : float
    beats_per_bar : int
    beat_times_s : ndarray, shape (n_bars * beats_per_bar + 1,)
        Real time of every beat; first is 0.0 (music starts with the video), last equals the
        end of the last bar (>= duration_s; the render fades and trims to ``duration_s``).
    sections : list of Section
    controls : Controls
    programs : dict
        GM program per track.
    style : str
    mood : str
    reasons : dict
        Why each choice was made, e.g. ``{"tempo": "visual tempo 61 bpm folded x2 -> 122 bpm"}``.
    seed : int
    cuts : list of dict
        Every detected cut: ``time_s``, ``strength`` in [0, 1], ``role`` (``"section"``,
        ``"hit"`` or ``"ignored"``), ``kind``, ``step`` (16th step of its hit or None), ``reason``.
    fade_out_s : float or None
        Longest fade-out that stays inside the final chord's ring-out (None: the renderer's).
    """

    duration_s: float
    tempo_bpm: float
    beats_per_bar: int
    beat_times_s: np.ndarray
    sections: list[Section]
    controls: Controls
    programs: dict[str, int]
    style: str = "pop"
    mood: str = "neutral"
    reasons: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    cuts: list[dict[str, Any]] = field(default_factory=list)
    fade_out_s: float | None = None
    instruments: dict[str, str] = field(default_factory=dict)  # track -> lexicon instrument name
    description: Description | None = None  # the description that plays (planner's values written back)
    regenerations: list[dict[str, Any]] = field(default_factory=list)  # {"bars": [a, b], "seed": s}

    @property
    def n_bars(self) -> int:
        return self.controls.n_bars

    def bar_times_s(self) -> np.ndarray:
        """Start time of each bar plus the end of the last, shape (n_bars + 1,)."""
        return np.asarray(self.beat_times_s)[:: self.beats_per_bar]


# --------------------------------------------------------------------------------------------
# [3a]/[3b] bridges: description (text bridge) and retrieved references (music bridge)
# --------------------------------------------------------------------------------------------
#: Reason prefixes of description fields that do not come from the video.
DESCRIPTION_ORIGINS = ("user option", "edited", "text", "clip")


@dataclass
class Description:
    """A readable, editable music description of a video (VMB's text bridge).

    Every field is optional: ``None`` means "let the planner decide from the video".

    Attributes
    ----------
    text : str
        One paragraph a person can read and edit.
    mood : str or None
        e.g. "calm", "happy", "tense", "sad", "epic", "playful".
    energy_curve : list of float
        Energy in [0, 1] per section (or per time slice), in order.
    tempo_bpm : float or None
    key : str or None
        Tonic name, e.g. "C", "F#".
    mode : str or None
        "major" / "minor".
    style : str or None
        e.g. "pop", "ambient", "cinematic", "electronic", "acoustic".
    instruments : list of str or None
        Instrument names, e.g. ["piano", "strings"].
    sections : list of dict
        ``{"start_s", "end_s", "label", "energy"}``.
    reasons : dict
        element -> why ("fast motion 0:12-0:30 -> driving rhythm").
    source : str
        "video" (built from features), "text" (a prompt), "image", or "edited".
    """

    text: str = ""
    mood: str | None = None
    energy_curve: list[float] = field(default_factory=list)
    tempo_bpm: float | None = None
    key: str | None = None
    mode: str | None = None
    style: str | None = None
    instruments: list[str] | None = None
    sections: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    source: str = "video"

    def origin(self, name: str) -> str:
        """Where field ``name`` of a resolved description came from: ``video``, ``clip`` (the
        video's image-text model), ``user option``, ``edited`` or ``text`` (the prefix its reason
        was given when it was resolved)."""
        why = str(self.reasons.get("tempo" if name == "tempo_bpm" else name, ""))
        return next((o for o in DESCRIPTION_ORIGINS if why.startswith(o + ":")), "video")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_checked_dict(cls, d: dict[str, Any]) -> Description:
        """Build from a dict that :func:`videobgm.schema.read_description` has checked (lexicon
        words canonical); files, edits and user JSON go through that reader."""
        return cls(**d)


@dataclass
class Reference:
    """A passage retrieved from a music library (VMB's music bridge).

    Attributes
    ----------
    id : str
        Library entry id (e.g. "pop909:001:phrase3").
    similarity : float
        Retrieval similarity (higher is closer).
    key_tonic, mode, tempo_bpm : as in :class:`Score`
    chords : list of Chord
        The passage's chord progression (onsets relative to its start).
    n_bars : int
    density_per_bar : list of int
        Onsets per bar in the passage.
    text : str
        The passage's automatic description.
    """

    id: str
    similarity: float
    key_tonic: int
    mode: str
    tempo_bpm: float
    chords: list[Chord]
    n_bars: int
    density_per_bar: list[int]
    text: str = ""


# --------------------------------------------------------------------------------------------
# pipeline result
# --------------------------------------------------------------------------------------------
@dataclass
class Result:
    """Everything one scoring run produced (diffusers-style: every intermediate is kept).

    Paths are None where that output was not asked for.
    """

    features: Features
    plan: Plan
    score: Score
    description: Description | None = None
    references: list[Reference] = field(default_factory=list)
    output_path: str | None = None
    midi_path: str | None = None
    wav_path: str | None = None
    stems_dir: str | None = None
    plan_path: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
