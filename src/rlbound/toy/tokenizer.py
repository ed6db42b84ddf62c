"""Word-level tokenizer for the sandbox grammar, built with Hugging Face ``tokenizers``.

Every grammar symbol is one token (values ``0..p-1``, names ``a..z``, operators, punctuation, the
``####`` answer mark, the words of the ``word`` context and the ``_`` prompt filler), so a prompt's
token count equals ``rlbound.toy.tasks.split_tokens`` on it and decoding is exact (the pieces
are concatenated without spaces). No special token is added when encoding: a training sequence is
``prompt + completion + <eos>``, which is what ``tokenizer(prompt_text(problem))`` gives HF, vLLM
and TRL alike whether or not they ask for special tokens. ``<bos>``, ``<eos>``, ``<pad>`` and
``<unk>`` are registered as special tokens; ``<pad>`` only ever pads completions on the right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlbound.toy.tasks import NAMES, SYMBOL_TOKENS, WORD_TOKENS, TaskConfig, _token_pattern

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<unk>")


def vocabulary(config: TaskConfig) -> list[str]:
    """Token strings in id order: specials, values 0..p-1, names a..z, symbols, context words."""
    return [*SPECIAL_TOKENS, *(str(v) for v in range(config.modulus)), *NAMES, *SYMBOL_TOKENS, *WORD_TOKENS]


def build_tokenizer(config: TaskConfig) -> Any:
    """A ``transformers.PreTrainedTokenizerFast`` for ``config`` (vocabulary depends on the modulus).

    Model: ``tokenizers.models.WordLevel``; pre-tokenizer: one ``Split`` on the sandbox token regex
    (``isolated``); decoder: ``Fuse`` (concatenate); no post-processor (nothing added on encode).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(vocabulary(config))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(_token_pattern()), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>", padding_side="right", clean_up_tokenization_spaces=False,
                                   model_max_length=1024)
    return fast


def save_tokenizer(tokenizer: Any, out_dir: str | Path) -> Path:
    """``save_pretrained`` into ``out_dir`` (tokenizer.json + tokenizer_config.json); returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out))
    return out
