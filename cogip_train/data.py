"""CogIP train rows as the evaluation requests lmms-eval builds for them, plus the answer to learn.

The dataset is the ``train`` split of the same source the lmms-eval tasks read (Hub id, local folder or
``save_to_disk`` directory; ``$COGIP_DATASET`` overrides the default). Every row's score and image is checked
before the model loads; images are decoded again, a batch at a time, when the batch is built (not kept in
memory).

One input path (:class:`EvalRequests`): a training example is made by the code that makes the evaluation
request, not by a copy of it. The row goes through the CogIP tasks' own ``doc_to_text`` (``<image>`` stripped,
the YAML's ``pre_prompt``/``post_prompt`` for this model) and ``doc_to_visual``, into an lmms-eval ``Instance``
laid out as the evaluator lays it out for the wrapper's kind (simple: ``doc_to_visual``; chat:
``doc_to_messages``), and the wrapper's own ``generate_until`` turns it into model inputs (system prompt, image
encoding such as the simple wrappers' JPEG round trip, resizing, chat template). Its ``model.generate`` call is
intercepted and the inputs it was given are kept: they are, token for token and pixel for pixel, what the
model sees when ``cogip-eval`` asks it the same row. The answer ``"<label> <score>"`` and the template's
end-of-turn tokens are appended; only they carry loss (all other labels are -100).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import torch

from cogip_tasks.dataset import (
    CogIPDataError,
    dataset_source,
    dataset_spec,
    load_cogip,
    load_image,
    rows_of_dimension,
    strict_decoding,
    validate_rows,
)
from cogip_tasks.dimensions import Dimension, format_target

IGNORE_INDEX = -100


def answer_text(score: float, dimension: str | Dimension) -> str:
    """The describe-then-predict target of a human score, e.g. ``"high 7.234"``."""
    return format_target(score, dimension)


class CogIPTrainRows(torch.utils.data.Dataset):
    """Rows ``{"id", "image", "prompt", "target"}`` of the chosen dimensions of a CogIP split."""

    def __init__(self, parts: Sequence[tuple[Dimension, Any]]):
        self.parts = list(parts)
        self.index = [(p, i) for p, (_, ds) in enumerate(self.parts) for i in range(len(ds))]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        p, j = self.index[i]
        dim, ds = self.parts[p]
        row = dict(ds[j])  # the task's doc: id, image (undecoded), dimension, prompt, score
        return {**row, "target": answer_text(row["score"], dim)}


def load_train_rows(
    source: str | None = None,
    dimensions: Sequence[str] | None = None,
    max_samples: int | None = None,
    split: str = "train",
) -> CogIPTrainRows:
    """Load, validate and select the training rows (``max_samples``: at most this many rows per dimension).

    ``dimensions`` are names in the dataset's benchmark (its build manifest's spec, else CogIP-Bench); None: all
    of them. Every score is validated and every selected image decoded here, before any model loads: a bad row
    found at step 900 would cost the run.
    """
    where = f"{dataset_source(source)} ({split} split)"
    spec = dataset_spec(source)
    ds = load_cogip(source, split=split)  # any load failure is already one CogIPDataError naming the source
    parts = []
    for name in spec.keys if dimensions is None else dimensions:
        dim = spec.find(name)
        if dim is None:
            raise CogIPDataError(
                f"{where}: --dimensions: {name!r} is not a dimension of {spec.title} ({', '.join(spec.keys)})"
            )
        validate_rows(ds, dim, where=where, spec=spec)
        rows = rows_of_dimension(ds, dim, spec)
        if len(rows) == 0:  # asked for, so training without it would silently be another experiment
            raise CogIPDataError(f"{where}: no rows of dimension {dim.release_name!r} (column 'dimension')")
        if max_samples is not None:
            rows = rows.select(range(min(max_samples, len(rows))))
        check_images(rows, where)
        parts.append((dim, rows))
    return CogIPTrainRows(parts)


#: Rows whose image bytes are held at once while checking (bounded memory: ~1 MB per real image).
CHECK_CHUNK = 64


def check_images(rows: Any, where: str) -> None:
    """Decode every image of ``rows`` (then drop it): a corrupt one is an error naming the dataset and row id.

    Threads, since PIL releases the GIL while decoding (~19 ms for a 1024x1024 JPEG on one core); the first bad
    row *in row order* is reported, whatever the thread timing.
    """
    columns = rows.select_columns(["id", "image"])
    # a truncated image must be refused whatever lmms-eval (which allows them process-wide) did before
    with strict_decoding(), ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for start in range(0, len(columns), CHECK_CHUNK):
            chunk = columns[start : start + CHECK_CHUNK]
            try:
                for _ in pool.map(_decodes, chunk["image"], chunk["id"]):
                    pass
            except CogIPDataError as err:
                raise CogIPDataError(f"{where}: {err}") from None


def _decodes(image: Any, row_id: Any) -> None:
    load_image(image, row_id)  # the decoded image is dropped at once: only whether it decodes matters


TRAIN_TASK, TRAIN_SPLIT = "cogip_train", "train"
#: Tensors with one entry per token: extended over the answer (others, e.g. pixel values, are per image).
PER_TOKEN = ("input_ids", "attention_mask", "token_type_ids", "mm_token_type_ids", "cross_attention_mask")


@functools.lru_cache(maxsize=1)
def task_template() -> dict[str, Any]:
    """The CogIP tasks' YAML template (``lmms_eval_specific_kwargs``, ``generation_kwargs``), hooks unresolved."""
    import yaml

    import cogip_tasks

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # `!function` hooks are not needed here
    template = Path(cogip_tasks.__file__).parent / "tasks" / "cogip" / "_default_template_yaml"
    return yaml.load(template.read_text(encoding="utf-8"), Loader=_Loader)


def prompt_kwargs(model_name: str) -> dict[str, Any]:
    """``lmms_eval_specific_kwargs`` as lmms-eval resolves them for ``--model model_name`` (its ConfigurableTask:
    the model's own key replaces ``default``; otherwise ``default``'s values are merged in)."""
    spec = copy.deepcopy(task_template().get("lmms_eval_specific_kwargs") or {})
    if model_name in spec:
        return spec[model_name]
    spec.update(spec.get("default", {}))
    return spec


def task_hooks():
    """The tasks' ``doc_to_text`` and ``doc_to_visual`` (the functions lmms-eval calls at evaluation time)."""
    from cogip_tasks.tasks.cogip import utils

    return utils.doc_to_text, utils.doc_to_visual


class _Captured(Exception):
    def __init__(self, inputs: dict):
        super().__init__("model inputs captured")
        self.inputs = inputs


class _CaptureGenerate:
    """Stands in for the wrapper's model during one ``generate_until``: ``generate`` hands back its inputs."""

    def __init__(self, real: Any):
        self._real = real

    def generate(self, *args: Any, **kwargs: Any):
        raise _Captured({k: v for k, v in kwargs.items() if hasattr(v, "shape")})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _QuietBar:
    """The wrappers' per-call progress bar, silenced (one bar per training row would flood the log)."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def update(self, *args: Any) -> None:
        pass

    def close(self) -> None:
        pass


class EvalRequests:
    """Model inputs of a CogIP row exactly as lmms-eval's wrapper ``model_name`` builds them at evaluation time."""

    def __init__(self, wrapper: Any, model_name: str, processor: Any):
        self.wrapper = wrapper
        self.model_name = model_name
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.simple = getattr(wrapper, "is_simple", True)
        self.kwargs = prompt_kwargs(model_name)
        self.gen_kwargs = dict(task_template().get("generation_kwargs") or {})

    def text(self, doc: dict) -> str:
        doc_to_text, _ = task_hooks()
        return doc_to_text(doc, self.kwargs)

    def instance(self, doc: dict):
        """The ``Instance`` lmms-eval's evaluator makes for ``doc`` (see ConfigurableMessagesTask.construct_requests
        for the chat layout, ConfigurableTask for the simple one)."""
        from lmms_eval.api.instance import Instance
        from lmms_eval.api.task import ConfigurableMessagesTask

        doc_to_text, doc_to_visual = task_hooks()
        kwargs = self.kwargs

        def doc_to_messages(d: dict) -> list:
            return ConfigurableMessagesTask._build_user_turn(doc_to_visual(d) or [], doc_to_text(d, kwargs))

        context = doc_to_text(doc, kwargs)
        gen = copy.deepcopy(self.gen_kwargs)
        args = (
            (context, gen, doc_to_visual, 0, TRAIN_TASK, TRAIN_SPLIT)
            if self.simple
            else (context, doc_to_messages, gen, 0, TRAIN_TASK, TRAIN_SPLIT)
        )
        return Instance(
            request_type="generate_until",
            arguments=args,
            idx=0,
            metadata={"task": TRAIN_TASK, "doc_id": 0, "repeats": 1},
        )

    def prompt_inputs(self, doc: dict) -> dict[str, torch.Tensor]:
        """The tensors the wrapper passes to ``model.generate`` for ``doc`` (batch of one, on the CPU)."""
        wrapper = self.wrapper
        wrapper.task_dict = {TRAIN_TASK: {TRAIN_SPLIT: {0: doc}}}
        stub = _CaptureGenerate(wrapper.model)
        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.object(type(wrapper), "model", property(lambda _self: stub)))
            for cls in type(wrapper).__mro__:  # every module whose generate_until may draw a bar
                module = sys.modules.get(cls.__module__)
                if module is not None and hasattr(module, "tqdm"):
                    stack.enter_context(mock.patch.object(module, "tqdm", _QuietBar))
            try:
                wrapper.generate_until([self.instance(doc)])
            except _Captured as captured:
                return {k: v.detach().cpu() for k, v in captured.inputs.items()}
        raise CogIPDataError(
            f"row id {doc['id']!r}: lmms-eval's {self.model_name} wrapper answered without "
            "calling model.generate, so its inputs cannot be reused for training"
        )

    @functools.cached_property
    def answer_suffix_probe(self) -> tuple[str, str]:
        """(prompt render, full render) of a text-only turn: the answer's surroundings in the chat template."""
        user = [{"role": "user", "content": [{"type": "text", "text": "x"}]}]
        prompt = self.processor.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
        return user, prompt

    def answer_ids(self, target: str, row_id: Any) -> list[int]:
        """Token ids of the assistant's answer and the template's end-of-turn tokens after it."""
        user, prompt = self.answer_suffix_probe
        full = self.processor.apply_chat_template(user + [{"role": "assistant", "content": target}], tokenize=False)
        if not full.startswith(prompt) or target not in full[len(prompt) :]:
            raise CogIPDataError(f"row id {row_id!r}: the chat template does not render the answer after the prompt")
        return self.tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"]


class ChatCollator:
    """Rows -> a right-padded batch: each row's evaluation-time inputs + its answer, labels masked to the answer."""

    def __init__(self, requests: EvalRequests):
        self.requests = requests
        self.tokenizer = requests.tokenizer

    def example(self, row: dict) -> tuple[dict[str, torch.Tensor], int]:
        """One row's inputs with the answer appended, and how many of its tokens are the prompt."""
        inputs = self.requests.prompt_inputs(row)
        answer = torch.tensor([self.requests.answer_ids(row["target"], row["id"])])
        n_prompt = inputs["input_ids"].shape[1]
        out = {}
        for key, value in inputs.items():
            if key == "input_ids":
                out[key] = torch.cat([value, answer.to(value.dtype)], dim=1)
            elif key in PER_TOKEN:  # the answer tokens see what the last prompt token sees (mask 1, text type)
                last = value[:, -1:].expand(-1, answer.shape[1], *value.shape[2:])
                out[key] = torch.cat([value, last], dim=1)
            else:
                out[key] = value
        return out, n_prompt

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        examples = [self.example(r) for r in rows]
        width = max(e["input_ids"].shape[1] for e, _ in examples)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        batch: dict[str, list[torch.Tensor]] = {}
        labels = []
        for inputs, n_prompt in examples:
            length = inputs["input_ids"].shape[1]
            label = torch.full((1, width), IGNORE_INDEX, dtype=torch.long)
            label[0, n_prompt:length] = inputs["input_ids"][0, n_prompt:]
            labels.append(label)
            for key, value in inputs.items():
                if key in PER_TOKEN:
                    fill = pad_id if key == "input_ids" else 0
                    pad = value.new_full((1, width - length, *value.shape[2:]), fill)
                    value = torch.cat([value, pad], dim=1)
                batch.setdefault(key, []).append(value)
        out = {k: torch.cat(v, dim=0) for k, v in batch.items()}
        out["labels"] = torch.cat(labels, dim=0)
        return out
