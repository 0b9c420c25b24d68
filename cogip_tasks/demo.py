"""``cogip-demo``: the paper's experiment in miniature, offline on CPU -- measure, align, measure again.

By default it builds a small CogIP-format dataset of procedural images whose scores are a stated, learnable
function of the image (aesthetics = 10 x mean brightness, funniness = 10 x mean red, emotional valence =
round(6 x mean green - 3), memorability = mean blue; see ``cogip_tasks.synthetic``) and a tiny random-weight
Qwen2.5-VL, then:

  1. evaluates the base model with the real lmms-eval CLI (``cogip-eval``) on the ``cogip`` group: greedy answers
     and the expected-score readout (``--model cogip_expected``);
  2. aligns it with ``cogip-train`` on the train split, all four dimensions (language model and merger trained
     in full, 1500 steps: the recipe that learns at this size);
  3. evaluates the aligned model the same two ways;
  4. prints one before/after table (per dimension: SRCC with its 95% bootstrap interval, MAE, parse rate and the
     number of distinct predictions -- a collapsed model answering one constant number shows 1), and builds a
     leaderboard page with both models (``<output-dir>/leaderboard/index.html``).

The target is a toy: it says the pipeline works end to end (data, evaluation, training, readout, leaderboard),
not anything about human perception. ``--quick`` runs only the evaluation of the random model (the short
evaluation-only demo). Swap in a real model for the evaluation with
``--quick --pretrained Qwen/Qwen2.5-VL-3B-Instruct`` (needs the Hub).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .cli_style import CogIPArgumentParser, add_verbosity, apply_verbosity, example
from .entry import entry_point
from .errors import CogIPError
from .threads import HELP as THREADS_HELP
from .threads import apply_cpu_threads

CPU_ARGS = "device=cpu,device_map=cpu"
MAX_SEED = 2**32 - 1  # numpy's seed range (the sample data, the tiny model and cogip-train are seeded with it)
#: Upper bounds of the demo's sizes: far above a demo's needs, below a typo that would run for days (1e9 items).
MAX_ITEMS = 10_000
MAX_STEPS = 100_000
#: The quick demo's images: 64x64 procedural images become 56x56, i.e. 4 visual tokens.
QUICK_PIXELS = "max_pixels=12544,min_pixels=3136"
#: The aligned demo's images: upscaled to 112x112, 16 visual tokens (with 4, and the benchmark's ~450-token
#: prompts, the tiny model learnt to ignore the image and answered a constant; see cogip_tasks.synthetic).
ALIGN_PIXELS = "max_pixels=12544,min_pixels=12544"
#: New tokens per answer in the aligned demo: "very high 7.234" is 9 tokens of the tiny tokenizer; a random
#: model never stops on its own, and 256 tokens of noise per item would be most of the demo's time.
ANSWER_TOKENS = 24
#: cogip-train's options for the demo's alignment (the loss and steps come from the command line).
ALIGN_RECIPE = (
    "--tune-llm",
    "full",
    "--tune-merger",
    "full",
    "--tune-vision",
    "freeze",
    "--learning-rate",
    "1e-3",
    "--batch-size",
    "4",
    "--warmup",
    "0.03",
    "--logging-steps",
    "50",
)


@dataclass(frozen=True)
class Readout:
    name: str  # greedy | expected
    lmms_model: str
    extra_args: str


READOUTS = (Readout("greedy", "qwen2_5_vl", ""), Readout("expected", "cogip_expected", ",readout=expected_digits"))


def build_demo_inputs(
    workdir: Path, n_train: int, n_test: int, seed: int, short_prompts: bool = False
) -> tuple[Path, Path]:
    """The sample dataset (rewritten: the same arguments give the same bytes) and the tiny model of this seed."""
    from .synthetic import build_sample_dataset
    from .tiny_model import build_tiny_qwen2_5_vl

    data = build_sample_dataset(
        workdir / ("sample_dataset_short" if short_prompts else "sample_dataset"),
        n_train=n_train,
        n_test=n_test,
        seed=seed,
        short_prompts=short_prompts,
    )
    model = workdir / f"tiny_qwen2_5_vl_seed{seed}"
    if not (model / "config.json").exists():
        build_tiny_qwen2_5_vl(model, seed=seed)
    return data, model


def run_step(title: str, command: list[str], env: dict[str, str]) -> float:
    """Run one CLI step (its output shown as it comes); the seconds it took. A failure stops the demo."""
    print(f"[cogip-demo] {title}: {' '.join(command[2:])}", flush=True)
    start = time.perf_counter()
    if subprocess.run(command, env=env).returncode != 0:
        raise CogIPError(f"{title} failed (see its output above)")
    return time.perf_counter() - start


def evaluate(
    pretrained: str, readout: Readout, model_args: str, out: Path, env: dict[str, str], extra: tuple[str, ...] = ()
) -> Path:
    """One ``cogip-eval`` run of the cogip group with per-item logs; its results file."""
    from .results import latest_results_file

    run_step(
        f"lmms-eval ({readout.name})",
        [
            sys.executable,
            "-m",
            "cogip_tasks.cli",
            "eval",
            "--model",
            readout.lmms_model,
            "--model_args",
            f"pretrained={pretrained},{model_args}{readout.extra_args}",
            "--tasks",
            "cogip",
            "--batch_size",
            "4",
            "--output_path",
            str(out),
            "--log_samples",
            *extra,
        ],
        env,
    )
    return latest_results_file(out)


def submit(results_file: Path, name: str, out: Path, env: dict[str, str]) -> None:
    run_step(
        f"leaderboard submission ({name})",
        [
            sys.executable,
            "-m",
            "cogip_tasks.leaderboard",
            "submit",
            str(results_file.parent),
            "--results",
            str(results_file),
            "--name",
            name,
            "-o",
            str(out),
        ],
        env,
    )


@dataclass(frozen=True)
class Summary:
    srcc: float
    ci_low: float
    ci_high: float
    mae: float
    parse_rate: float
    n_distinct: int | None  # None for the group row


def summarise(results_file: Path) -> dict[str, Summary]:
    """Per task (and the group) the table's numbers, read from a run's results and per-item logs."""
    from .dimensions import DIMENSIONS
    from .results import GROUP, read_results, task_metrics

    results = read_results(results_file)
    nan = float("nan")
    out = {}
    for task in [d.task_name for d in DIMENSIONS.values()] + [GROUP]:
        m = task_metrics(results, task)
        # the n_distinct metric (parsed predictions that differ): 1 flags a collapsed model
        distinct = None if task == GROUP or "n_distinct" not in m else int(m["n_distinct"])
        out[task] = Summary(
            m.get("srcc", nan),
            m.get("srcc_ci_low", nan),
            m.get("srcc_ci_high", nan),
            m.get("mae", nan),
            m.get("parse_rate", nan),
            distinct,
        )
    return out


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or not isinstance(value, (int, float)) or math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _srcc_cell(s: Summary) -> str:
    return f"{_num(s.srcc)} [{_num(s.ci_low)}, {_num(s.ci_high)}]" if not math.isnan(s.srcc) else "n/a"


def before_after_table(before: dict[str, dict[str, Summary]], after: dict[str, dict[str, Summary]]) -> str:
    """One Markdown table: a row per dimension (and the group mean) and readout, before -> after alignment."""
    from .dimensions import DIMENSIONS
    from .results import GROUP

    lines = [
        "| task | readout | SRCC before [95% CI] | SRCC after [95% CI] | MAE before -> after "
        "| parse rate before -> after | distinct predictions before -> after |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    tasks = [d.task_name for d in DIMENSIONS.values()] + [GROUP]
    for task in tasks:
        for readout in before:
            b, a = before[readout][task], after[readout][task]
            name = f"{GROUP} (mean)" if task == GROUP else task
            distinct = "-" if b.n_distinct is None else f"{b.n_distinct} -> {a.n_distinct}"
            lines.append(
                f"| {name} | {readout} | {_srcc_cell(b)} | {_srcc_cell(a)} | {_num(b.mae)} -> {_num(a.mae)} "
                f"| {_num(b.parse_rate)} -> {_num(a.parse_rate)} | {distinct} |"
            )
    return "\n".join(lines)


def output_folder(text: str) -> Path:
    """``-o``: a folder path; an empty one (which would be the current folder) is refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must not be empty, got {text!r}")
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    parser = CogIPArgumentParser(
        prog="cogip-demo",
        description=__doc__,
        epilog=f"{THREADS_HELP}\n\n" + example("cogip-demo", "cogip-demo --quick -o cogip_demo_quick"),
    )
    parser.add_argument(
        "-o",
        "--output-dir",
        type=output_folder,
        default=Path("cogip_demo"),
        aliases=["--workdir"],
        help="where the sample data, models, results and leaderboard go",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="evaluation only: the random tiny model (or --pretrained), greedy and expected readouts",
    )
    parser.add_argument("--n-train", type=int, default=128, help="train items per dimension")
    parser.add_argument(
        "--n-test", type=int, default=None, help="test items per dimension (default: 32; 8 with --quick)"
    )
    parser.add_argument("--steps", type=int, default=1500, help="cogip-train optimizer steps")
    parser.add_argument("--loss", choices=["soft", "ce"], default="soft", help="cogip-train --loss")
    parser.add_argument(
        "--seed", type=int, default=0, help=f"seed of the sample data, the tiny model and training, 0 to {MAX_SEED}"
    )
    parser.add_argument("--pretrained", help="with --quick: evaluate this model instead of the tiny random one")
    add_verbosity(parser)
    return parser


@entry_point(
    "cogip-demo",
    on_interrupt="what each finished step wrote to --output-dir is kept (an unfinished training run is redone); "
    "run the same command again",
)
def main(argv: list[str] | None = None) -> int:
    threads = apply_cpu_threads()  # before torch is imported here or in any step below
    parser = build_parser()
    args = parser.parse_args(argv)
    apply_verbosity(args)
    for name, most in (("n_train", MAX_ITEMS), ("n_test", MAX_ITEMS), ("steps", MAX_STEPS)):
        value = getattr(args, name)
        if value is not None and not 2 <= value <= most:
            parser.error(f"--{name.replace('_', '-')} must be from 2 to {most}, got {value}")
    if args.pretrained is not None and not pretrained_ok(args.pretrained):
        # it becomes pretrained=<value> in --model_args: a comma would add arguments, a URL may carry a token
        parser.error("argument --pretrained: expected a Hub id (org/name) or a local model folder")
    if not 0 <= args.seed <= MAX_SEED:
        parser.error(f"--seed must be from 0 to {MAX_SEED} (numpy's seed range), got {args.seed}")
    if args.pretrained and not args.quick:
        parser.error("--pretrained needs --quick (the demo aligns only the tiny model)")
    if args.output_dir.exists() and not args.output_dir.is_dir():
        raise CogIPError(f"--output-dir {args.output_dir}: exists and is not a folder; choose another")
    n_test = args.n_test or (8 if args.quick else 32)
    from .files import output_lock

    with output_lock(args.output_dir, command="cogip-demo"):  # two demos into one folder: the second fails at once
        return run_demo(args, n_test, threads)


def pretrained_ok(value: str) -> bool:
    """``--pretrained``: a Hub id as published (:func:`cogip_tasks.model_args.published_value`) or a local folder,
    and no character that lmms-eval's ``--model_args`` would read as another argument."""
    from .model_args import published_value

    if any(c in value for c in ",=\n\r") or not value.strip():
        return False
    return Path(value).expanduser().is_dir() or published_value("pretrained", value) == value.strip()


def check_output_files(folder: Path) -> None:
    """The demo rewrites files in its output folder: a FIFO or a device there would block a write forever."""
    import stat

    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        try:
            mode = path.stat().st_mode
        except OSError as err:
            raise CogIPError(f"{path}: cannot read it ({err.strerror or type(err).__name__})") from None
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise CogIPError(f"{path}: not a regular file (a FIFO, a device or a socket) in --output-dir; remove it")


def run_demo(args: argparse.Namespace, n_test: int, threads: int) -> int:
    check_output_files(args.output_dir)
    start = time.perf_counter()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"[cogip-demo] building the sample dataset and tiny model in {args.output_dir}/ "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}) ...",
        flush=True,
    )
    data, model = build_demo_inputs(
        args.output_dir, n_test if args.quick else args.n_train, n_test, args.seed, short_prompts=not args.quick
    )
    env = {**os.environ, "COGIP_DATASET": str(data), "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    print(f"[cogip-demo] COGIP_DATASET={data}", flush=True)
    if args.quick:
        quick_demo(args, str(args.pretrained or model), n_test, env)
    else:
        align_demo(args, model, data, n_test, env)
    print(f"\n[cogip-demo] wall time {time.perf_counter() - start:.0f} s ({threads} CPU thread(s) per process)")
    return 0


def quick_demo(args: argparse.Namespace, pretrained: str, n_test: int, env: dict[str, str]) -> None:
    from .results import format_table, read_results

    tables, submissions = [], args.output_dir / "submissions"
    for readout in READOUTS:
        results_file = evaluate(
            pretrained, readout, f"{CPU_ARGS},{QUICK_PIXELS}", args.output_dir / "results" / readout.name, env
        )
        tables.append((readout, results_file, format_table(read_results(results_file))))
        name = f"tiny Qwen2.5-VL, {readout.name} readout" if not args.pretrained else f"{pretrained} ({readout.name})"
        submit(results_file, name, submissions / f"{readout.name}.json", env)
    board = build_board(submissions, args.output_dir / "leaderboard", env)
    print(f"\nCogIP-Bench on the synthetic sample ({n_test} items per dimension), model: {pretrained}")
    for readout, results_file, table in tables:
        title = f"### {readout.name} readout (lmms-eval --model {readout.lmms_model})"
        print(f"\n{title}\n\n{table}\n\nresults: {results_file}")
    print(f"\nleaderboard page (open in a browser, no server needed): {board / 'index.html'}")


def build_board(submissions: Path, board: Path, env: dict[str, str]) -> Path:
    run_step(
        "leaderboard",
        [sys.executable, "-m", "cogip_tasks.leaderboard", "build", str(submissions), "-o", str(board)],
        env,
    )
    return board


def align(
    base: Path, data: Path, out: Path, steps: int, loss: str, seed: int, env: dict[str, str]
) -> tuple[Path, float]:
    """Train with cogip-train into ``out`` (reused when a finished model is there); the model dir and seconds.

    Training goes to ``<out>.partial`` first and is renamed when complete, so an interrupted demo never leaves a
    half-trained model that a rerun would take for a finished one.
    """
    model = out / "model"
    if (model / "config.json").exists():
        print(f"[cogip-demo] reusing the aligned model in {model} (delete {out} to train again)", flush=True)
        return model, 0.0
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # an interrupted run of this demo: only its own scratch folder
    seconds = run_step(
        f"cogip-train ({loss} loss, {steps} steps)",
        [
            sys.executable,
            "-m",
            "cogip_train",
            "--model",
            "qwen2_5_vl",
            "--model_args",
            f"pretrained={base},{CPU_ARGS},{ALIGN_PIXELS}",
            "--dataset",
            str(data),
            *ALIGN_RECIPE,
            "--loss",
            loss,
            "--max-steps",
            str(steps),
            "--seed",
            str(seed),
            "--save-steps",
            str(steps),
            "--output-dir",
            str(partial),
        ],
        env,
    )
    partial.rename(out)
    return model, seconds


def align_demo(args: argparse.Namespace, base: Path, data: Path, n_test: int, env: dict[str, str]) -> None:
    gen = ("--gen_kwargs", f"max_new_tokens={ANSWER_TOKENS}")
    model_args = f"{CPU_ARGS},{ALIGN_PIXELS}"
    results, submissions = args.output_dir / "results", args.output_dir / "submissions"
    aligned_name = f"aligned_{args.loss}_steps{args.steps}_train{args.n_train}_seed{args.seed}"
    runs: dict[str, dict[str, Path]] = {"base": {}, aligned_name: {}}
    print(
        "[cogip-demo] the random base model never ends its answers: lmms-eval's 'used all max_new_tokens' "
        "warnings for it are expected",
        flush=True,
    )
    for readout in READOUTS:
        runs["base"][readout.name] = evaluate(str(base), readout, model_args, results / "base" / readout.name, env, gen)
    aligned, train_seconds = align(base, data, args.output_dir / aligned_name, args.steps, args.loss, args.seed, env)
    for readout in READOUTS:
        runs[aligned_name][readout.name] = evaluate(
            str(aligned), readout, model_args, results / aligned_name / readout.name, env, gen
        )
    for stage, files in runs.items():
        label = "base (random weights)" if stage == "base" else f"aligned ({args.loss} loss, {args.steps} steps)"
        for readout, results_file in files.items():
            submit(results_file, f"tiny Qwen2.5-VL {label}, {readout}", submissions / f"{stage}_{readout}.json", env)
    board = build_board(submissions, args.output_dir / "leaderboard", env)

    before = {r: summarise(f) for r, f in runs["base"].items()}
    after = {r: summarise(f) for r, f in runs[aligned_name].items()}
    print(
        f"\n## Before/after alignment: tiny Qwen2.5-VL, synthetic sample ({args.n_train} train / {n_test} test "
        f"items per dimension)\n\nToy target (scores are image statistics, not human data): see "
        f"`cogip_tasks.synthetic`. Aligned with cogip-train --loss {args.loss}, {args.steps} steps"
        + (f" ({train_seconds:.0f} s)" if train_seconds else " (reused)")
        + ". greedy = lmms-eval's qwen2_5_vl; "
        "expected = cogip_expected, readout=expected_digits.\n"
    )
    print(before_after_table(before, after))
    print(f"\naligned model: {aligned}\nleaderboard page (open in a browser, no server needed): {board / 'index.html'}")


if __name__ == "__main__":
    sys.exit(main())
