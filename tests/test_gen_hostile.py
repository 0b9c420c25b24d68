"""cogip_gen against hostile or unlucky input, without models: torn answer logs, lost manifests, corrupt images,
absurd options. A generation folder is written the way ``generate`` writes it (its own ``Item`` records and
manifest format), and the judge is a scripted stand-in for an lmms-eval model, so the real ``run_judge`` / CLI
code paths run in milliseconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import cogip_gen.generate as gen_module
import cogip_gen.judge as judge_module
from cogip_gen.cli import main
from cogip_gen.generate import FORMAT, GRID, MANIFEST, VARIANTS, Item
from cogip_gen.pipeline import GenSettings
from conftest import REPO

JUDGE_ARGS = ["--model", "scripted", "--model_args", "pretrained=judge"]


class ScriptedJudge:
    """Stands in for an lmms-eval simple wrapper: the answer for each request comes from ``answer(image path)``."""

    is_simple = True

    def __init__(self, answer):
        self.answer, self.task_dict, self.asked = answer, {}, []

    def generate_until(self, requests):
        out = []
        for request in requests:
            _, _, _, doc_id, task, split = request.arguments
            image = Path(self.task_dict[task][split][doc_id]["image"])
            self.asked.append(image)
            out.append(self.answer(image))
        return out


def make_folder(out: Path, prompts: dict[str, str | dict], seeds=(0,), dimension="emotional_valence") -> list[Item]:
    """A finished generation folder: images (distinct bytes each) and the manifest recording them."""
    items = []
    for name, entry in prompts.items():
        text, direction = (entry["prompt"], entry.get("direction")) if isinstance(entry, dict) else (entry, None)
        items += [Item(name, text, seed, direction) for seed in seeds]
    records = []
    for n, it in enumerate(items):
        record = it.record()
        for k, part in enumerate((*VARIANTS, GRID)):
            path = out / record[part]
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (n % 256, k * 40, n // 256)).save(path, format="PNG")
        record["written"] = [*VARIANTS, GRID]
        records.append(record)
    manifest = {
        "format": FORMAT,
        "pipeline": "tiny",
        "settings": GenSettings().as_dict(),
        "aligned_encoder": {"model": "qwen2_5_vl", "pretrained": "x", "adapter": None, "model_args": {}},
        "dimension": dimension,
        "items": records,
        "runs": [],
    }
    (out / MANIFEST).write_text(json.dumps(manifest))
    return items


def install_judge(monkeypatch, answer) -> list[ScriptedJudge]:
    loaded = []

    def load(model, args, batch_size=1, force_simple=False):
        loaded.append(ScriptedJudge(answer))
        return loaded[-1]

    monkeypatch.setattr(judge_module, "load_lmms_model", load)
    return loaded


def no_model(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("no model may load on this path")

    monkeypatch.setattr(judge_module, "load_lmms_model", refuse)
    monkeypatch.setattr(gen_module, "load_pipeline", refuse)


def one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("cogip-gen: warning:")]
    assert len(lines) == 1 and lines[0].startswith("cogip-gen: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --- valence judged in each prompt's direction, end to end -----------------------------------------------------

EMOTION = {
    "happy": {"prompt": "a birthday party", "direction": "positive"},
    "sad": {"prompt": "an empty room", "direction": "negative"},
    "reunion": "friends reunited, smiles and laughter",
    "farewell": "a farewell at a grave, grief",
    "door": "a dog waiting at a door",
    "joy2": "pure joy on a swing",
    "loss": "a lonely vigil after a loss",
    "hope": "a lantern of hope",
    "rain": "a quiet rain at a window",
    "pain": "tears of pain and regret",
}


def _valence_answer(base_value: dict[str, float], factor: float):
    def answer(image: Path) -> str:
        value = base_value[image.stem.split("__")[0]] * (factor if image.parent.name == "aligned" else 1)
        return f"{'positive' if value > 0.5 else 'negative' if value < -0.5 else 'neutral'} {value:.3f}"

    return answer


def test_judge_every_emotion_stronger_wins_every_prompt(tmp_path, monkeypatch, capsys):
    make_folder(tmp_path, EMOTION, seeds=(0, 1))
    # the base image shows each prompt's emotion; "door" and "rain" have no direction: |valence| counts
    value = {
        "happy": 1.2,
        "sad": -1.0,
        "reunion": 1.4,
        "farewell": -1.6,
        "door": -0.8,
        "joy2": 1.0,
        "loss": -1.2,
        "hope": 0.9,
        "rain": 1.1,
        "pain": -1.4,
    }
    install_judge(monkeypatch, _valence_answer(value, 1.5))
    assert main(["judge", str(tmp_path), *JUDGE_ARGS, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2 explicit, 6 keywords, 2 fallback" in out
    s = json.loads((tmp_path / "judge/report.json").read_text())["dimensions"]["emotional_valence"]
    assert s["measure"] == "valence in each prompt's direction"
    p = s["paired"]
    assert (p["unit"], p["n"], p["pairs_used"], p["win_rate"]) == ("prompt", 10, 20, 1.0)
    assert p["p_value"] < 0.01
    assert s["per_image_pairs"]["n"] == 20 and s["per_image_pairs"]["wins"] == 20
    rules = {q["name"]: (q["direction"], q["rule"]) for q in s["per_prompt"]}
    assert rules["happy"] == ("positive", "explicit") and rules["sad"] == ("negative", "explicit")
    assert rules["farewell"] == ("negative", "keywords") and rules["door"] == ("either", "fallback")
    assert s["directions"] == {"positive": 4, "negative": 4, "either": 2}


# --- judge/answers.jsonl torn by a crash -------------------------------------------------------------------------


@pytest.mark.parametrize("answer_text, cut", [("high 7.000", "ascii"), ("très élevé — 7.000 ✓", "multibyte")])
def test_judge_resumes_after_a_torn_last_line(tmp_path, monkeypatch, capsys, answer_text, cut):
    make_folder(tmp_path, {"a": "one", "b": "two", "c": "three"}, dimension="aesthetics")
    install_judge(monkeypatch, lambda image: answer_text)
    assert main(["judge", str(tmp_path), *JUDGE_ARGS, "--quiet"]) == 0
    answers = tmp_path / "judge/answers.jsonl"
    full = answers.read_bytes()
    lines = full.splitlines(keepends=True)
    assert len(lines) == 6
    last = lines[-1]
    if cut == "ascii":
        at = len(last) // 2
    else:  # inside the 3-byte "✓"
        at = last.index("✓".encode()) + 1
        with pytest.raises(UnicodeDecodeError):
            last[:at].decode("utf-8")
    answers.write_bytes(b"".join(lines[:-1]) + last[:at])
    capsys.readouterr()

    loaded = install_judge(monkeypatch, lambda image: answer_text)
    assert main(["judge", str(tmp_path), *JUDGE_ARGS, "--quiet"]) == 0
    assert "skipped 1 unreadable line(s) (line 6" in capsys.readouterr().err
    assert len(loaded[0].asked) == 1  # only the torn answer is asked again
    data = answers.read_bytes()
    assert data.endswith(b"\n") and len(data.splitlines()) == 6
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]  # every line whole: nothing glued
    assert all(r["answer"] == answer_text for r in rows)
    report = json.loads((tmp_path / "judge/report.json").read_text())
    assert report["dimensions"]["aesthetics"]["pairs"] == 3

    install_judge(monkeypatch, lambda image: pytest.fail("all answered: no model"))
    no_model(monkeypatch)
    assert main(["judge", str(tmp_path), *JUDGE_ARGS, "--quiet"]) == 0
    assert "warning" not in capsys.readouterr().err  # the tear is gone for good


def test_a_whole_last_record_missing_only_its_newline_is_kept(tmp_path, monkeypatch, capsys):
    make_folder(tmp_path, {"a": "one", "b": "two"}, dimension="aesthetics")
    install_judge(monkeypatch, lambda image: "high 7.000")
    assert main(["judge", str(tmp_path), *JUDGE_ARGS, "--quiet"]) == 0
    answers = tmp_path / "judge/answers.jsonl"
    answers.write_bytes(answers.read_bytes().rstrip(b"\n"))
    (tmp_path / "base/a__seed0.png").unlink()  # a pair that comes back: one image to ask about, then an append
    Image.new("RGB", (8, 8), (200, 1, 2)).save(tmp_path / "base/a__seed0.png")
    loaded = install_judge(monkeypatch, lambda image: "low 4.000")
    assert main(["judge", str(tmp_path), *JUDGE_ARGS, "--quiet"]) == 0
    assert loaded[0].asked == [tmp_path / "base/a__seed0.png"]  # new bytes: judged again; the rest reused
    rows = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 5


# --- corrupt images, manifests and options -----------------------------------------------------------------------


def test_judge_on_a_corrupt_png_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    make_folder(tmp_path, {"a": "one", "b": "two"}, dimension="aesthetics")
    bad = tmp_path / "aligned/b__seed0.png"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated mid-file
    no_model(monkeypatch)
    assert main(["judge", str(tmp_path), *JUDGE_ARGS, "--quiet"]) == 1
    one_line_error(capsys, str(bad), "image does not decode")
    assert not (tmp_path / "judge/answers.jsonl").exists()


def _generate_argv(out: Path, *extra: str) -> list[str]:
    return [
        "generate",
        "--pipeline",
        "tiny",
        "--model_args",
        "pretrained=x",
        "--prompt",
        "a cat",
        "--output_dir",
        str(out),
        "--steps",
        "3",
        "--quiet",
        *extra,
    ]


@pytest.mark.parametrize("manifest", ["deleted", "corrupt"])
def test_images_without_a_valid_manifest_are_not_reused(tmp_path, monkeypatch, capsys, manifest):
    make_folder(tmp_path, {"prompt0": "a cat"}, dimension="aesthetics")
    if manifest == "deleted":
        (tmp_path / MANIFEST).unlink()
        expected = "no manifest.json records how they were made"
    else:
        (tmp_path / MANIFEST).write_text('{"format": "cogip-gen-2", "items": [')
        expected = "not valid JSON"
    no_model(monkeypatch)
    assert main(_generate_argv(tmp_path)) == 1
    one_line_error(capsys, str(tmp_path), expected, "--overwrite")


def test_overwrite_regenerates_every_unproven_image(tmp_path, monkeypatch, capsys):
    """--overwrite after a lost manifest: nothing of the old folder is reused, the corrupt manifest is kept aside."""
    make_folder(tmp_path, {"prompt0": "a cat", "old": "a dog"}, dimension="aesthetics")
    (tmp_path / MANIFEST).write_text("{torn")
    rendered = []

    def fake_render_all(out, todo, manifest, records, header, encoder, settings, device, offload, progress, tqdm):
        for it, variant in todo:
            Image.new("RGB", (8, 8), (9, 9, 9)).save(out / it.file(variant))
            rendered.append(it.file(variant))
            records[it.key]["written"].append(variant)
        return {}

    monkeypatch.setattr(gen_module, "_render_all", fake_render_all)
    assert main(_generate_argv(tmp_path, "--overwrite", "--device", "cpu")) == 0
    assert sorted(rendered) == ["aligned/prompt0__seed0.png", "base/prompt0__seed0.png"]
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["settings"]["steps"] == 3 and [i["name"] for i in manifest["items"]] == ["prompt0"]
    assert manifest["items"][0]["written"] == ["base", "aligned", "grid"]  # the grid was redrawn from new images
    assert [p.read_text() for p in tmp_path.glob("manifest.json.corrupt-*")] == ["{torn"]
    # the unplanned old image is not recorded: a later run that plans it makes it again
    rendered.clear()
    assert (
        main(
            _generate_argv(tmp_path, "--device", "cpu")[:-2]
            + ["--prompts", str(_write(tmp_path / "p.json", {"prompt0": "a cat", "old": "a dog"})), "--quiet"]
        )
        == 0
    )
    assert sorted(rendered) == ["aligned/old__seed0.png", "base/old__seed0.png"]


def test_a_manifest_that_records_no_image_does_not_pin_the_settings(tmp_path, monkeypatch):
    """A run that failed before its first image (out of memory at 4K, a typo...) may be rerun with other settings."""
    make_folder(tmp_path, {"prompt0": "a cat"}, dimension="aesthetics")
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["items"][0]["written"] = []
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    for sub in ("base", "aligned", "grids"):
        for image in (tmp_path / sub).glob("*.png"):
            image.unlink()

    def fake_render_all(out, todo, manifest, records, header, encoder, settings, device, offload, progress, tqdm):
        for it, variant in todo:
            Image.new("RGB", (8, 8), (9, 9, 9)).save(out / it.file(variant))
            records[it.key]["written"].append(variant)
        return {}

    monkeypatch.setattr(gen_module, "_render_all", fake_render_all)
    assert main(_generate_argv(tmp_path, "--device", "cpu")) == 0  # --steps 3, the manifest said 50
    assert json.loads((tmp_path / MANIFEST).read_text())["settings"]["steps"] == 3


def _write(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_manifest_items_cannot_point_outside_the_folder(tmp_path, monkeypatch, capsys):
    make_folder(tmp_path, {"a": "one"}, dimension="aesthetics")
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["items"][0]["base"] = "../../etc/passwd"
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    no_model(monkeypatch)
    assert main(["judge", str(tmp_path), *JUDGE_ARGS]) == 1
    one_line_error(capsys, "items[0].base", "../../etc/passwd")


def test_legacy_manifest_is_read_as_recording_its_existing_files(tmp_path):
    make_folder(tmp_path, {"a": "one", "b": "two"}, dimension="aesthetics")
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["format"] = "cogip-gen-1"
    for record in manifest["items"]:
        del record["written"], record["direction"]
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    (tmp_path / "aligned/b__seed0.png").unlink()
    read = gen_module.read_manifest(tmp_path)
    assert [r["written"] for r in read["items"]] == [["base", "aligned", "grid"], ["base", "grid"]]


# --- every CLI error path: one line, no traceback, the right exit code -------------------------------------------


def _bad_inputs(tmp: Path) -> list[tuple[list[str], int, tuple[str, ...]]]:
    folder = tmp / "gen"
    make_folder(folder, {"a": "one"}, dimension="aesthetics")
    nodim = tmp / "nodim"
    make_folder(nodim, {"a": "one"}, dimension=None)
    dup = _write(tmp / "dup.json", {})
    dup.write_text('{"a": "x", "a": "y"}')
    adapter = tmp / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    blocked = tmp / "blocked"
    blocked.write_text("a file where the output folder should be")
    gen = ["generate", "--model_args", "pretrained=x", "--prompt", "p", "--quiet"]
    return [
        (
            ["generate", "--model_args", "pretrained=x", "--prompts", str(dup), "--output_dir", str(tmp / "o1")],
            1,
            (str(dup), "key 'a' appears more than once"),
        ),
        ([*gen, "--output_dir", str(tmp / "o2"), "--dimension", "beauty"], 1, ("--dimension", "'beauty'")),
        (
            [
                "generate",
                "--model_args",
                "pretrained",
                "--prompt",
                "p",
                "--output_dir",
                str(tmp / "o3"),
                "--device",
                "cpu",
            ],
            1,
            ("--model_args", "not key=value"),
        ),
        (
            [
                "generate",
                "--model_args",
                f"adapter={adapter}",
                "--prompt",
                "p",
                "--output_dir",
                str(tmp / "o4"),
                "--device",
                "cpu",
            ],
            1,
            ("adapter_config.json", "base_model_name_or_path"),
        ),
        ([*gen, "--output_dir", str(tmp / "o5"), "--offload", "model", "--device", "cpu"], 1, ("--offload",)),
        ([*gen, "--output_dir", str(blocked / "sub"), "--device", "cpu"], 1, (str(blocked),)),
        ([*gen, "--output_dir", str(tmp / "o6"), "--dtype", "float99", "--device", "cpu"], 1, ("--dtype",)),
        (["judge", str(tmp / "nowhere"), *JUDGE_ARGS], 1, (str(tmp / "nowhere"), "no manifest.json")),
        (["judge", str(nodim), *JUDGE_ARGS], 1, ("pass --dimensions",)),
        (["judge", str(folder), *JUDGE_ARGS, "--dimensions", "beauty"], 1, ("--dimensions", "beauty")),
        (["judge", str(folder), *JUDGE_ARGS, "--gen_kwargs", "max_new_tokens"], 1, ("--gen_kwargs",)),
        (["judge", str(folder), "--model", "no_such_model_xyz"], 1, ("no_such_model_xyz",)),
        (["judge", str(folder), *JUDGE_ARGS, "--report_dir", str(blocked)], 1, (str(blocked),)),
    ]


def test_every_cli_error_is_one_line_and_exits_1(tmp_path, monkeypatch, capsys):
    for argv, code, needles in _bad_inputs(tmp_path):
        with monkeypatch.context() as patch:
            if "--report_dir" in argv:
                install_judge(patch, lambda image: "high 7.000")
            elif "no_such_model_xyz" not in argv:  # that one goes through lmms-eval's real model registry
                no_model(patch)
            assert main(argv) == code, argv
            one_line_error(capsys, *needles)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (
            ["generate", "--model_args", "pretrained=x", "--prompt", "p", "--output_dir", "o", "--seeds", "-1"],
            "argument --seeds: -1 is out of range",
        ),
        (
            ["generate", "--model_args", "pretrained=x", "--prompt", "p", "--output_dir", "o", "--steps", "0"],
            "argument --steps: 0 is out of range",
        ),
        (
            [
                "generate",
                "--model_args",
                "pretrained=x",
                "--prompt",
                "p",
                "--output_dir",
                "o",
                "--true_cfg_scale",
                "nan",
            ],
            "argument --true-cfg-scale: 'nan' is not a finite number",
        ),
        (["judge", "x", "--model", "m", "--batch_size", "0"], "argument --batch-size: 0 is out of range"),
        (["judge"], "required"),
    ],
)
def test_usage_errors_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_real_cli_exit_codes(tmp_path):
    """Through the installed entry point: a user error exits 1 with one stderr line, a usage error 2."""
    dup = tmp_path / "dup.json"
    dup.write_text('{"a": "x", "a": "y"}')
    for argv, code in (
        (["generate", "--model_args", "pretrained=x", "--prompts", str(dup), "--output_dir", str(tmp_path / "o")], 1),
        (["judge", str(tmp_path / "missing"), "--model", "m"], 1),
        (
            [
                "generate",
                "--model_args",
                "pretrained=x",
                "--prompt",
                "p",
                "--output_dir",
                str(tmp_path / "o"),
                "--limit",
                "0",
            ],
            2,
        ),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "cogip_gen", *argv],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr
        if code == 1:
            assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("cogip-gen: error: ")
    assert not (tmp_path / "o").exists()


def test_a_full_disk_while_recording_answers_is_one_line_naming_the_file():
    """/dev/full answers every write with ENOSPC: the real error of a full disk."""
    with pytest.raises(judge_module.JudgeError) as err:
        judge_module.append_answers(Path("/dev/full"), [{"answer": "x" * 100_000}])
    assert str(err.value).startswith("/dev/full: cannot write the answers (No space left on device)")


def test_a_judge_that_fails_to_load_leaves_no_empty_report_folder(tmp_path, monkeypatch, capsys):
    from cogip_tasks.model_args import ModelArgsError

    make_folder(tmp_path, {"a": "one"}, dimension="aesthetics")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    def load(*_args, **_kwargs):
        raise ModelArgsError("--model scripted: no such checkpoint")

    monkeypatch.setattr(judge_module, "load_lmms_model", load)
    assert main(["judge", str(tmp_path), *JUDGE_ARGS, "--quiet"]) == 1
    one_line_error(capsys, "no such checkpoint")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # no judge/ folder
