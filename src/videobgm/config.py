"""One configuration dataclass per stage, plus :class:`PipelineConfig` that holds them all.

Defaults live here and nowhere else. Every config round-trips through ``to_dict`` /
``from_dict`` and is saved with the outputs it produced. ``PipelineConfig.preset("tiny")`` is a
fast setting for tests; ``"small"`` is the CPU default.

Each stage owns its own dataclass: add fields to your stage's class only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from videobgm.errors import OptionError

#: The package's data files (checkpoints, chord model, library index, chord recogniser).
ASSETS_DIR = Path(__file__).resolve().parent / "assets"

T = TypeVar("T")


def _from_dict(cls: type[T], d: dict[str, Any] | None) -> T:
    """Build dataclass ``cls`` from ``d``, refusing unknown keys with a one-line error."""
    d = dict(d or {})
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - names)
    if unknown:
        raise OptionError(
            f"unknown {cls.__name__} option(s) {', '.join(unknown)}; accepted: {', '.join(sorted(names))}"
        )
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in d and isinstance(d[f.name], list) and isinstance(f.default, tuple):
            d[f.name] = tuple(d[f.name])
    return cls(**d)


class _Cfg:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None):  # noqa: ANN206
        return _from_dict(cls, d)

    def replace(self, **changes: Any):  # noqa: ANN201
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class VideoConfig(_Cfg):
    """[1] Decoding for analysis."""

    # Frames are selected by timestamp up to this rate (never duplicated): at 30, a 30 fps video
    # keeps every frame, so visual beats can be placed within one frame of the true turning point.
    analysis_fps: float = 30.0
    analysis_max_side: int = 160  # longest side of analysis frames in pixels (scaled in FFmpeg)
    chunk_frames: int = 64  # frames decoded per chunk (memory bound)
    max_duration_s: float = 4 * 3600.0  # refuse longer input
    max_pixels: int = 8192 * 8192  # refuse larger frames


@dataclass(frozen=True)
class FeaturesConfig(_Cfg):
    """[2] Visual feature extraction."""

    flow: str = "dis"  # "dis" or "farneback"
    dis_preset: str = "medium"  # "ultrafast", "fast", "medium" (see docs/analyze.md)
    dis_finest_scale: int | None = None  # DIS pyramid level the flow ends at; None = preset's
    direction_bins: int = 8  # angle bins of the directogram
    flow_noise_level: int = 5  # grey-level change that is real (not coding noise)
    flow_min_changed: float = 0.002  # fraction of changed pixels for full flow (less: scaled down)
    saliency_eps_px_s: float = 2.0  # motion (px/s) under which a stop is not "sudden"
    saliency_power: float = 2.0  # exponent of the suddenness factor (fraction of motion lost)
    tempo_range_bpm: tuple[float, float] = (40.0, 200.0)
    tempo_half_lag_ratio: float = 0.5  # take the half lag when its autocorrelation is this close
    tempo_min_confidence: float = 0.25  # weaker autocorrelation = no tempo (NaN)
    beat_threshold: float = 1.5  # adaptive threshold: local median + k * local MAD
    beat_window_s: float = 4.0  # window of that local median / MAD
    beat_min_saliency_px_s: float = 1.0  # absolute floor of a beat's saliency
    beat_min_relative: float = 0.1  # ... and this fraction of the largest saliency in the window
    min_beat_gap_s: float = 0.15  # of two closer beats the weaker is dropped
    cut_threshold: float = 0.35  # histogram distance (0..1) for a hard cut
    cut_ratio: float = 3.0  # ... and at least this x the local median distance
    cut_min_pixel_change: float = 0.03  # ... and mean |grey change| (0..1) at least this
    min_cut_gap_s: float = 0.5
    # optional image-text model (videobgm.features.clip): a local open_clip folder; None = not used
    clip_model: str | None = None
    clip_every_s: float = 1.0  # one frame scored every this many seconds ...
    clip_max_frames: int = 600  # ... and at most this many (longer videos: sparser)


@dataclass(frozen=True)
class PlanConfig(_Cfg):
    """[3] Features -> musical plan. ``None`` means: derive it from the video."""

    tempo_bpm: float | None = None
    beats_per_bar: int = 4
    key: str | None = None  # e.g. "C", "F#", "Bb"
    mode: str | None = None  # "major" / "minor"
    mood: str | None = None
    style: str | None = None
    instruments: tuple[str, ...] | None = None  # e.g. ("piano", "strings")
    density_scale: float = 1.0
    strength_scale: float = 1.0
    min_section_bars: int = 4  # sections last >= this many bars (2 in videos shorter than 8 bars)
    phrase_bars: int = 8  # longest phrase-section between two section-opening cuts
    melody_intro_bars: int | None = None  # bars before the melody enters (None: 2, 4 from 32 bars)
    accent_quantile: float = 0.5  # visual beats with strength >= this quantile become velocity accents
    max_tempo_warp: float = 0.03  # most tempo change of a section against the nominal (anchors a strong cut)
    lock_beats: bool = True  # the grid bends so that each hit point's 16th step falls on its cut
    beat_warp: float = 0.04  # most local tempo bend used to put a hit point on its cut


@dataclass(frozen=True)
class ModelConfig(_Cfg):
    """[5] Transformer size (the model's own hyper-parameters; saved in checkpoints)."""

    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 768
    # attention window in compound tokens: training sequences are at most this long and generation
    # attends to the last ``max_len`` tokens (rotary positions, so any piece length works)
    max_len: int = 512
    dropout: float = 0.0  # the CPU training budget is < 1 epoch of POP909: no need to regularise

    @classmethod
    def preset(cls, name: str) -> ModelConfig:
        presets = {
            "tiny": cls(d_model=32, n_layers=2, n_heads=2, d_ff=64, max_len=256, dropout=0.0),
            "small": cls(),
        }
        if name not in presets:
            raise OptionError(f"unknown model preset {name!r}; accepted: {', '.join(presets)}")
        return presets[name]


@dataclass(frozen=True)
class SampleConfig(_Cfg):
    """[5] Generation settings."""

    seed: int = 0
    temperature: float = 1.0
    top_p: float = 0.9
    checkpoint: str | None = None  # None = the checkpoint shipped in the package
    device: str = "cpu"
    # per-field overrides, e.g. (("pitch", 0.9), ("velocity", 0.7)); fields: type pos chord track
    # pitch duration velocity
    field_temperature: tuple[tuple[str, float], ...] = ()
    field_top_p: tuple[tuple[str, float], ...] = ()
    # constrained decoding: a bar closes only with density_target * (1 -/+ tolerance) onsets
    density_tolerance: float = 0.15
    close_bias: float = 4.0  # logit bonus of closing the bar once its density target is reached
    # logit malus of an optional onset (a note beyond a step's minimum, a step that is not forced)
    # once the bar's notes plus those its later forced steps still owe reach the density target:
    # without it the bar could close only after its last forced step, by when the optional
    # onsets had filled it to the tolerance's top (the model played ~1.3x its share)
    budget_bias: float = 3.0
    # notes on the first 16th of a beat: target strength .. target + strength_slack
    strength_slack: int = 1
    enforce_strength: bool = True
    # False: grammar masks only (exact bar count); density/strength/accent/chord constraints off,
    # the controls act through the model's conditioning alone (ablation)
    constrained: bool = True
    accent_velocity_bin: int = 7  # notes at accent steps get velocity bin >= this (1..8)
    chord_bias: float = 3.0  # logit bonus of chord tones for accompaniment tracks (bridge, piano, bass)
    chord_tones_only_on_beats: bool = True  # accompaniment onsets on beats use chord tones only
    chord_tones_everywhere: bool = True  # ... and on every other step too
    # logit bonus of chord tones for the melody (0: the chord is conditioning, not a push; 2.0
    # before issue 18 left 6.5 % stepwise intervals and 0.4 % non-chord tones on strong beats)
    melody_chord_bias: float = 0.0
    # melody-level help: bonus for scale notes 1-2 semitones from the previous melody note, and
    # after a non-chord tone more for a chord tone a step away (non-chord tones resolve by step)
    melody_step_bias: float = 0.5  # 1.0 with the 1800-step model (it learned less of the line)
    melody_resolve_bias: float = 1.5
    # where the style x mood idiom asks for it (music.styles: Idiom.avoid_notes, calm), logit malus
    # of a melody pitch a semitone from the bass sounding there (the major seventh over the root):
    # the melody and the bass are the voices the clash resolver leaves standing
    # (compose/note_constraints.avoid_note_bias); 0 = off
    melody_avoid_bias: float = 3.0
    # the melody's register (controls.register_per_bar, a MIDI target per bar): logits per octave
    # of motion toward the target while the line (mean of its last 6 notes) is more than
    # melody_register_band semitones off it, full at 6 semitones beyond the band; the first
    # melody note: the same logits per octave away from the target beyond the band. A tilt, not
    # a window (compose/note_constraints.register_bias); 0 = off; no target, no bias
    melody_register_bias: float = 6.0
    melody_register_band: float = 3.0
    # melodic phrases of this many bars inside each plan section (Pipeline.compose): the last bar
    # of each ends on a long melody note and breathes (sample.generate's phrase_ends); 0 = off
    melody_phrase_bars: int = 4
    # the whole texture rests on the last beat before a section that opens on a strong cut
    # (Pipeline.compose; sample.generate's breath_bars)
    section_breath: bool = True
    # melody-level form (videobgm.music.motif, Pipeline.compose): units restate an earlier unit's melody
    # bar by bar (A A' B A'), pitches fitted to the chords; the plan's harmony repeats with it
    motif: bool = True
    melody_chord_tones_on_beats: bool = False  # melody onsets on beats use chord tones only
    # complete voicings: logit bonus of chord tones not yet sounding in the current beat (e.g. the
    # third over a bare root and fifth), for accompaniment tracks and for the melody
    voicing_bias: float = 3.0
    melody_voicing_bias: float = 0.0
    # controls.melody_bars: bars that must have no melody get none; in the others the melody track
    # gets this logit bonus until its first note in the bar
    melody_presence_bias: float = 4.0
    # ... and, where the arranger writes the accompaniment (the model writes melody and
    # counter-melody), the same bonus on a step's first note while the melody holds less than
    # this share of the model's onsets so far (pro rata): without it the counter-melody took them
    # and acoustic pieces' melodies played 1-2 notes a bar (POP909: 5.7)
    melody_lead_share: float = 0.6
    # logit malus of a next onset (or of closing the bar) that would leave a whole beat silent
    gap_bias: float = 0.5
    # bars with no onsets planned (density target 0) ring: the last notes before them are held
    # (up to the next change to another chord) instead of leaving them silent
    ring_rests: bool = True
    release_at_chord_change: bool = True  # accompaniment notes end by the next chord change
    # lines: a note of these tracks ends by the track's next onset (compose.phrasing.one_voice)
    one_voice_tracks: tuple[str, ...] = ("melody", "bass")
    # phrase repetition (structure): a bar whose chords equal those of the bar ``p`` bars earlier
    # (p tried in this order) repeats it; whether a phrase repeats is drawn with repeat_prob
    repeat_prob: float = 1.0
    repeat_phrase_bars: int = 4  # the repeat_prob draw is made once per phrase of this many bars
    repeat_periods: tuple[int, ...] = (32, 16, 8, 4)
    # also repeat bars with *similar* chords (roots equal on all beats but one, or the same chords
    # shifted by a beat); the copy is re-fitted to this bar's chords (non-chord tones moved)
    repeat_similar: bool = True
    # a similar earlier bar that does not fit this bar's density/strength targets is imitated
    # (logit bonus repeat_guide_bias for its tokens) under all control masks instead of copied
    repeat_guided: bool = True
    repeat_guide_bias: float = 6.0
    # most onsets on one 16th that is not a beat's first (constrained decoding; 0 = no cap). Without
    # it a bar still owing onsets to its density target near its end piled them all onto its last
    # 16th (5+-note "splats" on 15 % of onsets; POP909 0.27 %); with it such a bar closes short
    max_offbeat_onsets: int = 4
    # dynamics (videobgm.compose.dynamics, applied by Pipeline.compose from the plan's sections): melody
    # velocity from dynamics_low (quietest section) to dynamics_high (loudest), a swell of
    # +-dynamics_phrase_swell over each phrase (melody_phrase_bars), metric accents, the
    # other pitched tracks dynamics_accompaniment_offset softer, dynamics_model_weight of the
    # model's own deviation kept; accents dynamics_accent_boost louder
    dynamics: bool = True
    dynamics_low: float = 52.0
    dynamics_high: float = 104.0
    dynamics_phrase_swell: float = 24.0  # 18 before: up to half a quiet melody in one bin of 16
    # the swell's crest lies this far into the phrase: an even crescendo to it, an even
    # diminuendo after (an arch with no plateau; the sine it replaced held ~40 % of a phrase's
    # notes within a few velocities of its crest, i.e. in one velocity bin)
    dynamics_phrase_apex: float = 0.6
    # ... except the melody's, which crests on its phrase's highest note (its first, when within
    # dynamics_peak_range of the phrase's notes; else at the range's nearer end): with the crest at
    # a fixed 0.6 a phrase whose high notes lie elsewhere had its contour (below) cancel its swell,
    # up to 13 of a phrase's 20 notes in one velocity bin
    dynamics_melody_peak: bool = True
    dynamics_peak_range: tuple[float, float] = (0.3, 0.85)
    # a stretch of sections at one level (a flat-energy video) of two or more phrases: the melody
    # swells over the whole stretch as well, +-dynamics_form_swell (an arch cresting
    # dynamics_form_apex into it), so that its phrases do not all play at one level (synth-slow:
    # 41 % of the melody's notes in one velocity bin)
    dynamics_form_swell: float = 12.0
    dynamics_form_apex: float = 0.6
    # the melody's swell spans its own notes in the phrase (first to last onset), not the
    # phrase's bars: a line entering late or ending early still gets the whole arch
    dynamics_melody_span: bool = True
    # below this velocity the melody's shaping is halved (a soft knee: its softest notes stay audible)
    dynamics_melody_knee: float = 40.0
    dynamics_downbeat_boost: float = 5.0
    dynamics_weak_beat_cut: float = 3.0  # beats 2 and 4 (the weak beats of 4/4) this much softer
    dynamics_offbeat_cut: float = 6.0
    dynamics_accompaniment_offset: float = 10.0
    dynamics_model_weight: float = 0.8
    dynamics_contour: float = 2.0  # melody: velocity per semitone above the phrase's median pitch
    dynamics_contour_max: float = 12.0
    dynamics_accent_boost: float = 10.0  # accent steps (visual hits): this much louder
    # ... and never softer than this on the step's loudest notes: a hit point or strong visual
    # beat stays an audible accent in a quiet section too (eval.sync's accent_velocity, 97)
    dynamics_accent_floor: float = 97.0
    # the melody's accented notes take the floor under an accompaniment hit too where at most this
    # share of its phrase's notes are accents (in a fast video most are: there the floor flattened
    # it; < 0: never)
    dynamics_accent_rare: float = 0.25
    # hit points (the cuts' crashes / stabs / section hits, compose.hit_marks): their pitched
    # accompaniment notes this much louder again and at least dynamics_hit_floor (the loudest of
    # their beat), the notes in the beat before them dynamics_pre_hit_cut softer (the music clears,
    # then the hit lands); pitched parts release hit_gap_16ths before a hit (four-on-the-floor:
    # hit_gap_four_floor, the drums' 8th)
    dynamics_hit_boost: float = 8.0
    dynamics_hit_floor: float = 110.0
    dynamics_pre_hit_cut: float = 8.0
    hit_gap_16ths: int = 1
    hit_gap_four_floor: int = 2
    max_tokens_per_bar: int = 100  # safety cap: a bar is closed after this many tokens
    # torch threads while decoding (restored afterwards): one-token steps gain nothing from more,
    # and on a busy machine 2 threads were 10x slower than 1; 0 = leave torch's setting
    threads: int = 1


@dataclass(frozen=True)
class MidiConfig(_Cfg):
    """[6] MIDI writing."""

    ticks_per_beat: int = 480
    # GM programs used for tracks that Score.programs does not set (drums always use channel 10)
    program_melody: int = 0  # acoustic grand piano (POP909 is piano-only)
    program_bridge: int = 0
    program_piano: int = 0
    program_bass: int = 33  # electric bass (finger)


@dataclass(frozen=True)
class RenderConfig(_Cfg):
    """[7] Audio rendering."""

    sample_rate: int = 44100
    backend: str = "auto"  # "auto", "tinysoundfont", "fluidsynth"
    # a .sf2/.sf3 path or a bank name ("fluidr3", "musescore", "timgm6mb"); None = the best bank
    # installed: FluidR3_GM > MuseScore General (first with FluidSynth) > TimGM6mb (pretty_midi's)
    soundfont: str | None = None
    target_lufs: float = -14.0  # integrated loudness of the mix (online video); -16, -23 broadcast
    true_peak_dbtp: float = -1.0  # true-peak ceiling (4x oversampled)
    humanize: bool = True  # per-style timing/velocity performance (False: exactly on the grid)
    fade_in_s: float = 0.05
    fade_out_s: float = 2.0


@dataclass(frozen=True)
class MuxConfig(_Cfg):
    """[8] Putting the music into the video."""

    original_audio: str = "replace"  # "replace", "mix", "duck"
    original_level: float = 0.5  # gain of the original audio in mix/duck
    music_level: float = 1.0
    audio_bitrate: int = 192_000
    duck_level: float = 0.3  # duck: music gain while the original audio is active
    duck_threshold_dbfs: float = -35.0  # duck: original louder than this (10 ms RMS) is "active"
    # re-encoding, only when the input's video codec cannot be copied into the output container
    # (mux.choose_streams): H.264 quality (x264 CRF, lower = better) and speed preset
    video_crf: int = 20
    video_preset: str = "veryfast"


@dataclass(frozen=True)
class UIConfig(_Cfg):
    """Web UI (``videobgm ui``): upload limits and the work queue. Not part of PipelineConfig."""

    max_upload_mb: float = 200.0  # refuse bigger uploads (also Gradio's max_file_size)
    max_duration_s: float = 600.0  # refuse longer videos (the CLI takes longer ones)
    concurrency_limit: int = 1  # heavy jobs (analyse / generate / regenerate) run at once
    max_queue: int = 16  # waiting jobs; more are refused with "queue full"
    stems: bool = True  # also write per-track stems (zipped for download)
    work_dir: str | None = None  # outputs; None = <system temp>/videobgm-ui
    job_time_limit_s: float = 900.0  # an analysis / generation / regeneration stops after this
    max_text_chars: int = 10_000  # longest edited description (the prompt parser's limit)
    max_work_mb: float = 4000.0  # disk quota of the outputs (oldest sessions go first)
    output_ttl_s: float = 3600.0  # a session's outputs and upload are deleted this long after its last job
    upload_ttl_s: float = 3600.0  # Gradio's cached uploads and result copies are deleted after this
    sweep_interval_s: float = 300.0  # how often expired / over-quota files are swept
    keep_versions: int = 5  # result versions kept per session (older ones are deleted)
    still_duration_s: float = 30.0  # the page's default music length for a still image


@dataclass(frozen=True)
class PipelineConfig(_Cfg):
    """Every stage's config together; saved beside the outputs."""

    video: VideoConfig = field(default_factory=VideoConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    midi: MidiConfig = field(default_factory=MidiConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    mux: MuxConfig = field(default_factory=MuxConfig)

    _PARTS = {
        "video": VideoConfig, "features": FeaturesConfig, "plan": PlanConfig, "model": ModelConfig,
        "sample": SampleConfig, "midi": MidiConfig, "render": RenderConfig, "mux": MuxConfig,
    }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> PipelineConfig:
        d = dict(d or {})
        unknown = sorted(set(d) - set(cls._PARTS))
        if unknown:
            raise OptionError(f"unknown config section(s) {', '.join(unknown)}; accepted: {', '.join(cls._PARTS)}")
        return cls(**{k: c.from_dict(d.get(k)) for k, c in cls._PARTS.items()})

    @classmethod
    def preset(cls, name: str) -> PipelineConfig:
        """``"small"``: CPU default. ``"tiny"``: fast settings for tests (tiny model, low-res analysis)."""
        if name == "small":
            return cls()
        if name == "tiny":
            return cls(
                video=VideoConfig(analysis_fps=15.0, analysis_max_side=128),
                model=ModelConfig.preset("tiny"),
                render=RenderConfig(sample_rate=22050),
            )
        raise OptionError(f"unknown preset {name!r}; accepted: tiny, small")
