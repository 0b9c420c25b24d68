"""One flag style for every CogIP command: hyphens (``--output-dir``), the underscore spelling accepted too.

lmms-eval writes its options with underscores (``--model_args``, ``--batch_size``, ``--output_path``,
``--gen_kwargs``), so people type them that way. :class:`CogIPArgumentParser` defines and shows each option once,
hyphenated, and rewrites an underscore spelling of a known option (``--batch_size 4``, ``--gen_kwargs=...``)
before argparse sees it. Subcommand parsers made by ``add_subparsers`` are of the same class, so they accept
both spellings too. ``cogip-eval`` is the exception: it hands its arguments to lmms-eval unchanged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

UNDERSCORE_NOTE = "Options are written with hyphens (--output-dir); the underscore spelling (--output_dir) works too."


def hyphenate(option: str) -> str:
    """``"--output_dir"`` -> ``"--output-dir"`` (the name only: a value after ``=`` is kept as typed)."""
    if not option.startswith("--") or option == "--":
        return option
    name, sep, value = option.partition("=")
    return "--" + name[2:].replace("_", "-") + sep + value


class CogIPArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that defines long options hyphenated and accepts their underscore spelling."""

    def __init__(self, *args, **kwargs) -> None:
        epilog = kwargs.get("epilog")
        kwargs["epilog"] = f"{epilog}\n\n{UNDERSCORE_NOTE}" if epilog else UNDERSCORE_NOTE
        super().__init__(*args, **kwargs)

    def add_argument(self, *names: str, **kwargs):
        # "--output_dir" and "--output-dir" are one option, shown once; dest stays "output_dir" either way.
        if names and names[0][:1] in self.prefix_chars:
            names = tuple(dict.fromkeys(hyphenate(n) for n in names))
        return super().add_argument(*names, **kwargs)

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
            out.append(self._normalise(arg, known) if arg.startswith("--") else arg)
        return out

    def parse_known_args(self, args: Sequence[str] | None = None, namespace=None):
        # Subcommand parsers are called with their own remaining arguments: each normalises its own options.
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(self.normalise_args(args), namespace)
