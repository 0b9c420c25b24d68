"""Writes that a crash cannot leave half-done: write a temporary file next to the target, then rename it."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_json(path: str | Path, data: Any) -> None:
    """JSON with NaN/inf written as null (strict JSON readers reject NaN)."""
    text = json.dumps(_finite(data), indent=1, ensure_ascii=False) + "\n"
    _atomic_write(Path(path), lambda h: h.write(text.encode("utf-8")))


def save_png(image, path: str | Path) -> None:
    _atomic_write(Path(path), lambda h: image.save(h, format="PNG"))


def save_figure(fig, path: str | Path) -> None:
    _atomic_write(Path(path), lambda h: fig.savefig(h, format="png", dpi=110, bbox_inches="tight"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
