"""Removing reasoning blocks (``<think>...</think>``) from an answer exactly as lmms-eval does, in linear time.

lmms-eval's ``strip_reasoning_tags`` (``lmms_eval.api.reasoning``) rebuilds the whole string for every block
it removes, so an answer with many blocks costs quadratic time (a 1.6 MB answer took a minute to verify), and
importing it ties ``verify`` to lmms-eval. The rule it applies, pair by pair, is:

1. while the text holds the start tag and the end tag: find the first start tag, then the first end tag at or
   after the start tag's position; remove everything from the start tag to the end of the end tag (stop when
   there is no such end tag);
2. then, if the end tag is still there and the start tag is not (a chat template prefilled the start tag),
   keep only what follows the last end tag;

and finally strip surrounding whitespace. :func:`strip_reasoning_tags` gives the same text for every input
(``tests/test_leaderboard_reasoning.py`` compares both on fuzzed strings), streaming: kept text is appended
to a list of pieces, and a start tag that spans a removed block's two sides (``<th`` + ``ink>``) is found by
looking at the last ``len(start) - 1`` kept characters only.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_TAG_LENGTH = 64  # tags are short markers; the look-back around a removed block costs O(tag length ** 2)


class _Kept:
    """The text kept so far: appended in pieces, its tail readable and removable in O(tag length)."""

    def __init__(self) -> None:
        self.pieces: list[str] = []

    def append(self, text: str) -> None:
        if text:
            self.pieces.append(text)

    def tail(self, n: int) -> str:
        out = ""
        for piece in reversed(self.pieces):
            if len(out) >= n:
                break
            out = piece + out
        return out[-n:] if n else ""

    def drop(self, n: int) -> None:
        """Remove the last ``n`` characters."""
        while n > 0 and self.pieces:
            last = self.pieces.pop()
            if len(last) > n:
                self.pieces.append(last[:-n])
                return
            n -= len(last)

    def text(self) -> str:
        return "".join(self.pieces)


def _first_at(pattern: str, head: str, text: str, i: int) -> tuple[str, int] | None:
    """The first occurrence of ``pattern`` in ``head + text[i:]``: ``("head", offset)`` or ``("text", index)``."""
    for k in range(len(head)):
        if (head[k:] + text[i : i + len(pattern)]).startswith(pattern):
            return "head", k
    at = text.find(pattern, i)
    return None if at == -1 else ("text", at)


def _remove_blocks(text: str, start: str, end: str) -> str:
    """Step 1 of the rule for one tag pair."""
    kept = _Kept()
    i = 0  # the unprocessed rest is text[i:]; the current string is kept + text[i:]
    look_back = len(start) - 1  # kept text never holds a whole start tag, only (after a removal) its beginning
    while True:
        head = kept.tail(look_back)
        found = _first_at(start, head, text, i)
        if found is None:
            break
        where, at = found
        if where == "text":
            kept.append(text[i:at])
            head, i = "", at  # the start tag is text[at:], nothing of it is kept
        else:
            head = head[at:]  # the start tag begins in the kept tail: take those characters back
            kept.drop(len(head))
        # The end tag is searched from the start tag's first character (as lmms-eval's find(end, start) does).
        closing = _first_at(end, head, text, i)
        if closing is None:
            kept.append(head)
            break
        where, at = closing
        if where == "text":
            i = at + len(end)
        elif at + len(end) <= len(head):  # the end tag lies inside the taken-back characters
            kept.append(head[at + len(end) :])
        else:
            i += at + len(end) - len(head)
    kept.append(text[i:])
    return kept.text()


def strip_reasoning_tags(text: str, tag_pairs: Sequence[Sequence[str]]) -> str:
    """``text`` without its reasoning blocks, as ``lmms_eval.api.reasoning.strip_reasoning_tags`` returns it."""
    for start, end in tag_pairs:
        text = _remove_blocks(text, start, end)
        if end in text and start not in text:
            text = text.rsplit(end, 1)[-1]
    return text.strip()
