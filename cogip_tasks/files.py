"""Files CogIP takes from a user, and files and folders it writes.

Reading (:func:`read_user_bytes`, :func:`read_user_text`, :func:`read_user_json`, :func:`read_user_jsonl`): the
ONE reader for every file a user hands us (release files, manifests, lmms-eval outputs, submissions, prompt
lists, ``--test-ids``, images). It opens without blocking and refuses anything but a regular file at once (a
FIFO, ``/dev/zero``, a directory, a symlink to a device), reads at most a size cap, and decodes with bounds
(strict UTF-8, JSON nesting depth, integers over 4,300 digits, lone surrogates, repeated keys). Every refusal is
a :class:`UserFileError` (a :class:`~cogip_tasks.errors.CogIPError`) whose one-line message names the file.

Writing: a temporary file beside the target, then an atomic rename (:func:`atomic_write`), so a crash or a full
disk never leaves a half-written file, and the error names the path. An output folder is held by one process at
a time (:func:`output_lock`), and an output path is never an input (:func:`check_outputs_apart`).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import math
import os
import re
import socket
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from .errors import CogIPError

MAX_FILE_MB_ENV = "COGIP_MAX_FILE_MB"
DEFAULT_MAX_FILE_MB = 256  # larger than any CogIP file (a full run's samples are tens of MB), small enough to load
MAX_JSON_DEPTH = 64  # lmms-eval results nest about 6 deep; anything deeper is not a file we wrote or expect
_BLOCK = 1 << 20


class UserFileError(CogIPError, ValueError):
    """A file taken from a user that cannot be read as asked; the message names it. Nothing was changed."""


class WriteError(CogIPError, OSError):
    """Writing an output failed (a full disk, a permission); the message names the path. The target is as before."""

    def __str__(self) -> str:
        return str(self.args[-1]) if self.args else "write failed"  # (errno, message): the message


class OutputBusy(CogIPError, BlockingIOError):
    """Another process holds the output folder's lock; the message names it and the holder."""


class OutputNotFolder(CogIPError, ValueError):
    """An output folder's path names something else (a file)."""


class OutputIsInput(CogIPError, ValueError):
    """An output path is, holds or lies inside one of the command's inputs."""


def max_file_bytes() -> int:
    """The size cap on a file taken from a user: ``$COGIP_MAX_FILE_MB`` MiB, or :data:`DEFAULT_MAX_FILE_MB`."""
    raw = os.environ.get(MAX_FILE_MB_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_FILE_MB << 20
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise CogIPError(f"${MAX_FILE_MB_ENV}={raw[:40]!r}: expected a whole number of MiB, at least 1")
    return int(raw) << 20


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _open_regular(path: Path, what: str) -> int:
    """A read-only descriptor of ``path`` if it is a regular file (symlinks followed), else :class:`UserFileError`.

    ``O_NONBLOCK`` so that opening a FIFO returns at once instead of waiting for a writer; the type is checked on
    the opened descriptor (``fstat``), so a file swapped after a check cannot slip through.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UserFileError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise UserFileError(f"{path}: {what} is a folder, expected a regular file") from None
    except OSError as err:
        with contextlib.suppress(OSError):  # a socket cannot be opened at all: still say what it is
            if not stat.S_ISREG(mode := os.stat(path).st_mode):
                raise UserFileError(f"{path}: {what} is {_kind(mode)}, expected a regular file") from None
        raise UserFileError(f"{path}: cannot open {what} ({err.strerror or type(err).__name__})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UserFileError(f"{path}: {what} is {_kind(mode)}, expected a regular file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return fd


open_regular = _open_regular  # for readers that must seek (a Parquet footer): the same refusals, a descriptor


def _too_big(path: Path, what: str, cap: int) -> UserFileError:
    return UserFileError(
        f"{path}: {what} is larger than the {cap >> 20} MiB limit on files CogIP reads "
        f"(set ${MAX_FILE_MB_ENV} to raise it)"
    )


def read_user_bytes(path: str | Path, *, what: str = "file", max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file taken from a user, at most ``max_bytes`` (default :func:`max_file_bytes`).

    ``what`` names the file's role in messages (``"--test-ids file"``, ``"manifest"``).
    """
    path = Path(path)
    cap = max_file_bytes() if max_bytes is None else max_bytes
    fd = _open_regular(path, what)
    with os.fdopen(fd, "rb", buffering=0) as handle:
        if os.fstat(handle.fileno()).st_size > cap:
            raise _too_big(path, what, cap)
        chunks, size = [], 0
        try:
            while size <= cap:  # the stated size is only a hint: a growing file is still cut at the cap
                chunk = handle.read(min(_BLOCK, cap + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as err:
            raise UserFileError(f"{path}: cannot read {what} ({err.strerror or type(err).__name__})") from None
    if size > cap:
        raise _too_big(path, what, cap)
    return b"".join(chunks)


def decode_utf8(data: bytes, where: str) -> str:
    """``data`` as strict UTF-8 (a leading byte-order mark dropped); :class:`UserFileError` naming the byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserFileError(f"{where}: not UTF-8 text (byte {err.start}: {err.reason})") from None


def read_user_text(path: str | Path, *, what: str = "file", max_bytes: int | None = None) -> str:
    """A regular file taken from a user as strict UTF-8 text (see :func:`read_user_bytes`)."""
    return decode_utf8(read_user_bytes(path, what=what, max_bytes=max_bytes), f"{path}: {what}")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_repeats(where: str) -> Callable[[list[tuple[str, Any]]], dict]:
    def hook(pairs: list[tuple[str, Any]]) -> dict:
        result = dict(pairs)
        if len(result) != len(pairs):
            seen: set[str] = set()
            repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
            raise UserFileError(
                f"{where}: key {repeated[:80]!r} appears more than once in one object (which one counts?)"
            )
        return result

    return hook


def _check_tree(value: Any, where: str, max_depth: int) -> None:
    """Nesting depth and valid Unicode (no lone surrogate from a ``\\ud800`` escape), walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise UserFileError(f"{where}: a string holds a lone surrogate escape (\\ud800-\\udfff), not Unicode")
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise UserFileError(f"{where}: JSON nested too deeply (more than {max_depth} levels)")
            if isinstance(item, dict):
                stack.extend((k, depth) for k in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)


def parse_json(text: str, where: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Bounded JSON decoding: one line naming ``where`` for bad syntax, too deep nesting, integers over
    Python's 4,300-digit limit, lone surrogates and a key repeated in one object."""
    try:
        value = json.loads(text, object_pairs_hook=_refuse_repeats(where))
    except json.JSONDecodeError as err:
        raise UserFileError(
            f"{where}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); was it cut short?"
        ) from None
    except RecursionError:
        raise UserFileError(f"{where}: JSON nested too deeply (more than {max_depth} levels)") from None
    except ValueError as err:  # Python's int-string conversion limit (4,300 digits)
        if isinstance(err, UserFileError):
            raise
        raise UserFileError(f"{where}: a JSON number is too long ({str(err).split(';')[0]})") from None
    _check_tree(value, where, max_depth)
    return value


def read_user_json(
    path: str | Path, *, what: str = "JSON file", max_bytes: int | None = None, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """A regular JSON file taken from a user, decoded with bounds (:func:`parse_json`)."""
    text = read_user_text(path, what=what, max_bytes=max_bytes)
    return parse_json(text, f"{path}: {what}", max_depth=max_depth)


def read_user_jsonl(
    path: str | Path, *, what: str = "JSON-lines file", max_bytes: int | None = None, objects: bool = False
) -> list[Any]:
    """A JSON-lines file, one value per non-blank line (each a JSON object if ``objects``); an error names the
    file and the line."""
    data = read_user_bytes(path, what=what, max_bytes=max_bytes)
    values = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            where = f"{path}: line {number}"
            value = parse_json(decode_utf8(line, where), where)
            if objects and not isinstance(value, dict):
                raise UserFileError(f"{where}: expected a JSON object, found a {type(value).__name__}")
            values.append(value)
    return values


def _umask_mode() -> int:
    """The mode a plain ``open()`` would give a new file: 0666 less the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _write_error(path: Path, err: OSError) -> WriteError:
    reason = err.strerror or type(err).__name__
    if (
        isinstance(err.filename, str)
        and not err.filename.startswith(str(path.parent / f".{path.name}."))
        and err.filename != str(path)
    ):
        reason += f": {err.filename}"  # the folder that could not be made, say
    failed = WriteError(err.errno, f"{path}: cannot write ({reason}); the file there, if any, is unchanged")
    failed.filename = str(path)
    return failed


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(handle)`` on a temporary file next to ``path``, then rename it onto ``path``.

    The file gets the permissions an ordinary write would (the umask's), not ``mkstemp``'s private 0600:
    a leaderboard site or a dataset folder must stay readable by the web server or the team. An ``OSError``
    while writing (a full disk, a permission) becomes a :class:`WriteError` naming ``path``; the temporary file is
    removed and ``path`` keeps what it held before.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, _umask_mode())
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except WriteError:
        raise
    except OSError as err:
        raise _write_error(path, err) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)  # only still there when writing failed
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda handle: handle.write(data))


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (JSON null), in nested dicts, lists and tuples too: strict
    JSON readers (browsers, ``jq``, other languages) reject the ``NaN`` token Python would write."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """``data`` as indented UTF-8 JSON, written atomically; NaN and infinities become null (:func:`json_safe`)."""
    return write_text(path, json.dumps(json_safe(data), indent=1, ensure_ascii=False, allow_nan=False) + "\n")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in blocks (datasets and images can be large)."""
    digest = hashlib.sha256()
    with os.fdopen(_open_regular(Path(path), "file"), "rb") as handle:  # a FIFO or a device: refused, not hashed
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- output folders: one writer at a time, never over an input -------------------------------------------------


def lock_path(folder: str | Path) -> Path:
    """The lock file of an output folder: ``.<name>.cogip-lock`` beside it (so it survives the folder being
    replaced whole, and is never one of the folder's files)."""
    folder = Path(os.path.abspath(folder))
    return folder.parent / f".{folder.name}.cogip-lock"


def _holder_line(command: str) -> str:
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"pid {os.getpid()} on {socket.gethostname()} ({command}, since {started})"


@contextlib.contextmanager
def output_lock(folder: str | Path, *, command: str | None = None) -> Iterator[Path]:
    """Hold ``folder``'s exclusive lock for the block; a second holder fails at once with :class:`OutputBusy`
    naming the folder and the process that holds it (pid, host, command, start time).

    The lock is an OS file lock (``filelock``), so it is released when the process ends, even if killed. The lock
    file is removed when the block ends (before the lock is released, so a process waiting on the old file sees
    it gone and takes a new one), and so are the folders made to hold it, if nothing else was put there.
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputNotFolder(f"{folder}: exists and is not a folder; choose an output folder")
    path = lock_path(folder)
    made = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o666))  # filelock would report a failure here as "busy"
    except OSError as err:
        for parent in made:
            with contextlib.suppress(OSError):
                parent.rmdir()
        reason = err.strerror or type(err).__name__
        raise WriteError(
            err.errno, f"{folder}: cannot write there ({reason}: cannot create {path.name} beside it)"
        ) from None
    lock = FileLock(str(path), timeout=0)
    try:
        try:
            lock.acquire()
        except Timeout:
            try:
                holder = read_user_text(path, what="lock file", max_bytes=4096).strip() or "another process"
            except CogIPError:
                holder = "another process"
            raise OutputBusy(
                f"{folder}: in use by {holder}; wait for it to finish or choose another output folder"
            ) from None
        except OSError as err:
            raise _write_error(path, err) from None
        try:
            with contextlib.suppress(OSError), open(path, "r+", encoding="utf-8") as handle:
                handle.truncate(0)
                handle.write(_holder_line(command or Path(sys.argv[0]).name) + "\n")
            yield folder
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
            lock.release()
    finally:
        for parent in made:  # innermost first; only folders still empty (the command wrote nothing there)
            with contextlib.suppress(OSError):
                parent.rmdir()


def safe_relative(rel: object) -> bool:
    """True for a relative POSIX path that stays inside its folder (no ``..``, ``.``, backslash or absolute)."""
    if not isinstance(rel, str) or not rel or "\\" in rel:
        return False
    parts = PurePosixPath(rel).parts
    return not PurePosixPath(rel).is_absolute() and ".." not in parts and "." not in parts and rel == "/".join(parts)


def _resolved(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.expanduser(str(path))))


def _same_or_inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_outputs_apart(outputs: Iterable[str | Path], inputs: Iterable[str | Path]) -> None:
    """Refuse (:class:`OutputIsInput`) an output that is an input, lies inside an input folder, or is a folder
    holding an input (writing it would replace or remove the input). Links are resolved; two names of one file
    (a hard link) are caught too. Call it before anything is written."""
    ins = [(Path(i), _resolved(i)) for i in inputs if i is not None and str(i) != ""]
    for out in outputs:
        if out is None or str(out) == "":
            continue
        out_path, out_real = Path(out), _resolved(out)
        for in_path, in_real in ins:
            same = _same_or_inside(out_real, in_real)
            if not same:
                with contextlib.suppress(OSError):
                    same = os.path.samefile(out_real, in_real)
            if same:
                relation = "is" if out_real == in_real or not in_real.is_dir() else "lies inside"
                raise OutputIsInput(f"{out_path}: output {relation} the input {in_path}; choose another output path")
            if in_real != out_real and out_real in in_real.parents:
                raise OutputIsInput(
                    f"{out_path}: output folder holds the input {in_path} (it would be overwritten); "
                    "choose another output path"
                )
