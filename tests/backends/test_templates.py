"""Prompt templates: the paper's qwen-boxed wording, chat templates, custom templates."""

from __future__ import annotations

import pytest

from rlbound.backends import templates
from rlbound.errors import InputError

QWEN_BOXED = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\nWhat is $1+1$?\nPlease reason step by step, and put your final answer "
              "within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n")


def test_raw_is_the_problem():
    assert templates.render("raw", "What is $1+1$?") == "What is $1+1$?"


def test_boxed_is_qwen_boxed_verbatim():
    assert templates.render("boxed", "What is $1+1$?") == QWEN_BOXED


def test_boxed_plain():
    assert templates.render("boxed-plain", "x?") == (
        "x?\nPlease reason step by step, and put your final answer within \\boxed{}.")


def test_custom_template_keeps_other_braces():
    t = "Q: {problem}\nA: \\boxed{}"
    assert templates.render(t, "2+2") == "Q: 2+2\nA: \\boxed{}"
    assert templates.describe(t) == {"name": "custom", "text": t}


def test_problem_text_with_braces_is_inserted_literally():
    assert templates.render("raw", "f({problem}) = {x}") == "f({problem}) = {x}"


def test_unknown_template_is_an_input_error():
    with pytest.raises(InputError) as e:
        templates.render("qwen", "x")
    assert e.value.field == "template" and "boxed" in str(e.value)


class _ChatTok:
    chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is True
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"


def test_chat_uses_the_tokenizer():
    assert templates.render("chat", "2+2", _ChatTok()) == "<user>2+2<assistant>"
    d = templates.describe("chat", _ChatTok())
    assert d["name"] == "chat" and d["text"] == "<user>{problem}<assistant>"
    assert d["chat_template"] == _ChatTok.chat_template


def test_chat_with_a_real_tokenizer_template():
    tr = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    tk = tokenizers.Tokenizer(tokenizers.models.WordLevel({"<unk>": 0}, unk_token="<unk>"))
    tok = tr.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>")
    tok.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}" \
                        "{% if add_generation_prompt %}[assistant] {% endif %}"
    assert templates.render("chat", "2+2", tok) == "[user] 2+2\n[assistant] "


def test_chat_without_tokenizer_or_template_says_what_to_do():
    with pytest.raises(InputError) as e:
        templates.render("chat", "x")
    assert "tokenizer" in str(e.value)

    class NoTemplate:
        chat_template = None

    with pytest.raises(InputError) as e:
        templates.render("chat", "x", NoTemplate())
    assert "no chat template" in str(e.value)


def test_describe_names_and_text():
    assert templates.describe("boxed") == {"name": "boxed", "text": templates.TEMPLATES["boxed"]}
    assert templates.render(templates.describe("boxed")["text"], "What is $1+1$?") == QWEN_BOXED
    assert set(templates.names()) == {"raw", "boxed", "boxed-plain", "chat"}
