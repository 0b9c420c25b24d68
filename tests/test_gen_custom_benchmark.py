"""The cogip-gen judge on another benchmark's dimensions (``--spec`` / ``--dataset``): the spec's prompt is asked and
the answers are read with its labels and range; without either, CogIP-Bench as before. The judge is the scripted
lmms-eval stand-in of tests/test_gen_hostile.py, so the real run_judge / CLI code runs in milliseconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cogip_gen.judge as judge_module
from cogip_gen.cli import main
from conftest import REPO
from test_gen_hostile import JUDGE_ARGS, ScriptedJudge, make_folder, one_line_error

SPEC = REPO / "examples" / "sharpness" / "spec.yaml"
PROMPTS = {f"p{i}": f"a photo of a lighthouse, take {i}" for i in range(6)}


class PromptRecordingJudge(ScriptedJudge):
    """Also records the prompt of every request (the request's context)."""

    def __init__(self, answer):
        super().__init__(answer)
        self.prompts: list[str] = []

    def generate_until(self, requests):
        self.prompts += [request.arguments[0] for request in requests]
        return super().generate_until(requests)


def _install(monkeypatch, answer) -> list[PromptRecordingJudge]:
    loaded: list[PromptRecordingJudge] = []

    def load(model, args, batch_size=1, force_simple=False):
        loaded.append(PromptRecordingJudge(answer))
        return loaded[-1]

    monkeypatch.setattr(judge_module, "load_lmms_model", load)
    return loaded


def _sharper_when_aligned(image: Path) -> str:
    # aligned images are "sharp 4", base ones "blurry 2"; p5's aligned answer is 7: outside Sharpness' 1-5
    # (CogIP-Bench's aesthetics scale, 0-10, would have read it)
    if image.parent.name != "aligned":
        return "blurry 2"
    return "very sharp 7" if image.stem.startswith("p5") else "sharp 4"


@pytest.mark.parametrize("how", ["spec", "dataset"])
def test_the_judge_scores_a_specs_dimensions_with_its_prompt_labels_and_range(how, tmp_path, monkeypatch, capsys):
    from cogip_tasks.spec import load_spec

    spec = load_spec(SPEC)
    out = tmp_path / "gen"
    make_folder(out, PROMPTS, dimension="sharpness")  # the generation targeted the custom dimension
    if how == "spec":
        named = ["--spec", str(SPEC)]
    else:  # a dataset built by cogip-upload build --spec: its manifest carries the spec
        dataset = tmp_path / "sharp_ds"
        dataset.mkdir()
        (dataset / "cogip_build.json").write_text(json.dumps({"spec": spec.to_dict()}))
        named = ["--dataset", str(dataset)]
    loaded = _install(monkeypatch, _sharper_when_aligned)
    assert main(["judge", str(out), *JUDGE_ARGS, *named, "--quiet"]) == 0  # no --dimensions: the target one
    assert "sharpness" in capsys.readouterr().out
    (judge,) = loaded
    assert set(judge.prompts) == {spec.dimensions[0].prompt} and len(judge.prompts) == 12
    report = json.loads((out / "judge" / "report.json").read_text())
    assert report["benchmark"] == {
        "name": "sharpness_bench",
        "title": "Sharpness-Bench",
        "spec_sha256": spec.fingerprint,
    }
    summary = report["dimensions"]["sharpness"]
    assert summary["aligned"]["failures"] == {"out_of_range": 1} and summary["base"]["unparsed"] == 0
    assert summary["paired"]["n"] == 5 and summary["paired"]["mean_diff"] == pytest.approx(2.0)
    assert {r["aligned"]["label"] for r in report["scores"] if r["aligned"]["score"] is not None} == {"sharp"}
    assert (out / "judge" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same run again reuses every answer (same prompt, same identity): no model is loaded
    assert main(["judge", str(out), *JUDGE_ARGS, *named, "--quiet"]) == 0
    assert len(loaded) == 1


def test_without_a_spec_the_judge_is_cogip_benchs_and_the_spec_options_are_checked(tmp_path, monkeypatch, capsys):
    out = tmp_path / "gen"
    make_folder(out, PROMPTS, dimension="sharpness")
    _install(monkeypatch, _sharper_when_aligned)
    assert main(["judge", str(out), *JUDGE_ARGS, "--quiet"]) == 1
    one_line_error(capsys, "target dimension 'sharpness' is not a dimension of CogIP-Bench", "--dimensions")
    assert main(["judge", str(out), *JUDGE_ARGS, "--dimensions", "sharpness"]) == 1
    one_line_error(capsys, "--dimensions: unknown CogIP dimension 'sharpness'")
    assert main(["judge", str(out), *JUDGE_ARGS, "--spec", str(SPEC), "--dimensions", "aesthetics"]) == 1
    one_line_error(capsys, "--dimensions: unknown Sharpness-Bench dimension 'aesthetics'")
    assert main(["judge", str(out), *JUDGE_ARGS, "--spec", str(SPEC), "--dataset", str(tmp_path)]) == 1
    one_line_error(capsys, "--dataset and --spec both name the benchmark")
    assert main(["judge", str(out), *JUDGE_ARGS, "--dataset", str(tmp_path / "nope")]) == 1
    one_line_error(capsys, f"--dataset {tmp_path / 'nope'}: no such dataset folder")
    assert not (out / "judge" / "answers.jsonl").exists()
