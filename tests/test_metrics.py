"""Every metric against a direct scipy/numpy computation; bootstrap reproducibility; degenerate cases."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from scipy import optimize, stats

from cogip_tasks.metrics import METRIC_NAMES, bootstrap_srcc_ci, compute_metrics, logistic_4


@pytest.fixture
def answers():
    rng = np.random.default_rng(7)
    human = rng.uniform(0, 10, 60).round(3)
    pred = (human + rng.normal(0, 2, 60)).clip(0, 10).round(3).tolist()
    for i in (3, 17, 42):
        pred[i] = None  # unparsed answers
    labels = ["high" if p is not None and p >= 6.5 else "medium" for p in pred]
    return pred, human, labels


def test_every_metric_matches_scipy(answers):
    pred, human, labels = answers
    m = compute_metrics(pred, human, "aesthetics", labels)
    assert set(m) == set(METRIC_NAMES)

    imputed = np.array([5.0 if p is None else p for p in pred])
    parsed = np.array([p is not None for p in pred])
    assert m["srcc"] == pytest.approx(stats.spearmanr(imputed, human).statistic)
    assert m["srcc_parsed"] == pytest.approx(
        stats.spearmanr(np.array([p for p in pred if p is not None]), human[parsed]).statistic
    )
    assert m["plcc"] == pytest.approx(stats.pearsonr(imputed, human).statistic)
    assert m["krcc"] == pytest.approx(stats.kendalltau(imputed, human).statistic)
    assert m["mae"] == pytest.approx(np.abs(imputed - human).mean())
    assert m["rmse"] == pytest.approx(np.sqrt(((imputed - human) ** 2).mean()))
    assert m["parse_rate"] == pytest.approx(57 / 60)
    bins = np.where(
        human < 3.5,
        "very low",
        np.where(human < 5, "low", np.where(human < 6.5, "medium", np.where(human < 8, "high", "very high"))),
    )
    assert m["label_acc"] == pytest.approx(np.mean([lab == b for lab, b in zip(labels, bins)]))

    params, _ = optimize.curve_fit(
        logistic_4, imputed, human, p0=[human.max(), human.min(), imputed.mean(), imputed.std()], maxfev=10_000
    )
    assert m["plcc_logistic"] == pytest.approx(stats.pearsonr(logistic_4(imputed, *params), human).statistic, abs=1e-6)
    assert m["srcc_ci_low"] < m["srcc"] < m["srcc_ci_high"]


def test_unparsed_answers_are_not_rewarded():
    human = np.linspace(0, 1, 20)
    perfect = compute_metrics(list(human), human, "memorability")
    half_missing = compute_metrics([h if i % 2 else None for i, h in enumerate(human)], human, "memorability")
    assert perfect["srcc"] == pytest.approx(1.0)
    assert half_missing["srcc_parsed"] == pytest.approx(1.0)  # what the paper's convention would report
    assert half_missing["srcc"] < 0.9


def test_bootstrap_interval_is_reproducible_with_its_seed():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=100), rng.normal(size=100)
    y = x + y
    ids = [f"Aesthetics/{i:03d}" for i in range(100)]
    ci = bootstrap_srcc_ci(x, y, "aesthetics", ids, seed=3)
    assert ci == bootstrap_srcc_ci(x, y, "aesthetics", ids, seed=3)
    assert ci != bootstrap_srcc_ci(x, y, "aesthetics", ids, seed=4)
    assert ci != bootstrap_srcc_ci(x, y, "funniness", ids, seed=3)  # one stream per dimension
    # against a plain loop over resamples of the id-sorted items, drawn from default_rng([seed, dimension index])
    idx = np.random.default_rng([3, 0]).integers(0, 100, size=(1000, 100))
    rhos = [stats.spearmanr(x[i], y[i]).statistic for i in idx]  # ids are already in sorted order here
    assert ci == pytest.approx(tuple(np.percentile(rhos, [2.5, 97.5])))


@pytest.mark.parametrize(
    ("pred", "human", "reason"),
    [
        ([None, None, None, None], [1, 2, 3, 4], "constant predictions"),
        ([7.0, 7.0, 7.0], [1, 2, 3], "constant predictions"),
        ([1.0], [2.0], "fewer than 2"),
        ([], [], "fewer than 2"),
    ],
)
def test_degenerate_cases_give_nan_with_a_logged_reason(pred, human, reason, caplog):
    with caplog.at_level(logging.WARNING, logger="cogip"):
        m = compute_metrics(pred, human, "aesthetics", [None] * len(pred))
    for name in ("srcc", "plcc", "plcc_logistic", "krcc", "srcc_ci_low", "srcc_ci_high"):
        assert math.isnan(m[name]), name
    assert reason.split()[0] in caplog.text


def test_task_aggregations_share_one_computation(answers):
    from cogip_tasks.metrics import _score_sorted, metrics_of_records

    pred, human, labels = answers
    ids = [f"Aesthetics/{i}" for i in range(len(pred))]
    records = list(zip(ids, pred, human.tolist(), labels))
    _score_sorted.cache_clear()
    first = metrics_of_records(records, "aesthetics")
    assert metrics_of_records(records[::-1], "aesthetics") is first  # any order: one computation
    assert _score_sorted.cache_info().hits == 1
    assert first == compute_metrics(pred, human, "aesthetics", labels, ids=ids)
