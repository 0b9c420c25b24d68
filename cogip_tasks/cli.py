"""``cogip-eval``: lmms-eval with the CogIP plugin registered; every argument goes to lmms-eval unchanged.

    cogip-eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct --tasks cogip

Two differences: lmms-eval logs an evaluation that failed (a bad dataset row, a model that did not load) and
still exits 0; ``cogip-eval`` exits 1 then, so scripts and CI notice. And lmms-eval 0.7.3 logs its tracker
arguments with ``$HF_TOKEN`` in them; ``cogip-eval`` masks the token, and every ``--model_args`` value that a
published file would drop, in everything it prints.

``--help`` and ``tasks list`` answer without importing lmms-eval's evaluator (torch, transformers): they list
CogIP's own tasks from the task folder; ``tasks list --all`` is lmms-eval's full listing.
"""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .cli_style import PROGRESS_ENV
from .entry import entry_point
from .errors import CogIPError
from .harness import close_process_group
from .lmms_compat import PLUGINS_ENV, index_plugin_tasks
from .threads import HELP as THREADS_HELP
from .threads import apply_cpu_threads

if TYPE_CHECKING:
    from .spec import Dimension
    from .task_writer import TaskFolder

PLUGIN = "cogip_tasks"
PROG = "cogip-eval"
TASK_FOLDER = Path(__file__).resolve().parent / "tasks" / "cogip"


def with_plugin(env_value: str | None) -> str:
    """``$LMMS_EVAL_PLUGINS`` with cogip_tasks added (kept once, other plugins kept)."""
    plugins = [p for p in (env_value or "").split(",") if p]
    return ",".join(plugins if PLUGIN in plugins else [*plugins, PLUGIN])


HELP = """\
cogip-eval: lmms-eval with the CogIP-Bench tasks registered (cogip, cogip_aesthetics, cogip_funniness,
cogip_emotional_valence, cogip_memorability) and the cogip_expected model. Every argument goes to lmms-eval,
except for `cogip-eval tasks write --dataset OUT -o TASKDIR`, which writes the lmms-eval tasks of a benchmark
built with `cogip-upload build --spec` (docs/custom-benchmarks.md).

Environment:
  COGIP_DATASET   the benchmark to load: a Hub repo id, a local dataset folder (e.g. cogip-upload build's
                  output) or a save_to_disk directory (default: foolen/CogIP-Bench)
  COGIP_PARSER    cogip (default: the benchmark's parser), release (the authors' evaluation script's
                  parser, for comparison with the paper) or release-llama (their Llama script's: |x| > 10 dropped)
Before any model loads, cogip-eval checks $COGIP_PARSER and loads and checks every test row and image of
the CogIP tasks it runs: the built-in ones and those of every `tasks write` folder under --include_path.
Exit status: 0 on success; 1 when the dataset or parser is unusable or lmms-eval logged a failed evaluation
(plain lmms-eval exits 0 then); 2 on a usage error; 130 interrupted. $HF_TOKEN and every --model_args value that a
published file would drop (credentials, URLs, free text) are masked in everything cogip-eval prints.
{threads}

CogIP's own options (everything else goes to lmms-eval):
  -q, --quiet     no progress bars; lmms-eval logs warnings and errors only (--verbosity WARNING)
  -v, --verbose   lmms-eval's debug log (--verbosity DEBUG)
  tasks list      the CogIP tasks and group, at once (tasks list --all: every lmms-eval task, slower)

example:
  cogip-eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct --tasks cogip \\
      --log_samples --output_path results/

usage: cogip-eval [eval] [lmms-eval options ...] | cogip-eval tasks list [--all] | cogip-eval tasks write ...
lmms-eval's commands: lmms-eval --help; its evaluation options: lmms-eval eval --help (it imports torch first:
a few seconds).
"""

INTERRUPTED = (
    "lmms-eval writes a run's results and samples only when the run ends, so this run wrote none; "
    "run the same command again"
)


def cogip_task_names() -> list[str]:
    """The tasks and groups of CogIP's task folder, read from its YAML files (no lmms-eval import)."""
    names = []
    for path in sorted(TASK_FOLDER.glob("*.yaml")):
        names += re.findall(r"^(?:task|group):[ \t]*([\w.-]+)[ \t]*$", path.read_text(), flags=re.MULTILINE)
    return sorted(set(names))


def with_verbosity(args: list[str]) -> list[str]:
    """``--quiet``/``--verbose`` (CogIP's words on every command) as lmms-eval's ``--verbosity``; progress
    bars off with --quiet."""
    out = []
    for arg in args:
        if arg in ("-q", "--quiet"):
            os.environ.update(dict.fromkeys(PROGRESS_ENV, "1"))
            out += ["--verbosity", "WARNING"]
        elif arg in ("-v", "--verbose"):
            out += ["--verbosity", "DEBUG"]
        else:
            out.append(arg)
    return out


@entry_point(PROG, on_interrupt=INTERRUPTED)
def main(argv: list[str] | None = None) -> int:
    apply_cpu_threads()  # before lmms-eval imports torch
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:2] == ["tasks", "write"]:  # ours: a benchmark spec -> an lmms-eval task folder
        from .task_writer import main as write_tasks_main

        return write_tasks_main(args[2:])
    if not args or args[0] in ("-h", "--help"):
        print(HELP.format(threads=textwrap.fill(THREADS_HELP, 110)), flush=True)
        return 0
    if args in (["tasks"], ["tasks", "list"]):
        names = cogip_task_names()
        print(f"CogIP tasks ({len(names)}):\n")
        print("\n".join(f"  {name}" for name in names))
        print(f"\nfolder: {TASK_FOLDER}\nevery lmms-eval task: {PROG} tasks list --all")
        return 0
    if args[:1] == ["tasks"] and "--all" in args:
        args.remove("--all")
    args = with_verbosity(args)
    output_path = (_option_values(args, "--output_path") or [None])[-1]
    check_outputs(output_path, args)  # lmms-eval's output folder: never an input, one writer (as every CogIP output)
    with output_path_lock(output_path):
        try:
            folders = requested_task_folders(args)
        except CogIPError as err:  # a task folder's spec that lmms-eval could not load either
            print(f"{PROG}: error: {err}", file=sys.stderr)
            return 1
        if folders:
            problem = preflight(folders)
            if problem:
                print(f"{PROG}: error: {problem}", file=sys.stderr)
                return 1
        return _run_lmms_eval(args)


def _run_lmms_eval(args: list[str]) -> int:
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
        from .entry import console_secrets, write_report
        from .errors import one_line
        from .model_args import mask_text

        err = failures[0]
        try:
            where = f"full report: {write_report(PROG, err, args)}"
        except OSError as report_err:
            where = f"no report written ({one_line(report_err, 200)})"
        message = one_line(mask_text(f"{type(err).__name__}: {err}", console_secrets(args)), 300)
        print(f"{PROG}: error: the evaluation failed: {message} ({where})", file=sys.stderr)
        return 1
    report_run(args, since=started)
    return 0


#: lmms-eval options CogIP reads, and the shortest abbreviation its argparse takes for each (argparse accepts any
#: unambiguous prefix, so ``--output x`` is ``--output_path x``).
_SHORTEST = {"--output_path": "--ou", "--config": "--con", "--include_path": "--in", "--model_args": "--model_",
             "--use_cache": "--us", "--tasks": "--ta"}  # fmt: skip


def _names(arg: str, name: str) -> bool:
    flag = arg.partition("=")[0]
    return flag == name or (name in _SHORTEST and flag.startswith(_SHORTEST[name]) and name.startswith(flag))


def eval_inputs(args: list[str]) -> list[str]:
    """The local files and folders an evaluation reads (the dataset, model folders, ``--include_path``,
    ``--config``): ``--output_path`` may be none of them, nor hold one, nor lie inside one."""
    from .dataset import dataset_source, hub_revision
    from .model_args import split_model_args

    found = [
        hub_revision(dataset_source())[0],
        *_option_values(args, "--include_path"),
        *_option_values(args, "--config"),
    ]
    for value in _option_values(args, "--model_args"):
        found += [part.partition("=")[2].strip().strip("\"'") for part in split_model_args(value)]
    return [path for path in found if path and _exists(path)]


def _exists(path: str) -> bool:
    try:
        return os.path.lexists(os.path.expanduser(path))
    except (ValueError, OSError):  # a NUL in the name, a name too long: not a file that is read
        return False


def check_outputs(output_path: str | None, args: list[str]) -> None:
    """Refuse, before any model loads, an ``--output_path`` (or ``--use_cache`` prefix) that is an input, holds
    one or lies inside one, and an ``--output_path`` that names something other than a folder."""
    from .errors import CogIPError
    from .files import check_outputs_apart

    outputs = _option_values(args, "--use_cache")
    if output_path is not None:
        if not output_path.strip() or "\0" in output_path:
            raise CogIPError(f"--output_path {output_path!r}: not a folder name")
        path = Path(output_path).expanduser()
        if path.exists() and not path.is_dir():
            raise CogIPError(
                f"--output_path {output_path}: exists and is not a folder; lmms-eval writes a folder there"
            )
        outputs.append(str(path))
    if outputs:
        check_outputs_apart(outputs, eval_inputs(args))


def output_path_lock(output_path: str | None):
    """The output folder's lock (:func:`cogip_tasks.files.output_lock`), held by the main process of a launch
    (``RANK`` 0 or unset): a second evaluation into the same ``--output_path`` fails at once, naming the first."""
    import contextlib

    from .files import output_lock

    if output_path is None or os.environ.get("RANK", "0") not in ("", "0"):
        return contextlib.nullcontext()
    return output_lock(Path(output_path).expanduser(), command=PROG)


def report_run(args: list[str], since: float) -> None:
    """After a run: remove local paths from its results files (they are meant to be shared), print each one's
    compact table and warn, per task, about answers that used every allowed new token. Only the main process of a
    multi-process run (``RANK`` 0 or unset) does it: lmms-eval writes the results there, once."""
    output_path = (_option_values(args, "--output_path") or [None])[-1]
    if output_path is None or not Path(output_path).is_dir() or os.environ.get("RANK", "0") not in ("", "0"):
        return
    from .files import write_text
    from .results import RunOutputError, format_table, read_results, truncated_answers, without_local_paths

    for results_file in sorted(Path(output_path).rglob("*_results.json")):
        if results_file.stat().st_mtime < since:
            continue
        try:
            results = read_results(results_file)
            # rewritten as lmms-eval writes it (indent 2, NaN kept), the CogIP tasks' local paths left out
            write_text(results_file, json.dumps(without_local_paths(results), indent=2, ensure_ascii=False))
            counts = truncated_answers(results_file)
        except RunOutputError:
            continue
        print(f"\nCogIP-Bench ({results_file.name}):\n{format_table(results)}", flush=True)
        for task, (cut, counted, limit) in counts.items():
            if cut:
                print(
                    f"cogip-eval: warning: {task}: {cut} of {counted} answers used all max_new_tokens={limit} "
                    "and may be cut short; raise it with --gen_kwargs max_new_tokens=N",
                    file=sys.stderr,
                )


def _option_values(args: list[str], *names: str) -> list[str]:
    """Every value given to one of lmms-eval's options ``names`` (``--opt value``, ``--opt=value`` or an
    abbreviation argparse would take), in order."""
    values = []
    for i, arg in enumerate(args):
        if arg.startswith("--") and any(_names(arg, name) for name in names):
            if "=" in arg:
                values.append(arg.partition("=")[2])
            elif i + 1 < len(args):
                values.append(args[i + 1])
    return values


def requested_tasks(args: list[str]) -> list[str]:
    """The task and group names ``--tasks`` gives (comma-separated; lmms-eval's wildcards kept as given)."""
    return [t.strip() for value in _option_values(args, "--tasks") for t in value.split(",") if t.strip()]


def requested_task_folders(args: list[str]) -> list[tuple[TaskFolder, list[Dimension]]]:
    """The CogIP-spec task folders a run's ``--tasks`` reaches, each with the dimensions it asks for: the built-in
    folder and every folder ``cogip-eval tasks write`` wrote under ``--include_path`` (found by its marker,
    :func:`cogip_tasks.task_writer.read_task_folder`)."""
    import fnmatch

    from .task_writer import find_task_folders, read_task_folder

    names = requested_tasks(args)
    if not names:
        return []
    folders = [read_task_folder(TASK_FOLDER)]
    for path in _option_values(args, "--include_path", "--include-path")[-1:]:  # lmms-eval takes the last one
        folders += find_task_folders(Path(path).expanduser())
    found, seen = [], set()
    for folder in folders:
        if folder is None or folder.path.resolve() in seen:
            continue
        seen.add(folder.path.resolve())
        dims = []
        for dim in folder.spec.dimensions:
            if any(fnmatch.fnmatchcase(dim.task_name, n) or fnmatch.fnmatchcase(folder.spec.name, n) for n in names):
                dims.append(dim)
        if dims:
            found.append((folder, dims))
    return found


def preflight(folders: list[tuple[TaskFolder, list[Dimension]]]) -> str | None:
    """What would stop the requested CogIP-spec tasks, found before lmms-eval loads the model (minutes on a large
    one).

    Checks ``$COGIP_PARSER``'s value and, per task folder, that its dataset loads, was built for the folder's spec,
    and every test row, score and image — the same checks the tasks run, which lmms-eval only reaches after the
    model is loaded.
    """
    from .dataset import dimension_rows, load_cogip
    from .scoring import parser_name_from_env
    from .task_hooks import check_dataset_spec

    try:
        parser_name_from_env()
    except ValueError as err:
        return str(err)
    try:
        for folder, dims in folders:
            source = folder.source
            test = load_cogip(source, split="test")
            check_dataset_spec(source, folder.spec)
            for dim in dims:
                dimension_rows(test, dim, where=f"{source} (test split)", spec=folder.spec)
    except CogIPError as err:  # a dataset that does not load, a spec mismatch, a bad row or image
        return str(err)
    return None


def _mask_secrets(args: list[str]) -> None:
    """Mask, for the rest of the process (loguru included, which lmms-eval reconfigures), what the entry wrapper
    masks: $HF_TOKEN and what ``args`` holds that no line may echo. A model's local folder is no secret: error
    messages keep naming its path."""
    from .entry import console_secrets
    from .model_args import mask_console

    mask_console(console_secrets(args))


class _QuietTraceback:
    """lmms-eval's ``traceback`` module as seen from its ``__main__``: ``print_exc`` prints nothing (cogip-eval
    ends a failed evaluation with one line and writes the traceback to a report file instead)."""

    def __getattr__(self, name: str):
        import traceback

        return getattr(traceback, name)

    @staticmethod
    def print_exc(*args, **kwargs) -> None:
        return None


def _record_failures(module) -> list[BaseException]:
    """Wrap lmms-eval's per-run function so that an error it swallows is remembered (and its traceback, which
    lmms-eval would print, is kept for the report)."""
    failures: list[BaseException] = []
    run_one = module.cli_evaluate_single

    def recording(*args, **kwargs):
        try:
            return run_one(*args, **kwargs)
        except Exception as err:
            failures.append(err)
            raise

    module.cli_evaluate_single = recording
    module.traceback = _QuietTraceback()
    return failures


if __name__ == "__main__":
    sys.exit(main())
