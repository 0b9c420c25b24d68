"""The leaderboard people look at: a Markdown table and one static HTML page with embedded scatter plots.

Everything shown comes from verified submissions and the dataset (never from a submission's own numbers), and
every string that came from a submission is escaped before it reaches Markdown or HTML.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..dimensions import DIMENSIONS, Dimension
from ..files import json_safe, write_bytes, write_json, write_text
from ..metrics import N_RESAMPLES, SEED
from ..scoring import PARSER_VERSION
from .stats import Difference, is_rejected, mean_srcc, mean_srcc_interval, paired_difference, rank, reference_predictors
from .submission import package_version
from .verify import GroundTruth, Verified

PLOTS_DIR = "plots"
SIGNIFICANCE_RULE = (
    "A difference is significant at 5% (*) when its two-sided bootstrap p-value is below 0.05; its interval is "
    "that test inverted, so it excludes 0 exactly then."
)


@dataclass
class Leaderboard:
    rows: list[Verified]  # ranked, references included
    intervals: dict[str, tuple[float, float]]  # model name -> 95% CI of mean SRCC
    adjacent: list[tuple[Verified, Verified, Difference]]  # consecutive submitted models
    truth: GroundTruth
    n_resamples: int
    seed: int
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    plots: dict[str, bytes] = field(default_factory=dict)  # model name -> PNG
    generated: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def models(self) -> list[Verified]:
        return [r for r in self.rows if not r.reference]

    def rank_label(self, row: Verified) -> str:
        return "ref" if row.reference else str(self.models().index(row) + 1)


def fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def fmt_bound(value: float) -> str:
    """An interval end with 3 decimals, more when 3 would hide which side of 0 it lies on (0.0004 is not 0)."""
    for digits in range(3, 10):
        text = f"{value:.{digits}f}"
        if float(text) != 0 or value == 0:
            return text
    return f"{value:.2e}"


def fmt_ci(interval: tuple[float, float]) -> str:
    low, high = interval
    return "n/a" if math.isnan(low) or math.isnan(high) else f"[{fmt_bound(low)}, {fmt_bound(high)}]"


def fmt_p(p_value: float) -> str:
    """A bootstrap p-value: never 0 (it is at least 2/(B+1)); below 0.001 it is shown as "<0.001"; digits are
    added where rounding would put it on the other side of the 5% threshold (0.04995 is not "0.050")."""
    if p_value is None or math.isnan(p_value):
        return "n/a"
    if p_value < 0.001:
        return "<0.001"
    for digits in range(3, 10):
        text = f"{p_value:.{digits}f}"
        if is_rejected(float(text)) == is_rejected(p_value):
            return text
    return repr(p_value)


def fmt_diff(diff: Difference) -> str:
    if math.isnan(diff.delta):
        return "n/a"
    return (
        f"{diff.delta:+.3f} {fmt_ci((diff.low, diff.high))}, p={fmt_p(diff.p_value)}{' *' if diff.significant else ''}"
    )


def dimension_title(dim: Dimension) -> str:
    return dim.release_name.replace("_", " ")


def srcc_cell(row: Verified, key: str) -> str:
    m = row.dims[key].metrics
    return "n/a" if math.isnan(m["srcc"]) else f"{fmt(m['srcc'])} {fmt_ci((m['srcc_ci_low'], m['srcc_ci_high']))}"


def scatter_png(row: Verified, truth: GroundTruth, dpi: int = 80) -> bytes:
    """Predicted vs human score, one panel per dimension; unparsed answers drawn at the imputed midpoint."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * len(DIMENSIONS), 3.4), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(row.name)
    for ax, (key, dim) in zip(fig.subplots(1, len(DIMENSIONS)), DIMENSIONS.items()):
        human, pred = truth.human[key], row.dims[key].pred
        parsed = ~np.isnan(pred)
        pad = (dim.high - dim.low) * 0.05
        ax.plot([dim.low, dim.high], [dim.low, dim.high], color="0.75", lw=1, zorder=0)
        ax.scatter(human[parsed], pred[parsed], s=14, color="tab:blue", label="parsed")
        if (~parsed).any():
            ax.scatter(
                human[~parsed],
                np.full((~parsed).sum(), dim.midpoint),
                s=18,
                marker="x",
                color="tab:red",
                label="unparsed (midpoint)",
            )
        ax.set(
            xlim=(dim.low - pad, dim.high + pad),
            ylim=(dim.low - pad, dim.high + pad),
            xlabel="human score",
            ylabel="predicted score",
            title=f"{dimension_title(dim)}  SRCC {fmt(row.dims[key].metrics['srcc'])}",
        )
        ax.legend(fontsize=7, loc="upper left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def build_leaderboard(
    models: list[Verified],
    truth: GroundTruth,
    train_means: dict[str, float] | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    rejected: list[tuple[str, str]] | None = None,
    plots: bool = True,
) -> Leaderboard:
    """Rank verified models with reference rows, intervals, adjacent-pair tests and scatter plots."""
    rows = rank([*models, *reference_predictors(truth, train_means, n_resamples=n_resamples, seed=seed)])
    intervals = {r.name: mean_srcc_interval(r, truth, n_resamples, seed) for r in rows}
    ranked = [r for r in rows if not r.reference]
    adjacent = [(a, b, paired_difference(a, b, truth, n_resamples, seed)) for a, b in zip(ranked, ranked[1:])]
    board = Leaderboard(rows, intervals, adjacent, truth, n_resamples, seed, list(rejected or []))
    if plots:
        from tqdm.auto import tqdm

        board.plots = {r.name: scatter_png(r, truth) for r in tqdm(rows, desc="scatter plots", unit="model")}
    return board


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")
_NUMERIC_CELL = re.compile(r"[-+0-9.,\[\] n/ap=*]*")  # numbers, intervals, n/a, "p=0.01 *"


def md_escape(text: str) -> str:
    """Text from a submission (names, paths, reasons) as inert Markdown: no links, HTML or broken tables."""
    text = " ".join(str(text).split())
    return text if _NUMERIC_CELL.fullmatch(text) else _MD_SPECIAL.sub(r"\\\1", text)


def main_table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the ranking table (shared by Markdown and HTML)."""
    header = [
        "Rank",
        "Model",
        "Mean SRCC",
        "95% CI",
        *[f"{dimension_title(d)} SRCC [95% CI]" for d in DIMENSIONS.values()],
        "Mean PLCC",
        "Mean parse rate",
        "vs next model (Δ mean SRCC [95% CI], p)",
    ]
    vs_next = {a.name: fmt_diff(d) for a, _, d in board.adjacent}
    cells = [
        [
            board.rank_label(r),
            r.name,
            fmt(mean_srcc(r)),
            fmt_ci(board.intervals[r.name]),
            *[srcc_cell(r, k) for k in DIMENSIONS],
            fmt(r.mean["plcc"]),
            fmt(r.mean["parse_rate"]),
            vs_next.get(r.name, ""),
        ]
        for r in board.rows
    ]
    return header, cells


def detail_table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    header = [
        "Model",
        "Dimension",
        "n",
        "SRCC",
        "95% CI",
        "PLCC",
        "MAE",
        "Parse rate",
        "Label accuracy",
        "Distinct predictions",
    ]
    cells = []
    for r in board.rows:
        for key, dim in DIMENSIONS.items():
            m = r.dims[key].metrics
            cells.append(
                [
                    r.name,
                    dimension_title(dim),
                    str(len(board.truth.ids[key])),
                    fmt(m["srcc"]),
                    fmt_ci((m["srcc_ci_low"], m["srcc_ci_high"])),
                    fmt(m["plcc"]),
                    fmt(m["mae"]),
                    fmt(m["parse_rate"]),
                    fmt(m["label_acc"]),
                    distinct_cell(m.get("n_distinct", math.nan)),
                ]
            )
    return header, cells


def distinct_cell(value: float) -> str:
    """A count of distinct predictions; 1 (or none) flags a collapsed model whose interval means nothing."""
    if value != value:  # NaN: a row without predictions (a reference predictor computed elsewhere)
        return "n/a"
    return f"{int(value)} (collapsed)" if value <= 1 else str(int(value))


def adjacent_table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    header = ["Higher", "Lower", "Δ mean SRCC", "95% CI", "p", "Significant at 5%"]
    cells = [
        [
            a.name,
            b.name,
            fmt(d.delta),
            fmt_ci((d.low, d.high)),
            fmt_p(d.p_value),
            "n/a" if math.isnan(d.delta) else ("yes" if d.significant else "no"),
        ]
        for a, b, d in board.adjacent
    ]
    return header, cells


def provenance(board: Leaderboard) -> list[str]:
    n = ", ".join(f"{dimension_title(d)} {len(board.truth.ids[k])}" for k, d in DIMENSIONS.items())
    return [
        f"Ground truth: test split of {board.truth.source} ({n} items).",
        f"Answers re-parsed with parser {PARSER_VERSION}; every number recomputed (cogip {package_version('cogip')}).",
        f"95% percentile bootstrap intervals of each model, {board.n_resamples} resamples (seed {board.seed}); "
        "differences are paired bootstraps over the same items.",
        SIGNIFICANCE_RULE,
        "Unparsed answers count as the range midpoint; n/a marks an undefined value "
        "(e.g. constant predictions have no rank correlation).",
        f"Generated {board.generated}.",
    ]


def _md_table(header: list[str], cells: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in cells]


def to_markdown(board: Leaderboard) -> str:
    out = ["# CogIP-Bench leaderboard", "", "Ranked by mean SRCC over the four dimensions.", ""]
    out += _md_table(*main_table(board))
    out += [
        "",
        "## Adjacent models",
        "",
        "Is each model better than the next one down? (paired bootstrap of the mean-SRCC difference)",
        "",
    ]
    out += _md_table(*adjacent_table(board)) if board.adjacent else ["Fewer than two submitted models."]
    out += ["", "## Per dimension", ""] + _md_table(*detail_table(board))
    if board.rejected:
        out += ["", "## Rejected submissions", ""] + [f"- {md_escape(f)}: {md_escape(r)}" for f, r in board.rejected]
    out += ["", "## How these numbers were made", ""] + [f"- {md_escape(p)}" for p in provenance(board)]
    return "\n".join(out) + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f0f3f7}
td:nth-child(2),td:first-child{text-align:left}
tr.reference td{color:#666;font-style:italic;background:#fafafa}
img{max-width:100%;border:1px solid #ddd}
.note{color:#555;font-size:13px}
"""


def _html_table(header: list[str], cells: list[list[str]], reference_rows: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        ('<tr class="reference">' if i in reference_rows else "<tr>")
        + "".join(f"<td>{html.escape(c)}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(cells)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(board: Leaderboard) -> str:
    """One self-contained page (inline CSS, plots as data: URIs, no script, no server)."""
    refs = {i for i, r in enumerate(board.rows) if r.reference}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>CogIP-Bench leaderboard</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>CogIP-Bench leaderboard</h1>",
        "<p>Ranked by mean SRCC over the four dimensions.</p>",
        _html_table(*main_table(board), reference_rows=refs),
        "<h2>Adjacent models</h2>",
        _html_table(*adjacent_table(board)) if board.adjacent else "<p>Fewer than two submitted models.</p>",
        "<h2>Per dimension</h2>",
        _html_table(
            *detail_table(board), reference_rows={i * len(DIMENSIONS) + j for i in refs for j in range(len(DIMENSIONS))}
        ),
    ]
    if board.plots:
        parts.append("<h2>Predicted vs human scores</h2>")
        for r in board.rows:
            if r.name in board.plots:
                data = base64.b64encode(board.plots[r.name]).decode("ascii")
                alt = html.escape(f"scatter plots of {r.name}", quote=True)
                parts.append(f'<h3>{html.escape(r.name)}</h3><img alt="{alt}" src="data:image/png;base64,{data}">')
    if board.rejected:
        parts.append(
            "<h2>Rejected submissions</h2><ul>"
            + "".join(f"<li>{html.escape(f)}: {html.escape(r)}</li>" for f, r in board.rejected)
            + "</ul>"
        )
    parts.append(
        '<h2>How these numbers were made</h2><ul class="note">'
        + "".join(f"<li>{html.escape(p)}</li>" for p in provenance(board))
        + "</ul></body></html>"
    )
    return "\n".join(parts) + "\n"


def plot_filename(index: int, name: str) -> str:
    return f"{index:02d}-{re.sub(r'[^A-Za-z0-9._-]+', '-', name).strip('-.')[:60] or 'model'}.png"


def plot_files(board: Leaderboard) -> dict[str, str]:
    """Model name -> file name under ``plots/`` (rank order, so the names sort like the page)."""
    return {r.name: plot_filename(i, r.name) for i, r in enumerate(board.rows, start=1) if r.name in board.plots}


def to_json(board: Leaderboard) -> dict:
    """Machine-readable leaderboard (recomputed numbers only; null where undefined).

    ``plots`` lists the files this build wrote under ``plots/``: the next build removes those it does not
    write again, and nothing else there.
    """

    def row(r: Verified) -> dict:
        return {
            "name": r.name,
            "rank": board.rank_label(r),
            "reference": r.reference,
            "mean_srcc": json_safe(mean_srcc(r)),
            "mean_srcc_ci": [json_safe(v) for v in board.intervals[r.name]],
            "mean": {k: json_safe(v) for k, v in r.mean.items()},
            "dimensions": {k: {m: json_safe(v) for m, v in d.metrics.items()} for k, d in r.dims.items()},
        }

    return {
        "rows": [row(r) for r in board.rows],
        "adjacent": [
            {
                "higher": a.name,
                "lower": b.name,
                "delta": json_safe(d.delta),
                "ci": [json_safe(d.low), json_safe(d.high)],
                "p_value": json_safe(d.p_value),
            }
            for a, b, d in board.adjacent
        ],
        "rejected": [{"file": f, "reason": r} for f, r in board.rejected],
        "plots": sorted(plot_files(board).values()),
        "provenance": provenance(board),
    }


_PLOT_NAME = re.compile(r"\d{2,}-[A-Za-z0-9._-]*\.png")  # what plot_filename makes: never a path


def previous_plots(out: Path) -> set[str]:
    """The plot files the last build in ``out`` wrote (from its leaderboard.json; none if unreadable)."""
    import json

    try:
        listed = json.loads((out / "leaderboard.json").read_text(encoding="utf-8")).get("plots", [])
    except (OSError, ValueError, RecursionError, AttributeError):
        return set()
    return (
        {name for name in listed if isinstance(name, str) and _PLOT_NAME.fullmatch(name)}
        if isinstance(listed, list)
        else set()
    )


def write_leaderboard(board: Leaderboard, out_dir: str | Path) -> dict[str, Path]:
    """Write leaderboard.md, index.html, leaderboard.json and plots/*.png (each file written atomically).

    Plots the previous build wrote for models no longer on the page are removed (only files that build
    listed in its leaderboard.json: whatever else is in the folder stays).
    """
    out = Path(out_dir)
    stale = previous_plots(out)
    (out / PLOTS_DIR).mkdir(parents=True, exist_ok=True)
    files = plot_files(board)
    written = {}
    for name, filename in files.items():
        written[f"plot:{name}"] = write_bytes(out / PLOTS_DIR / filename, board.plots[name])
    written.update(
        markdown=write_text(out / "leaderboard.md", to_markdown(board)),
        html=write_text(out / "index.html", to_html(board)),
        json=write_json(out / "leaderboard.json", to_json(board)),
    )
    for filename in stale - set(files.values()):
        (out / PLOTS_DIR / filename).unlink(missing_ok=True)
    return written


def compare_markdown(
    a: Verified, b: Verified, truth: GroundTruth, n_resamples: int = N_RESAMPLES, seed: int = SEED
) -> str:
    """Two models side by side: per-dimension SRCC with CIs and the paired difference ``a - b``."""
    name_a, name_b = md_escape(a.name), md_escape(b.name)
    header = [
        "Dimension",
        f"{name_a} SRCC [95% CI]",
        f"{name_b} SRCC [95% CI]",
        "Δ SRCC (a − b)",
        "95% CI",
        "p",
        f"{name_a} parse rate",
        f"{name_b} parse rate",
    ]
    cells = []
    for key, dim in DIMENSIONS.items():
        d = paired_difference(a, b, truth, n_resamples, seed, dimensions=(key,))
        cells.append(
            [
                dimension_title(dim),
                srcc_cell(a, key),
                srcc_cell(b, key),
                fmt(d.delta),
                fmt_ci((d.low, d.high)),
                fmt_p(d.p_value),
                fmt(a.dims[key].metrics["parse_rate"]),
                fmt(b.dims[key].metrics["parse_rate"]),
            ]
        )
    d = paired_difference(a, b, truth, n_resamples, seed)
    cells.append(
        [
            "Mean",
            f"{fmt(mean_srcc(a))} {fmt_ci(mean_srcc_interval(a, truth, n_resamples, seed))}",
            f"{fmt(mean_srcc(b))} {fmt_ci(mean_srcc_interval(b, truth, n_resamples, seed))}",
            fmt(d.delta),
            fmt_ci((d.low, d.high)),
            fmt_p(d.p_value),
            fmt(a.mean["parse_rate"]),
            fmt(b.mean["parse_rate"]),
        ]
    )
    title = f"# {name_a} (a) vs {name_b} (b)"
    note = f"Paired bootstrap over the same test items ({n_resamples} resamples, seed {seed}); {SIGNIFICANCE_RULE}"
    return "\n".join([title, "", *_md_table(header, cells), "", note]) + "\n"
