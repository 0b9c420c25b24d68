"""The aligned text encoder: a Qwen2.5-VL loaded through lmms-eval's wrapper, optionally with a peft adapter merged.

Given the same vocabulary as ``cogip-eval``/``cogip-train``::

    --model qwen2_5_vl --model_args pretrained=out/merged                       # a merged model folder
    --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct,adapter=out/adapter
    --model qwen2_5_vl --model_args adapter=out/adapter    # base read from the adapter's adapter_config.json

``adapter=`` is ours (lmms-eval's wrapper does not take it): it is removed before the wrapper is built, then the
adapter is merged into the wrapper's model so the pipeline sees a plain ``Qwen2_5_VLForConditionalGeneration``.
Unless ``device_map`` is given the encoder loads on CPU: the pipeline places it (device or offload) itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cogip_tasks.errors import CogIPError
from cogip_tasks.files import UserFileError, read_user_json

from .harness import ModelArgsError, format_model_args, load_lmms_model, parse_model_args, public_model_args


class EncoderError(CogIPError, ValueError):
    """An aligned encoder that cannot stand in for the pipeline's text encoder; the message says why."""


@dataclass
class AlignedEncoder:
    model: Any  # transformers Qwen2_5_VLForConditionalGeneration
    tokenizer: Any
    description: dict[str, Any] = field(default_factory=dict)  # for the manifest (secrets masked)


def text_hidden_size(config: Any) -> int:
    """Hidden size of the language model in a (multimodal) transformers config."""
    text = getattr(config, "text_config", None) or config
    return int(text.hidden_size)


def check_hidden_size(encoder_hidden: int, pipeline_dim: int, encoder: str, pipeline: str) -> None:
    """The transformer's ``joint_attention_dim`` is the width of the text features it attends to."""
    if encoder_hidden != pipeline_dim:
        raise EncoderError(
            f"aligned encoder {encoder} has hidden size {encoder_hidden}, but the pipeline {pipeline} expects text "
            f"features of size {pipeline_dim} (transformer joint_attention_dim): the encoder must be the same model "
            f"size as the pipeline's own text encoder (Qwen-Image: Qwen2.5-VL-7B, hidden size 3584)"
        )


def _looks_local(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or Path(name).exists()


def resolve_encoder_args(model_args: str | dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Split ``adapter=`` off the wrapper's args and make sure a base model is known for it."""
    args = parse_model_args(model_args)
    adapter = args.pop("adapter", None)
    if adapter is None:
        if "pretrained" not in args:
            raise EncoderError(
                "--model_args for the aligned encoder need pretrained=<merged model dir or Hub id> "
                "(or adapter=<peft adapter dir> with its base)"
            )
        return args, None
    adapter = str(adapter)
    config_file = Path(adapter) / "adapter_config.json"
    if not config_file.exists():
        raise EncoderError(f"adapter={adapter}: no adapter_config.json there (not a peft adapter folder)")
    try:
        config = read_user_json(config_file, what="adapter config")
    except UserFileError as err:
        raise EncoderError(str(err)) from None
    if not isinstance(config, dict):
        raise EncoderError(f"{config_file}: expected a JSON object, found a {type(config).__name__}")
    if "pretrained" not in args:
        base = config.get("base_model_name_or_path")
        if not base:
            raise EncoderError(
                f"adapter={adapter}: missing adapter base — {config_file} names no base_model_name_or_path; "
                "pass the base model as pretrained=<Hub id or dir> in --model_args"
            )
        args["pretrained"] = base
    base = str(args["pretrained"])
    if _looks_local(base) and not Path(base).expanduser().exists():
        raise EncoderError(
            f"adapter={adapter}: missing adapter base — base model folder {base} does not exist; "
            "pass pretrained=<Hub id or dir> in --model_args"
        )
    return args, adapter


def config_hidden_size(pretrained: str) -> int:
    """Hidden size read from the config alone (no weights), so a mismatch fails before anything heavy loads."""
    from transformers import AutoConfig

    try:
        return text_hidden_size(AutoConfig.from_pretrained(pretrained))
    except (OSError, ValueError, KeyError, AttributeError) as err:  # missing, unknown model type, no hidden size
        raise EncoderError(f"aligned encoder pretrained={pretrained}: cannot read its config ({err})") from None


def load_aligned_encoder(
    model: str, model_args: str | dict[str, Any], *, pipeline_dim: int | None = None, pipeline_name: str = ""
) -> AlignedEncoder:
    """Build lmms-eval's ``model`` wrapper, merge the adapter if any, check the width against the pipeline."""
    import torch

    args, adapter = resolve_encoder_args(model_args)
    args.setdefault("device_map", "cpu")
    args.setdefault("device", "cpu")
    name = f"{model}:{args['pretrained']}" + (f"+{adapter}" if adapter else "")
    if pipeline_dim is not None:
        check_hidden_size(config_hidden_size(str(args["pretrained"])), pipeline_dim, name, pipeline_name)
    try:
        wrapper = load_lmms_model(model, args)
    except ModelArgsError:
        raise
    except Exception as err:  # any wrapper, any loader: missing weights, bad args, out of memory ...
        raise EncoderError(
            f"aligned encoder {name}: lmms-eval's {model!r} wrapper cannot load it ({type(err).__name__}: {err})"
        ) from err
    net = wrapper.model
    if not hasattr(net, "config") or not isinstance(net, torch.nn.Module):
        raise EncoderError(f"--model {model}: the lmms-eval wrapper exposes no Hugging Face model (.model)")
    if adapter:
        from peft import PeftModel

        net = PeftModel.from_pretrained(net, adapter).merge_and_unload()
    if pipeline_dim is not None:
        check_hidden_size(text_hidden_size(net.config), pipeline_dim, name, pipeline_name)
    description = {"model": model, "model_args": format_model_args(public_model_args(args)), "adapter": adapter}
    return AlignedEncoder(model=net.eval(), tokenizer=wrapper.tokenizer, description=description)


def check_same_tokenizer(pipeline_tokenizer: Any, encoder_tokenizer: Any, probe: str, encoder: str) -> None:
    """The pipeline tokenises for every encoder: an encoder trained with another vocabulary would read garbage."""
    a = pipeline_tokenizer(probe).input_ids
    b = encoder_tokenizer(probe).input_ids
    if a != b:
        raise EncoderError(
            f"aligned encoder {encoder} tokenises differently from the pipeline's tokenizer (first difference at "
            f"token {next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))}); "
            "it must be a Qwen2.5-VL with Qwen2.5's vocabulary"
        )
