"""cogip_gen end to end on CPU: a tiny random QwenImagePipeline (saved and loaded back), a second tiny Qwen2.5-VL
as the aligned encoder through lmms-eval's wrapper, and a tiny random judge. Nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cogip_gen.generate as gen_module
import cogip_gen.judge as judge_module
from cogip_gen.cli import main
from cogip_gen.encoders import EncoderError, load_aligned_encoder
from cogip_gen.generate import ManifestError, run_generation
from cogip_gen.pipeline import GenSettings, load_pipeline
from cogip_gen.prompts import load_prompts
from cogip_tasks.tiny_model import build_tiny_qwen2_5_vl
from conftest import REPO, TINY_MODEL_ARGS
from fixtures.tiny_gen import build_tiny_qwen_image

pytestmark = pytest.mark.slow

SETTINGS = GenSettings(steps=2, width=32, height=32, true_cfg_scale=4.0, negative_prompt=" ", dtype="float32")
PROMPTS = {"cat": "a cat slipping on a banana peel, cartoon", "dusk": "a quiet harbour at dusk, soft light"}
SEEDS = [0, 1]


@pytest.fixture(scope="module")
def tiny_pipe(tmp_path_factory):
    return build_tiny_qwen_image(tmp_path_factory.mktemp("qwen_image") / "pipe", seed=0)


@pytest.fixture(scope="module")
def aligned_dir(tmp_path_factory):
    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("aligned") / "model", seed=1)


def _encoder_args(model_dir) -> str:
    return f"pretrained={model_dir},device=cpu,device_map=cpu"


def _run(out, pipe_dir, aligned, settings=SETTINGS, prompts_file=None):
    return run_generation(
        out,
        load_prompts(prompts_file),
        SEEDS,
        pipeline=str(pipe_dir),
        encoder_model="qwen2_5_vl",
        encoder_args=_encoder_args(aligned),
        settings=settings,
        device="cpu",
        dimension="aesthetics",
        progress=False,
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory, tiny_pipe, aligned_dir):
    root = tmp_path_factory.mktemp("gen")
    prompts_file = root / "prompts.json"
    prompts_file.write_text(json.dumps(PROMPTS))
    out = root / "out"
    summary = _run(out, tiny_pipe, aligned_dir, prompts_file=prompts_file)
    return out, summary, prompts_file


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def _snapshot(out) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(out)): (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.png")}


def test_files_grids_and_manifest(generated, tiny_pipe, aligned_dir):
    out, summary, _ = generated
    assert summary["generated"] == 8 and summary["skipped"] == 0 and summary["grids"] == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pipeline"] == str(tiny_pipe) and manifest["dimension"] == "aesthetics"
    assert manifest["settings"] == SETTINGS.as_dict()
    assert manifest["aligned_encoder"]["model"] == "qwen2_5_vl"
    assert manifest["aligned_encoder"]["pretrained"] == Path(aligned_dir).name  # published: the base name only
    assert manifest["base_encoder"]["class"] == "Qwen2_5_VLForConditionalGeneration"
    assert {(i["name"], i["prompt"], i["seed"]) for i in manifest["items"]} == {
        (n, p, s) for n, p in PROMPTS.items() for s in SEEDS
    }
    for item in manifest["items"]:
        for variant in ("base", "aligned"):
            assert Image.open(out / item[variant]).size == (32, 32)
        grid = Image.open(out / item["grid"])
        assert grid.width > 2 * 32 and grid.height > 32
    assert not list(out.rglob("*.tmp"))


def test_same_seed_reproduces_the_base_image_and_the_pipeline_itself(generated, tiny_pipe):
    """Our encode-then-denoise path gives the very image ``pipeline(prompt=...)`` gives with the same seed."""
    out, _, _ = generated
    pipe = load_pipeline(str(tiny_pipe), "float32")
    image = pipe(
        PROMPTS["cat"],
        negative_prompt=" ",
        true_cfg_scale=4.0,
        num_inference_steps=2,
        height=32,
        width=32,
        generator=torch.Generator("cpu").manual_seed(1),
    ).images[0]
    assert np.array_equal(np.asarray(image, dtype=np.int16), _pixels(out / "base/cat__seed1.png"))
    assert not np.array_equal(_pixels(out / "base/cat__seed0.png"), _pixels(out / "base/cat__seed1.png"))


def test_the_aligned_encoder_changes_the_images(generated):
    out, _, _ = generated
    for name in PROMPTS:
        for seed in SEEDS:
            base = _pixels(out / f"base/{name}__seed{seed}.png")
            assert not np.array_equal(base, _pixels(out / f"aligned/{name}__seed{seed}.png")), (name, seed)


def test_rerun_generates_nothing_and_loads_no_model(generated, tiny_pipe, aligned_dir, monkeypatch):
    out, _, prompts_file = generated
    before = _snapshot(out)

    def no_loading(*args, **kwargs):
        raise AssertionError("a rerun with every image present must not load the pipeline")

    monkeypatch.setattr(gen_module, "load_pipeline", no_loading)
    summary = _run(out, tiny_pipe, aligned_dir, prompts_file=prompts_file)
    assert (summary["generated"], summary["skipped"], summary["grids"]) == (0, 8, 0)
    assert _snapshot(out) == before


def test_a_crash_loses_nothing_and_the_rerun_finishes(generated, tiny_pipe, aligned_dir, tmp_path, monkeypatch):
    _, _, prompts_file = generated
    out = tmp_path / "out"
    real_render, calls = gen_module.render, []

    def crashing_render(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("simulated crash (out of memory, preemption...)")
        return real_render(*args, **kwargs)

    monkeypatch.setattr(gen_module, "render", crashing_render)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(out, tiny_pipe, aligned_dir, prompts_file=prompts_file)
    kept = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert kept == ["aligned/cat__seed0.png", "base/cat__seed0.png", "base/cat__seed1.png"]
    assert not list(out.rglob("*.tmp"))
    assert len(json.loads((out / "manifest.json").read_text())["items"]) == 4  # the record survived as well

    monkeypatch.setattr(gen_module, "render", real_render)
    summary = _run(out, tiny_pipe, aligned_dir, prompts_file=prompts_file)
    assert (summary["generated"], summary["skipped"], summary["grids"]) == (5, 3, 4)
    full = generated[0]
    for p in full.rglob("*.png"):  # same seeds, same encoders: identical to the uninterrupted run
        if p.parent.name in ("base", "aligned"):
            assert np.array_equal(_pixels(out / p.relative_to(full)), _pixels(p)), p


def test_changed_settings_are_refused(generated, tiny_pipe, aligned_dir):
    out, _, prompts_file = generated
    with pytest.raises(ManifestError, match=r"settings.steps: 2 -> 3"):
        _run(
            out,
            tiny_pipe,
            aligned_dir,
            settings=GenSettings(**{**SETTINGS.as_dict(), "steps": 3}),
            prompts_file=prompts_file,
        )


def test_encoder_pipeline_size_mismatch_fails_before_generating(tmp_path, tiny_pipe):
    narrow = build_tiny_qwen2_5_vl(tmp_path / "narrow", seed=2, text_hidden=32)
    prompts_file = tmp_path / "p.json"
    prompts_file.write_text(json.dumps(["a cat"]))
    with pytest.raises(EncoderError, match=r"hidden size 32, but the pipeline .* expects text features of size 64"):
        _run(tmp_path / "out", tiny_pipe, narrow, prompts_file=prompts_file)
    assert not list((tmp_path / "out").rglob("*.png"))


def test_adapter_is_merged_into_the_encoder(tmp_path, aligned_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2_5_VLForConditionalGeneration

    base = Qwen2_5_VLForConditionalGeneration.from_pretrained(aligned_dir)
    lora = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")  # records aligned_dir as base_model_name_or_path
    plain = load_aligned_encoder("qwen2_5_vl", _encoder_args(aligned_dir), pipeline_dim=64).model
    merged = load_aligned_encoder(
        "qwen2_5_vl", f"adapter={tmp_path / 'adapter'},device=cpu,device_map=cpu", pipeline_dim=64
    )
    assert merged.description["adapter"] == str(tmp_path / "adapter")
    assert type(merged.model).__name__ == "Qwen2_5_VLForConditionalGeneration"  # merged, not a PeftModel
    name = next(n for n, _ in plain.named_parameters() if "q_proj.weight" in n)
    assert not torch.equal(dict(merged.model.named_parameters())[name], dict(plain.named_parameters())[name])


def test_judge_cli_report_plot_and_resume(generated, tiny_qwen_dir, monkeypatch, capsys):
    out, _, _ = generated
    argv = [
        "judge",
        str(out),
        "--model",
        "qwen2_5_vl",
        "--model_args",
        f"pretrained={tiny_qwen_dir},{TINY_MODEL_ARGS}",
        "--dimensions",
        "aesthetics",
        "emotion",
        "--batch_size",
        "4",
        "--gen_kwargs",
        "max_new_tokens=6",
        "--quiet",
    ]
    assert main(argv) == 0
    assert "emotional_valence" in capsys.readouterr().out
    report = json.loads((out / "judge/report.json").read_text())
    assert report["pairs"] == 4 and report["prompts"] == 2 and report["missing_images"] == []
    assert report["generation_kwargs"]["max_new_tokens"] == 6
    assert set(report["dimensions"]) == {"aesthetics", "emotional_valence"}
    for s in report["dimensions"].values():
        assert s["pairs"] == 4
        for variant in ("base", "aligned"):
            v = s[variant]
            assert v["n"] == 4 and v["parsed"] + v["unparsed"] == 4 and sum(v["failures"].values()) == v["unparsed"]
        paired = s["paired"]  # over prompts (2), each the mean of its parsed seeds
        assert paired["unit"] == "prompt" and paired["n"] <= 2
        assert (
            paired["pairs_used"] + paired["excluded_unparsed"]
            == 4
            == s["per_image_pairs"]["n"] + paired["excluded_unparsed"]
        )
        assert paired["wins"] + paired["ties"] + paired["losses"] == paired["n"]
        assert [q["pairs"] for q in s["per_prompt"]] == [2, 2]
    assert len(report["scores"]) == 8
    assert all(isinstance(r[v]["answer"], str) for r in report["scores"] for v in ("base", "aligned"))
    assert (out / "judge/report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    answers = (out / "judge/answers.jsonl").read_text().splitlines()
    assert len(answers) == 16

    def no_loading(*args, **kwargs):
        raise AssertionError("every answer is recorded: the judge must not load the model again")

    monkeypatch.setattr(judge_module, "load_lmms_model", no_loading)
    assert main(argv) == 0
    assert json.loads((out / "judge/report.json").read_text())["dimensions"] == report["dimensions"]
    assert len((out / "judge/answers.jsonl").read_text().splitlines()) == 16


def test_the_tiny_judge_scores_another_benchmarks_dimension(generated, tiny_qwen_dir, tmp_path, capsys):
    """The real lmms-eval wrapper as judge on a custom spec's dimension (--spec): every image asked the spec's
    prompt, each answer read on the spec's scale, the report naming the benchmark; a rerun reuses the answers."""
    from cogip_gen.judge import judge_benchmark

    out, _, _ = generated
    spec_file = REPO / "examples" / "sharpness" / "spec.yaml"
    report_dir = tmp_path / "judge_sharpness"
    argv = ["judge", str(out), "--model", "qwen2_5_vl", "--model_args", f"pretrained={tiny_qwen_dir},{TINY_MODEL_ARGS}",
            "--spec", str(spec_file), "--dimensions", "sharpness", "--gen_kwargs", "max_new_tokens=6",
            "-o", str(report_dir), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert "sharpness" in capsys.readouterr().out
    report = json.loads((report_dir / "report.json").read_text())
    spec = judge_benchmark(spec=spec_file)
    assert report["benchmark"]["spec_sha256"] == spec.fingerprint and list(report["dimensions"]) == ["sharpness"]
    answers = [json.loads(line) for line in (report_dir / "answers.jsonl").read_text().splitlines()]
    assert len(answers) == 8 and {a["dimension"] for a in answers} == {"sharpness"}
    assert {a["run"] for a in answers} == {report["judge"]["runs"]["sharpness"]}
    for row in report["scores"]:
        for variant in ("base", "aligned"):
            score = row[variant]["score"]
            assert score is None or 1 <= score <= 5  # read on Sharpness' 1-5 scale
    assert main(argv) == 0  # every answer recorded: nothing asked again
    assert len((report_dir / "answers.jsonl").read_text().splitlines()) == 8


def test_judge_speaks_both_lmms_eval_request_layouts(generated, tiny_qwen_dir):
    """Chat wrappers get (ctx, doc_to_messages, ...), simple ones (ctx, gen_kwargs, doc_to_visual, ...)."""
    from cogip_gen.harness import load_lmms_model
    from cogip_gen.judge import ask, task_generation_kwargs
    from cogip_tasks.prompts import DEFAULT_PROMPTS

    out, _, _ = generated
    images = [out / "base/cat__seed0.png", out / "aligned/dusk__seed1.png"]
    args = {
        "pretrained": str(tiny_qwen_dir),
        "device": "cpu",
        "device_map": "cpu",
        "max_pixels": 12544,
        "min_pixels": 3136,
    }
    for force_simple in (False, True):
        lm = load_lmms_model("qwen2_5_vl", args, batch_size=2, force_simple=force_simple)
        assert lm.is_simple == force_simple
        answers = ask(
            lm,
            [DEFAULT_PROMPTS["funniness"], DEFAULT_PROMPTS["memorability"]],
            images,
            {**task_generation_kwargs(), "max_new_tokens": 4},
        )
        assert len(answers) == 2 and all(isinstance(a, str) for a in answers)


def test_cli_generate(tmp_path, tiny_pipe, aligned_dir, capsys):
    argv = [
        "generate",
        "--pipeline",
        str(tiny_pipe),
        "--model_args",
        _encoder_args(aligned_dir),
        "--prompt",
        "a memorable red door",
        "--seeds",
        "3",
        "--output_dir",
        str(tmp_path / "out"),
        "--dimension",
        "Memorability",
        "--steps",
        "2",
        "--width",
        "32",
        "--height",
        "32",
        "--dtype",
        "float32",
        "--device",
        "cpu",
        "--quiet",
    ]
    assert main(argv) == 0
    assert "generated 2 image(s)" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert manifest["dimension"] == "memorability" and manifest["settings"]["steps"] == 2
    assert (tmp_path / "out/grids/prompt0__seed3.png").exists()
    assert main(argv[:-1] + ["--offload", "model", "--quiet"]) == 0  # nothing left to do: no placement at all
    assert main(argv[:-1] + ["--seeds", "4", "--offload", "model", "--quiet"]) == 1
    assert "--offload needs an accelerator" in capsys.readouterr().err
    assert not (tmp_path / "out/base/prompt0__seed4.png").exists()
    assert (
        main(
            [
                "generate",
                "--model_args",
                "pretrained=x",
                "--prompt",
                "p",
                "--output_dir",
                str(tmp_path / "o2"),
                "--dimension",
                "beauty",
            ]
        )
        == 1
    )
    assert "unknown CogIP dimension 'beauty'" in capsys.readouterr().err


def test_a_lost_manifest_never_lets_old_images_pass_for_new_settings(
    generated, tiny_pipe, aligned_dir, tmp_path, tiny_qwen_dir, capsys
):
    """The issue-12 scenario: manifest corrupt -> user deletes it -> rerun with other settings."""
    import shutil

    _, _, prompts_file = generated
    out = tmp_path / "out"
    shutil.copytree(generated[0], out, ignore=shutil.ignore_patterns("judge"))
    judge_argv = [
        "judge",
        str(out),
        "--model",
        "qwen2_5_vl",
        "--model_args",
        f"pretrained={tiny_qwen_dir},{TINY_MODEL_ARGS}",
        "--gen_kwargs",
        "max_new_tokens=4",
        "--quiet",
    ]
    assert main(judge_argv) == 0
    assert len((out / "judge/answers.jsonl").read_text().splitlines()) == 8
    (out / "manifest.json").write_text('{"format": "cogip-gen-2", "items": [')
    other = GenSettings(**{**SETTINGS.as_dict(), "steps": 3})
    with pytest.raises(ManifestError, match="not valid JSON.*--overwrite"):
        _run(out, tiny_pipe, aligned_dir, settings=other, prompts_file=prompts_file)
    (out / "manifest.json").unlink()
    before = {p.relative_to(out): _pixels(p) for p in out.glob("*/*.png")}
    with pytest.raises(ManifestError, match="no manifest.json records how they were made.*--overwrite"):
        _run(out, tiny_pipe, aligned_dir, settings=other, prompts_file=prompts_file)
    summary = run_generation(
        out,
        load_prompts(prompts_file),
        SEEDS,
        pipeline=str(tiny_pipe),
        encoder_model="qwen2_5_vl",
        encoder_args=_encoder_args(aligned_dir),
        settings=other,
        device="cpu",
        dimension="aesthetics",
        progress=False,
        overwrite=True,
    )
    assert (summary["generated"], summary["skipped"], summary["grids"]) == (8, 0, 4)
    assert json.loads((out / "manifest.json").read_text())["settings"]["steps"] == 3
    changed = [name for name, pixels in before.items() if not np.array_equal(pixels, _pixels(out / name))]
    assert len(changed) == 12  # every base, aligned and grid image was made again with 3 steps
    capsys.readouterr()
    assert main(judge_argv) == 0  # new image bytes: nothing of the old judge answers is reused
    assert len((out / "judge/answers.jsonl").read_text().splitlines()) == 16
