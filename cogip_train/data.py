"""CogIP train rows as chat turns: image + the row's prompt -> "<label> <score with 3 decimals>".

The dataset is the ``train`` split of the same source the lmms-eval tasks read (Hub id, local folder or
``save_to_disk`` directory; ``$COGIP_DATASET`` overrides the default). Every row is checked before training
starts. Images stay undecoded until their batch is built. The collator renders each turn with the processor's
chat template exactly as the lmms-eval wrapper does at evaluation time, and masks everything but the
assistant's answer (and the template's end-of-turn tokens after it) with -100.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from cogip_tasks.dataset import CogIPDataError, dataset_source, load_cogip, load_image, rows_of_dimension, validate_rows
from cogip_tasks.dimensions import DIMENSION_KEYS, Dimension, get_dimension

IGNORE_INDEX = -100


def answer_text(score: float, dimension: str | Dimension) -> str:
    """The describe-then-predict target of a human score, e.g. ``"high 7.234"``."""
    dim = get_dimension(dimension)
    return f"{dim.label_for(float(score))} {float(score):.3f}"


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
        row = ds[j]
        return {"id": row["id"], "image": row["image"], "prompt": row["prompt"], "target": answer_text(row["score"], dim)}


def load_train_rows(
    source: str | None = None,
    dimensions: Sequence[str] = DIMENSION_KEYS,
    max_samples: int | None = None,
    split: str = "train",
) -> CogIPTrainRows:
    """Load, validate and select the training rows (``max_samples``: at most this many rows per dimension)."""
    where = f"{dataset_source(source)} ({split} split)"
    ds = load_cogip(source, split=split)
    parts = []
    for name in dimensions:
        dim = get_dimension(name)
        validate_rows(ds, dim, where=where)
        rows = rows_of_dimension(ds, dim)
        if max_samples is not None:
            rows = rows.select(range(min(max_samples, len(rows))))
        parts.append((dim, rows))
    data = CogIPTrainRows(parts)
    if len(data) == 0:
        raise CogIPDataError(f"{where}: no rows for dimension(s) {', '.join(dimensions)}")
    return data


class ChatCollator:
    """Turns rows into a padded batch for the model, labels masked to the answer."""

    def __init__(self, processor: Any, spec: Any, system_prompt: str | None):
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.spec = spec
        self.system_prompt = system_prompt

    def texts(self, row: dict) -> tuple[str, str]:
        """``(full turn, answer part)``: the prompt rendered as at evaluation time, then the assistant's answer."""
        messages = self.spec.messages(row["prompt"], self.system_prompt)
        prompt = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        full = self.processor.apply_chat_template(
            messages + [{"role": "assistant", "content": row["target"]}], tokenize=False
        )
        if not full.startswith(prompt):
            raise CogIPDataError(f"row id {row['id']!r}: the chat template does not render the answer after the prompt")
        return full, full[len(prompt) :]

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        texts = [self.texts(r) for r in rows]
        images = [load_image(r["image"], r["id"]) for r in rows]
        batch = self.processor(
            text=[full for full, _ in texts], images=images, padding=True, padding_side="right", return_tensors="pt"
        )
        labels = torch.full_like(batch["input_ids"], IGNORE_INDEX)
        lengths = batch["attention_mask"].sum(dim=1).tolist()
        for i, ((_, answer), n) in enumerate(zip(texts, lengths)):
            ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"]
            if batch["input_ids"][i, n - len(ids) : n].tolist() != ids:
                raise CogIPDataError(
                    f"row id {rows[i]['id']!r}: the answer {answer!r} does not tokenize the same alone as after "
                    "the prompt, so its tokens cannot be located for the loss"
                )
            labels[i, n - len(ids) : n] = torch.tensor(ids)
        batch["labels"] = labels
        return dict(batch)
