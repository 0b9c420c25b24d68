"""Which test-pool items form the ``test`` split: the release's own draw (default) or a pinned list of ids.

The release's evaluation script (``evaluation/qwen/cog_test.py --sample-n 120 --seed 19``) calls
``random.seed(19)`` once, then for each dimension in turn takes ``sorted(random.sample(range(N), 120))`` over the
``N`` entries of that dimension's ``test_msg_file/<Dim>/<Dim>_messages.json`` -- only when ``120 < N``: a pool of
exactly 120 (Aesthetics) is used whole and consumes no randomness. The script takes the dimensions in
``os.listdir`` order, which depends on the filesystem; here the order is fixed (sorted folder names, unless
``--draw-order`` says otherwise), so the paper's exact items are reproduced only if its listdir order was the
same. ``--test-ids`` pins the split to an explicit list instead (e.g. the ids of a published copy).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cogip_tasks.dimensions import DIMENSIONS, get_dimension
from cogip_tasks.files import UserFileError, decode_utf8, parse_json, read_user_bytes

from .release import InputError, Item

DEFAULT_SEED = 19  # the release's `cog_test.sh --seed 19`
TEST_PER_DIMENSION = 120  # the paper's 480-item test set: 120 per dimension (`--sample-n 120`)
#: The fixed draw order: the test_msg_file folder names, sorted (the release used os.listdir's order).
DEFAULT_DRAW_ORDER: tuple[str, ...] = tuple(sorted(d.release_name for d in DIMENSIONS.values()))


@dataclass(frozen=True)
class TestIds:
    """A pinned test split read from ``--test-ids FILE``."""

    ids: tuple[str, ...]  # in file order, unique
    sha256: str  # of the file's bytes: recorded in the manifest and the card
    source: str  # the file as given, for error messages only (never recorded: builds hold no local paths)
    lines: tuple[str, ...]  # where each id is in the file ("line 3" / "entry 2")


def parse_draw_order(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"Memorability,Funniness,..."`` -> release names; must name each dimension exactly once."""
    if text is None:
        return DEFAULT_DRAW_ORDER
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    try:
        order = tuple(get_dimension(n).release_name for n in names)
    except ValueError as err:
        raise InputError(f"--draw-order {text!r}: {err}") from None
    if sorted(order) != sorted(DEFAULT_DRAW_ORDER):
        raise InputError(f"--draw-order {text!r}: must name each of {', '.join(DEFAULT_DRAW_ORDER)} exactly once")
    return order


def check_test_size(n: int, pool_sizes: dict[str, int], where: dict[str, str]) -> None:
    """``n`` items per dimension must be at least 1 and at most every dimension's pool."""
    if n < 1:
        raise InputError(f"--test-size {n}: must be at least 1")
    for key, size in pool_sizes.items():
        if n > size:
            raise InputError(
                f"--test-size {n}: larger than the {DIMENSIONS[key].release_name} test pool "
                f"({size} entries in {where[key]})"
            )


def release_draw(pool_sizes: dict[str, int], n: int, seed: int, order: Sequence[str]) -> dict[str, list[int]]:
    """Dimension key -> sorted entry indices, drawn exactly as the release's script draws them in ``order``."""
    rng = random.Random(seed)  # the same stream as the script's random.seed(seed) + module-level random.sample
    picks = {}
    for name in order:
        key = get_dimension(name).key
        size = pool_sizes[key]
        picks[key] = sorted(rng.sample(range(size), n)) if n < size else list(range(size))
    return picks


def read_test_ids(path: str | Path) -> TestIds:
    """A JSON list of ids, or one id per line (blank lines and ``#`` comments skipped)."""
    path = Path(path)
    try:  # the one reader of user files: a FIFO or /dev/zero is refused at once, the size is capped
        data = read_user_bytes(path, what="file")
        text = decode_utf8(data, f"{path}: file")
        values = parse_json(text, f"{path}: file") if text.lstrip().startswith("[") else None
    except UserFileError as err:
        raise InputError(f"--test-ids {err}") from None
    if values is not None:
        if not isinstance(values, list):
            raise InputError(f"--test-ids {path}: expected a JSON list of ids, found a {type(values).__name__}")
        where = [f"entry {i}" for i in range(len(values))]
    else:
        numbered = [(i, line.strip()) for i, line in enumerate(text.splitlines(), start=1)]
        kept = [(i, line) for i, line in numbered if line and not line.startswith("#")]
        values, where = [line for _, line in kept], [f"line {i}" for i, _ in kept]
    seen: dict[str, str] = {}
    for value, at in zip(values, where):
        if not isinstance(value, str):
            raise InputError(f"--test-ids {path}: {at}: id {value!r} is not a string like 'Aesthetics/000800'")
        if value in seen:
            raise InputError(f"--test-ids {path}: {at}: id {value!r} repeats {seen[value]}")
        seen[value] = at
    if not seen:
        raise InputError(f"--test-ids {path}: no ids in the file")
    return TestIds(tuple(seen), hashlib.sha256(data).hexdigest(), str(path), tuple(seen.values()))


def pinned_indices(pools: dict[str, list[Item]], pinned: TestIds, training_ids: set[str]) -> dict[str, list[int]]:
    """Dimension key -> sorted entry indices of the pinned ids; an id not in the test pool is an error."""
    index = {item.id: (key, i) for key, pool in pools.items() for i, item in reversed(list(enumerate(pool)))}
    picks: dict[str, list[int]] = {key: [] for key in pools}
    for item_id, at in zip(pinned.ids, pinned.lines):
        if item_id not in index:
            why = (
                "a training item, not in the test pool" if item_id in training_ids else "not in the release's test pool"
            )
            raise InputError(f"--test-ids {pinned.source}: {at}: id {item_id!r} is {why}")
        key, i = index[item_id]
        picks[key].append(i)
    empty = [DIMENSIONS[key].release_name for key, v in picks.items() if not v]
    if empty:  # an empty test split is no dataset (load_dataset cannot read an empty shard)
        raise InputError(
            f"--test-ids {pinned.source}: names no item of {', '.join(empty)}; every dimension needs at least one"
        )
    return {key: sorted(v) for key, v in picks.items()}
