"""Agreement between predicted and human scores, in plain numpy/scipy.

Conventions (shared by the lmms-eval aggregations, the leaderboard and every report):

- ``pred`` holds ``NaN`` where an answer was not parsed. ``srcc`` and every other correlation/error metric
  impute those to the dimension's range midpoint, so a model that fails to answer is not rewarded; only
  ``srcc_parsed`` drops them (comparable to the paper, whose parser dropped unparsed answers).
- ``label_acc`` counts an item right when the label the model wrote equals the bin of the human score;
  a missing label counts as wrong.
- ``mae_norm``/``rmse_norm`` are ``mae``/``rmse`` divided by the dimension's range (10, 6 or 1), so that the
  ``cogip`` group can average them; the raw ``mae``/``rmse`` (in the dimension's own units) are per task only.
- Every number is a function of the *set* of items: items are put in a canonical order (by item id, else by
  value) before anything is computed, so a run's item order (lmms-eval data parallel interleaves doc ids by
  rank) cannot change a bootstrap interval or a fit.
- The bootstrap resamples item positions of that order with ``default_rng([seed, dimension index])``: the
  tasks, ``cogip-leaderboard verify`` and the leaderboard's paired comparisons draw the same resamples.
- Degenerate inputs (fewer than 2 values, a constant side, too few points for the logistic fit, a failed fit)
  give ``NaN`` and a logged reason, never an exception.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import numpy as np

from .dimensions import DIMENSIONS, Dimension, get_dimension

logger = logging.getLogger("cogip")


@dataclass(frozen=True)
class Metric:
    """A metric's direction and how the ``cogip`` group row combines the four dimensions' values."""

    higher_is_better: bool
    #: "mean": plain mean over the dimensions; "interval": that bound of the bootstrap interval of the mean
    #: SRCC (averaging the dimensions' bounds is not an interval of anything); "min": the smallest of the four
    #: (one collapsed dimension must not hide in a mean); None: not in the group row.
    group: str | None = "mean"


#: The registry of metric names and their direction: the task template's metric_list, the group's
#: aggregate_metric_list, submissions and the leaderboard all follow it (tests/test_metrics_robust.py checks).
METRIC_NAMES: Mapping[str, Metric] = MappingProxyType(
    {
        "srcc": Metric(True),
        "srcc_parsed": Metric(True),
        "srcc_ci_low": Metric(True, "interval"),
        "srcc_ci_high": Metric(True, "interval"),
        "plcc": Metric(True),
        "plcc_logistic": Metric(True),
        "krcc": Metric(True),
        "mae": Metric(False, None),  # units of the dimension: averaging 0-10, -3..3 and 0-1 errors means nothing
        "rmse": Metric(False, None),
        "mae_norm": Metric(False),
        "rmse_norm": Metric(False),
        "parse_rate": Metric(True),
        "label_acc": Metric(True),
        # distinct parsed predictions: 1 (or a handful) flags a collapsed model answering one constant number,
        # whose tight interval means nothing
        "n_distinct": Metric(True, "min"),
    }
)
#: The metrics of the ``cogip`` group row (and of a submission's ``metrics.mean``).
GROUP_METRIC_NAMES: tuple[str, ...] = tuple(name for name, m in METRIC_NAMES.items() if m.group)

#: The bootstrap defaults of every CogIP number (tasks, submissions, leaderboard, comparisons): one home.
N_RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
#: The 4-parameter logistic needs more points than parameters: with n <= 4 it can pass through every
#: (monotone) point set and its PLCC would be 1 whatever the model; 5 leaves one residual degree of freedom.
MIN_LOGISTIC_N = 5
#: n_distinct counts predictions on a grid of this share of the dimension's range (0.1 on 0-10, 0.06 on valence,
#: 0.01 on memorability): jitter added to a constant answer (1e-6, or 1e-3) cannot make a collapsed model look
#: varied, while any two answers a reader would call different still count twice.
DISTINCT_STEP = 0.01


def _as_array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64).reshape(-1)


def impute(pred: Sequence[float | None], dimension: str | Dimension) -> np.ndarray:
    """Replace unparsed predictions (None/NaN) with the dimension's range midpoint."""
    arr = _as_array(pred)
    return np.where(np.isnan(arr), get_dimension(dimension).midpoint, arr)


def canonical_order(x: np.ndarray, y: np.ndarray, ids: Sequence | None = None) -> np.ndarray:
    """Positions that put items in the order every aggregate is computed in.

    By item id (as text) when ids are given, which pairs items across models for the paired bootstrap; ties
    and missing ids fall back to the values, so the order depends only on the set of ``(id, x, y)``.
    """
    if ids is None:
        return np.lexsort((x, y))
    keys = [(str(i), float(b), float(a)) for i, a, b in zip(ids, x, y)]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.intp)


def _degenerate(x: np.ndarray, y: np.ndarray, name: str) -> bool:
    if len(x) < 2:
        logger.warning("%s is NaN: fewer than 2 predictions (%d)", name, len(x))
        return True
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        side = "predictions" if np.ptp(x) == 0 else "human scores"
        logger.warning("%s is NaN: constant %s (%s)", name, side, x[0] if np.ptp(x) == 0 else y[0])
        return True
    return False


def spearman(x: np.ndarray, y: np.ndarray, name: str = "srcc") -> float:
    from scipy import stats  # on first use: --help stays instant

    return float("nan") if _degenerate(x, y, name) else float(stats.spearmanr(x, y).statistic)


def pearson(x: np.ndarray, y: np.ndarray, name: str = "plcc") -> float:
    from scipy import stats  # on first use: --help stays instant

    return float("nan") if _degenerate(x, y, name) else float(stats.pearsonr(x, y).statistic)


def kendall(x: np.ndarray, y: np.ndarray, name: str = "krcc") -> float:
    from scipy import stats  # on first use: --help stays instant

    return float("nan") if _degenerate(x, y, name) else float(stats.kendalltau(x, y).statistic)


def logistic_4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """The 4-parameter logistic of IQA practice (VQEG): maps predictions onto the human scale.

    It is increasing in ``x`` when ``b1 > b2`` and decreasing when ``b1 < b2``.
    """
    with np.errstate(over="ignore"):  # exp overflow is the flat tail of the curve: 1/(1+inf) = 0
        return _logistic_4(x, b1, b2, b3, b4)


def _logistic_4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    # logistic_4 for callers already inside np.errstate(over="ignore"): the fit evaluates it hundreds of times, and
    # entering errstate costs about a quarter of each evaluation.
    return (b1 - b2) / (1.0 + np.exp(-(x - b3) / np.abs(b4))) + b2


#: Decimals plcc_logistic is reported to (see pearson_logistic).
LOGISTIC_DECIMALS = 12


def pearson_logistic(x: np.ndarray, y: np.ndarray, name: str = "plcc_logistic") -> float:
    """PLCC between human scores and the predictions mapped by the best-fitting ``logistic_4``, signed by the
    direction of that curve.

    The signed value is the PLCC of ``y`` with an *increasing* function of ``x`` (the curve, or its mirror
    image), like SRCC is a correlation of ranks: an anti-correlated model scores about ``-|plcc|``, not
    ``+|plcc|``. NaN (with a logged reason) below :data:`MIN_LOGISTIC_N` items or when the fit fails.
    """
    from scipy import optimize, stats  # on first use: --help stays instant

    if _degenerate(x, y, name):
        return float("nan")
    if len(x) < MIN_LOGISTIC_N:
        logger.warning("%s is NaN: %d items, the 4-parameter fit needs at least %d", name, len(x), MIN_LOGISTIC_N)
        return float("nan")
    rising = stats.pearsonr(x, y).statistic >= 0  # start on the side the data lean to
    top, bottom = (float(y.max()), float(y.min())) if rising else (float(y.min()), float(y.max()))
    start = [top, bottom, float(np.mean(x)), float(np.std(x)) or 1.0]
    try:
        with warnings.catch_warnings(), np.errstate(over="ignore"):
            warnings.simplefilter("ignore")
            params, _ = optimize.curve_fit(_logistic_4, x, y, p0=start, maxfev=10_000)
        fitted = logistic_4(x, *params)
    except Exception as err:  # noqa: BLE001  scipy raises RuntimeError, ValueError, TypeError, LinAlgError...: no fit
        logger.warning("%s is NaN: logistic fit failed (%s: %s)", name, type(err).__name__, err)
        return float("nan")
    if not np.all(np.isfinite(fitted)):
        logger.warning("%s is NaN: logistic fit gave non-finite values", name)
        return float("nan")
    direction = 1.0 if params[0] >= params[1] else -1.0
    # The fit is iterative (MINPACK through LAPACK): its last bits depend on the BLAS build, threads and memory
    # alignment, so two processes scoring the same answers could differ at 1e-16. Rounded to 12 decimals the
    # value is a function of the data alone (and far finer than any reported digit).
    return round(direction * pearson(fitted, y, name), LOGISTIC_DECIMALS)


def resample_ranks(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(values[idx], axis=1)`` (average ranks for ties), by counting instead of sorting.

    Every resample draws from the same ``len(values)`` values, so each row's ranks follow from how often it
    drew each distinct value: the rank of a value is the count of smaller draws plus the mean position among
    its equals. The ranks are the same floats (whole and half numbers), several times faster for the bootstrap.
    """
    from scipy import stats  # on first use: --help stays instant

    if np.isnan(values).any():
        return stats.rankdata(values[idx], axis=1)  # NaN propagates as scipy defines it
    _, code = np.unique(values, return_inverse=True)
    n_rows, n_distinct = len(idx), int(code.max()) + 1 if len(code) else 0
    codes = code.reshape(-1)[idx]
    flat = (codes + (np.arange(n_rows) * n_distinct)[:, None]).ravel()
    counts = np.bincount(flat, minlength=n_rows * n_distinct).reshape(n_rows, n_distinct).astype(np.float64)
    ranks = np.cumsum(counts, axis=1) - counts + (counts + 1) / 2
    return np.take_along_axis(ranks, codes, axis=1)


def resampled_spearman(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Spearman's rho of each resample (the rows of ``idx`` index items); NaN where a side is constant."""
    if idx.size == 0:
        return np.full(len(idx), np.nan)
    rx, ry = resample_ranks(x, idx), resample_ranks(y, idx)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (rx * ry).sum(axis=1) / denom, np.nan)


def resample_indices(n_items: int, n_resamples: int, seed: int, dimension: str | Dimension) -> np.ndarray:
    """``(n_resamples, n_items)`` positions in canonical order: the one random stream of every bootstrap."""
    index = get_dimension(dimension).index  # the dimension's place in its benchmark
    return np.random.default_rng([seed, index]).integers(0, max(n_items, 1), size=(n_resamples, n_items))


def srcc_resamples(
    x: np.ndarray,
    y: np.ndarray,
    dimension: str | Dimension,
    ids: Sequence | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
) -> np.ndarray:
    """Bootstrap SRCC of each resample (imputed ``x``), items first put in :func:`canonical_order`."""
    x, y = _as_array(x), _as_array(y)
    order = canonical_order(x, y, ids)
    return resampled_spearman(x[order], y[order], resample_indices(len(x), n_resamples, seed, dimension))


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of the finite values (resamples with an undefined value are left out)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_srcc_ci(
    x: np.ndarray,
    y: np.ndarray,
    dimension: str | Dimension,
    ids: Sequence | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's rho over items; NaN when the point estimate is undefined."""
    x, y = _as_array(x), _as_array(y)
    if _degenerate(x, y, "srcc_ci"):
        return math.nan, math.nan
    return percentile_interval(srcc_resamples(x, y, dimension, ids, n_resamples=n_resamples, seed=seed), level)


@dataclass(frozen=True, eq=False)
class DimensionScores:
    """Every metric of one dimension, and the bootstrap SRCC resamples the group interval is built from."""

    metrics: dict[str, float]
    resamples: np.ndarray


def score_dimension(
    pred: Sequence[float | None],
    human: Sequence[float],
    dimension: str | Dimension,
    pred_labels: Sequence[str | None] | None = None,
    *,
    ids: Sequence | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
) -> DimensionScores:
    """:func:`compute_metrics` and the SRCC resamples behind its interval."""
    dim = get_dimension(dimension)
    raw, y = _as_array(pred), _as_array(human)
    labels = list(pred_labels) if pred_labels is not None else None
    lengths = {
        len(raw),
        len(y),
        *([len(labels)] if labels is not None else []),
        *([len(ids)] if ids is not None else []),
    }
    if len(lengths) > 1:  # a caller's bug, not a degenerate input: never score misaligned lists
        raise ValueError(f"{dim.key}: predictions, human scores, labels and ids differ in length ({sorted(lengths)})")
    order = canonical_order(impute(raw, dim), y, ids)
    raw, y = raw[order], y[order]
    labels = [labels[i] for i in order] if labels is not None else None
    x = impute(raw, dim)
    parsed = ~np.isnan(raw)
    resamples = resampled_spearman(x, y, resample_indices(len(x), n_resamples, seed, dim))

    def named(metric: str) -> str:  # a NaN warning names the task and the metric
        return f"{dim.task_name} {metric}"

    srcc = spearman(x, y, named("srcc"))
    ci_low, ci_high = (math.nan, math.nan) if math.isnan(srcc) else percentile_interval(resamples)
    n, span = len(y), dim.high - dim.low
    mae = float(np.mean(np.abs(x - y))) if n else math.nan
    rmse = float(np.sqrt(np.mean((x - y) ** 2))) if n else math.nan
    if not n:
        logger.warning("%s: no items: every metric is NaN", dim.task_name)
    metrics = {
        "srcc": srcc,
        "srcc_parsed": spearman(raw[parsed], y[parsed], named("srcc_parsed")),
        "srcc_ci_low": ci_low,
        "srcc_ci_high": ci_high,
        "plcc": pearson(x, y, named("plcc")),
        "plcc_logistic": pearson_logistic(x, y, named("plcc_logistic")),
        "krcc": kendall(x, y, named("krcc")),
        "mae": mae,
        "rmse": rmse,
        "mae_norm": mae / span,
        "rmse_norm": rmse / span,
        "parse_rate": float(parsed.mean()) if n else math.nan,
        "label_acc": label_accuracy(labels, y, dim) if labels is not None else math.nan,
        "n_distinct": distinct_predictions(raw, dim),
    }
    return DimensionScores(metrics, resamples)


def distinct_predictions(pred: Sequence[float | None], dimension: str | Dimension) -> float:
    """How many different scores the parsed answers hold, on a grid of :data:`DISTINCT_STEP` of the dimension's
    range (unparsed answers are none): 1, or a handful, is a collapsed model, jitter or not."""
    dim = get_dimension(dimension)
    arr = _as_array(pred)
    cells = np.round((arr[np.isfinite(arr)] - dim.low) / (DISTINCT_STEP * (dim.high - dim.low)))
    return float(len(np.unique(cells)))


def compute_metrics(
    pred: Sequence[float | None],
    human: Sequence[float],
    dimension: str | Dimension,
    pred_labels: Sequence[str | None] | None = None,
    *,
    ids: Sequence | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
) -> dict[str, float]:
    """Every CogIP metric for one dimension (see the module doc for the conventions)."""
    return score_dimension(pred, human, dimension, pred_labels, ids=ids, n_resamples=n_resamples, seed=seed).metrics


def label_accuracy(pred_labels: Sequence[str | None], human: Sequence[float], dimension: str | Dimension) -> float:
    dim = get_dimension(dimension)
    if len(human) == 0:
        return float("nan")
    hits = [label is not None and label == dim.label_for(float(h)) for label, h in zip(pred_labels, human)]
    return float(np.mean(hits))


def mean_srcc_interval(resamples: Sequence[np.ndarray], mean_srcc: float, level: float = LEVEL) -> tuple[float, float]:
    """Bootstrap interval of the mean SRCC over dimensions: each dimension's resamples, averaged per resample.

    NaN when the mean itself is undefined; a resample where some dimension is undefined is left out.
    """
    if math.isnan(mean_srcc) or not len(resamples):
        return math.nan, math.nan
    return percentile_interval(np.mean(np.vstack(resamples), axis=0), level)


def group_metrics(scores: Mapping[str, DimensionScores]) -> dict[str, float]:
    """The ``cogip`` group row from every dimension's scores, as the group's aggregate_metric_list defines it."""
    rows = [s.metrics for s in scores.values()]
    out = {
        name: float(np.mean([r[name] for r in rows]))
        for name in GROUP_METRIC_NAMES
        if METRIC_NAMES[name].group == "mean"
    }
    out.update(
        {
            name: float(min(r[name] for r in rows)) if rows else math.nan
            for name in GROUP_METRIC_NAMES
            if METRIC_NAMES[name].group == "min"
        }
    )
    low, high = mean_srcc_interval([s.resamples for s in scores.values()], out["srcc"])
    out.update(srcc_ci_low=low, srcc_ci_high=high)
    return {name: out[name] for name in GROUP_METRIC_NAMES}


# -- the lmms-eval side: per-task aggregations and the group interval --------------------------------------------

#: The scores the task aggregations computed last, per dimension (lmms-eval aggregates the tasks, then the
#: group, in one process; the group aggregation sees only the tasks' values, so it reads the resamples here).
_LAST_SCORED: dict[str, DimensionScores] = {}  # by task name: two benchmarks may share a key


@lru_cache(maxsize=32)
def _score_sorted(
    records: tuple[tuple[str, float | None, float, str | None], ...], dimension: Dimension
) -> DimensionScores:
    ids, pred, human, labels = zip(*records) if records else ((), (), (), ())
    return score_dimension(pred, human, dimension, labels, ids=ids)


def metrics_of_records(
    records: Sequence[tuple[object, float | None, float, str | None]], dimension: str | Dimension
) -> dict[str, float]:
    """Every metric over ``(id, pred, human, label)`` records in any order; cached (lmms-eval asks once per metric)."""
    key = tuple(
        sorted(
            ((str(i), p, h, lab) for i, p, h, lab in records),
            key=lambda r: (r[0], _nan_key(r[2]), _nan_key(r[1]), str(r[3])),
        )
    )
    dim = get_dimension(dimension)
    scores = _score_sorted(key, dim)
    _LAST_SCORED[dim.task_name] = scores
    return scores.metrics


def _nan_key(value: float | None) -> tuple[bool, float]:
    """A sort key that orders None/NaN (last) instead of breaking the sort."""
    missing = value is None or math.isnan(value)
    return (missing, 0.0 if missing else float(value))


def _same_values(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(
        _nan_key(u) == _nan_key(v) for u, v in zip(sorted(a, key=_nan_key), sorted(b, key=_nan_key))
    )


def group_interval_bound(
    reported: Sequence[float], bound: str, dimensions: Sequence[Dimension] = tuple(DIMENSIONS.values())
) -> float:
    """``srcc_ci_low``/``srcc_ci_high`` of the ``cogip`` group: the bootstrap interval of the mean SRCC.

    ``reported`` is what lmms-eval passes a group aggregation: the four tasks' own bounds. They must be the
    bounds of the scores this process computed last, or the resamples read here belong to another run.
    """
    name = f"srcc_ci_{bound}"
    scores = {d.key: _LAST_SCORED.get(d.task_name) for d in dimensions}
    if any(s is None for s in scores.values()):
        logger.warning("%s %s is NaN: not every dimension was scored in this process", dimensions[0].benchmark, name)
        return math.nan
    if not _same_values([float(v) for v in reported], [s.metrics[name] for s in scores.values()]):
        logger.warning(
            "%s %s is NaN: the tasks' intervals are not the ones this process computed", dimensions[0].benchmark, name
        )
        return math.nan
    return group_metrics(scores)[name]
