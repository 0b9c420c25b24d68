"""The generation outputs' file formats, each written atomically (``cogip_tasks.files``)."""

from __future__ import annotations

from pathlib import Path

from cogip_tasks.files import atomic_write, write_json

__all__ = ["save_figure", "save_png", "write_json"]  # write_json: cogip_tasks.files' (NaN/inf written as null)


def save_png(image, path: str | Path) -> None:
    atomic_write(path, lambda h: image.save(h, format="PNG"))


def save_figure(fig, path: str | Path) -> None:
    atomic_write(path, lambda h: fig.savefig(h, format="png", dpi=110, bbox_inches="tight"))
