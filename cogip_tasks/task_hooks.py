"""The lmms-eval hooks of a CogIP benchmark's tasks, made from its spec.

A task folder's ``utils.py`` (the built-in ``tasks/cogip/`` one too, both written by ``cogip-eval tasks write``)
is one call, ``define_hooks(globals(), ...)``: it loads the ``spec.yaml`` beside it and defines the functions
the folder's YAMLs name with ``!function utils.<name>`` — the dataset source, ``process_docs_<key>`` per
dimension, ``doc_to_*``, ``process_results``, one aggregation per metric and the group's aggregations. Every hook
works on the spec's :class:`Dimension` objects, so labels, ranges and decimals are the spec's.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from .dataset import (
    MANIFEST,
    CogIPDataError,
    check_manifest_rows,
    dataset_source,
    dimension_rows,
    hub_revision,
    is_local_folder,
    load_image,
    load_kwargs,
    manifest_spec,
)
from .dimensions import format_target, human_score, register_spec
from .lmms_compat import fail_at_exit
from .metrics import METRIC_NAMES, group_interval_bound, metrics_of_records
from .provenance import record_scored_rows, task_metadata
from .scoring import PARSERS, parser_name_from_env, parser_version
from .spec import BenchmarkSpec, load_spec


def task_spec(path: str | Path) -> BenchmarkSpec:
    """A task folder's spec: the built-in benchmark's own objects when it is the shipped spec, else registered
    so that ``get_dimension`` (the ``cogip_expected`` model) resolves its task names."""
    return register_spec(load_spec(path))


def resolve_dataset(dataset: str | None, folder: Path) -> str:
    """The dataset a task folder reads: ``dataset`` as written (a Hub id, or a local path relative to the task
    folder), else ``$COGIP_DATASET`` or the Hub default (the built-in tasks)."""
    if dataset is None:
        return dataset_source()
    local = folder / dataset
    return str(local.resolve()) if local.exists() else dataset


def check_dataset_spec(source: str, spec: BenchmarkSpec) -> None:
    """Stop when a built dataset folder was made from another spec than the tasks' (wrong labels, ranges)."""
    if not is_local_folder(source):
        return
    built = manifest_spec(source)
    if built is not None and built.fingerprint != spec.fingerprint:
        raise CogIPDataError(
            f"{source}: built for the benchmark {built.title!r} ({built.name}) but these tasks are "
            f"{spec.title!r} ({spec.name}); {MANIFEST}'s spec differs from the tasks' spec.yaml "
            "(rewrite the tasks with cogip-eval tasks write --dataset)"
        )


def define_hooks(namespace: MutableMapping[str, Any], spec_file: str | Path, dataset: str | None = None) -> None:
    """Define every hook a task folder's YAMLs name, in ``namespace`` (its ``utils.py``'s globals)."""
    spec_path = Path(spec_file)
    spec = task_spec(spec_path)
    source = resolve_dataset(dataset, spec_path.parent)

    def named(name: str, function):
        """A module-level function under its own name: lmms-eval records ``str(fn)`` in the results' config,
        and a ``functools.partial`` or lambda reads as ``<lambda>`` there."""
        function.__name__ = function.__qualname__ = name
        namespace[name] = function
        return function

    # Read by the template through `!function`: resolved when lmms-eval loads the task ($COGIP_DATASET applies
    # to the built-in tasks; `owner/name@revision`: the path here, the revision in the load arguments).
    namespace["SPEC"] = spec
    namespace["DATASET_PATH"] = hub_revision(source)[0]
    namespace["DATASET_KWARGS"] = load_kwargs(source)

    def process_docs_of(dim):
        def process_docs(dataset):
            """Keep one dimension's rows, after checking every row, score and image, before the model sees any;
            record what the task's results are made of in its metadata (:mod:`cogip_tasks.provenance`)."""
            try:
                check_dataset_spec(source, spec)
                check_manifest_rows(source, "test", len(dataset))
                rows = dimension_rows(dataset, dim, where=f"{source} ({dim.task_name})", spec=spec)
                parser = parser_version(parser_name_from_env())
            except (CogIPDataError, ValueError) as err:
                fail_at_exit(str(err))  # plain lmms-eval logs the error and would exit 0
                raise
            record_scored_rows(dim.task_name, dim.key, source, parser, rows)
            return rows

        return process_docs

    # process_docs_<key> and metadata_<key>, named by the per-task YAMLs. metadata_<key> is the task's one live
    # metadata dict: lmms-eval keeps the object and dumps it into the results after process_docs filled it in.
    for dim in spec.dimensions:
        named(f"process_docs_{dim.key}", process_docs_of(dim))
        namespace[f"metadata_{dim.key}"] = task_metadata(dim.task_name)

    def doc_to_visual(doc: dict) -> list:
        return [load_image(doc["image"], doc["id"])]

    def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
        kwargs = lmms_eval_specific_kwargs or {}
        prompt = doc["prompt"].removeprefix("<image>").strip()  # the wrapper places the image itself
        return f"{kwargs.get('pre_prompt', '')}{prompt}{kwargs.get('post_prompt', '')}"

    def doc_to_target(doc: dict) -> str:
        return format_target(doc["score"], spec.dimension(doc["dimension"]))

    def process_results(doc: dict, results: list[str]) -> dict[str, dict]:
        """Parse the answer once; every metric receives the same per-item record (also logged per sample)."""
        parser_name = parser_name_from_env()  # $COGIP_PARSER: cogip (default) or release
        dim = spec.dimension(doc["dimension"])
        text = results[0] if results else ""
        parsed = PARSERS[parser_name](text, dim)
        item = {
            "id": doc["id"],
            "dimension": dim.key,
            "human": human_score(doc["score"]),
            "pred": parsed.score,
            "label": parsed.label,
            "failure": parsed.failure,
            "parser": parser_version(parser_name),
        }
        return {name: item for name in METRIC_NAMES}

    for hook in (doc_to_visual, doc_to_text, doc_to_target, process_results):
        named(hook.__name__, hook)

    def aggregation_of(metric: str):
        def aggregate(items: list[dict]) -> float:
            """One metric of a task over its items, in whatever order lmms-eval gathered them."""
            if not items:
                return float("nan")
            records = [(i["id"], i["pred"], i["human"], i["label"]) for i in items]
            return metrics_of_records(records, spec.dimension(items[0]["dimension"]))[metric]

        return aggregate

    # srcc, srcc_parsed, ..., n_distinct: the aggregations named in the template's metric_list.
    for metric in METRIC_NAMES:
        named(metric, aggregation_of(metric))

    def group_interval_of(bound: str):
        def group_interval(values: list[float], sizes: list[int], weight_by_size: bool = False) -> float:
            """The group's srcc_ci_low/high: the bootstrap interval of the mean SRCC."""
            return group_interval_bound(values, bound, spec.dimensions)

        return group_interval

    def group_min(values: list[float], sizes: list[int], weight_by_size: bool = False) -> float:
        """The group's value of a "min" metric (n_distinct): the smallest of the dimensions'."""
        return float(min(values)) if values else float("nan")

    # group_srcc_ci_low, group_srcc_ci_high, group_n_distinct: named by the group's aggregate_metric_list.
    for metric, kind in METRIC_NAMES.items():
        if kind.group == "interval":
            named(f"group_{metric}", group_interval_of(metric.rpartition("_")[2]))
        elif kind.group == "min":
            named(f"group_{metric}", group_min)
