"""Generation prompts: a JSON file (a list of strings, or a name -> prompt object) and/or prompts given inline.

Every prompt gets a *name* that becomes part of its image file names: ``p000``, ``p001``, ... for a list (the
position in the file), the key for an object. Names are checked here, before any model loads, so a bad entry
stops the run with the file, the entry and the value instead of failing halfway through a generation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class PromptFileError(ValueError):
    """A prompts file (or inline prompt) that cannot be used; the message names the file, entry and value."""


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str


def _check_text(text: object, where: str) -> str:
    if not isinstance(text, str):
        raise PromptFileError(f"{where}: expected a string prompt, got {type(text).__name__} {text!r:.80}")
    if not text.strip():
        raise PromptFileError(f"{where}: empty prompt")
    return text.strip()


def _check_name(name: str, where: str) -> str:
    if not _SAFE_NAME.match(name):
        raise PromptFileError(
            f"{where}: prompt name {name!r} is not usable in file names "
            "(letters, digits, '.', '_', '-'; starts with a letter or digit; at most 100 characters)"
        )
    return name


def parse_prompts(data: object, source: str) -> list[Prompt]:
    """Prompts from already-decoded JSON: a list of strings or an object mapping names to strings."""
    if isinstance(data, list):
        return [Prompt(f"p{i:03d}", _check_text(t, f"{source}: entry [{i}]")) for i, t in enumerate(data)]
    if isinstance(data, dict):
        return [
            Prompt(_check_name(str(k), f"{source}: entry {k!r}"), _check_text(t, f"{source}: entry {k!r}"))
            for k, t in data.items()
        ]
    raise PromptFileError(
        f"{source}: expected a JSON list of prompt strings or an object of name -> prompt, got {type(data).__name__}"
    )


def load_prompts(path: str | Path) -> list[Prompt]:
    """Read a prompts JSON file; errors name the file and the offending entry."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptFileError(f"{path}: prompts file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PromptFileError(f"{path}: cannot read prompts file: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise PromptFileError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    prompts = parse_prompts(data, str(path))
    if not prompts:
        raise PromptFileError(f"{path}: no prompts in file")
    return prompts


def collect_prompts(files: list[str | Path] | None = None, inline: list[str] | None = None,
                    limit: int | None = None) -> list[Prompt]:
    """Prompts of all ``files`` then the ``inline`` ones (named ``prompt0``, ...), each file cut to ``limit``."""
    prompts: list[Prompt] = []
    for path in files or []:
        prompts += load_prompts(path)[:limit] if limit else load_prompts(path)
    prompts += [Prompt(f"prompt{i}", _check_text(t, f"--prompt #{i + 1}")) for i, t in enumerate(inline or [])]
    if not prompts:
        raise PromptFileError("no prompts: give a prompts file (--prompts) or --prompt TEXT")
    seen: dict[str, str] = {}
    for p in prompts:
        if p.name in seen and seen[p.name] != p.text:
            raise PromptFileError(
                f"prompt name {p.name!r} is used twice with different prompts ({seen[p.name]!r:.60} / {p.text!r:.60}); "
                "give the files name -> prompt objects with distinct names"
            )
        seen[p.name] = p.text
    return list({p.name: p for p in prompts}.values())


def dimension_from_path(path: str | Path) -> str | None:
    """The dimension a prompt set targets when its file is named after one (``emotion.json`` -> emotional_valence)."""
    from cogip_tasks.dimensions import get_dimension

    try:
        return get_dimension(Path(path).stem).key
    except (KeyError, ValueError):
        return None
