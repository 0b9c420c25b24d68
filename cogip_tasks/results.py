"""Reading what an lmms-eval run of the CogIP tasks wrote (``--output_path``, ``--log_samples``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .dimensions import DIMENSIONS
from .metrics import METRIC_NAMES

GROUP = "cogip"


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


def read_samples(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def task_metrics(results: dict, task: str) -> dict[str, float]:
    """``{metric: value}`` of one task or the group from a results JSON (lmms-eval's ``name,filter`` keys)."""
    section = results.get("results", {}).get(task) or results.get("groups", {}).get(task) or {}
    return {m: section[f"{m},none"] for m in METRIC_NAMES if f"{m},none" in section}


def format_table(results: dict, metrics: tuple[str, ...] = ("srcc", "srcc_ci_low", "srcc_ci_high", "plcc",
                                                           "krcc", "mae", "parse_rate", "label_acc")) -> str:
    """A compact Markdown table: one row per dimension and the group mean."""
    rows = [(d.task_name, task_metrics(results, d.task_name)) for d in DIMENSIONS.values()]
    rows.append((f"{GROUP} (mean)", task_metrics(results, GROUP)))

    def cell(value) -> str:
        return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"

    lines = ["| task | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    lines += [f"| {name} | " + " | ".join(cell(vals.get(m)) for m in metrics) + " |" for name, vals in rows]
    return "\n".join(lines)
