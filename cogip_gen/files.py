"""The generation outputs' file formats, each written atomically (``cogip_tasks.files``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from cogip_tasks.files import atomic_write, write_text


def write_json(path: str | Path, data: Any) -> None:
    """JSON with NaN/inf written as null (strict JSON readers reject NaN)."""
    write_text(path, json.dumps(_finite(data), indent=1, ensure_ascii=False) + "\n")


def save_png(image, path: str | Path) -> None:
    atomic_write(path, lambda h: image.save(h, format="PNG"))


def save_figure(fig, path: str | Path) -> None:
    atomic_write(path, lambda h: fig.savefig(h, format="png", dpi=110, bbox_inches="tight"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
