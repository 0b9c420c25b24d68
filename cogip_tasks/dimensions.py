"""The built-in benchmark's dimensions (CogIP-Bench) and the helpers every package uses on a dimension.

The facts themselves — names, spellings, score ranges, label bins, prompts — live in the shipped spec,
``cogip_tasks/tasks/cogip/spec.yaml`` (:data:`SPEC_PATH`), parsed here into :class:`Dimension` objects
(:mod:`cogip_tasks.spec`). Other benchmarks are specs of the same shape; code that serves any benchmark takes a
``Dimension`` (or a :class:`BenchmarkSpec`) and reads its facts from it, never from names.

Answers and training targets are written ``"<label> <score>"`` with the spec's decimals (:func:`format_target`),
the release's format; the label is the bin of the *printed* score. Emotional valence's half-point ``neutral``
band (the release: "negative < 0, neutral = 0, positive > 0" for its integer scores) gives the same label to
every integer and lets a continuous score (an expected readout, a regression head) be neutral: it is the label
of the nearest integer.
"""

from __future__ import annotations

from pathlib import Path

from .spec import SPEC_FILE, BenchmarkSpec, Dimension, LabelBin, SpecError, load_spec, normalise_name

__all__ = [
    "BUILTIN_SPEC",
    "DIMENSIONS",
    "DIMENSION_KEYS",
    "HUMAN_DECIMALS",
    "SPEC_PATH",
    "TARGET_DECIMALS",
    "BenchmarkSpec",
    "Dimension",
    "LabelBin",
    "format_target",
    "get_dimension",
    "human_score",
    "image_path",
    "register_spec",
    "row_id",
]

#: The shipped CogIP-Bench spec: package data beside the built-in lmms-eval tasks.
SPEC_PATH = Path(__file__).parent / "tasks" / "cogip" / SPEC_FILE
BUILTIN_SPEC: BenchmarkSpec = load_spec(SPEC_PATH)

#: Canonical key -> Dimension, in the benchmark's order (the built-in benchmark).
DIMENSIONS: dict[str, Dimension] = BUILTIN_SPEC.by_key
DIMENSION_KEYS: tuple[str, ...] = BUILTIN_SPEC.keys

#: Decimals of the built-in benchmark's scores and of every describe-then-predict target ("high 7.234");
#: another spec may set its own (``Dimension.target_decimals``).
TARGET_DECIMALS: int = BUILTIN_SPEC.dimensions[0].target_decimals
#: Human scores are compared at this precision: the Hub column is float32, whose representation noise
#: (0.35 -> 0.3499999940395355) must not reach logs, submissions or label bins.
HUMAN_DECIMALS = 4

#: Specs other than the built-in one whose dimensions ``get_dimension`` resolves by task name (a task folder
#: written by ``cogip-eval tasks write`` registers its spec when lmms-eval loads it).
_REGISTERED: dict[str, BenchmarkSpec] = {}


def register_spec(spec: BenchmarkSpec) -> BenchmarkSpec:
    """Let ``get_dimension`` resolve ``spec``'s task names (``<name>_<key>``); the built-in spec is always known,
    and its name is reserved for it."""
    if spec.name == BUILTIN_SPEC.name:
        if spec != BUILTIN_SPEC:
            raise SpecError(
                f"{spec.source or 'spec'}: field 'name': {spec.name!r} is the built-in benchmark's name; "
                "a benchmark with other dimensions needs a name of its own"
            )
        return BUILTIN_SPEC
    _REGISTERED[spec.name] = spec
    return spec


def human_score(value: float) -> float:
    """A human score as the benchmark compares it: a float, rounded to drop float32 representation noise."""
    return round(float(value), HUMAN_DECIMALS)


def format_target(score: float, dimension: str | Dimension, decimals: int | None = None) -> str:
    """The describe-then-predict answer for a score: ``"<label> <score>"``, labelled after rounding.

    ``decimals``: the spec's ``target_decimals`` unless given. Rounding first keeps label and number consistent:
    float32 ``0.35`` (0.34999...) is ``"low 0.350"``, as in the release, not ``"very low 0.350"``.
    """
    dim = get_dimension(dimension)
    places = dim.target_decimals if decimals is None else decimals
    value = round(float(score), places)
    return f"{dim.label_for(value)} {value:.{places}f}"


def row_id(dimension: str | Dimension, stem: str) -> str:
    """A row's id, ``"<Release name>/<image stem>"`` (``"Memorability/000123"``): unique across dimensions,
    unlike the release's own training ids, which repeat per dimension."""
    return f"{get_dimension(dimension).release_name}/{stem}"


def image_path(dimension: str | Dimension, stem: str) -> str:
    """An image's path relative to the image root, as the release names it: ``"<Release name>/<stem>.jpg"``."""
    return f"{row_id(dimension, stem)}.jpg"


def get_dimension(name: str | Dimension) -> Dimension:
    """Look a dimension up by canonical key, release spelling, task name or alias (case-insensitive).

    Names resolve in the built-in benchmark; a registered spec's dimensions resolve by their task names.
    """
    if isinstance(name, Dimension):
        return name
    found = BUILTIN_SPEC.find(str(name))
    if found is not None:
        return found
    wanted = normalise_name(str(name))
    for spec in _REGISTERED.values():
        for d in spec.dimensions:
            if normalise_name(d.task_name) == wanted:
                return d
    known = ", ".join(f"{d.key} / {d.release_name}" for d in BUILTIN_SPEC.dimensions)
    raise ValueError(f"unknown CogIP dimension {name!r}; expected one of: {known}")
