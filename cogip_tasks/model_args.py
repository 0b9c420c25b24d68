"""lmms-eval ``--model_args``: parsing, formatting, and scrubbing before anything is written or published.

One home for these facts, used by every CogIP output that records how a model was loaded (leaderboard
submissions, generation manifests, judge reports, training logs).

Scrubbing errs on the side of removal: a value is kept only when its key is on an allow-list of keys known to
carry no credential (model ids, devices, dtypes, image sizes, ...). Every other value is replaced by
``<removed>``, and kept values are cleaned too: a ``user:pass@`` in a URL and token-looking strings (``hf_...``,
``sk-...``) are removed wherever they appear, nested dicts and lists included.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import CogIPError

REMOVED = "<removed>"

#: Keys whose values are kept in public outputs (lower case; anything else is removed).
HARMLESS_KEYS = frozenset(
    {
        "pretrained",
        "model",
        "model_name",
        "model_id",
        "model_version",
        "adapter",
        "revision",
        "device",
        "device_map",
        "dtype",
        "torch_dtype",
        "attn_implementation",
        "use_flash_attention_2",
        "batch_size",
        "max_pixels",
        "min_pixels",
        "max_num_frames",
        "fps",
        "nframes",
        "max_length",
        "max_new_tokens",
        "use_cache",
        "trust_remote_code",
        "tensor_parallel_size",
        "data_parallel_size",
        "gpu_memory_utilization",
        "max_model_len",
        "max_images",
        "interleave_visuals",
        "system_prompt",
        "reasoning_prompt",
        "readout",
        "chat_template",
        "use_custom_video_loader",
        "truncation",
        "conv_template",
        "quantization",
    }
)

# user:password@ in a URL, and strings shaped like API tokens (Hugging Face, OpenAI-style, GitHub, AWS ids).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
_TOKEN_LIKE = re.compile(r"\b(?:hf_[A-Za-z0-9]{8,}|sk-[A-Za-z0-9_-]{8,}|gh[pousr]_[A-Za-z0-9]{8,}|AKIA[0-9A-Z]{12,})\b")


class ModelArgsError(CogIPError, ValueError):
    """A ``--model``/``--model_args`` pair that lmms-eval cannot use; the message names the bad part."""


def parse_model_args(model_args: str | dict[str, Any] | None) -> dict[str, Any]:
    """``"a=1,b=x"`` -> ``{"a": 1, "b": "x"}`` with lmms-eval's own parser (quotes and JSON values as it allows)."""
    if model_args is None or model_args == "":
        return {}
    if isinstance(model_args, dict):
        return dict(model_args)
    from lmms_eval.utils import simple_parse_args_string

    try:
        return simple_parse_args_string(model_args)
    except ValueError:
        bad = [part for part in str(model_args).split(",") if "=" not in part]
        raise ModelArgsError(
            f"--model_args {model_args!r}: expected key=value pairs separated by commas; not key=value: {bad}"
        ) from None


def format_model_args(args: dict[str, Any]) -> str:
    """The inverse of :func:`parse_model_args` for plain values: ``{"a": 1}`` -> ``"a=1"``."""
    return ",".join(f"{k}={v}" for k, v in args.items())


def scrub_value(value: Any) -> Any:
    """A kept value with embedded credentials removed (URL user info, token-looking strings), recursively."""
    if isinstance(value, dict):
        return scrub_args(value)
    if isinstance(value, (list, tuple)):
        return [scrub_value(v) for v in value]
    if isinstance(value, str):
        value = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REMOVED}@", value)
        return _TOKEN_LIKE.sub(REMOVED, value)
    return value


def scrub_args(args: dict[str, Any]) -> dict[str, Any]:
    """Model args safe to publish: values of keys not on :data:`HARMLESS_KEYS` become ``<removed>``."""
    return {
        str(key): scrub_value(value) if str(key).strip().lower() in HARMLESS_KEYS else REMOVED
        for key, value in args.items()
    }


def scrub_model_args(model_args: str | dict[str, Any] | None) -> str:
    """``model_args`` as a publishable string (see :func:`scrub_args`); never raises on odd input."""
    if isinstance(model_args, dict):
        return format_model_args(scrub_args(model_args))
    parts = []
    for part in str(model_args or "").split(","):
        key, sep, value = part.partition("=")
        if not sep:
            parts.append(scrub_value(part))  # not key=value: keep only what passes the value scrub
        elif key.strip().lower() in HARMLESS_KEYS:
            parts.append(f"{key}={scrub_value(value)}")
        else:
            parts.append(f"{key}={REMOVED}")
    return ",".join(parts)
