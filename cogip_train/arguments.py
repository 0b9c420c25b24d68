"""``cogip-train``'s command line: TRL's ``TrlParser`` over the dataclasses of :mod:`cogip_train.config`.

The options, their defaults, choices and help come from :class:`~cogip_train.config.RunArguments`,
:class:`~cogip_train.config.TrainConfig` and :class:`~cogip_train.config.GRPOSettings` (``HfArgumentParser``'s
dataclass convention); :func:`resolve` layers the values as TRL's scripts do, plus our recipes:

    explicit flags  >  --config FILE (YAML)  >  --recipe NAME (for --model's family)  >  defaults

and records where each value came from (``--print-config`` prints it). Options this parser does not know are
``transformers.TrainingArguments`` (or TRL's ``GRPOConfig`` with ``--method grpo``) options passed through, e.g.
``--report-to tensorboard`` or ``adam_beta2: 0.95`` in a YAML file; they are resolved against that class only when
a run starts (:func:`trainer_overrides`), because importing it imports torch, and ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from trl.scripts.utils import TrlParser

from cogip_tasks.cli_style import CogIPArgumentParser, add_verbosity, example
from cogip_tasks.errors import CogIPError
from cogip_tasks.files import UserFileError, read_user_text

from .config import (
    ARGUMENT_CLASSES,
    GRPO_ONLY,
    LR_SCHEDULERS,
    RECIPE_DIR,
    SFT_ONLY,
    recipe_families,
    recipe_names,
    recipe_path,
    recipe_values,
)
from .rewards import parse_reward_weights

#: The largest learning rate accepted: Adam's step is ~lr per weight, so above 1 every weight moves by more
#: than its own scale each step; fine-tuning rates are 1e-6..1e-3. A typo (1e39, 1e4) is refused at once.
MAX_LEARNING_RATE = 1.0
MAX_EPOCHS = 1000.0
MAX_SEED = 2**32 - 1  # numpy's seed range, which the Trainer seeds too
#: A --config file larger than this is not a recipe.
MAX_CONFIG_BYTES = 1 << 20
SOURCES = ("default", "recipe", "config", "flag")
#: TrainingArguments options that cogip-train sets itself (``cogip_train.trainer.training_arguments``, TRL's
#: GRPOConfig in ``cogip_train.grpo``): passing one through would silently replace the run's own setting (and the
#: run identity and train_log.json would record the other value), so it is refused, naming what to use instead.
OWN_TRAINER_OPTIONS = {
    "bf16": "--dtype",
    "fp16": "--dtype",
    "warmup_ratio": "--warmup",
    "warmup_steps": "--warmup",
    "use_cpu": "--model-args device=cpu",
    "output_dir": "--output-dir",
    "per_device_train_batch_size": "--batch-size",
    "gradient_accumulation_steps": "--grad-accum",
    "num_train_epochs": "--epochs",
    "lr_scheduler_type": "--lr-scheduler",
    "gradient_checkpointing_kwargs": "--gradient-checkpointing",
    "save_strategy": "--save-steps",
    "seed": "--seed",
    "data_seed": "--seed",
    "resume_from_checkpoint": "--resume",
    "remove_unused_columns": "nothing (cogip-train's collator needs every column)",
    "average_tokens_across_devices": "--loss (the loss decides how tokens are averaged)",
}
#: Pass-through options that would publish the run (the Trainer pushes checkpoints, with their unscrubbed
#: training_args.bin, to the Hub): refused; publish a finished run's folder deliberately instead.
PUBLISHING_PREFIXES = ("push_to_hub", "hub_")
#: Pass-through options that name a JSON file the Trainer reads: read here, through the one reader of user files
#: (a FIFO or /dev/zero would hang it, a bad file would fail after the model loads), and passed on as a dict.
FILE_OPTIONS = ("deepspeed", "fsdp_config", "accelerator_config")


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
    right = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
    return f"{left}, {right}"


def ranged(
    kind: type,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    allowed: tuple = (),
) -> Callable[[str], float]:
    """An argparse ``type``: a finite ``kind`` (int or float) in the interval, or one of ``allowed``.

    ``float("1e39")`` and ``float("nan")`` parse; a learning rate of either is a typo, refused before the model
    loads rather than found as a NaN loss (or worse, a silently broken model) after it.
    """
    noun = "an integer" if kind is int else "a number"
    rule = " or ".join([f"{noun} in {_interval(low, high, low_open, high_open)}", *map(str, allowed)])

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
        if value in allowed:
            return value
        below = low is not None and (value < low or (low_open and value == low))
        above = high is not None and (value > high or (high_open and value == high))
        if not math.isfinite(value) or below or above:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    return parse


POSITIVE_INT = ranged(int, 1)
LEARNING_RATE = ranged(float, 0.0, MAX_LEARNING_RATE, low_open=True)


def reward_weights_type(text: str) -> dict[str, float]:
    """argparse ``type`` of ``--reward-weights`` (a bad value is argparse's one-line error, exit 2)."""
    try:
        return parse_reward_weights(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def nonempty(kind: type) -> Callable[[str], Any]:
    """An argparse ``type`` for a path or a value that names something: an empty or blank text is refused (an
    empty --output-dir would be the current folder, an empty --dataset the default dataset)."""

    def parse(text: str) -> Any:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"must not be empty, got {text!r}")
        return kind(text)

    return parse


#: Field -> the argparse ``type`` that checks it (the dataclasses give the plain type; these add the ranges).
CHECKS: dict[str, Callable[[str], Any]] = {
    "output_dir": nonempty(Path),
    "dataset": nonempty(str),
    "model_args": nonempty(str),
    "resume": nonempty(str),
    "max_samples": POSITIVE_INT,
    "min_pixels": POSITIVE_INT,
    "max_pixels": POSITIVE_INT,
    "eta": ranged(float, 0.0, 1.0),
    "lam": ranged(float, 0.0),
    "sigma": ranged(float, 0.0, low_open=True),
    "lora_rank": POSITIVE_INT,
    "lora_alpha": POSITIVE_INT,
    "lora_dropout": ranged(float, 0.0, 1.0, high_open=True),
    "learning_rate": LEARNING_RATE,
    "vision_lr": LEARNING_RATE,
    "merger_lr": LEARNING_RATE,
    "weight_decay": ranged(float, 0.0, 1.0),
    "epochs": ranged(float, 0.0, MAX_EPOCHS, low_open=True),
    "max_steps": ranged(int, 1, allowed=(-1,)),
    "batch_size": POSITIVE_INT,
    "grad_accum": POSITIVE_INT,
    "global_batch_size": POSITIVE_INT,
    "warmup": ranged(float, 0.0),
    "seed": ranged(int, 0, MAX_SEED),
    "save_steps": POSITIVE_INT,
    "save_total_limit": POSITIVE_INT,
    "logging_steps": POSITIVE_INT,
    "num_generations": ranged(int, 2),
    "max_completion_length": POSITIVE_INT,
    "temperature": ranged(float, 0.0, 100.0, low_open=True),
    "top_p": ranged(float, 0.0, 1.0, low_open=True),
    "beta": ranged(float, 0.0, 100.0),
    "miss_penalty": ranged(float, -1.0, 1.0),
    "reward_weights": reward_weights_type,
}

GROUPS = {
    "run": "run",
    "model": "model (lmms-eval's vocabulary)",
    "data": "data",
    "loss": "loss",
    "tune": "what to train",
    "optim": "optimisation",
    "output": "output",
    "grpo": "GRPO (--method grpo)",
}


def _hyphenated(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(n if not n.startswith("--") else "--" + n[2:].replace("_", "-") for n in names))


class _Options:
    """The container ``HfArgumentParser`` adds a field's option to: the names hyphenated (underscore spellings
    are accepted by :class:`CogIPArgumentParser` anyway), ``flag`` first, ``hidden`` names accepted but not shown,
    and the field's range check from :data:`CHECKS` as its ``type``."""

    def __init__(self, container: Any, parser: TrainArgumentParser):
        self.container, self.parser = container, parser

    def add_argument(self, *names: str, **kwargs: Any) -> argparse.Action:
        kwargs.pop("group", None)
        flag, hidden = kwargs.pop("flag", None), kwargs.pop("hidden", ())
        kwargs.setdefault("dest", names[0][2:])  # HfArgumentParser's first name is "--<field name>"
        shown = _hyphenated(names)
        if flag:  # --lambda for the field lam
            shown = [flag]
            kwargs.setdefault("metavar", flag[2:].upper())
        if kwargs.get("nargs") == "?" and "metavar" not in kwargs:  # HfArgumentParser's booleans: --merge [true]
            kwargs["metavar"] = "true|false" if kwargs.get("type") is not str else "PATH"
        self.parser.hidden_options.update(hidden)
        if kwargs.get("action") == "store_false":  # HfArgumentParser's --no-X complement of a boolean
            kwargs["help"] = f"do not: {kwargs.get('help') or shown[0][5:]}"
        shown.sort(key=lambda name: name.startswith("--"))  # -o, --output-dir
        action = self.container.add_argument(*shown, *hidden, **kwargs)
        if action.dest in CHECKS and action.nargs != 0:
            action.type = CHECKS[action.dest]
        return action


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Defaults shown one way, ``(default: X)``, for every option that has one; hidden aliases not shown."""

    hidden: frozenset[str] = frozenset()

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and action.nargs != 0
            and not (default is None or default is False or default == argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown = [o for o in action.option_strings if o not in self.hidden]
        if shown == action.option_strings:
            return super()._format_action_invocation(action)
        visible = copy.copy(action)
        visible.option_strings = shown
        return super()._format_action_invocation(visible)


class TrainArgumentParser(TrlParser, CogIPArgumentParser):
    """TRL's parser of dataclasses with CogIP's flag style: hyphenated options (underscore spellings accepted),
    help sections from each field's ``group``, and a usage error as the one line ``cogip-train: error: ...``
    (exit 2)."""

    def __init__(self, **kwargs: Any):
        self.hidden_options: set[str] = set()
        self._groups: dict[str, Any] = {}
        super().__init__(dataclass_types=list(ARGUMENT_CLASSES), formatter_class=HelpFormatter, **kwargs)

    def _add_dataclass_arguments(self, dtype: type) -> None:
        hints = get_type_hints(dtype)
        for item in dataclasses.fields(dtype):
            item.type = hints[item.name]
            title = GROUPS[item.metadata.get("group", "run")]
            if title not in self._groups:
                self._groups[title] = self.add_argument_group(title)
            self._parse_dataclass_field(_Options(self._groups[title], self), item)

    def _get_formatter(self) -> argparse.HelpFormatter:
        formatter = super()._get_formatter()
        formatter.hidden = frozenset(self.hidden_options)
        return formatter

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


OneLineParser = TrainArgumentParser  # the name other modules knew


def recipes_help() -> str:
    lines = [f"recipes (--recipe NAME: the file <NAME>/<--model>.yaml, else <NAME>/default.yaml, in {RECIPE_DIR}):"]
    lines += [f"  {name}: {', '.join(recipe_families(name))}" for name in recipe_names()]
    return "\n".join(lines)


def build_parser(description: str | None = None) -> TrainArgumentParser:
    parser = TrainArgumentParser(
        prog="cogip-train",
        description=description,
        epilog=recipes_help()
        + "\n\nconfig files (--config FILE): YAML mapping of these options' names (underscores) to values, as "
        "a recipe file; other keys are TrainingArguments options, passed through like unknown flags "
        "(e.g. --report-to tensorboard --adam-beta2 0.95).\n\n"
        + example(
            "cogip-train --recipe paper --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct "
            "-o runs/qwen7b --merge",
            "cogip-train configs   # the accelerate launcher configs shipped with CogIP",
        ),
    )
    recipe = next(a for a in parser._actions if a.dest == "recipe")
    recipe.choices = recipe_names()
    # Handled by resolve() before parsing (as TrlParser does); declared so that --help lists it.
    parser.add_argument("--config", metavar="FILE", help="YAML file of settings (see below); flags override them")
    add_verbosity(parser)  # -q: the Trainer's --disable-tqdm too; -v: its --log-level debug (cli.main)
    return parser


# ---------------------------------------------------------------------------------------------------------------
# Resolution: defaults < recipe < config file < flags, with the source of every value.


@dataclass
class Resolved:
    """The parsed command line: ``args`` (a flat namespace of every option), ``sources`` (option -> one of
    :data:`SOURCES`), and the trainer options passed through (``trainer_args``: argument strings in precedence
    order; ``trainer_sources``: option name -> source)."""

    args: argparse.Namespace
    sources: dict[str, str]
    trainer_args: list[str] = field(default_factory=list)
    trainer_sources: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # "recipe"/"config" -> the file read


_UNSET = object()


def _take_config(argv: list[str], parser: argparse.ArgumentParser) -> tuple[list[str], str | None]:
    """``argv`` without ``--config FILE`` (or ``--config=FILE``), and FILE."""
    rest, found = [], []
    it = iter(range(len(argv)))
    for i in it:
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        if arg == "--config":
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                parser.error("argument --config: expected one argument")
            found.append(argv[i + 1])
            next(it, None)
        elif arg.startswith("--config="):
            found.append(arg.partition("=")[2])
        else:
            rest.append(arg)
    if len(found) > 1:
        parser.error("argument --config: given more than once")
    return rest, (found[0] if found else None)


MAX_YAML_NODES = 100_000
MAX_YAML_INT_BITS = 14_000  # about 4,200 decimal digits


def _nodes(data: Any) -> int:
    """Values in a loaded YAML document, each alias counted at every use; stops counting past the limit."""
    count, stack = 0, [data]
    while stack and count <= MAX_YAML_NODES:
        item = stack.pop()
        count += 1
        if isinstance(item, int) and item.bit_length() > MAX_YAML_INT_BITS:
            raise ValueError("an integer longer than 4,300 digits")  # not even printable (Python's limit)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return count


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """A YAML file's top-level mapping, or one :class:`CogIPError` line naming the file."""
    import yaml

    path = Path(path)
    try:  # the one reader of user files: a regular file (a FIFO or /dev/zero refused at once) under the cap
        text = read_user_text(path, what="file", max_bytes=MAX_CONFIG_BYTES)
    except UserFileError as err:
        raise CogIPError(f"{what} {err}") from None
    try:
        data = yaml.safe_load(text)
    except (RecursionError, ValueError, yaml.YAMLError) as err:  # ValueError: an int past Python's 4,300 digits
        raise CogIPError(f"{what} {path}: cannot read it: {' '.join(str(err).split())[:300]}") from None
    if data is None:
        return {}
    try:
        nodes = _nodes(data)
    except ValueError as err:
        raise CogIPError(f"{what} {path}: {err}") from None
    if nodes > MAX_YAML_NODES:  # anchors and aliases (a "billion laughs") would expand when used
        raise CogIPError(f"{what} {path}: more than {MAX_YAML_NODES} values once its aliases are expanded")
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise CogIPError(f"{what} {path}: not a YAML mapping of option names to values")
    return data


def _actions_by_name(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Every name an option answers to (``lambda``, ``lam``, ``num_train_epochs``, ...) -> its action."""
    names = {}
    for action in parser._actions:
        if action.nargs == 0 or not action.option_strings or action.dest in ("help", "config"):
            continue  # store_false complements (--no-...) and --help
        names[action.dest] = action  # the dataclass field's name, as TRL's YAML files use
        for option in action.option_strings:
            if option.startswith("--"):
                names[option[2:].replace("-", "_")] = action
    return names


def _checked(action: argparse.Action, value: Any, origin: str, key: str) -> Any:
    """A value from a YAML file for ``action``, checked and converted as the same text on the command line."""
    if value is None:
        if action.default is None:
            return None
        raise CogIPError(f"{origin}: field {key!r}: null is not allowed (default {action.default!r})")
    if action.const is True and value is True:  # --resume: true
        return True
    if isinstance(value, (dict, list)):
        raise CogIPError(f"{origin}: field {key!r}: expected a single value, got {value!r}")
    text = value if isinstance(value, str) else (str(value).lower() if isinstance(value, bool) else str(value))
    try:
        converted = action.type(text) if callable(action.type) else text
    except (argparse.ArgumentTypeError, TypeError, ValueError) as err:
        raise CogIPError(f"{origin}: field {key!r}: {err}") from None
    if action.choices is not None and converted not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise CogIPError(f"{origin}: field {key!r}: {value!r} is not one of {choices}")
    return converted


def _as_arguments(key: str, value: Any) -> list[str]:
    """A passed-through YAML entry as command-line strings (lists become several values)."""
    option = "--" + key.replace("_", "-")
    if isinstance(value, list):
        return [option, *map(str, value)]
    if isinstance(value, bool):
        return [option, str(value).lower()]
    return [option, str(value)]


def _given(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The options given on the command line (dest -> value) and the strings our parser does not know."""
    parser = build_parser()
    for action in parser._actions:
        if action.dest != "help":
            action.default, action.required = _UNSET, False
    namespace, rest = parser.parse_known_args(argv)
    return {k: v for k, v in vars(namespace).items() if v is not _UNSET}, rest


def resolve(argv: Sequence[str] | None = None, description: str | None = None) -> Resolved:
    """Parse ``argv`` (default ``sys.argv[1:]``): usage errors exit 2 (one line), a bad ``--config`` or recipe
    file raises :class:`CogIPError` naming the file, field and value."""
    import sys

    parser = build_parser(description)
    argv, config_file = _take_config(list(sys.argv[1:] if argv is None else argv), parser)
    parser.parse_known_args(argv)  # --help, and a bad flag value: exit before any file is read
    given, rest = _given(argv)
    config = read_yaml_mapping(config_file, "--config") if config_file else {}
    env = config.pop("env", {})  # as TRL's --config: environment variables to set
    if not isinstance(env, dict):
        raise CogIPError(f"--config {config_file}: 'env' must be a mapping of variable names to values")

    names = _actions_by_name(parser)
    model = given.get("model", config.get("model", parser.get_default("model")))
    recipe = given.get("recipe", config.get("recipe"))
    layers: list[tuple[str, dict[str, Any], str]] = []
    files = {}
    if recipe is not None:
        try:
            path = recipe_path(str(recipe), str(model))
        except ValueError as err:
            parser.error(f"argument --recipe: {err}")
        layers.append(("recipe", recipe_values(str(recipe), str(model)), f"recipe {path}"))
        files["recipe"] = str(path)
    if config_file:
        layers.append(("config", config, f"--config {config_file}"))
        files["config"] = config_file

    sources = {a.dest: "default" for a in names.values()}
    trainer_args: list[str] = []
    trainer_sources: dict[str, str] = {}
    for source, values, origin in layers:
        for key, value in values.items():
            action = names.get(key.replace("-", "_"))
            if action is None:
                trainer_args += _as_arguments(key, value)
                trainer_sources[key.replace("-", "_")] = source
                continue
            parser.set_defaults(**{action.dest: _checked(action, value, origin, key)})
            sources[action.dest] = source
    args, _ = parser.parse_known_args(argv)
    if not args.print_config:
        missing = [f"--{d.replace('_', '-')}" for d in ("model_args", "output_dir") if getattr(args, d) is None]
        if missing:
            parser.error(f"the following arguments are required: {', '.join(missing)}")
    for dest in given:
        sources[dest] = "flag"
    for arg in rest:
        if arg.startswith("--") and len(arg) > 2:
            trainer_sources[arg[2:].partition("=")[0].replace("-", "_")] = "flag"
    trainer_args += rest
    for key, value in env.items():
        os.environ[str(key)] = str(value)
    return Resolved(args, sources, trainer_args, trainer_sources, files)


def trainer_overrides(resolved: Resolved, trainer_class: type, *, installed: bool = True) -> dict[str, Any]:
    """The passed-through options as keyword arguments of ``trainer_class`` (``TrainingArguments`` or TRL's
    ``GRPOConfig``), parsed by ``HfArgumentParser`` against its fields: an unknown option or a bad value is a
    usage error (exit 2); an option cogip-train sets from its own flag is refused, naming that flag."""
    if not resolved.trainer_args:
        return {}
    from transformers import HfArgumentParser

    error = build_parser().error  # one line, exit 2
    for arg in resolved.trainer_args:
        name = arg[2:].partition("=")[0].replace("-", "_") if arg.startswith("--") else None
        if name in OWN_TRAINER_OPTIONS:
            error(f"argument --{name.replace('_', '-')}: set by cogip-train; use {OWN_TRAINER_OPTIONS[name]}")
        if name is not None and name.startswith(PUBLISHING_PREFIXES):
            error(
                f"argument --{name.replace('_', '-')}: cogip-train does not push to the Hub (the Trainer would "
                "publish every checkpoint as it is, arguments included); upload the finished run yourself"
            )
    parser = HfArgumentParser(trainer_class, prog="cogip-train")
    parser.error = error
    for action in parser._actions:
        if action.dest != "help":
            action.default, action.required = _UNSET, False
    namespace, unknown = parser.parse_known_args(resolved.trainer_args)
    if unknown:
        what = f"neither a cogip-train nor a {trainer_class.__name__} option"
        names = [a[2:].partition("=")[0].replace("-", "_") for a in unknown if a.startswith("--")]
        sources = {resolved.trainer_sources.get(n) for n in names}
        origin = [resolved.files[s] for s in ("config", "recipe") if s in sources and s in resolved.files]
        where = f"; from {', '.join(origin)}" if origin else ""
        error(f"unrecognized arguments: {' '.join(unknown)} ({what}{where})")
    overrides = {k: v for k, v in vars(namespace).items() if v is not _UNSET}
    if "report_to" in overrides:
        overrides["report_to"] = _report_to(overrides["report_to"], error, installed)
    for name in FILE_OPTIONS:
        if isinstance(overrides.get(name), str):
            overrides[name] = _json_option(name, overrides[name])
    return overrides


def _report_to(value: Any, error: Callable[[str], Any], installed: bool = True) -> Any:
    """``--report-to``: integrations the Trainer knows and that are installed, checked before the model loads
    (the Trainer checks only when it is built); ``all`` is refused: it would report to every installed service,
    online ones included, without naming them."""
    from transformers.integrations import get_available_reporting_integrations
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    names = [value] if isinstance(value, str) else list(value or [])
    names = [n.strip() for name in names for n in str(name).split(",") if n.strip()]
    for name in names:
        if name == "all":
            error("argument --report-to: 'all' would report to every installed integration; name them")
        if name != "none" and name not in INTEGRATION_TO_CALLBACK:
            known = ", ".join([*sorted(INTEGRATION_TO_CALLBACK), "none"])
            error(f"argument --report-to: {name[:60]!r} is not an integration ({known})")
        if installed and name != "none" and name not in get_available_reporting_integrations():
            error(f"argument --report-to: {name!r} is not installed")
    return names if len(names) != 1 else names[0]


def _json_option(name: str, value: str) -> dict:
    """A passed-through option naming a JSON file (``--deepspeed ds.json``), or inline JSON: the mapping, read by
    the one reader of user files; the Trainer gets the dict and never opens the file itself."""
    from cogip_tasks.files import parse_json, read_user_json

    flag = f"--{name.replace('_', '-')}"
    try:
        data = (
            parse_json(value, f"{flag} (inline JSON)")
            if value.lstrip().startswith("{")
            else read_user_json(value, what=f"{flag} file")
        )
    except CogIPError as err:
        raise CogIPError(f"{flag}: {err}") from None
    if not isinstance(data, dict):
        raise CogIPError(f"{flag} {value}: expected a JSON object, found a {type(data).__name__}")
    return data


def print_config(resolved: Resolved, trainer_class: type | None = None) -> str:
    """Every resolved setting as JSON: ``{"settings": {name: {"value", "source"}}, "trainer": {...}, "files"}``."""
    import json

    from cogip_tasks.model_args import argv_secrets, mask_text

    from .outputs import shareable_options

    args = vars(resolved.args)
    settings = {
        dest: {"value": _plain(args[dest]), "source": resolved.sources.get(dest, "default")}
        for dest in args
        if dest not in ("config", "print_config")
    }
    trainer = {}
    if trainer_class is not None:
        trainer = {
            name: {"value": _plain(value), "source": resolved.trainer_sources.get(name, "flag")}
            for name, value in shareable_options(trainer_overrides(resolved, trainer_class, installed=False)).items()
        }
    text = json.dumps({"settings": settings, "trainer": trainer, "files": resolved.files}, indent=2)
    # a --config file's model_args may hold a credential the console masking (argv only) does not know
    return mask_text(text, argv_secrets(["--model-args", str(args.get("model_args") or "")]))


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, (int, float, str, bool)):  # enums
        return value.value
    return value


__all__ = [
    "CHECKS",
    "LEARNING_RATE",
    "LR_SCHEDULERS",
    "MAX_EPOCHS",
    "MAX_LEARNING_RATE",
    "MAX_SEED",
    "POSITIVE_INT",
    "Resolved",
    "TrainArgumentParser",
    "build_parser",
    "print_config",
    "ranged",
    "resolve",
    "reward_weights_type",
    "trainer_overrides",
]


# Checks across options: pure, so the rules are tested directly (cogip_train.cli turns a problem into exit 2).

#: Sources of a value the user chose for this run (a recipe's values are consistent by construction).
USER_SOURCES = ("flag", "config")


def _flag(dest: str) -> str:
    return "--lambda" if dest == "lam" else "--" + dest.replace("_", "-")


def is_test_split(split: str) -> bool:
    """A split named like the benchmark's test split (``test``, ``test_full``, ``TEST``, ``test[:10%]``, ...)."""
    return "test" in split.lower()


def option_problems(args: argparse.Namespace, sources: Mapping[str, str], processes: int = 1) -> list[str]:
    """What is wrong with a combination of options, one line each (empty: nothing).

    - an option of the other ``--method`` set by the user (it would be ignored: SFT's loss options and
      ``--global-batch-size`` under GRPO, the GRPO options under SFT);
    - ``--grad-accum`` and ``--global-batch-size`` both set by the user and disagreeing (the global batch size
      would silently win);
    - a test split without ``--allow-test-split`` (training on the benchmark's test items makes its scores
      meaningless).
    """
    problems = []
    chosen = {dest for dest, source in sources.items() if source in USER_SOURCES}
    other = GRPO_ONLY if args.method == "sft" else SFT_ONLY
    ignored = [_flag(dest) for dest in other if dest in chosen]
    if ignored:
        problems.append(
            f"{', '.join(ignored)}: not used by --method {args.method} (they belong to --method "
            f"{'grpo' if args.method == 'sft' else 'sft'}); drop them"
        )
    if args.method == "sft" and {"grad_accum", "global_batch_size"} <= chosen and args.global_batch_size is not None:
        implied = args.global_batch_size / (args.batch_size * processes)
        if implied != args.grad_accum:
            problems.append(
                f"--grad-accum {args.grad_accum} and --global-batch-size {args.global_batch_size} disagree (with "
                f"--batch-size {args.batch_size} x {processes} process(es) it means --grad-accum {implied:g}); "
                "give one of them"
            )
    if is_test_split(str(args.split)) and not args.allow_test_split:
        problems.append(
            f"--split {args.split}: a test split; training on it makes the benchmark's scores meaningless "
            "(--allow-test-split if that is really meant)"
        )
    return problems
