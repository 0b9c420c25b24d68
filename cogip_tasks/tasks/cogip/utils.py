"""lmms-eval hooks of the CogIP-Bench tasks: thin glue over cogip_tasks' dataset, scoring and metrics.

lmms-eval loads this file by path (not as part of the package), so it imports the package absolutely.
"""

from __future__ import annotations

from cogip_tasks.dataset import (
    CogIPDataError,
    check_manifest_rows,
    dataset_source,
    dimension_rows,
    load_image,
    load_kwargs,
)
from cogip_tasks.dimensions import DIMENSION_KEYS, format_target, get_dimension, human_score
from cogip_tasks.lmms_compat import fail_at_exit
from cogip_tasks.metrics import METRIC_NAMES, group_interval_bound, metrics_of_records
from cogip_tasks.scoring import PARSERS, parser_name_from_env, parser_version

# Read by the template through `!function`: resolved when lmms-eval loads the task, so $COGIP_DATASET applies.
DATASET_PATH = dataset_source()
DATASET_KWARGS = load_kwargs(DATASET_PATH)


def _process_docs(dataset, dimension: str):
    """Keep one dimension's rows, after checking every row, score and image, before the model sees any."""
    try:
        check_manifest_rows(DATASET_PATH, "test", len(dataset))
        return dimension_rows(dataset, dimension, where=f"{DATASET_PATH} ({get_dimension(dimension).task_name})")
    except CogIPDataError as err:
        fail_at_exit(str(err))  # plain lmms-eval logs the error and would exit 0
        raise


def _named(name: str, function):
    """A module-level function under its own name: lmms-eval records ``str(fn)`` in the results' config, and a
    ``functools.partial`` reads as ``functools.partial(<function _aggregate at 0x...>)`` there."""
    function.__name__ = function.__qualname__ = name
    globals()[name] = function
    return function


def _process_docs_of(dimension: str):
    return lambda dataset: _process_docs(dataset, dimension)


# process_docs_aesthetics, process_docs_funniness, ... named by the per-task YAMLs.
for _key in DIMENSION_KEYS:
    _named(f"process_docs_{_key}", _process_docs_of(_key))


def doc_to_visual(doc: dict) -> list:
    return [load_image(doc["image"], doc["id"])]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    kwargs = lmms_eval_specific_kwargs or {}
    prompt = doc["prompt"].removeprefix("<image>").strip()  # the wrapper places the image itself
    return f"{kwargs.get('pre_prompt', '')}{prompt}{kwargs.get('post_prompt', '')}"


def doc_to_target(doc: dict) -> str:
    return format_target(doc["score"], doc["dimension"])


def process_results(doc: dict, results: list[str]) -> dict[str, dict]:
    """Parse the answer once; every metric receives the same per-item record (also logged per sample)."""
    parser_name = parser_name_from_env()  # $COGIP_PARSER: cogip (default) or release
    text = results[0] if results else ""
    parsed = PARSERS[parser_name](text, doc["dimension"])
    item = {
        "id": doc["id"],
        "dimension": get_dimension(doc["dimension"]).key,
        "human": human_score(doc["score"]),
        "pred": parsed.score,
        "label": parsed.label,
        "failure": parsed.failure,
        "parser": parser_version(parser_name),
    }
    return {name: item for name in METRIC_NAMES}


def _aggregate(items: list[dict], metric: str) -> float:
    """One metric of a task over its items, in whatever order lmms-eval gathered them (the order is dropped)."""
    if not items:
        return float("nan")
    records = [(i["id"], i["pred"], i["human"], i["label"]) for i in items]
    return metrics_of_records(records, items[0]["dimension"])[metric]


def _aggregation_of(metric: str):
    return lambda items: _aggregate(items, metric)


# srcc, srcc_parsed, ..., label_acc: the aggregations named in the template's metric_list.
for _metric in METRIC_NAMES:
    _named(_metric, _aggregation_of(_metric))


def _group_interval(values: list[float], sizes: list[int], weight_by_size: bool = False, *, bound: str) -> float:
    """The ``cogip`` group's srcc_ci_low/high (lmms-eval calls a group aggregation with the tasks' values)."""
    return group_interval_bound(values, bound)


def _group_interval_of(bound: str):
    return lambda values, sizes, weight_by_size=False: _group_interval(values, sizes, weight_by_size, bound=bound)


_named("group_srcc_ci_low", _group_interval_of("low"))
_named("group_srcc_ci_high", _group_interval_of("high"))


def _group_min(values: list[float], sizes: list[int], weight_by_size: bool = False) -> float:
    """The group's value of a "min" metric (n_distinct): the smallest of the four dimensions'."""
    return float(min(values)) if values else float("nan")


_named("group_n_distinct", _group_min)
