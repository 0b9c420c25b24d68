"""Loading a model the way ``lmms-eval --model NAME --model_args ...`` does: one home for every CogIP command.

``cogip-gen`` (aligned encoder, judge) and ``cogip-train`` (the model to train) instantiate lmms-eval's own model
wrappers, so loading, dtype, attention implementation and image-resolution options are the harness's, exactly
as in ``cogip-eval``. Importing this module is cheap: lmms-eval and torch load when a model does.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any
from unittest import mock

from .model_args import ModelArgsError, parse_model_args

__all__ = ["OneProcessAccelerator", "lmms_model_class", "load_lmms_model", "one_process_accelerator"]


class OneProcessAccelerator:
    """What lmms-eval's wrappers ask of an ``Accelerator`` while they load: one process, no device pinning.

    Under several processes (torchrun) lmms-eval's wrappers pin each one to ``cuda:<rank>``; a caller that places
    the model itself (a CPU rank, a trainer given ``device_map``) loads under this stand-in instead.
    """

    num_processes = 1
    local_process_index = process_index = 0
    is_local_main_process = is_main_process = True

    def unwrap_model(self, model):
        return model

    def wait_for_everyone(self) -> None:
        import torch

        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()


@contextlib.contextmanager
def one_process_accelerator(cls: type) -> Iterator[None]:
    """Within the block, ``cls`` (and its bases) build :class:`OneProcessAccelerator` where they call
    ``Accelerator()``: the module that calls it is the one defining ``__init__``, so every module of the MRO is
    patched."""
    with contextlib.ExitStack() as stack:
        for klass in cls.__mro__:
            module = sys.modules.get(klass.__module__)
            if module is not None and hasattr(module, "Accelerator"):
                stack.enter_context(mock.patch.object(module, "Accelerator", OneProcessAccelerator))
        yield


def lmms_model_class(model: str, force_simple: bool = False) -> type:
    """lmms-eval's wrapper class for ``model``: its chat variant when there is one, as ``lmms-eval --model`` picks
    it, or the simple one with ``force_simple`` (lmms-eval's ``--force_simple``)."""
    from lmms_eval import models

    try:
        return models.get_model(model, force_simple=force_simple)
    except Exception as err:  # the registry raises several types for an unknown / unimportable name
        raise ModelArgsError(f"--model {model!r}: lmms-eval cannot provide this model ({err})") from err


def load_lmms_model(
    model: str,
    model_args: str | dict[str, Any] | None,
    batch_size: int = 1,
    force_simple: bool = False,
    one_process: bool = False,
):
    """Instantiate lmms-eval's wrapper for ``model`` from ``model_args`` (a ``key=value,...`` string, parsed by
    lmms-eval's own parser, or a dict); values in ``model_args`` win over ``batch_size``. ``one_process`` loads
    under :func:`one_process_accelerator` (the caller places the model)."""
    cls = lmms_model_class(model, force_simple)
    kwargs = {"batch_size": batch_size, **parse_model_args(model_args)}
    with one_process_accelerator(cls) if one_process else contextlib.nullcontext():
        return cls(**kwargs)


def close_process_group() -> None:
    """Tear down torch.distributed before the process exits (torchrun runs of cogip-eval and cogip-train): a gloo
    group left to interpreter shutdown can abort a rank ("terminate called without an active exception") after
    the work is done, failing the launch. Imports nothing: a no-op where torch was never loaded."""
    dist = getattr(sys.modules.get("torch"), "distributed", None)
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
