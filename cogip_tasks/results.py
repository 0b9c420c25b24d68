"""Reading what an lmms-eval run of the CogIP tasks wrote (``--output_path``, ``--log_samples``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .dimensions import BUILTIN_SPEC, BenchmarkSpec
from .errors import CogIPError
from .files import UserFileError, read_user_json, read_user_jsonl
from .metrics import METRIC_NAMES
from .model_args import REMOVED, format_model_args, published_args, published_model_name

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


#: The compact table's columns after the headline ``srcc [low, high]``: agreement, error, parsing, collapse, size.
TABLE_METRICS = ("plcc", "krcc", "mae_norm", "parse_rate", "label_acc", "n_distinct")
#: Metrics that count things: printed as integers.
COUNT_METRICS = ("n_distinct",)


def _items_scored(results: dict, task: str) -> int | None:
    n_samples = results.get("n-samples")
    entry = n_samples.get(task) if isinstance(n_samples, dict) else None
    value = entry.get("effective") if isinstance(entry, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cell(value, count: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return "n/a"
    return f"{int(round(value))}" if count else f"{value:.3f}"


def format_table(results: dict, metrics: tuple[str, ...] = TABLE_METRICS, spec: BenchmarkSpec | None = None) -> str:
    """A compact Markdown table of a run: the headline SRCC with its 95% interval first, one row per task that
    reports CogIP metrics (any benchmark's), then each group run (mean; its interval is the mean's); ``n`` items
    scored. The tasks and groups are read from the results (``group_subtasks``), or are ``spec``'s when given.

    A group has no ``mae``/``rmse`` (their units differ by dimension): ``n/a`` there, see ``mae_norm``.
    """
    sections = results.get("results") if isinstance(results.get("results"), dict) else {}
    subtasks = results.get("group_subtasks") if isinstance(results.get("group_subtasks"), dict) else {}
    if spec is not None:
        subtasks = {spec.name: list(spec.task_names)}
        sections = {**sections, **dict.fromkeys(spec.task_names)}
    groups = [name for name, tasks in subtasks.items() if tasks and task_metrics(results, name)]

    def reported(name: str) -> bool:
        return name in sections and "srcc" in task_metrics(results, name)

    # each group's tasks in the group's order, then its mean; then tasks run on their own
    in_groups = [(name, name) for group in groups for name in subtasks[group] if reported(name)]
    rows = [
        row
        for group in groups
        for row in [*((n, n) for n in subtasks[group] if reported(n)), (f"{group} (mean)", group)]
    ]
    rows += [
        (name, name) for name in sections if name not in groups and reported(name) and (name, name) not in in_groups
    ]
    lines = ["| task | srcc [95% CI] | " + " | ".join(metrics) + " | n |", "|---|---:|" + "---:|" * (len(metrics) + 1)]
    for label, task in rows:
        vals = task_metrics(results, task)
        n = _items_scored(results, task)
        if task in groups:  # a group's items are its tasks' items
            counts = [_items_scored(results, name) for name in subtasks[task]]
            n = sum(counts) if None not in counts else None
        headline = f"{_cell(vals.get('srcc'))} [{_cell(vals.get('srcc_ci_low'))}, {_cell(vals.get('srcc_ci_high'))}]"
        cells = [_cell(vals.get(m), m in COUNT_METRICS) for m in metrics]
        lines.append(f"| {label} | {headline} | " + " | ".join(cells) + f" | {_cell(n, True)} |")
    return "\n".join(lines)


#: lmms-eval's run settings (``config.resolved_cli_args``) kept as text in shared results: short words and
#: ``k=v`` lists that name no file. Every other text value (output and include paths, Hub log args, tracker args)
#: is replaced by ``<removed>``; numbers, booleans and None are kept. ``reasoning_tags`` is kept as written:
#: ``verify`` re-strips the answers with it (and checks its shape there).
_SHARED_RUN_SETTINGS = frozenset({"model", "tasks", "batch_size", "gen_kwargs", "verbosity", "log_samples_suffix"})


def _shared_run_setting(key: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)) or key == "reasoning_tags":
        return value
    if isinstance(value, list) and all(isinstance(v, (bool, int, float)) for v in value):
        return value
    if key in _SHARED_RUN_SETTINGS and isinstance(value, str) and not any(c in value for c in "/\\~@:"):
        return value
    return REMOVED


def without_local_paths(results: dict) -> dict:
    """The results as they may be shared. The CogIP tasks' ``dataset_path`` becomes the dataset the task's
    metadata names (a Hub id, or ``local:<folder name>``) and the content-keyed local ``cache_dir`` is dropped;
    other tasks' configs are left as lmms-eval wrote them. How the model was loaded is published as the
    leaderboard publishes it (:func:`~cogip_tasks.model_args.published_args`: a Hub id or a folder's base name,
    allow-listed values), and lmms-eval's other run settings from an allow-list (:data:`_SHARED_RUN_SETTINGS`)."""
    run = results.get("config")
    if isinstance(run, dict):
        raw_args = run.get("model_args")
        if isinstance(raw_args, (str, dict)):
            run["model_args"] = format_model_args(published_args(raw_args))
            if "model_name" in results:
                results["model_name"] = published_model_name(raw_args) or run.get("model") or REMOVED
        cli_args = run.get("resolved_cli_args")
        if isinstance(cli_args, dict):
            for key, value in cli_args.items():
                cli_args[key] = (
                    format_model_args(published_args(value))
                    if key == "model_args" and isinstance(value, (str, dict))
                    else _shared_run_setting(key, value)
                )
    configs = results.get("configs")
    for config in configs.values() if isinstance(configs, dict) else ():
        metadata = config.get("metadata") if isinstance(config, dict) else None
        if not isinstance(metadata, dict) or "test_fingerprint" not in metadata:
            continue
        config["dataset_path"] = metadata.get("dataset")
        if isinstance(config.get("dataset_kwargs"), dict):
            config["dataset_kwargs"].pop("cache_dir", None)
    return results


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
