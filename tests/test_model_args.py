"""One scrubbing function for every output that records model args: it errs on the side of removal."""

from __future__ import annotations

import pytest

from cogip_tasks.model_args import REMOVED, published_args, scrub_model_args


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
    assert published_args({"pretrained": "x", key: "s3cr3t-value"}) == {"pretrained": "x", key: REMOVED}


def test_harmless_keys_are_kept_as_written():
    args = "pretrained=Qwen/Qwen2.5-VL-7B-Instruct,device_map=cuda,max_pixels=12544,attn_implementation=sdpa"
    assert scrub_model_args(args) == args
    assert scrub_model_args({"pretrained": "a/b", "dtype": "bfloat16"}) == "pretrained=a/b,dtype=bfloat16"


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://user:pass@example.org/models/x", REMOVED),  # a URL is never published
        ("s3://AKIAABCDEFGHIJKLMNOP@bucket/x", REMOVED),
        ("org/model-hf_abcdefghijklmnopqrstuv", REMOVED),
        ("sk-proj_abcdefghijkl", REMOVED),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"),  # a Hub id as written
        ("/home/me/runs/aligned-7b/merged/", "merged"),  # a local folder: its base name only
        ("./out/my_model", "my_model"),
    ],
)
def test_pretrained_is_published_as_a_hub_id_or_a_folder_base_name(value, kept):
    assert scrub_model_args(f"pretrained={value}") == f"pretrained={kept}"


def test_structured_values_are_removed_whole():
    """A dict or list cannot be judged part by part: the allow-list publishes none of it."""
    nested = {
        "pretrained": "x",
        "chat_template": {"token": "t", "pretrained": "https://u:p@h/x"},
        "adapter": ["hf_abcdefghijklmnop", "ok"],
    }
    assert published_args(nested) == {"pretrained": "x", "chat_template": REMOVED, "adapter": REMOVED}


def test_odd_input_never_raises():
    assert scrub_model_args(None) == ""
    assert scrub_model_args("") == ""
    assert scrub_model_args("justapath,hf_abcdefghijklmnop") == ""  # not key=value: left out


def test_submissions_and_generation_manifests_share_the_scrubber():
    from cogip_gen.harness import public_model_args
    from cogip_tasks.leaderboard import submission

    assert submission.scrub_model_args is scrub_model_args
    assert public_model_args is published_args  # one allow-list for every output that records model args
    assert public_model_args({"auth_header": "Bearer x", "pretrained": "p"}) == {
        "auth_header": REMOVED,
        "pretrained": "p",
    }


# -- published values come from an allow-list (#25.1): property-style over many secret shapes ----------------------

SECRETS = [
    "hf_AbCdEfGhIjKlMnOpQrStUv0123",
    "sk_live_51HqLyjWDarjtT1zdp7dc",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # a cloud secret key with '/'
    "s3cr3t-p4ssw0rd",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    "tok=abc/def+ghi==",
]


def placements(secret: str) -> list[str]:
    """``--model_args`` strings that carry ``secret`` in the ways users and tools write them."""
    return [
        f"pretrained=https://user:{secret}@host.example/m",  # URL user info
        f"pretrained=https://host.example/m?token={secret}&x=1",  # URL query token
        f"pretrained=Qwen/Qwen2.5-VL-7B-Instruct,api_key={secret}",
        f'pretrained=org/m,headers={{"X":"o","Authorization":"Bearer {secret}"}}',  # JSON value with commas
        f"pretrained=org/m,system_prompt='You judge images, key {secret}, carefully'",  # quoted value with commas
        f'pretrained=org/m,x="a,revision={secret},b"',  # a harmless key's name hidden inside a quoted value
        f"pretrained=org/m,aws/secret_access_key={secret}",  # a key with '/'
        f"pretrained=org/m,Authorization=Bearer {secret}",  # a Bearer header
        f"pretrained=org/m,revision=main,chat_template={secret}",  # a harmless key with a secret value
        f"pretrained=org/m,{secret}",  # not key=value at all
        f"pretrained=/home/user/{secret}/model",  # a local path with a secret folder name
        f"pretrained=org/m,device={secret}",
        f"pretrained=org/m,dtype=bfloat16,max_pixels={secret}",
    ]


@pytest.mark.parametrize("secret", SECRETS)
def test_no_secret_shape_reaches_published_args(secret):
    from cogip_tasks.model_args import published_args, published_model_name

    pieces = {secret, *secret.replace("=", "/").split("/")} - {"", "tok"}
    for model_args in placements(secret):
        published = scrub_model_args(model_args) + repr(published_args(model_args))
        published += str(published_model_name(model_args))
        for piece in pieces:
            assert piece not in published, (model_args, published)


@pytest.mark.parametrize("secret", SECRETS)
def test_console_masks_every_value_published_args_drops(secret):
    """What cogip-eval prints (lmms-eval echoing its arguments, parsed or raw) never shows a dropped value."""
    from cogip_tasks.model_args import console_secrets, mask_text, parse_model_args

    for model_args in placements(secret):
        secrets = console_secrets(model_args)
        try:
            parsed = repr(parse_model_args(model_args))
        except Exception:  # noqa: BLE001  (lmms-eval refuses some shapes; the raw text is still echoed)
            parsed = ""
        for line in (f"model_args: {model_args}", f"Loading model with {parsed}", f"error: {model_args!r}"):
            masked = mask_text(line, secrets)
            assert secret not in masked and "Bearer " + secret not in masked, (model_args, masked)


@pytest.mark.parametrize("secret", SECRETS[:3])
def test_a_token_given_as_the_model_is_not_published(secret):
    from cogip_tasks.model_args import published_model_name

    assert scrub_model_args(f"pretrained={secret}") == f"pretrained={REMOVED}"
    assert published_model_name(f"pretrained={secret}") is None


def test_harmless_values_stay_readable():
    from cogip_tasks.model_args import console_secrets, published_args, published_model_name

    args = "pretrained=Qwen/Qwen2.5-VL-7B-Instruct,device_map=cuda:0,max_pixels=12544,dtype=bfloat16,use_cache=True"
    assert published_args(args) == {
        "pretrained": "Qwen/Qwen2.5-VL-7B-Instruct",
        "device_map": "cuda:0",
        "max_pixels": "12544",
        "dtype": "bfloat16",
        "use_cache": "True",
    }
    assert published_model_name(args) == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert console_secrets(args) == []
    assert published_model_name("pretrained=https://u:p@h/m?token=x") is None


def test_cogip_eval_masks_model_args_secrets_on_the_console(tmp_path):
    """The console of a failing `cogip-eval` run shows no credential from --model_args (stdout, stderr, logs)."""
    import subprocess
    import sys

    secret = "sk_live_51HqLyjWDarjtT1zdp7dc"
    model_args = f'pretrained=/nonexistent/model,api_key={secret},headers={{"Authorization":"Bearer {secret}x"}}'
    script = (
        "import sys; from cogip_tasks.cli import _mask_secrets; _mask_secrets(sys.argv[1:]);"
        "from loguru import logger; logger.remove(); logger.add(sys.stderr);"
        "print('args', sys.argv[2]); logger.error('parsed {}', sys.argv[2]); raise RuntimeError(sys.argv[2])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--model_args", model_args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "RuntimeError" in done.stderr and "args" in done.stdout
    assert secret not in done.stdout + done.stderr
    assert "/nonexistent/model" in done.stderr  # a local model folder is no secret: messages keep its path


def test_parse_model_args_reads_as_lmms_eval_does():
    """parse_model_args restates lmms-eval's parser (so no torch is imported to parse); the two agree on every
    shape, generated ones included: the same dict, or both refuse (lmms-eval's ValueError, our ModelArgsError)."""
    import random

    from lmms_eval.utils import simple_parse_args_string

    from cogip_tasks.model_args import ModelArgsError, parse_model_args

    cases = [
        "pretrained=Qwen/Qwen2.5-VL-3B-Instruct,device=cpu,max_pixels=12544,dtype=float32",
        " a=1 , b = 2 ,, c=TRUE,d=false,e=1e-3,f=nan,g=-4,h=1_000,i=²,j=٣,k=0x10",
        'kw={"a": 1, "b": [1, 2]},q="x,y",r=\'u,v\',s=\\"t,w',
        "x={a,[b},y=]c,d=e",
        "novalue,a=1",
        "a=b=c,=empty",
        "   ",
        "'unterminated=1,b=2",
    ]
    alphabet = ["a", "b", "=", ",", " ", '"', "'", "\\", "{", "}", "[", "]", "1", ".", "e", "-", "T", "true"]
    rng = random.Random(0)
    cases += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(3000)]
    for text in cases:
        try:
            expected = simple_parse_args_string(text)
        except ValueError:
            with pytest.raises(ModelArgsError):
                parse_model_args(text)
            continue
        got = parse_model_args(text)
        assert repr(got) == repr(expected), text  # repr: nan == nan, and True is not 1


def test_argv_secrets_covers_what_a_usage_error_or_a_library_could_echo():
    """The entry wrapper masks these in every printed line: credential-named options, token-shaped strings after
    any option, model-args values published files drop, URL user info; a model's local folder stays readable."""
    from cogip_tasks.model_args import argv_secrets, mask_text

    argv = ["--bogus", "hf_AbCdEfGhIjKlMnOpQr", "--api-key", "plain-password", "--model_args",
            "pretrained=/data/models/qwen,auth_header=Bearer xyz123,device=cpu"]  # fmt: skip
    line = mask_text(" ".join(argv) + " https://me:pw@host/x /data/models/qwen", argv_secrets(argv))
    for secret in ("hf_AbCdEfGhIjKlMnOpQr", "plain-password", "xyz123", "me:pw"):
        assert secret not in line
    assert "/data/models/qwen" in line and "device=cpu" in line and "https://***@host/x" in line
