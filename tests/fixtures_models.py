"""Test-only builders: tokenizers and tiny random checkpoints of the model families cogip-train supports.

Everything is built offline in seconds (no download): a byte-level BPE trained on the spot, then a small config
of the family's real model class, saved with its real processor class so lmms-eval's wrapper loads it as it
would the Hub checkpoint.
"""

from __future__ import annotations

from functools import lru_cache

#: Llama-3's pre-tokeniser: numbers are cut into tokens of one to three digits, left to right ("1234" -> "123" "4").
LLAMA3_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


@lru_cache(maxsize=2)
def llama3_like_tokenizer(special_tokens: tuple[str, ...] = ()):
    """A byte-level BPE with Llama-3's digit grouping whose vocabulary has every 1-, 2- and 3-digit string."""
    from transformers import PreTrainedTokenizerFast

    from cogip_tasks.tiny_model import bpe_tokenizer

    numbers = [f"{i:03d}" for i in range(1000)] + [f"{i:02d}" for i in range(100)]
    words = ["high 7.234 very low 0.415 medium negative -2.000 positive neutral score label image"] * 20
    tok = bpe_tokenizer(LLAMA3_SPLIT, list(special_tokens), numbers * 3 + words, vocab_size=2400)
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def build_tiny_qwen3_vl(out_dir, *, seed: int = 0):
    """A random-weight Qwen3-VL (dense) with the tiny Qwen tokenizer, loadable by lmms-eval's ``qwen3_vl``."""
    from transformers import (
        Qwen2VLImageProcessorFast,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    from cogip_tasks.tiny_model import CHAT_TEMPLATE, qwen_tokenizer, save_random_model, text_config

    out, tokenizer, ids = qwen_tokenizer(out_dir)
    config = Qwen3VLConfig(
        text_config=dict(
            **text_config(len(tokenizer)),
            head_dim=16,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [2, 3, 3],
                "mrope_interleaved": True,
            },
            tie_word_embeddings=True,
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=64,
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            num_position_embeddings=64,
            deepstack_visual_indexes=[0],
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    save_random_model(
        Qwen3VLForConditionalGeneration, config, out, seed=seed, eos=ids["<|im_end|>"], pad=ids["<|endoftext|>"]
    )
    image_processor = Qwen2VLImageProcessorFast(
        patch_size=16, merge_size=2, temporal_patch_size=2, min_pixels=32 * 32 * 4, max_pixels=32 * 32 * 16
    )
    Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    ).save_pretrained(out)
    return out


def _bpe_tokenizer(split_regex: str, special_tokens: list[str], **kwargs):
    """A byte-level BPE (tokenizers) over answer-shaped text, with the given pre-tokeniser split and specials."""
    from transformers import PreTrainedTokenizerFast

    from cogip_tasks.tiny_model import _training_corpus, bpe_tokenizer

    numbers = [f"{i:03d}" for i in range(1000)] + [f"{i:02d}" for i in range(100)]
    tok = bpe_tokenizer(split_regex, special_tokens, _training_corpus() + numbers * 3, vocab_size=2400)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


# Gemma 3's chat layout (its published template, shortened): the system turn is folded into the first user turn.
GEMMA3_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}"
    "{% set first = (messages[0]['content'] if messages[0]['content'] is string else messages[0]['content'][0]['text']) + '\n\n' %}"
    "{% set loop_messages = messages[1:] %}"
    "{% else %}{% set first = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<start_of_turn>{{ role }}\n{% if loop.first %}{{ first }}{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<start_of_image>{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}"
    "{% endfor %}{% endif %}<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def build_tiny_gemma3(out_dir, *, seed: int = 0):
    """A random-weight Gemma-3 (SigLIP tower + projector + Gemma-3 LM) loadable by lmms-eval's ``gemma3``."""
    from pathlib import Path

    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessor, Gemma3Processor

    from cogip_tasks.tiny_model import _QWEN2_SPLIT, save_random_model, text_config  # Gemma: digits one per token

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specials = [
        "<pad>",
        "<eos>",
        "<bos>",
        "<unk>",
        "<start_of_turn>",
        "<end_of_turn>",
        "<start_of_image>",
        "<end_of_image>",
        "<image_soft_token>",
    ]
    tokenizer = _bpe_tokenizer(
        _QWEN2_SPLIT,
        specials,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        },
        chat_template=GEMMA3_TEMPLATE,
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    config = Gemma3Config(
        text_config=dict(
            **text_config(len(tokenizer)),
            head_dim=16,
            sliding_window=64,
            pad_token_id=ids["<pad>"],
            bos_token_id=ids["<bos>"],
            eos_token_id=[ids["<eos>"], ids["<end_of_turn>"]],
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=56,
            patch_size=14,
        ),
        mm_tokens_per_image=4,
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
    )
    eos = [ids["<eos>"], ids["<end_of_turn>"]]
    save_random_model(Gemma3ForConditionalGeneration, config, out, seed=seed, eos=eos, pad=ids["<pad>"])
    image_processor = Gemma3ImageProcessor(size={"height": 56, "width": 56})
    Gemma3Processor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=GEMMA3_TEMPLATE, image_seq_length=4
    ).save_pretrained(out)
    return out


# Llama-3.2-Vision's chat layout (shortened): header ids around the role, <|image|> before the text, <|eot_id|>.
LLAMA_VISION_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<|image|>{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}"
    "{% endfor %}{% endif %}<|eot_id|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def build_tiny_llama_vision(out_dir, *, seed: int = 0):
    """A random-weight Llama-3.2-Vision (Mllama) whose tokenizer merges digits as Llama-3's does ("234" is one
    token), loadable by lmms-eval's ``llama_vision``."""
    from pathlib import Path

    from transformers import MllamaConfig, MllamaForConditionalGeneration, MllamaImageProcessor, MllamaProcessor

    from cogip_tasks.tiny_model import save_random_model, text_config

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specials = [
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|finetune_right_pad_id|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eot_id|>",
        "<|image|>",
    ]
    tokenizer = _bpe_tokenizer(
        LLAMA3_SPLIT,
        specials,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>",
        chat_template=LLAMA_VISION_TEMPLATE,
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    config = MllamaConfig(
        text_config=dict(
            **text_config(len(tokenizer)),
            cross_attention_layers=[1],
            pad_token_id=ids["<|finetune_right_pad_id|>"],
            bos_token_id=ids["<|begin_of_text|>"],
            eos_token_id=ids["<|eot_id|>"],
            tie_word_embeddings=False,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_global_layers=1,
            attention_heads=2,
            image_size=28,
            patch_size=14,
            max_num_tiles=2,
            vision_output_dim=64,
            intermediate_layers_indices=[0],
            supported_aspect_ratios=[[1, 1], [1, 2], [2, 1]],
        ),
        image_token_index=ids["<|image|>"],
    )
    pad = ids["<|finetune_right_pad_id|>"]
    save_random_model(MllamaForConditionalGeneration, config, out, seed=seed, eos=ids["<|eot_id|>"], pad=pad)
    image_processor = MllamaImageProcessor(size={"height": 28, "width": 28}, max_image_tiles=2)
    MllamaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=LLAMA_VISION_TEMPLATE
    ).save_pretrained(out)
    return out
