"""The release's evaluation scripts, per model family, as CogIP commands (one home: docs and tests read it).

The authors' repository evaluates each family with its own script (``evaluation/{qwen,gemma,llama}/``); they
agree on the prompts and the Spearman but differ in what they run on and how they read an answer:

- **Qwen2.5-VL** (``cog_test.py``, ``--seed 19``): images through ``qwen_vl_utils.process_vision_info`` with its
  default pixel bounds (4 to 16,384 tokens of 28 x 28: 3,136 to 12,845,056 pixels), 100 new tokens, the first
  decimal-point number.
- **Gemma 3** (``gemma_cog.py``): its launcher passes no ``--seed``, so the test draw uses the script's default,
  42 (a different 480-item set), 100 new tokens, the same parser.
- **Llama 3.2 Vision** (``llama_cog.py``, ``--seed 19``): 1,500 new tokens, the same parser, then a number with
  an absolute value above 10 is dropped (``COGIP_PARSER=release-llama``).

:func:`release_commands` writes the commands that reproduce one of them: build the test split with the script's
seed (``cogip-upload build --seed``), then ``cogip-eval`` with the release's parser, token budget and image bounds.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .scoring import PARSER_ENV


@dataclass(frozen=True)
class ReleaseEvaluation:
    """What one release evaluation script does, in CogIP's terms."""

    model: str  # the lmms-eval wrapper
    script: str  # the release's file
    seed: int  # its test draw's random.seed
    parser: str  # $COGIP_PARSER
    max_new_tokens: int
    model_args: str = ""  # added to --model_args (image bounds)


#: qwen_vl_utils' image bounds when none are given: 4 and 16,384 merged patches of 28 x 28 pixels.
QWEN_VL_UTILS_PIXELS = (4 * 28 * 28, 16384 * 28 * 28)

RELEASE_EVALUATIONS = {
    "qwen2_5_vl": ReleaseEvaluation(
        "qwen2_5_vl",
        "evaluation/qwen/cog_test.py",
        seed=19,
        parser="release",
        max_new_tokens=100,
        model_args=f"min_pixels={QWEN_VL_UTILS_PIXELS[0]},max_pixels={QWEN_VL_UTILS_PIXELS[1]}",
    ),
    "gemma3": ReleaseEvaluation(
        "gemma3", "evaluation/gemma/gemma_cog.py", seed=42, parser="release", max_new_tokens=100
    ),
    "llama_vision": ReleaseEvaluation(
        "llama_vision", "evaluation/llama/llama_cog.py", seed=19, parser="release-llama", max_new_tokens=1500
    ),
}


def release_commands(
    family: str, pretrained: str, *, release: str = "../shared/cogip_release", images: str = "images/"
) -> list[str]:
    """The shell commands reproducing the release's evaluation of ``family`` (a key of RELEASE_EVALUATIONS)."""
    spec = RELEASE_EVALUATIONS[family]
    dataset = f"cogip_bench_seed{spec.seed}"
    model_args = ",".join(a for a in (f"pretrained={pretrained}", spec.model_args) if a)
    build = ["cogip-upload", "build", "--release", release, "--images", images, "-o", dataset]
    build += ["--seed", str(spec.seed)]
    evaluate = [
        f"COGIP_DATASET=./{dataset}",
        f"{PARSER_ENV}={spec.parser}",
        "cogip-eval",
        "--model",
        spec.model,
        "--model_args",
        model_args,
        "--tasks",
        "cogip",
        "--gen_kwargs",
        f"max_new_tokens={spec.max_new_tokens}",
        "--output_path",
        f"results/release-{family}",
        "--log_samples",
    ]
    return [shlex.join(build), " ".join(evaluate[:2]) + " " + shlex.join(evaluate[2:])]


__all__ = ["QWEN_VL_UTILS_PIXELS", "RELEASE_EVALUATIONS", "ReleaseEvaluation", "release_commands"]
