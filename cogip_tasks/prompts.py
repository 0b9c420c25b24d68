"""The benchmark's describe-then-predict prompt for each dimension, as the shipped spec states it.

The prompts themselves live in the spec (``cogip_tasks/tasks/cogip/spec.yaml``, each dimension's ``prompt``):
verbatim from the CogIP-Bench release, the first test-pool prompt of each dimension, without the release's
leading ``<image>`` placeholder (lmms-eval wrappers place the image themselves). The Hub dataset carries a prompt
per row (the release varies the wording); these are used where no row is at hand: the built-in sample dataset
and the generation judge.
"""

from __future__ import annotations

from .dimensions import DIMENSIONS

DEFAULT_PROMPTS: dict[str, str] = {key: dim.prompt for key, dim in DIMENSIONS.items()}
