"""Agreement between predicted and human scores, in plain numpy/scipy.

Conventions (shared by the lmms-eval aggregations, the leaderboard and every report):

- ``pred`` holds ``NaN`` where an answer was not parsed. ``srcc`` and every other correlation/error metric
  impute those to the dimension's range midpoint, so a model that fails to answer is not rewarded; only
  ``srcc_parsed`` drops them (comparable to the paper, whose parser dropped unparsed answers).
- ``label_acc`` counts an item right when the label the model wrote equals the bin of the human score;
  a missing label counts as wrong.
- Degenerate inputs (fewer than 2 values, a constant side, a failed logistic fit) give ``NaN`` and a logged
  reason, never an exception.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import optimize, stats

from .dimensions import Dimension, get_dimension

logger = logging.getLogger("cogip")

METRIC_NAMES: tuple[str, ...] = (
    "srcc",
    "srcc_parsed",
    "srcc_ci_low",
    "srcc_ci_high",
    "plcc",
    "plcc_logistic",
    "krcc",
    "mae",
    "rmse",
    "parse_rate",
    "label_acc",
)
#: Metrics where a smaller value is better (the rest: larger is better).
LOWER_IS_BETTER = frozenset({"mae", "rmse"})


def _as_array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def impute(pred: Sequence[float | None], dimension: str | Dimension) -> np.ndarray:
    """Replace unparsed predictions (None/NaN) with the dimension's range midpoint."""
    arr = _as_array(pred)
    return np.where(np.isnan(arr), get_dimension(dimension).midpoint, arr)


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
    return float("nan") if _degenerate(x, y, name) else float(stats.spearmanr(x, y).statistic)


def pearson(x: np.ndarray, y: np.ndarray, name: str = "plcc") -> float:
    return float("nan") if _degenerate(x, y, name) else float(stats.pearsonr(x, y).statistic)


def kendall(x: np.ndarray, y: np.ndarray, name: str = "krcc") -> float:
    return float("nan") if _degenerate(x, y, name) else float(stats.kendalltau(x, y).statistic)


def logistic_4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """The 4-parameter logistic of IQA practice (VQEG): maps predictions onto the human scale."""
    with np.errstate(over="ignore"):  # exp overflow is the flat tail of the curve: 1/(1+inf) = 0
        return (b1 - b2) / (1.0 + np.exp(-(x - b3) / np.abs(b4))) + b2


def pearson_logistic(x: np.ndarray, y: np.ndarray, name: str = "plcc_logistic") -> float:
    """PLCC after fitting ``logistic_4`` from predictions to human scores."""
    if _degenerate(x, y, name):
        return float("nan")
    start = [float(y.max()), float(y.min()), float(np.mean(x)), float(np.std(x)) or 1.0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = optimize.curve_fit(logistic_4, x, y, p0=start, maxfev=10_000)
        fitted = logistic_4(x, *params)
    except (RuntimeError, ValueError, optimize.OptimizeWarning) as err:
        logger.warning("%s is NaN: logistic fit failed (%s)", name, err)
        return float("nan")
    if not np.all(np.isfinite(fitted)):
        logger.warning("%s is NaN: logistic fit gave non-finite values", name)
        return float("nan")
    return pearson(fitted, y, name)


def resampled_spearman(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Spearman's rho of each resample (the rows of ``idx`` index items); NaN where a side is constant."""
    rx = stats.rankdata(x[idx], axis=1)
    ry = stats.rankdata(y[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (rx * ry).sum(axis=1) / denom, np.nan)


def bootstrap_srcc_ci(
    x: np.ndarray, y: np.ndarray, n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's rho over items, reproducible with its seed."""
    if _degenerate(x, y, "srcc_ci"):
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_resamples, len(x)))
    rho = resampled_spearman(x, y, idx)
    rho = rho[np.isfinite(rho)]  # resamples that drew a constant side have no rho
    if len(rho) == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(rho, [tail, 100 - tail])
    return float(low), float(high)


def compute_metrics(
    pred: Sequence[float | None],
    human: Sequence[float],
    dimension: str | Dimension,
    pred_labels: Sequence[str | None] | None = None,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Every CogIP metric for one dimension (see the module doc for the conventions)."""
    dim = get_dimension(dimension)
    raw = _as_array(pred)
    y = _as_array(human)
    x = impute(raw, dim)
    parsed = ~np.isnan(raw)
    ci_low, ci_high = bootstrap_srcc_ci(x, y, n_resamples=n_resamples, seed=seed)
    n = len(y)
    result = {
        "srcc": spearman(x, y),
        "srcc_parsed": spearman(raw[parsed], y[parsed], "srcc_parsed"),
        "srcc_ci_low": ci_low,
        "srcc_ci_high": ci_high,
        "plcc": pearson(x, y),
        "plcc_logistic": pearson_logistic(x, y),
        "krcc": kendall(x, y),
        "mae": float(np.mean(np.abs(x - y))) if n else float("nan"),
        "rmse": float(np.sqrt(np.mean((x - y) ** 2))) if n else float("nan"),
        "parse_rate": float(parsed.mean()) if n else float("nan"),
        "label_acc": label_accuracy(pred_labels, y, dim) if pred_labels is not None else float("nan"),
    }
    return result


def label_accuracy(pred_labels: Sequence[str | None], human: Sequence[float], dimension: str | Dimension) -> float:
    dim = get_dimension(dimension)
    if len(human) == 0:
        return float("nan")
    hits = [label is not None and label == dim.label_for(float(h)) for label, h in zip(pred_labels, human)]
    return float(np.mean(hits))


@lru_cache(maxsize=32)
def metrics_of_records(records: tuple[tuple[float | None, float, str | None], ...], dimension: str) -> dict[str, float]:
    """``compute_metrics`` over ``(pred, human, label)`` records, cached: lmms-eval asks once per metric."""
    pred, human, labels = zip(*records) if records else ((), (), ())
    return compute_metrics(pred, human, dimension, labels)
