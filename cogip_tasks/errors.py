"""One error base class and one exit-status policy for every CogIP command.

Every CogIP CLI (cogip-eval, cogip-upload, cogip-train, cogip-gen, cogip-leaderboard) exits with

- 0 when it did what was asked;
- 1 on bad input or a failed run: one line on stderr, ``<prog>: error: <message>``, naming the file, field or
  value, never a traceback (a rejected leaderboard submission, a refused push and a ``--strict`` audit with open
  findings are failures too);
- 2 on a command-line usage error (argparse's own message);
- 130 when interrupted (Ctrl-C).

Errors meant for the user derive from :class:`CogIPError`; the one entry wrapper of every command
(:mod:`cogip_tasks.entry`) catches it (and ``OSError``: a full disk, a permission, a path that is a file) and
reports it with :func:`fail`.
"""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CogIPError(Exception):
    """An error a CogIP command reports as one line and exit status 1 (bad input or a run that cannot go on)."""


def one_line(err: BaseException | str, limit: int = 2000) -> str:
    """The message on one line (multi-line library messages collapsed), cut at ``limit`` characters."""
    text = " ".join(str(err).split()) or (type(err).__name__ if isinstance(err, BaseException) else "")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(prog: str, err: BaseException | str) -> int:
    """Print ``<prog>: error: <message>`` on stderr and return :data:`EXIT_FAILURE`."""
    print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
    return EXIT_FAILURE
