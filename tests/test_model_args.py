"""One scrubbing function for every output that records model args: it errs on the side of removal."""

from __future__ import annotations

import pytest

from cogip_tasks.model_args import REMOVED, scrub_args, scrub_model_args


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "hf_token",
        "api_key",
        "access_key",
        "private_key",
        "hf_key",
        "credentials",
        "pass",
        "password",
        "secret",
        "auth_header",
        "Authorization",
        "aws_secret_access_key",
        "client_secret",
        "cookie",
        "some_new_thing",
    ],
)
def test_every_key_not_known_to_be_harmless_is_removed(key):
    assert scrub_model_args(f"pretrained=Qwen/Qwen2.5-VL-7B-Instruct,{key}=s3cr3t-value") == (
        f"pretrained=Qwen/Qwen2.5-VL-7B-Instruct,{key}={REMOVED}"
    )
    assert scrub_args({"pretrained": "x", key: "s3cr3t-value"}) == {"pretrained": "x", key: REMOVED}


def test_harmless_keys_are_kept_as_written():
    args = "pretrained=Qwen/Qwen2.5-VL-7B-Instruct,device_map=cuda,max_pixels=12544,attn_implementation=sdpa"
    assert scrub_model_args(args) == args
    assert scrub_model_args({"pretrained": "a/b", "dtype": "bfloat16"}) == "pretrained=a/b,dtype=bfloat16"


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://user:pass@example.org/models/x", f"https://{REMOVED}@example.org/models/x"),
        ("s3://AKIAABCDEFGHIJKLMNOP@bucket/x", f"s3://{REMOVED}@bucket/x"),
        ("org/model-hf_abcdefghijklmnopqrstuv", f"org/model-{REMOVED}"),
        ("sk-proj_abcdefghijkl", REMOVED),
    ],
)
def test_credentials_inside_kept_values_are_removed(value, kept):
    assert scrub_model_args(f"pretrained={value}") == f"pretrained={kept}"


def test_nested_values_are_scrubbed_recursively():
    nested = {
        "pretrained": "x",
        "chat_template": {"token": "t", "pretrained": "https://u:p@h/x"},
        "adapter": ["hf_abcdefghijklmnop", "ok"],
    }
    assert scrub_args(nested) == {
        "pretrained": "x",
        "chat_template": {"token": REMOVED, "pretrained": f"https://{REMOVED}@h/x"},
        "adapter": [REMOVED, "ok"],
    }


def test_odd_input_never_raises():
    assert scrub_model_args(None) == ""
    assert scrub_model_args("") == ""
    assert scrub_model_args("justapath,hf_abcdefghijklmnop") == f"justapath,{REMOVED}"


def test_submissions_and_generation_manifests_share_the_scrubber():
    from cogip_gen.harness import public_model_args
    from cogip_tasks.leaderboard import submission

    assert submission.scrub_model_args is scrub_model_args
    assert public_model_args({"auth_header": "Bearer x", "pretrained": "p"}) == {
        "auth_header": REMOVED,
        "pretrained": "p",
    }
