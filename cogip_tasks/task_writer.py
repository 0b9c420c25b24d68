"""``cogip-eval tasks write``: a benchmark spec -> an lmms-eval task folder.

    cogip-eval tasks write --dataset OUT -o TASKDIR            # the spec from OUT's build manifest
    cogip-eval tasks write --dataset you/bench@v1 -o TASKDIR   # ... read from the Hub repo at that revision
    cogip-eval tasks write --spec SPEC.yaml --dataset OUT -o TASKDIR
    lmms-eval --include_path TASKDIR --tasks <name>_<key> ...     # or cogip-eval ... --tasks <name>

The folder holds, as lmms-eval's task folders do, one YAML per task (``<name>_<key>.yaml``), a shared template
(``_default_template_yaml``), the group (``_<name>.yaml``: ``<name>`` runs every dimension), ``utils.py`` with the
hooks, and the spec itself (``spec.yaml``, which lmms-eval skips: it has no ``task`` or ``group`` key). The
built-in ``cogip_tasks/tasks/cogip/`` folder is exactly what this writes for the shipped spec
(``tests/test_spec.py`` compares).
"""

from __future__ import annotations

import argparse
import ast
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from .dataset import MANIFEST, CogIPDataError, hub_manifest_spec, is_local_folder, looks_like_path, manifest_spec
from .errors import EXIT_FAILURE, CogIPError, fail
from .files import check_outputs_apart, output_lock, read_user_bytes, read_user_text, write_text
from .metrics import METRIC_NAMES
from .spec import SPEC_FILE, BenchmarkSpec, load_spec

TEMPLATE = "_default_template_yaml"  # no .yaml suffix: lmms-eval must not index it as a task

_TEMPLATE_HEAD = """\
# Shared by the {title} tasks (written by `cogip-eval tasks write` from spec.yaml; rewrite rather than edit).
# The dataset is named in utils.py{dataset_note}.
dataset_path: !function utils.DATASET_PATH
dataset_kwargs: !function utils.DATASET_KWARGS
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: !function utils.doc_to_target
process_results: !function utils.process_results
# 256 new tokens: a describe-then-predict answer (the release allowed 100) is far shorter, so only a model that
# rambles or reasons at length is cut; raise it for those with --gen_kwargs max_new_tokens=2048.
generation_kwargs:
  max_new_tokens: 256
  temperature: 0
  top_p: 1.0
  num_beams: 1
  do_sample: false
# A key naming a model *replaces* `default` (lmms-eval does not merge them): repeat both prompts there.
lmms_eval_specific_kwargs:
  default:
    pre_prompt: ""
    post_prompt: ""
# Names and directions follow cogip_tasks.metrics.METRIC_NAMES (tests/test_metrics_robust.py checks).
metric_list:
"""

_GROUP_HEAD = """\
# The group row follows cogip_tasks.metrics.METRIC_NAMES (tests/test_metrics_robust.py checks):
# - a plain mean over the dimensions (every dimension counts the same) for the correlations, rates and the
#   range-normalised errors mae_norm/rmse_norm; the raw mae/rmse (each in its dimension's units) are not averaged;
# - n_distinct: the minimum over the dimensions (one collapsed dimension must not hide in a mean);
# - srcc_ci_low/high: the bootstrap interval of the mean SRCC (the leaderboard's procedure), not a mean of the
#   dimensions' bounds.
# lmms-eval applies an entry to every metric whose name *contains* the entry's name, the last entry winning:
# the srcc_ci_* entries must come after srcc.
aggregate_metric_list:
"""

_UTILS = '''\
"""lmms-eval hooks of the {title} tasks (written by `cogip-eval tasks write`): made from spec.yaml beside this
file by cogip_tasks.task_hooks. lmms-eval loads this file by path, so it imports the package absolutely."""

from pathlib import Path

from cogip_tasks.task_hooks import define_hooks

define_hooks(globals(), Path(__file__).with_name("{spec_file}"){dataset_arg})
'''


def template_yaml(spec: BenchmarkSpec, dataset: str | None) -> str:
    note = " ($COGIP_DATASET or the Hub default)" if dataset is None else ""
    lines = [_TEMPLATE_HEAD.format(title=spec.title, dataset_note=note)]
    for name, metric in METRIC_NAMES.items():
        lines.append(
            f"  - metric: {name}\n    aggregation: !function utils.{name}\n"
            f"    higher_is_better: {str(metric.higher_is_better).lower()}\n"
        )
    lines.append(
        "# metadata: each task's own (utils.metadata_<key>): lmms-eval's version, the CogIP and parser versions, the\n"
        "# dataset and the test rows' fingerprint, filled in when the rows are loaded (cogip_tasks.provenance).\n"
    )
    return "".join(lines)


def group_yaml(spec: BenchmarkSpec) -> str:
    lines = [f"group: {spec.name}\ntask:\n", *(f"  - {t}\n" for t in spec.task_names), _GROUP_HEAD]
    for name, metric in METRIC_NAMES.items():
        if metric.group is None:
            continue
        aggregation = "mean" if metric.group == "mean" else f"!function utils.group_{name}"
        lines.append(f"  - metric: {name}\n    aggregation: {aggregation}\n    weight_by_size: false\n")
    lines.append("metadata:\n  version: 1.0\n")
    return "".join(lines)


def task_yaml(spec: BenchmarkSpec, key: str) -> str:
    dim = spec.by_key[key]
    return (
        f"include: {TEMPLATE}\ntask: {dim.task_name}\nprocess_docs: !function utils.process_docs_{dim.key}\n"
        f"metadata: !function utils.metadata_{dim.key}\n"
    )


def utils_py(spec: BenchmarkSpec, dataset: str | None) -> str:
    dataset_arg = "" if dataset is None else f", dataset={dataset!r}"
    return _UTILS.format(title=spec.title, spec_file=SPEC_FILE, dataset_arg=dataset_arg)


def spec_yaml(spec: BenchmarkSpec) -> str:
    return yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True, width=120)


def task_files(spec: BenchmarkSpec, dataset: str | None = None, spec_text: str | None = None) -> dict[str, str]:
    """File name -> text of the task folder for ``spec`` reading ``dataset`` (None: ``$COGIP_DATASET`` or the
    Hub default). ``spec_text`` is the spec file's own text, kept verbatim (comments included) when given."""
    files = {SPEC_FILE: spec_text if spec_text is not None else spec_yaml(spec)}
    files[TEMPLATE] = template_yaml(spec, dataset)
    files[f"_{spec.name}.yaml"] = group_yaml(spec)
    files.update({f"{spec.task_names[i]}.yaml": task_yaml(spec, k) for i, k in enumerate(spec.keys)})
    files["utils.py"] = utils_py(spec, dataset)
    return files


def dataset_reference(dataset: str, out: Path) -> str:
    """How a task folder names its dataset: a local folder relative to the task folder (the two can move
    together, and no absolute path is written), a Hub id as given."""
    if Path(dataset).exists():
        return Path(os.path.relpath(Path(dataset).resolve(), out.resolve())).as_posix()
    return dataset


def write_tasks(out: Path, spec: BenchmarkSpec, dataset: str | None = None, spec_text: str | None = None) -> list[Path]:
    """Write the task folder; refuses a folder holding other files than a task folder's (never overwrites
    a user's files it did not write)."""
    files = task_files(spec, None if dataset is None else dataset_reference(dataset, out), spec_text)
    if out.exists() and not out.is_dir():
        raise CogIPError(f"--output-dir {out}: exists and is not a folder")
    if out.is_dir():
        foreign = sorted(
            p.name
            for p in out.iterdir()
            if p.name not in files and p.name != "__pycache__" and p.suffix in {".yaml", ".py"}
        )
        if foreign:
            raise CogIPError(
                f"--output-dir {out}: holds {', '.join(foreign[:3])}, not written by cogip-eval tasks write for "
                f"{spec.name!r}; lmms-eval would index those too: use an empty folder"
            )
    return [write_text(out / name, text) for name, text in files.items()]


@dataclass(frozen=True)
class TaskFolder:
    """A task folder written by ``cogip-eval tasks write`` (the built-in one too): its spec and the dataset its
    ``utils.py`` names (None: ``$COGIP_DATASET`` or the Hub default)."""

    path: Path
    spec: BenchmarkSpec
    dataset: str | None

    @property
    def source(self) -> str:
        """The dataset the folder's tasks load, resolved as its hooks resolve it."""
        from .task_hooks import resolve_dataset

        return resolve_dataset(self.dataset, self.path)

    def names(self) -> tuple[str, ...]:
        """The tasks and the group that ``--tasks`` may name."""
        return (*self.spec.task_names, self.spec.name)


_NOT_OURS = object()
_MAX_UTILS_BYTES = 1 << 20  # a written utils.py is a few hundred bytes


def _hooks_dataset(utils: Path) -> object:
    """The ``dataset`` a task folder's ``utils.py`` passes to ``define_hooks`` (None when it passes none), or
    ``_NOT_OURS`` for any other file. Read from the syntax tree: another task folder's code is never run."""
    try:
        tree = ast.parse(read_user_bytes(utils, what="task hooks", max_bytes=_MAX_UTILS_BYTES))
    except (CogIPError, OSError, SyntaxError, ValueError):
        return _NOT_OURS
    imported = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "cogip_tasks.task_hooks"
        and any(alias.name == "define_hooks" for alias in node.names)
        for node in tree.body
    )
    for node in ast.walk(tree) if imported else ():
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "define_hooks":
            value = next((kw.value for kw in node.keywords if kw.arg == "dataset"), None)
            if value is None:
                return None
            try:
                dataset = ast.literal_eval(value)
            except ValueError:
                return _NOT_OURS
            return dataset if isinstance(dataset, str) or dataset is None else _NOT_OURS
    return _NOT_OURS


def read_task_folder(folder: str | Path) -> TaskFolder | None:
    """The folder as a CogIP task folder, or None when it is not one. The marker is the pair that makes one: a
    ``spec.yaml`` beside a ``utils.py`` that calls ``cogip_tasks.task_hooks.define_hooks``. Its spec is checked
    (:class:`~cogip_tasks.spec.SpecError`, as lmms-eval would meet it) and registered, as its hooks do."""
    from .task_hooks import task_spec

    folder = Path(folder)
    utils, spec_file = folder / "utils.py", folder / SPEC_FILE
    if not (utils.is_file() and spec_file.is_file()):
        return None
    dataset = _hooks_dataset(utils)
    if dataset is _NOT_OURS:
        return None
    return TaskFolder(folder, task_spec(spec_file), dataset)


def find_task_folders(root: str | Path) -> list[TaskFolder]:
    """Every CogIP task folder at or under ``root``, as lmms-eval's ``--include_path`` walks it (hidden folders
    skipped)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for spec_file in sorted([root / SPEC_FILE, *root.rglob(f"*/{SPEC_FILE}")]):
        if any(part.startswith(".") for part in spec_file.relative_to(root).parts[:-1]):
            continue
        folder = read_task_folder(spec_file.parent)
        if folder is not None:
            found.append(folder)
    return found


def build_parser() -> argparse.ArgumentParser:
    from .cli_style import CogIPArgumentParser, example

    parser = CogIPArgumentParser(
        prog="cogip-eval tasks write",
        description="Write the lmms-eval task folder of a benchmark spec: <name>_<key> per dimension and the "
        "<name> group. Evaluate it with `lmms-eval --include_path TASKDIR --tasks <name>` or cogip-eval.",
        epilog=example("cogip-eval tasks write --dataset my_benchmark_built -o my_tasks/"),
    )
    parser.add_argument(
        "--dataset",
        help="the dataset the tasks read: a folder built by `cogip-upload build --spec` or its Hub copy, "
        "owner/name[@revision] (the spec comes from its manifest, read from the Hub for a repo id); default for the "
        "built-in spec: $COGIP_DATASET or the Hub's CogIP-Bench",
    )
    parser.add_argument("--spec", type=Path, help=f"the benchmark spec (default: the one in --dataset's {MANIFEST})")
    parser.add_argument(
        "-o", "--output-dir", dest="out", required=True, type=Path, aliases=["--out"], help="the task folder to write"
    )
    return parser


def main(argv: list[str]) -> int:
    from .dimensions import BUILTIN_SPEC, SPEC_PATH, register_spec

    args = build_parser().parse_args(argv)
    try:
        spec_text = None
        if args.dataset is not None and looks_like_path(args.dataset) and not os.path.isdir(args.dataset):
            # tasks pointing at a folder that is not there would fail only when evaluated
            raise CogIPDataError(f"--dataset {args.dataset}: no such dataset folder (nor a Hub id: owner/name)")
        if args.spec is not None:
            spec = load_spec(args.spec)
            spec_text = read_user_text(args.spec, what="spec file")  # kept verbatim, through the one reader
        elif args.dataset is not None and is_local_folder(args.dataset):
            spec = manifest_spec(args.dataset)
            if spec is None:
                raise CogIPDataError(f"--dataset {args.dataset}: {MANIFEST} embeds no spec; give --spec")
        elif args.dataset is not None and not looks_like_path(args.dataset):  # a Hub id, perhaps @revision
            spec = hub_manifest_spec(args.dataset)
            if spec is None:
                raise CogIPDataError(
                    f"--dataset {args.dataset}: the Hub dataset holds no {MANIFEST} with a spec (not built by "
                    "cogip-upload build --spec?); give --spec"
                )
        else:
            raise CogIPError("give --spec SPEC.yaml, or --dataset a folder built by cogip-upload build --spec")
        spec = register_spec(spec)  # the built-in benchmark's name is reserved for it
        if args.dataset is None and spec != BUILTIN_SPEC:
            raise CogIPError(f"--dataset is needed: the spec {spec.name!r} is not the built-in benchmark")
        if spec == BUILTIN_SPEC and spec_text is None:
            spec_text = SPEC_PATH.read_text(encoding="utf-8")
        inputs = [p for p in (args.spec, args.dataset) if p is not None and os.path.exists(p)]
        check_outputs_apart([args.out], inputs)  # a task folder inside the dataset would change what it holds
        with output_lock(args.out, command="cogip-eval tasks write"):
            written = write_tasks(args.out, spec, args.dataset, spec_text)
    except (CogIPError, OSError) as err:
        return fail("cogip-eval tasks write", err)
    print(
        f"wrote {len(written)} files to {args.out}: tasks {', '.join(spec.task_names)}, group {spec.name}\n"
        f"run: lmms-eval --include_path {args.out} --tasks {spec.name} --model ... (or cogip-eval)"
    )
    return 0 if written else EXIT_FAILURE
