"""Turning an lmms-eval output folder into a leaderboard submission file, and reading one back.

A submission is plain JSON (no NaN tokens: a missing or undefined number is ``null``)::

    {"format": "cogip-submission", "format_version": 1,
     "model": {"name", "backend", "args"}, "versions": {"lmms_eval", "cogip", "tasks"},
     "parser_version": "cogip-parse-1", "reasoning_tags": [["<think>", "</think>"], ...] | null,
     "data": {"dataset": "foolen/CogIP-Bench", "test_fingerprints": {"aesthetics": "ids-scores-sha256:...", ...}},
     "dimensions": {"aesthetics": {"items": [{"doc_id", "id", "raw", "answer", "label", "score", "failure"}]}, ...},
     "metrics": {"aesthetics": {"srcc": ..., ...}, ..., "mean": {...}}}

``raw`` is what the model wrote, ``answer`` the text the parser read (``raw`` with reasoning blocks removed by
lmms-eval), ``label``/``score``/``failure`` what the parser read from it. Everything is re-derived by
:mod:`cogip_tasks.leaderboard.verify`; nothing here is trusted.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..dimensions import BUILTIN_SPEC, BenchmarkSpec
from ..errors import CogIPError
from ..files import decode_utf8, json_safe, parse_json, read_user_bytes
from ..model_args import published_model_name, published_value, scrub_model_args
from ..provenance import package_version
from ..results import RunOutputError, latest_results_file, read_results, read_samples, samples_file, task_metrics
from ..scoring import PARSER_VERSION
from .names import NameProblem, display_name, is_reserved_name, plain

FORMAT = "cogip-submission"
FORMAT_VERSION = 1
MEAN = "mean"  # key of the across-dimension aggregates in "metrics"


class SubmissionError(CogIPError, ValueError):
    """An lmms-eval output folder or submission file that cannot be used; the message names file and field."""


def first_text(value: Any) -> str:
    """The first string of a logged response, however lmms-eval nested it (``"x"``, ``["x"]``, ``[["x"]]``)."""
    while isinstance(value, list):
        if not value:
            return ""
        value = value[0]
    return "" if value is None else str(value)


def reasoning_tags_of(results: dict) -> list[list[str]] | None:
    """The reasoning-tag pairs lmms-eval stripped before parsing (``--reasoning_tags``; ``none`` disables)."""
    cli_args = config_of(results).get("resolved_cli_args")
    value = cli_args.get("reasoning_tags") if isinstance(cli_args, dict) else None
    if value is None or value in ("", "none") or value is False:
        return None
    try:
        return json.loads(value) if isinstance(value, str) else value
    except (json.JSONDecodeError, RecursionError):
        return value  # kept as written: verify rejects tags that are not [start, end] pairs


def items_from_samples(samples: list[dict], where: str) -> tuple[list[dict], set[str]]:
    """Per-item predictions from one task's ``--log_samples`` lines, and the parser versions they name."""
    items, parsers = [], set()
    for n, sample in enumerate(samples, start=1):
        record = sample.get("srcc") if isinstance(sample, dict) else None
        if not isinstance(record, dict) or "id" not in record:
            raise SubmissionError(f"{where}: line {n}: no 'srcc' item record with an 'id' (not a cogip task log?)")
        answer = first_text(sample.get("filtered_resps"))
        # lmms-eval drops "resps" from the log when it equals "filtered_resps".
        raw = first_text(sample["resps"]) if "resps" in sample else answer
        items.append(
            {
                "doc_id": sample.get("doc_id"),
                "id": record["id"],
                "raw": raw,
                "answer": answer,
                "label": record.get("label"),
                "score": record.get("pred"),
                "failure": record.get("failure"),
            }
        )
        parsers.add(str(record.get("parser")))
    # Dataset order for readers (multi-process runs log rank by rank); no number depends on it.
    items.sort(
        key=lambda item: (
            not isinstance(item["doc_id"], int),
            item["doc_id"] if isinstance(item["doc_id"], int) else 0,
            str(item["id"]),
        )
    )
    return items, parsers


nan_to_none = json_safe  # kept name; NaN (and inf) -> null has one home: cogip_tasks.files.json_safe


def none_to_nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def benchmark_record(spec: BenchmarkSpec) -> dict[str, str]:
    """What a submission says about its benchmark: ``verify`` compares the spec fingerprint with the dataset's."""
    return {"name": spec.name, "title": spec.title, "spec_sha256": spec.fingerprint}


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
    spec: BenchmarkSpec = BUILTIN_SPEC,
    data: dict | None = None,
) -> dict:
    """Assemble a submission dict (the one place its layout is written)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "benchmark": benchmark_record(spec),
        "model": {"name": name, "backend": backend, "args": scrub_model_args(model_args)},
        "versions": {
            "lmms_eval": package_version("lmms-eval"),
            "cogip": package_version("cogip"),
            "tasks": task_versions or {},
        },
        "parser_version": parser_version,
        "reasoning_tags": reasoning_tags,
        "data": data or {},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": source or {},
        "dimensions": {key: {"items": rows} for key, rows in items.items()},
        "metrics": json_safe(metrics),
    }


def default_name(config: dict) -> str:
    """The published model reference (a Hub id or a local folder's base name), else the lmms-eval model type."""
    backend = published_value("model", config.get("model")) if isinstance(config.get("model"), str) else None
    return published_model_name(config.get("model_args", "")) or backend or "unnamed"


def config_of(results: dict) -> dict:
    config = results.get("config")
    return config if isinstance(config, dict) else {}


def submission_from_output(
    output_path: str | Path,
    name: str | None = None,
    results_file: str | Path | None = None,
    spec: BenchmarkSpec = BUILTIN_SPEC,
) -> dict:
    """Build a submission from an lmms-eval ``--output_path`` folder of a ``--tasks <spec name> --log_samples``
    run (``--tasks cogip`` for the built-in benchmark)."""
    results_path = Path(results_file) if results_file else latest_results_file(output_path)
    try:
        results = read_results(results_path)
    except RunOutputError as err:
        raise SubmissionError(str(err)) from None
    items, metrics, parsers = {}, {}, set()
    for dim in spec.dimensions:
        path = samples_file(results_path, dim.task_name)
        try:
            samples = read_samples(path)
        except RunOutputError as err:
            raise SubmissionError(str(err)) from None
        items[dim.key], found = items_from_samples(samples, str(path))
        parsers |= found
        metrics[dim.key] = task_metrics(results, dim.task_name)
        if not metrics[dim.key]:
            raise SubmissionError(
                f"{results_path}: results.{dim.task_name}: no metrics (was the {spec.name} group run?)"
            )
    metrics[MEAN] = task_metrics(results, spec.name)  # the group: the benchmark's name
    # Never lmms-eval's model_name: it is the raw text after pretrained= (a URL with a token, a local path).
    name = name or default_name(config_of(results))
    try:
        shown = display_name(name)
    except NameProblem as err:
        raise SubmissionError(f"--name {plain(name)!r}: {err}") from None
    if is_reserved_name(shown):
        raise SubmissionError(f"--name {shown!r}: 'reference: ...' names are reserved for the leaderboard's own rows")
    if len(parsers) != 1:
        raise SubmissionError(f"{output_path}: items were parsed by different parsers ({', '.join(sorted(parsers))})")
    config = config_of(results)
    data = data_of(results, spec)
    versions = results.get("versions") if isinstance(results.get("versions"), dict) else {}
    return make_submission(
        name,
        items,
        metrics,
        backend=published_value("model", config.get("model")) if isinstance(config.get("model"), str) else None,
        model_args=config.get("model_args", ""),
        parser_version=parsers.pop(),
        reasoning_tags=reasoning_tags_of(results),
        task_versions={t: v for t, v in versions.items() if t.startswith(spec.name)},
        source={
            "results_file": results_path.name,
            "date": results.get("date"),
            "lmms_eval_reported": results.get("lmms_eval_version"),
        },
        spec=spec,
        data=data,
    )


def run_files(
    output_path: str | Path, results_file: str | Path | None = None, spec: BenchmarkSpec = BUILTIN_SPEC
) -> list[Path]:
    """The files ``submit`` reads from a run (its results file and each task's samples): never an output."""
    try:
        results_path = Path(results_file) if results_file else latest_results_file(output_path)
    except (CogIPError, OSError):
        return [Path(p) for p in (results_file,) if p]
    return [results_path, *(samples_file(results_path, d.task_name) for d in spec.dimensions)]


def read_submission_bytes(path: str | Path) -> bytes:
    """A submission file's bytes through the one reader of user files (regular files only, size cap)."""
    try:
        return read_user_bytes(path, what="submission")
    except CogIPError as err:
        raise SubmissionError(str(err)) from None


def parse_submission(data: bytes, path: str | Path) -> dict:
    """A submission's JSON, decoded with bounds (depth, number length, valid Unicode); ``verify`` checks the rest."""
    try:
        value = parse_json(decode_utf8(data, f"{path}"), f"{path}")
    except CogIPError as err:
        raise SubmissionError(str(err)) from None
    if not isinstance(value, dict):
        raise SubmissionError(f"{path}: a submission is a JSON object, found {type(value).__name__}")
    return value


def data_of(results: dict, spec: BenchmarkSpec = BUILTIN_SPEC) -> dict:
    """What the tasks' metadata says they scored (:mod:`cogip_tasks.provenance`): the dataset as it may be
    shared and each dimension's test-rows fingerprint; ``{}`` for a run that recorded none."""
    configs = results.get("configs") if isinstance(results.get("configs"), dict) else {}
    metadata = {dim.key: (configs.get(dim.task_name) or {}).get("metadata") for dim in spec.dimensions}
    metadata = {key: m for key, m in metadata.items() if isinstance(m, dict) and "test_fingerprint" in m}
    if not metadata:
        return {}
    return {
        "dataset": next(iter(metadata.values())).get("dataset"),
        "test_fingerprints": {key: m["test_fingerprint"] for key, m in metadata.items()},
    }


def read_submission(path: str | Path) -> dict:
    """Load a submission file; only JSON validity is checked here (``verify`` checks the rest)."""
    return parse_submission(read_submission_bytes(path), path)
