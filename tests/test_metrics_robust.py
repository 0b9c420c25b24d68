"""Metrics that hold for any input: tiny n, constant or unparsed answers, any item order; one registry.

Fast (no model): synthetic scores, the real task YAMLs and the real lmms-eval group-config parser.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import optimize, stats

from cogip_tasks import metrics as M
from cogip_tasks.dimensions import DIMENSIONS
from cogip_tasks.metrics import (
    GROUP_METRIC_NAMES,
    METRIC_NAMES,
    MIN_LOGISTIC_N,
    compute_metrics,
    group_interval_bound,
    metrics_of_records,
    pearson_logistic,
    score_dimension,
)

TASKS = Path(M.__file__).resolve().parent / "tasks" / "cogip"

# Which logged reason explains a NaN metric (the metric's own line, or the one its value derives from).
REASON = {
    "srcc_ci_low": "srcc is NaN",
    "srcc_ci_high": "srcc is NaN",
    "mae": "no items",
    "rmse": "no items",
    "mae_norm": "no items",
    "rmse_norm": "no items",
    "parse_rate": "no items",
    "label_acc": "no items",
}


def patterns(n: int, dim) -> dict[str, list]:
    rng = np.random.default_rng(n)
    span = dim.high - dim.low
    return {
        "noisy": list(np.round(rng.uniform(dim.low, dim.high, n), 3)),
        "constant": [dim.low + 0.3 * span] * n,
        "unparsed": [None] * n,
        "half_unparsed": [None if i % 2 else dim.low + span * i / max(n, 1) for i in range(n)],
    }


@pytest.mark.parametrize("key", list(DIMENSIONS))
@pytest.mark.parametrize("n", range(7))
def test_every_metric_is_defined_or_nan_with_a_logged_reason(n, key, caplog):
    dim = DIMENSIONS[key]
    human = list(np.round(np.linspace(dim.low, dim.high, n) if n != 3 else [dim.low] * n, 3))  # n=3: constant humans
    for name, pred in patterns(n, dim).items():
        for labels in (None, [dim.bins[0].label if p is not None else None for p in pred]):
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="cogip"):
                m = compute_metrics(pred, human, dim, labels, ids=[f"{key}/{i}" for i in range(n)])
            assert list(m) == list(METRIC_NAMES)
            for metric, value in m.items():
                assert isinstance(value, float)
                if math.isnan(value):
                    if metric == "label_acc" and labels is None:
                        continue  # no labels given: nothing to score
                    assert REASON.get(metric, f"{metric} is NaN") in caplog.text, (n, name, metric)
                else:
                    assert math.isfinite(value), (n, name, metric)


def test_plcc_logistic_needs_more_points_than_parameters(caplog):
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([1.2, 1.9, 3.5, 3.9, 5.2, 5.8])
    with caplog.at_level(logging.WARNING, logger="cogip"):
        for n in range(MIN_LOGISTIC_N):
            assert math.isnan(pearson_logistic(x[:n], y[:n]))  # scipy's curve_fit raised TypeError for n=3
    assert f"needs at least {MIN_LOGISTIC_N}" in caplog.text
    assert MIN_LOGISTIC_N == 5 and math.isfinite(pearson_logistic(x[:5], y[:5]))


@pytest.mark.parametrize(
    "error",
    [
        TypeError("n < params"),
        np.linalg.LinAlgError("singular"),
        ValueError("nan"),
        RuntimeError("maxfev"),
        ZeroDivisionError(),
    ],
)
def test_plcc_logistic_never_raises_whatever_the_fit_does(monkeypatch, caplog, error):
    def failing_fit(*args, **kwargs):
        raise error

    monkeypatch.setattr(optimize, "curve_fit", failing_fit)
    x = np.linspace(0, 10, 20)
    with caplog.at_level(logging.WARNING, logger="cogip"):
        assert math.isnan(pearson_logistic(x, x**2))
    assert "logistic fit failed" in caplog.text and type(error).__name__ in caplog.text


def test_plcc_logistic_of_an_anti_correlated_model_is_negative():
    rng = np.random.default_rng(3)
    human = rng.uniform(0, 10, 120)
    anti = 10 - human + rng.normal(0, 1.2, 120)
    m = compute_metrics(anti, human, "aesthetics")
    assert m["srcc"] < -0.9
    assert m["plcc_logistic"] < -0.9  # was +0.92: the fit turned the curve around
    # The mirror-image model scores the opposite: the sign is the direction, the size the fit.
    mirror = compute_metrics(10 - anti, human, "aesthetics")
    assert mirror["plcc_logistic"] == pytest.approx(-m["plcc_logistic"], abs=1e-4)
    # An increasing model is scored as before: the PLCC of the fitted 4-parameter logistic.
    params, _ = optimize.curve_fit(
        M.logistic_4,
        10 - anti,
        human,
        maxfev=10_000,
        p0=[human.max(), human.min(), np.mean(10 - anti), np.std(10 - anti)],
    )
    assert mirror["plcc_logistic"] == pytest.approx(
        stats.pearsonr(M.logistic_4(10 - anti, *params), human).statistic, abs=1e-6
    )


def interleave(n: int, processes: int) -> list[int]:
    """The order lmms-eval data parallel gathers items: rank r has docs r, r+P, ...; rank 0's come first."""
    return [i for rank in range(processes) for i in range(rank, n, processes)]


@pytest.mark.parametrize("order", ["reversed", "shuffled", "two_processes", "three_processes"])
def test_every_aggregate_depends_on_the_set_of_items_not_their_order(order):
    rng = np.random.default_rng(11)
    n = 40
    human = np.round(rng.uniform(0, 10, n), 3)
    pred = [None if rng.random() < 0.1 else float(np.clip(h + rng.normal(0, 2), 0, 10)) for h in human]
    labels = [None if p is None else DIMENSIONS["aesthetics"].label_for(p) for p in pred]
    ids = [f"Aesthetics/{i:06d}" for i in range(n)]
    perm = {
        "reversed": list(range(n))[::-1],
        "shuffled": list(rng.permutation(n)),
        "two_processes": interleave(n, 2),
        "three_processes": interleave(n, 3),
    }[order]
    base = compute_metrics(pred, human, "aesthetics", labels, ids=ids)
    moved = compute_metrics(
        [pred[i] for i in perm], human[perm], "aesthetics", [labels[i] for i in perm], ids=[ids[i] for i in perm]
    )
    assert moved == base  # exactly: intervals, the logistic fit, everything
    assert all(math.isfinite(v) for v in base.values())
    # Without ids the order is canonical too (by value).
    assert compute_metrics([pred[i] for i in perm], human[perm], "aesthetics") == compute_metrics(
        pred, human, "aesthetics"
    )
    # The lmms-eval aggregation path.
    records = list(zip(ids, pred, human.tolist(), labels))
    assert (
        metrics_of_records([records[i] for i in perm], "aesthetics")
        == metrics_of_records(records, "aesthetics")
        == base
    )


def task_items(seed: int) -> dict[str, list[dict]]:
    """Per-sample records as process_results logs them, for all four dimensions."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, dim in DIMENSIONS.items():
        human = np.round(rng.uniform(dim.low, dim.high, 30), 3)
        pred = np.clip(human + rng.normal(0, 0.25 * (dim.high - dim.low), 30), dim.low, dim.high)
        out[key] = [
            {
                "id": f"{key}/{i}",
                "dimension": key,
                "human": float(h),
                "pred": float(p),
                "label": dim.label_for(float(p)),
            }
            for i, (h, p) in enumerate(zip(human, pred))
        ]
    return out


def load_task_utils():
    """The task hooks as lmms-eval loads them (by path, a fresh module per `!function`)."""
    spec = importlib.util.spec_from_file_location("utils", TASKS / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_group_interval_is_the_bootstrap_interval_of_the_mean_srcc():
    from cogip_tasks.leaderboard.stats import mean_srcc_interval, predictor
    from cogip_tasks.leaderboard.verify import GroundTruth

    utils = load_task_utils()
    items = task_items(5)
    bounds = {}
    for key in DIMENSIONS:
        shuffled = [items[key][i] for i in interleave(30, 2)]
        bounds[key] = (utils.srcc_ci_low(shuffled), utils.srcc_ci_high(shuffled))
    low = utils.group_srcc_ci_low([b[0] for b in bounds.values()], [30] * 4, False)
    high = utils.group_srcc_ci_high([b[1] for b in bounds.values()], [30] * 4, False)
    # The leaderboard's interval of the same answers: one implementation.
    truth = GroundTruth(
        "synthetic",
        {k: [i["id"] for i in v] for k, v in items.items()},
        {k: np.array([i["human"] for i in v]) for k, v in items.items()},
    )
    model = predictor("m", {k: np.array([i["pred"] for i in v]) for k, v in items.items()}, truth, reference=False)
    assert (low, high) == pytest.approx(mean_srcc_interval(model, truth), abs=1e-12)
    assert (low, high) == pytest.approx((model.mean["srcc_ci_low"], model.mean["srcc_ci_high"]), abs=1e-12)
    # Not the mean of the dimensions' bounds (which is not an interval of anything): much narrower here.
    assert high - low < np.mean([b[1] for b in bounds.values()]) - np.mean([b[0] for b in bounds.values()]) - 0.05


def test_group_interval_refuses_bounds_it_did_not_compute(caplog):
    utils = load_task_utils()
    for rows in task_items(6).values():
        utils.srcc(rows)
    with caplog.at_level(logging.WARNING, logger="cogip"):
        assert math.isnan(group_interval_bound([0.1, 0.2, 0.3, 0.4], "low"))
    assert "not the ones this process computed" in caplog.text


def test_normalised_errors_divide_by_the_dimension_range():
    for dim in DIMENSIONS.values():
        human = np.linspace(dim.low, dim.high, 9)
        pred = np.clip(human + 0.1 * (dim.high - dim.low), dim.low, dim.high)
        m = compute_metrics(pred, human, dim)
        assert m["mae_norm"] == pytest.approx(m["mae"] / (dim.high - dim.low))
        assert m["rmse_norm"] == pytest.approx(m["rmse"] / (dim.high - dim.low))


def test_misaligned_inputs_are_a_clear_error():
    with pytest.raises(ValueError, match=r"aesthetics: .* differ in length \(\[2, 3\]\)"):
        compute_metrics([1.0, 2.0], [1.0, 2.0, 3.0], "aesthetics")


# -- one registry: METRIC_NAMES ----------------------------------------------------------------------------------


class _TaskLoader(yaml.SafeLoader):
    """Reads the task YAMLs without lmms-eval: ``!function utils.x`` becomes the string ``"utils.x"``."""


_TaskLoader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")


def read_yaml(name: str) -> dict:
    return yaml.load((TASKS / name).read_text(), Loader=_TaskLoader)


def test_template_metric_list_is_the_registry():
    listed = read_yaml("_default_template_yaml")["metric_list"]
    assert [e["metric"] for e in listed] == list(METRIC_NAMES)
    utils = load_task_utils()
    for entry in listed:
        name = entry["metric"]
        assert entry["higher_is_better"] is METRIC_NAMES[name].higher_is_better, name
        assert entry["aggregation"] == f"!function utils.{name}" and callable(getattr(utils, name))
    assert not hasattr(M, "LOWER_IS_BETTER")  # direction has one home


def test_group_aggregate_metric_list_is_the_registry():
    from lmms_eval.api.group import GroupConfig

    group = read_yaml("_cogip.yaml")
    listed = group["aggregate_metric_list"]
    assert [e["metric"] for e in listed] == list(GROUP_METRIC_NAMES)
    assert {"mae", "rmse"}.isdisjoint(GROUP_METRIC_NAMES) and {"mae_norm", "rmse_norm"} <= set(GROUP_METRIC_NAMES)
    utils = load_task_utils()
    for entry in listed:
        kind = METRIC_NAMES[entry["metric"]].group
        expected = f"!function utils.group_{entry['metric']}" if kind in ("interval", "min") else "mean"
        assert entry["aggregation"] == expected and entry["weight_by_size"] is False, entry
    # lmms-eval 0.7.3 applies an entry to every task metric whose name *contains* it, the last entry winning
    # (evaluator_utils.consolidate_group_results): each task metric must end up with its own entry, or none.
    for metric in METRIC_NAMES:
        matching = [e["metric"] for e in listed if e["metric"] in f"{metric},none"]
        assert (matching[-1] if matching else None) == (metric if metric in GROUP_METRIC_NAMES else None), metric
    # lmms-eval accepts the callables (it refuses any aggregation other than "mean" or a callable).
    config = dict(
        group,
        aggregate_metric_list=[
            dict(
                e, aggregation=getattr(utils, e["aggregation"].split(".")[-1]) if e["aggregation"] != "mean" else "mean"
            )
            for e in listed
        ],
    )
    assert len(GroupConfig(**config).aggregate_metric_list) == len(listed)


def test_the_interval_is_the_percentile_interval_of_the_resamples():
    rng = np.random.default_rng(2)
    human = rng.uniform(0, 1, 25)
    pred = human + rng.normal(0, 0.1, 25)
    scores = score_dimension(pred, human, "memorability")
    assert scores.resamples.shape == (M.N_RESAMPLES,)
    assert (scores.metrics["srcc_ci_low"], scores.metrics["srcc_ci_high"]) == tuple(
        np.percentile(scores.resamples, [2.5, 97.5])
    )
    assert scores.metrics == compute_metrics(pred, human, "memorability")


def test_distinct_predictions_flag_a_collapsed_model():
    human = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    collapsed = M.compute_metrics([7.0] * 6, human, "aesthetics")
    assert collapsed["n_distinct"] == 1 and math.isnan(collapsed["srcc"])
    mixed = M.compute_metrics([7.0, 7.0000001, None, 3.5, float("nan"), 9.0], human, "aesthetics")
    assert mixed["n_distinct"] == 3  # unparsed answers are no prediction; 7.0000001 is 7.0
    assert M.compute_metrics([], [], "aesthetics")["n_distinct"] == 0


@pytest.mark.parametrize("jitter", [1e-6, 1e-4, 1e-3])
@pytest.mark.parametrize(
    "dimension, constant", [("aesthetics", 7.0), ("emotional_valence", 1.0), ("memorability", 0.6)]
)
def test_jitter_cannot_defeat_the_collapse_flag(jitter, dimension, constant):
    """A constant answer plus noise of up to 1e-3 (a tenth of the grid on memorability's 0-1) stays 1 distinct
    prediction; a model whose answers really vary keeps its count."""
    dim = M.get_dimension(dimension)
    rng = np.random.default_rng(0)
    human = rng.uniform(dim.low, dim.high, 120)
    noisy = constant + rng.uniform(-jitter, jitter, 120)
    metrics = M.compute_metrics(list(noisy), list(human), dimension)
    assert len(np.unique(noisy)) == 120 and metrics["n_distinct"] == 1  # while srcc and plcc are defined
    assert not math.isnan(metrics["srcc"])
    varied = np.round(human + rng.normal(0, 0.1 * (dim.high - dim.low), 120), 3)
    assert M.compute_metrics(list(varied), list(human), dimension)["n_distinct"] > 30


def test_the_group_row_takes_the_fewest_distinct_predictions():
    human = [1.0, 2.0, 3.0, 4.0, 5.0]
    scores = {
        key: M.score_dimension(pred, human if key != "emotional_valence" else [-2, -1, 0, 1, 2], key)
        for key, pred in zip(M.DIMENSIONS, ([1, 2, 3, 4, 5], [5] * 5, [-2, -1, 0, 1, 2], [0.1, 0.2, 0.3, 0.4, 0.5]))
    }
    assert M.group_metrics(scores)["n_distinct"] == 1  # funniness collapsed, though the mean would be 4
