"""Step-by-step verifier for the sandbox's synthetic dependency-graph problems.

Grades the final answer *and* every reasoning step, so CoT-pass@k (Wen et al. 2025, "Reinforcement
Learning with Verifiable Rewards Implicitly Incentivizes Correct Reasoning in Base LLMs", arXiv
2506.14245: pass@k counting only responses whose answer and reasoning are both right) is exact for
these problems, next to the answer-only pass@k of Yue et al. 2025 (arXiv 2504.13837).

The problem's ``reference`` is the serialised graph (``rlbound.toy.tasks.Graph.to_json``); the
response follows the solution grammar of ``rlbound.toy.tasks`` (whitespace is ignored)::

    completion := step* "####" VALUE ("," VALUE)*
    step       := NAME "=" operand OP operand ["=" VALUE OP VALUE] "=" VALUE ";"
    operand    := NAME | "(" NAME OP NAME ")"                   (at most one "(...)" per step)

The optional ``VALUE OP VALUE`` shows the operands' values (for a parenthesised operand, the value
of that inner operation); when present it must repeat the operator and both values must be right.

Verdict:
  * ``answer_correct``: the values after the last ``####`` equal the targets' values, in the
    question's order (exact canonical integers in 0..p-1). ``correct`` (and pass@k) follows it.
  * ``steps_correct``: the response shows reasoning and all of it is right. Every step names an
    operation of the graph not computed before; its operator and operands match the graph (operands
    of ``+`` and ``*`` may be swapped); a named operand is a given quantity or was computed by an
    earlier step; a parenthesised operand is the definition of that operand (an operation not
    computed before, both of its operands available); the written value is right. Every operation
    of the graph is computed exactly once, and ``####`` appears once. A *bare answer* (no steps)
    has ``steps_correct=False``: it shows no reasoning, so it never counts for CoT-pass@k.
  * ``status``: ``correct`` / ``wrong``; ``no_answer`` when there is no ``####`` or what follows
    it is not a comma-separated list of integers; ``error`` when the reference is malformed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rlbound.types import Problem, Status, Verdict
from rlbound.verify.graph import Graph, apply_op, operand_value

VERSION = "synthetic-1"
_STEP_TOKEN = re.compile(r"[a-z]|[0-9]+|[-+*=()]|.", re.S)
_ANSWER = re.compile(r"[0-9]+(,[0-9]+)*")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class _Step:
    name: str
    op: str
    operands: tuple[str | tuple[str, str, str], str | tuple[str, str, str]]  # name or (left, op, right)
    value: int
    shown: tuple[int, str, int] | None = None  # operand values as written, if any


def _parse_step(text: str) -> _Step | None:
    """Parse one step (without its ';'); None when it does not follow the grammar."""
    toks = _STEP_TOKEN.findall(text)
    pos = 0

    def take() -> str | None:
        nonlocal pos
        if pos >= len(toks):
            return None
        pos += 1
        return toks[pos - 1]

    def name() -> str | None:
        t = take()
        return t if t is not None and len(t) == 1 and t.isalpha() else None

    def atom() -> str | None:  # a name or a constant (canonical digits)
        t = take()
        if t is not None and t.isdigit():
            return str(int(t))
        return t if t is not None and len(t) == 1 and t.isalpha() else None

    def operand() -> str | tuple[str, str, str] | None:
        if pos < len(toks) and toks[pos] == "(":
            take()
            a, o, b = atom(), take(), atom()
            if a is None or o not in ("+", "-", "*") or b is None or take() != ")":
                return None
            return (a, o, b)
        return atom()

    lhs = name()
    if lhs is None or take() != "=":
        return None
    x, op, y = operand(), take(), operand()
    if x is None or y is None or op not in ("+", "-", "*") or take() != "=":
        return None
    if isinstance(x, tuple) and isinstance(y, tuple):
        return None  # at most two operations per step
    v = take()
    if v is None or not v.isdigit():
        return None
    shown = None
    if pos < len(toks):
        o2, w, eq, r = take(), take(), take(), take()
        if o2 not in ("+", "-", "*") or w is None or not w.isdigit() or eq != "=" or r is None or not r.isdigit():
            return None
        shown, v = (int(v), o2, int(w)), r
    if pos != len(toks):
        return None
    return _Step(lhs, op, (x, y), int(v), shown)


class SyntheticVerifier:
    """Verifier ``synthetic``: final answer plus every step of a dependency-graph solution (module doc)."""

    name = "synthetic"
    version = VERSION

    def verify(self, problem: Problem, response: str) -> Verdict:
        """Grade ``response`` against the graph in ``problem.reference`` (module docstring for the rules)."""

        def verdict(status: Status, extracted: str | None, detail: str, ans: bool, steps: bool) -> Verdict:
            return Verdict(correct=status is Status.CORRECT, status=status, extracted=extracted, detail=detail,
                           verifier=self.name, verifier_version=self.version, answer_correct=ans,
                           steps_correct=steps)

        try:
            graph = Graph.from_json(problem.reference or "")
        except ValueError as e:
            return Verdict(correct=False, status=Status.ERROR, detail=f"bad reference: {e}", verifier=self.name,
                           verifier_version=self.version)
        text = _WS.sub("", response or "")
        if "####" not in text:
            return verdict(Status.NO_ANSWER, None, "no '####' answer marker", False, False)
        body, _, ans_text = text.rpartition("####")
        if not _ANSWER.fullmatch(ans_text):
            return verdict(Status.NO_ANSWER, ans_text[:40] or None, "answer after '####' is not a list of integers",
                           False, False)
        gold = graph.answer()
        got = tuple(int(a) for a in ans_text.split(","))
        answer_ok = got == gold
        steps_ok, why = self._check_steps(graph, body, apply_op, operand_value)
        if answer_ok:
            detail = "answer and all steps correct" if steps_ok else f"answer correct; steps: {why}"
        else:
            detail = f"answer {ans_text} != {','.join(map(str, gold))}" + ("" if steps_ok else f"; steps: {why}")
        return verdict(Status.CORRECT if answer_ok else Status.WRONG, ans_text, detail, answer_ok, steps_ok)

    @staticmethod
    def _check_steps(graph, body: str, apply_op, operand_value) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
        """(all steps right, reason of the first failure)."""
        if "####" in body:
            return False, "more than one '####'"
        if not body:
            return False, "bare answer: no steps"
        nmap, p = graph.node_map(), graph.modulus
        known: dict[str, int] = dict(graph.leaves)  # quantities available to later steps
        parts = body.split(";")
        if parts[-1] == "":
            parts.pop()
        gold = graph.values()

        def match(node, a, b) -> bool:  # type: ignore[no-untyped-def]
            return (a, b) == (node.left, node.right) or (node.op in ("+", "*") and (b, a) == (node.left, node.right))

        for i, raw in enumerate(parts, 1):
            st = _parse_step(raw)
            if st is None:
                return False, f"step {i} {raw[:30]!r} does not follow the grammar"
            node = nmap.get(st.name)
            if node is None:
                kind = "a given quantity" if st.name in known else "not in the problem"
                return False, f"step {i}: {st.name} is {kind}"
            if st.name in known:
                return False, f"step {i}: {st.name} computed twice"
            if st.op != node.op:
                return False, f"step {i}: {st.name} uses {st.op}, the problem says {node.op}"
            names: list[str] = []
            new: list[str] = []
            for opd in st.operands:
                if isinstance(opd, tuple):
                    a, o, b = opd
                    inner = next((n for n in nmap.values() if n.op == o and match(n, a, b)), None)
                    if inner is None:
                        return False, f"step {i}: ({a}{o}{b}) is not an operation of the problem"
                    if inner.name in known or inner.name in new:
                        return False, f"step {i}: ({a}{o}{b}) = {inner.name} computed twice"
                    for x in (a, b):
                        if not x.isdigit() and x not in known:
                            return False, f"step {i}: {x} used before it is computed"
                    names.append(inner.name)
                    new.append(inner.name)
                else:
                    if not opd.isdigit() and opd not in known:
                        what = "used before it is computed" if opd in nmap else "not in the problem"
                        return False, f"step {i}: {opd} {what}"
                    names.append(opd)
            if not match(node, names[0], names[1]):
                return False, (f"step {i}: {st.name} = {names[0]}{st.op}{names[1]}, the problem says "
                               f"{node.left}{node.op}{node.right}")
            for x in new:
                known[x] = gold[x]
            x0, x1 = operand_value(names[0], known), operand_value(names[1], known)
            if st.shown is not None:
                a, o, b = st.shown
                if o != st.op or (a, b) != (x0, x1):
                    return False, f"step {i}: operand values {a}{o}{b}, should be {x0}{st.op}{x1}"
            val = apply_op(node.op, x0, x1, p)
            if st.value != val:
                return False, f"step {i}: {st.name} = {st.value}, should be {val}"
            known[st.name] = val
        missing = [n.name for n in graph.nodes if n.name not in known]
        if missing:
            return False, f"operation(s) never computed: {','.join(missing)}"
        return True, ""
