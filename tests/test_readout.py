"""Expected-score readout: the pure functions, the model wrapper on a tiny Qwen2.5-VL, and the real CLI."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from cogip_tasks.dimensions import DIMENSIONS, get_dimension
from cogip_tasks.readout import (
    clip_to_range,
    expected_label_value,
    expected_number,
    format_readout,
    in_range_digit_probs,
    label_position,
    label_variants,
    maximal_paths,
    place_values,
    score_span,
    sequence_probabilities,
    split_readout,
    trie_nodes,
)
from cogip_tasks.scoring import parse_answer
from conftest import TINY_MODEL_ARGS, lmms_eval_command, load_results, offline_env, run_cli
from fixtures.forced import force_answers

# -- pure functions ----------------------------------------------------------------------------------------------


def test_place_values_and_expected_number():
    assert place_values("7.234") == [1, 0.1, 0.01, 0.001]
    assert place_values("12") == [10, 1]
    assert place_values(".5") == [0.1]
    with pytest.raises(ValueError):
        place_values("-2")
    one_hot = lambda d: [1.0 if v == d else 0.0 for v in range(10)]  # noqa: E731
    assert expected_number("7.25", [one_hot(7), one_hot(2), one_hot(5)]) == pytest.approx(7.25)
    half = [0.0] * 10
    half[6] = half[8] = 0.5  # E[d] = 7 at every position; unnormalised mass is renormalised
    assert expected_number("3.1", [half, [2 * p for p in half]]) == pytest.approx(7.7)
    with pytest.raises(ValueError, match="2 digits"):
        expected_number("7.2", [half])


def test_expected_label_value_uses_bin_midpoints():
    aes = get_dimension("aesthetics")
    assert expected_label_value({"high": 1.0}, aes) == pytest.approx(aes.bin_midpoint("high"))
    mixed = expected_label_value({"low": 1.0, "very high": 3.0}, aes)
    assert mixed == pytest.approx((aes.bin_midpoint("low") + 3 * aes.bin_midpoint("very high")) / 4)
    val = get_dimension("emotional_valence")
    assert expected_label_value({"negative": 0.5, "positive": 0.5, "neutral": 0.0}, val) == pytest.approx(0.0)
    with pytest.raises(KeyError, match="not labels of aesthetics"):
        expected_label_value({"positive": 1.0}, aes)
    assert clip_to_range(1.4, "memorability") == 1.0 and clip_to_range(-4, "emotional_valence") == -3.0


@pytest.mark.parametrize(
    "text, dim, number, factor",
    [
        ("high 7.234", "aesthetics", "7.234", 1.0),
        ("negative -2 since it is sad", "emotional_valence", "2", -1.0),
        ("Rating: 65% memorable", "memorability", "65", 0.01),
        ("On a scale of 0 to 10 I give 7.5/10. high", "aesthetics", "7.5", 1.0),
        ("Score: 3, though high 7.2 looks nicer", "aesthetics", "7.2", 1.0),  # the final label-number pair
        ("Score: 6.5, high 7.2 at first glance", "aesthetics", "7.2", 1.0),  # the parser's choice, not the last
        ("7.5e0 overall", "aesthetics", "7.5", 1.0),  # the exponent moves the score but is not the number
        ("negative \u2013 1.5", "emotional_valence", "1.5", -1.0),  # the dash is the sign
        ("high 0.0 on a 0-1 scale", "memorability", "0.0", 1.0),
    ],
)
def test_score_span_finds_the_number_the_parser_reads(text, dim, number, factor):
    start, end, f = score_span(text, dim)
    assert text[start:end] == number
    assert f == pytest.approx(factor)
    assert f * float(number) == pytest.approx(parse_answer(text, dim).score)


def test_score_span_none_without_a_usable_score():
    assert score_span("a calm street", "aesthetics") is None
    assert score_span("high 12.5", "aesthetics") is None  # out of range


def test_label_position():
    assert label_position("The image: very high 8.1", "aesthetics", before=21) == (11, False)
    assert label_position("High 8.1", "aesthetics", before=5) == (0, True)
    assert label_position("low mood, so negative -1", "emotional_valence", before=22) == (13, False)
    assert label_position("no label here 5", "aesthetics", before=14) == (0, False)


def test_token_trie_and_sequence_probabilities():
    seqs = {"very low": [5, 1], "low": [1], "very high": [5, 2], "high": [2], "medium": [3, 4]}
    nodes = trie_nodes(seqs)
    assert nodes == [(), (3,), (5,)]
    assert maximal_paths(nodes) == [(3,), (5,)]
    # A fixed next-token distribution over a vocabulary of 6, the same after every context.
    q = [0.0, 0.2, 0.1, 0.3, 0.25, 0.15]
    probs = sequence_probabilities(seqs, lambda node: [math.log(p) if p else -math.inf for p in q])
    assert probs == pytest.approx({"very low": 0.03, "low": 0.2, "very high": 0.015, "high": 0.1, "medium": 0.075})


@pytest.mark.parametrize("dim", list(DIMENSIONS))
def test_readout_line_wins_over_the_greedy_numbers(dim):
    d = DIMENSIONS[dim]
    greedy = f"Score: {d.high:g}. Rated {d.low:g} to {d.high:g}, {d.labels[0]} {d.low:g}"
    for score in (d.low, d.midpoint, d.high, d.low + 0.1234 * (d.high - d.low)):
        text = format_readout(greedy, score, d, "digits")
        parsed = parse_answer(text, d)
        assert parsed.score == pytest.approx(round(score, 3)) and parsed.failure is None
        assert parsed.label == d.label_for(round(score, 3))
        assert split_readout(text) == (
            greedy,
            {"source": "digits", "label": d.label_for(round(score, 3)), "score": round(score, 3)},
        )
    for blank in ("", "\n\n\n"):  # a random model's answer: kept verbatim
        assert split_readout(format_readout(blank, d.low, d, "label"))[0] == blank
        assert split_readout(format_readout(blank, d.low, d, "label").strip())[0] == ""  # lmms-eval strips answers
    assert split_readout("plain answer 7") == ("plain answer 7", None)


# -- the model wrapper on a tiny random Qwen2.5-VL -------------------------------------------------------------


@pytest.fixture()
def wrapper(tiny_qwen_dir):
    from cogip_tasks.models.cogip_expected import CogIPExpected

    # The harness's own model_args parsing, as `--model_args` would be read.
    return CogIPExpected.create_from_arg_string(
        f"pretrained={tiny_qwen_dir},{TINY_MODEL_ARGS},dtype=float32", {"batch_size": 4}
    )


def _images(n):
    from cogip_tasks.synthetic import procedural_image

    return [[procedural_image(seed)] for seed in range(n)]


def _answer(model, answers, dims, readout, contexts=None):
    """Run the wrapper with the greedy answers forced to ``answers`` (its logits stay the model's own)."""
    tok = model.tokenizer
    model.readout = readout
    force_answers(model, [tok.encode(a) for a in answers])
    contexts = contexts or [f"Rate image {i}." for i in range(len(answers))]
    return model.answer_batch(contexts, _images(len(answers)), [get_dimension(d) for d in dims], {"max_new_tokens": 24})


class FixedHead(torch.nn.Module):
    """A stub lm head: the same next-token distribution ``q`` after every context."""

    def __init__(self, vocab: int, q: dict[int, float]):
        super().__init__()
        logits = torch.full((vocab,), -1e4)
        for token, p in q.items():
            logits[token] = math.log(p)
        self.register_buffer("logits", logits)

    def forward(self, hidden):
        return self.logits.expand(*hidden.shape[:-1], -1)


def test_expected_digits_exact_with_a_stub_head(wrapper):
    tok = wrapper.tokenizer
    digit = {d: tok.convert_tokens_to_ids(str(d)) for d in range(10)}
    # Digits 2 and 6 with weights 1:3 (and mass on a non-digit, which the readout renormalises away): E[d] = 5.
    wrapper.model.lm_head = FixedHead(
        wrapper.model.config.text_config.vocab_size, {digit[2]: 0.1, digit[6]: 0.3, 7: 0.6}
    )
    out = _answer(
        wrapper,
        ["high 7.25", "negative -2", "The image is fine: Score 0.40"],
        ["aesthetics", "emotional_valence", "memorability"],
        "expected_digits",
    )
    greedy, lines = zip(*map(split_readout, out))
    assert greedy == ("high 7.25", "negative -2", "The image is fine: Score 0.40")
    assert [line["source"] for line in lines] == ["digits"] * 3
    assert [parse_answer(o, d).score for o, d in zip(out, ["aesthetics", "emotional_valence", "memorability"])] == [
        5.55,  # 5 + 0.5 + 0.05
        -2.0,  # -6 would leave the valence range: only the 2 counts
        0.55,  # before the point 2 and 6 leave memorability's range: the greedy 0 stays; then 0.5 + 0.05
    ]


def test_expected_label_exact_with_a_stub_head(wrapper):
    tok = wrapper.tokenizer
    ne, gative, utral, posi, tive = (tok.convert_tokens_to_ids(t) for t in ("ne", "gative", "utral", "posi", "tive"))
    assert tok.encode("negative") == [ne, gative] and tok.encode("neutral") == [ne, utral]
    assert tok.encode("positive") == [posi, tive]
    wrapper.model.lm_head = FixedHead(
        wrapper.model.config.text_config.vocab_size, {ne: 0.3, gative: 0.1, utral: 0.2, posi: 0.2, tive: 0.2}
    )
    # P(negative) = .3 * .1, P(neutral) = .3 * .2, P(positive) = .2 * .2 -> (3 * -1.75 + 6 * 0 + 4 * 1.75) / 13,
    # bin midpoints of [-3, -0.5) and (0.5, 3]; 0.135 is inside the neutral band.
    # "negative -2" takes the "ne" branch greedily; "positive 1" needs the teacher-forced pass for it.
    out = _answer(wrapper, ["negative -2", "positive 1"], ["emotional_valence"] * 2, "expected_label")
    assert [split_readout(o)[1]["score"] for o in out] == [round(1.75 / 13, 3)] * 2
    # expected_digits falls back to the labels when the answer has no number.
    out = _answer(wrapper, ["neutral, no number"], ["emotional_valence"], "expected_digits")
    assert split_readout(out[0])[1] == {"source": "label", "label": "neutral", "score": round(1.75 / 13, 3)}
    assert wrapper.readout_counts["label_fallback"] == 1


def _teacher_forced_logits(model, context, image, answer):
    """Logits of one full forward pass over prompt + answer (text or token ids): the reference the readout must
    match."""
    inputs = model._inputs([context], [image])
    answer_ids = torch.tensor([model.tokenizer.encode(answer) if isinstance(answer, str) else list(answer)])
    ids = torch.cat([inputs["input_ids"], answer_ids], 1)
    extra = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask", "mm_token_type_ids")}
    with torch.no_grad():
        logits = model.model(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            mm_token_type_ids=torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(answer_ids)], 1),
            **extra,
        ).logits[0]
    return logits[inputs["input_ids"].shape[1] - 1 :]  # row j: the distribution of answer token j


def test_readout_matches_a_teacher_forced_reference(wrapper):
    """Random weights: the digit and label readouts equal values computed from one full forward pass."""
    tok = wrapper.tokenizer
    answer, context = "high 7.25", "Rate image 0."
    ref = _teacher_forced_logits(wrapper, context, _images(1)[0], answer)
    ids = tok.encode(answer)
    digit_ids = [tok.convert_tokens_to_ids(str(d)) for d in range(10)]
    digits = [j for j, t in enumerate(ids) if tok.decode([t]).isdigit()]
    expected = expected_number("7.25", [torch.softmax(ref[j, digit_ids], -1).tolist() for j in digits])
    out = _answer(wrapper, [answer], ["aesthetics"], "expected_digits", [context])
    assert split_readout(out[0])[1]["score"] == pytest.approx(expected, abs=1.5e-3)

    # Labels at answer position 0: the "very" branch is not on the greedy path ("high"), so it comes from the
    # extra teacher-forced pass; the reference reads it from a full pass over "very high".
    ref_very = _teacher_forced_logits(wrapper, context, _images(1)[0], "very high")
    logp0, logp_very = torch.log_softmax(ref[0], -1), torch.log_softmax(ref_very[1], -1)
    aes = get_dimension("aesthetics")
    probs = {}
    for label in aes.labels:
        seq = tok.encode(label)
        probs[label] = math.exp(logp0[seq[0]] + (logp_very[seq[1]] if len(seq) > 1 else 0.0))
    assert tok.encode("very") == [tok.encode("very high")[0]] and all(len(tok.encode(lab)) <= 2 for lab in aes.labels)
    out = _answer(wrapper, [answer], ["aesthetics"], "expected_label", [context])
    assert split_readout(out[0])[1]["score"] == pytest.approx(expected_label_value(probs, aes), abs=1.5e-3)


# -- the vocabulary-free readout against the full-logits path it replaced ----------------------------------------


def _full_logits_readout(model, contexts, images, answers, dims, readout):
    """The readout as computed before LogitColumns, kept as the reference: ``generate`` returns every generated
    position's full-vocabulary logits (``output_logits``), and each label-word context that the greedy answer did
    not take comes from a full teacher-forced pass of its own. ``(score, source)`` per answer, unrounded."""
    tok = model.tokenizer
    force_answers(model, [tok.encode(a) for a in answers])
    inputs = model._inputs(contexts, images)
    out = model.model.generate(
        **inputs,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        do_sample=False,
        num_beams=1,
        max_new_tokens=24,
        return_dict_in_generate=True,
        output_logits=True,
    )
    digit_ids = [tok.convert_tokens_to_ids(str(d)) for d in range(10)]
    results = []
    for row, (context, image, answer, dim) in enumerate(zip(contexts, images, answers, map(get_dimension, dims))):
        tokens = tok.encode(answer)

        def token_of(char, tokens=tokens):  # first token whose prefix decode passes the character
            return next((k for k in range(len(tokens)) if len(tok.decode(tokens[: k + 1])) > char), len(tokens))

        span = score_span(answer, dim)
        if readout == "expected_digits" and span is not None:
            start, end, factor = span
            number = answer[start:end]
            positions = [token_of(c) for c in range(start, end) if answer[c] != "."]
            probs = [torch.softmax(out.logits[k][row, digit_ids], -1).tolist() for k in positions]
            score = factor * expected_number(number, in_range_digit_probs(number, probs, factor, dim))
            results.append((clip_to_range(score, dim), "digits"))
            continue
        char, capitalised = label_position(answer, dim, before=span[0] if span else None)
        k = token_of(char)
        lead = answer[len(tok.decode(tokens[:k])) : char]
        label_probs = {}
        for label, text in label_variants(dim, capitalised).items():
            seq = tok.encode(lead + text)
            logp = 0.0
            for t, token in enumerate(seq):
                if tokens[k : k + t] == seq[:t] and k + t < len(out.logits):
                    logits = out.logits[k + t][row]
                else:
                    logits = _teacher_forced_logits(model, context, image, tokens[:k] + seq[:t])[-1]
                logp += torch.log_softmax(logits.float(), -1)[token].item()
            label_probs[label] = math.exp(logp)
        results.append((clip_to_range(expected_label_value(label_probs, dim), dim), "label"))
    return results


@pytest.mark.parametrize("columns", ["recorded", "none"])
@pytest.mark.parametrize("readout", ["expected_digits", "expected_label"])
def test_recorded_columns_equal_the_full_logits_readout(wrapper, monkeypatch, readout, columns):
    """The same scores, to float precision, as the full-vocabulary path; with no label columns recorded (a label
    written inside a token with other text) every label context comes from the teacher-forced passes instead."""
    answers = ["very high 8.75", "The image is sad: negative -1", "Medium 0.55", "no score at all", "(high 7.2)"]
    dims = ["aesthetics", "emotional_valence", "memorability", "funniness", "aesthetics"]
    contexts = [f"Rate image {i}, {'with a longer prompt ' * i}please." for i in range(len(answers))]
    images = _images(len(answers))
    if columns == "none":
        monkeypatch.setattr(wrapper, "_readout_columns", lambda dims: (list(wrapper.digit_ids), []))
    reference = _full_logits_readout(wrapper, contexts, images, answers, dims, readout)
    _answer(wrapper, answers, dims, readout, contexts)
    assert [s for _, s in wrapper.expected_scores] == [s for _, s in reference]
    assert [v for v, _ in wrapper.expected_scores] == pytest.approx([v for v, _ in reference], rel=1e-5, abs=1e-6)
    assert {s for _, s in reference} == ({"digits", "label"} if readout == "expected_digits" else {"label"})


@pytest.mark.parametrize("columns", ["recorded", "none"])
def test_label_branches_from_the_kv_cache_equal_the_full_passes(wrapper, monkeypatch, columns):
    """The label branches the greedy answer did not take, read by extending ``generate``'s KV cache, equal the
    full teacher-forced passes they replace: rows of different prompt and answer lengths (left padding, answers
    ending early with EOS), labels at the answer's start, after text, inside a token (``(high``), none at all,
    and one answer cut by ``max_new_tokens`` just after its label. With no label columns recorded every node,
    the root's too, comes from the passes."""
    from cogip_tasks.models import cogip_expected

    answers = [
        "very high 8.75",
        "The image is sad, dark and cold: negative -1",
        "Medium 0.55",
        "no score at all",
        "(high 7.2)",
        "A wide shot of a quiet street in warm evening light, so high",  # the longest: cut after its label
    ]
    dims = ["aesthetics", "emotional_valence", "memorability", "funniness", "aesthetics", "aesthetics"]
    contexts = [f"Rate image {i}, {'with a longer prompt ' * (i % 3)}please." for i in range(len(answers))]
    images = _images(len(answers))
    tok = wrapper.tokenizer
    max_new = max(len(tok.encode(a)) for a in answers)  # the last answer has no room for its EOS
    if columns == "none":
        monkeypatch.setattr(wrapper, "_readout_columns", lambda dims: (list(wrapper.digit_ids), []))
    calls = Counter()
    for name in ("_cached_pass", "_forced_pass"):
        original = getattr(wrapper, name)

        def counted(*args, name=name, original=original, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(wrapper, name, counted)

    def read() -> list[tuple[float, str]]:
        wrapper.readout = "expected_label"
        force_answers(wrapper, [tok.encode(a) for a in answers])
        out = wrapper.answer_batch(contexts, images, [get_dimension(d) for d in dims], {"max_new_tokens": max_new})
        assert [split_readout(o)[0] for o in out] == answers
        return list(wrapper.expected_scores)

    cached = read()
    assert calls == {"_cached_pass": calls["_cached_pass"]} and calls["_cached_pass"] >= 1
    monkeypatch.setattr(cogip_expected, "_reusable_cache", lambda out: None)  # as without a cache: full passes
    calls.clear()
    full = read()
    assert calls == {"_forced_pass": calls["_forced_pass"]} and calls["_forced_pass"] >= 1
    assert [s for _, s in cached] == [s for _, s in full] == ["label"] * len(answers)
    assert [v for v, _ in cached] == pytest.approx([v for v, _ in full], rel=1e-5, abs=1e-6)
    # ... and the full passes equal the reference readout (every position's full logits, full passes).
    reference = _full_logits_readout(wrapper, contexts, images, answers[:-1], dims[:-1], "expected_label")
    assert [v for v, _ in full[:-1]] == pytest.approx([v for v, _ in reference], rel=1e-5, abs=1e-6)


def test_logit_columns_give_the_full_log_softmax():
    from cogip_tasks.models.cogip_expected import LogitColumns

    logits = torch.randn(3, 5000) * 4
    full = torch.log_softmax(logits, -1)
    record = LogitColumns([17, 4999, 3, 17], normalize_after=[42])
    record.record(logits)  # no previous tokens known: every row's log-sum-exp
    record.record(logits.flip(0), previous=torch.tensor([5, 42, 6]))  # only row 1 follows a label's inner token
    assert record.steps == 2 and record._values[0].shape == (3, 3)  # the kept columns only, not the vocabulary
    assert record.logprobs(0, 1, [3, 4999]) == pytest.approx({3: full[1, 3].item(), 4999: full[1, 4999].item()})
    assert record.logprobs(1, 1, [17]) == pytest.approx({17: full[1, 17].item()})
    assert record.logprobs(0, 0, [3, 18]) is None  # a token not recorded: the caller computes it otherwise
    assert record.logprobs(1, 0, [17, 3]) is None  # no log-sum-exp there
    shifted = record.logprobs(1, 0, [17, 3], up_to_a_constant=True)  # (the root of the labels: it cancels)
    assert shifted[17] - shifted[3] == pytest.approx(full[2, 17].item() - full[2, 3].item(), abs=1e-5)
    assert record.logits(1, 2, [17, 3]).tolist() == logits[0, [17, 3]].tolist()


def test_batched_equals_one_by_one(wrapper):
    answers = ["very high 8.75", "The image is sad: negative -1", "medium 0.55", "no score at all"]
    dims = ["aesthetics", "emotional_valence", "memorability", "funniness"]
    contexts = [f"Rate image {i}, {'with a longer prompt ' * i}please." for i in range(4)]  # unequal padding
    for readout in ("greedy", "expected_digits", "expected_label"):
        batched = _answer(wrapper, answers, dims, readout, contexts)
        single = [
            _answer_single(wrapper, a, d, readout, c, i) for i, (a, d, c) in enumerate(zip(answers, dims, contexts))
        ]
        for b, s, d in zip(batched, single, dims):
            assert split_readout(b)[0] == split_readout(s)[0]
            if readout == "greedy":
                assert b == s
            else:
                assert parse_answer(b, d).score == pytest.approx(parse_answer(s, d).score, abs=1.1e-3)
                assert split_readout(b)[1]["source"] == split_readout(s)[1]["source"]


def _answer_single(model, answer, dim, readout, context, seed):
    tok = model.tokenizer
    model.readout = readout
    force_answers(model, [tok.encode(answer)])
    return model.answer_batch([context], [_images(seed + 1)[seed]], [get_dimension(dim)], {"max_new_tokens": 24})[0]


def test_unknown_readout_is_rejected(tiny_qwen_dir):
    from cogip_tasks.models.cogip_expected import CogIPExpected

    with pytest.raises(ValueError, match="readout='mean'"):
        CogIPExpected(pretrained=str(tiny_qwen_dir), readout="mean", device="cpu", device_map="cpu")


def test_manifest_registers_a_simple_model():
    import lmms_eval.models as registry

    from cogip_tasks.models import cogip_expected_manifest

    manifest = cogip_expected_manifest()
    assert manifest.model_id == "cogip_expected" and manifest.chat_class_path is None
    assert "cogip_expected" in registry.list_available_models()  # through the installed entry point
    assert registry.get_model("cogip_expected").__name__ == "CogIPExpected"


# -- the real lmms-eval CLI --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_lmms_eval_cli_runs_cogip_expected(tiny_qwen_dir, sample_dataset_dir, tmp_path):
    """``lmms-eval --model cogip_expected`` through the entry point alone (no LMMS_EVAL_PLUGINS)."""
    from cogip_tasks.__main__ import TASKS_PATH
    from cogip_tasks.results import latest_results_file, read_samples, samples_file

    out = tmp_path / "out"
    cmd = lmms_eval_command(tiny_qwen_dir, "cogip", out, "--include_path", str(TASKS_PATH), model="cogip_expected")
    cmd[cmd.index("--model_args") + 1] += ",readout=expected_digits,dtype=float32"
    run_cli(cmd, offline_env(COGIP_DATASET=str(sample_dataset_dir)), tmp_path)

    results = load_results(out)
    for dim in DIMENSIONS.values():
        # A random model rarely writes a number: expected_digits falls back to the labels, so every answer parses.
        assert results["results"][dim.task_name]["parse_rate,none"] == 1.0
        samples = read_samples(samples_file(latest_results_file(out), dim.task_name))
        assert len(samples) == 5
        for s in samples:
            answer = s["filtered_resps"]  # the sample log keeps the whole answer: greedy text + readout line
            answer = answer[0] if isinstance(answer, list) else answer
            _, line = split_readout(answer)
            assert line is not None and line["source"] in ("digits", "label"), answer
            assert s["srcc"]["pred"] == line["score"] and dim.in_range(line["score"])


def test_digits_that_leave_the_range_get_no_weight():
    from cogip_tasks.readout import in_range_digit_probs

    uniform = [[0.1] * 10] * 4
    mem = in_range_digit_probs("0.734", uniform, 1.0, "memorability")
    assert mem[0] == [0.1] + [0.0] * 9  # 1.734 and up leave [0, 1]
    assert mem[1:] == uniform[1:]  # after the point every digit stays in range
    assert in_range_digit_probs("1.000", uniform, 1.0, "memorability")[0] == [0.1, 0.1] + [0.0] * 8
    val = in_range_digit_probs("3.000", uniform, -1.0, "emotional_valence")  # "-3.000"
    assert val[0] == [0.1] * 4 + [0.0] * 6 and val[1] == [0.1] + [0.0] * 9  # -3.1 is out of range
    aes = in_range_digit_probs("7.25", uniform[:3], 1.0, "aesthetics")
    assert aes == uniform[:3]  # every digit keeps 0-10
    # no in-range mass at a position: the greedy digit as written
    assert in_range_digit_probs("0.5", [[0.0] * 9 + [1.0], [0.1] * 10], 1.0, "memorability")[0] == [1.0] + [0.0] * 9
