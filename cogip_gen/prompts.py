"""Generation prompts: a JSON file (a list, or a name -> prompt object) and/or prompts given inline.

Every prompt gets a *name* that becomes part of its image file names: ``p000``, ``p001``, ... for a list (the
position in the file), the key for an object. An entry is a prompt string, or an object
``{"prompt": "...", "direction": "positive" | "negative" | "either"}`` that also states the emotional direction
the prompt aims at (used when valence is judged, see :func:`valence_direction`). Everything is checked here,
before any model loads, so a bad entry stops the run with the file, the entry and the value instead of failing
halfway through a generation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cogip_tasks.errors import CogIPError
from cogip_tasks.files import UserFileError, read_user_json

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
DIRECTIONS = ("positive", "negative", "either")
_ENTRY_FIELDS = {"prompt", "direction"}

# The keyword rule of :func:`keyword_direction`: emotion words (whole words, any case) that mark a prompt as aiming
# at a pleasant or an unpleasant feeling. Deliberately small and literal so anyone can predict its verdict.
POSITIVE_WORDS = frozenset(
    {
        "joy",
        "joyful",
        "happy",
        "happiness",
        "smile",
        "smiles",
        "smiling",
        "laugh",
        "laughs",
        "laughter",
        "love",
        "loved",
        "loving",
        "warmth",
        "hope",
        "hopeful",
        "pride",
        "proud",
        "celebration",
        "celebrate",
        "triumph",
        "triumphs",
        "victory",
        "relief",
        "relieved",
        "tenderness",
        "gratitude",
        "grateful",
        "thanks",
        "thankful",
        "delight",
        "wonder",
        "comfort",
        "peaceful",
        "peacefulness",
        "kindness",
        "generous",
        "forgiveness",
        "healed",
        "reunited",
        "reunion",
        "embrace",
        "embracing",
        "trust",
        "devotion",
    }
)
NEGATIVE_WORDS = frozenset(
    {
        "grief",
        "sad",
        "sadness",
        "sorrow",
        "loss",
        "lonely",
        "tears",
        "crying",
        "fear",
        "dread",
        "anxiety",
        "worry",
        "fatigue",
        "exhausted",
        "exhaustion",
        "funeral",
        "grave",
        "widow",
        "mourning",
        "ache",
        "aching",
        "scar",
        "breakup",
        "farewell",
        "goodbye",
        "vigil",
        "memorial",
        "gone",
        "passed",
        "empty",
        "trembling",
        "tremor",
        "despair",
        "pain",
        "regret",
        "missing",
        "lost",
    }
)
_WORD = re.compile(r"[a-z]+")


class PromptFileError(CogIPError, ValueError):
    """A prompts file (or inline prompt) that cannot be used; the message names the file, entry and value."""


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str
    direction: str | None = None  # stated in the prompts file: one of DIRECTIONS; None: not stated


#: Far more than the text encoder reads (``--max-sequence-length`` tokens, at most 1024): a longer prompt would be
#: cut without a word.
MAX_PROMPT_CHARS = 10_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_text(text: object, where: str) -> str:
    if not isinstance(text, str):
        raise PromptFileError(f"{where}: expected a string prompt, got {type(text).__name__} {text!r:.80}")
    if not text.strip():
        raise PromptFileError(f"{where}: empty prompt")
    bad = _CONTROL.search(text)
    if bad:
        raise PromptFileError(
            f"{where}: the prompt holds a control character (U+{ord(bad.group()):04X} at position {bad.start()})"
        )
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptFileError(
            f"{where}: the prompt has {len(text):,} characters; at most {MAX_PROMPT_CHARS:,} (the text encoder "
            "reads far fewer)"
        )
    return text.strip()


def _check_name(name: str, where: str) -> str:
    if not SAFE_NAME.match(name):
        raise PromptFileError(
            f"{where}: prompt name {name!r} is not usable in file names "
            "(letters, digits, '.', '_', '-'; starts with a letter or digit; at most 100 characters)"
        )
    return name


def _entry(name: str, value: object, where: str) -> Prompt:
    """One entry: a prompt string, or an object with ``prompt`` and an optional ``direction``."""
    if not isinstance(value, dict):
        return Prompt(name, _check_text(value, where))
    unknown = sorted(set(value) - _ENTRY_FIELDS)
    if unknown:
        raise PromptFileError(f"{where}: unknown field(s) {unknown} (an entry object has 'prompt' and 'direction')")
    if "prompt" not in value:
        raise PromptFileError(f"{where}: entry object without a 'prompt'")
    direction = value.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise PromptFileError(f"{where}: direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    return Prompt(name, _check_text(value["prompt"], where), direction)


def parse_prompts(data: object, source: str) -> list[Prompt]:
    """Prompts from already-decoded JSON: a list of entries or an object mapping names to entries."""
    if isinstance(data, list):
        return [_entry(f"p{i:03d}", t, f"{source}: entry [{i}]") for i, t in enumerate(data)]
    if isinstance(data, dict):
        return [
            _entry(_check_name(str(k), f"{source}: entry {k!r}"), t, f"{source}: entry {k!r}") for k, t in data.items()
        ]
    raise PromptFileError(
        f"{source}: expected a JSON list of prompt strings or an object of name -> prompt, got {type(data).__name__}"
    )


def load_prompts(path: str | Path) -> list[Prompt]:
    """Read a prompts JSON file with the one reader of user files (a regular file under the size cap, bounded
    JSON, a name repeated in one object refused); errors name the file and the offending entry."""
    path = Path(path)
    try:
        data = read_user_json(path, what="prompts file")
    except UserFileError as err:
        raise PromptFileError(str(err)) from None
    prompts = parse_prompts(data, str(path))
    if not prompts:
        raise PromptFileError(f"{path}: no prompts in file")
    return prompts


def check_limit(limit: int | None) -> int | None:
    """``--limit N`` keeps the first N prompts of each file: N must be a positive count (None: all)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise PromptFileError(f"--limit {limit!r}: must be a whole number >= 1 (leave it out to use every prompt)")
    return limit


def collect_prompts(
    files: list[str | Path] | None = None, inline: list[str] | None = None, limit: int | None = None
) -> list[Prompt]:
    """Prompts of all ``files`` then the ``inline`` ones (named ``prompt0``, ...), each file cut to ``limit``."""
    limit = check_limit(limit)
    prompts: list[Prompt] = []
    for path in files or []:
        prompts += load_prompts(path)[:limit]
    prompts += [Prompt(f"prompt{i}", _check_text(t, f"--prompt #{i + 1}")) for i, t in enumerate(inline or [])]
    if not prompts:
        raise PromptFileError("no prompts: give a prompts file (--prompts) or --prompt TEXT")
    seen: dict[str, Prompt] = {}
    for p in prompts:
        if p.name in seen and seen[p.name] != p:
            raise PromptFileError(
                f"prompt name {p.name!r} is used twice with different prompts ({seen[p.name].text!r:.60} / "
                f"{p.text!r:.60}); give the files name -> prompt objects with distinct names"
            )
        seen[p.name] = p
    return list(seen.values())


def keyword_direction(text: str) -> str | None:
    """``positive`` / ``negative`` when the prompt names more emotion words of that side (:data:`POSITIVE_WORDS`,
    :data:`NEGATIVE_WORDS`, each occurrence counted), None on a tie (none, or as many of each: a mixed feeling)."""
    words = _WORD.findall(text.lower())
    pos = sum(w in POSITIVE_WORDS for w in words)
    neg = sum(w in NEGATIVE_WORDS for w in words)
    return "positive" if pos > neg else "negative" if neg > pos else None


def valence_direction(text: str, stated: str | None) -> tuple[str, str]:
    """(direction, rule) a prompt's valence is judged in: the direction stated in the prompts file (rule
    ``explicit``), else the keyword rule's (``keywords``), else ``either`` — intensity, |valence| (``fallback``)."""
    if stated is not None:
        return stated, "explicit"
    found = keyword_direction(text)
    return (found, "keywords") if found else ("either", "fallback")


def dimension_from_path(path: str | Path) -> str | None:
    """The dimension a prompt set targets when its file is named after one (``emotion.json`` -> emotional_valence)."""
    from cogip_tasks.dimensions import get_dimension

    try:
        return get_dimension(Path(path).stem).key
    except (KeyError, ValueError):
        return None
