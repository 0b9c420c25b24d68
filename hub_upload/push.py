"""Publish a built folder to a Hub dataset repo as one commit, with huggingface_hub.

Only a complete build is uploaded: every file its manifest (``cogip_build.json``) lists must be there with the
recorded sha256, with ``strict`` its audit must have no open finding, and a stand-in build (procedural images,
``stand_in_images`` in the manifest) is refused unless ``allow_stand_in``. Exactly the manifest's files (plus the
manifest) go up; shards left on the Hub by an earlier build that this one does not have are deleted in the same
commit, so the configs' globs never read stale rows. The token comes from huggingface_hub's standard places
(``HF_TOKEN``, the cached ``hf auth login``) and is never printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cogip_tasks.dataset import CogIPDataError
from cogip_tasks.dataset import read_manifest as read_build_manifest
from cogip_tasks.errors import CogIPError
from cogip_tasks.files import sha256_file

from .layout import MANIFEST, SPLITS, manifest_text

CARD = "README.md"  # the dataset card, named by the push (published_files)
_SHOWN = 5  # problems named in the one-line refusal; the rest are counted


class PushError(CogIPError, RuntimeError):
    """The folder cannot be published, or the Hub refused / could not be reached (message names why)."""


@dataclass(frozen=True)
class PlannedFile:
    path_in_repo: str
    local_path: Path
    size: int


def read_manifest(folder: Path) -> dict:
    """The build's manifest, schema-checked (``cogip_tasks.dataset.read_manifest``) with every field push needs."""
    if not (folder / MANIFEST).exists() and not (folder / MANIFEST).is_symlink():  # a FIFO is read (and refused)
        raise PushError(f"{folder}: no {MANIFEST}: not a complete `cogip-upload build` output")
    try:
        manifest = read_build_manifest(folder, required=("rows", "files", "stand_in_images"))
    except CogIPDataError as err:
        raise PushError(f"{err} (a build by an older cogip-upload? rebuild the folder)") from None
    if not manifest["files"]:
        raise PushError(f"{folder / MANIFEST}: field 'files' lists no file: not a complete build")
    return manifest


def check_folder(folder: str | Path, strict: bool = False, allow_stand_in: bool = False) -> list[PlannedFile]:
    """The files to upload, after checking the folder is a complete, unchanged build (and clean, if ``strict``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PushError(f"{folder}: folder not found")
    manifest = read_manifest(folder)
    listed = manifest["files"]
    problems = []
    for rel, meta in sorted(listed.items()):
        path = folder / rel
        if path.is_symlink() or not path.is_file():
            problems.append(f"{rel}: listed in {MANIFEST} but missing")
        elif path.stat().st_size != meta.get("bytes") or sha256_file(path) != meta.get("sha256"):
            problems.append(f"{rel}: changed since the build (size or sha256 differs from {MANIFEST})")
    unlisted = (
        sorted(
            p.relative_to(folder).as_posix()
            for p in (folder / "data").rglob("*.parquet")
            if p.relative_to(folder).as_posix() not in listed
        )
        if (folder / "data").is_dir()
        else []
    )
    problems += [f"{rel}: shard not listed in {MANIFEST}" for rel in unlisted]
    if CARD not in listed:
        problems.append(f"{CARD}: not listed in {MANIFEST} (no dataset card)")
    if problems:
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise PushError(
            f"{folder}: incomplete or modified build, not uploading: " + "; ".join(problems[:_SHOWN]) + more
        )
    if manifest["stand_in_images"] and not allow_stand_in:
        raise PushError(
            f"{folder}: a stand-in build ({manifest.get('stand_in_evidence') or 'procedural images'}): "
            "its images are not the benchmark's; --allow-stand-in pushes it anyway"
        )
    audit = manifest.get("audit") if isinstance(manifest.get("audit"), dict) else {}
    if strict and audit.get("open", 0):
        raise PushError(
            f"{folder}: the build's audit has {audit['open']} open finding(s) (counts: {audit.get('counts')}); "
            f"--strict refuses to upload it (each one is listed in {MANIFEST})"
        )
    files = [PlannedFile(rel, folder / rel, (folder / rel).stat().st_size) for rel in sorted(listed)]
    return files + [PlannedFile(MANIFEST, folder / MANIFEST, (folder / MANIFEST).stat().st_size)]


def published_files(folder: Path, repo_id: str, revision: str | None = None) -> dict[str, bytes]:
    """What the push uploads in place of two local files: the card with its repo named
    (:func:`hub_upload.card.for_repo`) and the manifest recording that card's size and sha256, so the repo's
    manifest describes the repo's files. The local folder is left as built."""
    import hashlib

    from .card import for_repo

    card = for_repo((folder / CARD).read_text(encoding="utf-8"), repo_id, revision).encode("utf-8")
    manifest = read_manifest(folder)
    manifest["files"][CARD] = {"bytes": len(card), "sha256": hashlib.sha256(card).hexdigest()}
    return {CARD: card, MANIFEST: manifest_text(manifest).encode("utf-8")}


def default_message(folder: Path) -> str:
    manifest = read_manifest(folder)
    rows = manifest.get("rows") if isinstance(manifest.get("rows"), dict) else {}
    rows = rows.get("default") if isinstance(rows.get("default"), dict) else {}
    counts = ", ".join(f"{split} {rows[split]}" for split in SPLITS if split in rows)
    stand_in = " with STAND-IN images" if manifest["stand_in_images"] else ""
    return f"Upload CogIP-Bench built by cogip-upload ({counts}){stand_in}"


def format_plan(files: list[PlannedFile], repo_id: str, revision: str | None, message: str, private: bool) -> str:
    lines = [
        f"would upload {len(files)} file(s), {sum(f.size for f in files):,} bytes, to dataset repo {repo_id} "
        f"(revision {revision or 'main'}, {'private' if private else 'public'} if created) as one commit:",
        f"  message: {message}",
    ]
    lines += [f"  {f.path_in_repo}  ({f.size:,} bytes)" for f in files]
    return "\n".join(lines)


def _describe(err: Exception, token: str | None) -> str:
    """A one-line reason for a Hub failure, with the token (if it ever appears) masked."""
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError, OfflineModeIsEnabled

    if isinstance(err, OfflineModeIsEnabled):
        text = "offline mode is enabled (HF_HUB_OFFLINE=1): unset it to push"
    elif isinstance(err, LocalTokenNotFoundError):
        text = "not logged in: set HF_TOKEN or run `hf auth login`"
    elif isinstance(err, HfHubHTTPError) and getattr(err.response, "status_code", None) in (401, 403):
        text = f"the Hub refused the token (HTTP {err.response.status_code}): check it has write access ({err})"
    elif isinstance(err, HfHubHTTPError):
        text = f"the Hub answered with an error: {err}"
    else:
        text = f"cannot reach the Hub ({type(err).__name__}: {err})"
    return text.replace(token, "***") if token else text


def push(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    message: str | None = None,
    strict: bool = False,
    dry_run: bool = False,
    token: str | None = None,
    api=None,
    echo: Callable[[str], None] = print,
    allow_stand_in: bool = False,
) -> str | None:
    """Upload a built folder as one commit; returns the commit URL (``None`` for a dry run)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants, get_token

    folder = Path(folder)
    files = check_folder(folder, strict=strict, allow_stand_in=allow_stand_in)
    message = message or default_message(folder)
    if dry_run:
        echo(format_plan(files, repo_id, revision, message, private))
        return None
    if constants.is_offline_mode():
        raise PushError("cannot push: offline mode is enabled (HF_HUB_OFFLINE=1); unset it, or use --dry-run")
    token = token or get_token()
    if not token:
        raise PushError(
            "cannot push: not logged in — no Hugging Face token in HF_TOKEN or the cached login "
            "(`hf auth login`); --dry-run works without one"
        )
    api = api or HfApi(token=token)
    try:
        user = api.whoami().get("name", "?")
        echo(f"pushing {len(files)} file(s) to dataset repo {repo_id} as {user}")
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, repo_type="dataset", branch=revision, exist_ok=True)
        planned = {f.path_in_repo for f in files}
        stale = [
            p
            for p in api.list_repo_files(repo_id, repo_type="dataset", revision=revision)
            if p.startswith("data/") and p not in planned
        ]
        named = published_files(folder, repo_id, revision)
        operations = [
            CommitOperationAdd(
                path_in_repo=f.path_in_repo, path_or_fileobj=named.get(f.path_in_repo, str(f.local_path))
            )
            for f in files
        ]
        operations += [CommitOperationDelete(path_in_repo=p) for p in stale]
        commit = api.create_commit(
            repo_id, operations=operations, commit_message=message, repo_type="dataset", revision=revision
        )
    except PushError:
        raise
    except Exception as err:  # the Hub client raises HTTP, transport and auth errors of many types
        raise PushError(f"cannot push to {repo_id}: {_describe(err, token)}") from None
    if stale:
        echo(f"deleted {len(stale)} stale file(s) of an earlier build: {', '.join(stale)}")
    echo(f"pushed: {commit.commit_url}")
    return commit.commit_url
