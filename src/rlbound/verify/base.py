"""The verifier protocol and the registry of verifiers by name.

A verifier turns (problem, response) into a ``Verdict`` (rlbound.types). Verifiers are registered by
name with the dotted path of their class, so ``import rlbound.verify`` stays light and a verifier's
heavy dependencies (math-verify, a code sandbox) load only when it is asked for.

Every verifier has a ``version`` string that goes into each Verdict it writes (pain point 4).
"""

from __future__ import annotations

import importlib
from typing import Protocol, runtime_checkable

from rlbound.types import Problem, Verdict


@runtime_checkable
class Verifier(Protocol):
    """Grades one response to one problem.

    ``verify`` must be a pure function of (problem, response) and safe to call from a worker
    process; wall-clock limits are enforced from outside by the runner, never inside by SIGALRM.

    Optional methods the runner (``rlbound.verify.runner``) uses when a verifier has them:
    ``cache_key(problem, response)`` (equal keys get one verification), ``quick_verify(problem,
    response) -> Verdict | None`` (cheap, bounded checks run in the runner's own process, the same
    verdict ``verify`` would give or None), ``warmup()`` (one-off start-up before a worker's first
    item) and ``preload_modules`` (imported once by the forkserver).
    """

    name: str
    version: str

    def verify(self, problem: Problem, response: str) -> Verdict: ...


# name -> "module:Class". The class is instantiated with no arguments for the default policy.
_REGISTRY: dict[str, str] = {
    "math": "rlbound.verify.math:MathVerifier",
    "humaneval": "rlbound.verify.code:HumanEvalVerifier",
    "stdio": "rlbound.verify.code:StdioVerifier",
    "synthetic": "rlbound.verify.synthetic:SyntheticVerifier",
}


def register(name: str, target: str) -> None:
    """Register a verifier class under ``name``; ``target`` is ``"package.module:ClassName"``."""
    if ":" not in target:
        raise ValueError(f"target must look like 'package.module:ClassName', got {target!r}")
    _REGISTRY[name] = target


def available() -> list[str]:
    """Names of all registered verifiers."""
    return sorted(_REGISTRY)


def target(name: str) -> str:
    """The ``"module:Class"`` registered as ``name`` (worker processes re-register from it)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown verifier {name!r}; known: {', '.join(available())}") from None


def get_verifier(name: str) -> Verifier:
    """Instantiate the verifier registered as ``name`` with its default options."""
    module_name, cls_name = target(name).split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls()
