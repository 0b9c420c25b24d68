"""Leaderboard statistics and report on synthetic scores where the answer is known (fast, no model)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from scipy import stats as sstats

from cogip_tasks.dimensions import DIMENSIONS
from cogip_tasks.leaderboard.report import build_leaderboard, compare_markdown, to_html, to_markdown
from cogip_tasks.leaderboard.stats import (
    mean_srcc,
    mean_srcc_interval,
    mean_srcc_resamples,
    paired_difference,
    percentile_interval,
    predictor,
    rank,
    reference_predictors,
    resample_indices,
    resampled_spearman,
)
from cogip_tasks.leaderboard.verify import GroundTruth
from fixtures.leaderboard import synthetic_submission  # noqa: F401  (other leaderboard tests import it here)

N = 200


@pytest.fixture(scope="module")
def truth() -> GroundTruth:
    rng = np.random.default_rng(7)
    human = {k: np.round(rng.uniform(d.low, d.high, N), 3) for k, d in DIMENSIONS.items()}
    human["emotional_valence"] = np.round(human["emotional_valence"])  # whole numbers, as in the data
    return GroundTruth("synthetic", {k: [f"{k}/{i}" for i in range(N)] for k in DIMENSIONS}, human)


def noisy(truth: GroundTruth, noise: float, seed: int, name: str, unparsed: float = 0.0):
    """A model: human score plus noise (a share of the range), clipped; ``unparsed`` share left NaN."""
    rng = np.random.default_rng(seed)
    scores = {}
    for k, d in DIMENSIONS.items():
        s = np.clip(truth.human[k] + rng.normal(0, noise * (d.high - d.low), N), d.low, d.high)
        s[rng.random(N) < unparsed] = np.nan
        scores[k] = s
    return predictor(name, scores, truth, reference=False)


def test_resampled_spearman_matches_scipy_per_resample():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=30), rng.normal(size=30)
    x[:5] = x[0]  # ties
    idx = resample_indices(30, 8, seed=3, dimension="funniness")
    rho = resampled_spearman(x, y, idx)
    for row, value in zip(idx, rho):
        assert value == pytest.approx(sstats.spearmanr(x[row], y[row]).statistic)
    constant = resampled_spearman(np.ones(30), y, idx)
    assert np.isnan(constant).all()


def test_resample_indices_depend_only_on_seed_dimension_and_size():
    from cogip_tasks import metrics

    assert resample_indices is metrics.resample_indices  # one bootstrap for the tasks and the leaderboard
    a = resample_indices(10, 5, 0, "aesthetics")
    assert np.array_equal(a, resample_indices(10, 5, 0, "aesthetics"))
    assert not np.array_equal(a, resample_indices(10, 5, 0, "memorability"))
    assert not np.array_equal(a, resample_indices(10, 5, 1, "aesthetics"))


def test_percentile_interval_skips_nan_and_is_nan_when_empty():
    assert percentile_interval(np.array([np.nan, *range(101)])) == pytest.approx((2.5, 97.5))
    low, high = percentile_interval(np.array([np.nan, np.nan]))
    assert math.isnan(low) and math.isnan(high)


def test_paired_difference_detects_a_clearly_better_model(truth):
    good, bad = noisy(truth, 0.05, 1, "good"), noisy(truth, 0.6, 2, "bad")
    diff = paired_difference(good, bad, truth, n_resamples=500)
    assert diff.delta == pytest.approx(mean_srcc(good) - mean_srcc(bad))
    assert diff.delta > 0.3 and diff.low > 0 and diff.significant
    assert diff.p_value < 0.01
    reverse = paired_difference(bad, good, truth, n_resamples=500)
    assert reverse.delta == pytest.approx(-diff.delta) and reverse.high < 0 and reverse.significant


def test_paired_difference_of_a_model_with_itself_is_exactly_zero(truth):
    model = noisy(truth, 0.2, 3, "m")
    # Paired: both sides use the same resampled items, so every resampled difference is 0.
    assert np.array_equal(mean_srcc_resamples(model, truth, 50, 0), mean_srcc_resamples(model, truth, 50, 0))
    diff = paired_difference(model, model, truth, n_resamples=200)
    assert (diff.delta, diff.low, diff.high, diff.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert not diff.significant


def test_two_similar_models_are_not_significantly_different(truth):
    a, b = noisy(truth, 0.3, 4, "a"), noisy(truth, 0.3, 5, "b")
    diff = paired_difference(a, b, truth, n_resamples=500)
    assert diff.low < 0 < diff.high and not diff.significant and diff.p_value > 0.05


def test_mean_srcc_interval_covers_the_estimate_and_is_nan_when_undefined(truth):
    model = noisy(truth, 0.2, 6, "m", unparsed=0.1)
    low, high = mean_srcc_interval(model, truth, n_resamples=300)
    assert low < mean_srcc(model) < high and high - low < 0.3
    constant = reference_predictors(truth, None)[0]
    assert all(math.isnan(v) for v in mean_srcc_interval(constant, truth))
    nan_diff = paired_difference(model, constant, truth)
    assert math.isnan(nan_diff.delta) and math.isnan(nan_diff.low) and not nan_diff.significant


def test_rank_puts_undefined_last(truth):
    good, bad = noisy(truth, 0.05, 1, "good"), noisy(truth, 0.6, 2, "bad")
    constant = reference_predictors(truth, None)[0]
    assert [m.name for m in rank([constant, bad, good])] == ["good", "bad", constant.name]


def test_reference_predictors_are_scored_honestly(truth):
    means = {k: float(i) / 10 for i, k in enumerate(DIMENSIONS)}
    constant, train_mean, random = reference_predictors(truth, means, n_resamples=200)
    for key, dim in DIMENSIONS.items():
        human = truth.human[key]
        assert constant.dims[key].metrics["mae"] == pytest.approx(np.mean(np.abs(human - dim.midpoint)))
        assert train_mean.dims[key].metrics["mae"] == pytest.approx(np.mean(np.abs(human - means[key])))
        assert math.isnan(constant.dims[key].metrics["srcc"])  # a constant cannot rank images
        assert constant.dims[key].metrics["parse_rate"] == 1.0
        assert abs(random.dims[key].metrics["srcc"]) < 0.3  # chance level on 200 items
    assert all(r.reference for r in (constant, train_mean, random))
    assert len(reference_predictors(truth, None)) == 2  # no train split: no train-mean row


def test_report_ranks_marks_significance_and_escapes_names(truth):
    evil = "<script>alert(1)</script> | [x](javascript:alert(1))"
    good, bad = noisy(truth, 0.05, 1, evil), noisy(truth, 0.6, 2, "bad model")
    board = build_leaderboard([bad, good], truth, {k: d.midpoint for k, d in DIMENSIONS.items()}, n_resamples=200)
    assert [board.rank_label(r) for r in board.models()] == ["1", "2"]
    assert board.models()[0] is good and len(board.adjacent) == 1 and board.adjacent[0][2].significant
    md = to_markdown(board)
    table = [line for line in md.split("\n\n")[2].splitlines()]  # the ranking table
    widths = {len(re.split(r"(?<!\\)\|", line)) for line in table}
    assert len(table) == 2 + 5 and len(widths) == 1  # the pipe in the name did not add a column
    assert not re.search(r"(?<!\\)<script", md) and "\\<script\\>" in md
    assert "\\[x\\](javascript" in md  # escaped brackets: no link
    for title in ("Aesthetics", "Funniness", "Emotional Valence", "Memorability"):
        assert f"{title} SRCC [95% CI]" in md
    assert "| yes |" in md  # adjacent pair significant
    page = to_html(board)
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('class="reference"') == 3 * (1 + len(DIMENSIONS))  # main row + 4 detail rows each


def test_compare_reports_per_dimension_differences(truth):
    good, bad = noisy(truth, 0.05, 1, "aligned"), noisy(truth, 0.6, 2, "base")
    text = compare_markdown(good, bad, truth, n_resamples=200)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert [r.split(" | ")[0][2:] for r in rows[1:]] == [
        "Aesthetics",
        "Funniness",
        "Emotional Valence",
        "Memorability",
        "Mean",
    ]
    for row in rows[1:]:
        delta = float(row.split(" | ")[3])
        assert delta > 0  # the aligned model is better on every dimension


def test_verify_accepts_any_item_order_and_ranks_in_dataset_order(truth):
    from cogip_tasks.leaderboard.verify import Rejected, verify_submission
    from cogip_tasks.metrics import compute_metrics

    sub = json.loads(json.dumps(synthetic_submission(truth), allow_nan=False))  # a JSON round trip
    model = verify_submission(sub, truth)
    for key, dim in DIMENSIONS.items():
        m = model.dims[key].metrics
        assert m["srcc"] == pytest.approx(sub["metrics"][key]["srcc"]) and m["srcc"] > 0.7
        assert 0.85 < m["parse_rate"] < 1.0
        assert m == compute_metrics(
            model.dims[key].pred, truth.human[key], dim, model.dims[key].labels, ids=truth.ids[key]
        )
    # The same answers aggregated in dataset order claim the very same numbers (intervals included).
    in_order = synthetic_submission(truth, claim_order="dataset")
    assert in_order["metrics"] == sub["metrics"]
    verify_submission(in_order, truth)
    assert sub["metrics"]["mean"]["srcc_ci_low"] < model.mean["srcc"] < sub["metrics"]["mean"]["srcc_ci_high"]
    # A reasoning block must be what separates raw text from answer.
    sub["dimensions"]["funniness"]["items"][0]["raw"] = "<think>x</think> very high 9.000"
    with pytest.raises(Rejected, match=r"dimensions\.funniness\.items\[0\]\.answer"):
        verify_submission(sub, truth)


def test_a_bootstrap_p_value_is_never_zero(truth):
    from cogip_tasks.leaderboard.report import fmt_diff
    from cogip_tasks.leaderboard.stats import bootstrap_p_value

    good, bad = noisy(truth, 0.02, 1, "good"), noisy(truth, 0.9, 2, "bad")
    for n_resamples in (200, 1000):
        diff = paired_difference(good, bad, truth, n_resamples=n_resamples)
        assert diff.low > 0  # every resample favours the good model ...
        assert diff.p_value == pytest.approx(2 / (n_resamples + 1))  # ... which bounds p from below, not to 0
        assert diff.p_value >= 1 / (n_resamples + 1)
    assert "p=0.002 *" in fmt_diff(paired_difference(good, bad, truth, n_resamples=1000))
    assert bootstrap_p_value(np.full(10_000, 0.5)) == pytest.approx(2 / 10_001)
    assert "p=<0.001" in fmt_diff(type(diff)(0.5, 0.4, 0.6, 2 / 10_001))
    assert bootstrap_p_value(np.array([np.nan])) != bootstrap_p_value(np.array([np.nan]))  # undefined: NaN


def test_reference_rows_and_submissions_share_the_order_free_bootstrap(truth):
    """A row's per-dimension interval is the tasks' interval of the same answers in any order."""
    from cogip_tasks.metrics import compute_metrics

    model = noisy(truth, 0.2, 8, "m")
    perm = np.random.default_rng(0).permutation(N)
    for key, dim in DIMENSIONS.items():
        shuffled = compute_metrics(
            model.dims[key].pred[perm],
            truth.human[key][perm],
            dim,
            [model.dims[key].labels[i] for i in perm],
            ids=[truth.ids[key][i] for i in perm],
        )
        assert shuffled == model.dims[key].metrics


@pytest.mark.parametrize("at_or_below_zero", [0, 1, 23, 24, 25, 26, 40, 500, 960, 975, 976, 1000])
def test_significance_interval_and_p_value_never_disagree(at_or_below_zero):
    """One rule (#21.5): significant <=> p < 0.05 <=> the printed interval excludes 0, at the boundary too
    (25 of 1,000 differences <= 0 gave an interval excluding 0 with p = 0.052 under the percentile rule)."""
    from cogip_tasks.leaderboard.report import fmt_diff
    from cogip_tasks.leaderboard.stats import difference_from_resamples

    rng = np.random.default_rng(at_or_below_zero)
    diffs = np.concatenate(
        [-rng.uniform(0.001, 0.1, at_or_below_zero), rng.uniform(0.001, 0.1, 1000 - at_or_below_zero)]
    )
    diff = difference_from_resamples(0.05, rng.permutation(diffs))
    excludes_zero = diff.low > 0 or diff.high < 0
    assert diff.significant == excludes_zero == (diff.p_value < 0.05)
    shown = fmt_diff(diff)  # what the page and `compare` print: "+0.050 [low, high], p=... *"
    low, high = (float(v) for v in re.search(r"\[(\S+), (\S+)\]", shown).groups())
    p_shown = shown.split("p=")[1].split()[0]
    assert shown.endswith("*") == diff.significant == (low > 0 or high < 0)
    assert (p_shown == "<0.001" or float(p_shown) < 0.05) == diff.significant
    if at_or_below_zero == 25:
        assert diff.p_value == pytest.approx(52 / 1001) and not diff.significant and diff.low <= 0 < diff.high
    if at_or_below_zero == 24:
        assert diff.p_value == pytest.approx(50 / 1001) and diff.significant and diff.low > 0


def test_significance_rule_on_real_paired_differences(truth):
    """Across many pairs of close models the leaderboard's star, p and interval agree in every case."""
    models = [noisy(truth, 0.25, seed, f"m{seed}") for seed in range(8)]
    for a, b in zip(models, models[1:]):
        for n_resamples in (200, 1000):
            diff = paired_difference(a, b, truth, n_resamples=n_resamples)
            assert diff.significant == (diff.low > 0 or diff.high < 0) == (diff.p_value < 0.05)
