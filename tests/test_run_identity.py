"""One run identity decides every reuse: flip each field that changes an output and expect a recompute or a
refusal; flip only placement and expect reuse. The judge and ``generate`` run their real code paths with a scripted
judge and no pipeline (see test_gen_hostile.py); ``cogip-train --resume`` is in test_train_resume_identity.py."""

from __future__ import annotations

import json
import random
from dataclasses import fields, replace

import pytest

from cogip_gen.cli import main
from cogip_gen.generate import MANIFEST, ManifestError, encoder_identity, run_generation, run_identity
from cogip_gen.pipeline import GenSettings
from cogip_gen.prompts import Prompt
from cogip_tasks.identity import IdentityMismatch, differences, identity_hash, require_same
from test_gen_hostile import install_judge, make_folder, no_model

# ---- the function itself ----------------------------------------------------------------------------------------


def _random_settings(rng: random.Random, depth: int = 0) -> dict:
    out = {}
    for i in range(rng.randint(1, 5)):
        kind = rng.random()
        if kind < 0.2 and depth < 2:
            out[f"k{i}"] = _random_settings(rng, depth + 1)
        elif kind < 0.4:
            out[f"k{i}"] = rng.randint(-5, 5)
        elif kind < 0.6:
            out[f"k{i}"] = rng.choice(["a", "b", "é", ""])
        elif kind < 0.8:
            out[f"k{i}"] = rng.choice([0.5, 1.0, 1e-9, float("nan")])
        else:
            out[f"k{i}"] = rng.choice([True, False, None, [1, 2], ["x"]])
    return out


def _leaves(settings: dict, prefix: str = "") -> list[str]:
    found = []
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            found += _leaves(value, f"{prefix}{key}.")
        else:
            found.append(f"{prefix}{key}")
    return found


def _set(settings: dict, dotted: str, value) -> dict:
    copy = json.loads(json.dumps(settings))
    node = copy
    *path, last = dotted.split(".")
    for part in path:
        node = node[part]
    node[last] = value
    return copy


def test_flipping_any_field_changes_the_identity_and_names_that_field():
    rng = random.Random(0)
    for _ in range(200):
        settings = _random_settings(rng)
        assert identity_hash(settings) == identity_hash(json.loads(json.dumps(settings)))  # order, copies
        assert identity_hash(dict(reversed(list(settings.items())))) == identity_hash(settings)
        for leaf in _leaves(settings):
            for other in ("changed", 7, 1, True, None, 1.0000001, [1, 2, 3]):
                flipped = _set(settings, leaf, other)
                if json.dumps(flipped) == json.dumps(settings):
                    continue
                assert identity_hash(flipped) != identity_hash(settings), (settings, leaf, other)
                assert differences(settings, flipped) == [leaf]
    assert identity_hash({"a": 1}) != identity_hash({"a": True}) != identity_hash({"a": "1"})
    assert identity_hash({"a": 1}) != identity_hash({"a": 1, "b": None})


def test_a_refusal_names_fields_not_values():
    with pytest.raises(IdentityMismatch, match=r"^ckpt: resume refused; these settings differ: model\.api_key, seed$"):
        require_same(
            {"model": {"api_key": "sk_old"}, "seed": 1},
            {"model": {"api_key": "sk_new"}, "seed": 2},
            "ckpt",
            "resume refused",
        )


# ---- the judge: answers reused only under the same identity --------------------------------------------------------

JUDGE = ["--model", "scripted", "--model_args", "pretrained=judge"]


@pytest.mark.parametrize(
    "extra, recompute",
    [
        ([], False),
        (["--model_args", "pretrained=judge,device=cpu"], False),  # placement only
        (["--batch_size", "2"], False),
        (["--model_args", "pretrained=judge,max_pixels=200704"], True),
        (["--model_args", "pretrained=judge,min_pixels=3136"], True),
        (["--model_args", "pretrained=judge,revision=v2"], True),
        (["--model_args", "pretrained=judge,attn_implementation=eager"], True),
        (["--model_args", "pretrained=judge,api_key=sk_secret_value"], True),
        (["--model_args", "pretrained=other"], True),
        (["--model", "other_model"], True),
        (["--gen_kwargs", "max_new_tokens=7"], True),
        (["--gen_kwargs", "temperature=0.7,do_sample=true"], True),
        (["--gen_kwargs", "num_beams=2"], True),
    ],
)
def test_the_judge_reuses_answers_only_under_the_same_identity(tmp_path, monkeypatch, capsys, extra, recompute):
    make_folder(tmp_path, {"a": "one", "b": "two"}, dimension="aesthetics")
    install_judge(monkeypatch, lambda image: "high 7.000")
    assert main(["judge", str(tmp_path), *JUDGE, "--quiet"]) == 0
    loaded = install_judge(monkeypatch, lambda image: "low 2.000")
    if not recompute:
        no_model(monkeypatch)
    argv = ["judge", str(tmp_path), *JUDGE, "--quiet"]
    for flag in ("--model", "--model_args"):  # a flag given again replaces the default one
        if flag in extra:
            at = argv.index(flag)
            del argv[at : at + 2]
    assert main([*argv, *extra]) == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "judge/report.json").read_text())
    answers = {r["base"]["answer"] for r in report["scores"]} | {r["aligned"]["answer"] for r in report["scores"]}
    if recompute:
        assert len(loaded[0].asked) == 4 and answers == {"low 2.000"}
    else:
        assert answers == {"high 7.000"}
    assert "sk_secret_value" not in (tmp_path / "judge/report.json").read_text()
    assert "sk_secret_value" not in (tmp_path / "judge/answers.jsonl").read_text()


# ---- generate: a folder's images are reused only under the same identity -----------------------------------------

BASE = {"pipeline": "tiny", "encoder_model": "qwen2_5_vl", "encoder_args": "pretrained=x"}


def _made_folder(tmp_path):
    make_folder(tmp_path, {"a": "one"}, dimension="aesthetics")
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    settings = GenSettings()
    manifest["aligned_encoder"] = encoder_identity(BASE["encoder_model"], BASE["encoder_args"])
    manifest["identity"] = run_identity(BASE["pipeline"], settings.as_dict(), BASE["encoder_model"], "pretrained=x")
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    return [Prompt("a", "one")]


def _flipped_settings() -> list[GenSettings]:
    base = GenSettings()
    out = []
    for f in fields(GenSettings):
        value = getattr(base, f.name)
        if isinstance(value, bool):
            new = not value
        elif isinstance(value, (int, float)):
            new = value + 16
        elif f.name == "dtype":
            new = "float32" if value != "float32" else "bfloat16"
        else:
            new = f"{value or ''} changed"
        out.append(replace(base, **{f.name: new}))
    return out


@pytest.mark.parametrize(
    "change",
    [{"pipeline": "other/pipeline"}, {"encoder_model": "qwen3_vl"}]
    + [
        {"encoder_args": a}
        for a in ("pretrained=y", "pretrained=x,revision=abc123", "pretrained=x,torch_dtype=float16")
    ]
    + [{"encoder_args": "pretrained=x,adapter=/nowhere"}, {"encoder_args": "pretrained=x,token=hf_secret_xyz"}]
    + [{"settings": s} for s in _flipped_settings()],
)
def test_generate_refuses_a_folder_made_under_another_identity(tmp_path, monkeypatch, change):
    prompts = _made_folder(tmp_path)
    no_model(monkeypatch)
    assert run_generation(tmp_path, prompts, [0], **BASE)["generated"] == 0  # the same run: everything reused
    kwargs = {**BASE, **change}
    before = (tmp_path / MANIFEST).read_bytes()
    with pytest.raises(ManifestError, match="holds images made differently") as err:
        run_generation(tmp_path, prompts, [0], **kwargs)
    assert "hf_secret_xyz" not in str(err.value)
    assert (tmp_path / MANIFEST).read_bytes() == before  # nothing rewritten


def test_generate_reuses_under_placement_only_changes(tmp_path, monkeypatch):
    prompts = _made_folder(tmp_path)
    no_model(monkeypatch)
    for args in ("pretrained=x,device=cuda:1", "pretrained=x,device_map=auto"):
        assert run_generation(tmp_path, prompts, [0], **{**BASE, "encoder_args": args})["generated"] == 0


def test_generate_decides_by_the_identity_alone_not_by_the_published_fields(tmp_path, monkeypatch):
    """Two local encoders with one base name publish the same ``pretrained`` (the folder's base name), yet differ:
    refused by the identity. A manifest whose published fields were written by an older rule (a full path) but
    whose identity matches is the same run: reused."""
    a, b = tmp_path / "a" / "merged", tmp_path / "b" / "merged"
    out = tmp_path / "out"
    out.mkdir()
    make_folder(out, {"a": "one"}, dimension="aesthetics")
    manifest = json.loads((out / MANIFEST).read_text())
    settings = GenSettings().as_dict()
    manifest["aligned_encoder"] = {**encoder_identity("qwen2_5_vl", f"pretrained={a}"), "pretrained": str(a)}
    manifest["identity"] = run_identity("tiny", settings, "qwen2_5_vl", f"pretrained={a}")
    (out / MANIFEST).write_text(json.dumps(manifest))
    no_model(monkeypatch)
    prompts = [Prompt("a", "one")]
    run = {"pipeline": "tiny", "encoder_model": "qwen2_5_vl"}
    assert encoder_identity("qwen2_5_vl", f"pretrained={a}")["pretrained"] == "merged"  # published: base name only
    assert run_generation(out, prompts, [0], **run, encoder_args=f"pretrained={a}")["generated"] == 0
    with pytest.raises(ManifestError, match="holds images made differently"):  # same published name, another model
        run_generation(out, prompts, [0], **run, encoder_args=f"pretrained={b}")
