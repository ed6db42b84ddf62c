"""Sandbox tokenizer: exact round trip, fixed prompt width, loadable by AutoTokenizer."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("transformers")

from transformers import AutoTokenizer  # noqa: E402

from rlbound.toy.tasks import (  # noqa: E402
    DEFAULT_CONFIG,
    ORDERS,
    PROMPT_WIDTH,
    STYLES,
    Graph,
    generate_split,
    solution_text,
    split_tokens,
)
from rlbound.toy.tokenizer import SPECIAL_TOKENS, build_tokenizer, save_tokenizer, vocabulary  # noqa: E402

PROBLEMS = generate_split(DEFAULT_CONFIG, "test", 60, seed=5)


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(DEFAULT_CONFIG)


def texts():
    rng = random.Random(0)
    for p in PROBLEMS:
        g = Graph.from_json(p.reference)
        yield p.prompt
        for s in STYLES:
            yield solution_text(g, s, rng.choice(ORDERS), rng)


def test_vocabulary_is_small_and_unique():
    v = vocabulary(DEFAULT_CONFIG)
    assert len(v) == len(set(v)) < 100
    assert v[:4] == list(SPECIAL_TOKENS)


def test_round_trip_is_exact_and_matches_the_python_split(tok):
    for t in texts():
        ids = tok(t)["input_ids"]
        assert tok.unk_token_id not in ids
        assert tok.convert_ids_to_tokens(ids) == split_tokens(t)
        assert tok.decode(ids) == t


def test_prompts_have_the_fixed_width_and_no_special_tokens_are_added(tok):
    for p in PROBLEMS:
        ids = tok(p.prompt)["input_ids"]
        assert len(ids) == PROMPT_WIDTH
        assert ids == tok(p.prompt, add_special_tokens=False)["input_ids"]


def test_special_tokens(tok):
    ids = {tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id}
    assert None not in ids and len(ids) == 4
    full = tok("c=a+b=1;####1<eos>")["input_ids"]
    assert full[-1] == tok.eos_token_id
    assert tok.decode(full, skip_special_tokens=True) == "c=a+b=1;####1"
    assert tok("A!")["input_ids"] == [tok.unk_token_id] * 2


def test_saved_tokenizer_loads_with_autotokenizer(tok, tmp_path):
    save_tokenizer(tok, tmp_path)
    assert (tmp_path / "tokenizer.json").exists()
    auto = AutoTokenizer.from_pretrained(str(tmp_path))
    for t in list(texts())[:40]:
        assert auto(t)["input_ids"] == tok(t)["input_ids"]
        assert auto.decode(auto(t)["input_ids"]) == t
    assert (auto.bos_token, auto.eos_token, auto.pad_token) == ("<bos>", "<eos>", "<pad>")


def test_token_pattern_is_the_same_in_every_process():
    """tokenizer.json is shipped with the checkpoints: its split regex must not follow set order."""
    import subprocess
    import sys

    code = "from rlbound.toy.tasks import _token_pattern; print(_token_pattern())"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(seed)}).stdout for seed in range(6)}
    assert len(outs) == 1
