"""Free text / prompt -> :class:`~videobgm.types.Description` (text-to-music entry of the text bridge).

Rules, in order (each match is recorded in ``Description.reasons``):

1. tempo: a number followed by ``bpm`` / ``beats per minute`` (``lexicon.TEMPO_LIMITS_BPM``, else an error), or a tempo
   word (``slow``, ``fast``, ...; :data:`videobgm.music.lexicon.TEMPO_WORDS`);
2. key and mode: ``D minor``, ``F# major``, ``Bb maj``, ``Am``, ``key of G``; a bare ``major`` /
   ``minor`` sets only the mode;
3. mood, style, instruments: words and phrases of :mod:`videobgm.music.lexicon` (synonyms map to the
   canonical names the planner knows; a canonical name counts twice, a synonym once). Ties and prompts without a mood word are settled by
   nearest-neighbour matching of the whole text against mood / style anchor phrases with the
   packaged MiniLM model (when installed; cosine >= ``MIN_COS``, ``MIN_COS_STYLE`` for styles);
4. energy shape words (``building``, ``rising``, ``fading``) shape ``energy_curve``;
5. what is still missing falls back to the mood's defaults (tempo, mode, style), marked
   "(default for mood ...)". Words that map to nothing are listed under ``reasons["unmapped"]``.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from videobgm.errors import OptionError
from videobgm.music import lexicon, theory
from videobgm.types import Description

MAX_PROMPT_CHARS = 10_000  # longer prompts are refused (CLI and UI; ``UIConfig.max_text_chars``)
MIN_COS = 0.25  # mood anchors: the closest mood is adopted from this cosine up
MIN_COS_STYLE = 0.5  # style anchors are less reliable: only clear matches count
_STOP = set("""a an the and or with of in on at for to by from some very more less bit little
music song songs track piece background feel feeling vibe vibes style like mood tone sound sounds
kind sort type please make give me i want that this is it its into over under""".split())
_RISING = ("building", "build", "builds", "rising", "rises", "crescendo", "growing", "climax")
_FALLING = ("fading", "fades", "fade", "falling", "decrescendo", "winding down", "dying")

_TEMPO_RE = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats?\s*(?:per|/)\s*min(?:ute)?)\b", re.I)
_TEMPO2_RE = re.compile(r"\btempo\s*(?:of\s*)?(\d{2,3}(?:\.\d+)?)\b", re.I)
_ACC = r"(?:#|♯|b|♭|-sharp|-flat|\s+sharp|\s+flat)?"
_KEY_RE = re.compile(
    r"(?<![A-Za-z])([A-Ga-g]" + _ACC + r")\s*(major|minor|maj|min|m)(?![A-Za-z])"
    r"|\bkey\s+of\s+([A-G]" + _ACC + r")(?![A-Za-z])"
    r"|\bin\s+([A-G]" + _ACC + r")(?![A-Za-z])")
_MODE_RE = re.compile(r"\b(major|minor)\b", re.I)
_ENERGY_RE = re.compile(r"\b(very low|low|medium|moderate|high|very high)[ -]energy\b", re.I)
ENERGY_WORDS = {"very low": 0.1, "low": 0.25, "medium": 0.5, "moderate": 0.5, "high": 0.8, "very high": 0.95}


ENERGY_RANGES = {"very low": (0.0, 0.2), "low": (0.0, 0.35), "medium": (0.35, 0.6),
                 "moderate": (0.35, 0.6), "high": (0.6, 1.0), "very high": (0.8, 1.0)}


def stated_energy(text: str) -> tuple[float, float] | None:
    """Energy range named in ``text`` ("low energy" -> (0, 0.35), "medium" -> (0.35, 0.6),
    "high energy" -> (0.6, 1)), else None. The same bins name the energy of library phrases."""
    m = _ENERGY_RE.search(text.lower())
    return ENERGY_RANGES[m.group(1).lower()] if m else None


_WORD_AT = re.compile(r"\S+")


def _word_at(text: str, pos: int) -> str:
    """The word starting at ``pos`` (without trailing punctuation); O(word length)."""
    m = _WORD_AT.match(text, pos)
    return m.group(0).strip(",.;") if m else ""


@functools.lru_cache(maxsize=2048)
def _word_re(phrase: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z])" + re.escape(phrase) + r"(?![a-z])")


def _phrase_hits(text: str, phrases: tuple[str, ...] | list[str]) -> list[tuple[int, str]]:
    hits = []
    for p in phrases:
        for m in _word_re(p).finditer(text):
            hits.append((m.start(), p))
    return hits


def _nearest(text: str, table: dict[str, tuple[str, ...]]) -> tuple[str, float, str] | None:
    """(name, cosine, anchor) of the anchor phrase closest to ``text``; None without MiniLM."""
    from videobgm.bridges import textembed
    if not textembed.available():
        return None
    emb = textembed.load_embedder()
    names, anchors = [], []
    for name, phrases in table.items():
        names += [name] * len(phrases)
        anchors += list(phrases)
    vecs = emb.encode([text] + anchors)
    cos = vecs[1:] @ vecs[0]
    i = int(np.argmax(cos))
    return names[i], float(cos[i]), anchors[i]


class _Reading:
    """A prompt being read by the rules: its text (as given and in lower case), which characters
    a rule has consumed (later rules skip them) and the reasons recorded so far."""

    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        self.low = prompt.lower()
        self.used = np.zeros(len(self.low) + 1, dtype=bool)  # characters consumed by a rule
        self.reasons: dict[str, str] = {"prompt": prompt}

    def consume(self, a: int, b: int) -> None:
        self.used[a:b] = True


def _read_tempo(r: _Reading) -> float | None:
    """Rule 1: a number followed by bpm / beats per minute (or "tempo of N")."""
    m = _TEMPO_RE.search(r.low) or _TEMPO2_RE.search(r.low)
    if not m:
        return None
    tempo = float(m.group(1))
    lo, hi = lexicon.TEMPO_LIMITS_BPM
    if not lo <= tempo <= hi:
        raise OptionError(f"tempo {tempo:g} bpm in the prompt is outside {lo:g}..{hi:g} bpm")
    r.reasons["tempo"] = f"'{r.prompt[m.start():m.end()]}' -> {tempo:g} bpm"
    r.consume(m.start(), m.end())
    return tempo


def _read_key(r: _Reading) -> tuple[str | None, str | None]:
    """Rule 2: key and mode (on the original case: 'A' is a key, 'a' only with a mode word)."""
    prompt = r.prompt
    key: str | None = None
    mode: str | None = None
    for km in _KEY_RE.finditer(prompt):
        note = km.group(1) or km.group(3) or km.group(4)
        mword = (km.group(2) or "").lower()
        if km.group(1) and mword == "m" and note[0].islower():
            continue  # "a m..." is not a key
        if km.group(1) and note[0].islower() and mword not in ("major", "minor"):
            continue  # "e min" / "a maj": too ambiguous in lower case
        try:
            key = theory.key_name(theory.parse_key(note))
        except OptionError:
            continue
        if mword:
            mode = "major" if mword in ("major", "maj") else "minor"
        r.reasons["key"] = f"'{prompt[km.start():km.end()].strip()}' -> {key}" + (f" {mode}" if mode else "")
        r.consume(km.start(), km.end())
        break
    if mode is None:
        mm = _MODE_RE.search(r.low)
        if mm:
            mode = mm.group(1).lower()
            r.reasons["mode"] = f"'{mm.group(0)}' -> {mode}"
            r.consume(mm.start(), mm.end())
    return key, mode


def _read_instruments(r: _Reading) -> list[str]:
    """Rule 3a: instruments named in the prompt (longest phrases first), in the prompt's order."""
    instruments: list[tuple[int, str]] = []
    inst_phrases = sorted({p for _, syn in lexicon.INSTRUMENTS.values() for p in syn} | set(lexicon.INSTRUMENTS),
                          key=len, reverse=True)
    for p in inst_phrases:
        for pos, ph in _phrase_hits(r.low, [p]):
            if r.used[pos:pos + len(ph)].any():
                continue
            name = lexicon.canonical_instrument(ph)
            if name:
                instruments.append((pos, name))
                r.consume(pos, pos + len(ph))
    inst_names: list[str] = []
    for _, name in sorted(instruments):
        if name not in inst_names:
            inst_names.append(name)
    if inst_names:
        r.reasons["instruments"] = f"named in the prompt -> {', '.join(inst_names)}"
    return inst_names


def _vote(r: _Reading, table: dict[str, tuple[str, ...]]) -> dict[str, list[int]]:
    """name -> positions of its words; the name itself counts twice (naming the mood
    "calm" outweighs a scene word like "rainy")."""
    votes: dict[str, list[int]] = {}
    for name, words in table.items():
        for pos, w in _phrase_hits(r.low, (name, *words)):
            if not r.used[pos:pos + len(w)].any():
                votes.setdefault(name, []).extend([pos] * (2 if w == name else 1))
                r.consume(pos, pos + len(w))
    return votes


def _settle(r: _Reading, votes: dict[str, list[int]], anchors: dict[str, tuple[str, ...]], what: str,
            min_cos: float, *, embed: bool, words_text: str) -> str | None:
    """Rule 3b: the most voted name (ties settled by the anchors), else the nearest anchor."""
    low = r.low
    if votes:
        best_n = max(len(v) for v in votes.values())
        tied = sorted((min(v), k) for k, v in votes.items() if len(v) == best_n)
        choice = tied[0][1]
        words = ", ".join(f"'{_word_at(low, p)}'" for p in sorted(set(votes[choice])))
        if len(tied) > 1 and embed:
            near = _nearest(words_text, {k: anchors[k] for _, k in tied})
            if near:
                choice = near[0]
                r.reasons[what] = (f"words for {', '.join(k for _, k in tied)} tie; text is closest to "
                                   f"'{near[2]}' (cos {near[1]:.2f}) -> {choice}")
                return choice
        others = [f"{k} ({', '.join(repr(_word_at(low, p)) for p in sorted(set(v)))})"
                  for k, v in votes.items() if k != choice]
        r.reasons[what] = f"{words} -> {choice}" + (f"; outvoted: {', '.join(others)}" if others else "")
        return choice
    if embed:
        near = _nearest(words_text, anchors) if words_text else None
        if near and near[1] >= min_cos:
            r.reasons[what] = f"text is closest to '{near[2]}' (cos {near[1]:.2f}) -> {near[0]}"
            return near[0]
    return None


def _read_energy(r: _Reading, mood: str | None) -> list[float]:
    """Rule 4: the energy level (stated, else the mood's) and its shape (rising / fading / arch)."""
    low = r.low
    m_energy = _ENERGY_RE.search(low)
    stated = ENERGY_WORDS[m_energy.group(1)] if m_energy else None
    base = stated if stated is not None else lexicon.MOODS[mood].energy if mood else 0.5
    for em in _ENERGY_RE.finditer(low):
        r.consume(em.start(), em.end())
    rising = any(_phrase_hits(low, _RISING))
    falling = any(_phrase_hits(low, _FALLING))
    if rising and not falling:
        curve = [max(0.0, base - 0.25), base, min(1.0, base + 0.25)]
        r.reasons["energy"] = f"rising words -> energy {curve[0]:.2f} -> {curve[-1]:.2f}"
    elif falling and not rising:
        curve = [min(1.0, base + 0.2), base, max(0.0, base - 0.25)]
        r.reasons["energy"] = f"fading words -> energy {curve[0]:.2f} -> {curve[-1]:.2f}"
    else:
        curve = [base * 0.85, base, base * 0.85] if (mood or stated is not None) else []
        if stated is not None:
            r.reasons["energy"] = f"'{_ENERGY_RE.search(low).group(0)}' -> energy around {base:.2f} (arch)"
        elif mood:
            r.reasons["energy"] = f"{mood} -> energy around {base:.2f} (arch)"
    for w in (*_RISING, *_FALLING):
        for pos, ph in _phrase_hits(low, [w]):
            r.consume(pos, pos + len(ph))
    return curve


def _mood_defaults(r: _Reading, mood: str | None, tempo: float | None, mode: str | None,
                   style: str | None) -> tuple[float | None, str | None, str | None]:
    """Rule 5: tempo, mode and style still missing come from the mood's defaults."""
    if mood:
        md = lexicon.MOODS[mood]
        if tempo is None:
            tempo = md.tempo_bpm
            r.reasons["tempo"] = f"no tempo named -> {tempo:g} bpm (default for mood {mood})"
        if mode is None:
            mode = md.mode
            r.reasons["mode"] = f"no mode named -> {mode} (default for mood {mood})"
        if style is None:
            style = md.style
            r.reasons["style"] = f"no style named -> {style} (default for mood {mood})"
        if r.reasons.get("tempo", "").startswith("no tempo named") and style in lexicon.STYLES:
            from videobgm.music.styles import fit_tempo  # the default fits the style x mood range

            fitted, why = fit_tempo(tempo, style, mood, visual=False)
            if why:
                tempo = round(fitted, 1)
                r.reasons["tempo"] = (f"no tempo named -> {md.tempo_bpm:g} bpm (default for mood "
                                      f"{mood}) {why} -> {tempo:g} bpm")
    return tempo, mode, style


def parse_prompt(text: str, *, use_embeddings: bool | None = None,
                 max_chars: int | None = None) -> Description:
    """Parse a free-text prompt into a :class:`Description` (``source="text"``).

    Parameters
    ----------
    text : str
        E.g. ``"calm piano, rainy evening, 80 bpm, D minor"``.
    use_embeddings : bool, optional
        Use MiniLM anchor matching for mood/style; default: when the model is installed.
    max_chars : int, optional
        Longest prompt accepted (default :data:`MAX_PROMPT_CHARS`). Parsing time is linear in
        the length (``bench/prompt_parse.py``).

    Raises
    ------
    OptionError
        Empty or too long prompt, or a tempo outside ``lexicon.TEMPO_LIMITS_BPM``.
    """
    text = str(text)
    limit = MAX_PROMPT_CHARS if max_chars is None else int(max_chars)
    if len(text) > limit:
        raise OptionError(f"the prompt is {len(text)} characters long; the limit is {limit} "
                          f"(describe the music in a few words)")
    prompt = " ".join(text.split())
    if not prompt:
        raise OptionError("the prompt is empty; describe the music, e.g. \"calm piano, 80 bpm\"")
    r = _Reading(prompt)
    low, used = r.low, r.used
    tempo = _read_tempo(r)
    key, mode = _read_key(r)
    inst_names = _read_instruments(r)
    # the text without tempo numbers and key names: what the anchors are compared with
    words_text = " ".join("".join(" " if used[i] else c for i, c in enumerate(prompt)).replace(",", " ").split())
    tempo_words = sorted(lexicon.TEMPO_WORDS, key=len, reverse=True)
    tempo_hits = [(pos, w) for w in tempo_words for pos, w in _phrase_hits(low, [w])]
    mood_votes = _vote(r, {k: v.words for k, v in lexicon.MOODS.items()})
    style_votes = _vote(r, {k: v.words for k, v in lexicon.STYLES.items()})
    embed = use_embeddings
    if embed is None:
        from videobgm.bridges import textembed
        embed = textembed.available()
    mood = _settle(r, mood_votes, {k: v.anchors for k, v in lexicon.MOODS.items()}, "mood", MIN_COS,
                   embed=embed, words_text=words_text)
    style = _settle(r, style_votes, {k: v.anchors for k, v in lexicon.STYLES.items()}, "style",
                    MIN_COS_STYLE, embed=embed, words_text=words_text)
    if tempo is None and tempo_hits:
        pos, w = sorted(tempo_hits, key=lambda h: (-len(h[1]), h[0]))[0]
        tempo = lexicon.TEMPO_WORDS[w]
        r.reasons["tempo"] = f"'{w}' -> {tempo:g} bpm"
        r.consume(pos, pos + len(w))
    curve = _read_energy(r, mood)
    tempo, mode, style = _mood_defaults(r, mood, tempo, mode, style)
    unmapped = [w for w in re.findall(r"[a-z][a-z'-]*", "".join(c if not used[i] else " " for i, c in enumerate(low)))
                if w not in _STOP and len(w) > 1]
    if unmapped:
        r.reasons["unmapped"] = (f"not in the vocabulary: {', '.join(dict.fromkeys(unmapped))}"
                                 + (" (used only through the text embedding)" if embed else " (ignored)"))
    desc = Description(mood=mood, energy_curve=[round(float(e), 3) for e in curve], tempo_bpm=tempo,
                       key=key, mode=mode, style=style, instruments=inst_names or None,
                       reasons=r.reasons, source="text")
    from videobgm.bridges.text import description_text

    desc.text = description_text(desc)
    return desc
