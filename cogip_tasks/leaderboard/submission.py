"""Turning an lmms-eval output folder into a leaderboard submission file, and reading one back.

A submission is plain JSON (no NaN tokens: a missing or undefined number is ``null``)::

    {"format": "cogip-submission", "format_version": 1,
     "model": {"name", "backend", "args"}, "versions": {"lmms_eval", "cogip", "tasks"},
     "parser_version": "cogip-parse-1", "reasoning_tags": [["<think>", "</think>"], ...] | null,
     "dimensions": {"aesthetics": {"items": [{"doc_id", "id", "raw", "answer", "label", "score", "failure"}]}, ...},
     "metrics": {"aesthetics": {"srcc": ..., ...}, ..., "mean": {...}}}

``raw`` is what the model wrote, ``answer`` the text the parser read (``raw`` with reasoning blocks removed by
lmms-eval), ``label``/``score``/``failure`` what the parser read from it. Everything is re-derived by
:mod:`cogip_tasks.leaderboard.verify`; nothing here is trusted.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from ..dimensions import DIMENSIONS
from ..files import write_text
from ..results import GROUP, latest_results_file, read_samples, samples_file, task_metrics
from ..scoring import PARSER_VERSION

FORMAT = "cogip-submission"
FORMAT_VERSION = 1
MEAN = "mean"  # key of the across-dimension aggregates in "metrics"
# model_args keys whose values are never copied into a submission (credentials).
_SECRET_ARG = re.compile(r"token|secret|password|api_?key|auth", re.IGNORECASE)


class SubmissionError(ValueError):
    """An lmms-eval output folder or submission file that cannot be used; the message names file and field."""


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def scrub_model_args(model_args: Any) -> str:
    """``model_args`` as a string with credential-like values replaced (they must never be published)."""
    if isinstance(model_args, dict):
        model_args = ",".join(f"{k}={v}" for k, v in model_args.items())
    parts = []
    for part in str(model_args or "").split(","):
        key, sep, _ = part.partition("=")
        parts.append(f"{key}=<removed>" if sep and _SECRET_ARG.search(key) else part)
    return ",".join(parts)


def first_text(value: Any) -> str:
    """The first string of a logged response, however lmms-eval nested it (``"x"``, ``["x"]``, ``[["x"]]``)."""
    while isinstance(value, list):
        if not value:
            return ""
        value = value[0]
    return "" if value is None else str(value)


def reasoning_tags_of(results: dict) -> list[list[str]] | None:
    """The reasoning-tag pairs lmms-eval stripped before parsing (``--reasoning_tags``; ``none`` disables)."""
    value = results.get("config", {}).get("resolved_cli_args", {}).get("reasoning_tags")
    if value is None or value in ("", "none") or value is False:
        return None
    return json.loads(value) if isinstance(value, str) else value


def items_from_samples(samples: list[dict], where: str) -> tuple[list[dict], set[str]]:
    """Per-item predictions from one task's ``--log_samples`` lines, and the parser versions they name."""
    items, parsers = [], set()
    for n, sample in enumerate(samples, start=1):
        record = sample.get("srcc")
        if not isinstance(record, dict) or "id" not in record:
            raise SubmissionError(f"{where}: line {n}: no 'srcc' item record with an 'id' (not a cogip task log?)")
        answer = first_text(sample.get("filtered_resps"))
        # lmms-eval drops "resps" from the log when it equals "filtered_resps".
        raw = first_text(sample["resps"]) if "resps" in sample else answer
        items.append({
            "doc_id": sample.get("doc_id"),
            "id": record["id"],
            "raw": raw,
            "answer": answer,
            "label": record.get("label"),
            "score": record.get("pred"),
            "failure": record.get("failure"),
        })
        parsers.add(str(record.get("parser")))
    items.sort(key=lambda item: (item["doc_id"] is None, item["doc_id"]))
    return items, parsers


def nan_to_none(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def none_to_nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def make_submission(
    name: str,
    items: dict[str, list[dict]],
    metrics: dict[str, dict[str, float]],
    *,
    backend: str | None = None,
    model_args: str = "",
    parser_version: str = PARSER_VERSION,
    reasoning_tags: list[list[str]] | None = None,
    task_versions: dict | None = None,
    source: dict | None = None,
) -> dict:
    """Assemble a submission dict (the one place its layout is written)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {"name": name, "backend": backend, "args": scrub_model_args(model_args)},
        "versions": {
            "lmms_eval": package_version("lmms-eval"),
            "cogip": package_version("cogip"),
            "tasks": task_versions or {},
        },
        "parser_version": parser_version,
        "reasoning_tags": reasoning_tags,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": source or {},
        "dimensions": {key: {"items": rows} for key, rows in items.items()},
        "metrics": {part: {m: nan_to_none(v) for m, v in values.items()} for part, values in metrics.items()},
    }


def submission_from_output(output_path: str | Path, name: str | None = None, results_file: str | Path | None = None) -> dict:
    """Build a submission from an lmms-eval ``--output_path`` folder of a ``--tasks cogip --log_samples`` run."""
    results_path = Path(results_file) if results_file else latest_results_file(output_path)
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SubmissionError(f"{results_path}: not valid JSON ({err})") from err
    items, metrics, parsers = {}, {}, set()
    for dim in DIMENSIONS.values():
        path = samples_file(results_path, dim.task_name)
        items[dim.key], found = items_from_samples(read_samples(path), str(path))
        parsers |= found
        metrics[dim.key] = task_metrics(results, dim.task_name)
        if not metrics[dim.key]:
            raise SubmissionError(f"{results_path}: results.{dim.task_name}: no metrics (was the cogip group run?)")
    metrics[MEAN] = task_metrics(results, GROUP)
    if len(parsers) != 1:
        raise SubmissionError(f"{output_path}: items were parsed by different parsers ({', '.join(sorted(parsers))})")
    config = results.get("config", {})
    return make_submission(
        name or str(results.get("model_name") or config.get("model") or "unnamed"),
        items,
        metrics,
        backend=config.get("model"),
        model_args=config.get("model_args", ""),
        parser_version=parsers.pop(),
        reasoning_tags=reasoning_tags_of(results),
        task_versions={t: v for t, v in results.get("versions", {}).items() if t.startswith(GROUP)},
        source={"results_file": results_path.name, "date": results.get("date"),
                "lmms_eval_reported": results.get("lmms_eval_version")},
    )


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON atomically (temp file, then rename), never with NaN tokens."""
    return write_text(path, json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n")


def read_submission(path: str | Path) -> dict:
    """Load a submission file; only JSON validity is checked here (``verify`` checks the rest)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SubmissionError(f"{path}: cannot read a submission ({err})") from err
    if not isinstance(data, dict):
        raise SubmissionError(f"{path}: a submission is a JSON object, found {type(data).__name__}")
    return data
