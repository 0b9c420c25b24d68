"""Untrusted text on the page: one function makes a display name, one skeleton compares names, one function
makes any text plain.

A model name comes from a submission file, so it is untrusted. :func:`display_name` is the only way one
becomes a name on the page (``verify`` calls it at its boundary): valid Unicode, no control characters, at
least one visible character, invisible format characters removed and whitespace collapsed. Reserved and
duplicate names are compared by :func:`skeleton`, which folds what *looks* the same, not only what Unicode
calls compatible: NFKC and case, then combining marks, variation selectors, Hangul and other blank fillers,
look-alike punctuation (ratio colon, modifier colons) and Cyrillic/Greek letters that look Latin. Renderers
draw every string through :func:`plain` (and their own escaping): text never becomes markup or math.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LENGTH = 100  # a model name is a table cell and a plot title

#: Names the leaderboard gives its own rows (constant, train-set mean, uniform random): ``reference: ...``.
RESERVED_PREFIX = re.compile(r"reference:")

# Letters that render like blanks although Unicode files them as letters or symbols.
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5\u180e")
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
# Look-alikes NFKC leaves apart (after case folding): Cyrillic and Greek letters that look Latin, colon-like and
# dash-like marks, digits that read as letters. A subset of Unicode's confusables (UTS #39) for names.
_CONFUSABLES = str.maketrans(
    {
        **dict.fromkeys("аɑαа", "a"),
        **dict.fromkeys("вβь", "b"),
        **dict.fromkeys("сϲς", "c"),
        **dict.fromkeys("ԁ", "d"),
        **dict.fromkeys("еєεҽ", "e"),
        **dict.fromkeys("ɡ", "g"),
        **dict.fromkeys("һн", "h"),
        **dict.fromkeys("іι", "i"),
        **dict.fromkeys("ӏɩ1|ǀ", "l"),
        **dict.fromkeys("ј", "j"),
        **dict.fromkeys("κк", "k"),
        **dict.fromkeys("м", "m"),
        **dict.fromkeys("ո", "n"),
        **dict.fromkeys("оοσ0ᴏ", "o"),
        **dict.fromkeys("рρ", "p"),
        **dict.fromkeys("ԛ", "q"),
        **dict.fromkeys("ѕ", "s"),
        **dict.fromkeys("тτ", "t"),
        **dict.fromkeys("υս", "u"),
        **dict.fromkeys("νѵ", "v"),
        **dict.fromkeys("ԝѡω", "w"),
        **dict.fromkeys("хχ", "x"),
        **dict.fromkeys("уү", "y"),
        **dict.fromkeys("\u2236\ua789\u02d0\u02f8\u05c3\u0703\u0704\ufe13\ufe55\u205a\u1361\u0589", ":"),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u02d7\u2043\ufe58\u2e3a", "-"),
    }
)


class NameProblem(ValueError):
    """Text that cannot be a name on the page; the message says why."""


def _invisible(ch: str) -> bool:
    return ch.isspace() or ch in _BLANK_LOOKING or unicodedata.category(ch) in ("Mn", "Me", "Cf", "Zs", "Zl", "Zp")


def display_name(text: str) -> str:
    """``text`` as a display name, or :class:`NameProblem` saying why it cannot be one.

    Format characters (zero-width spaces, bidi marks, soft hyphens) are removed and whitespace collapsed;
    control characters, unpaired surrogates, unassigned and private-use code points are refused, and so is a
    name with nothing visible left or longer than :data:`MAX_NAME_LENGTH`.
    """
    if not isinstance(text, str):
        raise NameProblem(f"a name is text, found {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NameProblem("not valid Unicode (an unpaired surrogate)") from None
    name = " ".join("".join(ch for ch in text if unicodedata.category(ch) != "Cf").split())
    for ch in name:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs", "Cn", "Co"):
            kind = {"Cc": "control", "Cs": "surrogate", "Cn": "unassigned", "Co": "private-use"}[category]
            raise NameProblem(f"holds a {kind} character U+{ord(ch):04X}")
    if not any(not _invisible(ch) for ch in name):
        raise NameProblem("a non-empty model name with at least one visible character is required")
    if len(name) > MAX_NAME_LENGTH:
        raise NameProblem(f"{len(name)} characters, at most {MAX_NAME_LENGTH}")
    return name


def skeleton(name: str) -> str:
    """What two names must differ in to be told apart on the page (look-alikes folded, see the module doc)."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _VARIATION_SELECTORS.sub("", unicodedata.normalize("NFD", text))
    text = "".join(ch for ch in text if not _invisible(ch))
    return unicodedata.normalize("NFKC", text.translate(_CONFUSABLES)).casefold().translate(_CONFUSABLES)


def is_reserved_name(name: str) -> bool:
    """True for names of the leaderboard's own reference rows, however they are spelled."""
    return bool(RESERVED_PREFIX.match(skeleton(name)))


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def plain(text: object) -> str:
    """Any text (a name, a file path, a rejection reason) safe to draw: control characters and unpaired
    surrogates become U+FFFD, line breaks and tabs a space. Renderers escape their own markup on top."""
    return _UNPRINTABLE.sub("\ufffd", str(text).replace("\n", " ").replace("\t", " ").replace("\r", " "))
