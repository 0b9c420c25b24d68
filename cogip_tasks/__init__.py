"""CogIP-Bench for lmms-eval: four image-cognition tasks, answer parsing and agreement metrics."""

from .dimensions import DIMENSION_KEYS, DIMENSIONS, Dimension, get_dimension
from .scoring import PARSER_VERSION, ParsedAnswer, parse_answer, parse_answer_paper, parse_answer_release

__version__ = "0.1.0"  # the one home of the version: pyproject.toml reads it (setuptools dynamic)

__all__ = [
    "DIMENSIONS",
    "DIMENSION_KEYS",
    "METRIC_NAMES",
    "PARSER_VERSION",
    "Dimension",
    "ParsedAnswer",
    "compute_metrics",
    "get_dimension",
    "parse_answer",
    "parse_answer_paper",
    "parse_answer_release",
]


def __getattr__(name: str):
    # The metrics pull in scipy (~2 s); load them only when asked, so every CLI starts fast.
    if name in ("METRIC_NAMES", "compute_metrics"):
        from . import metrics

        return getattr(metrics, name)
    raise AttributeError(f"module 'cogip_tasks' has no attribute {name!r}")
