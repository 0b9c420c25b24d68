"""Loading the model to train through lmms-eval's own model wrappers.

``--model qwen2_5_vl --model_args pretrained=...,max_pixels=...`` instantiates the very class ``lmms-eval --model
qwen2_5_vl`` uses (``lmms_eval.models.get_model(name).create_from_arg_string(model_args)``), so loading, dtype,
attention and image-resolution options are the harness's; training then works on the wrapper's Hugging Face
``.model`` and ``.processor``.

What cogip-train needs to know per wrapper is a :class:`WrapperSpec`: where the language model, the vision tower
and the merger/projector live (to freeze them, LoRA them or train them fully with their own learning rate). How
a row becomes model inputs is not described here: the wrapper's own ``generate_until`` builds them (see
:class:`cogip_train.data.EvalRequests`). Supporting another wrapper is one more entry in :data:`WRAPPERS`.

Loading for training: the wrapper's ``Accelerator`` is replaced, while it loads, by a one-process stand-in
(cogip_tasks.models.cogip_expected's), so the wrapper never prepares the model or pins it to ``cuda:<rank>``
and never refuses a DeepSpeed launch: the Trainer does the distribution. Each process loads its copy where
``--model_args device=/device_map=`` say; under several processes (torchrun, ``accelerate launch``) a process
given no ``device_map`` gets ``cuda:<LOCAL_RANK>`` when CUDA is there, and ``device=cpu,device_map=cpu`` keeps
every rank on the CPU (gloo), which is how the 2-process tests run.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from cogip_tasks.errors import CogIPError

COMPONENTS = ("llm", "vision", "merger")


class UnsupportedWrapperError(CogIPError, ValueError):
    """The lmms-eval model name has no :class:`WrapperSpec` in cogip-train (or lmms-eval does not know it)."""


@dataclass(frozen=True)
class Component:
    """One trainable part of a model.

    ``params``: regex *searched* in parameter names (also under peft's ``base_model.model.`` prefix) to put the
    part's parameters in its optimizer group. ``lora``: regex fully matching the names of its ``nn.Linear`` modules
    for peft's ``target_modules``; ``{leaves}`` is filled from ``leaves`` (or the user's ``--lora-target-modules``).
    ``modules``: the part's module names, for peft's ``modules_to_save`` when the part is trained fully next to a
    LoRA part (a ``ModuleList`` there is expanded into its items, which peft can wrap).
    """

    params: str
    lora: str
    leaves: tuple[str, ...]
    modules: tuple[str, ...]


@dataclass(frozen=True)
class WrapperSpec:
    name: str  # lmms-eval model name
    components: dict[str, Component] = field(default_factory=dict)
    pixel_args: tuple[str, str] | None = None  # model_args names of the min / max image pixel bounds


_QWEN_LLM_LEAVES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Every family's language model sits at ``model.language_model`` (transformers 5 layout) with the same projection
# names (Llama-style attention and MLP), plus the output head.
_LANGUAGE_MODEL = Component(
    params=r"(^|\.)(model\.language_model\.|lm_head\.)",
    lora=r"model\.language_model\.layers\.\d+\..*\.({leaves})",
    leaves=_QWEN_LLM_LEAVES,
    modules=("model.language_model",),
)

WRAPPERS: dict[str, WrapperSpec] = {
    # lmms_eval/models/{simple,chat}/qwen2_5_vl.py: system turn + [image..., text], Qwen2_5_VLForConditionalGeneration.
    "qwen2_5_vl": WrapperSpec(
        name="qwen2_5_vl",
        components={
            "llm": _LANGUAGE_MODEL,
            "vision": Component(
                params=r"(^|\.)model\.visual\.(?!merger\.)",
                lora=r"model\.visual\.blocks\.\d+\..*\.({leaves})",
                leaves=("qkv", "proj", "gate_proj", "up_proj", "down_proj"),
                modules=("model.visual.patch_embed", "model.visual.blocks"),
            ),
            "merger": Component(
                params=r"(^|\.)model\.visual\.merger\.",
                lora=r"model\.visual\.merger\.mlp\.({leaves})",
                leaves=("0", "2"),
                modules=("model.visual.merger",),
            ),
        },
        pixel_args=("min_pixels", "max_pixels"),
    ),
    # lmms_eval/models/{simple,chat}/qwen3_vl.py: Qwen3VLForConditionalGeneration; the merger has deepstack copies.
    "qwen3_vl": WrapperSpec(
        name="qwen3_vl",
        components={
            "llm": _LANGUAGE_MODEL,
            "vision": Component(
                params=r"(^|\.)model\.visual\.(?!merger\.|deepstack_merger_list\.)",
                lora=r"model\.visual\.blocks\.\d+\..*\.({leaves})",
                leaves=("qkv", "proj", "linear_fc1", "linear_fc2"),
                modules=("model.visual.patch_embed", "model.visual.pos_embed", "model.visual.blocks"),
            ),
            "merger": Component(
                params=r"(^|\.)model\.visual\.(merger|deepstack_merger_list)\.",
                lora=r"model\.visual\.(merger|deepstack_merger_list\.\d+)\.({leaves})",
                leaves=("linear_fc1", "linear_fc2"),
                modules=("model.visual.merger", "model.visual.deepstack_merger_list"),
            ),
        },
        pixel_args=("min_pixels", "max_pixels"),
    ),
    # lmms_eval/models/simple/gemma3.py: Gemma3ForConditionalGeneration (SigLIP tower, a projector without Linear
    # layers: it is trained fully or frozen, not LoRA'd). Its processor resizes to a fixed size, so min/max_pixels
    # (which the wrapper accepts) change nothing.
    "gemma3": WrapperSpec(
        name="gemma3",
        components={
            "llm": _LANGUAGE_MODEL,
            "vision": Component(
                params=r"(^|\.)model\.vision_tower\.",
                lora=r"model\.vision_tower\.encoder\.layers\.\d+\..*\.({leaves})",
                leaves=("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"),
                modules=("model.vision_tower",),
            ),
            "merger": Component(
                params=r"(^|\.)model\.multi_modal_projector\.",
                lora="",
                leaves=(),
                modules=("model.multi_modal_projector",),
            ),
        },
        pixel_args=("min_pixels", "max_pixels"),
    ),
    # lmms_eval/models/simple/llama_vision.py: MllamaForConditionalGeneration (cross-attention layers in the LM;
    # the tokenizer merges up to three digits per token, which the soft-label loss handles, see soft_label.py).
    "llama_vision": WrapperSpec(
        name="llama_vision",
        components={
            "llm": _LANGUAGE_MODEL,
            "vision": Component(
                params=r"(^|\.)model\.vision_model\.",
                lora=r"model\.vision_model\.(transformer|global_transformer)\.layers\.\d+\..*\.({leaves})",
                leaves=("q_proj", "k_proj", "v_proj", "o_proj", "fc1", "fc2"),
                modules=("model.vision_model",),
            ),
            "merger": Component(
                params=r"(^|\.)model\.multi_modal_projector\.",
                lora=r"model\.multi_modal_projector",
                leaves=("multi_modal_projector",),
                modules=("model.multi_modal_projector",),
            ),
        },
        pixel_args=None,
    ),
}


def check_tuning(spec: WrapperSpec, modes: dict[str, str]) -> None:
    """A part asked to be LoRA'd must have linear layers to adapt (Gemma-3's projector has none)."""
    for part, mode in modes.items():
        if mode == "lora" and not spec.components[part].lora:
            raise UnsupportedWrapperError(
                f"--tune-{part} lora: {spec.name}'s {part} ({', '.join(spec.components[part].modules)}) has no linear "
                f"layer to adapt; use --tune-{part} full or freeze"
            )


def wrapper_spec(name: str) -> WrapperSpec:
    """The spec of an lmms-eval model name, or a clear error naming what is supported and how to add more."""
    if name in WRAPPERS:
        return WRAPPERS[name]
    from lmms_eval.models import list_available_models

    known = name in list_available_models(include_aliases=True)
    why = "is an lmms-eval model that cogip-train does not support yet" if known else "is not an lmms-eval model"
    raise UnsupportedWrapperError(
        f"--model {name!r} {why}; supported: {', '.join(sorted(WRAPPERS))}. Adding a Hugging Face wrapper "
        "(llava_hf, idefics2, ...) is one WrapperSpec in cogip_train/wrappers.py: its language model, "
        "vision tower and projector module names and its chat layout."
    )


@dataclass
class LoadedModel:
    wrapper: Any  # the lmms-eval model object
    model: Any  # its Hugging Face model
    processor: Any
    tokenizer: Any
    spec: WrapperSpec


def with_pixel_bounds(spec: WrapperSpec, model_args: str, min_pixels: int | None, max_pixels: int | None) -> str:
    """``model_args`` with ``--min-pixels``/``--max-pixels`` added (they override values already in it)."""
    from cogip_tasks.model_args import format_model_args, parse_model_args

    bounds = {k: v for k, v in zip(spec.pixel_args or (), (min_pixels, max_pixels)) if v is not None}
    if (min_pixels is not None or max_pixels is not None) and spec.pixel_args is None:
        raise UnsupportedWrapperError(f"--model {spec.name} takes no image pixel bounds; drop --min/--max-pixels")
    kept = {k: v for k, v in parse_model_args(model_args).items() if k not in bounds}
    return format_model_args({**kept, **bounds})


def on_cpu(model_args: str) -> bool:
    """The device override: ``device=cpu`` in ``--model_args`` trains on the CPU (gloo between processes), and
    so does a machine without CUDA."""
    import torch

    from cogip_tasks.model_args import parse_model_args

    return str(parse_model_args(model_args).get("device", "")).startswith("cpu") or not torch.cuda.is_available()


def placed_model_args(model_args: str) -> str:
    """``model_args`` with ``device_map=cuda:<LOCAL_RANK>`` added under several processes when none is given."""
    from cogip_tasks.model_args import format_model_args, parse_model_args

    args = parse_model_args(model_args)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "device_map" not in args and not on_cpu(model_args):
        rank = int(os.environ.get("LOCAL_RANK", "0"))
        args.update(device_map=f"cuda:{rank}", device=f"cuda:{rank}")
    return format_model_args(args)


@contextlib.contextmanager
def _engine_places_weights():
    """Under DeepSpeed ZeRO-3 (its config active: the TrainingArguments are built first) ``from_pretrained``
    builds the model already partitioned, and refuses the ``device_map`` every wrapper passes: drop it there."""
    from transformers import PreTrainedModel
    from transformers.integrations import is_deepspeed_zero3_enabled

    if not is_deepspeed_zero3_enabled():
        yield
        return
    original = PreTrainedModel.from_pretrained.__func__

    def from_pretrained(cls, *args: Any, **kwargs: Any):
        kwargs.pop("device_map", None)
        return original(cls, *args, **kwargs)

    with mock.patch.object(PreTrainedModel, "from_pretrained", classmethod(from_pretrained)):
        yield


def load_through_lmms_eval(name: str, model_args: str) -> LoadedModel:
    """Instantiate lmms-eval's wrapper ``name`` from ``model_args`` and take out its model and processor."""
    spec = wrapper_spec(name)
    from cogip_tasks.harness import load_lmms_model

    # one process as far as the wrapper knows: the Trainer / accelerate / DeepSpeed place and shard the model
    with _engine_places_weights():
        wrapper = load_lmms_model(name, placed_model_args(model_args), one_process=True)
    processor = wrapper.processor
    tokenizer = getattr(wrapper, "tokenizer", None) or processor.tokenizer
    return LoadedModel(wrapper, wrapper.model, processor, tokenizer, spec)
