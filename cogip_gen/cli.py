"""``cogip-gen`` / ``python -m cogip_gen``: generate base vs aligned images with Qwen-Image, then judge them.

    cogip-gen generate --pipeline Qwen/Qwen-Image \\
        --model qwen2_5_vl --model_args pretrained=out/merged \\
        --prompts ../shared/cogip_release/generation_prompts/aesthetics.json --seeds 0 1 2 --output_dir gen/aesthetics
    cogip-gen judge gen/aesthetics --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct

The aligned encoder and the judge are named as in lmms-eval (``--model``, ``--model_args``); the encoder also
takes ``adapter=<peft adapter dir>`` in its model_args. Both commands resume: rerun them after an interruption.
"""

from __future__ import annotations

import argparse
import sys

from .encoders import EncoderError
from .generate import ManifestError
from .harness import ModelArgsError
from .judge import JudgeError
from .pipeline import OFFLOAD_CHOICES, GenSettings, PipelineError
from .prompts import PromptFileError

_USER_ERRORS = (PromptFileError, EncoderError, PipelineError, ManifestError, JudgeError, ModelArgsError)
_DEFAULTS = GenSettings()


def _judge_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    dest = prefix.replace("-", "_")
    parser.add_argument(f"--{prefix}dimensions", dest=f"{dest}dimensions", nargs="+", metavar="DIM",
                        help="dimension(s) to judge (aesthetics, funniness, emotional_valence/emotion, memorability, "
                             "or all); None: the manifest's target dimension")
    parser.add_argument(f"--{prefix}batch_size", dest=f"{dest}batch_size", type=int, default=1,
                        help="judge batch size")
    parser.add_argument(f"--{prefix}gen_kwargs", dest=f"{dest}gen_kwargs", default=None,
                        help="override the CogIP tasks' generation settings, e.g. max_new_tokens=128")
    parser.add_argument(f"--{prefix}force_simple", dest=f"{dest}force_simple", action="store_true",
                        help="use the model's simple lmms-eval wrapper even if it has a chat one")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cogip-gen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="base vs aligned images for every prompt x seed (resumable)",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    gen.add_argument("--pipeline", default="Qwen/Qwen-Image", help="QwenImagePipeline Hub id or local folder")
    gen.add_argument("--model", default="qwen2_5_vl", help="lmms-eval model wrapper of the aligned encoder")
    gen.add_argument("--model_args", required=True,
                     help="pretrained=<merged dir or id>[,adapter=<peft adapter dir>][,other wrapper args]")
    gen.add_argument("--prompts", nargs="+", default=[], metavar="FILE",
                     help="JSON prompt file(s): a list of strings or an object name -> prompt")
    gen.add_argument("--prompt", action="append", default=[], metavar="TEXT", help="an inline prompt (repeatable)")
    gen.add_argument("--limit", type=int, default=None, help="use only the first N prompts of each file")
    gen.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds; each prompt is generated per seed")
    gen.add_argument("--output_dir", "--output-dir", required=True, help="folder for base/, aligned/, grids/, manifest")
    gen.add_argument("--dimension", default=None,
                     help="the trait the prompts target; None: from the prompt file name (emotion.json -> "
                          "emotional_valence)")
    gen.add_argument("--steps", type=int, default=_DEFAULTS.steps, help="denoising steps")
    gen.add_argument("--true_cfg_scale", type=float, default=_DEFAULTS.true_cfg_scale,
                     help="true classifier-free guidance scale (<= 1 turns CFG off)")
    gen.add_argument("--width", type=int, default=_DEFAULTS.width)
    gen.add_argument("--height", type=int, default=_DEFAULTS.height)
    gen.add_argument("--negative_prompt", default=_DEFAULTS.negative_prompt, help="negative prompt of true CFG")
    gen.add_argument("--max_sequence_length", type=int, default=_DEFAULTS.max_sequence_length)
    gen.add_argument("--dtype", default=_DEFAULTS.dtype, help="pipeline and encoder dtype")
    gen.add_argument("--device", default=None, help="execution device; None: cuda if available, else cpu")
    gen.add_argument("--offload", choices=OFFLOAD_CHOICES, default="none",
                     help="CPU offload of diffusers: model (each model on the GPU only while it runs) or sequential "
                          "(layer by layer: fits small GPUs, much slower); none keeps the transformer and VAE there")
    gen.add_argument("--judge_model", default=None, help="also judge the images with this lmms-eval model")
    gen.add_argument("--judge_model_args", default="", help="model_args of --judge_model")
    _judge_options(gen, "judge_")
    gen.add_argument("--quiet", action="store_true", help="no progress bars")

    judge = sub.add_parser("judge", help="score a generation folder's images with an lmms-eval judge model",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    judge.add_argument("output_dir", help="a cogip-gen generate output folder")
    judge.add_argument("--model", required=True, help="lmms-eval model name of the judge, e.g. qwen2_5_vl")
    judge.add_argument("--model_args", default="", help="its model_args, e.g. pretrained=Qwen/Qwen2.5-VL-7B-Instruct")
    _judge_options(judge)
    judge.add_argument("--report_dir", default=None, help="where report.json/.png go; None: <output_dir>/judge")
    judge.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _settings(args: argparse.Namespace) -> GenSettings:
    return GenSettings(steps=args.steps, true_cfg_scale=args.true_cfg_scale, width=args.width, height=args.height,
                       negative_prompt=args.negative_prompt, max_sequence_length=args.max_sequence_length,
                       dtype=args.dtype)


def _target_dimension(args: argparse.Namespace) -> str | None:
    from cogip_tasks.dimensions import get_dimension

    from .prompts import dimension_from_path

    if args.dimension:
        try:
            return get_dimension(args.dimension).key
        except ValueError as err:
            raise PromptFileError(f"--dimension: {err}") from None
    found = {dimension_from_path(p) for p in args.prompts}
    return found.pop() if len(found) == 1 else None


def format_report(report: dict) -> str:
    lines = [f"{'dimension':<18} {'pairs':>5} {'parsed':>6} {'base':>7} {'aligned':>7} {'diff':>7} {'p':>8} {'win':>5}"]
    for key, s in report["dimensions"].items():
        p = s["paired"]

        def num(x, fmt="{:.3f}"):
            return "n/a" if x is None else fmt.format(x)

        lines.append(f"{key:<18} {s['pairs']:>5} {p['n']:>6} {num(p['mean_base']):>7} {num(p['mean_aligned']):>7} "
                     f"{num(p['mean_diff'], '{:+.3f}'):>7} {num(p['p_value'], '{:.3g}'):>8} "
                     f"{num(p['win_rate'], '{:.0%}'):>5}")
    return "\n".join(lines)


def _judge(output_dir: str, model: str, model_args: str, dimensions, batch_size: int, gen_kwargs, report_dir,
           force_simple: bool, quiet: bool) -> None:
    from .judge import JUDGE_DIR, PLOT, REPORT, run_judge

    report = run_judge(output_dir, model, model_args, dimensions=dimensions, batch_size=batch_size,
                       gen_kwargs=gen_kwargs, report_dir=report_dir, force_simple=force_simple, progress=not quiet)
    where = report_dir or f"{output_dir}/{JUDGE_DIR}"
    print(format_report(report))
    print(f"report: {where}/{REPORT}  plot: {where}/{PLOT}  (paired = both answers parsed; see the report)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate":
            from .generate import run_generation
            from .prompts import collect_prompts

            prompts = collect_prompts(args.prompts, args.prompt, args.limit)
            summary = run_generation(args.output_dir, prompts, args.seeds, pipeline=args.pipeline,
                                     encoder_model=args.model, encoder_args=args.model_args,
                                     settings=_settings(args), device=args.device, offload=args.offload,
                                     dimension=_target_dimension(args), progress=not args.quiet)
            print(f"generated {summary['generated']} image(s), {summary['skipped']} already there, "
                  f"{summary['grids']} new grid(s); manifest: {summary['manifest']}")
            if args.judge_model:
                _judge(args.output_dir, args.judge_model, args.judge_model_args, args.judge_dimensions,
                       args.judge_batch_size, args.judge_gen_kwargs, None, args.judge_force_simple, args.quiet)
        else:
            _judge(args.output_dir, args.model, args.model_args, args.dimensions, args.batch_size, args.gen_kwargs,
                   args.report_dir, args.force_simple, args.quiet)
    except _USER_ERRORS as err:
        print(f"cogip-gen: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
