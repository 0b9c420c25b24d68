"""Run identity: the one rule deciding every reuse, resume and cache hit.

A run's *identity* is every setting that changes its output (the model and all of its arguments except
placement, generation settings, the prompt, the dataset, the recipe, ...), as a flat mapping of dotted field
names to values. Two runs may share outputs only when their identities are equal; :func:`differences` names the
fields that are not. :func:`identity_hash` is its sha256 over canonical JSON (sorted keys, no whitespace), so a
record can carry the identity without carrying a value that must not be shown (an API key changes no output and
is left out by the caller; anything else is hashed, never printed).

Callers: the ``cogip-gen`` judge (which recorded answers are reused), ``cogip-gen generate`` (whether a folder's
images were made by this run's settings), ``cogip-train --resume`` (a checkpoint continues only the run that
wrote it).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from .errors import CogIPError

#: ``model_args`` keys that say where a model runs, not what it computes: the only ones left out of an identity.
PLACEMENT_KEYS = frozenset({"device", "device_map", "batch_size"})


def without_placement(model_args: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model_args.items() if k not in PLACEMENT_KEYS}


class IdentityMismatch(CogIPError, ValueError):
    """A reuse or resume refused because a setting that changes the output differs; names the field(s)."""


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and tuples become lists; other leaves are kept as they are."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            flat[name] = [dict(v) if isinstance(v, Mapping) else v for v in value]
        else:
            flat[name] = value
    return flat


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN; "nan" still differs from every number
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return f"{type(value).__name__}:{value}"  # a Path, an enum: by its text


def canonical_json(settings: Mapping[str, Any]) -> str:
    """The identity as canonical JSON: flattened, keys sorted, no whitespace, UTF-8 text kept."""
    return json.dumps(_canonical(flatten(settings)), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def identity_hash(settings: Mapping[str, Any]) -> str:
    """Hex sha256 of :func:`canonical_json`: equal exactly when every field is equal."""
    return hashlib.sha256(canonical_json(settings).encode("utf-8", "surrogatepass")).hexdigest()


def differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The dotted fields whose values differ (present in one only counts), sorted."""
    old, new = _canonical(flatten(recorded)), _canonical(flatten(current))

    def text(values: dict[str, Any], key: str) -> str | None:  # as JSON: True and 1, 1 and 1.0 stay apart
        return json.dumps(values[key], sort_keys=True, ensure_ascii=False) if key in values else None

    return sorted(k for k in old.keys() | new.keys() if text(old, k) != text(new, k))


def require_same(recorded: Mapping[str, Any], current: Mapping[str, Any], where: str, action: str) -> None:
    """Raise :class:`IdentityMismatch` naming every differing field (values are not shown: they may be private).

    ``action`` says what was refused, e.g. ``"--resume continues only the run that wrote the checkpoint"``.
    """
    changed = differences(recorded, current)
    if changed:
        shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
        raise IdentityMismatch(f"{where}: {action}; these settings differ: {shown}")
