"""Reading what an lmms-eval run of the CogIP tasks wrote (``--output_path``, ``--log_samples``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .dimensions import BUILTIN_SPEC, BenchmarkSpec
from .errors import CogIPError
from .files import UserFileError, read_user_json, read_user_jsonl
from .metrics import METRIC_NAMES

GROUP = BUILTIN_SPEC.name  # the built-in benchmark's lmms-eval group


class RunOutputError(CogIPError, ValueError):
    """An lmms-eval output file that cannot be read (cut short, not UTF-8, not the expected JSON); the
    message names the file (and line)."""


def latest_results_file(output_path: str | Path) -> Path:
    """The newest ``*_results.json`` under an lmms-eval output folder."""
    found = sorted(Path(output_path).rglob("*_results.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"{output_path}: no lmms-eval *_results.json found (was --output_path this folder?)")
    return found[-1]


def samples_file(results_file: str | Path, task: str) -> Path:
    """The ``--log_samples`` file of one task written beside a results file by the same run."""
    results_file = Path(results_file)
    stamp = results_file.name.removesuffix("_results.json")
    path = results_file.with_name(f"{stamp}_samples_{task}.jsonl")
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing; run lmms-eval with --log_samples to record per-item answers")
    return path


def read_results(path: str | Path) -> dict:
    """An lmms-eval ``*_results.json`` as a dict (a clear :class:`RunOutputError` for anything else).

    Read with :mod:`cogip_tasks.files`' reader: regular files only, a size cap, bounded JSON.
    """
    try:
        value = read_user_json(path, what="lmms-eval results file")
    except UserFileError as err:
        raise RunOutputError(str(err)) from None
    if not isinstance(value, dict):
        raise RunOutputError(f"{path}: expected a JSON object, found a {type(value).__name__}")
    return value


def read_samples(path: str | Path) -> list[dict]:
    """A ``--log_samples`` JSON-lines file, one object per line; a torn or non-UTF-8 line is an error naming
    file and line (a submission must hold every item, so nothing is skipped)."""
    try:
        return read_user_jsonl(path, what="lmms-eval samples file", objects=True)
    except UserFileError as err:
        raise RunOutputError(str(err)) from None


def task_metrics(results: Any, task: str) -> dict[str, float]:
    """``{metric: value}`` of one task or the group from a results JSON (lmms-eval's ``name,filter`` keys)."""

    def part(key: str) -> dict:
        value = results.get(key) if isinstance(results, dict) else None
        return value if isinstance(value, dict) else {}

    section = part("results").get(task) or part("groups").get(task) or {}
    if not isinstance(section, dict):
        return {}
    return {m: section[f"{m},none"] for m in METRIC_NAMES if f"{m},none" in section}


def format_table(
    results: dict,
    metrics: tuple[str, ...] = (
        "srcc",
        "srcc_ci_low",
        "srcc_ci_high",
        "plcc",
        "krcc",
        "mae",
        "mae_norm",
        "parse_rate",
        "label_acc",
        "n_distinct",
    ),
    spec: BenchmarkSpec = BUILTIN_SPEC,
) -> str:
    """A compact Markdown table: one row per dimension and the group (mean; its interval is the mean's).

    The group has no ``mae``/``rmse`` (their units differ by dimension): ``n/a`` there, see ``mae_norm``.
    """
    rows = [(d.task_name, task_metrics(results, d.task_name)) for d in spec.dimensions]
    rows.append((f"{spec.name} (mean)", task_metrics(results, spec.name)))

    def cell(value) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return "n/a"
        return f"{value:.3f}"

    lines = ["| task | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    lines += [f"| {name} | " + " | ".join(cell(vals.get(m)) for m in metrics) + " |" for name, vals in rows]
    return "\n".join(lines)


def truncated_answers(results_file: str | Path) -> dict[str, tuple[int, int, int]]:
    """Per task of a run (any benchmark's): ``(answers that used every allowed new token, answers with a token count,
    max_new_tokens)``. Such an answer was most likely cut short (its score may be missing).

    Reads the ``--log_samples`` files; wrappers that record no token counts (``token_counts: [null]``) give 0
    counted answers. Tasks without a samples file are left out.
    """
    results = read_results(results_file)
    counts: dict[str, tuple[int, int, int]] = {}
    configs = results.get("configs") if isinstance(results.get("configs"), dict) else {}
    for task in configs:  # every task of the run: the built-in benchmark's or another spec's
        config = configs[task] if isinstance(configs[task], dict) else {}
        kwargs = config.get("generation_kwargs")
        limit = kwargs.get("max_new_tokens") if isinstance(kwargs, dict) else None
        try:
            samples = read_samples(samples_file(results_file, task))
        except FileNotFoundError:
            continue
        if not isinstance(limit, int):
            continue
        used = [
            c.get("output_tokens")
            for s in samples
            for c in (s.get("token_counts") or [])[:1]
            if isinstance(c, dict) and isinstance(c.get("output_tokens"), int)
        ]
        counts[task] = (sum(n >= limit for n in used), len(used), limit)
    return counts
