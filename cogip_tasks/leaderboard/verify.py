"""Checking a submission against the test split: every number is re-derived, nothing is taken on trust.

What is re-derived: the parsed label/score of every item (``parse_answer`` on the item's answer), each item's
human score (from the dataset, by row id) and every metric of every dimension and their means
(``compute_metrics``). A submission is rejected, with a :class:`Rejected` that names the field, when it

- misses a dimension, or holds an unknown one;
- names a test-rows fingerprint (``data.test_fingerprints``, recorded by the tasks) other than the ground
  truth's: it was scored on other test rows;
- has a different number of items than the test split, repeats an item or names one the split does not hold
  (by row ``id`` and by lmms-eval ``doc_id``);
- was made with another parser version, or claims a label/score its answer does not parse to;
- reports an aggregate that differs from the recomputation;
- has a name that cannot be shown (:func:`names.display_name`) or takes one reserved for the leaderboard's
  reference rows (``reference: ...``, compared by the look-alike skeleton :func:`names.skeleton`).

Every aggregate is a function of the set of ``(id, answer)`` pairs (:mod:`cogip_tasks.metrics` puts items in id
order before resampling), so the order a run logged its items in, e.g. the rank-interleaved order of a
multi-process lmms-eval run, does not matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..dataset import dataset_source, dataset_spec, load_cogip, validate_rows
from ..dimensions import BUILTIN_SPEC, BenchmarkSpec, Dimension, human_score
from ..errors import CogIPError
from ..metrics import N_RESAMPLES, SEED, DimensionScores, group_metrics, score_dimension
from ..provenance import rows_fingerprint
from ..scoring import PARSER_VERSION, parse_answer
from .names import MAX_NAME_LENGTH, NameProblem, display_name, is_reserved_name, skeleton  # noqa: F401
from .reasoning import MAX_TAG_LENGTH, strip_reasoning_tags
from .submission import FORMAT, FORMAT_VERSION, MEAN, benchmark_record, none_to_nan

TOLERANCE = 1e-6  # absolute and relative: JSON round trips and summation order, nothing more


class Rejected(CogIPError, ValueError):
    """A submission that fails verification; ``field`` is the JSON path of the offending value."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class GroundTruth:
    """The test split's row ids and human scores per dimension, in dataset (= lmms-eval doc_id) order, and the
    benchmark the dataset holds (its build manifest's spec, else CogIP-Bench)."""

    source: str
    ids: dict[str, list[str]]
    human: dict[str, np.ndarray]
    spec: BenchmarkSpec = BUILTIN_SPEC

    @property
    def dimensions(self) -> dict[str, Dimension]:
        return self.spec.by_key

    def n_items(self) -> int:
        return sum(len(v) for v in self.ids.values())

    def fingerprint(self) -> str:
        """A hash of what is scored against: every dimension's row ids and human scores, in order."""
        if "_fingerprint" not in self.__dict__:
            import hashlib
            import json

            content: dict = {k: [self.ids[k], [float(v) for v in self.human[k]]] for k in sorted(self.ids)}
            if self.spec != BUILTIN_SPEC:  # another benchmark's labels and ranges score the same rows differently
                content["spec"] = self.spec.fingerprint
            digest = hashlib.sha256(json.dumps(content, ensure_ascii=False).encode("utf-8")).hexdigest()
            object.__setattr__(self, "_fingerprint", digest)  # computed once (the dataclass is frozen)
        return self.__dict__["_fingerprint"]

    @property
    def test_fingerprints(self) -> dict[str, str]:
        """Each dimension's test-rows fingerprint, as the tasks record it in their results."""
        return {key: rows_fingerprint(key, ids, self.human[key]) for key, ids in self.ids.items()}


@dataclass(eq=False)
class DimensionResult:
    """One dimension of a verified submission, aligned with :class:`GroundTruth` order."""

    pred: np.ndarray  # NaN where the answer did not parse
    labels: list[str | None]
    metrics: dict[str, float]
    resamples: np.ndarray | None = None  # the bootstrap SRCC resamples behind metrics' interval ...
    resample_seed: str | None = None  # ... made with these "n_resamples/seed" (reused by the leaderboard)


@dataclass(eq=False)
class Verified:
    name: str
    submission: dict
    dims: dict[str, DimensionResult]
    mean: dict[str, float]
    path: str | None = None
    reference: bool = False  # a reference predictor computed by the leaderboard, not a submission
    notes: list[str] = field(default_factory=list)


def split_scores(source: str | None, split: str) -> dict[str, tuple[list[str], list[float]]]:
    """``{dimension: (ids, scores)}`` of one split, rows checked first (images are not decoded)."""
    source = dataset_source(source)
    spec = dataset_spec(source)
    ds = load_cogip(source, split=split)
    validate_rows(ds, where=f"{source} ({split} split)", spec=spec)
    cols = ds.select_columns(["id", "dimension", "score"]).to_dict()
    out: dict[str, tuple[list[str], list[float]]] = {key: ([], []) for key in spec.keys}
    for row_id, name, score in zip(cols["id"], cols["dimension"], cols["score"]):
        ids, scores = out[spec.dimension(str(name)).key]
        ids.append(str(row_id))
        scores.append(human_score(score))
    return out


def load_ground_truth(source: str | None = None) -> GroundTruth:
    """The test split of the dataset (Hub id, local folder, ``$COGIP_DATASET`` or the default)."""
    parts = split_scores(source, "test")
    for key, (ids, _) in parts.items():
        if not ids:
            raise Rejected(f"dataset {dataset_source(source)}", f"the test split holds no {key} rows")
    return GroundTruth(
        dataset_source(source),
        {k: ids for k, (ids, _) in parts.items()},
        {k: np.array(scores, dtype=np.float64) for k, (_, scores) in parts.items()},
        dataset_spec(source),
    )


def same_number(claimed: Any, actual: float) -> bool:
    """Equal up to :data:`TOLERANCE`; ``None``/NaN only matches NaN."""
    if isinstance(claimed, bool) or not isinstance(claimed, (int, float, type(None))):
        return False
    claimed = none_to_nan(claimed)
    if math.isnan(claimed) or math.isnan(actual):
        return math.isnan(claimed) and math.isnan(actual)
    return abs(claimed - actual) <= TOLERANCE * (1 + abs(actual))


def _show(value: Any) -> str:
    """A claimed value for an error message: scalars as written (long text cut), containers by their type.

    Never ``repr`` of a container: a hostile submission may nest it deep enough to exhaust the recursion limit.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, (bool, int, float)):
        return repr(value)
    return (
        f"a JSON {'list' if isinstance(value, list) else 'object' if isinstance(value, dict) else type(value).__name__}"
    )


def _strip_reasoning(raw: str, tags: Any, where: str) -> str:
    if tags is None:
        return raw.strip()
    if not isinstance(tags, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(t, str) and 0 < len(t) <= MAX_TAG_LENGTH for t in p)
        for p in tags
    ):
        raise Rejected(
            where,
            f"expected null or a list of [start, end] tag pairs (1 to {MAX_TAG_LENGTH} characters each), "
            f"found {_show(tags)}",
        )
    return strip_reasoning_tags(raw, tags)


def model_name(sub: dict) -> str:
    """The submission's model name as the page shows it (:func:`names.display_name`: the one boundary)."""
    name = sub["model"].get("name") if isinstance(sub.get("model"), dict) else None
    if not isinstance(name, str):
        raise Rejected("model.name", f"a non-empty model name is required, found {_show(name)}")
    try:
        return display_name(name)
    except NameProblem as err:
        raise Rejected("model.name", str(err)) from None


def check_benchmark(sub: dict, spec: BenchmarkSpec) -> None:
    """A submission is of the leaderboard's benchmark: its recorded spec fingerprint (none: CogIP-Bench, as
    submissions made before specs existed) must be the ground truth's."""
    claimed = sub.get("benchmark", benchmark_record(BUILTIN_SPEC))
    if not isinstance(claimed, dict):
        raise Rejected("benchmark", f"expected an object {{name, title, spec_sha256}}, found {_show(claimed)}")
    if claimed.get("spec_sha256") != spec.fingerprint:
        raise Rejected(
            "benchmark",
            f"a submission of {_show(claimed.get('title'))} ({_show(claimed.get('name'))}), but this leaderboard is "
            f"{spec.title!r} ({spec.name!r}): evaluate on this benchmark's tasks, or verify against its dataset",
        )


def check_header(sub: dict, spec: BenchmarkSpec = BUILTIN_SPEC) -> None:
    if sub.get("format") != FORMAT:
        raise Rejected("format", f"expected {FORMAT!r}, found {_show(sub.get('format'))} (not a CogIP submission)")
    if sub.get("format_version") != FORMAT_VERSION:
        raise Rejected("format_version", f"expected {FORMAT_VERSION}, found {_show(sub.get('format_version'))}")
    if sub.get("parser_version") != PARSER_VERSION:
        raise Rejected(
            "parser_version",
            f"{_show(sub.get('parser_version'))} differs from this leaderboard's parser {PARSER_VERSION!r}; "
            "re-run lmms-eval with this cogip version (and without COGIP_PARSER=paper)",
        )
    name = model_name(sub)
    if is_reserved_name(name):
        raise Rejected("model.name", f"{_show(name)} is reserved: 'reference: ...' names the leaderboard's own rows")
    if not isinstance(sub.get("dimensions"), dict):
        raise Rejected("dimensions", "missing or not an object")
    if not isinstance(sub.get("metrics"), dict):
        raise Rejected("metrics", "missing or not an object")
    check_benchmark(sub, spec)
    for key in sub["dimensions"]:
        if key not in spec.by_key:
            raise Rejected(f"dimensions.{key}", f"not a {spec.title} dimension (expected {', '.join(spec.keys)})")
    for key in spec.keys:
        if key not in sub["dimensions"]:
            raise Rejected(f"dimensions.{key}", f"missing: a submission covers all {len(spec.keys)} dimensions")


def check_data(sub: dict, truth: GroundTruth) -> None:
    """The test rows the run scored must be the ground truth's (a run that recorded no fingerprint, e.g. by an
    older CogIP, is checked by its items alone)."""
    data = sub.get("data")
    if data is None or (isinstance(data, dict) and "test_fingerprints" not in data):
        return
    claimed = data.get("test_fingerprints") if isinstance(data, dict) else None
    if not isinstance(claimed, dict):
        raise Rejected("data.test_fingerprints", f"expected an object, found {_show(claimed)}")
    for key, expected in truth.test_fingerprints.items():
        if claimed.get(key) != expected:
            raise Rejected(
                f"data.test_fingerprints.{key}",
                f"{_show(claimed.get(key))}: the run scored other {key} test rows than {truth.source}'s "
                f"({expected}); re-run lmms-eval on this dataset",
            )


def check_items(items: Any, dim: Dimension, truth: GroundTruth, tags: Any) -> list[tuple[int, Any]]:
    """Check one dimension's items; returns each item's position in the ground truth and its parse."""
    where = f"dimensions.{dim.key}.items"
    if not isinstance(items, list):
        raise Rejected(where, "missing or not a list")
    position = {row_id: i for i, row_id in enumerate(truth.ids[dim.key])}
    seen_ids: dict[str, int] = {}
    order = []
    for n, item in enumerate(items):
        at = f"{where}[{n}]"
        if not isinstance(item, dict):
            raise Rejected(at, "not an object")
        row_id, doc_id = item.get("id"), item.get("doc_id")
        if not isinstance(row_id, str) or row_id not in position:
            raise Rejected(f"{at}.id", f"{_show(row_id)} is not a {dim.key} item of the test split ({truth.source})")
        if row_id in seen_ids:
            raise Rejected(f"{at}.id", f"{row_id!r} repeated (also {where}[{seen_ids[row_id]}])")
        seen_ids[row_id] = n
        if isinstance(doc_id, bool) or not isinstance(doc_id, int) or doc_id != position[row_id]:
            # lmms-eval numbers a task's docs in dataset order, so the doc id follows from the row id
            # (and a repeated or invented doc id cannot pass once row ids are unique and known).
            raise Rejected(f"{at}.doc_id", f"{_show(doc_id)} does not match item {row_id!r} (doc {position[row_id]})")
        order.append((position[row_id], check_answer(item, dim, at, tags)))
    expected = len(position)
    if len(items) != expected:
        raise Rejected(where, f"{len(items)} items, the test split has {expected} {dim.key} items ({truth.source})")
    return order


def check_answer(item: dict, dim: Dimension, at: str, tags: Any) -> Any:
    """The answer must come from the raw text, and the claimed parse from the answer (returned)."""
    raw, answer = item.get("raw"), item.get("answer")
    for key, value in (("raw", raw), ("answer", answer)):
        if not isinstance(value, str):
            raise Rejected(f"{at}.{key}", f"expected the model's text, found {_show(value)}")
    if _strip_reasoning(raw, tags, "reasoning_tags") != answer.strip():
        raise Rejected(f"{at}.answer", "is not the raw answer with its reasoning blocks removed")
    parsed = parse_answer(answer, dim)
    claimed_score = item.get("score")
    if not same_number(claimed_score, none_to_nan(parsed.score)):
        raise Rejected(f"{at}.score", f"claims {_show(claimed_score)}, the answer parses to {_show(parsed.score)}")
    for key, actual in (("label", parsed.label), ("failure", parsed.failure)):
        if item.get(key) != actual:
            raise Rejected(f"{at}.{key}", f"claims {_show(item.get(key))}, the answer parses to {_show(actual)}")
    return parsed


def check_metrics(claimed: Any, actual: dict[str, float], where: str) -> None:
    if not isinstance(claimed, dict):
        raise Rejected(where, "missing or not an object")
    for name in actual:
        if name not in claimed:
            raise Rejected(f"{where}.{name}", "missing")
        if not same_number(claimed[name], actual[name]):
            raise Rejected(
                f"{where}.{name}",
                f"reported {_show(claimed[name])}, recomputed from the answers {_show(actual[name])}",
            )


def verify_submission(
    sub: dict, truth: GroundTruth, *, path: str | Path | None = None, n_resamples: int = N_RESAMPLES, seed: int = SEED
) -> Verified:
    """Re-derive everything in ``sub``; raises :class:`Rejected` naming the first bad field."""
    if not isinstance(sub, dict):
        raise Rejected("(file)", "a submission is a JSON object")
    check_header(sub, truth.spec)
    check_data(sub, truth)
    tags = sub.get("reasoning_tags")
    dims: dict[str, DimensionResult] = {}
    scored: dict[str, DimensionScores] = {}
    for key, dim in truth.dimensions.items():
        items = sub["dimensions"][key].get("items") if isinstance(sub["dimensions"][key], dict) else None
        order = check_items(items, dim, truth, tags)
        # Dataset order (the order does not change any number; it lines models up item by item).
        aligned = np.full(len(order), np.nan)
        aligned_labels: list[str | None] = [None] * len(order)
        for pos, parsed in order:
            aligned[pos] = np.nan if parsed.score is None else parsed.score
            aligned_labels[pos] = parsed.label
        scored[key] = score_dimension(
            aligned, truth.human[key], dim, aligned_labels, ids=truth.ids[key], n_resamples=n_resamples, seed=seed
        )
        check_metrics(sub["metrics"].get(key), scored[key].metrics, f"metrics.{key}")
        dims[key] = DimensionResult(
            aligned, aligned_labels, scored[key].metrics, scored[key].resamples, f"{n_resamples}/{seed}"
        )
    mean = mean_metrics(scored)
    check_metrics(sub["metrics"].get(MEAN), mean, f"metrics.{MEAN}")
    return Verified(model_name(sub), sub, dims, mean, str(path) if path else None)


def mean_metrics(scored: Mapping[str, DimensionScores]) -> dict[str, float]:
    """The ``cogip`` group row (``metrics.GROUP_METRIC_NAMES``): means over the dimensions and the bootstrap
    interval of the mean SRCC."""
    return group_metrics(scored)
