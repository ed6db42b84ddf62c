"""rlbound's built-in sandbox: a synthetic step-checkable task, its tokenizer, tiny models.

It lets the study of Yue et al. 2025 (arXiv 2504.13837) run end to end on a small CPU: a base model
with a diverse prior, RL that raises pass@1 and narrows pass@k, a teacher whose distillation lifts
the whole curve. Importing this package does not import torch or transformers.
"""

from rlbound.toy.tasks import (
    DEFAULT_CONFIG,
    PROMPT_WIDTH,
    Graph,
    TaskConfig,
    generate_split,
    prompt_text,
    read_problems_jsonl,
    solution_text,
    write_problems_jsonl,
)

__all__ = [
    "DEFAULT_CONFIG",
    "PROMPT_WIDTH",
    "Graph",
    "TaskConfig",
    "generate_split",
    "prompt_text",
    "read_problems_jsonl",
    "solution_text",
    "write_problems_jsonl",
    "pretrain",
]


def __getattr__(name: str):  # lazy: keeps `import rlbound.toy` free of the training stack
    if name == "pretrain":
        from rlbound.toy.pretrain import pretrain
        return pretrain
    raise AttributeError(name)
