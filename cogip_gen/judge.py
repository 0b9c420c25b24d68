"""Judging a generation folder: does the aligned encoder's image carry the trait more strongly than the base's?

Every base and aligned image is scored on the chosen dimension(s) by a judge MLLM — any lmms-eval model, named
with ``--model``/``--model_args`` — asked the benchmark's own describe-then-predict prompt
(``cogip_tasks.prompts.DEFAULT_PROMPTS``) with the CogIP tasks' generation settings, its answer read by
``cogip_tasks.parse_answer``.

Why the model is driven in-process with lmms-eval ``Instance`` requests rather than by running the CogIP tasks on
the images: the tasks need a human score for every row (they compute agreement metrics), and generated images
have none. The requests here are the ones lmms-eval's evaluator builds — ``(context, generation kwargs,
doc_to_visual, doc_id, task, split)`` for simple wrappers, ``(context, doc_to_messages, ...)`` for chat ones — so
any wrapper works unchanged, and one model load serves every dimension and both variants. The raw answers are
appended to ``judge/answers.jsonl`` chunk by chunk, so an interrupted judge resumes where it stopped, and parsing
happens when the report is built (a parser change needs no new model run).

Statistics per dimension (``summarize``): mean score of each variant over its parsed answers; paired over the
(prompt, seed) pairs whose two answers both parsed — mean and median difference aligned - base, wins / ties /
losses, the win rate ``(wins + ties / 2) / pairs`` and the two-sided Wilcoxon signed-rank p-value (scipy; zero
differences dropped, the ``wilcox`` convention). Unparsed answers are *excluded* from the paired statistics, not
imputed: imputing the range midpoint (as the benchmark's ``srcc`` does) would invent differences. They are
counted per variant and by failure code, and the excluded pairs are reported, so a judge that fails more often on
one variant is visible.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .files import save_figure, write_json
from .generate import MANIFEST, VARIANTS, read_manifest
from .harness import load_lmms_model, parse_model_args, public_model_args

JUDGE_DIR = "judge"
ANSWERS = "answers.jsonl"
REPORT = "report.json"
PLOT = "report.png"
REPORT_FORMAT = "cogip-gen-judge-1"
_TASK = "cogip_gen_judge"
_SPLIT = "images"
_PLACEMENT_KEYS = {"device", "device_map", "batch_size", "max_pixels", "min_pixels", "attn_implementation"}


class JudgeError(ValueError):
    """A folder or option the judge cannot work with; the message names it."""


def task_generation_kwargs() -> dict[str, Any]:
    """The CogIP tasks' ``generation_kwargs``, read from their YAML template (the one source of that fact)."""
    import yaml

    import cogip_tasks

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # `!function` hooks are not needed here
    template = Path(cogip_tasks.__file__).parent / "tasks" / "cogip" / "_default_template_yaml"
    return dict(yaml.load(template.read_text(encoding="utf-8"), Loader=_Loader)["generation_kwargs"])


def judge_id(model: str, model_args: dict[str, Any]) -> str:
    """Which judge gave an answer: the model and its identifying args (not placement, never secrets)."""
    args = {k: v for k, v in public_model_args(model_args).items() if k not in _PLACEMENT_KEYS}
    return model + ":" + ",".join(f"{k}={v}" for k, v in sorted(args.items()))


def resolve_dimensions(requested: list[str] | None, manifest: dict[str, Any]) -> list[str]:
    from cogip_tasks.dimensions import DIMENSION_KEYS, get_dimension

    if not requested:
        if not manifest.get("dimension"):
            raise JudgeError("which dimension(s) to judge? the manifest names none: pass --dimensions "
                             f"({', '.join(DIMENSION_KEYS)} or all)")
        requested = [manifest["dimension"]]
    if any(r.lower() == "all" for r in requested):
        return list(DIMENSION_KEYS)
    try:
        return list(dict.fromkeys(get_dimension(r).key for r in requested))
    except ValueError as err:
        raise JudgeError(f"--dimensions: {err}") from None


def read_answers(path: Path) -> list[dict[str, Any]]:
    """Answers recorded so far; a line torn by a crash (the last one) is skipped, not fatal."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _requests(lm, prompts: list[str], images: list[Path], gen_kwargs: dict[str, Any]) -> list:
    """lmms-eval ``Instance``s for (image, prompt) pairs, in the layout the model's kind (simple/chat) expects."""
    import copy

    from lmms_eval.api.instance import Instance

    from cogip_tasks.dataset import load_image

    def doc_to_visual(doc):
        return [load_image(doc["image"], doc["image"])]

    def doc_to_messages(doc):
        return [{"role": "user", "content": [{"type": "image", "url": doc_to_visual(doc)[0]},
                                             {"type": "text", "text": doc["prompt"]}]}]

    lm.task_dict[_TASK] = {_SPLIT: [{"image": str(p), "prompt": t} for p, t in zip(images, prompts)]}
    simple = getattr(lm, "is_simple", True)
    out = []
    for doc_id, prompt in enumerate(prompts):
        kwargs = copy.deepcopy(gen_kwargs)
        args = ((prompt, kwargs, doc_to_visual, doc_id, _TASK, _SPLIT) if simple
                else (prompt, doc_to_messages, kwargs, doc_id, _TASK, _SPLIT))
        out.append(Instance(request_type="generate_until", arguments=args, idx=0,
                            metadata={"task": _TASK, "doc_id": doc_id, "repeats": 1}))
    return out


def ask(lm, prompts: list[str], images: list[Path], gen_kwargs: dict[str, Any]) -> list[str]:
    """The model's answers, in order; ``GenerationResult`` objects of chat wrappers are unwrapped to text."""
    answers = lm.generate_until(_requests(lm, prompts, images, gen_kwargs))
    return [str(getattr(a, "text", a)) for a in answers]


def run_judge(output_dir: str | Path, model: str, model_args: str | dict[str, Any], *,
              dimensions: list[str] | None = None, batch_size: int = 1, gen_kwargs: str | dict | None = None,
              report_dir: str | Path | None = None, chunk_size: int | None = None, force_simple: bool = False,
              progress: bool = True) -> dict[str, Any]:
    """Score every image of a generation folder, then write ``report.json`` and ``report.png``; returns the report."""
    from tqdm.auto import tqdm

    from cogip_tasks.prompts import DEFAULT_PROMPTS

    out = Path(output_dir)
    manifest = read_manifest(out)
    if manifest is None:
        raise JudgeError(f"{out}: no {MANIFEST} — not a cogip-gen output folder (run `cogip-gen generate` first)")
    dims = resolve_dimensions(dimensions, manifest)
    args = parse_model_args(model_args)
    judge = judge_id(model, args)
    settings = {**task_generation_kwargs(), **parse_model_args(gen_kwargs)}
    report_dir = Path(report_dir) if report_dir else out / JUDGE_DIR
    answers_file = report_dir / ANSWERS

    pairs, missing = [], []
    for item in manifest["items"]:
        absent = [item[v] for v in VARIANTS if not (out / item[v]).exists()]
        if absent:
            missing += absent  # a pair is judged only whole: an unpaired image says nothing about the encoder
        else:
            pairs.append(item)
    done = {(r["dimension"], r["image"]) for r in read_answers(answers_file) if r.get("judge") == judge}
    todo = [(d, item, v) for d in dims for item in pairs for v in VARIANTS if (d, item[v]) not in done]
    if todo:
        lm = load_lmms_model(model, args, batch_size=batch_size, force_simple=force_simple)
        chunk_size = chunk_size or max(16, 4 * batch_size)
        report_dir.mkdir(parents=True, exist_ok=True)
        with tqdm(total=len(todo), desc="judging images", disable=not progress) as bar:
            for start in range(0, len(todo), chunk_size):
                chunk = todo[start:start + chunk_size]
                answers = ask(lm, [DEFAULT_PROMPTS[d] for d, _, _ in chunk], [out / it[v] for _, it, v in chunk],
                              settings)
                with answers_file.open("a", encoding="utf-8") as handle:  # append-only: a crash tears one line at most
                    for (d, item, v), answer in zip(chunk, answers):
                        handle.write(json.dumps({"judge": judge, "dimension": d, "variant": v, "key": _key(item),
                                                 "image": item[v], "answer": answer}, ensure_ascii=False) + "\n")
                bar.update(len(chunk))

    report = build_report(out, manifest, pairs, missing, dims, read_answers(answers_file), judge, model, args, settings)
    write_json(report_dir / REPORT, report)
    plot_report(report, report_dir / PLOT)
    return report


def _key(item: dict[str, Any]) -> str:
    return f"{item['name']}__seed{item['seed']}"


def build_report(out: Path, manifest: dict[str, Any], pairs: list[dict], missing: list[str], dims: list[str],
                 answers: list[dict[str, Any]], judge: str, model: str, args: dict[str, Any],
                 gen_kwargs: dict[str, Any]) -> dict[str, Any]:
    from cogip_tasks.scoring import PARSER_VERSION, parse_answer

    latest = {(r["dimension"], r["image"]): r["answer"] for r in answers if r.get("judge") == judge}
    scores, summaries = [], {}
    for dim in dims:
        rows = []
        for item in pairs:
            row = {"key": _key(item), "name": item["name"], "seed": item["seed"], "dimension": dim}
            for v in VARIANTS:
                parsed = parse_answer(latest[(dim, item[v])], dim)
                row[v] = {"image": item[v], "answer": latest[(dim, item[v])], "score": parsed.score,
                          "label": parsed.label, "failure": parsed.failure}
            rows.append(row)
        scores += rows
        summaries[dim] = summarize(rows)
    return {
        "format": REPORT_FORMAT,
        "output_dir": str(out),
        "judge": {"model": model, "model_args": public_model_args(args), "id": judge},
        "prompt": "cogip_tasks.prompts.DEFAULT_PROMPTS[dimension]",
        "generation_kwargs": gen_kwargs,
        "parser": PARSER_VERSION,
        "pairs": len(pairs),
        "missing_images": missing,
        "target_dimension": manifest.get("dimension"),
        "dimensions": summaries,
        "scores": scores,
    }


def _variant_stats(rows: list[dict[str, Any]], variant: str) -> dict[str, Any]:
    import numpy as np

    values = [r[variant]["score"] for r in rows if r[variant]["score"] is not None]
    failures: dict[str, int] = {}
    for r in rows:
        if r[variant]["score"] is None:
            code = r[variant]["failure"] or "unparsed"
            failures[code] = failures.get(code, 0) + 1
    return {"n": len(rows), "parsed": len(values), "unparsed": len(rows) - len(values), "failures": failures,
            "mean": float(np.mean(values)) if values else None, "std": float(np.std(values)) if values else None}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-variant means and paired statistics of one dimension's rows (see the module docstring)."""
    import numpy as np

    both = [(r["base"]["score"], r["aligned"]["score"]) for r in rows
            if r["base"]["score"] is not None and r["aligned"]["score"] is not None]
    base = np.array([b for b, _ in both], dtype=float)
    aligned = np.array([a for _, a in both], dtype=float)
    diff = aligned - base
    wins, ties = int((diff > 0).sum()), int((diff == 0).sum())
    statistic, p_value, note = wilcoxon(base, aligned)
    n = len(both)
    return {
        "pairs": len(rows),
        "base": _variant_stats(rows, "base"),
        "aligned": _variant_stats(rows, "aligned"),
        "paired": {
            "n": n,
            "excluded_unparsed": len(rows) - n,
            "mean_base": float(base.mean()) if n else None,
            "mean_aligned": float(aligned.mean()) if n else None,
            "mean_diff": float(diff.mean()) if n else None,
            "median_diff": float(np.median(diff)) if n else None,
            "wins": wins,
            "ties": ties,
            "losses": n - wins - ties,
            "win_rate": (wins + ties / 2) / n if n else None,
            "wilcoxon_statistic": statistic,
            "p_value": p_value,
            "note": note,
        },
    }


def wilcoxon(base, aligned) -> tuple[float | None, float | None, str | None]:
    """Two-sided Wilcoxon signed-rank test of aligned vs base; (statistic, p, reason when it cannot be computed)."""
    import warnings

    import numpy as np
    from scipy import stats

    diff = np.asarray(aligned, dtype=float) - np.asarray(base, dtype=float)
    if len(diff) == 0:
        return None, None, "no pair with both answers parsed"
    if not np.any(diff != 0):
        return None, None, "every paired difference is zero"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample / ties warnings: the p-value is still what scipy defines
        result = stats.wilcoxon(aligned, base, zero_method="wilcox", alternative="two-sided")
    p = float(result.pvalue)
    return float(result.statistic), (p if math.isfinite(p) else None), None


def plot_report(report: dict[str, Any], path: str | Path) -> None:
    """One panel per dimension: each parsed pair as a base -> aligned line, the means as large markers."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cogip_tasks.dimensions import get_dimension

    dims = list(report["dimensions"])
    fig = Figure(figsize=(3.2 * max(1, len(dims)), 3.4))
    FigureCanvasAgg(fig)
    for i, key in enumerate(dims):
        ax = fig.add_subplot(1, len(dims), i + 1)
        dim, summary = get_dimension(key), report["dimensions"][key]
        rows = [r for r in report["scores"] if r["dimension"] == key
                and r["base"]["score"] is not None and r["aligned"]["score"] is not None]
        for r in rows:
            ax.plot([0, 1], [r["base"]["score"], r["aligned"]["score"]], color="0.7", lw=0.8, zorder=1)
        paired = summary["paired"]
        if paired["n"]:
            ax.plot([0, 1], [paired["mean_base"], paired["mean_aligned"]], "o-", color="C3", ms=8, lw=2, zorder=2)
            p = "n/a" if paired["p_value"] is None else f"{paired['p_value']:.3g}"
            ax.set_title(f"{key}\nΔ={paired['mean_diff']:+.3f}  p={p}  win={paired['win_rate']:.0%}", fontsize=9)
        else:
            ax.set_title(f"{key}\nno parsed pairs", fontsize=9)
        ax.set_xticks([0, 1], ["base", "aligned"])
        ax.set_xlim(-0.3, 1.3)
        ax.set_ylim(dim.low, dim.high)
        ax.text(0.5, 0.02, f"pairs {paired['n']}/{summary['pairs']} parsed", transform=ax.transAxes,
                ha="center", fontsize=7, color="0.4")
    fig.tight_layout()
    save_figure(fig, path)
