"""Demo asset: a tiny random-weight Qwen2.5-VL checkpoint, built offline in seconds.

Shipped because ``cogip-demo`` builds its model with it (the tests and benchmarks reuse it): a real Qwen2.5-VL
checkpoint directory that lmms-eval's ``qwen2_5_vl`` wrapper loads with ``from_pretrained``, with no download.
It is made from a small config and a byte-level BPE tokenizer trained on the spot, with Qwen2's pre-tokenisation
(each digit its own token, as in the real Qwen2.5 vocabulary) and Qwen's chat special tokens. Scaled up with
``text_hidden``/``text_layers``/..., it also gives random-weight models of real size for GPU timing.
"""

from __future__ import annotations

import json
from pathlib import Path

# Qwen2's pre-tokeniser split: contractions, letter runs, single digits, punctuation runs, whitespace.
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen's chat layout: a default system turn, <|im_start|>role ... <|im_end|>, one pad token per image/video.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' or 'video' in part %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in part %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _training_corpus() -> list[str]:
    from .dimensions import DIMENSIONS

    words = [
        "the image shows a quiet street with warm light and a dog",
        "You are a helpful assistant. Please return only the label and the score, nothing else.",
        "Describe the scores prediction rule, exact three decimal places (e.g., 7.234).",
    ]
    for dim in DIMENSIONS.values():
        words += [f"{label} {dim.bin_midpoint(label):.3f}" for label in dim.labels]
        words.append(f"{dim.release_name} {dim.key} score label")
    return words * 20 + [str(i) for i in range(100)]


def bpe_tokenizer(split_regex: str, special_tokens: list[str], corpus: list[str], vocab_size: int):
    """A byte-level BPE (a ``tokenizers.Tokenizer``) trained on ``corpus``, with ``split_regex`` as its
    pre-tokeniser split (how it cuts digits, above all) and ``special_tokens``."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split_regex), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    return tok


def train_tokenizer(vocab_size: int = 400):
    """A Qwen2-style byte-level BPE tokenizer (digits split one per token) as a ``Qwen2TokenizerFast``."""
    from transformers import Qwen2TokenizerFast

    return Qwen2TokenizerFast(
        tokenizer_object=bpe_tokenizer(_QWEN2_SPLIT, SPECIAL_TOKENS, _training_corpus(), vocab_size),
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        chat_template=CHAT_TEMPLATE,
    )


def qwen_tokenizer(out_dir: str | Path) -> tuple[Path, object, dict[str, int]]:
    """``out_dir`` created, the tiny Qwen tokenizer and the ids of its special tokens (Qwen2.5-VL, Qwen3-VL)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    return out, tokenizer, {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}


def text_config(
    vocab: int, *, hidden: int = 64, layers: int = 2, heads: int = 4, kv_heads: int = 2, intermediate: int = 128
) -> dict:
    """The sizes of a tiny language model, named as the families' ``text_config`` names them."""
    return dict(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=4096,
    )


def save_random_model(model_cls, config, out: Path, *, seed: int, eos, pad: int, dtype: str | None = None) -> None:
    """A random-weight ``model_cls(config)`` (seeded; cast to ``dtype`` if given), its generation stopping at
    ``eos``, saved to ``out``."""
    import torch

    torch.manual_seed(seed)
    model = model_cls(config)
    if dtype is not None:
        model = model.to(getattr(torch, dtype))
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = pad
    model.save_pretrained(out)


def build_tiny_qwen2_5_vl(
    out_dir: str | Path,
    *,
    seed: int = 0,
    text_hidden: int = 64,
    text_layers: int = 2,
    text_heads: int = 4,
    text_kv_heads: int = 2,
    text_intermediate: int = 128,
    vision_hidden: int = 32,
    vision_depth: int = 2,
    vision_heads: int = 2,
    vocab_size: int | None = None,
    dtype: str = "float32",
) -> Path:
    """Save a random-weight Qwen2.5-VL (model, tokenizer, processor) to ``out_dir`` and return the path.

    ``vocab_size`` pads the embedding beyond the trained tokenizer (e.g. 151936 for Qwen2.5's real size).
    """
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    out, tokenizer, ids = qwen_tokenizer(out_dir)
    vocab = max(vocab_size or 0, len(tokenizer))
    head_dim = text_hidden // text_heads
    sizes = dict(hidden=text_hidden, layers=text_layers, heads=text_heads, kv_heads=text_kv_heads)
    config = Qwen2_5_VLConfig(
        text_config=dict(
            **text_config(vocab, **sizes, intermediate=text_intermediate),
            rope_scaling={"type": "mrope", "mrope_section": [head_dim // 4, head_dim // 8, head_dim // 8]},
            tie_word_embeddings=True,
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(
            depth=vision_depth,
            hidden_size=vision_hidden,
            intermediate_size=vision_hidden * 2,
            num_heads=vision_heads,
            out_hidden_size=text_hidden,
            fullatt_block_indexes=[vision_depth - 1],
            window_size=112,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            in_chans=3,
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    model_cls = Qwen2_5_VLForConditionalGeneration
    save_random_model(model_cls, config, out, seed=seed, eos=ids["<|im_end|>"], pad=ids["<|endoftext|>"], dtype=dtype)

    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    (out / "cogip_tiny.json").write_text(json.dumps({"built_by": "cogip_tasks.tiny_model", "seed": seed}))
    return out
