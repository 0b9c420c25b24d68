"""``cogip-eval``: lmms-eval with the CogIP plugin registered; every argument goes to lmms-eval unchanged.

    cogip-eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct --tasks cogip

Two differences: lmms-eval logs an evaluation that failed (a bad dataset row, a model that did not load) and
still exits 0; ``cogip-eval`` exits 1 then, so scripts and CI notice. And lmms-eval 0.7.3 logs its tracker
arguments with ``$HF_TOKEN`` in them; ``cogip-eval`` masks the token, and every ``--model_args`` value that a
published file would drop, in everything it prints.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

from .harness import close_process_group
from .lmms_compat import PLUGINS_ENV, index_plugin_tasks
from .threads import HELP as THREADS_HELP
from .threads import apply_cpu_threads

PLUGIN = "cogip_tasks"


def with_plugin(env_value: str | None) -> str:
    """``$LMMS_EVAL_PLUGINS`` with cogip_tasks added (kept once, other plugins kept)."""
    plugins = [p for p in (env_value or "").split(",") if p]
    return ",".join(plugins if PLUGIN in plugins else [*plugins, PLUGIN])


HELP = """\
cogip-eval: lmms-eval with the CogIP-Bench tasks registered (cogip, cogip_aesthetics, cogip_funniness,
cogip_emotional_valence, cogip_memorability) and the cogip_expected model. Every argument goes to lmms-eval,
except for `cogip-eval tasks write --dataset OUT --out TASKDIR`, which writes the lmms-eval tasks of a benchmark
built with `cogip-upload build --spec` (docs/custom-benchmarks.md).

Environment:
  COGIP_DATASET   the benchmark to load: a Hub repo id, a local dataset folder (e.g. cogip-upload build's
                  output) or a save_to_disk directory (default: foolen/CogIP-Bench)
  COGIP_PARSER    cogip (default: the benchmark's parser), release (the authors' evaluation script's
                  parser, for comparison with the paper) or release-llama (their Llama script's: |x| > 10 dropped)
Before any model loads, cogip-eval checks $COGIP_PARSER and loads and checks every test row and image.
Exit status: 0 on success; 1 when the dataset or parser is unusable or lmms-eval logged a failed evaluation
(plain lmms-eval exits 0 then); 2 on a usage error. $HF_TOKEN and every --model_args value that a
published file would drop (credentials, URLs, free text) are masked in everything cogip-eval prints.
{threads}

lmms-eval's own options follow.
"""


def main(argv: list[str] | None = None) -> None:
    apply_cpu_threads()  # before lmms-eval imports torch
    args = sys.argv[1:] if argv is None else argv
    if args[:2] == ["tasks", "write"]:  # ours: a benchmark spec -> an lmms-eval task folder
        from .task_writer import main as write_tasks_main

        sys.exit(write_tasks_main(args[2:]))
    if any(a in ("-h", "--help") for a in args) or not args:
        print(HELP.format(threads=textwrap.fill(THREADS_HELP, 110)), flush=True)
    if requested_cogip_tasks(args):
        problem = preflight()
        if problem:
            print(f"cogip-eval: error: {problem}", file=sys.stderr)
            sys.exit(1)
    os.environ[PLUGINS_ENV] = with_plugin(os.environ.get(PLUGINS_ENV))
    # Imported only now: lmms-eval reads the plugin list when its model registry is first imported.
    import lmms_eval.__main__ as lmms_eval_entry
    from lmms_eval.cli.dispatch import main as lmms_eval_main

    index_plugin_tasks()  # also for `cogip-eval tasks list`, which never imports lmms-eval's model registry
    _mask_secrets(args)
    failures = _record_failures(lmms_eval_entry)
    sys.argv = ["lmms-eval", *args]
    started = time.time()
    try:
        lmms_eval_main()
    finally:
        close_process_group()
    if failures:
        sys.exit(1)
    report_truncation(args, since=started)


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.partition("=")[2]
        if arg == name and i + 1 < len(args):
            return args[i + 1]
    return None


def report_truncation(args: list[str], since: float) -> None:
    """Warn, per task, about answers that used every allowed new token (cut short: their score may be lost)."""
    output_path = _option(args, "--output_path")
    if output_path is None or not Path(output_path).is_dir():
        return
    from .results import RunOutputError, truncated_answers

    for results_file in Path(output_path).rglob("*_results.json"):
        if results_file.stat().st_mtime < since:
            continue
        try:
            counts = truncated_answers(results_file)
        except RunOutputError:
            continue
        for task, (cut, counted, limit) in counts.items():
            if cut:
                print(
                    f"cogip-eval: warning: {task}: {cut} of {counted} answers used all max_new_tokens={limit} "
                    "and may be cut short; raise it with --gen_kwargs max_new_tokens=N",
                    file=sys.stderr,
                )


def requested_cogip_tasks(args: list[str]) -> bool:
    """True when ``--tasks`` names a CogIP task or the ``cogip`` group."""
    for i, arg in enumerate(args):
        value = (
            arg.partition("=")[2]
            if arg.startswith("--tasks=")
            else (args[i + 1] if arg == "--tasks" and i + 1 < len(args) else None)
        )
        if value is not None and any(t.strip().startswith("cogip") for t in value.split(",")):
            return True
    return False


def preflight() -> str | None:
    """What would stop the CogIP tasks, found before lmms-eval loads the model (minutes on a large one).

    Checks ``$COGIP_PARSER``'s value, that the dataset loads, and every test row, score and image — the same
    checks the tasks run, which lmms-eval only reaches after the model is loaded.
    """
    from .dataset import CogIPDataError, dataset_source, dimension_rows, load_cogip
    from .dimensions import DIMENSION_KEYS
    from .scoring import parser_name_from_env

    try:
        parser_name_from_env()
    except ValueError as err:
        return str(err)
    source = dataset_source()
    try:
        test = load_cogip(source, split="test")
        for key in DIMENSION_KEYS:
            dimension_rows(test, key, where=f"{source} (test split)")
    except CogIPDataError as err:
        return str(err)
    return None


def _mask_secrets(args: list[str]) -> None:
    """Mask $HF_TOKEN and every ``--model_args`` value that a published file would drop, on the whole console."""
    from .model_args import console_secrets, mask_console

    values = [v for flag, v in zip(args, args[1:]) if flag in ("--model_args", "--model-args")]
    values += [a.split("=", 1)[1] for a in args if a.startswith(("--model_args=", "--model-args="))]
    mask_console([os.environ.get("HF_TOKEN", ""), *(s for v in values for s in console_secrets(v))])


def _record_failures(module) -> list[BaseException]:
    """Wrap lmms-eval's per-run function so that an error it swallows is remembered."""
    failures: list[BaseException] = []
    run_one = module.cli_evaluate_single

    def recording(*args, **kwargs):
        try:
            return run_one(*args, **kwargs)
        except Exception as err:
            failures.append(err)
            raise

    module.cli_evaluate_single = recording
    return failures


if __name__ == "__main__":
    main()
