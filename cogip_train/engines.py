"""The distributed engines (DeepSpeed ZeRO-2/3, FSDP2) as cogip-train runs them, on GPUs and on the CPU.

``accelerate launch --config_file cogip_train/configs/<engine>.yaml`` (GPUs) or ``configs/cpu/<engine>.yaml`` (2 CPU
processes over gloo) starts the processes and tells them the engine through accelerate's environment
(``ACCELERATE_USE_DEEPSPEED`` / ``ACCELERATE_USE_FSDP`` and the plugin settings); the Trainer's ``Accelerator``
then wraps the model, the optimizer and the checkpoints in it.

On the CPU (``--model_args device=cpu``, the Trainer's ``use_cpu``) DeepSpeed engages as it is: its CPU
accelerator falls back to gloo without oneCCL. FSDP does not: accelerate only turns a ``MULTI_GPU``-like state into
``FSDP`` and leaves a ``MULTI_CPU`` one plain data parallel, although torch's ``fully_shard`` shards over a gloo
group on the CPU. :class:`EngineOnCpu` gives the state the FSDP plugin the launcher asked for, so the stock FSDP2
path (``fully_shard``, DTensor parameters, sharded ``pytorch_model_fsdp_0/`` checkpoints) runs there too.
"""

from __future__ import annotations

import os
from typing import Any


def fsdp_requested() -> bool:
    """The launcher asked for FSDP (``distributed_type: FSDP`` in the accelerate config)."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"


def engage_fsdp_on_cpu(accelerator: Any) -> bool:
    """Turn a multi-CPU accelerator state into the FSDP state the launcher asked for; True when it did.

    The same two fields accelerate sets for FSDP on GPUs (``AcceleratorState.__init__``): the distributed type
    and the plugin built from the launcher's environment."""
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    state = accelerator.state
    if (
        not fsdp_requested()
        or state.distributed_type != DistributedType.MULTI_CPU
        or getattr(state, "fsdp_plugin", None)
    ):
        return False
    plugin = FullyShardedDataParallelPlugin()  # from the launcher's ACCELERATE_FSDP_* variables
    AcceleratorState._shared_state.update(fsdp_plugin=plugin, distributed_type=DistributedType.FSDP)
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    return True


class EngineOnCpu:
    """Trainer mixin (SFT and GRPO): the FSDP the launcher asked for engages on the CPU as on GPUs."""

    def create_accelerator_and_postprocess(self) -> None:
        super().create_accelerator_and_postprocess()
        if engage_fsdp_on_cpu(self.accelerator):
            self.is_fsdp_enabled = True


def uses_sharding_engine(trainer: Any) -> bool:
    """DeepSpeed or FSDP: the engine owns the parameters (no in-place dtype casts, gathered saves)."""
    return bool(getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False))


def save_final(trainer: Any, out: str, dtype: Any) -> None:
    """Save the trained model (or adapter) whole, as a 1-process run does, whatever the engine (every rank calls
    this: the engines gather the shards collectively).

    Checkpoints stay engine-native (ZeRO partitions, FSDP's sharded ``.distcp`` files, for ``--resume``); the final
    save is a plain ``from_pretrained`` folder. FSDP with ``SHARDED_STATE_DICT`` saves no model in ``save_model``,
    so the final save switches it to a full (gathered) state dict, as accelerate's FSDP guide does. Without an
    engine a full model is cast to the harness's load dtype (bf16) first; the engines save their own dtype."""
    if not uses_sharding_engine(trainer):
        if not _is_peft(trainer.model):
            trainer.accelerator.unwrap_model(trainer.model).to(dtype)
    elif getattr(trainer, "is_fsdp_enabled", False):
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(out)


def _is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config")


def write_merged(trainer: Any, model_cls: Any, model_args: str, adapter_dir: Any, out: Any, dtype: Any) -> None:
    """``merged/``: the base model with the trained adapter merged, in the harness's load dtype. Rank 0 only.

    Without an engine the model in memory is merged. A sharding engine holds a partition (ZeRO-3) or DTensor
    shards (FSDP), which one rank cannot merge: the base weights are loaded again and the adapter as saved is
    merged into them (ZeRO-2 too, so that every engine takes one path)."""
    if not uses_sharding_engine(trainer):
        merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
        merged.to(dtype).save_pretrained(str(out))
        return
    import torch
    from peft import PeftModel
    from transformers.integrations import deepspeed as hf_deepspeed

    from cogip_tasks.model_args import parse_model_args

    saved = hf_deepspeed._hf_deepspeed_config_weak_ref
    hf_deepspeed.unset_hf_deepspeed_config()  # a ZeRO-3 config would build this one-rank copy partitioned
    try:
        base = model_cls.from_pretrained(parse_model_args(model_args)["pretrained"], torch_dtype=torch.float32)
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = saved
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.to(dtype).save_pretrained(str(out))


def describe_engine(trainer: Any) -> dict:
    """What holds this rank's parameters, for ``train_log.json``: the engine, the parameters' class (``DTensor``
    under FSDP2) and the share of the trainable parameters' elements this rank holds (about 1/processes under
    ZeRO-3 and FSDP, 1 under ZeRO-2 and data parallel, whose partitions are the optimizer state and gradients)."""
    if getattr(trainer, "is_fsdp_enabled", False):
        engine = f"fsdp{trainer.accelerator.state.fsdp_plugin.fsdp_version}"
    elif getattr(trainer, "is_deepspeed_enabled", False):
        engine = f"deepspeed-zero{trainer.accelerator.deepspeed_plugin.zero_stage}"
    else:
        engine = "ddp" if trainer.args.world_size > 1 else "none"
    params = [p for p in trainer.model_wrapped.parameters() if p.requires_grad]
    total = sum(getattr(p, "ds_numel", None) or p.numel() for p in params)
    local = sum(_local_numel(p) for p in params)
    return {
        "engine": engine,
        "processes": trainer.args.world_size,
        "parameter_class": sorted({type(p).__name__ for p in params}),
        "local_parameter_share": round(local / total, 4) if total else None,
    }


def _local_numel(param: Any) -> int:
    if hasattr(param, "ds_tensor"):  # ZeRO-3: this rank's partition
        return param.ds_tensor.numel()
    if hasattr(param, "to_local"):  # FSDP2: a DTensor shard
        return param.to_local().numel()
    return param.numel()
