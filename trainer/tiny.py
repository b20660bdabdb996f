"""The built-in tiny model: a Llama-architecture causal LM built from a config (no download) and a
character-level tokenizer built with `tokenizers`, wrapped as a `PreTrainedTokenizerFast`.

Both save and load with `save_pretrained` / `from_pretrained`, like any Hugging Face model. The
`tiny-base` weights shipped in `trainer/assets/tiny-base` were made by `curriculum build-base`
(see `curriculum.run.base_model`): a short pre-training on the built-in tasks.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from trainer.assets import TINY_BASE_DIR  # noqa: F401 -- re-exported: where the shipped weights live

SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>", "<unk>"]
CHARACTERS = [chr(i) for i in range(32, 127)] + ["\n"]  # printable ASCII and newline


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """One token per character: a BPE model with an alphabet vocabulary and no merges."""
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + CHARACTERS)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.decoder = decoders.Fuse()  # join characters without spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        model_max_length=256,
    )


def tiny_config(vocab_size: int) -> LlamaConfig:
    """4 layers, width 128, 4 heads: about 0.87M parameters, 3.5 MB in float32."""
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )


def tiny_random(seed: int = 0) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """The tiny architecture with random weights (seeded), and its tokenizer."""
    tokenizer = tiny_tokenizer()
    devnull = torch.random.fork_rng(devices=[])  # keep the caller's global RNG untouched
    with devnull:
        torch.manual_seed(seed)
        model = LlamaForCausalLM(tiny_config(len(tokenizer)))
    return model, tokenizer
