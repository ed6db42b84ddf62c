"""Prompt templates by name, recorded verbatim in every run's manifest (user pain point 4).

Yue et al. 2025 (arXiv 2504.13837, Sec. 2.2) sample zero-shot with the instruction "Please reason
step by step, and put your final answer within \\boxed{}."; their evaluation code (limit-of-RLVR,
inherited from the Qwen2.5-Math evaluation suite) wraps it in Qwen's ChatML as the ``qwen-boxed``
prompt type, for base and RL models alike. Templates here:

* ``raw``: the problem text as it is.
* ``boxed``: ``qwen-boxed`` exactly: system "You are a helpful assistant.", the problem and the
  instruction in the user turn, then an open assistant turn (ChatML text, no tokenizer needed).
* ``boxed-plain``: the problem, a newline and the instruction, no chat markup (for models without
  ChatML tokens, e.g. the sandbox models or an OpenAI chat endpoint that applies its own template).
* ``chat``: the problem as one user message through the tokenizer's own chat template.
* any other string containing ``{problem}`` is a custom template (``{problem}`` is replaced
  literally; other braces, as in ``\\boxed{}``, are left alone).
"""

from __future__ import annotations

from typing import Any

from rlbound.errors import InputError

INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
PLACEHOLDER = "{problem}"

TEMPLATES: dict[str, str] = {
    "raw": PLACEHOLDER,
    "boxed": (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n" + PLACEHOLDER + "\n" + INSTRUCTION + "<|im_end|>\n"
        "<|im_start|>assistant\n"
    ),
    "boxed-plain": PLACEHOLDER + "\n" + INSTRUCTION,
}
CHAT = "chat"


def names() -> list[str]:
    """The built-in template names."""
    return sorted([*TEMPLATES, CHAT])


def _check(template: str) -> None:
    if template not in TEMPLATES and template != CHAT and PLACEHOLDER not in template:
        raise InputError(f"unknown prompt template {template!r}; use one of {', '.join(names())} "
                         f"or a string containing {PLACEHOLDER}", field="template")


def render(template: str, problem: str, tokenizer: Any = None) -> str:
    """The prompt text for ``problem`` under ``template`` (a name or a custom ``{problem}`` string).

    ``chat`` needs the model's tokenizer (``apply_chat_template`` with a generation prompt); an
    InputError says so when there is none or it has no chat template.
    """
    _check(template)
    if template == CHAT:
        if tokenizer is None:
            raise InputError("template 'chat' needs the model's tokenizer; this backend has none (with the "
                             "openai backend use endpoint 'chat' and template 'raw' or 'boxed-plain')",
                             field="template")
        if not getattr(tokenizer, "chat_template", None):
            raise InputError("template 'chat': the tokenizer has no chat template; use 'boxed' or 'boxed-plain'",
                             field="template")
        return tokenizer.apply_chat_template([{"role": "user", "content": problem}], tokenize=False,
                                             add_generation_prompt=True)
    return TEMPLATES.get(template, template).replace(PLACEHOLDER, problem)


def describe(template: str, tokenizer: Any = None) -> dict[str, Any]:
    """Manifest entry: ``{"name", "text"}``; for ``chat``, ``text`` is the chat template rendered
    around the placeholder and ``chat_template`` the tokenizer's Jinja source."""
    _check(template)
    if template == CHAT:
        out: dict[str, Any] = {"name": CHAT, "text": None, "chat_template": None}
        if tokenizer is not None and getattr(tokenizer, "chat_template", None):
            out["text"] = render(CHAT, PLACEHOLDER, tokenizer)
            out["chat_template"] = tokenizer.chat_template
        return out
    name = template if template in TEMPLATES else "custom"
    return {"name": name, "text": TEMPLATES.get(template, template)}
