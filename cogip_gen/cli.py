"""``cogip-gen`` / ``python -m cogip_gen``: generate base vs aligned images with Qwen-Image, then judge them.

    cogip-gen generate --pipeline Qwen/Qwen-Image \\
        --model qwen2_5_vl --model-args pretrained=out/merged \\
        --prompts ../shared/cogip_release/generation_prompts/aesthetics.json --seeds 0 1 2 --output-dir gen/aesthetics
    cogip-gen judge gen/aesthetics --model qwen2_5_vl --model-args pretrained=Qwen/Qwen2.5-VL-7B-Instruct

The aligned encoder and the judge are named as in lmms-eval (``--model``, ``--model-args``; lmms-eval's spelling
``--model_args`` works too, as does every option's underscore spelling); the encoder also
takes ``adapter=<peft adapter dir>`` in its model_args. Both commands resume: rerun them after an interruption.

Exit status: 0 done; 1 bad input or a failed run (one line on stderr naming the file, option or value);
2 a command-line usage error (argparse's own); 130 interrupted (rerun to resume). CPU threads: 1 per process
unless OMP_NUM_THREADS is set.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from cogip_tasks.cli_style import CogIPArgumentParser, add_verbosity, apply_verbosity, example
from cogip_tasks.entry import entry_point
from cogip_tasks.errors import EXIT_OK, CogIPError
from cogip_tasks.files import check_outputs_apart, output_lock
from cogip_tasks.threads import apply_cpu_threads

from .generate import MAX_SEED
from .pipeline import OFFLOAD_CHOICES, GenSettings
from .prompts import PromptFileError

# Exit status as every CogIP CLI (cogip_tasks/entry.py): 1 for a CogIPError or an OSError (an output folder
# that cannot be written is the user's to fix, named by the error's own path), 2 for usage errors.
PROMPTS = "../shared/cogip_release/generation_prompts/aesthetics.json"
GENERATE_EXAMPLE = (
    "cogip-gen generate --model qwen2_5_vl --model-args pretrained=runs/qwen7b/merged "
    f"--prompts {PROMPTS} --seeds 0 1 2 -o gen/aesthetics"
)
JUDGE_EXAMPLE = "cogip-gen judge gen/aesthetics --model qwen2_5_vl --model-args pretrained=Qwen/Qwen2.5-VL-7B-Instruct"
_DEFAULTS = GenSettings()


def _bounded_int(low: int, high: int | None = None):
    """argparse type: a whole number in [low, high]; anything else is a usage error naming the value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f">= {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"{value} is out of range (must be {bound})")
        return value

    return parse


def _finite_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


_POSITIVE = _bounded_int(1)
# Far above any real run, far below what would run for days or allocate terabytes once the model has loaded.
MAX_STEPS, MAX_SIDE = 1000, 4096


def _judge_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    dest = prefix.replace("-", "_")
    parser.add_argument(
        f"--{prefix}dimensions",
        dest=f"{dest}dimensions",
        nargs="+",
        metavar="DIM",
        help="dimension(s) to judge (aesthetics, funniness, emotional_valence/emotion, memorability, "
        "or all; another benchmark's with --dataset/--spec) (default: the manifest's target dimension)",
    )
    parser.add_argument(
        f"--{prefix}dataset",
        dest=f"{dest}dataset",
        metavar="DATASET",
        help="judge on the dimensions of the benchmark this dataset was built for (a cogip-upload build --spec "
        "folder or its Hub copy, owner/name[@revision]: its manifest's spec) (default: CogIP-Bench)",
    )
    parser.add_argument(
        f"--{prefix}spec",
        dest=f"{dest}spec",
        type=Path,
        metavar="SPEC",
        help="judge on the dimensions of this benchmark spec, with its prompts, labels and ranges "
        "(docs/custom-benchmarks.md) (default: CogIP-Bench)",
    )
    parser.add_argument(
        f"--{prefix}batch-size", dest=f"{dest}batch_size", type=_POSITIVE, default=1, help="judge batch size"
    )
    parser.add_argument(
        f"--{prefix}gen-kwargs",
        dest=f"{dest}gen_kwargs",
        default=None,
        help="override the CogIP tasks' generation settings, e.g. max_new_tokens=128",
    )
    parser.add_argument(
        f"--{prefix}force-simple",
        dest=f"{dest}force_simple",
        action="store_true",
        help="use the model's simple lmms-eval wrapper even if it has a chat one",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = CogIPArgumentParser(prog="cogip-gen", description=__doc__, epilog=example(GENERATE_EXAMPLE, JUDGE_EXAMPLE))
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser(
        "generate",
        help="base vs aligned images for every prompt x seed (resumable)",
        epilog=example(GENERATE_EXAMPLE),
    )
    gen.add_argument("--pipeline", default="Qwen/Qwen-Image", help="QwenImagePipeline Hub id or local folder")
    gen.add_argument("--model", default="qwen2_5_vl", help="lmms-eval model wrapper of the aligned encoder")
    gen.add_argument(
        "--model-args",
        required=True,
        help="pretrained=<merged dir or id>[,adapter=<peft adapter dir>][,other wrapper args]",
    )
    gen.add_argument(
        "--prompts",
        nargs="+",
        default=[],
        metavar="FILE",
        help="JSON prompt file(s): a list of strings or an object name -> prompt",
    )
    gen.add_argument("--prompt", action="append", default=[], metavar="TEXT", help="an inline prompt (repeatable)")
    gen.add_argument("--limit", type=_POSITIVE, default=None, help="use only the first N (>= 1) prompts of each file")
    gen.add_argument(
        "--seeds",
        nargs="+",
        type=_bounded_int(0, MAX_SEED),
        default=[0],
        help="seeds; each prompt is generated per seed (repeats are dropped)",
    )
    gen.add_argument("-o", "--output-dir", required=True, help="folder for base/, aligned/, grids/, manifest")
    gen.add_argument(
        "--overwrite",
        action="store_true",
        help="the folder holds images but no valid manifest.json proves their settings: regenerate them "
        "(a corrupt manifest is kept as manifest.json.corrupt-<time>) instead of refusing",
    )
    gen.add_argument(
        "--dimension",
        default=None,
        help="the trait the prompts target (default: from the prompt file name, emotion.json -> emotional_valence)",
    )
    gen.add_argument("--steps", type=_bounded_int(1, MAX_STEPS), default=_DEFAULTS.steps, help="denoising steps")
    gen.add_argument(
        "--true-cfg-scale",
        type=_finite_float,
        default=_DEFAULTS.true_cfg_scale,
        help="true classifier-free guidance scale (<= 1 turns CFG off)",
    )
    gen.add_argument("--width", type=_bounded_int(1, MAX_SIDE), default=_DEFAULTS.width, help="image width in pixels")
    gen.add_argument(
        "--height", type=_bounded_int(1, MAX_SIDE), default=_DEFAULTS.height, help="image height in pixels"
    )
    gen.add_argument("--negative-prompt", default=_DEFAULTS.negative_prompt, help="negative prompt of true CFG")
    gen.add_argument(
        "--max-sequence-length",
        type=_bounded_int(1, 1024),
        default=_DEFAULTS.max_sequence_length,
        help="prompt tokens kept (Qwen-Image takes at most 1024)",
    )
    gen.add_argument("--dtype", default=_DEFAULTS.dtype, help="pipeline and encoder dtype")
    gen.add_argument("--device", default=None, help="execution device (default: cuda if available, else cpu)")
    gen.add_argument(
        "--offload",
        choices=OFFLOAD_CHOICES,
        default="none",
        help="CPU offload of diffusers: model (each model on the GPU only while it runs) or sequential "
        "(layer by layer: fits small GPUs, much slower); none keeps the transformer and VAE there",
    )
    gen.add_argument("--judge-model", default=None, help="also judge the images with this lmms-eval model")
    gen.add_argument("--judge-model-args", default="", help="model_args of --judge-model")
    _judge_options(gen, "judge-")
    add_verbosity(gen)

    judge = sub.add_parser(
        "judge",
        help="score a generation folder's images with an lmms-eval judge model",
        epilog=example(JUDGE_EXAMPLE),
    )
    judge.add_argument("output_dir", metavar="GEN_DIR", help="a cogip-gen generate output folder")
    judge.add_argument("--model", required=True, help="lmms-eval model name of the judge, e.g. qwen2_5_vl")
    judge.add_argument("--model-args", default="", help="its model_args, e.g. pretrained=Qwen/Qwen2.5-VL-7B-Instruct")
    _judge_options(judge)
    judge.add_argument(
        "-o",
        "--output-dir",
        dest="report_dir",
        metavar="DIR",
        default=None,
        aliases=["--report-dir"],
        help="where answers.jsonl, report.json and report.png go (default: GEN_DIR/judge)",
    )
    add_verbosity(judge)
    return parser


def _settings(args: argparse.Namespace) -> GenSettings:
    return GenSettings(
        steps=args.steps,
        true_cfg_scale=args.true_cfg_scale,
        width=args.width,
        height=args.height,
        negative_prompt=args.negative_prompt,
        max_sequence_length=args.max_sequence_length,
        dtype=args.dtype,
    )


def _target_dimension(args: argparse.Namespace) -> str | None:
    from .judge import dimension_of, judge_benchmark
    from .prompts import dimension_from_path

    if args.dimension:
        benchmark = judge_benchmark(args.judge_dataset, args.judge_spec)  # CogIP-Bench unless the judge's is named
        try:
            return dimension_of(benchmark, args.dimension).key
        except ValueError as err:
            raise PromptFileError(f"--dimension: {err}") from None
    found = {dimension_from_path(p) for p in args.prompts}
    return found.pop() if len(found) == 1 else None


def _num(x: float | None, fmt: str = "{:.3f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def format_report(report: dict) -> str:
    """The paired statistics per dimension (over prompts), then how valence prompts were given a direction."""
    header = (
        f"{'dimension':<18} {'prompts':>7} {'pairs':>11} {'base':>7} {'aligned':>7} {'diff':>7} {'p':>8} {'win':>5}"
    )
    lines = [header]
    notes = []
    for key, s in report["dimensions"].items():
        p = s["paired"]
        pairs = f"{p['pairs_used']}/{s['pairs']}"
        lines.append(
            f"{key:<18} {p['n']:>3}/{s['prompts']:<3} {pairs:>11} {_num(p['mean_base']):>7} "
            f"{_num(p['mean_aligned']):>7} {_num(p['mean_diff'], '{:+.3f}'):>7} "
            f"{_num(p['p_value'], '{:.3g}'):>8} {_num(p['win_rate'], '{:.0%}'):>5}"
        )
        if "direction_rules" in s:
            d, r = s["directions"], s["direction_rules"]
            notes.append(
                f"{key}: scored in each prompt's direction — {d['positive']} positive, {d['negative']} "
                f"negative, {d['either']} either (|valence|); chosen by: {r['explicit']} explicit, "
                f"{r['keywords']} keywords, {r['fallback']} fallback"
            )
    lines.append("prompts: with a parsed pair / all (the unit of the statistics); pairs: parsed image pairs / all")
    return "\n".join(lines + notes)


def _judge(
    output_dir: str,
    model: str,
    model_args: str,
    dimensions,
    batch_size: int,
    gen_kwargs,
    report_dir,
    force_simple: bool,
    quiet: bool,
    dataset: str | None = None,
    spec: Path | None = None,
) -> None:
    from .judge import JUDGE_DIR, PLOT, REPORT, judge_benchmark, run_judge

    benchmark = judge_benchmark(dataset, spec)
    report = run_judge(
        output_dir,
        model,
        model_args,
        dimensions=dimensions,
        batch_size=batch_size,
        gen_kwargs=gen_kwargs,
        report_dir=report_dir,
        force_simple=force_simple,
        progress=not quiet,
        benchmark=benchmark,
    )
    where = report_dir or f"{output_dir}/{JUDGE_DIR}"
    print(format_report(report))
    print(f"report: {where}/{REPORT}  plot: {where}/{PLOT}")


@entry_point(
    "cogip-gen", on_interrupt="every image and answer written so far is kept: rerun the same command to resume"
)
def main(argv: list[str] | None = None) -> int:
    apply_cpu_threads()  # see cogip_tasks/threads.py
    args = build_parser().parse_args(argv)
    apply_verbosity(args)
    stack = contextlib.ExitStack()  # the output folders' locks, held to the end
    try:
        if args.command == "generate":
            from .generate import run_generation
            from .prompts import collect_prompts

            prompts = collect_prompts(args.prompts, args.prompt, args.limit)
            check_outputs_apart(written_paths(args.output_dir), [*args.prompts, *model_paths(args.model_args)])
            stack.enter_context(output_lock(args.output_dir, command="cogip-gen generate"))
            summary = run_generation(
                args.output_dir,
                prompts,
                args.seeds,
                pipeline=args.pipeline,
                encoder_model=args.model,
                encoder_args=args.model_args,
                settings=_settings(args),
                device=args.device,
                offload=args.offload,
                dimension=_target_dimension(args),
                progress=not args.quiet,
                overwrite=args.overwrite,
            )
            print(
                f"generated {summary['generated']} image(s), {summary['skipped']} already there, "
                f"{summary['grids']} new grid(s); manifest: {summary['manifest']}"
            )
            if args.judge_model:
                _judge(
                    args.output_dir,
                    args.judge_model,
                    args.judge_model_args,
                    args.judge_dimensions,
                    args.judge_batch_size,
                    args.judge_gen_kwargs,
                    None,
                    args.judge_force_simple,
                    args.quiet,
                    args.judge_dataset,
                    args.judge_spec,
                )
        else:
            stack.enter_context(output_lock(args.output_dir, command="cogip-gen judge"))
            if args.report_dir:
                check_outputs_apart([args.report_dir], written_paths(args.output_dir, judge=False))
                stack.enter_context(output_lock(args.report_dir, command="cogip-gen judge"))
            _judge(
                args.output_dir,
                args.model,
                args.model_args,
                args.dimensions,
                args.batch_size,
                args.gen_kwargs,
                args.report_dir,
                args.force_simple,
                args.quiet,
                args.dataset,
                args.spec,
            )
    finally:
        stack.close()
    return EXIT_OK


def written_paths(output_dir: str | Path, judge: bool = True) -> list[Path]:
    """What cogip-gen writes in an output folder (the rest of the folder is left alone)."""
    from .generate import IMAGE_FOLDERS, MANIFEST
    from .judge import JUDGE_DIR

    out = Path(output_dir)
    return [out / MANIFEST, *(out / sub for sub in IMAGE_FOLDERS), *([out / JUDGE_DIR] if judge else [])]


def model_paths(model_args: str | None) -> list[str]:
    """The local folders an encoder's ``--model_args`` names (``pretrained=``, ``adapter=``): inputs."""
    from .harness import parse_model_args

    try:
        args = parse_model_args(model_args)
    except CogIPError:
        return []  # reported where the arguments are used
    return [str(v) for k, v in args.items() if k in ("pretrained", "adapter") and Path(str(v)).expanduser().exists()]


if __name__ == "__main__":
    sys.exit(main())
