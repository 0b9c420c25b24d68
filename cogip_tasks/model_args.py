"""lmms-eval ``--model_args``: parsing, formatting, and scrubbing before anything is written or published.

One home for these facts, used by every CogIP output that records how a model was loaded (leaderboard
submissions, generation manifests, judge reports, training logs).

What is *published* about a model (leaderboard submissions, and from them the page, its Markdown and JSON) is
built from an allow-list of values, not a deny-list of secret shapes (:func:`published_args`): ``pretrained``
is kept as a Hub id (``org/name``) or, for a local folder, its base name; other keys are kept only when they
are in :data:`PUBLISHED_VALUES` and their value is of the kind it names (a number, a boolean, a device, a
dtype, ...); everything else is dropped (shown as ``<removed>``). ``cogip-eval`` masks on the console every
value this drops (:func:`console_secrets`, :func:`mask_console`).

Generation manifests, judge reports and training logs record model args by the same allow-list. Whether two runs
may share outputs is never decided from these published values: that is the run identity's
(:mod:`cogip_tasks.identity`), which hashes every argument but placement.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from .errors import CogIPError

REMOVED = "<removed>"

# user:password@ in a URL: masked wherever a command prints.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
# An option named like a credential (--token, --api-key, --hf_token, --password ...): its value is never echoed.
_SECRET_OPTION = re.compile(r"token|key|secret|passw|auth|cookie|credential", re.IGNORECASE)
# Strings shaped like API tokens (Hugging Face, OpenAI-style, GitHub, AWS ids): never published as a model name.
_TOKEN_LIKE = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{8,}|sk[-_][A-Za-z0-9_-]{8,}|gh[pousr]_[A-Za-z0-9]{8,}|AKIA[0-9A-Z]{12,})\b"
)


#: What each published key's value may be (anything else is dropped). Numbers, booleans and a closed
#: vocabulary: a free identifier could be a password, so none is published unless its key names a model.
_NUMBER = r"[0-9]{1,12}(?:\.[0-9]{1,12})?"
_BOOL = r"(?i:true|false|0|1)"
_DEVICE = r"(?:auto|cpu|mps|meta|balanced|balanced_low_0|sequential|cuda|xpu|npu|hpu)(?::[0-9]{1,3})?"
PUBLISHED_VALUES: dict[str, str] = {
    **dict.fromkeys(
        ("batch_size", "max_pixels", "min_pixels", "max_num_frames", "fps", "nframes", "max_length",
         "max_new_tokens", "tensor_parallel_size", "data_parallel_size", "gpu_memory_utilization", "max_model_len",
         "max_images"),
        _NUMBER,
    ),
    **dict.fromkeys(
        ("use_flash_attention_2", "use_cache", "trust_remote_code", "interleave_visuals", "use_custom_video_loader",
         "truncation"),
        _BOOL,
    ),
    "device": _DEVICE,
    "device_map": _DEVICE,
    "dtype": r"auto|float16|bfloat16|float32|half|float|fp16|bf16|fp32",
    "torch_dtype": r"auto|float16|bfloat16|float32|half|float|fp16|bf16|fp32",
    "attn_implementation": r"eager|sdpa|flash_attention_2|flash_attention_3|flex_attention",
    "readout": r"[a-z_]{1,32}",
    "quantization": r"awq|gptq|bitsandbytes|fp8|int8|int4|bnb_4bit|bnb_8bit",
    "revision": r"main|[0-9a-f]{7,40}|v?[0-9]{1,4}(?:\.[0-9]{1,4}){0,3}",
}  # fmt: skip
#: A Hugging Face Hub repo id: ``name`` or ``org/name`` (the Hub's own character rules).
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?")
_BASE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,95}")
#: Keys whose value names the model (published as a Hub id or a folder's base name).
MODEL_KEYS = ("pretrained", "model", "model_id", "model_name", "model_version", "adapter")


class ModelArgsError(CogIPError, ValueError):
    """A ``--model``/``--model_args`` pair that lmms-eval cannot use; the message names the bad part."""


def parse_model_args(model_args: str | dict[str, Any] | None) -> dict[str, Any]:
    """``"a=1,b=x"`` -> ``{"a": 1, "b": "x"}`` as lmms-eval reads ``--model_args`` (quotes and JSON values as it
    allows): its ``simple_parse_args_string`` rules, restated in :func:`_lmms_split` and :func:`_lmms_value`
    because importing ``lmms_eval.utils`` imports torch and transformers (seconds before any check can run);
    ``tests/test_model_args.py`` holds them equal to lmms-eval's own function."""
    if model_args is None or model_args == "":
        return {}
    if isinstance(model_args, dict):
        return dict(model_args)
    try:
        return {key: _lmms_value(value) for key, value in (part.split("=", 1) for part in _lmms_split(model_args))}
    except ValueError:
        bad = [part for part in str(model_args).split(",") if "=" not in part]
        raise ModelArgsError(
            f"--model_args {model_args!r}: expected key=value pairs separated by commas; not key=value: {bad}"
        ) from None


def _lmms_split(args_string: str) -> list[str]:
    """``lmms_eval.utils._smart_comma_split`` of the stripped string: commas inside quotes, braces or brackets
    do not split; parts are stripped, empty ones dropped."""
    args_string = args_string.strip()
    parts, current, depth, quote = [], [], 0, None
    for i, char in enumerate(args_string):
        if char in ('"', "'") and (i == 0 or args_string[i - 1] != "\\"):
            if quote is None:
                quote = char
            elif char == quote:
                quote = None
        elif quote is None:
            if char in ("{", "["):
                depth += 1
            elif char in ("}", "]"):
                depth -= 1
            elif char == "," and depth == 0:
                part = "".join(current).strip()
                if part:
                    parts.append(part)
                current = []
                continue
        current.append(char)
    part = "".join(current).strip()
    if part:
        parts.append(part)
    return parts


def _lmms_value(value: str) -> Any:
    """``lmms_eval.utils.handle_arg_string``: true/false (any case), digits as int, else float, else the text."""
    if value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    if value.isnumeric():
        return int(value)
    try:
        return float(value)
    except ValueError:
        return value


def format_model_args(args: dict[str, Any]) -> str:
    """The inverse of :func:`parse_model_args` for plain values: ``{"a": 1}`` -> ``"a=1"``."""
    return ",".join(f"{k}={v}" for k, v in args.items())


def scrub_model_args(model_args: str | dict[str, Any] | None) -> str:
    """``model_args`` as a publishable string (:func:`published_args`); never raises on odd input."""
    return format_model_args(published_args(model_args))


def split_model_args(model_args: str) -> list[str]:
    """``key=value`` parts of a ``--model_args`` string: commas inside quotes, braces or brackets do not split
    (as lmms-eval reads it), so a JSON or quoted value stays one part and is judged as a whole."""
    parts, current, depth, quote = [], [], 0, ""
    for i, char in enumerate(model_args):
        if char in "\"'" and (i == 0 or model_args[i - 1] != "\\"):
            quote = "" if quote == char else (char if not quote else quote)
        elif not quote and char in "{[(":
            depth += 1
        elif not quote and char in "}])":
            depth = max(0, depth - 1)
        elif not quote and depth == 0 and char == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def _model_value(value: str) -> str | None:
    """A model reference as published: a Hub id as written, a local folder as its base name, else nothing."""
    from pathlib import Path, PurePath

    if "://" in value or "@" in value or "?" in value or _TOKEN_LIKE.search(value):
        return None  # a URL (it may carry user info or a token in its query), or a token itself
    is_path = value.startswith((".", "~", "/", "\\")) or value.count("/") > 1 or "\\" in value
    if _HUB_ID.fullmatch(value) and not is_path and not (value.count("/") == 1 and Path(value).is_dir()):
        return value
    base = PurePath(value.replace("\\", "/").rstrip("/")).name
    return base if _BASE_NAME.fullmatch(base) else None


def published_value(key: str, value: Any) -> Any:
    """``value`` if it may be published under ``key`` (see the module docstring), else None."""
    key = key.strip().lower()
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, (int, float)):
        value = repr(value)
    if not isinstance(value, str):
        return None  # dicts, lists, anything structured: its parts cannot be judged one by one
    text = value.strip()
    if key in MODEL_KEYS:
        return _model_value(text)
    pattern = PUBLISHED_VALUES.get(key)
    return text if pattern and re.fullmatch(pattern, text) else None


def _entries(model_args: str | dict[str, Any] | None) -> list[tuple[str | None, Any, str]]:
    """``(key, value, raw part)`` of every part; key None for a part that is not ``key=value``."""
    if isinstance(model_args, dict):
        return [(str(k), v, f"{k}={v}") for k, v in model_args.items()]
    out: list[tuple[str | None, Any, str]] = []
    for part in split_model_args(str(model_args or "")):
        key, sep, value = part.partition("=")
        out.append((key.strip(), value.strip(), part) if sep else (None, part.strip(), part))
    return out


def published_args(model_args: str | dict[str, Any] | None) -> dict[str, Any]:
    """The model args as published: allow-listed values kept, every other value ``<removed>``; parts that are
    not ``key=value`` or whose key is not a plain name are left out altogether."""
    out: dict[str, Any] = {}
    for key, value, _ in _entries(model_args):
        if key is None or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,47}", key):
            continue
        kept = published_value(key, value)
        out[key] = REMOVED if kept is None else kept
    return out


def published_model_name(model_args: str | dict[str, Any] | None) -> str | None:
    """The model's name as published (the default leaderboard name): its Hub id or folder base name."""
    args = published_args(model_args)
    for key in MODEL_KEYS:
        if args.get(key) not in (None, REMOVED):
            return str(args[key])
    return None


def console_secrets(model_args: str | dict[str, Any] | None) -> list[str]:
    """Every value, or part of a value, that :func:`published_args` drops, as it may appear in a log line: raw,
    unquoted, and each piece of it (split at quotes, brackets, separators) long enough to be a credential;
    longest first. A local folder published as its base name has the rest of its path masked."""
    secrets: set[str] = set()
    for key, value, part in _entries(model_args):
        kept = published_value(key, value) if key is not None else None
        raw = str(value) if key is not None else part
        if kept is not None and str(kept) == raw.strip():
            continue
        secrets.update({raw, raw.strip(), raw.strip().strip("\"'")})
        secrets.update(re.split(r"[\"'{}\[\](),;=@?&\\]+", raw))  # quoted and JSON leaves, URL parts
        secrets.update(re.split(r"[\s\"'{}\[\](),:;=@?&/\\]+", raw))  # words ("Bearer sk_..." -> "sk_...")
        secrets.discard(str(kept))
    return sorted((s.strip() for s in secrets if len(s.strip()) >= 6), key=len, reverse=True)


def argv_secrets(argv: list[str]) -> list[str]:
    """What a command line holds that no console line may echo: every ``--*model_args`` value a published file
    would drop (:func:`console_secrets`; a model's local folder is no secret), the value of any option named like
    a credential (``--token``, ``--api-key``), and token-shaped strings anywhere (typed after a misspelt option)."""
    found: list[str] = []
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        following = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
        if name.startswith("-") and name.replace("_", "-").endswith("model-args"):
            for key, value, part in _entries(following):
                if key is not None and key.strip().lower() in MODEL_KEYS and published_value(key, value) is not None:
                    continue  # a model's Hub id or local folder: not published whole, yet no secret to hide
                found += console_secrets(part)
        elif name.startswith("-") and _SECRET_OPTION.search(name):
            found.append(following)
        found += _TOKEN_LIKE.findall(arg)
    return sorted({s for s in found if len(s.strip()) >= 4}, key=len, reverse=True)


def mask_text(text: str, secrets: list[str]) -> str:
    """``text`` with every secret, and the user info of every URL (``https://user:pass@``), as ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}***@", text)


class _MaskingStream:
    """A text stream that masks secrets in what is written to it (everything else passes through)."""

    def __init__(self, stream: Any, secrets: list[str]):
        self._stream, self._secrets = stream, secrets

    def write(self, text: str) -> int:
        self._stream.write(mask_text(text, self._secrets))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def masked_console(secrets: list[str]) -> Iterator[None]:
    """Within the block, stdout and stderr mask ``secrets`` and URL user info (:func:`mask_text`); restored after."""
    import sys

    secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _MaskingStream(sys.stdout, secrets), _MaskingStream(sys.stderr, secrets)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def mask_console(secrets: list[str]) -> None:
    """Mask ``secrets`` in everything this process prints from now on: stdout, stderr (tracebacks, progress)
    and loguru messages (a patcher survives lmms-eval's ``logger.remove()``)."""
    secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not secrets:
        return
    import sys

    sys.stdout = _MaskingStream(sys.stdout, secrets)
    sys.stderr = _MaskingStream(sys.stderr, secrets)
    try:
        from loguru import logger
    except ImportError:
        return
    logger.configure(patcher=lambda record: record.update(message=mask_text(record["message"], secrets)))
