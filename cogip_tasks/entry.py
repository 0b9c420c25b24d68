"""The one entry wrapper of every CogIP command: how a run ends, whatever happens inside it.

Each console script's ``main`` is decorated with :func:`entry_point`, which gives all six commands one policy
(the exit statuses of :mod:`cogip_tasks.errors`), and never a traceback on the console:

- ``CogIPError`` or ``OSError`` (bad input, a full disk, a permission): ``<prog>: error: <message>``, exit 1;
- Ctrl-C (``KeyboardInterrupt``) or SIGTERM: one line saying what was interrupted, what was kept and how to
  resume where a command can, exit 130. SIGTERM is turned into the same exception, so the code that cleans up
  after Ctrl-C (temporary files removed, a training log written) runs for both;
- anything else: one line naming the command, the error and the report file that holds the full traceback
  (``$COGIP_REPORT_DIR``, else ``<tmp>/cogip-reports``), exit 1.

The wrapper is the last line of defence, not a substitute for checking input where it enters.
"""

from __future__ import annotations

import functools
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from . import __version__
from .errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, CogIPError, fail, one_line
from .files import max_file_bytes
from .model_args import masked_console

REPORT_DIR_ENV = "COGIP_REPORT_DIR"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds exactly as after Ctrl-C."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; elsewhere nothing changes)."""

    def handler(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def report_dir() -> Path:
    return Path(os.environ.get(REPORT_DIR_ENV) or Path(tempfile.gettempdir()) / "cogip-reports")


def console_secrets(argv: list[str]) -> list[str]:
    """$HF_TOKEN and what ``argv`` holds that must not be echoed (:func:`cogip_tasks.model_args.argv_secrets`:
    model-args values a published file would drop, values of credential-named options, token-shaped strings)."""
    from .model_args import argv_secrets

    secrets = [os.environ.get("HF_TOKEN", ""), *argv_secrets(argv)]
    return sorted({s for s in secrets if s}, key=len, reverse=True)


def _masked(text: str, argv: list[str]) -> str:
    from .model_args import mask_text

    return mask_text(text, console_secrets(argv))


def write_report(prog: str, err: BaseException, argv: list[str]) -> Path:
    """The full traceback of an unexpected error in a new file (readable by its owner only); its path.

    Option values are not recorded (a ``--model_args`` may hold a credential): only the option names are.
    """
    folder = report_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = folder / f"{prog}-{stamp}-{os.getpid()}.txt"
    options = " ".join(a.partition("=")[0] for a in argv if a.startswith("-"))
    text = (
        f"command: {prog} (options: {options or 'none'}; values not recorded)\n"
        f"cogip {__version__}, Python {platform.python_version()}, {platform.platform()}\n\n"
        + "".join(traceback.format_exception(type(err), err, err.__traceback__))
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
        f.write(_masked(text, argv))
    return path


def unexpected(prog: str, err: BaseException, argv: list[str]) -> int:
    """One line naming the command, the error and the report file; exit status 1."""
    what = f"{type(err).__name__}: {one_line(_masked(str(err), argv), 300)}".rstrip(": ")
    try:
        where = f"full report: {write_report(prog, err, argv)}"
    except OSError as report_err:
        where = f"no report written ({one_line(report_err, 200)})"
    print(f"{prog}: error: unexpected {what} ({where}); please report it", file=sys.stderr)
    return EXIT_FAILURE


def interrupted(prog: str, err: KeyboardInterrupt, note: str) -> int:
    """One line: what was interrupted and what was kept (``note``); exit status 130."""
    how = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted"
    print(f"{prog}: {how}; {note}", file=sys.stderr)
    return EXIT_INTERRUPTED


def entry_point(prog: str, on_interrupt: str) -> Callable[[Callable[..., int | None]], Callable[..., int]]:
    """Decorate a command's ``main(argv=None)`` with the policy above; the result returns the exit status.

    ``on_interrupt`` says what an interrupted run kept and how to resume (e.g. "checkpoints in --output-dir are
    kept; continue with the same command and --resume"). ``SystemExit`` (argparse's usage errors, exit 2) passes
    through unchanged.
    """

    def decorate(main: Callable[..., int | None]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            args = sys.argv[1:] if argv is None else list(argv)
            # every line the command prints, usage errors and libraries' output included, masks its secrets
            with sigterm_as_interrupt(), masked_console(console_secrets(args)):
                try:
                    if not {"-h", "--help"} & set(args):
                        max_file_bytes()  # a bad $COGIP_MAX_FILE_MB is refused at once, whatever reads files later
                    code = main(argv)
                except (CogIPError, OSError) as err:
                    return fail(prog, err)
                except KeyboardInterrupt as err:
                    return interrupted(prog, err, on_interrupt)
                except Exception as err:
                    return unexpected(prog, err, args)
            return EXIT_OK if code is None else code

        return run

    return decorate
