"""The release's evaluation per family (cogip_tasks.release_protocol): the parser variant of the Llama script,
the Qwen script's image bounds, the Gemma script's seed-42 draw, and the commands the docs give for each."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest

from cogip_tasks.release_protocol import QWEN_VL_UTILS_PIXELS, RELEASE_EVALUATIONS, release_commands
from cogip_tasks.scoring import PARSERS, parse_answer_release_llama, parser_name_from_env, parser_version

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "cogip_release"


def llama_script_score(answer: str) -> float:
    """evaluation/llama/llama_cog.py, ported: the first decimal-point number, NaN when none or |x| > 10."""
    found = re.findall(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?", answer)
    score = float(found[0]) if found else math.nan
    return math.nan if abs(score) > 10 else score


PIECES = ["high ", "low ", "7.5", "12.25", "-10.5", "10.0", "-3.0", "1e1", ".5e1", "9.99", "2", " ", "\n", "0.415"]


def test_the_llama_parser_equals_the_llama_script_on_fuzzed_answers():
    rng = random.Random(1)
    answers = ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6))) for _ in range(3000)]
    dropped = 0
    for answer in answers:
        want = llama_script_score(answer)
        parsed = parse_answer_release_llama(answer, "aesthetics")
        if math.isnan(want):
            assert parsed.score is None, answer
            dropped += parsed.value is not None  # read, then dropped for |x| > 10
        else:
            assert parsed.score == want, answer
    assert dropped > 100
    # the other scripts keep what Llama's drops
    assert PARSERS["release"]("high 12.25", "aesthetics").score == 12.25
    assert parse_answer_release_llama("high 12.25", "aesthetics").failure == "out_of_range"


def test_the_llama_parser_is_a_tasks_parser(monkeypatch):
    monkeypatch.setenv("COGIP_PARSER", "release-llama")
    assert parser_name_from_env() == "release-llama" and parser_version("release-llama") == "release-llama"
    assert parser_version("release") == "release" and parser_version("cogip").startswith("cogip-parse")


def test_the_qwen_bounds_are_qwen_vl_utils_defaults():
    from qwen_vl_utils import vision_process

    factor = 28  # Qwen2.5-VL: 14-pixel patches merged 2 x 2
    assert (
        QWEN_VL_UTILS_PIXELS
        == (
            vision_process.IMAGE_MIN_TOKEN_NUM * factor**2,
            vision_process.IMAGE_MAX_TOKEN_NUM * factor**2,
        )
        == (3136, 12845056)
    )
    assert "min_pixels=3136,max_pixels=12845056" in release_commands("qwen2_5_vl", "Qwen/Qwen2.5-VL-7B-Instruct")[1]


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared (the release's test pools)")
def test_the_gemma_seed_draws_another_test_set():
    """Seed 42 (Gemma's script) against seed 19: overlaps 120 / 24 / 76 / 20 (Aesthetics' pool is the 120)."""
    from cogip_tasks.dimensions import get_dimension
    from hub_upload.testsplit import DEFAULT_DRAW_ORDER, release_draw

    pools = {
        get_dimension(d).key: len(json.loads((SHARED / "test_msg_file" / d / f"{d}_messages.json").read_text()))
        for d in DEFAULT_DRAW_ORDER
    }
    paper, gemma = (release_draw(pools, 120, seed, DEFAULT_DRAW_ORDER) for seed in (19, 42))
    overlap = {d: len(set(paper[d]) & set(gemma[d])) for d in pools}
    assert overlap == {"aesthetics": 120, "emotional_valence": 24, "funniness": 76, "memorability": 20}
    assert RELEASE_EVALUATIONS["gemma3"].seed == 42 and "--seed 42" in release_commands("gemma3", "g")[0]


def test_the_llama_command_and_every_command_in_the_docs():
    llama = release_commands("llama_vision", "meta-llama/Llama-3.2-11B-Vision-Instruct")[1]
    assert "COGIP_PARSER=release-llama" in llama and "max_new_tokens=1500" in llama
    docs = (REPO / "docs" / "comparability.md").read_text()
    pretrained = {
        "qwen2_5_vl": "Qwen/Qwen2.5-VL-7B-Instruct",
        "gemma3": "google/gemma-3-12b-it",
        "llama_vision": "meta-llama/Llama-3.2-11B-Vision-Instruct",
    }
    for family, model in pretrained.items():
        for command in release_commands(family, model):
            assert command in docs, command
