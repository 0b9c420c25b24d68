"""The built dataset folder's layout: split names, shard file names and the data-file globs of the configs.

Read by the builder, the card and the push; it imports nothing of theirs (no cycle between them).
"""

from __future__ import annotations

import json
from typing import Any

from cogip_tasks.dimensions import DIMENSIONS

from .outdir import DATA_DIR, MANIFEST

__all__ = ["DATA_DIR", "MANIFEST", "SPLITS", "data_files", "manifest_text", "shard_name"]

SPLITS = ("train", "test", "test_full")  # shards: <DATA_DIR>/<dimension_key>/<split>-NNNNN-of-NNNNN.parquet


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def data_files(key: str | None, split: str, keys: tuple[str, ...] = tuple(DIMENSIONS)) -> str | list[str]:
    """Shard glob(s) of a config's split; ``default`` lists the dimensions (``keys``) in the benchmark's order."""
    if key is not None:
        return f"{DATA_DIR}/{key}/{split}-*"
    return [f"{DATA_DIR}/{k}/{split}-*" for k in keys]


def manifest_text(manifest: dict[str, Any]) -> str:
    """``cogip_build.json``'s text: written by the build, rewritten by the push when it names the repo."""
    return json.dumps(manifest, indent=1, sort_keys=True) + "\n"
