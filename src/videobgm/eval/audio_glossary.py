"""The one-line glossary of the sound metrics (``videobgm eval --help``; no heavy imports)."""

from __future__ import annotations

# one line per metric for ``eval --help`` and the report: (name, chance level, direction, meaning)
METRIC_HELP: tuple[tuple[str, str, str, str], ...] = (
    ("cut_hit_rate", "chance: cut_hit_chance", "higher",
     "share of cuts with an audio onset within 70 ms"),
    ("cut_hit_x_chance", "chance 1", "higher",
     "cut_hit_rate / the same rate with the picture circularly shifted (200 draws)"),
    ("cut_lift", "chance 1", "higher",
     "onset strength at the cuts / at the shifted cuts (chance 1 at any tempo; flat sound 1)"),
    ("beat_lift", "chance 1", "higher",
     "onset strength at the visual beats / at the shifted visual beats"),
    ("cut_beat_distance", "chance ~0.25", "lower",
     "mean distance from a cut to the nearest music beat, in beats"),
    ("beat_alignment", "chance: beat_alignment_chance", "higher",
     "AIST++ beat alignment score, visual beats vs music beats, sigma 3 frames @60 fps"),
    ("motion_onset_spearman", "chance 0", "higher",
     "Spearman of motion speed and onset strength over 1 s windows"),
    ("length_error_s", "-", "lower", "|audio length - picture length| in seconds"),
    ("ends_with_picture", "-", "yes",
     "the last audible sound (RMS within 40 dB of max) is within 0.5 s of the picture's end"),
    ("key_clarity", "noise < 0.5", "higher",
     "best Krumhansl-Kessler correlation of the mean chroma (24 keys)"),
    ("ibi_cv", "metronome 0", "lower", "coefficient of variation of librosa's inter-beat intervals"),
    ("loudness_lufs", "-", "closer to the target",
     "integrated loudness, BS.1770-4 (pyloudnorm); streaming targets -14..-16 LUFS"),
    ("true_peak_dbtp", "-", "lower", "peak of the 4x oversampled audio, dBTP (keep <= -1)"),
    ("dc_offset", "-", "lower", "largest per-channel mean, full scale"),
    ("band_share_*", "-", "info only", "share of spectral energy: sub/low/mid/highmid/high bands"),
    ("onsets_per_s", "-", "info only", "librosa onsets per second"),
    ("si_short/mid/long", "-", "higher",
     "MusDr structureness of the chroma self-similarity (3-8 / 8-15 / >=15 s), audio >= 30 s"),
)


def help_text() -> str:
    """The metric glossary printed by ``videobgm eval --help``."""
    lines = ["sound metrics (FILE = video with audio, or WAV/MP3/FLAC with --video):"]
    for name, chance, better, what in METRIC_HELP:
        verdict = better if better == "info only" else f"{better} is better"
        lines.append(f"  {name:<22} {what} [{chance}; {verdict}]")
    lines.append("  control rows: the same metrics against the picture time-reversed (or --control "
                 "OTHER's events); a real effect beats its control")
    lines.append("intended view: `eval music.mid --video V [--plan plan.json]` scores the MIDI "
                 "against the plan (what we meant, not what is heard)")
    return "\n".join(lines)
