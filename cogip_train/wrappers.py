"""Loading the model to train through lmms-eval's own model wrappers.

``--model qwen2_5_vl --model_args pretrained=...,max_pixels=...`` instantiates the very class ``lmms-eval --model
qwen2_5_vl`` uses (``lmms_eval.models.get_model(name).create_from_arg_string(model_args)``), so loading, dtype,
attention and image-resolution options are the harness's; training then works on the wrapper's Hugging Face
``.model`` and ``.processor``.

What cogip-train needs to know per wrapper is a :class:`WrapperSpec`: where the language model, the vision tower
and the merger/projector live (to freeze them, LoRA them or train them fully with their own learning rate), and
how the wrapper lays out a chat turn (so training sees the prompt exactly as evaluation will). Supporting another
wrapper is one more entry in :data:`WRAPPERS`; e.g. ``llava_hf`` would use ``model.language_model``,
``model.vision_tower`` and ``model.multi_modal_projector`` with the same LoRA leaves, ``gemma3`` and
``llama_vision`` likewise (their own module names; Llama-3.2-Vision's tokenizer merges digits, so it trains with
``--loss ce`` only, see :class:`cogip_train.soft_label.DigitTokenizerError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COMPONENTS = ("llm", "vision", "merger")


class UnsupportedWrapperError(ValueError):
    """The lmms-eval model name has no :class:`WrapperSpec` in cogip-train (or lmms-eval does not know it)."""


@dataclass(frozen=True)
class Component:
    """One trainable part of a model.

    ``params``: regex *searched* in parameter names (also under peft's ``base_model.model.`` prefix) to put the
    part's parameters in its optimizer group. ``lora``: regex fully matching the names of its ``nn.Linear`` modules
    for peft's ``target_modules``; ``{leaves}`` is filled from ``leaves`` (or the user's ``--lora-target-modules``).
    ``module``: the part's module name, for peft's ``modules_to_save`` when the part is trained fully.
    """

    params: str
    lora: str
    leaves: tuple[str, ...]
    module: str


@dataclass(frozen=True)
class WrapperSpec:
    name: str  # lmms-eval model name
    components: dict[str, Component] = field(default_factory=dict)
    pixel_args: tuple[str, str] | None = None  # model_args names of the min / max image pixel bounds
    default_system_prompt: str | None = None

    def messages(self, prompt: str, system_prompt: str | None) -> list[dict]:
        """The chat turn the wrapper builds at evaluation time: optional system turn, then image + text."""
        turn: list[dict] = [{"role": "system", "content": system_prompt}] if system_prompt else []
        return turn + [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]


_QWEN_LLM_LEAVES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

WRAPPERS: dict[str, WrapperSpec] = {
    # lmms_eval/models/{simple,chat}/qwen2_5_vl.py: system turn + [image..., text], Qwen2_5_VLForConditionalGeneration.
    "qwen2_5_vl": WrapperSpec(
        name="qwen2_5_vl",
        components={
            "llm": Component(
                params=r"(^|\.)(model\.language_model\.|lm_head\.)",
                lora=r"model\.language_model\.layers\.\d+\..*\.({leaves})",
                leaves=_QWEN_LLM_LEAVES,
                module="model.language_model",
            ),
            "vision": Component(
                params=r"(^|\.)model\.visual\.(?!merger\.)",
                lora=r"model\.visual\.blocks\.\d+\..*\.({leaves})",
                leaves=("qkv", "proj", "gate_proj", "up_proj", "down_proj"),
                module="model.visual.blocks",
            ),
            "merger": Component(
                params=r"(^|\.)model\.visual\.merger\.",
                lora=r"model\.visual\.merger\.mlp\.({leaves})",
                leaves=("0", "2"),
                module="model.visual.merger",
            ),
        },
        pixel_args=("min_pixels", "max_pixels"),
        default_system_prompt="You are a helpful assistant.",
    ),
}


def wrapper_spec(name: str) -> WrapperSpec:
    """The spec of an lmms-eval model name, or a clear error naming what is supported and how to add more."""
    if name in WRAPPERS:
        return WRAPPERS[name]
    from lmms_eval.models import list_available_models

    known = name in list_available_models(include_aliases=True)
    why = "is an lmms-eval model that cogip-train does not support yet" if known else "is not an lmms-eval model"
    raise UnsupportedWrapperError(
        f"--model {name!r} {why}; supported: {', '.join(sorted(WRAPPERS))}. Adding a Hugging Face wrapper "
        "(llava_hf, gemma3, llama_vision, ...) is one WrapperSpec in cogip_train/wrappers.py: its language model, "
        "vision tower and projector module names and its chat layout."
    )


@dataclass
class LoadedModel:
    wrapper: Any  # the lmms-eval model object
    model: Any  # its Hugging Face model
    processor: Any
    tokenizer: Any
    spec: WrapperSpec
    system_prompt: str | None


def with_pixel_bounds(spec: WrapperSpec, model_args: str, min_pixels: int | None, max_pixels: int | None) -> str:
    """``model_args`` with ``--min-pixels``/``--max-pixels`` added (they override values already in it)."""
    bounds = {k: v for k, v in zip(spec.pixel_args or (), (min_pixels, max_pixels)) if v is not None}
    if (min_pixels is not None or max_pixels is not None) and spec.pixel_args is None:
        raise UnsupportedWrapperError(f"--model {spec.name} takes no image pixel bounds; drop --min/--max-pixels")
    kept = [part for part in model_args.split(",") if part and part.split("=", 1)[0].strip() not in bounds]
    return ",".join(kept + [f"{k}={v}" for k, v in bounds.items()])


def load_through_lmms_eval(name: str, model_args: str) -> LoadedModel:
    """Instantiate lmms-eval's wrapper ``name`` from ``model_args`` and take out its model and processor."""
    spec = wrapper_spec(name)
    from lmms_eval.models import get_model

    wrapper = get_model(name).create_from_arg_string(model_args)
    processor = wrapper.processor
    tokenizer = getattr(wrapper, "tokenizer", None) or processor.tokenizer
    system_prompt = getattr(wrapper, "system_prompt", spec.default_system_prompt)
    return LoadedModel(wrapper, wrapper.model, processor, tokenizer, spec, system_prompt)
