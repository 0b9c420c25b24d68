"""Verification results and plots cached by content, so that ``build`` recomputes only what changed.

A verification is a function of the submission's bytes, the ground truth (:meth:`GroundTruth.fingerprint`),
the bootstrap settings and the code that checks it (CogIP version, parser version, this cache's format): the
key hashes all of them, so a changed file, a new dataset or a new release misses the cache and is verified
afresh, and nothing else can make a stale entry match. A rejection is cached like a success (its reason).

Entries are ``.npz`` files (arrays plus one JSON header), written atomically; an entry that cannot be read
back (truncated, foreign, from another format) is treated as a miss and overwritten. The cache is an
optimisation only: every number is the same with ``--no-cache``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..files import write_bytes
from ..scoring import PARSER_VERSION
from .submission import package_version
from .verify import DimensionResult, GroundTruth, Rejected, Verified

CACHE_FORMAT = "cogip-leaderboard-cache-1"
CACHE_ENV = "COGIP_LEADERBOARD_CACHE"


def default_cache_dir() -> Path:
    """``$COGIP_LEADERBOARD_CACHE``, else ``$XDG_CACHE_HOME/cogip/leaderboard`` (``~/.cache`` by default)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cogip" / "leaderboard"


def content_key(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def verification_key(data: bytes, truth: GroundTruth, n_resamples: int, seed: int) -> str:
    versions = (CACHE_FORMAT, str(package_version("cogip")), PARSER_VERSION, f"{n_resamples}/{seed}")
    return content_key(*versions, truth.fingerprint(), data)


def references_key(truth: GroundTruth, train_means: dict[str, float] | None, n_resamples: int, seed: int) -> str:
    """What the reference rows depend on: the ground truth, the training means and the settings."""
    versions = (CACHE_FORMAT, "references", str(package_version("cogip")), f"{n_resamples}/{seed}")
    return content_key(*versions, truth.fingerprint(), json.dumps(train_means, sort_keys=True))


class VerificationCache:
    """``key -> Verified | Rejected`` on disk (``<dir>/verified/<key>.npz``); ``None`` disables it."""

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) / "verified" if folder is not None else None
        self.hits = self.misses = 0

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{key}.npz"

    def get(self, key: str) -> Verified | Rejected | None:
        if self.folder is None:
            return None
        try:
            with np.load(self._path(key), allow_pickle=False) as npz:
                header = json.loads(str(npz["header"]))
                if header.get("format") != CACHE_FORMAT:
                    raise ValueError("another cache format")
                found = _from_entry(header, npz)
        except Exception:  # noqa: BLE001  a truncated zip, a foreign file, a missing array: a miss, never an error
            self.misses += 1
            return None
        self.hits += 1
        return found

    def references(
        self, truth: GroundTruth, train_means: dict[str, float] | None, n_resamples: int, seed: int
    ) -> list[Verified]:
        """The leaderboard's reference rows, computed once per ground truth and training means."""
        from .stats import reference_predictors

        key = references_key(truth, train_means, n_resamples, seed)
        rows = [self.get(f"{key}-{n}") for n in range(3)]
        rows = [r for r in rows if isinstance(r, Verified)]
        count = 3 if train_means else 2
        if len(rows) == count and self.folder is not None:
            self.hits -= count  # reference rows are not submissions: "reused" counts submissions only
            return rows
        rows = reference_predictors(truth, train_means, n_resamples=n_resamples, seed=seed)
        for n, row in enumerate(rows):
            self.put(f"{key}-{n}", row)
        return rows

    def put(self, key: str, result: Verified | Rejected) -> None:
        if self.folder is None:
            return
        arrays: dict[str, np.ndarray] = {}
        if isinstance(result, Rejected):
            header: dict[str, Any] = {"rejected": [result.field, result.reason]}
        else:
            header = {"name": result.name, "mean": result.mean, "dims": {}, "reference": result.reference}
            for k, d in result.dims.items():
                header["dims"][k] = {"labels": d.labels, "metrics": d.metrics, "resample_seed": d.resample_seed}
                arrays[f"pred_{k}"] = d.pred
                if d.resamples is not None:
                    arrays[f"resamples_{k}"] = d.resamples
        header["format"] = CACHE_FORMAT
        buffer = io.BytesIO()
        np.savez(buffer, header=np.array(json.dumps(header, allow_nan=True)), **arrays)
        try:
            write_bytes(self._path(key), buffer.getvalue())
        except OSError:
            pass  # an unwritable cache costs time on the next build, never a result


def _from_entry(header: dict, npz: Any) -> Verified | Rejected:
    if "rejected" in header:
        field, reason = header["rejected"]
        return Rejected(field, reason)
    dims = {}
    for k, d in header["dims"].items():
        resamples = npz[f"resamples_{k}"] if f"resamples_{k}" in npz.files else None
        dims[k] = DimensionResult(npz[f"pred_{k}"], d["labels"], d["metrics"], resamples, d["resample_seed"])
    return Verified(header["name"], {}, dims, header["mean"], reference=bool(header.get("reference")))
