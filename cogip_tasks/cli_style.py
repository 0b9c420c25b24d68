"""One flag style for every CogIP command: hyphens (``--output-dir``), the underscore spelling accepted too.

The vocabulary (docs/design.md, "One flag vocabulary"): ``-o/--output-dir`` for the folder a command writes,
``-o/--output`` for the one file it writes, inputs named by what they are (``--dataset``, ``--release``,
``--images``); ``-q/--quiet`` and ``-v/--verbose`` everywhere; defaults shown by the formatter as
``(default: X)``, never by hand; every (sub)command's help ends with an example. Renamed options keep working
for one release as hidden aliases (``aliases=`` of :meth:`CogIPArgumentParser.add_argument`), with a note.

lmms-eval writes its options with underscores (``--model_args``, ``--batch_size``, ``--output_path``,
``--gen_kwargs``), so people type them that way. :class:`CogIPArgumentParser` defines and shows each option once,
hyphenated, and rewrites an underscore spelling of a known option (``--batch_size 4``, ``--gen_kwargs=...``)
before argparse sees it. Subcommand parsers made by ``add_subparsers`` are of the same class, so they accept
both spellings too. ``cogip-eval`` is the exception: it hands its arguments to lmms-eval unchanged.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

UNDERSCORE_NOTE = "Options are written with hyphens (--output-dir); the underscore spelling (--output_dir) works too."


class CogIPHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (examples keep their lines); every option that has a default shows
    it one way, ``(default: X)``. Flags (``store_true``) and options without a default show none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "(default" in text
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or default in ([], (), "")
            or action.nargs == 0
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def plain(text: str | None) -> str | None:
    """Help text for a terminal: docstring markup (``code``) shown as plain text."""
    return None if text is None else text.replace("``", "")


def hyphenate(option: str) -> str:
    """``"--output_dir"`` -> ``"--output-dir"`` (the name only: a value after ``=`` is kept as typed)."""
    if not option.startswith("--") or option == "--":
        return option
    name, sep, value = option.partition("=")
    return "--" + name[2:].replace("_", "-") + sep + value


class CogIPArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that defines long options hyphenated and accepts their underscore spelling."""

    def __init__(self, *args, **kwargs) -> None:
        epilog = plain(kwargs.get("epilog"))
        kwargs["epilog"] = f"{epilog}\n\n{UNDERSCORE_NOTE}" if epilog else UNDERSCORE_NOTE
        kwargs["description"] = plain(kwargs.get("description"))
        kwargs.setdefault("formatter_class", CogIPHelpFormatter)
        super().__init__(*args, **kwargs)
        self._renamed: dict[str, str] = {}  # old spelling -> current option (hidden aliases)

    def error(self, message: str):
        """A usage error is one line, ``<prog>: error: <message> (see <prog> --help)``, exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def add_argument(self, *names: str, aliases: Sequence[str] = (), **kwargs):
        """``add_argument`` with hyphenated long options; ``aliases``: old spellings accepted (with a note on
        stderr) but not shown in ``--help``."""
        # "--output_dir" and "--output-dir" are one option, shown once; dest stays "output_dir" either way.
        if names and names[0][:1] in self.prefix_chars:
            names = tuple(dict.fromkeys(hyphenate(n) for n in names))
        if "help" in kwargs and kwargs["help"] is not argparse.SUPPRESS:
            kwargs["help"] = plain(kwargs["help"])
        action = super().add_argument(*names, **kwargs)
        for old in aliases:
            self.add_alias(old, max(action.option_strings, key=len))
        return action

    def add_alias(self, old: str, current: str) -> None:
        """Accept ``old`` (a renamed option's earlier spelling) as ``current``, hidden from ``--help``."""
        self._renamed[hyphenate(old)] = current

    def _rename(self, arg: str) -> str:
        name, sep, value = arg.partition("=")
        current = self._renamed.get(hyphenate(name))
        if current is None:
            return arg
        # argparse's own wording for deprecated options (Python 3.13), under the command's name
        print(f"{self.prog.split()[0]}: warning: option '{name}' is deprecated; use '{current}'", file=sys.stderr)
        return current + sep + value

    def _normalise(self, arg: str, known: dict[str, str]) -> str:
        name, sep, value = arg.partition("=")
        if name in self._option_string_actions or "_" not in name:
            return arg
        canonical = known.get(hyphenate(name))
        if canonical is None and self.allow_abbrev:  # an unambiguous prefix, as argparse allows for hyphens
            matches = {c for h, c in known.items() if h.startswith(hyphenate(name))}
            canonical = matches.pop() if len(matches) == 1 else None
        return canonical + sep + value if canonical else arg

    def normalise_args(self, args: Sequence[str]) -> list[str]:
        """``args`` with underscore spellings of this parser's long options hyphenated (up to a bare ``--``)."""
        known = {hyphenate(o): o for o in self._option_string_actions if o.startswith("--")}
        out: list[str] = []
        for i, arg in enumerate(args):
            if arg == "--":
                return out + list(args[i:])
            out.append(self._normalise(self._rename(arg), known) if arg.startswith("--") else arg)
        return out

    def parse_known_args(self, args: Sequence[str] | None = None, namespace=None):
        # Subcommand parsers are called with their own remaining arguments: each normalises its own options.
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(self.normalise_args(args), namespace)


#: Progress bars off: tqdm's own switch, and those of datasets and huggingface_hub (read when they are imported).
PROGRESS_ENV = ("TQDM_DISABLE", "HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS")


def apply_verbosity(args: argparse.Namespace) -> None:
    """``--quiet``: no progress bars, ours or the libraries'; ``--verbose``: CogIP's debug log (``cogip``
    logger: e.g. why a metric is undefined). Call before the libraries are imported."""
    if getattr(args, "quiet", False):
        for var in PROGRESS_ENV:
            os.environ[var] = "1"
    if getattr(args, "verbose", False):
        logging.basicConfig(format="%(name)s: %(message)s")
        logging.getLogger("cogip").setLevel(logging.DEBUG)


def add_verbosity(parser: CogIPArgumentParser, quiet_aliases: Sequence[str] = ()) -> None:
    """``-q/--quiet`` (no progress bars) and ``-v/--verbose`` (debug logging); ``quiet_aliases``: the earlier
    spellings of --quiet (e.g. ``--no-progress``)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    group.add_argument("-v", "--verbose", action="store_true", help="more detail: debug logging")
    for old in quiet_aliases:
        parser.add_alias(old, "--quiet")


def example(*commands: str) -> str:
    """An epilog that ends a help text with working examples."""
    return "example:\n" + "\n".join(f"  {c}" for c in commands)
