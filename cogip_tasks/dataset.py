"""Where the CogIP dataset comes from, and checking its rows before a long run starts.

By default the benchmark loads the Hub dataset ``foolen/CogIP-Bench``. The environment variable
``COGIP_DATASET`` points every CogIP tool (the lmms-eval tasks, the trainer, the leaderboard) at another Hub
repo id, a local folder laid out as a Hub dataset repo (e.g. the output of ``cogip-upload build``), or a
``DatasetDict.save_to_disk`` directory. A Hub id may pin a revision (branch, tag or commit):
``COGIP_DATASET=owner/name@<revision>``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
from pathlib import Path
from typing import Any

from .dimensions import BUILTIN_SPEC, Dimension, get_dimension, register_spec
from .errors import CogIPError
from .files import UserFileError, read_user_json, safe_relative, sha256_file
from .images import ImageError, decode_image, row_image_bytes
from .images import strict_decoding as strict_decoding  # its home is cogip_tasks.images; re-exported for callers
from .spec import BenchmarkSpec, SpecError, parse_spec

DEFAULT_DATASET = "foolen/CogIP-Bench"
DATASET_ENV = "COGIP_DATASET"
REQUIRED_COLUMNS = ("id", "image", "dimension", "prompt", "score")
MANIFEST = "cogip_build.json"  # written by `cogip-upload build` beside the data files


class CogIPDataError(CogIPError, ValueError):
    """A dataset row that the benchmark cannot use; the message names the column, row id and value."""


def dataset_source(source: str | None = None) -> str:
    """The dataset to load: ``source`` if given, else ``$COGIP_DATASET``, else the Hub default."""
    return source or os.environ.get(DATASET_ENV) or DEFAULT_DATASET


def is_saved_to_disk(source: str) -> bool:
    """True for a ``save_to_disk`` directory (which ``load_dataset`` cannot read)."""
    path = Path(source)
    return path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists())


def is_local_folder(source: str) -> bool:
    """True for a local folder that ``load_dataset`` reads as a dataset repo (not a ``save_to_disk`` one)."""
    return Path(source).is_dir() and not is_saved_to_disk(source)


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
_REVISION = re.compile(r"[\w.-]+(/[\w.-]+)*")  # a branch (may hold "/"), a tag or a commit id


def hub_revision(source: str) -> tuple[str, str | None]:
    """``("owner/name", "rev")`` for ``owner/name@rev``; ``(source, None)`` for anything else (a local path
    may hold an ``@``: an existing path is never split)."""
    repo, at, revision = source.rpartition("@")
    if at and not Path(source).expanduser().exists() and _HUB_ID.fullmatch(repo) and _REVISION.fullmatch(revision):
        return repo, revision
    return source, None


def looks_like_path(source: str) -> bool:
    """A source the user meant as a local path: a Hub id is ``name`` or ``owner/name`` (optionally
    ``@revision``), nothing else."""
    repo, _ = hub_revision(source)
    return Path(source).expanduser().exists() or not _HUB_ID.fullmatch(repo)


def _data_files(folder: Path) -> list[Path]:
    """Every file ``load_dataset`` may read from a repo folder (hidden files and folders such as .git skipped)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


#: More rows than any shard of an image benchmark holds (CogIP-Bench has a few thousand): a footer claiming more is
#: crafted or corrupt, and ``datasets`` would size its buffers by it.
MAX_SHARD_ROWS = 10_000_000
_PARQUET_MAGIC = b"PAR1"


def check_local_files(folder: Path) -> None:
    """Refuse a local dataset folder (a repo folder or a ``save_to_disk`` one) whose files ``datasets`` would read
    unsafely, before it reads any, with one line naming the file: anything but a regular file or folder (a FIFO
    would block the load forever, ``/dev/zero`` never ends), a file over the size cap of every file CogIP reads
    (``$COGIP_MAX_FILE_MB``), a ``.parquet`` shard that is not Parquet, and a Parquet footer with an impossible
    row count. A link to a file is judged by what it leads to; a link to a folder is refused (its files would
    escape these checks, and it may loop)."""
    import stat

    from .files import max_file_bytes

    cap = max_file_bytes()
    for path in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        try:
            info = path.stat()  # links followed: what datasets would read
        except OSError as err:
            raise CogIPDataError(f"{path}: cannot read it ({err.strerror or type(err).__name__})") from None
        if stat.S_ISDIR(info.st_mode):
            if path.is_symlink():
                raise CogIPDataError(
                    f"{path}: a link to a folder inside the dataset folder; copy the folder itself there"
                )
            continue
        if not stat.S_ISREG(info.st_mode):
            raise CogIPDataError(f"{path}: not a regular file (a FIFO, a device or a socket); remove it")
        if info.st_size > cap:
            raise CogIPDataError(
                f"{path}: {info.st_size / (1 << 20):.0f} MiB, larger than the {cap >> 20} MiB limit on files CogIP "
                "reads (set $COGIP_MAX_FILE_MB to raise it)"
            )
        if path.suffix.lower() == ".parquet":
            check_parquet_shard(path, info.st_size)


def check_parquet_shard(path: Path, size: int) -> None:
    """A ``.parquet`` file is Parquet (magic bytes at both ends, a footer pyarrow reads) with a sane row count;
    only the footer is read."""
    import pyarrow.parquet as pq

    from .files import open_regular

    try:
        handle = os.fdopen(open_regular(path, "dataset file"), "rb")
    except UserFileError as err:
        raise CogIPDataError(str(err)) from None
    with handle:
        head = handle.read(4)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
        if size < 12 or head != _PARQUET_MAGIC or tail != _PARQUET_MAGIC:
            raise CogIPDataError(f"{path}: not a Parquet file (no PAR1 magic bytes at its start and end)")
        try:
            meta = pq.read_metadata(handle)
            rows = meta.num_rows
            groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        except Exception as err:  # pyarrow raises OSError, ArrowInvalid, ... for a damaged footer
            reason = " ".join(str(err).split())[:200] or type(err).__name__
            raise CogIPDataError(f"{path}: not a readable Parquet file ({reason})") from None
    if not 0 <= rows <= MAX_SHARD_ROWS or any(n < 0 for n in groups) or sum(groups) != rows:
        raise CogIPDataError(
            f"{path}: its Parquet footer claims {rows} rows (row groups: {sum(groups)}); "
            f"a shard holds at most {MAX_SHARD_ROWS:,}: damaged or crafted"
        )


@functools.lru_cache(maxsize=64)
def _fingerprint_of(stats: tuple[tuple[str, int, int], ...], folder: str) -> str:
    lines = "".join(f"{relative}\0{size}\0{sha256_file(Path(folder) / relative)}\n" for relative, size, _ in stats)
    return hashlib.sha256(lines.encode()).hexdigest()


def content_fingerprint(folder: str | Path) -> str:
    """sha256 over the names, sizes and bytes of a local dataset folder's files (memoised per file state)."""
    folder = Path(folder).resolve()
    stats = tuple(
        (p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in _data_files(folder)
    )
    return _fingerprint_of(stats, str(folder))


def local_cache_dir(folder: str | Path) -> str:
    """A datasets cache directory keyed by the folder's *content*.

    ``datasets`` (5.x) keys its cache for a local folder by the folder's name and config, not its path or
    contents: a rebuilt ``cogip_bench_built/`` (or another folder of the same name) would be served from the
    rows cached for the earlier one. A cache directory per content fingerprint makes that impossible.
    """
    import datasets

    folder = Path(folder).resolve()
    return str(
        Path(datasets.config.HF_DATASETS_CACHE) / "cogip_local" / f"{folder.name}-{content_fingerprint(folder)[:20]}"
    )


def load_kwargs(source: str) -> dict[str, Any]:
    """``load_dataset`` / lmms-eval ``dataset_kwargs`` for a source.

    ``save_to_disk`` directories are read with ``load_from_disk``; local repo folders get a content-keyed
    ``cache_dir`` (see :func:`local_cache_dir`); Hub ids use the default cache (keyed by revision), with the
    ``revision`` of ``owner/name@revision``. The path to load is :func:`hub_revision`'s first part.
    """
    if is_saved_to_disk(source):
        return {"load_from_disk": True}
    if is_local_folder(source):
        return {"cache_dir": local_cache_dir(source)}
    _, revision = hub_revision(source)
    return {"revision": revision} if revision else {}


_MAX_COUNT = 2**53  # a row count or a byte size above this is no real build (and would not survive a float)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_COUNT


def check_manifest(manifest: Any, where: str, required: tuple[str, ...] = ("rows",)) -> dict:
    """A ``cogip_build.json`` checked against its schema, or :class:`CogIPDataError` naming the field and value.

    ``rows``: ``{config: {split: count}}``; ``files``: ``{relative path inside the folder: {"bytes": count,
    "sha256": 64 hex}}``; ``stand_in_images``: true/false. Counts are whole numbers in [0, 2**53). Fields in
    ``required`` must be present; the others are checked when present.
    """

    def bad(field: str, value: Any, expected: str) -> CogIPDataError:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return CogIPDataError(f"{where}: field {field!r}: {shown}: expected {expected}")

    if not isinstance(manifest, dict):
        raise CogIPDataError(f"{where}: expected a JSON object, found a {type(manifest).__name__}")
    if "rows" in manifest:
        rows = manifest["rows"]
        if not isinstance(rows, dict) or not isinstance(rows.get("default"), dict):
            raise bad("rows", rows, "an object {config: {split: count}} with a 'default' config")
        for config, splits in rows.items():
            if not isinstance(splits, dict):
                raise bad(f"rows.{config}", splits, "an object {split: count}")
            for split, n in splits.items():
                if not _count(n):
                    raise bad(f"rows.{config}.{split}", n, "a whole number of rows in [0, 2**53)")
    if "files" in manifest:
        files = manifest["files"]
        if not isinstance(files, dict):
            raise bad("files", files, "an object {relative path: {bytes, sha256}}")
        for rel, meta in files.items():
            if not safe_relative(rel) or rel == MANIFEST:
                raise bad("files", rel, "a relative path inside the folder")
            if not isinstance(meta, dict) or not _count(meta.get("bytes")):
                raise bad(f"files.{rel}.bytes", meta.get("bytes") if isinstance(meta, dict) else meta, "a size")
            if not isinstance(meta.get("sha256"), str) or not _SHA256.fullmatch(meta["sha256"]):
                raise bad(f"files.{rel}.sha256", meta.get("sha256"), "64 lowercase hex digits")
    if "stand_in_images" in manifest and not isinstance(manifest["stand_in_images"], bool):
        raise bad("stand_in_images", manifest["stand_in_images"], "true or false")
    for field in required:
        if field not in manifest:
            raise CogIPDataError(f"{where}: field {field!r} is missing (not a complete cogip-upload build?)")
    return manifest


def read_manifest(folder: str | Path, required: tuple[str, ...] = ("rows",)) -> dict:
    """A built folder's ``cogip_build.json``, read with the one reader of user files and schema-checked."""
    path = Path(folder) / MANIFEST
    try:
        manifest = read_user_json(path, what="build manifest")
    except UserFileError as err:
        raise CogIPDataError(str(err)) from None
    return check_manifest(manifest, str(path), required)


def manifest_rows(source: str) -> dict[str, int] | None:
    """Rows per split that a ``cogip-upload build`` manifest (``cogip_build.json``) records, if there is one."""
    path = Path(source) / MANIFEST
    if not path.exists() and not path.is_symlink():
        return None
    return dict(read_manifest(source)["rows"]["default"])


def manifest_spec(source: str | Path) -> BenchmarkSpec | None:
    """The benchmark spec a built dataset folder's manifest embeds (``cogip-upload build --spec``), if any."""
    path = Path(source) / MANIFEST
    if not path.exists() and not path.is_symlink():
        return None
    return _embedded_spec(read_manifest(source, required=()), str(path))


def _embedded_spec(manifest: dict, where: str) -> BenchmarkSpec | None:
    if manifest.get("spec") is None:
        return None
    try:
        return parse_spec(manifest["spec"], f"{where} (spec)")
    except SpecError as err:
        raise CogIPDataError(str(err)) from None


def hub_manifest_spec(source: str) -> BenchmarkSpec | None:
    """The spec a Hub dataset repo's manifest embeds (``owner/name``, or ``owner/name@revision`` pinned as
    ``$COGIP_DATASET`` pins it), read with ``huggingface_hub`` (its cache and ``$HF_ENDPOINT``, ``$HF_TOKEN``,
    ``$HF_HUB_OFFLINE``); None when the repo holds no manifest or one without a spec. Every failure to reach the
    repo is one :class:`CogIPDataError` line naming the source."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo, revision = hub_revision(source)
    try:
        path = hf_hub_download(repo, MANIFEST, repo_type="dataset", revision=revision)
    except RemoteEntryNotFoundError:
        return None  # a repo, but not one cogip-upload built
    except LocalEntryNotFoundError:
        raise CogIPDataError(
            f"{source}: cannot read its {MANIFEST} from the Hub: offline (HF_HUB_OFFLINE) or the Hub is "
            "unreachable, and no copy is cached"
        ) from None
    except RevisionNotFoundError:
        raise CogIPDataError(f"{source}: the Hub dataset {repo} has no revision {revision!r}") from None
    except GatedRepoError:
        raise CogIPDataError(f"{source}: the Hub dataset is gated: accept its terms and log in (HF_TOKEN)") from None
    except RepositoryNotFoundError:
        raise CogIPDataError(f"{source}: no such dataset on the Hub (or it is private: log in with HF_TOKEN)") from None
    except Exception as err:  # a bad id, a server error, a timeout: one line
        reason = " ".join(str(err).split()) or type(err).__name__
        raise CogIPDataError(
            f"{source}: cannot read its {MANIFEST} from the Hub ({type(err).__name__}: {reason[:300]})"
        ) from None
    where = f"{source}: {MANIFEST}"
    try:
        manifest = read_user_json(path, what="build manifest")
    except UserFileError as err:
        raise CogIPDataError(f"{where}: {err}") from None
    return _embedded_spec(check_manifest(manifest, where, required=()), where)


def dataset_spec(source: str | None = None, hub: bool = False) -> BenchmarkSpec:
    """The benchmark a dataset holds: the spec its build manifest embeds (registered, so that its task names
    resolve), else the built-in CogIP-Bench. A Hub repo id's manifest is read from the Hub only with ``hub``
    (:func:`hub_manifest_spec`)."""
    source = dataset_source(source)
    if is_local_folder(source):
        spec = manifest_spec(source)
    else:  # a save_to_disk directory has no manifest; nor has a path that does not exist (its loading says so)
        spec = hub_manifest_spec(source) if hub and not looks_like_path(source) else None
    return BUILTIN_SPEC if spec is None else register_spec(spec)


def check_manifest_rows(source: str, split: str, n_rows: int) -> None:
    """Stop when a built folder's split does not hold the rows its manifest says (a stale or edited copy)."""
    expected = manifest_rows(source) if is_local_folder(source) else None
    if expected is not None and split in expected and expected[split] != n_rows:
        raise CogIPDataError(
            f"{source}: split {split!r} loaded {n_rows} rows but {MANIFEST} records {expected[split]}; "
            "the folder changed after it was built (rebuild it with cogip-upload build)"
        )


def load_cogip(source: str | None = None, split: str | None = None):
    """Load the dataset (all splits, or one) from the Hub, a local repo folder or a save_to_disk directory.

    A local folder always loads its current contents (content-keyed cache) and is checked against its build
    manifest. Images stay undecoded (``{"bytes", "path"}``): they are decoded one at a time by :func:`load_image`.
    Any failure to load is a :class:`CogIPDataError` naming the source.
    """
    import datasets

    source = dataset_source(source)
    try:
        if is_saved_to_disk(source):
            check_local_files(Path(source))
            ds = datasets.load_from_disk(source)
            if not isinstance(ds, datasets.DatasetDict):
                raise CogIPDataError(
                    f"{source}: a save_to_disk of a single Dataset; CogIP needs a DatasetDict "
                    "with train/test splits (DatasetDict({'test': ds}).save_to_disk(...))"
                )
            if split is not None:
                if split not in ds:
                    raise CogIPDataError(f"{source}: no {split!r} split (has: {', '.join(ds) or 'none'})")
                ds = ds[split]
        else:
            if looks_like_path(source) and not Path(source).expanduser().exists():
                raise CogIPDataError(f"{source}: no such dataset folder")
            if is_local_folder(source):
                check_local_files(Path(source))
            ds = datasets.load_dataset(hub_revision(source)[0], split=split, **load_kwargs(source))
    except CogIPError:
        raise
    except Exception as err:  # datasets raises many types (offline, missing split, bad files): one clear line
        reason = " ".join(str(err).split()) or type(err).__name__
        raise CogIPDataError(f"{source}: the dataset does not load ({type(err).__name__}: {reason[:300]})") from None
    for name, part in [(split, ds)] if split is not None else ds.items():
        check_manifest_rows(source, name, len(part))
    return _undecoded(ds)


def _undecoded(ds):
    import datasets

    if isinstance(ds, datasets.DatasetDict):
        return datasets.DatasetDict({name: _undecoded(part) for name, part in ds.items()})
    if isinstance(ds.features.get("image"), datasets.Image) and ds.features["image"].decode:
        ds = ds.cast_column("image", datasets.Image(decode=False))
    return ds


def rows_of_dimension(ds, dimension: str | Dimension, spec: BenchmarkSpec | None = None):
    """Keep the rows of one dimension (the ``dimension`` column may use any of its spellings)."""
    dim = get_dimension(dimension)
    names = ds.unique("dimension") if "dimension" in ds.column_names else []
    keep = {name for name in names if _dimension_or_none(name, spec) == dim}
    return ds.filter(lambda name: name in keep, input_columns="dimension")


def _dimension_or_none(name: Any, spec: BenchmarkSpec | None = None) -> Dimension | None:
    """The dimension a ``dimension`` cell names: in ``spec`` when given, else in the built-in benchmark."""
    if spec is not None:
        return spec.find(str(name))
    try:
        return get_dimension(str(name))
    except ValueError:
        return None


def check_ids(ids: list[Any], where: str) -> None:
    """Every id a non-empty string with no surrounding spaces, and each id once (:class:`CogIPDataError`)."""
    seen: set[str] = set()
    for index, row_id in enumerate(ids):
        if not isinstance(row_id, str) or not row_id.strip() or row_id != row_id.strip():
            raise CogIPDataError(
                f"{where}: column 'id', row {index}: {row_id!r} is not an id (a non-empty string without "
                "surrounding spaces)"
            )
        if row_id in seen:
            raise CogIPDataError(
                f"{where}: column 'id': {row_id!r} appears twice (row {index} repeats an earlier row); does the "
                "folder hold two copies of the data files?"
            )
        seen.add(row_id)


def check_image_column(ds, where: str) -> None:
    """Every row's image has bytes; a row with only a ``path`` is refused (CogIP never reads a path from a row).

    Read from the Arrow column without copying the bytes into Python.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    column = ds.data.column("image")
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_struct(column.type) and column.type.get_field_index("bytes") >= 0:
        data = column.field("bytes")
    elif pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        data = column
    else:
        raise CogIPDataError(f"{where}: column 'image' is {column.type}, not image bytes")
    lengths = pc.fill_null(pc.binary_length(data), 0)
    empty = pc.indices_nonzero(pc.equal(lengths, 0))
    if len(empty):
        index = empty[0].as_py()
        image = ds.select_columns(["image"]).data.column("image")[index].as_py()
        row_id = ds.data.column("id")[index].as_py()
        try:
            row_image_bytes(image, f"row id {row_id!r}: column 'image'")
        except ImageError as err:
            raise CogIPDataError(f"{where}: {err}") from None


def validate_rows(
    ds, dimension: str | Dimension | None = None, where: str = "CogIP dataset", spec: BenchmarkSpec | None = None
) -> None:
    """Fail on the first unusable row, naming column, row id and value; checks every row before a run.

    The one row validator of evaluation, training, ``verify`` and ``build``. Identity: every ``id`` is a
    non-empty string without surrounding spaces, and no two rows share one (a folder holding two copies of the
    data would score every item twice). Images: every row carries image bytes (a row's ``path`` is never read;
    decoding is :func:`load_image`'s, where the image is used).
    Every row's ``dimension`` must be known (a row of an unknown or misspelled dimension would otherwise vanish
    from the evaluation); the scores of ``dimension``'s rows (all rows when None) must be finite numbers inside
    the dimension's range (a float32 column turns an overflowing 1e39 into inf, which is caught too).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise CogIPDataError(
            f"{where}: missing column(s) {', '.join(missing)} (has: {', '.join(ds.column_names)}); "
            f"a CogIP dataset needs {', '.join(REQUIRED_COLUMNS)}"
        )
    columns = ds.select_columns(["id", "dimension", "score"]).to_dict()
    check_ids(columns["id"], where)
    check_image_column(ds, where)
    for row_id, name, score in zip(columns["id"], columns["dimension"], columns["score"]):
        dim = _dimension_or_none(name, spec)
        if dim is None:
            raise CogIPDataError(f"{where}: column 'dimension', row id {row_id!r}: unknown dimension {name!r}")
        if dimension is not None and dim != get_dimension(dimension):
            continue
        try:
            value = float(score)
        except (TypeError, ValueError):
            raise CogIPDataError(f"{where}: column 'score', row id {row_id!r}: not a number: {score!r}") from None
        if math.isnan(value):
            raise CogIPDataError(f"{where}: column 'score', row id {row_id!r}: value is NaN")
        if not dim.in_range(value):
            raise CogIPDataError(
                f"{where}: column 'score', row id {row_id!r}: {score!r} is outside {dim.key}'s "
                f"range [{dim.low:g}, {dim.high:g}]"
            )


def dimension_rows(
    ds,
    dimension: str | Dimension,
    where: str = "CogIP dataset",
    check_images: bool = True,
    spec: BenchmarkSpec | None = None,
):
    """One dimension's rows of a split, after checking *every* row of the split (and the kept rows' images).

    The whole split is validated before filtering, so an unknown dimension is an error, not a silent drop;
    a dimension without rows is an error too (lmms-eval would crash on an empty task).
    """
    dim = get_dimension(dimension)
    validate_rows(ds, where=where, spec=spec)
    rows = rows_of_dimension(ds, dim, spec)
    if len(rows) == 0:
        raise CogIPDataError(f"{where}: no rows of dimension {dim.release_name!r} (column 'dimension')")
    rows = _undecoded(rows)  # lmms-eval may hand rows decoded by `datasets` (which would read a row's path)
    if check_images:
        for row_id, image in zip(rows["id"], rows["image"]):
            try:
                load_image(image, row_id)
            except CogIPDataError as err:
                raise CogIPDataError(f"{where}: {err}") from None
    return rows


def load_image(image: Any, row_id: Any = None):
    """Decode a row's image (``{"bytes", "path"}`` or bytes; a ``path`` is never read) by the one rule of
    :func:`cogip_tasks.images.decode_image`: pixel limit, EXIF orientation, 8-bit RGB, strict decoding."""
    where = f"row id {row_id!r}: column 'image'"
    try:
        return decode_image(row_image_bytes(image, where), where)
    except ImageError as err:
        raise CogIPDataError(str(err)) from None
