"""lmms-eval hooks of the CogIP-Bench tasks: thin glue over cogip_tasks' dataset, scoring and metrics.

lmms-eval loads this file by path (not as part of the package), so it imports the package absolutely.
"""

from __future__ import annotations

import os
from functools import partial

from cogip_tasks.dataset import dataset_source, load_image, load_kwargs, rows_of_dimension, validate_rows
from cogip_tasks.dimensions import DIMENSION_KEYS, get_dimension
from cogip_tasks.metrics import METRIC_NAMES, metrics_of_records
from cogip_tasks.scoring import PARSER_VERSION, PARSERS

# Read by the template through `!function`: resolved when lmms-eval loads the task, so $COGIP_DATASET applies.
DATASET_PATH = dataset_source()
DATASET_KWARGS = load_kwargs(DATASET_PATH)
PARSER_ENV = "COGIP_PARSER"  # "cogip" (default) or "paper", the paper's first-number parser


def _process_docs(dataset, dimension: str):
    """Keep one dimension's rows and check every score and image before the model sees any."""
    rows = rows_of_dimension(dataset, dimension)
    validate_rows(rows, dimension, where=f"{DATASET_PATH} ({get_dimension(dimension).task_name})")
    for row_id, image in zip(rows["id"], rows["image"]):
        load_image(image, row_id)
    return rows


# process_docs_aesthetics, process_docs_funniness, ... named by the per-task YAMLs.
for _key in DIMENSION_KEYS:
    globals()[f"process_docs_{_key}"] = partial(_process_docs, dimension=_key)


def doc_to_visual(doc: dict) -> list:
    return [load_image(doc["image"], doc["id"])]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    kwargs = lmms_eval_specific_kwargs or {}
    prompt = doc["prompt"].removeprefix("<image>").strip()  # the wrapper places the image itself
    return f"{kwargs.get('pre_prompt', '')}{prompt}{kwargs.get('post_prompt', '')}"


def doc_to_target(doc: dict) -> str:
    dim = get_dimension(doc["dimension"])
    return f"{dim.label_for(float(doc['score']))} {float(doc['score']):.3f}"


def process_results(doc: dict, results: list[str]) -> dict[str, dict]:
    """Parse the answer once; every metric receives the same per-item record (also logged per sample)."""
    parser_name = os.environ.get(PARSER_ENV, "cogip")
    if parser_name not in PARSERS:
        raise ValueError(f"${PARSER_ENV}={parser_name!r}: expected one of {', '.join(PARSERS)}")
    text = results[0] if results else ""
    parsed = PARSERS[parser_name](text, doc["dimension"])
    item = {
        "id": doc["id"],
        "dimension": get_dimension(doc["dimension"]).key,
        "human": round(float(doc["score"]), 4),  # float32 in the dataset: drop the representation noise
        "pred": parsed.score,
        "label": parsed.label,
        "failure": parsed.failure,
        "parser": PARSER_VERSION if parser_name == "cogip" else "paper",
    }
    return {name: item for name in METRIC_NAMES}


def _aggregate(items: list[dict], metric: str) -> float:
    dimension = items[0]["dimension"] if items else "aesthetics"
    records = tuple((i["pred"], i["human"], i["label"]) for i in items)
    return metrics_of_records(records, dimension)[metric]


# srcc, srcc_parsed, ..., label_acc: the aggregations named in the template's metric_list.
for _metric in METRIC_NAMES:
    globals()[_metric] = partial(_aggregate, metric=_metric)
