"""What made a result: the CogIP version, the parser, the dataset as it may be shared, and a fingerprint of the
test rows actually scored.

The CogIP tasks put these into their lmms-eval ``metadata``, which lmms-eval copies into every
``*_results.json`` (``configs.<task>.metadata``). lmms-eval 0.7.3 dumps a task's config
(``TaskConfig.to_dict``) only after every task has loaded its dataset and run ``process_docs``; a
``metadata: !function utils.metadata_<key>`` entry hands lmms-eval the very dict object held here, so the
fingerprint that ``process_docs`` computes from the rows it kept reaches the results file
(:func:`cogip_tasks.task_hooks.define_hooks` defines both; ``cogip_tasks.task_writer`` writes the YAML).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .dimensions import HUMAN_DECIMALS, human_score

#: lmms-eval's task version (``metadata.version``), shown in the results' ``versions``.
TASK_VERSION = 1.0
#: The fingerprint's recipe, named in the value so that a later recipe can never be mistaken for this one.
FINGERPRINT_SCHEME = "ids-scores-sha256"

# One metadata dict per task name, for the lifetime of the process (see the module docstring).
_TASK_METADATA: dict[str, dict[str, Any]] = {}


def rows_fingerprint(key: str, ids: Iterable[Any], scores: Iterable[Any]) -> str:
    """A content hash of one dimension's test rows: the sorted ``(id, human score)`` pairs.

    Independent of row order, file layout, shard names and Parquet/Arrow versions; changes with any id or any
    score (compared at :data:`HUMAN_DECIMALS` decimals, as the metrics compare them). ``key`` is the
    dimension's canonical key (``Dimension.key``).
    """
    lines = sorted(f"{row_id}\t{human_score(score):.{HUMAN_DECIMALS}f}\n" for row_id, score in zip(ids, scores))
    digest = hashlib.sha256(f"{key}\n".encode())
    for line in lines:
        digest.update(line.encode("utf-8", "surrogatepass"))
    return f"{FINGERPRINT_SCHEME}:{digest.hexdigest()}"


def shareable_source(source: str) -> str:
    """The dataset as a result may name it: a Hub id (with ``@revision`` when pinned) as given, a local
    folder by its base name only (an absolute path names a user and a machine)."""
    from .dataset import looks_like_path

    if looks_like_path(source):
        return f"local:{Path(source).expanduser().resolve().name}"
    return source


@functools.cache  # read from the installed metadata once per process (a build keys every submission with it)
def package_version(name: str) -> str | None:
    """An installed distribution's version, None when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cogip_version() -> str:
    from . import __version__

    return __version__


def task_metadata(task: str) -> dict[str, Any]:
    """The (live) metadata dict of one task; filled by :func:`record_scored_rows` when its rows are loaded."""
    return _TASK_METADATA.setdefault(task, {"version": TASK_VERSION})


def record_scored_rows(task: str, key: str, source: str, parser: str, rows) -> None:
    """Record in the task's metadata what its results are made of: versions, dataset and the rows' fingerprint.

    ``rows`` is the ``datasets.Dataset`` the task will score (dimension ``key``'s test rows, checked).
    """
    columns = rows.select_columns(["id", "score"]).to_dict()
    task_metadata(task).update(
        cogip_version=cogip_version(),
        parser_version=parser,
        dataset=shareable_source(source),
        test_rows=len(columns["id"]),
        test_fingerprint=rows_fingerprint(key, columns["id"], columns["score"]),
    )
