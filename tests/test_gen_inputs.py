"""cogip_gen without models: prompt files, encoder arguments, the judge's statistics and plot, CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from cogip_gen.encoders import EncoderError, resolve_encoder_args
from cogip_gen.harness import ModelArgsError, parse_model_args, public_model_args
from cogip_gen.judge import (
    JudgeError,
    plot_report,
    resolve_dimensions,
    summarize,
    target,
    task_generation_kwargs,
    wilcoxon,
)
from cogip_gen.prompts import (
    PromptFileError,
    collect_prompts,
    dimension_from_path,
    keyword_direction,
    load_prompts,
    valence_direction,
)
from cogip_tasks.scoring import parse_answer
from conftest import REPO, SHARED_RELEASE

# --- prompts ---------------------------------------------------------------------------------------------------


def test_prompt_list_and_object(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(["a cat", "  a dog  "]))
    (tmp_path / "b.json").write_text(json.dumps({"sunset": "a sunset", "joke-1": "a joke"}))
    assert [(p.name, p.text) for p in load_prompts(tmp_path / "a.json")] == [("p000", "a cat"), ("p001", "a dog")]
    prompts = collect_prompts([tmp_path / "b.json"], ["inline one"], limit=1)
    assert [(p.name, p.text) for p in prompts] == [("sunset", "a sunset"), ("prompt0", "inline one")]


@pytest.mark.parametrize(
    "content, expected",
    [
        ('["a cat", ', "not valid JSON (line 1"),
        ('["a cat", 3]', "entry [1]: expected a string prompt, got int"),
        ('["a cat", "   "]', "entry [1]: empty prompt"),
        ('{"a/b": "x"}', "prompt name 'a/b' is not usable"),
        ('{"ok": null}', "entry 'ok': expected a string prompt, got NoneType"),
        ("42", "expected a JSON list of prompt strings or an object"),
        ("[]", "no prompts in file"),
        ('{"sunset": "a sunset", "cat": "a cat", "sunset": "a dawn"}', "key 'sunset' appears more than once"),
        ('[{"prompt": "a", "direction": "up"}]', "entry [0]: direction 'up' is not one of positive, negative, either"),
        ('[{"prompt": "a", "mood": "sad"}]', "entry [0]: unknown field(s) ['mood']"),
        ('{"x": {"direction": "positive"}}', "entry 'x': entry object without a 'prompt'"),
        ('[{"prompt": "a", "direction": "positive", "direction": "negative"}]', "key 'direction' appears more than"),
    ],
)
def test_malformed_prompt_files_name_file_and_entry(tmp_path, content, expected):
    path = tmp_path / "prompts.json"
    path.write_text(content)
    with pytest.raises(PromptFileError) as err:
        load_prompts(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_prompt_name_clash_and_missing_file(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"x": "one"}))
    (tmp_path / "b.json").write_text(json.dumps({"x": "two"}))
    with pytest.raises(PromptFileError, match="'x' is used twice"):
        collect_prompts([tmp_path / "a.json", tmp_path / "b.json"])
    with pytest.raises(PromptFileError, match="prompts file not found"):
        load_prompts(tmp_path / "nope.json")
    with pytest.raises(PromptFileError, match="no prompts"):
        collect_prompts([], [])


@pytest.mark.parametrize("limit", [0, -1, True])
def test_limit_must_be_at_least_one(tmp_path, limit):
    (tmp_path / "a.json").write_text(json.dumps(["one", "two", "three"]))
    with pytest.raises(PromptFileError, match=r"--limit .*: must be a whole number >= 1"):
        collect_prompts([tmp_path / "a.json"], limit=limit)
    assert [p.text for p in collect_prompts([tmp_path / "a.json"], limit=2)] == ["one", "two"]


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_cli_limit_is_a_usage_error(tmp_path, value):
    (tmp_path / "a.json").write_text(json.dumps(["one", "two"]))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cogip_gen",
            "generate",
            "--model_args",
            "pretrained=x",
            "--prompts",
            str(tmp_path / "a.json"),
            "--limit",
            value,
            "--output_dir",
            str(tmp_path / "o"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and "argument --limit:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_prompt_directions_explicit_keywords_fallback(tmp_path):
    path = tmp_path / "emotion.json"
    path.write_text(
        json.dumps(
            {
                "a": {"prompt": "a funeral at dawn", "direction": "positive"},
                "b": "a widow alone at a grave, grief in her hands",
                "c": "friends laughing, joy and relief after a long wait",
                "d": "smiling through tears",
                "e": {"prompt": "a dog at a door"},
            }
        )
    )
    prompts = {p.name: p for p in load_prompts(path)}
    assert prompts["a"].direction == "positive" and prompts["e"].direction is None
    found = {n: valence_direction(p.text, p.direction) for n, p in prompts.items()}
    assert found == {
        "a": ("positive", "explicit"),
        "b": ("negative", "keywords"),
        "c": ("positive", "keywords"),
        "d": ("either", "fallback"),
        "e": ("either", "fallback"),
    }
    assert keyword_direction("LOVE, love and one goodbye") == "positive"  # every occurrence counts, any case
    assert keyword_direction("lovely lost-and-found") == "negative"  # whole words only: "lovely" is not "love"
    record = {"prompt": "pure joy", "direction": None}
    assert target("emotional_valence", record) == {"direction": "positive", "rule": "keywords"}
    assert target("aesthetics", record) == {"direction": "higher", "rule": "scale"}


@pytest.mark.skipif(not (SHARED_RELEASE / "generation_prompts").is_dir(), reason="release prompts not present")
def test_release_emotion_prompts_get_a_direction_each():
    prompts = load_prompts(SHARED_RELEASE / "generation_prompts" / "emotion.json")
    rules = [valence_direction(p.text, p.direction) for p in prompts]
    counts = {d: sum(r[0] == d for r in rules) for d in ("positive", "negative", "either")}
    assert counts == {"positive": 37, "negative": 21, "either": 44}  # the keyword rule on the release's 102 prompts


def test_dimension_from_prompt_file_name():
    assert dimension_from_path("x/emotion.json") == "emotional_valence"
    assert dimension_from_path("aesthetics.json") == "aesthetics"
    assert dimension_from_path("my_prompts.json") is None


@pytest.mark.skipif(not (SHARED_RELEASE / "generation_prompts").is_dir(), reason="release prompts not present")
def test_release_prompt_sets_load():
    for name in ("aesthetics", "funniness", "emotion", "memorability"):
        path = SHARED_RELEASE / "generation_prompts" / f"{name}.json"
        prompts = load_prompts(path)
        assert len(prompts) >= 90 and len({p.name for p in prompts}) == len(prompts)
        assert dimension_from_path(path) is not None


def test_cli_reports_malformed_prompts_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"fine": "a cat", "broken": 7}')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cogip_gen",
            "generate",
            "--model_args",
            "pretrained=x",
            "--prompts",
            str(bad),
            "--output_dir",
            str(tmp_path / "out"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr  # bad input: 1, like cogip-train (2 is argparse's usage error)
    assert f"{bad}: entry 'broken': expected a string prompt, got int" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


# --- encoder arguments -----------------------------------------------------------------------------------------


def _adapter(tmp_path, **config):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", **config}))
    return folder


def test_missing_adapter_base_is_a_clear_error(tmp_path):
    adapter = _adapter(tmp_path)
    with pytest.raises(EncoderError, match="missing adapter base .* names no base_model_name_or_path"):
        resolve_encoder_args(f"adapter={adapter}")
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tmp_path / "gone")}))
    with pytest.raises(EncoderError, match=f"missing adapter base — base model folder {tmp_path / 'gone'} does not"):
        resolve_encoder_args(f"adapter={adapter},device=cpu")
    with pytest.raises(EncoderError, match="no adapter_config.json"):
        resolve_encoder_args(f"pretrained=x,adapter={tmp_path / 'elsewhere'}")
    with pytest.raises(EncoderError, match="need pretrained="):
        resolve_encoder_args("device=cpu")


def test_adapter_base_from_config_or_args(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    adapter = _adapter(tmp_path, base_model_name_or_path=str(base))
    args, found = resolve_encoder_args(f"adapter={adapter},device=cpu")
    assert found == str(adapter) and args == {"pretrained": str(base), "device": "cpu"}
    args, _ = resolve_encoder_args(f"pretrained=Org/Model,adapter={adapter}")  # explicit base wins, Hub id allowed
    assert args["pretrained"] == "Org/Model"


def test_model_args_parsing_and_masking():
    assert parse_model_args("pretrained=a/b,max_pixels=12544") == {"pretrained": "a/b", "max_pixels": 12544}
    with pytest.raises(ModelArgsError, match="not key=value"):
        parse_model_args("pretrained")
    assert public_model_args({"pretrained": "x", "api_key": "sk-1", "hf_token": "hf_x"}) == {
        "pretrained": "x",
        "api_key": "<removed>",
        "hf_token": "<removed>",
    }


# --- judge statistics --------------------------------------------------------------------------------------------


def _rows(
    answers: list[tuple[str, str]],
    dim: str = "aesthetics",
    names: list[str] | None = None,
    prompts: list[str] | None = None,
) -> list[dict]:
    """Report rows as the judge builds them; ``names`` repeats a name for several seeds of one prompt."""
    rows = []
    names = names or [f"p{i}" for i in range(len(answers))]
    for i, (base, aligned) in enumerate(answers):
        seed = names[:i].count(names[i])
        record = {"prompt": prompts[i] if prompts else "a scene", "direction": None}
        row = {
            "key": f"{names[i]}__seed{seed}",
            "name": names[i],
            "seed": seed,
            "dimension": dim,
            "target": target(dim, record),
        }
        for variant, text in (("base", base), ("aligned", aligned)):
            parsed = parse_answer(text, dim)
            row[variant] = {
                "image": f"{variant}/p{i}.png",
                "answer": text,
                "score": parsed.score,
                "label": parsed.label,
                "failure": parsed.failure,
            }
        rows.append(row)
    return rows


def test_summarize_paired_statistics_and_parse_accounting():
    answers = [
        ("medium 5.000", "high 7.000"),
        ("low 4.000", "high 6.500"),
        ("high 7.000", "medium 6.000"),
        ("medium 5.500", "medium 5.500"),
        ("very low 2.000", "medium 6.000"),
        ("medium 6.000", "I cannot tell"),
        ("score: 42", "high 7.100"),
    ]
    s = summarize(_rows(answers))
    assert s["pairs"] == 7
    parsed_base = [5, 4, 7, 5.5, 2, 6]
    assert s["base"] == {
        "n": 7,
        "parsed": 6,
        "unparsed": 1,
        "failures": {"out_of_range": 1},
        "mean": pytest.approx(np.mean(parsed_base)),
        "std": pytest.approx(np.std(parsed_base)),
    }
    assert s["aligned"]["parsed"] == 6 and s["aligned"]["failures"] == {"no_number": 1}
    base, aligned = np.array([5, 4, 7, 5.5, 2]), np.array([7, 6.5, 6, 5.5, 6])
    p = s["paired"]
    assert p["n"] == 5 and p["excluded_unparsed"] == 2 and p["unit"] == "prompt" and p["pairs_used"] == 5
    assert p["mean_diff"] == pytest.approx((aligned - base).mean())
    assert p["median_diff"] == pytest.approx(np.median(aligned - base))
    assert (p["wins"], p["ties"], p["losses"]) == (3, 1, 1)
    assert p["win_rate"] == pytest.approx(3.5 / 5)
    assert p["p_value"] == pytest.approx(stats.wilcoxon(aligned, base, zero_method="wilcox").pvalue)


def _valence_answers(base: list[float], factor: float) -> list[tuple[str, str]]:
    def say(v: float) -> str:
        return f"{'positive' if v > 0.5 else 'negative' if v < -0.5 else 'neutral'} {v:.3f}"

    return [(say(b), say(factor * b)) for b in base]


def test_valence_is_judged_in_each_prompts_direction():
    """Every emotion 1.5x stronger in its own direction: a win for every prompt, however the set mixes them."""
    base = [1.0, -1.2, 1.4, -1.6, 0.8, -1.8, 1.1, -0.9, 1.3, -1.5]
    prompts = ["joy at a reunion" if b > 0 else "grief at a funeral" for b in base]
    rows = _rows(_valence_answers(base, 1.5), "emotional_valence", prompts=prompts)
    p = summarize(rows)["paired"]
    assert (p["win_rate"], p["wins"], p["n"]) == (1.0, 10, 10)
    assert p["p_value"] == pytest.approx(2 / 2**10) and p["p_value"] < 0.01  # exact two-sided signed-rank, n = 10
    assert p["mean_diff"] == pytest.approx(np.mean(np.abs(base)) * 0.5)
    # no direction known: |valence| (intensity) gives the same verdict
    s = summarize(_rows(_valence_answers(base, 1.5), "emotional_valence", prompts=["a scene"] * 10))
    assert s["paired"]["win_rate"] == 1.0 and s["direction_rules"] == {"explicit": 0, "keywords": 0, "fallback": 10}
    # ... while the encoder that weakens every emotion loses everywhere
    assert (
        summarize(_rows(_valence_answers(base, 0.5), "emotional_valence", prompts=prompts))["paired"]["win_rate"] == 0
    )
    # the signed difference would have cancelled: half the prompts "lose"
    signed = np.array(base) * 1.5 - np.array(base)
    assert (signed > 0).mean() == 0.5 and stats.wilcoxon(signed).pvalue > 0.5


def test_several_seeds_are_averaged_per_prompt_first():
    # prompt a: 3 seeds, wins on each; prompt b: 1 seed, a loss; prompt c: 2 seeds that cancel (a tie)
    answers = [
        ("low 4.000", "medium 5.000"),
        ("low 4.000", "medium 5.500"),
        ("low 4.500", "medium 6.000"),
        ("high 7.000", "medium 6.000"),
        ("medium 5.000", "medium 5.700"),
        ("medium 5.700", "medium 5.000"),
    ]
    s = summarize(_rows(answers, names=["a", "a", "a", "b", "c", "c"]))
    p = s["paired"]
    assert (p["n"], p["pairs_used"], p["wins"], p["ties"], p["losses"]) == (3, 6, 1, 1, 1)
    assert p["win_rate"] == pytest.approx(1.5 / 3)
    assert p["mean_diff"] == pytest.approx(np.mean([np.mean([1, 1.5, 1.5]), -1, 0]))
    per_image = s["per_image_pairs"]
    assert (per_image["n"], per_image["wins"], per_image["ties"], per_image["losses"]) == (6, 4, 0, 2)
    assert [(q["name"], q["pairs"], q["parsed_pairs"]) for q in s["per_prompt"]] == [
        ("a", 3, 3),
        ("b", 1, 1),
        ("c", 2, 2),
    ]
    # the order rows arrive in changes nothing
    rows = _rows(answers, names=["a", "a", "a", "b", "c", "c"])
    assert summarize(rows[::-1]) == summarize(rows)


def test_wilcoxon_degenerate_cases():
    assert wilcoxon([], []) == (None, None, "no pair with both answers parsed")
    assert wilcoxon([1.0, 2.0], [1.0, 2.0])[2] == "every paired difference is zero"
    s = summarize(_rows([("nothing", "nope")]))
    assert s["paired"]["n"] == 0 and s["paired"]["win_rate"] is None and s["paired"]["note"]


def test_plot_is_a_png(tmp_path):
    from PIL import Image

    rows = _rows([("medium 5.000", "high 7.000"), ("low 4.000", "high 6.500"), ("x", "y")])
    report = {
        "dimensions": {"aesthetics": summarize(rows), "funniness": summarize(_rows([("a", "b")], "funniness"))},
        "scores": rows,
    }
    plot_report(report, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(tmp_path / "plot.png").size[0] > 300


def test_judge_settings_come_from_the_task_template():
    kwargs = task_generation_kwargs()
    assert kwargs["max_new_tokens"] > 0 and kwargs["temperature"] == 0
    assert resolve_dimensions(["emotion", "Aesthetics"], {}) == ["emotional_valence", "aesthetics"]
    assert resolve_dimensions(None, {"dimension": "funniness"}) == ["funniness"]
    assert len(resolve_dimensions(["all"], {})) == 4
    with pytest.raises(JudgeError, match="pass --dimensions"):
        resolve_dimensions(None, {"dimension": None})
    with pytest.raises(JudgeError, match="unknown CogIP dimension"):
        resolve_dimensions(["beauty"], {})
