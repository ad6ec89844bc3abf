"""Transcripts as a recogniser learns and scores them: one normal form for training and scoring.

Speech corpora write what was said with capitals, punctuation and typographic quotes ("Don’t —
stop!"); none of it is heard. Like ESPnet's and DeepSpeech's recipes, the default normal form
keeps letters, digits and the apostrophe inside words, lowercased, with single spaces; hyphens
and dashes separate words. What it removes is counted, so the user can be told (a ``note:``
line).

Example:
    >>> normalize_transcript("Don’t — STOP!  Well-known.")
    "don't stop well known"
    >>> TranscriptNormalizer().normalize_all(["Hi!", "ok"])
    (['hi', 'ok'], {'!': 1})
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

# Typographic apostrophes (right and left single quotes, modifier letter) and the backtick.
_APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"}
# Hyphens, dashes (U+2010..U+2015), underscores and slashes stand between words.
_SEPARATORS = set("-\u2010\u2011\u2012\u2013\u2014\u2015_/")


def _keep(char: str) -> bool:
    return unicodedata.category(char)[0] in ("L", "N", "M")  # letters, digits, combining marks


def normalize_transcript(text: str) -> str:
    """The normal form of ``text``: NFKC, lowercase, letters, digits and in-word apostrophes,
    words separated by single spaces."""
    return _normalize(text, Counter())


def _normalize(text: str, dropped: Counter) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    chars: list[str] = []
    for char in text:
        char = _APOSTROPHES.get(char, char)
        if char.isspace() or char in _SEPARATORS:
            chars.append(" ")
        elif char == "'" or _keep(char):
            chars.append(char)
        else:
            dropped[char] += 1
    # An apostrophe counts only between letters (don't, o'clock): quotes around words go.
    words = []
    for word in "".join(chars).split():
        stripped = word.strip("'")
        dropped["'"] += len(word) - len(stripped)
        if stripped:
            words.append(stripped)
    if dropped["'"] == 0:
        del dropped["'"]
    return " ".join(words)


class TranscriptNormalizer:
    """Normalises transcripts and counts the characters it removed (for one ``note:``)."""

    def normalize_all(self, texts: Sequence[str]) -> tuple[list[str], dict[str, int]]:
        """The normal forms of ``texts``, and each removed character's count, most frequent
        first."""
        dropped: Counter = Counter()
        normal = [_normalize(t, dropped) for t in texts]
        return normal, dict(dropped.most_common())


def dropped_note(dropped: dict[str, int], what: str) -> str | None:
    """One line telling what normalisation removed, or None when nothing was.

    Example:
        >>> dropped_note({"!": 3, ",": 1}, "training transcripts")
        "training transcripts: removed 4 characters that are not letters, digits or in-word apostrophes ('!' 3, ',' 1)"
    """  # noqa: E501
    if not dropped:
        return None
    total = sum(dropped.values())
    shown = ", ".join(f"{c!r} {n}" for c, n in list(dropped.items())[:8])
    more = ", ..." if len(dropped) > 8 else ""
    return (
        f"{what}: removed {total} characters that are not letters, digits or in-word "
        f"apostrophes ({shown}{more})"
    )


__all__ = ["TranscriptNormalizer", "dropped_note", "normalize_transcript"]
