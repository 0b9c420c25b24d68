"""Where the CogIP dataset comes from, and checking its rows before a long run starts.

By default the benchmark loads the Hub dataset ``foolen/CogIP-Bench``. The environment variable
``COGIP_DATASET`` points every CogIP tool (the lmms-eval tasks, the trainer, the leaderboard) at another Hub
repo id, a local folder laid out as a Hub dataset repo (e.g. the output of ``cogip-upload build``), or a
``DatasetDict.save_to_disk`` directory.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

from .dimensions import Dimension, get_dimension

DEFAULT_DATASET = "foolen/CogIP-Bench"
DATASET_ENV = "COGIP_DATASET"
REQUIRED_COLUMNS = ("id", "image", "dimension", "prompt", "score")


class CogIPDataError(ValueError):
    """A dataset row that the benchmark cannot use; the message names the column, row id and value."""


def dataset_source(source: str | None = None) -> str:
    """The dataset to load: ``source`` if given, else ``$COGIP_DATASET``, else the Hub default."""
    return source or os.environ.get(DATASET_ENV) or DEFAULT_DATASET


def is_saved_to_disk(source: str) -> bool:
    """True for a ``save_to_disk`` directory (which ``load_dataset`` cannot read)."""
    path = Path(source)
    return path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists())


def load_kwargs(source: str) -> dict[str, Any]:
    """lmms-eval ``dataset_kwargs`` for a source: ``load_from_disk`` for ``save_to_disk`` directories."""
    return {"load_from_disk": True} if is_saved_to_disk(source) else {}


def load_cogip(source: str | None = None, split: str | None = None):
    """Load the dataset (all splits, or one) from the Hub, a local repo folder or a save_to_disk directory.

    Images stay undecoded (``{"bytes", "path"}``): they are decoded one at a time by :func:`load_image`.
    """
    import datasets

    source = dataset_source(source)
    if is_saved_to_disk(source):
        ds = datasets.load_from_disk(source)
        ds = ds[split] if split is not None else ds
    else:
        ds = datasets.load_dataset(source, split=split)
    return _undecoded(ds)


def _undecoded(ds):
    import datasets

    if isinstance(ds, datasets.DatasetDict):
        return datasets.DatasetDict({name: _undecoded(part) for name, part in ds.items()})
    if isinstance(ds.features.get("image"), datasets.Image) and ds.features["image"].decode:
        ds = ds.cast_column("image", datasets.Image(decode=False))
    return ds


def rows_of_dimension(ds, dimension: str | Dimension):
    """Keep the rows of one dimension (the ``dimension`` column may use either spelling)."""
    dim = get_dimension(dimension)
    names = ds.unique("dimension") if "dimension" in ds.column_names else []
    keep = {name for name in names if _dimension_or_none(name) is dim}
    return ds.filter(lambda name: name in keep, input_columns="dimension")


def _dimension_or_none(name: Any) -> Dimension | None:
    try:
        return get_dimension(str(name))
    except ValueError:
        return None


def validate_rows(ds, dimension: str | Dimension | None = None, where: str = "CogIP dataset") -> None:
    """Fail on the first unusable row, naming column, row id and value; checks every row before a run."""
    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise CogIPDataError(
            f"{where}: missing column(s) {', '.join(missing)} (has: {', '.join(ds.column_names)}); "
            f"a CogIP dataset needs {', '.join(REQUIRED_COLUMNS)}"
        )
    columns = ds.select_columns(["id", "dimension", "score"]).to_dict()
    for row_id, name, score in zip(columns["id"], columns["dimension"], columns["score"]):
        dim = _dimension_or_none(name)
        if dim is None:
            raise CogIPDataError(f"{where}: column 'dimension', row id {row_id!r}: unknown dimension {name!r}")
        if dimension is not None and dim is not get_dimension(dimension):
            continue
        try:
            value = float(score)
        except (TypeError, ValueError):
            raise CogIPDataError(f"{where}: column 'score', row id {row_id!r}: not a number: {score!r}") from None
        if math.isnan(value):
            raise CogIPDataError(f"{where}: column 'score', row id {row_id!r}: value is NaN")


def load_image(image: Any, row_id: Any = None):
    """Decode a row's image into RGB, whether it arrives as a PIL image, ``{"bytes","path"}`` or a path."""
    from PIL import Image, UnidentifiedImageError

    try:
        if isinstance(image, Image.Image):
            decoded = image
        elif isinstance(image, dict) and image.get("bytes"):
            decoded = Image.open(io.BytesIO(image["bytes"]))
        elif isinstance(image, dict) and image.get("path"):
            decoded = Image.open(image["path"])
        elif isinstance(image, (str, os.PathLike)):
            decoded = Image.open(image)
        else:
            raise CogIPDataError(f"row id {row_id!r}: column 'image' holds no image ({type(image).__name__})")
        return decoded.convert("RGB")
    except (OSError, UnidentifiedImageError) as err:
        raise CogIPDataError(f"row id {row_id!r}: column 'image' does not decode: {err}") from err
