"""The leaderboard people look at: a Markdown table, one static HTML page and its scatter plots.

Everything shown comes from verified submissions and the dataset (never from a submission's own numbers), and
every string that came from a submission is drawn as plain text: :func:`names.plain`, then the format's own
escaping (HTML, Markdown) or no parsing at all (matplotlib draws titles with ``parse_math=False``).

The site is written whole or not at all (:func:`write_site`): staged in a sibling folder, then swapped in.
It owns only the files its listing (``leaderboard.json``'s ``files``) names: other files in the folder are
carried over untouched, and a folder it did not write is refused unless empty.
"""

from __future__ import annotations

import html
import io
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..dimensions import Dimension
from ..errors import CogIPError
from ..files import json_safe, write_bytes, write_json, write_text
from ..metrics import N_RESAMPLES, SEED
from ..scoring import PARSER_VERSION
from .names import plain
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
    plot_files: dict[str, str] = field(default_factory=dict)  # model name -> file name under plots/
    generated: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def models(self) -> list[Verified]:
        return [r for r in self.rows if not r.reference]

    def rank_label(self, row: Verified) -> str:
        if row.reference:
            return "ref"
        ranks = self.__dict__.setdefault("_ranks", {id(r): n for n, r in enumerate(self.models(), start=1)})
        return str(ranks[id(row)])


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


PLOT_FORMAT = "scatter-2"  # part of every plot's cache key: bump when the drawing changes


class ScatterPlotter:
    """Predicted vs human score, one panel per dimension; unparsed answers drawn at the imputed midpoint.

    One figure with a fixed layout (no constrained layout), drawn once: its axes, ticks, labels and legends are
    kept as a background image, and each model's plot only restores that image and draws its own points and
    titles on it (matplotlib's blitting), which makes a plot many times cheaper than a fresh figure.
    """

    def __init__(self, truth: GroundTruth, dpi: int = 80):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.truth = truth
        dims = truth.dimensions
        self.fig = Figure(figsize=(3.2 * len(dims), 3.4), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.fig.subplots_adjust(left=0.05, right=0.99, bottom=0.14, top=0.8, wspace=0.3)
        self.title = self.fig.suptitle("", parse_math=False, animated=True)
        self.panels = {}
        for ax, (key, dim) in zip(np.atleast_1d(self.fig.subplots(1, len(dims))), dims.items()):
            pad = (dim.high - dim.low) * 0.05
            ax.plot([dim.low, dim.high], [dim.low, dim.high], color="0.75", lw=1, zorder=0)
            ax.set(
                xlim=(dim.low - pad, dim.high + pad),
                ylim=(dim.low - pad, dim.high + pad),
                xlabel="human score",
                ylabel="predicted score",
            )
            # Legend entries from empty stand-ins (drawn in the background); the real points are animated.
            ax.scatter([], [], s=14, color="tab:blue", label="parsed")
            ax.scatter([], [], s=18, marker="x", color="tab:red", label="unparsed (midpoint)")
            ax.legend(fontsize=7, loc="upper left")
            parsed = ax.scatter([], [], s=14, color="tab:blue", animated=True)
            unparsed = ax.scatter([], [], s=18, marker="x", color="tab:red", animated=True)
            ax.title.set_animated(True)
            self.panels[key] = (ax, parsed, unparsed)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def png(self, row: Verified) -> bytes:
        import warnings

        from PIL import Image

        self.canvas.restore_region(self.background)
        self.title.set_text(plain(row.name))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a glyph missing from the font is drawn as a box, not an error
            self.fig.draw_artist(self.title)
            for key, (ax, parsed_points, unparsed_points) in self.panels.items():
                dim, human, pred = self.truth.dimensions[key], self.truth.human[key], row.dims[key].pred
                parsed = ~np.isnan(pred)
                parsed_points.set_offsets(np.column_stack([human[parsed], pred[parsed]]))
                unparsed_points.set_offsets(np.column_stack([human[~parsed], np.full((~parsed).sum(), dim.midpoint)]))
                ax.set_title(f"{dimension_title(dim)}  SRCC {fmt(row.dims[key].metrics['srcc'])}", parse_math=False)
                for artist in (unparsed_points, parsed_points, ax.title):
                    ax.draw_artist(artist)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())[..., :3]).save(buf, format="png", compress_level=3)
        return buf.getvalue()


def scatter_png(row: Verified, truth: GroundTruth, dpi: int = 80) -> bytes:
    """One model's scatter plots (a plotter of its own; a build reuses one plotter for every model)."""
    return ScatterPlotter(truth, dpi).png(row)


def plot_key(row: Verified, truth: GroundTruth) -> str:
    """What a plot depends on: the drawing code, the name, the ground truth and each dimension's predictions."""
    from .cache import content_key

    parts = [PLOT_FORMAT, row.name, truth.fingerprint()]
    for key in truth.dimensions:
        parts += [
            np.ascontiguousarray(row.dims[key].pred, dtype=np.float64).tobytes(),
            repr(row.dims[key].metrics["srcc"]),
        ]
    return content_key(*parts)


def plot_filename(name: str, key: str) -> str:
    """``<readable part of the name>-<content key>.png``: a new plot gets a new name, an unchanged one keeps it."""
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '-', name).strip('-.')[:40] or 'model'}-{key[:16]}.png"


def render_plots(board: Leaderboard, cache_dir: str | Path | None = None) -> dict[str, bytes]:
    """Plot file name -> PNG bytes for every row; plots already in ``cache_dir/plots`` are read, not drawn."""
    from tqdm.auto import tqdm

    plotter: ScatterPlotter | None = None
    folder = Path(cache_dir) / "plots" if cache_dir is not None else None
    out: dict[str, bytes] = {}
    for row in tqdm(board.rows, desc="scatter plots", unit="model", disable=len(board.rows) < 8):
        key = plot_key(row, board.truth)
        filename = plot_filename(row.name, key)
        cached = folder / f"{key}.png" if folder is not None else None
        try:
            data = cached.read_bytes() if cached is not None else b""
        except OSError:
            data = b""
        if not data.startswith(b"\x89PNG"):
            plotter = plotter or ScatterPlotter(board.truth)
            data = plotter.png(row)
            if cached is not None:
                try:
                    write_bytes(cached, data)
                except OSError:
                    pass  # an unwritable cache costs time next build, never a result
        board.plot_files[row.name] = filename
        out[filename] = data
    return out


def build_leaderboard(
    models: list[Verified],
    truth: GroundTruth,
    train_means: dict[str, float] | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    rejected: list[tuple[str, str]] | None = None,
    references: list[Verified] | None = None,
) -> Leaderboard:
    """Rank verified models with reference rows, intervals and adjacent-pair tests (linear in the number of
    models: each model is tested against the next one down only); plots come from :func:`render_plots`."""
    if references is None:
        references = reference_predictors(truth, train_means, n_resamples=n_resamples, seed=seed)
    rows = rank([*models, *references])
    intervals = {r.name: mean_srcc_interval(r, truth, n_resamples, seed) for r in rows}
    ranked = [r for r in rows if not r.reference]
    adjacent = [(a, b, paired_difference(a, b, truth, n_resamples, seed)) for a, b in zip(ranked, ranked[1:])]
    return Leaderboard(rows, intervals, adjacent, truth, n_resamples, seed, list(rejected or []))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&$~!])")  # parentheses are inert once brackets are escaped
_NUMERIC_CELL = re.compile(r"[-+0-9.,\[\] n/ap=*]*")  # numbers, intervals, n/a, "p=0.01 *"


def md_escape(text: str) -> str:
    """Text from a submission (names, paths, reasons) as inert Markdown: no links, HTML, entities, math or
    broken tables, and no control characters (:func:`names.plain`)."""
    text = " ".join(plain(text).split())
    return text if _NUMERIC_CELL.fullmatch(text) else _MD_SPECIAL.sub(r"\\\1", text)


def main_table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the ranking table (shared by Markdown and HTML)."""
    header = [
        "Rank",
        "Model",
        "Mean SRCC",
        "95% CI",
        *[f"{dimension_title(d)} SRCC [95% CI]" for d in board.truth.dimensions.values()],
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
            *[srcc_cell(r, k) for k in board.truth.dimensions],
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
        for key, dim in board.truth.dimensions.items():
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


def public_source(source: str) -> str:
    """The dataset as the page may name it: a Hub id as written, a local folder by its base name only."""
    from ..dataset import looks_like_path

    if looks_like_path(source) or Path(source).exists():
        return f"the local folder {Path(source.rstrip('/')).name or 'dataset'}"
    return source


def page_title(board: Leaderboard) -> str:
    """The page's title: the benchmark's name (a dataset's spec is untrusted text: drawn plain)."""
    return f"{plain(board.truth.spec.title)} leaderboard"


def ranked_by(board: Leaderboard) -> str:
    n = len(board.truth.dimensions)
    return "Ranked by SRCC." if n == 1 else f"Ranked by mean SRCC over the {n} dimensions."


def public_rejections(board: Leaderboard) -> list[tuple[str, str]]:
    """Rejected files as the site shows them: by file name, with no local path (the dataset's or theirs)."""
    out = []
    for file, reason in board.rejected:
        for path in {str(Path(f).parent) for f, _ in board.rejected} - {"", "."}:
            reason = reason.replace(path + os.sep, "")
        out.append((Path(file).name, reason.replace(board.truth.source, public_source(board.truth.source))))
    return out


def provenance(board: Leaderboard) -> list[str]:
    n = ", ".join(f"{dimension_title(d)} {len(board.truth.ids[k])}" for k, d in board.truth.dimensions.items())
    return [
        f"Ground truth: test split of {public_source(board.truth.source)} ({n} items; content fingerprint "
        f"{board.truth.fingerprint()[:16]}).",
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
    out = [f"# {md_escape(page_title(board))}", "", ranked_by(board), ""]
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
        out += ["", "## Rejected submissions", ""] + [
            f"- {md_escape(f)}: {md_escape(r)}" for f, r in public_rejections(board)
        ]
    out += ["", "## How these numbers were made", ""] + [f"- {md_escape(p)}" for p in provenance(board)]
    return "\n".join(out) + "\n"


_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0 auto;padding:1em;color:#222;max-width:1400px;line-height:1.4}
h1{font-size:1.6em;margin:.3em 0}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:1em 0;border:1px solid #ddd;max-width:100%}
table{border-collapse:collapse;font-size:14px;width:max-content;min-width:100%}
th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
th{background:#f0f3f7;text-align:center;white-space:normal;min-width:5em}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.text{text-align:left;min-width:9em;max-width:22em;overflow-wrap:anywhere}
tr.reference td{color:#666;font-style:italic;background:#fafafa}
img{max-width:100%;height:auto;border:1px solid #ddd}
.note{color:#555;font-size:13px}
@media (max-width:600px){body{padding:.5em}table{font-size:13px}th,td{padding:3px 5px}}
"""

_TEXT_COLUMNS = {"Model", "Higher", "Lower", "Dimension"}


def _html_table(header: list[str], cells: list[list[str]], reference_rows: set[int] = frozenset()) -> str:
    """A table in a box that scrolls sideways on a narrow screen; numbers never wrap (an interval stays on one
    line), names wrap inside their cell; every string escaped as plain text."""
    kinds = ["text" if h in _TEXT_COLUMNS else "num" for h in header]
    head = "".join(f'<th scope="col">{html.escape(plain(h))}</th>' for h in header)
    body = "".join(
        ('<tr class="reference">' if i in reference_rows else "<tr>")
        + "".join(f'<td class="{k}">{html.escape(plain(c))}</td>' for k, c in zip(kinds, row))
        + "</tr>"
        for i, row in enumerate(cells)
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def to_html(board: Leaderboard) -> str:
    """One static page (inline CSS, no script, no server): plots are the files under ``plots/``."""
    refs = {i for i, r in enumerate(board.rows) if r.reference}
    n_dims = len(board.truth.dimensions)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(page_title(board))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(page_title(board))}</h1>",
        f"<p>{html.escape(ranked_by(board))}</p>",
        _html_table(*main_table(board), reference_rows=refs),
        "<h2>Adjacent models</h2>",
        _html_table(*adjacent_table(board)) if board.adjacent else "<p>Fewer than two submitted models.</p>",
        "<h2>Per dimension</h2>",
        _html_table(*detail_table(board), reference_rows={i * n_dims + j for i in refs for j in range(n_dims)}),
    ]
    if board.plot_files:
        parts.append("<h2>Predicted vs human scores</h2>")
        for r in board.rows:
            if r.name in board.plot_files:
                src = html.escape(f"{PLOTS_DIR}/{board.plot_files[r.name]}", quote=True)
                alt = html.escape(plain(f"scatter plots of {r.name}"), quote=True)
                parts.append(
                    f'<h3>{html.escape(plain(r.name))}</h3><img alt="{alt}" src="{src}" loading="lazy" '
                    'width="1024" height="272">'
                )
    if board.rejected:
        parts.append(
            "<h2>Rejected submissions</h2><ul>"
            + "".join(f"<li>{html.escape(plain(f))}: {html.escape(plain(r))}</li>" for f, r in public_rejections(board))
            + "</ul>"
        )
    parts.append(
        '<h2>How these numbers were made</h2><ul class="note">'
        + "".join(f"<li>{html.escape(plain(p))}</li>" for p in provenance(board))
        + "</ul></body></html>"
    )
    return "\n".join(parts) + "\n"


SITE_FORMAT = "cogip-leaderboard-site-1"
SITE_FILES = ("index.html", "leaderboard.md", "leaderboard.json")


def to_json(board: Leaderboard) -> dict:
    """Machine-readable leaderboard (recomputed numbers only; null where undefined).

    ``files`` lists every file this build wrote (relative paths): the site owns those and nothing else, so
    the next build replaces them and carries every other file in the folder over untouched.
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
            "plot": f"{PLOTS_DIR}/{board.plot_files[r.name]}" if r.name in board.plot_files else None,
        }

    plots = sorted(board.plot_files.values())
    return {
        "format": SITE_FORMAT,
        "rows": [row(r) for r in board.rows],
        "adjacent": [
            {
                "higher": a.name,
                "lower": b.name,
                "delta": json_safe(d.delta),
                "ci": [json_safe(d.low), json_safe(d.high)],
                "p_value": json_safe(d.p_value),
                "significant": d.significant,
            }
            for a, b, d in board.adjacent
        ],
        "rejected": [{"file": plain(f), "reason": plain(r)} for f, r in public_rejections(board)],
        "plots": plots,
        "files": [*SITE_FILES, *(f"{PLOTS_DIR}/{p}" for p in plots)],
        "provenance": provenance(board),
    }


class SiteProblem(CogIPError, RuntimeError):
    """The output folder cannot take the site (it holds files the leaderboard does not own); names them."""


_OWNED = re.compile(r"(index\.html|leaderboard\.md|leaderboard\.json|plots/[A-Za-z0-9][A-Za-z0-9._-]*\.png)")


def owned_files(out: Path) -> set[str]:
    """The files the last build in ``out`` wrote, from its leaderboard.json (empty when there is none).

    Only names a build can write are believed (never ``..``, never a path outside the site). A leaderboard.json
    from before listings existed owns the three pages and the plots it lists.
    """
    from ..files import UserFileError, read_user_json

    try:  # the one reader of user files: a FIFO or a link to /dev/zero in the site folder is refused, not read
        listing = read_user_json(out / "leaderboard.json", what="site listing")
    except UserFileError:
        return set()  # none, or unreadable: it owns nothing, and the build refuses a folder holding its pages
    if not isinstance(listing, dict) or not isinstance(listing.get("rows"), list):
        return set()
    names = listing.get("files")
    if not isinstance(names, list):  # the older layout
        plots = listing.get("plots") if isinstance(listing.get("plots"), list) else []
        names = [*SITE_FILES, *(f"{PLOTS_DIR}/{p}" for p in plots if isinstance(p, str))]
    return {n for n in names if isinstance(n, str) and _OWNED.fullmatch(n)}


def _files_under(folder: Path) -> list[str]:
    """Relative paths of everything under ``folder`` that is not a directory (links included, not followed)."""
    out = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        out += [(rel / f).as_posix() for f in files]
        out += [(rel / d).as_posix() for d in dirs if (Path(root) / d).is_symlink()]
    return out


def write_site(board: Leaderboard, out_dir: str | Path, plots: dict[str, bytes]) -> dict[str, Path]:
    """Write the site whole or not at all: staged beside ``out_dir``, then swapped in with two renames.

    ``out_dir`` may be new, empty, a site an earlier build wrote, or a folder whose files do not collide with
    the site's: files the site does not own are carried over (hard links, else copies), and a file the site
    would write but does not own (a user's ``index.html``) stops the build before anything changes.
    """
    import shutil

    out = Path(out_dir)
    if out.is_symlink():  # the site is swapped in whole by renames: at the folder the link names, the link kept
        out = Path(os.path.realpath(out))
    owned = owned_files(out) if out.is_dir() else set()
    listing = to_json(board)
    existing = _files_under(out) if out.is_dir() else []
    collisions = sorted(set(listing["files"]) & (set(existing) - owned))
    if out.is_dir() and (out / PLOTS_DIR).exists() and not (out / PLOTS_DIR).is_dir():
        collisions.append(PLOTS_DIR)
    if collisions:
        raise SiteProblem(
            f"{out}: holds {', '.join(collisions[:3])} that cogip-leaderboard did not write; "
            "choose a new or empty folder (or move those files)"
        )
    if out.exists() and not out.is_dir():
        raise SiteProblem(f"{out}: is a file, not a folder")
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        (staging / PLOTS_DIR).mkdir(parents=True)
        for filename, data in plots.items():
            (staging / PLOTS_DIR / filename).write_bytes(data)
        write_text(staging / "leaderboard.md", to_markdown(board))
        write_text(staging / "index.html", to_html(board))
        write_json(staging / "leaderboard.json", listing)
        for rel in set(existing) - owned:  # the user's files: kept as they are
            source, target = out / rel, staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                os.symlink(os.readlink(source), target)
                continue
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.is_dir():
            os.rename(out, old)
            os.rename(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"markdown": out / "leaderboard.md", "html": out / "index.html", "json": out / "leaderboard.json"} | {
        f"plot:{name}": out / PLOTS_DIR / filename for name, filename in board.plot_files.items()
    }


def write_leaderboard(board: Leaderboard, out_dir: str | Path, cache_dir: str | Path | None = None) -> dict[str, Path]:
    """Draw (or reuse) the plots and write the site (:func:`write_site`)."""
    return write_site(board, out_dir, render_plots(board, cache_dir))


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
    for key, dim in truth.dimensions.items():
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
