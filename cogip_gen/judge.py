"""Judging a generation folder: does the aligned encoder's image carry the trait more strongly than the base's?

Every base and aligned image is scored on the chosen dimension(s) by a judge MLLM — any lmms-eval model, named
with ``--model``/``--model_args`` — asked the benchmark's own describe-then-predict prompt (the spec's
``Dimension.prompt``) with the CogIP tasks' generation settings, its answer read by ``cogip_tasks.parse_answer``
with that dimension's labels and range. The benchmark is CogIP-Bench unless the user names another one: a spec
(``--spec``) or a dataset built from one (``--dataset``, whose manifest carries it).

Why the model is driven in-process with lmms-eval ``Instance`` requests rather than by running the CogIP tasks on
the images: the tasks need a human score for every row (they compute agreement metrics), and generated images
have none. The requests here are the ones lmms-eval's evaluator builds — ``(context, generation kwargs,
doc_to_visual, doc_id, task, split)`` for simple wrappers, ``(context, doc_to_messages, ...)`` for chat ones — so
any wrapper works unchanged, and one model load serves every dimension and both variants. The raw answers are
appended to ``judge/answers.jsonl`` chunk by chunk, so an interrupted judge resumes where it stopped, and parsing
happens when the report is built (a parser change needs no new model run).

What is compared. On a scale where higher means more of the trait (aesthetics, funniness, memorability) each
image's score is used as read. Emotional valence is bipolar (-3..3) and a prompt set mixes sad and happy
prompts: a signed aligned - base difference would cancel an encoder that makes every emotion stronger. So
valence is judged *in each prompt's direction* (``prompts.valence_direction``): +valence for a prompt aiming at a
positive feeling, -valence for a negative one, |valence| (intensity) where no direction is known. The direction
is the one stated in the prompts file (rule ``explicit``), else the keyword rule's (``keywords``), else
``either`` (``fallback``); the report gives each prompt's direction and rule.

The unit of independence is the prompt: the seeds of one prompt share its content. Per dimension
(``summarize``), each prompt's image pairs whose two answers both parsed are averaged first (base, aligned and
their difference); the paired statistics are over prompts — mean and median difference aligned - base, wins /
ties / losses, the win rate ``(wins + ties / 2) / prompts`` and the two-sided Wilcoxon signed-rank p-value (scipy;
zero differences dropped, the ``wilcox`` convention). ``per_image_pairs`` gives the same counts over the single
(prompt, seed) pairs, without a p-value (they are not independent). Unparsed answers are *excluded*, not imputed:
imputing the range midpoint (as the benchmark's ``srcc`` does) would invent differences. They are counted per
variant and by failure code, and the excluded pairs are reported, so a judge that fails more often on one variant
is visible.

Every answer records the SHA-256 of the image it judged: an answer is reused only for those exact bytes, so
regenerated images are judged again. ``answers.jsonl`` lines that are torn (a crash mid-write, also inside a
multi-byte character) or not answer records are skipped with a warning; a torn last line is cut off before the
next answers are appended.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

from cogip_tasks.dimensions import BUILTIN_SPEC
from cogip_tasks.errors import CogIPError
from cogip_tasks.files import UserFileError, read_user_bytes
from cogip_tasks.identity import PLACEMENT_KEYS, identity_hash, without_placement
from cogip_tasks.images import ImageError, decode_image
from cogip_tasks.spec import BenchmarkSpec, Dimension

from .files import save_figure, write_json
from .generate import MANIFEST, VARIANTS, ManifestError, item_key, proven, read_manifest
from .harness import ModelArgsError, load_lmms_model, parse_model_args, public_model_args
from .prompts import valence_direction

JUDGE_DIR = "judge"
ANSWERS = "answers.jsonl"
REPORT = "report.json"
PLOT = "report.png"
REPORT_FORMAT = "cogip-gen-judge-2"
_TASK = "cogip_gen_judge"
_SPLIT = "images"
_ANSWER_FIELDS = ("judge", "run", "dimension", "variant", "key", "image", "sha256", "answer")
HIGHER = "higher"  # the direction of a one-sided scale: more of the trait is better


class JudgeError(CogIPError, ValueError):
    """A folder or option the judge cannot work with; the message names it."""


def warn(message: str) -> None:
    print(f"cogip-gen: warning: {message}", file=sys.stderr)


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
    """Which judge gave an answer, for people: the model and its published args (not placement, never secrets)."""
    args = {k: v for k, v in public_model_args(model_args).items() if k not in PLACEMENT_KEYS}
    return model + ":" + ",".join(f"{k}={v}" for k, v in sorted(args.items()))


def answer_identity(
    model: str, model_args: dict[str, Any], gen_kwargs: dict[str, Any], dimension: str | Dimension
) -> str:
    """The run identity (:mod:`cogip_tasks.identity`) of the judge's answers on one dimension: the model, every
    model argument but placement (``max_pixels`` included), the generation settings and the prompt (a key names
    a CogIP-Bench dimension). A recorded answer is reused only under the same identity (and the same image
    bytes)."""
    from cogip_tasks.dimensions import get_dimension

    args = without_placement(model_args)  # max_pixels, min_pixels, attn_implementation are part of it
    prompt = get_dimension(dimension).prompt
    return identity_hash({"model": model, "model_args": args, "generation_kwargs": gen_kwargs, "prompt": prompt})


def dimension_of(benchmark: BenchmarkSpec, name: str) -> Dimension:
    """``name``'s dimension in ``benchmark`` (ValueError naming the benchmark's dimensions); CogIP-Bench's by
    ``get_dimension``, as before other benchmarks could be judged."""
    from cogip_tasks.dimensions import get_dimension

    return get_dimension(name) if benchmark is BUILTIN_SPEC else benchmark.dimension(name)


def resolve_dimensions(
    requested: list[str] | None, manifest: dict[str, Any], benchmark: BenchmarkSpec = BUILTIN_SPEC
) -> list[str]:
    """The keys of the ``benchmark``'s dimensions to judge: ``requested`` (any spelling, or ``all``), else the
    generation's target dimension."""
    keys = ", ".join(benchmark.keys)
    if not requested:
        if not manifest.get("dimension"):
            raise JudgeError(f"which dimension(s) to judge? the manifest names none: pass --dimensions ({keys} or all)")
        found = benchmark.find(str(manifest["dimension"]))
        if found is None:
            raise JudgeError(
                f"the generation's target dimension {manifest['dimension']!r} is not a dimension of "
                f"{benchmark.title} ({keys}): pass --dimensions"
            )
        return [found.key]
    if any(r.lower() == "all" for r in requested):
        return list(benchmark.keys)
    try:
        return list(dict.fromkeys(dimension_of(benchmark, r).key for r in requested))
    except ValueError as err:
        raise JudgeError(f"--dimensions: {err}") from None


def judge_benchmark(dataset: str | None = None, spec: str | Path | None = None) -> BenchmarkSpec:
    """The benchmark whose dimensions the judge scores: a spec file's, the one a dataset was built for (its
    manifest's spec, read from the Hub for a repo id), else CogIP-Bench."""
    from cogip_tasks.dataset import dataset_spec, looks_like_path
    from cogip_tasks.dimensions import register_spec
    from cogip_tasks.spec import load_spec

    if dataset is not None and spec is not None:
        raise JudgeError("--dataset and --spec both name the benchmark to judge on: give one")
    if spec is not None:
        return register_spec(load_spec(spec))  # the built-in benchmark's name is reserved for it
    if dataset is not None:
        if looks_like_path(dataset) and not Path(dataset).expanduser().exists():
            raise JudgeError(f"--dataset {dataset}: no such dataset folder")
        return dataset_spec(dataset, hub=True)
    return BUILTIN_SPEC


def is_bipolar(dimension: str | Dimension) -> bool:
    """A scale with both signs (valence, -3..3): which way is "more" depends on the prompt."""
    from cogip_tasks.dimensions import get_dimension

    dim = get_dimension(dimension)
    return dim.low < 0 < dim.high


def target(dimension: str | Dimension, record: dict[str, Any]) -> dict[str, str]:
    """The direction a prompt's images are scored in on ``dimension`` and the rule that chose it."""
    if not is_bipolar(dimension):
        return {"direction": HIGHER, "rule": "scale"}
    direction, rule = valence_direction(record["prompt"], record.get("direction"))
    return {"direction": direction, "rule": rule}


def directed(score: float | None, direction: str) -> float | None:
    """A score as "more of the intended trait": -valence for a negative prompt, |valence| for either."""
    if score is None:
        return None
    if direction == "negative":
        return -score
    if direction == "either":
        return abs(score)
    return score


def _is_answer(row: object) -> bool:
    return isinstance(row, dict) and all(isinstance(row.get(k), str) for k in _ANSWER_FIELDS)


def _split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines and the unterminated tail (b"" when the file ends with a newline)."""
    *lines, tail = data.split(b"\n")
    return lines, tail


def _decode(line: bytes) -> object:
    try:
        return json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None


def read_answers(path: Path) -> list[dict[str, Any]]:
    """Answers recorded so far. A line that is not a whole answer record (torn by a crash — also inside a
    multi-byte character —, or edited) is skipped with a warning naming the file and line: its image is judged
    again. Records of an older cogip-gen (no image hash) are not reused either."""
    try:
        data = read_user_bytes(path, what="recorded answers") if path.exists() or path.is_symlink() else b""
    except UserFileError as err:
        raise JudgeError(str(err)) from None
    lines, tail = _split_lines(data)
    rows, bad, legacy = [], [], 0
    for number, line in enumerate([*lines, tail] if tail else lines, start=1):
        if not line.strip():
            continue
        row = _decode(line)
        if _is_answer(row):
            rows.append(row)
        elif isinstance(row, dict) and ("sha256" not in row or "run" not in row) and "answer" in row:
            legacy += 1
        else:
            bad.append(number)
    if bad:
        warn(
            f"{path}: skipped {len(bad)} unreadable line(s) (line {', '.join(map(str, bad[:5]))}"
            f"{', ...' if len(bad) > 5 else ''}: torn by an interrupted run?); those images are judged again"
        )
    if legacy:
        warn(
            f"{path}: {legacy} answer(s) of an older cogip-gen record no image hash or run identity; those images "
            "are judged again"
        )
    return rows


def _repair_tail(path: Path) -> None:
    """Before appending: end the file with a newline, so no record is glued onto a torn last line. A tail that is
    a whole record only lacks its newline; anything else is a fragment and is cut off (its image is re-asked)."""
    import os

    if not path.exists():
        return
    data = read_user_bytes(path, what="recorded answers")
    _, tail = _split_lines(data)
    if not tail:
        return
    if _is_answer(_decode(tail)):
        with path.open("ab") as handle:
            handle.write(b"\n")
        return
    with path.open("r+b") as handle:
        handle.truncate(len(data) - len(tail))
        handle.flush()
        os.fsync(handle.fileno())
    warn(f"{path}: cut off a torn last line ({len(tail)} bytes) before appending")


def append_answers(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append answer records, one JSON line each: a crash tears one line at most (repaired before the next
    append), and a failed write (a full disk) is one error naming the file; the answers before it are kept."""
    try:
        with path.open("a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as err:
        raise JudgeError(
            f"{path}: cannot write the answers ({err.strerror or type(err).__name__}); those recorded before are kept"
        ) from None


def _image_bytes(path: Path) -> bytes:
    try:
        return read_user_bytes(path, what="image")
    except UserFileError as err:
        raise JudgeError(str(err)) from None


def image_digest(path: Path) -> str:
    return hashlib.sha256(_image_bytes(path)).hexdigest()


def check_image(path: Path) -> None:
    """Decode the image before any model loads (the one image rule): a damaged file is one line naming it."""
    try:
        decode_image(_image_bytes(path), f"{path}: image")
    except ImageError as err:
        raise JudgeError(f"{err}; delete it and rerun `cogip-gen generate` to regenerate it") from None


def _requests(lm, prompts: list[str], images: list[Path], gen_kwargs: dict[str, Any]) -> list:
    """lmms-eval ``Instance``s for (image, prompt) pairs, in the layout the model's kind (simple/chat) expects."""
    import copy

    from lmms_eval.api.instance import Instance

    def doc_to_visual(doc):
        return [decode_image(_image_bytes(doc["image"]), f"{doc['image']}: image")]

    def doc_to_messages(doc):
        return [
            {
                "role": "user",
                "content": [{"type": "image", "url": doc_to_visual(doc)[0]}, {"type": "text", "text": doc["prompt"]}],
            }
        ]

    lm.task_dict[_TASK] = {_SPLIT: [{"image": Path(p), "prompt": t} for p, t in zip(images, prompts)]}
    simple = getattr(lm, "is_simple", True)
    out = []
    for doc_id, prompt in enumerate(prompts):
        kwargs = copy.deepcopy(gen_kwargs)
        args = (
            (prompt, kwargs, doc_to_visual, doc_id, _TASK, _SPLIT)
            if simple
            else (prompt, doc_to_messages, kwargs, doc_id, _TASK, _SPLIT)
        )
        out.append(
            Instance(
                request_type="generate_until",
                arguments=args,
                idx=0,
                metadata={"task": _TASK, "doc_id": doc_id, "repeats": 1},
            )
        )
    return out


def ask(lm, prompts: list[str], images: list[Path], gen_kwargs: dict[str, Any]) -> list[str]:
    """The model's answers, in order; ``GenerationResult`` objects of chat wrappers are unwrapped to text."""
    answers = lm.generate_until(_requests(lm, prompts, images, gen_kwargs))
    if len(answers) != len(prompts):
        raise JudgeError(f"the judge model returned {len(answers)} answer(s) for {len(prompts)} request(s)")
    return [str(getattr(a, "text", a)) for a in answers]


def _load_judge(model: str, args: dict[str, Any], batch_size: int, force_simple: bool):
    """The judge through lmms-eval; whatever a wrapper raises while loading becomes one line naming the model."""
    try:
        return load_lmms_model(model, args, batch_size=batch_size, force_simple=force_simple)
    except ModelArgsError:
        raise
    except Exception as err:  # any wrapper, any loader: missing weights, bad args, out of memory ...
        raise JudgeError(
            f"--model {model} --model_args {public_model_args(args)}: cannot load the judge "
            f"({type(err).__name__}: {err})"
        ) from err


def run_judge(
    output_dir: str | Path,
    model: str,
    model_args: str | dict[str, Any],
    *,
    dimensions: list[str] | None = None,
    batch_size: int = 1,
    gen_kwargs: str | dict | None = None,
    report_dir: str | Path | None = None,
    chunk_size: int | None = None,
    force_simple: bool = False,
    progress: bool = True,
    benchmark: BenchmarkSpec = BUILTIN_SPEC,
) -> dict[str, Any]:
    """Score every image of a generation folder on ``benchmark``'s dimensions (CogIP-Bench unless given), then
    write ``report.json`` and ``report.png``; returns the report."""
    from tqdm.auto import tqdm

    out = Path(output_dir)
    try:
        manifest = read_manifest(out)
    except ManifestError as err:
        raise JudgeError(str(err)) from None
    if manifest is None:
        raise JudgeError(f"{out}: no {MANIFEST} — not a cogip-gen output folder (run `cogip-gen generate` first)")
    dims = resolve_dimensions(dimensions, manifest, benchmark)
    spec_dims = benchmark.by_key
    args = parse_model_args(model_args)
    judge = judge_id(model, args)
    try:
        settings = {**task_generation_kwargs(), **parse_model_args(gen_kwargs)}
    except ModelArgsError as err:
        raise JudgeError(str(err).replace("--model_args", "--gen_kwargs", 1)) from None
    report_dir = Path(report_dir) if report_dir else out / JUDGE_DIR
    answers_file = report_dir / ANSWERS

    pairs, missing = [], []
    for item in sorted(manifest["items"], key=lambda i: (i["name"], i["seed"])):
        absent = [item[v] for v in VARIANTS if not proven(out, item, v)]
        if absent:
            missing += absent  # a pair is judged only whole: an unpaired image says nothing about the encoder
        else:
            pairs.append(item)
    digests = {item[v]: image_digest(out / item[v]) for item in pairs for v in VARIANTS}
    runs = {d: answer_identity(model, args, settings, spec_dims[d]) for d in dims}
    recorded = [r for r in read_answers(answers_file) if runs.get(r["dimension"]) == r["run"]]
    done = {(r["dimension"], r["image"], r["sha256"]) for r in recorded}
    todo = [
        (d, item, v) for d in dims for item in pairs for v in VARIANTS if (d, item[v], digests[item[v]]) not in done
    ]
    if todo:
        for image in dict.fromkeys(item[v] for _, item, v in todo):
            check_image(out / image)
        made = [p for p in [report_dir, *report_dir.parents] if not p.exists()]
        report_dir.mkdir(parents=True, exist_ok=True)  # an unusable --output-dir fails before the model loads
        _repair_tail(answers_file)
        try:
            lm = _load_judge(model, args, batch_size, force_simple)
        except BaseException:
            for folder in made:  # a judge that never loaded leaves no empty folder behind
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise
        chunk_size = chunk_size or max(16, 4 * batch_size)
        with tqdm(total=len(todo), desc="judging images", disable=not progress) as bar:
            for start in range(0, len(todo), chunk_size):
                chunk = todo[start : start + chunk_size]
                answers = ask(
                    lm, [spec_dims[d].prompt for d, _, _ in chunk], [out / it[v] for _, it, v in chunk], settings
                )
                rows = [
                    {
                        "judge": judge,
                        "run": runs[d],
                        "dimension": d,
                        "variant": v,
                        "key": item_key(item),
                        "image": item[v],
                        "sha256": digests[item[v]],
                        "answer": answer,
                    }
                    for (d, item, v), answer in zip(chunk, answers)
                ]
                append_answers(answers_file, rows)
                recorded += rows
                bar.update(len(chunk))

    report = build_report(
        out, manifest, pairs, missing, dims, recorded, judge, model, args, settings, digests, runs, benchmark
    )
    write_json(report_dir / REPORT, report)
    plot_report(report, report_dir / PLOT, benchmark)
    return report


def build_report(
    out: Path,
    manifest: dict[str, Any],
    pairs: list[dict],
    missing: list[str],
    dims: list[str],
    answers: list[dict[str, Any]],
    judge: str,
    model: str,
    args: dict[str, Any],
    gen_kwargs: dict[str, Any],
    digests: dict[str, str],
    runs: dict[str, str],
    benchmark: BenchmarkSpec = BUILTIN_SPEC,
) -> dict[str, Any]:
    from cogip_tasks.scoring import PARSER_VERSION, parse_answer

    # the last answer recorded for exactly these image bytes under this run identity
    latest = {
        (r["dimension"], r["image"], r["sha256"]): r["answer"] for r in answers if runs.get(r["dimension"]) == r["run"]
    }
    scores, summaries = [], {}
    for dim in dims:
        spec_dim = benchmark.by_key[dim]
        rows = []
        for item in pairs:
            aim = target(spec_dim, item)
            row = {"key": item_key(item), "name": item["name"], "seed": item["seed"], "dimension": dim, "target": aim}
            for v in VARIANTS:
                answer = latest[(dim, item[v], digests[item[v]])]
                parsed = parse_answer(answer, spec_dim)
                row[v] = {
                    "image": item[v],
                    "sha256": digests[item[v]],
                    "answer": answer,
                    "score": parsed.score,
                    "directed": directed(parsed.score, aim["direction"]),
                    "label": parsed.label,
                    "failure": parsed.failure,
                }
            rows.append(row)
        scores += rows
        summaries[dim] = summarize(rows)
    return {
        "format": REPORT_FORMAT,
        "output_dir": str(out),
        "judge": {"model": model, "model_args": public_model_args(args), "id": judge, "runs": runs},
        "benchmark": {"name": benchmark.name, "title": benchmark.title, "spec_sha256": benchmark.fingerprint},
        "prompt": "the benchmark spec's prompt of each dimension (Dimension.prompt)",
        "generation_kwargs": gen_kwargs,
        "parser": PARSER_VERSION,
        "pairs": len(pairs),
        "prompts": len({item["name"] for item in pairs}),
        "missing_images": missing,
        "target_dimension": manifest.get("dimension"),
        "dimensions": summaries,
        "scores": scores,
    }


def _variant_stats(rows: list[dict[str, Any]], variant: str) -> dict[str, Any]:
    """Raw scores of one variant over its images (signed valence: see ``paired`` for the directed comparison)."""
    import numpy as np

    values = [r[variant]["score"] for r in rows if r[variant]["score"] is not None]
    failures: dict[str, int] = {}
    for r in rows:
        if r[variant]["score"] is None:
            code = r[variant]["failure"] or "unparsed"
            failures[code] = failures.get(code, 0) + 1
    return {
        "n": len(rows),
        "parsed": len(values),
        "unparsed": len(rows) - len(values),
        "failures": dict(sorted(failures.items())),
        "mean": float(np.mean(values)) if values else None,
        "std": float(np.std(values)) if values else None,
    }


def _directed(row: dict[str, Any], variant: str) -> float | None:
    direction = row.get("target", {}).get("direction", HIGHER)
    return directed(row[variant]["score"], direction)


def _counts(diff) -> dict[str, Any]:
    """Wins / ties / losses of aligned over base and the win rate ``(wins + ties / 2) / n``."""
    import numpy as np

    diff = np.asarray(diff, dtype=float)
    n, wins, ties = len(diff), int((diff > 0).sum()), int((diff == 0).sum())
    return {
        "n": n,
        "wins": wins,
        "ties": ties,
        "losses": n - wins - ties,
        "win_rate": (wins + ties / 2) / n if n else None,
    }


def per_prompt(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each prompt's parsed pairs averaged (directed scores): the independent units of the paired statistics."""
    import numpy as np

    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: (r["name"], r["seed"])):  # sorted: the means never depend on input order
        by_name.setdefault(row["name"], []).append(row)
    out = []
    for name, group in by_name.items():
        both = [(_directed(r, "base"), _directed(r, "aligned")) for r in group]
        both = [(b, a) for b, a in both if b is not None and a is not None]
        base = float(np.mean([b for b, _ in both])) if both else None
        aligned = float(np.mean([a for _, a in both])) if both else None
        # rounded: a prompt whose seeds cancel exactly is a tie, not a float-rounding win or loss
        diff = round(float(np.mean([a - b for b, a in both])), 9) if both else None
        aim = group[0].get("target", {"direction": HIGHER, "rule": "scale"})
        out.append(
            {
                "name": name,
                "direction": aim["direction"],
                "rule": aim["rule"],
                "pairs": len(group),
                "parsed_pairs": len(both),
                "base": base,
                "aligned": aligned,
                "diff": diff,
            }
        )
    return out


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-variant means, per-prompt averages and the paired statistics over prompts (see the module docstring)."""
    import numpy as np

    rows = sorted(rows, key=lambda r: (r["name"], r["seed"]))  # every number a function of the set of rows
    prompts = per_prompt(rows)
    used = [p for p in prompts if p["parsed_pairs"]]
    base = np.array([p["base"] for p in used], dtype=float)
    aligned = np.array([p["aligned"] for p in used], dtype=float)
    diff = np.array([p["diff"] for p in used], dtype=float)
    statistic, p_value, note = wilcoxon_diffs(diff)
    pair_diffs = [
        a - b
        for r in rows
        for b, a in [(_directed(r, "base"), _directed(r, "aligned"))]
        if b is not None and a is not None
    ]
    n = len(used)
    directions = {p["direction"] for p in prompts}
    summary = {
        "pairs": len(rows),
        "prompts": len(prompts),
        "measure": "score" if directions <= {HIGHER} else "valence in each prompt's direction",
        "base": _variant_stats(rows, "base"),
        "aligned": _variant_stats(rows, "aligned"),
        "paired": {
            "unit": "prompt",
            **_counts(diff),
            "pairs_used": len(pair_diffs),
            "excluded_unparsed": len(rows) - len(pair_diffs),
            "mean_base": float(base.mean()) if n else None,
            "mean_aligned": float(aligned.mean()) if n else None,
            "mean_diff": float(diff.mean()) if n else None,
            "median_diff": float(np.median(diff)) if n else None,
            "wilcoxon_statistic": statistic,
            "p_value": p_value,
            "note": note,
        },
        "per_image_pairs": {
            **_counts(pair_diffs),
            "mean_diff": float(np.mean(pair_diffs)) if pair_diffs else None,
            "note": "(prompt, seed) pairs; not independent across seeds, so no p-value",
        },
        "per_prompt": prompts,
    }
    if not directions <= {HIGHER}:
        summary["directions"] = {
            d: sum(p["direction"] == d for p in prompts) for d in ("positive", "negative", "either")
        }
        summary["direction_rules"] = {
            r: sum(p["rule"] == r for p in prompts) for r in ("explicit", "keywords", "fallback")
        }
    return summary


def wilcoxon_diffs(diff) -> tuple[float | None, float | None, str | None]:
    """Two-sided Wilcoxon signed-rank test of paired differences; (statistic, p, reason when it cannot be computed)."""
    import warnings

    import numpy as np
    from scipy import stats

    diff = np.asarray(diff, dtype=float)
    if len(diff) == 0:
        return None, None, "no pair with both answers parsed"
    if not np.any(diff != 0):
        return None, None, "every paired difference is zero"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample / ties warnings: the p-value is still what scipy defines
        result = stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
    p = float(result.pvalue)
    return float(result.statistic), (p if math.isfinite(p) else None), None


def wilcoxon(base, aligned) -> tuple[float | None, float | None, str | None]:
    """:func:`wilcoxon_diffs` of aligned - base."""
    import numpy as np

    return wilcoxon_diffs(np.asarray(aligned, dtype=float) - np.asarray(base, dtype=float))


def plot_report(report: dict[str, Any], path: str | Path, benchmark: BenchmarkSpec = BUILTIN_SPEC) -> None:
    """One panel per dimension: each prompt's mean as a base -> aligned line, the means over prompts as large
    markers."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dims = list(report["dimensions"])
    fig = Figure(figsize=(3.2 * max(1, len(dims)), 3.4))
    FigureCanvasAgg(fig)
    for i, key in enumerate(dims):
        ax = fig.add_subplot(1, len(dims), i + 1)
        dim, summary = benchmark.dimension(key), report["dimensions"][key]
        for p in summary["per_prompt"]:
            if p["parsed_pairs"]:
                ax.plot([0, 1], [p["base"], p["aligned"]], color="0.7", lw=0.8, zorder=1)
        paired = summary["paired"]
        if paired["n"]:
            ax.plot([0, 1], [paired["mean_base"], paired["mean_aligned"]], "o-", color="C3", ms=8, lw=2, zorder=2)
            p = "n/a" if paired["p_value"] is None else f"{paired['p_value']:.3g}"
            ax.set_title(f"{key}\nΔ={paired['mean_diff']:+.3f}  p={p}  win={paired['win_rate']:.0%}", fontsize=9)
        else:
            ax.set_title(f"{key}\nno parsed pairs", fontsize=9)
        if summary["measure"] != "score":
            ax.set_ylabel("valence in the prompt's direction", fontsize=8)
        ax.set_xticks([0, 1], ["base", "aligned"])
        ax.set_xlim(-0.3, 1.3)
        ax.set_ylim(dim.low, dim.high)
        ax.text(
            0.5,
            0.02,
            f"prompts {paired['n']}/{summary['prompts']}, pairs {paired['pairs_used']}/{summary['pairs']} parsed",
            transform=ax.transAxes,
            ha="center",
            fontsize=7,
            color="0.4",
        )
    fig.tight_layout()
    save_figure(fig, path)
