"""``lmms-eval --model cogip_expected``: Qwen2.5-VL with an expected-score readout (see cogip_tasks.readout).

Loading is lmms-eval's own ``qwen2_5_vl`` wrapper (same model_args); answering differs in three ways:

1. while ``generate`` runs, a forward hook (:class:`LogitColumns`) keeps, of every generated position's raw
   logits, only the columns the readout can read (the ten digits, the label words' tokens) and the log-sum-exp
   over the vocabulary, so reading the digit distributions of the generated number costs no extra forward pass
   and the memory kept is batch x new tokens x a few dozen floats, not x the vocabulary (151,936 for Qwen);
2. ``readout=expected_digits`` (default) / ``expected_label`` turns them into an expected score and appends it
   to the greedy answer as ``expected score (digits|label): <label> <score>`` (what the benchmark parser
   reads); ``readout=greedy`` returns the greedy answer unchanged;
3. each request's images come from its own task (lmms-eval's wrapper takes every image of a batch from the
   batch's first task, which mixes up documents when a batch spans two CogIP tasks).

``expected_digits`` needs a number in the greedy answer. When there is none (or it is out of range, or its
digits are not one token each) the answer falls back to ``expected_label``, which is always defined, and the
readout line says ``(label)``; the counts are logged at the end of each call. Label probabilities of words
the greedy answer did not take (``very`` of ``very high`` after a greedy ``high``) need one teacher-forced
forward pass per branch of the label words' token trie (one for five-level labels with Qwen's vocabulary); it
extends ``generate``'s KV cache by the branch's few tokens rather than running the prompt again.
Tasks that are not CogIP tasks get the greedy answer.

Data parallel on CPU: lmms-eval's wrapper pins each process to ``cuda:<rank>`` whenever there are several, so
it cannot run data parallel without GPUs. With ``device=cpu`` this model loads each rank's copy on the CPU
instead; run it with torchrun and lmms-eval's gloo path::

    torchrun --nproc_per_node 2 -m cogip_tasks.cli eval --model cogip_expected \
        --model_args pretrained=...,device=cpu,device_map=cpu,readout=greedy --tasks cogip ...
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from unittest import mock

import torch
from lmms_eval import utils
from lmms_eval.api.instance import GenerationResult, TokenCounts
from lmms_eval.models.simple import qwen2_5_vl as lmms_qwen
from lmms_eval.models.simple.qwen2_5_vl import Qwen2_5_VL, process_vision_info
from loguru import logger as eval_logger
from tqdm import tqdm
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from cogip_tasks.dimensions import Dimension, get_dimension
from cogip_tasks.harness import OneProcessAccelerator
from cogip_tasks.readout import (
    READOUTS,
    TokenPath,
    clip_to_range,
    expected_label_value,
    expected_number,
    format_readout,
    in_range_digit_probs,
    label_position,
    label_variants,
    maximal_paths,
    score_span,
    sequence_probabilities,
    trie_children,
)
from cogip_tasks.tokens import digit_token_ids

__all__ = ["CogIPExpected", "LogitColumns", "digit_token_ids"]


# Kept under its old name: cogip_train.wrappers imports it from here (its home is cogip_tasks.harness).
_OneProcessAccelerator = OneProcessAccelerator


def _cpu_data_parallel(device: str | None) -> contextlib.AbstractContextManager:
    """Load on the CPU in every rank (see the module doc) when ``device=cpu`` and several processes run."""
    if str(device or "").startswith("cpu") and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # An initialised gloo group is what makes lmms-eval pick its torchrun path (collectives over gloo).
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group(backend="gloo")
        return mock.patch.object(lmms_qwen, "Accelerator", OneProcessAccelerator)
    return contextlib.nullcontext()


def dimension_of(task: str) -> Dimension | None:
    try:
        return get_dimension(task)
    except ValueError:
        return None


class CogIPExpected(Qwen2_5_VL):
    """Qwen2.5-VL (lmms-eval's loader) answering with an expected-score readout; ``readout`` picks the mode."""

    is_simple = True

    def __init__(self, readout: str = "expected_digits", dtype: str | None = None, **kwargs) -> None:
        if readout not in READOUTS:
            raise ValueError(f"cogip_expected: readout={readout!r}; expected one of {', '.join(READOUTS)}")
        with _cpu_data_parallel(kwargs.get("device")):
            super().__init__(**kwargs)
        if dtype is not None:  # lmms-eval's loader always loads bfloat16; float32 makes CPU runs exact
            self._model.to(getattr(torch, dtype))
        self.readout = readout
        self.digit_ids = digit_token_ids(self.tokenizer)
        if readout == "expected_digits" and self.digit_ids is None:
            eval_logger.warning("cogip_expected: digits are not single tokens; expected_digits reads labels only")
        self.readout_counts: Counter[str] = Counter()
        self.output_token_counts: list[int] = []  # generated tokens of each answer of the last batch
        self.expected_scores: list[tuple[float, str] | None] = []  # the last batch's readouts, unrounded

    # -- lmms-eval entry point -------------------------------------------------------------------------------
    def generate_until(self, requests) -> list[str]:
        res = []
        # Longest prompts first (less padding, OOMs early); batches share generation kwargs.
        re_ords = utils.Collator(
            [r.args for r in requests], lambda x: (-len(self.tokenizer.encode(x[0])), x[0]), grouping=True
        )
        pbar = tqdm(total=len(requests), disable=(self.rank != 0), desc="Model Responding (cogip_expected)")
        self.readout_counts.clear()
        for chunk in re_ords.get_batched(n=self.batch_size, batch_fn=None):
            contexts, all_gen_kwargs, doc_to_visual, doc_ids, tasks, splits = zip(*chunk)
            visuals = [
                to_visual(self.task_dict[t][s][d]) for to_visual, d, t, s in zip(doc_to_visual, doc_ids, tasks, splits)
            ]
            answers = self.answer_batch(list(contexts), visuals, [dimension_of(t) for t in tasks], all_gen_kwargs[0])
            for context, answer, n_tokens in zip(contexts, answers, self.output_token_counts):
                # token counts let cogip-eval count answers cut short at max_new_tokens
                res.append(GenerationResult(text=answer, token_counts=TokenCounts(output_tokens=n_tokens)))
                self.cache_hook.add_partial("generate_until", (context, all_gen_kwargs[0]), answer)
                pbar.update(1)
        pbar.close()
        if self.readout != "greedy":
            eval_logger.info(f"cogip_expected readout={self.readout}: {dict(self.readout_counts)}")
        return re_ords.get_original(res)

    # -- one batch ---------------------------------------------------------------------------------------------
    def _inputs(self, contexts: list[str], visuals: list) -> dict:
        messages = []
        for context, images in zip(contexts, visuals):
            text = context.replace("<image>", "")
            if self.reasoning_prompt:
                text = text.strip() + self.reasoning_prompt
            # Same image encoding as lmms-eval's wrapper, so readout=greedy answers as qwen2_5_vl does.
            content = [
                {
                    "type": "image",
                    "image": self._encode_image_data_url(img),
                    "max_pixels": self.max_pixels,
                    "min_pixels": self.min_pixels,
                }
                for img in (images or [])
            ]
            messages.append(
                [
                    {"role": "system", "content": self.system_prompt},
                    {"role": "user", "content": content + [{"type": "text", "text": text}]},
                ]
            )
        texts = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        images, _ = process_vision_info(messages)
        inputs = self.processor(text=texts, images=images, padding=True, padding_side="left", return_tensors="pt")
        return inputs.to("cuda" if self.device_map == "auto" else self.device)

    def answer_batch(
        self, contexts: list[str], visuals: list, dims: list[Dimension | None], gen_kwargs: dict
    ) -> list[str]:
        """Answer one batch: greedy generation, then the readout of each answer (see the module doc).

        ``self.expected_scores`` holds each answer's readout as ``(score, "digits" | "label")`` before it is
        rounded into the answer text (None for greedy answers).
        """
        inputs = self._inputs(contexts, visuals)
        kwargs = {"max_new_tokens": 32768, "temperature": 0.0, "top_p": None, "num_beams": 1, **gen_kwargs}
        sample = bool(kwargs["temperature"] and kwargs["temperature"] > 0)
        record = None if self.readout == "greedy" else LogitColumns(*self._readout_columns(dims))
        with record.hooked(self.model) if record else contextlib.nullcontext():
            out = self.model.generate(
                **inputs,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
                do_sample=sample,
                temperature=kwargs["temperature"] if sample else None,
                top_p=kwargs["top_p"] if sample else None,
                num_beams=kwargs["num_beams"],
                max_new_tokens=kwargs["max_new_tokens"],
                use_cache=self.use_cache,
                # Greedy: the token ids only, so the KV cache is freed as generate returns. A readout keeps the cache
                # until it is done: a label branch the answer did not take is read by extending it (_cached_pass).
                return_dict_in_generate=record is not None,
            )
        sequences, cache = (out.sequences, _reusable_cache(out)) if record is not None else (out, None)
        until = gen_kwargs.get("until", [self.tokenizer.decode(self.eot_token_id)])
        until = [t for t in ([until] if isinstance(until, str) else until) if t and t != "\n\n"]
        stops = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        generated = []
        for row in sequences[:, inputs["input_ids"].shape[1] :].tolist():
            cut = next((k for k, t in enumerate(row) if t in stops), len(row))
            generated.append(row[:cut])
        self.output_token_counts = [len(tokens) for tokens in generated]
        answers = []
        for tokens in generated:
            answer = self.tokenizer.decode(tokens, skip_special_tokens=True)
            for term in until:
                answer = answer.split(term)[0]
            answers.append(answer)
        self.expected_scores = [None] * len(answers)
        if record is None:
            return answers
        self.expected_scores = self._read_scores(inputs, record, generated, answers, dims, cache)
        del out, cache  # the KV cache: freed before the answers are formatted
        return [
            answer if read is None else format_readout(answer, read[0], dim, read[1])
            for answer, read, dim in zip(answers, self.expected_scores, dims)
        ]

    # -- readout -----------------------------------------------------------------------------------------------
    def _readout_columns(self, dims: list[Dimension | None]) -> tuple[list[int], list[int]]:
        """What :class:`LogitColumns` keeps: the columns (the digits, and every token of the batch's label words
        as an answer writes them: lower case or capitalised, after a space or not), and the tokens after which
        a label word goes on (``very`` of ``very high``), where it needs the log-sum-exp. A label written after
        another character in its token (``(high``) is read from a teacher-forced pass instead."""
        columns, inner = set(self.digit_ids or ()), set()
        for dim in {d.key: d for d in dims if d is not None}.values():
            for capitalised in (False, True):
                for text in label_variants(dim, capitalised).values():
                    for lead in ("", " "):
                        tokens = self.tokenizer.encode(lead + text, add_special_tokens=False)
                        columns.update(tokens)
                        inner.update(tokens[:-1])
        return sorted(columns), sorted(inner)

    def _read_scores(self, inputs, record, generated, answers, dims, cache=None) -> list[tuple[float, str] | None]:
        results: list[tuple[float, str] | None] = [None] * len(answers)
        label_jobs = {}  # row -> (first answer token of the label, label token sequences)
        for i, (tokens, answer, dim) in enumerate(zip(generated, answers, dims)):
            if dim is None:
                self.readout_counts["not_cogip"] += 1
                continue
            span = score_span(answer, dim)
            if self.readout == "expected_digits":
                score = self._digit_score(i, record, tokens, answer, span, dim)
                if score is not None:
                    results[i] = (clip_to_range(score, dim), "digits")
                    self.readout_counts["digits"] += 1
                    continue
                self.readout_counts["label_fallback"] += 1
            else:
                self.readout_counts["label"] += 1
            char, capitalised = label_position(answer, dim, before=span[0] if span else None)
            k = _token_at(self.tokenizer, tokens, char)
            lead = answer[len(self.tokenizer.decode(tokens[:k], skip_special_tokens=True)) : char]  # e.g. " "
            label_jobs[i] = (
                k,
                {
                    label: self.tokenizer.encode(lead + text, add_special_tokens=False)
                    for label, text in label_variants(dim, capitalised).items()
                },
            )
        logprobs = self._label_logprobs(inputs, record, generated, label_jobs, cache)
        for i, (_, sequences) in label_jobs.items():
            probs = sequence_probabilities(sequences, lambda node, i=i: logprobs[i][node])
            results[i] = (clip_to_range(expected_label_value(probs, dims[i]), dims[i]), "label")
        return results

    def _digit_score(self, row: int, record, tokens: list[int], answer: str, span, dim: Dimension) -> float | None:
        """Expected value of the greedy number from its digit positions' in-range digit distributions (see
        :func:`cogip_tasks.readout.in_range_digit_probs`); None if it cannot be read."""
        if span is None or self.digit_ids is None:
            return None
        start, end, factor = span
        number = answer[start:end]
        probs = []
        for c in range(start, end):
            if answer[c] == ".":
                continue
            k = _token_at(self.tokenizer, tokens, c)
            if k >= len(tokens) or self.tokenizer.decode([tokens[k]]) != answer[c]:
                return None  # the digit shares its token with other text: no per-digit distribution
            probs.append(torch.softmax(record.logits(k, row, self.digit_ids), -1).tolist())
        return factor * expected_number(number, in_range_digit_probs(number, probs, factor, dim))

    def _label_logprobs(
        self, inputs, record, generated, jobs, cache=None
    ) -> dict[int, dict[TokenPath, dict[int, float]]]:
        """Log-probabilities of the tokens that follow every trie node of each row's label words.

        Nodes on the greedy path come from the columns recorded during generation; the others (and any whose
        tokens were not recorded) from teacher-forced forward passes over prompt + greedy prefix + node, one pass
        per maximal trie path (all rows of the batch together): from ``generate``'s KV ``cache`` when there is one
        (:meth:`_cached_pass`), else over the whole sequence (:meth:`_forced_pass`). Both give the same numbers.
        """
        found: dict[int, dict[TokenPath, dict[int, float]]] = {}
        missing: dict[int, dict[TokenPath, list[int]]] = {}
        for i, (k, sequences) in jobs.items():
            found[i], missing[i] = {}, {}
            for node, tokens in trie_children(sequences).items():
                step = k + len(node)
                on_path = tuple(generated[i][k:step]) == node and step < record.steps
                # At the root a constant shared by every label cancels when their probabilities are renormalised.
                logprobs = record.logprobs(step, i, tokens, up_to_a_constant=node == ()) if on_path else None
                if logprobs is None:
                    missing[i][node] = tokens
                else:
                    found[i][node] = logprobs
        paths = {i: maximal_paths(list(nodes)) for i, nodes in missing.items()}
        for round_ in range(max((len(p) for p in paths.values()), default=0)):
            this_round = {i: p[round_] for i, p in paths.items() if len(p) > round_}
            if cache is not None:
                passed = self._cached_pass(inputs, generated, jobs, this_round, missing, cache)
            else:
                passed = self._forced_pass(inputs, generated, jobs, this_round, missing)
            for i, node_logprobs in passed.items():
                found[i].update(node_logprobs)
        return found

    @torch.no_grad()
    def _forced_pass(
        self, inputs, generated, jobs, paths: dict[int, TokenPath], wanted: dict[int, dict[TokenPath, list[int]]]
    ) -> dict[int, dict[TokenPath, dict[int, float]]]:
        """One teacher-forced pass over every row of the batch (the images are per batch); rows without a path
        this round repeat their greedy prefix, and their output is dropped. Only the positions of the ``wanted``
        nodes on each path are projected onto the vocabulary, and only their ``wanted`` tokens are kept."""
        ids, types = inputs["input_ids"], inputs["mm_token_type_ids"]
        rows, row_types = [], []
        for i in range(ids.shape[0]):
            real = inputs["attention_mask"][i].bool()
            k = jobs[i][0] if i in jobs else 0
            tail = list(generated[i][:k]) + list(paths.get(i, ()))
            rows.append(ids[i][real].tolist() + tail)
            row_types.append(types[i][real].tolist() + [0] * len(tail))
        width = max(map(len, rows))
        pad = self.tokenizer.pad_token_id
        device = ids.device
        input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
        mm_types = torch.tensor([[0] * (width - len(t)) + t for t in row_types], device=device)
        # Left-padded rows end with their path: the node path[:j] is predicted from position -(len(path) + 1 - j).
        nodes = {i: [j for j in range(len(p) + 1) if p[:j] in wanted[i]] for i, p in paths.items()}
        keep = max(len(paths[i]) + 1 - j for i, js in nodes.items() for j in js)
        extra = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask", "mm_token_type_ids")}
        logits = self.model(
            input_ids=input_ids,
            attention_mask=mask,
            mm_token_type_ids=mm_types,
            use_cache=False,
            logits_to_keep=keep,
            **extra,
        ).logits
        return _branch_log_probs(logits, nodes, paths, wanted, keep)

    @torch.no_grad()
    def _cached_pass(
        self,
        inputs,
        generated,
        jobs,
        paths: dict[int, TokenPath],
        wanted: dict[int, dict[TokenPath, list[int]]],
        cache,
    ) -> dict[int, dict[TokenPath, dict[int, float]]]:
        """:meth:`_forced_pass`'s numbers from ``generate``'s KV cache instead of a second prefill.

        Each row feeds only the token before its label (whose output predicts the label's first token; the prompt's
        last token when the label opens the answer) and its path, attending to the cached prompt and greedy
        prefix before that token and not to the rest of its cached answer; positions continue the prompt's as
        ``generate`` continued them (text after the image: one position on all three rotary axes). The tokens
        appended to the cache are cropped off again, so every round starts from ``generate``'s cache.
        """
        ids, prompt_mask = inputs["input_ids"], inputs["attention_mask"]
        batch, width = ids.shape
        cached = cache.get_seq_length()
        in_cache = cached - width  # generated tokens in the cache: generate never feeds its last token back
        # Rotary position of each row's last prompt token (left padding: the last column); generated token g
        # (0-based) sits at that + 1 + g.
        rope, _ = self.model.model.get_rope_index(ids, **{k: v for k, v in inputs.items() if k != "input_ids"})
        last = rope[:, :, -1]  # [3, batch]
        rows, firsts = [], []
        for i in range(batch):
            k = jobs[i][0] if i in jobs else 0
            first = min(k, in_cache) - 1  # generated index of the first token fed; -1: the prompt's last token
            fed = [int(ids[i, -1])] if first < 0 else []
            rows.append(fed + list(generated[i][max(first, 0) : k]) + list(paths.get(i, ())))
            firsts.append(first)
        length = max(map(len, rows))
        device = ids.device
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (length - len(r)) + r for r in rows], device=device)
        # The cache's mask: the prompt's own (its padding), then each row's greedy prefix up to its first fed token.
        mask = torch.zeros(batch, cached + length, dtype=prompt_mask.dtype, device=device)
        mask[:, :width] = prompt_mask
        positions = torch.zeros(3, batch, length, dtype=torch.long, device=device)
        for i, (row, first) in enumerate(zip(rows, firsts)):
            if first < 0:
                mask[i, width - 1] = 0  # the prompt's last token is fed again
            mask[i, width : width + max(first, 0)] = 1
            mask[i, cached + length - len(row) :] = 1
            positions[:, i, length - len(row) :] = (
                last[:, i, None] + 1 + first + torch.arange(len(row), device=device)[None]
            )
        nodes = {i: [j for j in range(len(p) + 1) if p[:j] in wanted[i]] for i, p in paths.items()}
        keep = max(len(paths[i]) + 1 - j for i, js in nodes.items() for j in js)
        try:
            logits = self.model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=positions,
                cache=cache,
                use_cache=True,
                logits_to_keep=keep,
            ).logits
        finally:
            cache.crop(cached - cache.get_seq_length())  # back to generate's cache for the next round
        return _branch_log_probs(logits, nodes, paths, wanted, keep)


def _branch_log_probs(logits, nodes: dict, paths: dict, wanted: dict, keep: int) -> dict:
    """Per row ``i`` and branch prefix ``path[:j]``: the log-probabilities of the wanted next tokens, read from
    the last ``keep`` positions' ``logits`` (both passes, full and cached, lay their rows out this way)."""
    out = {}
    for i, js in nodes.items():
        path = paths[i]
        out[i] = {}
        for j in js:
            row = logits[i, keep - len(path) - 1 + j].float()
            tokens = wanted[i][path[:j]]
            out[i][path[:j]] = dict(zip(tokens, (row[tokens] - torch.logsumexp(row, -1)).tolist()))
    return out


def _reusable_cache(out):
    """``generate``'s KV cache if :meth:`CogIPExpected._cached_pass` can extend and crop it (a dynamic cache of
    full-attention layers, under transformers' current name ``cache``); else None (the readout then runs
    :meth:`CogIPExpected._forced_pass`)."""
    cache = getattr(out, "cache", None)
    if not isinstance(cache, DynamicCache) or not all(type(layer) is DynamicLayer for layer in cache.layers):
        return None
    return cache


class LogitColumns:
    """What the readout needs of each generated position's raw logits, at a memory cost free of the vocabulary.

    A forward hook on the model while ``generate`` runs: at every step it keeps the logits of a few vocabulary
    columns, and each row's log-sum-exp over the whole vocabulary where the row's previous token is one of
    ``normalize_after`` (a label word goes on after it); together they give those columns' log-probabilities
    exactly (``log p = logit - logsumexp``). Elsewhere the readout needs no log-sum-exp: the digits' distribution
    is a softmax over the ten digit columns, and at the first token of a label every label shares one constant,
    which cancels. A forward hook rather than a ``LogitsProcessor``: ``generate`` runs custom processors after
    its own (Qwen2.5-VL-Instruct's ``repetition_penalty`` among them), so a processor would see processed
    scores; the readout reads the raw logits, what the model believes.
    """

    def __init__(self, columns: list[int], normalize_after: list[int] | None = None):
        self.columns = sorted(set(columns))
        self.index = {token: j for j, token in enumerate(self.columns)}
        self.normalize_after = None if normalize_after is None else torch.tensor(sorted(set(normalize_after)))
        self._values: list[torch.Tensor] = []  # per step: [batch, len(columns)] float32
        self._lse: list[torch.Tensor] = []  # per step: [batch] float32, NaN where not computed

    @property
    def steps(self) -> int:
        return len(self._values)

    def record(self, logits: torch.Tensor, previous: torch.Tensor | None = None) -> None:
        """Keep one step's ``[batch, vocab]`` logits (in float32, as ``generate`` reads them); ``previous``: each
        row's previous token (None: the log-sum-exp of every row)."""
        self._values.append(logits[:, self.columns].float())
        lse = torch.full((logits.shape[0],), float("nan"))
        rows = range(logits.shape[0])
        if previous is not None and self.normalize_after is not None:
            rows = torch.isin(previous.cpu(), self.normalize_after).nonzero().flatten().tolist()
        for row in rows:  # row by row: a temporary of one row's vocabulary, not the batch's
            lse[row] = torch.logsumexp(logits[row].float(), -1).cpu()
        self._lse.append(lse)

    def _hook(self, module, args, kwargs, output) -> None:
        fed = kwargs.get("input_ids")  # this step's input: its last token is each row's previous token
        self.record(output.logits[:, -1], None if fed is None else fed[:, -1])  # the position generate reads

    @contextlib.contextmanager
    def hooked(self, model: torch.nn.Module):
        handle = model.register_forward_hook(self._hook, with_kwargs=True)
        try:
            yield self
        finally:
            handle.remove()

    def logits(self, step: int, row: int, tokens: list[int]) -> torch.Tensor:
        """Raw logits of ``tokens`` (all recorded) at generated position ``step`` of batch row ``row``."""
        return self._values[step][row, [self.index[t] for t in tokens]]

    def logprobs(
        self, step: int, row: int, tokens: list[int], up_to_a_constant: bool = False
    ) -> dict[int, float] | None:
        """Token -> log-probability over the whole vocabulary at ``step``; None if a token, or the log-sum-exp,
        was not recorded. ``up_to_a_constant``: shifted by a constant shared by ``tokens`` where the log-sum-exp
        was not recorded (the caller renormalises)."""
        if any(t not in self.index for t in tokens):
            return None
        values, lse = self.logits(step, row, tokens), self._lse[step][row]
        if torch.isnan(lse):
            if not up_to_a_constant:
                return None
            lse = torch.logsumexp(values, -1)
        return dict(zip(tokens, (values - lse).tolist()))


def _token_at(tokenizer, tokens: list[int], char: int) -> int:
    """Index of the token whose decoded text holds character ``char`` of the decoded answer (binary search over
    prefix decodes; ``len(tokens)`` when ``char`` is at or past the end)."""
    lo, hi = 0, len(tokens)
    while lo < hi:  # smallest k with len(decode(tokens[:k+1])) > char
        mid = (lo + hi) // 2
        if len(tokenizer.decode(tokens[: mid + 1], skip_special_tokens=True)) > char:
            hi = mid
        else:
            lo = mid + 1
    return lo
