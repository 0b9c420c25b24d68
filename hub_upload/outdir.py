"""The output folder: what a build owns in it, how a new build replaces it, and a killed build's leftovers.

A build owns exactly the files its manifest (``cogip_build.json``) lists, plus the manifest. Anything else in
``--output-dir`` (``.git/``, ``.gitattributes``, the user's notes) is foreign: the build refuses, naming it, unless
``--force``, and even then foreign files are never deleted or overwritten -- ``--force`` only lets the build
replace its own files beside them (a git clone of the published dataset can be rebuilt in place and diffed).
Foreign files under ``data/`` are refused even with ``--force``: the configs' globs would read them as rows.

A build writes under ``.<out>.building-<pid>-<hex8>`` next to ``out`` and renames it into place; a folder
replaced whole is first renamed ``.<out>.old-<pid>-<hex8>``. A killed build leaves these behind; the next build
of the same ``out`` removes those whose owner process is no longer running on this machine (a running pid,
even an unrelated process that reused it, keeps its folder), and puts back an ``.old-*`` folder if ``out``
itself is missing (the build was killed between the two renames).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

from cogip_tasks.dataset import MANIFEST, CogIPDataError, read_manifest  # the loaders check a built folder too
from cogip_tasks.errors import CogIPError

DATA_DIR = "data"
_SHOWN = 8  # foreign entries named in an error; the rest are counted


class OutputConflict(CogIPError, FileExistsError):
    """``--output-dir`` holds something the build does not own; nothing was changed."""


def _leftover_pattern(out: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(out.name)}\.(building|old)-(\d+)-[0-9a-f]{{8}}")


def work_folder(out: Path, kind: str) -> Path:
    """A sibling of ``out`` (same filesystem, so renames are atomic) named for this process."""
    return out.parent / f".{out.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_leftovers(out: Path) -> list[str]:
    """Remove (or restore) the work folders of builds of ``out`` that were killed; returns what was done."""
    done: list[str] = []
    if not out.parent.is_dir():
        return done
    pattern = _leftover_pattern(out)
    for entry in sorted(out.parent.iterdir()):
        match = pattern.fullmatch(entry.name)
        if not match or entry.is_symlink() or not entry.is_dir():
            continue
        pid = int(match.group(2))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        if match.group(1) == "old" and not out.exists():  # killed between the renames: this is the last build
            entry.rename(out)
            done.append(f"restored {out} from {entry.name} (a build was killed while replacing it)")
        else:
            shutil.rmtree(entry)
            done.append(f"removed {entry.name}, left by a killed build (pid {pid} is not running)")
    return done


def _files_under(folder: Path) -> list[str]:
    """Every non-directory entry (files, symlinks) under ``folder``, relative, POSIX spelling; links not followed."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        found += [(base / n).relative_to(folder).as_posix() for n in filenames]
        found += [(base / n).relative_to(folder).as_posix() for n in dirnames if (base / n).is_symlink()]
    return sorted(found)


def owned_files(out: Path) -> set[str]:
    """The files an earlier build wrote in ``out``: its manifest's list plus the manifest (empty if there is none)."""
    path = out / MANIFEST
    if not path.exists() and not path.is_symlink():
        return set()
    try:
        files = read_manifest(out, required=("files",))["files"]
    except CogIPDataError as err:
        raise OutputConflict(
            f"{err}; so what the earlier build wrote is unknown: choose another --output-dir or remove it"
        ) from None
    return set(files) | {MANIFEST}


def _describe(foreign: list[str], owned: set[str]) -> str:
    """Name foreign entries by their top-level folder when nothing of the build is in it (``.git/``)."""
    owned_tops = {rel.split("/")[0] for rel in owned}
    names = []
    for rel in foreign:
        top = rel.split("/")[0]
        name = f"{top}/" if "/" in rel and top not in owned_tops else rel
        if name not in names:
            names.append(name)
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def check_output(out: Path, force: bool, new_files: set[str] | None = None) -> tuple[set[str], list[str]]:
    """``(owned, foreign)`` of ``out`` if the build may write there; :class:`OutputConflict` names what stops it."""
    if not out.exists() and not out.is_symlink():
        return set(), []
    if out.is_symlink() or not out.is_dir():
        raise OutputConflict(f"{out}: exists and is not a folder; choose another --output-dir")
    owned = owned_files(out)
    foreign = [rel for rel in _files_under(out) if rel not in owned]
    if not foreign:
        return owned, foreign
    in_data = [rel for rel in foreign if rel.split("/")[0] == DATA_DIR]
    if in_data:
        raise OutputConflict(
            f"{out}: {_describe(in_data, owned)} under {DATA_DIR}/ not written by an earlier build "
            "(the dataset's configs would read them as rows); move them away or choose another --output-dir"
        )
    clash = sorted(set(foreign) & (new_files or {MANIFEST, "README.md"}))
    if clash:
        raise OutputConflict(
            f"{out}: holds {', '.join(clash)} not written by an earlier build (no {MANIFEST} lists "
            "it); the build would overwrite it, so it refuses: choose another --output-dir"
        )
    if not force:
        raise OutputConflict(
            f"{out}: holds files the build does not own: {_describe(foreign, owned)}; "
            "--force builds beside them (they are left untouched), or choose another --output-dir"
        )
    return owned, foreign


def _remove_empty_dirs(folder: Path) -> None:
    for dirpath, _, _ in sorted(os.walk(folder), key=lambda w: -len(w[0])):
        if Path(dirpath) != folder and not any(Path(dirpath).iterdir()):
            Path(dirpath).rmdir()


def replace_output(tmp: Path, out: Path, force: bool) -> None:
    """Put the complete build ``tmp`` at ``out``, replacing only what an earlier build owns there."""
    new_files = set(_files_under(tmp))
    owned, foreign = check_output(out, force, new_files)
    if not out.exists():
        tmp.rename(out)
    elif not foreign:  # only the build's own files (or nothing): swap the whole folder
        old = work_folder(out, "old")
        out.rename(old)
        try:
            tmp.rename(out)
        except BaseException:
            old.rename(out)  # put the earlier build back: a failed build never loses one
            raise
        shutil.rmtree(old)
    else:  # --force beside foreign files: file by file, the manifest last, then the earlier build's extras
        for rel in sorted(new_files - {MANIFEST}) + [MANIFEST]:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / rel, out / rel)
        for rel in sorted(owned - new_files):
            (out / rel).unlink(missing_ok=True)
        if (out / DATA_DIR).is_dir():
            _remove_empty_dirs(out / DATA_DIR)
        shutil.rmtree(tmp)
