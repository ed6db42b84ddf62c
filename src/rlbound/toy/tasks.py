"""Synthetic, step-checkable reasoning problems: dependency graphs of quantities modulo a prime.

The task follows GSM-Infinite (Zhou et al. 2025, "GSM-Infinite: How Do Your LLMs Behave over
Infinitely Increasing Context Length and Reasoning Complexity?", arXiv 2502.05252): a problem is a
graph of quantities, each defined by one operation ``+ - *`` (mod a small prime ``p``, so every
value is one token) on two operands, a constant or an earlier quantity; its difficulty is the
number of operations. The question asks for one or more *target* quantities; every operation is
needed by some target. It exists so that the study of Yue et al. 2025 (arXiv 2504.13837) can run
end to end on a small CPU: a solution is a list of steps checked one by one, which makes
CoT-pass@k (Wen et al. 2025) exact. (``inline_constants=False`` instead gives named given
quantities ``a=3`` shared between operations.)

Grammar (every symbol below is one token; no whitespace)::

    prompt     := statement ("," statement)* ";" question "_"+    (filled to the fixed width)
    statement  := NAME "=" atom OP atom "=?"                         (context "eq"; see CONTEXTS)
    completion := step* "####" VALUE ("," VALUE)*
    step       := NAME "=" operand OP operand "=" VALUE ";"
    operand    := atom | "(" atom OP atom ")"                        (at most one "(...)" per step)
    atom       := NAME | VALUE

A one-operation step ``c=a+4=2;`` computes one quantity; a two-operation step ``d=(a+4)*b=6;``
computes a quantity together with one of its operands, whose value is not written. Contexts change
the statement's surface form, never the solution grammar; every context renders a statement in
the same number of tokens as its step, and prompts are left-aligned and filled with ``_`` to one
fixed width per config (``prompt_width``; ``PROMPT_WIDTH`` for the default config), so in
prompt-order solutions step k sits at a constant distance from statement k. Why (measured, see
docs/LOG.md "sandbox"): early on, a 0.65M-parameter RoPE model copied statements into steps within
~500 steps with this alignment and had not learned it after 2,400 steps without it (that run also
had shorter statements than steps and random names); names are a, b, c, ... in statement order for
the same reason. ``layout="compact"`` drops the filler; with statements as long as steps and
ordered names it trains 1.3x fewer tokens per step and reached higher accuracy at 2-3 operations
(LOG 2026-12-03), so the presets use it.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlbound.errors import InputError
from rlbound.types import Problem
from rlbound.verify.graph import COMMUTATIVE, OPS, Graph, Node, operand_value

NAMES = "abcdefghijklmnopqrstuvwxyz"
FILLER = "_"
ANSWER_MARK = "####"
PROMPT_END = FILLER  # one "_" ends every prompt
STYLES: tuple[str, ...] = ("step1", "step2", "bare")
ORDERS: tuple[str, ...] = ("prompt", "dfs", "random")
SPLITS: tuple[str, ...] = ("train", "test")

# Surface templates. {n}: name, {v}: value, {l}/{r}: operand names, {o}: operator, {t}: targets.
_WORD_OPS = {"+": " plus ", "-": " minus ", "*": " times "}
CONTEXTS: dict[str, dict[str, str]] = {
    "eq": {"leaf": "{n}={v}", "node": "{n}={l}{o}{r}=?", "question": "?{t}"},
    "rev": {"leaf": "{v}>{n}", "node": "{l}{o}{r}>{n}=?", "question": "{t}?"},
    "word": {"leaf": "{n} is {v}", "node": "{n} is {l}{w}{r}=?", "question": "find {t}"},
}
WORD_TOKENS: tuple[str, ...] = (" is ", " plus ", " minus ", " times ", "find ")
SYMBOL_TOKENS: tuple[str, ...] = (ANSWER_MARK, "=", "+", "-", "*", "(", ")", ",", ";", "?", ">", FILLER)


# --------------------------------------------------------------------------------------------------
# Configuration


def _weights(x: Mapping[Any, float] | Sequence[tuple[Any, float]], what: str, allowed: Iterable[Any] | None = None
             ) -> tuple[tuple[Any, float], ...]:
    items = tuple(x.items()) if isinstance(x, Mapping) else tuple((k, w) for k, w in x)
    if not items:
        raise InputError(f"{what}: empty mixture", field=what)
    allowed_set = set(allowed) if allowed is not None else None
    for k, w in items:
        if allowed_set is not None and k not in allowed_set:
            raise InputError(f"{what}: unknown entry {k!r}; known: {sorted(allowed_set)}", field=what)
        if not isinstance(w, (int, float)) or w < 0:
            raise InputError(f"{what}: weight of {k!r} must be a number >= 0, got {w!r}", field=what)
    if sum(w for _, w in items) <= 0:
        raise InputError(f"{what}: weights sum to zero", field=what)
    return tuple((k, float(w)) for k, w in items)


@dataclass(frozen=True)
class TaskConfig:
    """Everything that defines the problem distribution and the pretraining data mix.

    Attributes:
        modulus: prime ``p``; all values lie in 0..p-1 and each is one token. Small on purpose:
            a 0.65M-parameter model learns the 3*p*p-entry table for p = 7 in minutes, not for
            p = 23 (docs/LOG.md); a wrong chain then hits one answer by chance ~1/p of the time.
        max_ops: largest difficulty (number of operations) the prompt width is sized for.
        max_leaves / min_leaves: how many named given quantities a problem has (only with
            ``inline_constants=False``; unused ones are distractors).
        max_targets: most quantities asked for; a problem with ``d`` operations asks for
            ``min(max_targets, d)``. More targets shrink the chance of a lucky guess: a response
            whose reasoning is wrong hits all ``t`` answers by chance with probability ~``p**-t``.
        contexts: mixture weights of the surface templates (``CONTEXTS``).
        train_difficulty / test_difficulty: mixture weights over the number of operations.
        styles: solution-style mixture of the pretraining data (``step1`` one operation per
            step, ``step2`` two operations per step where possible, ``bare`` answer only).
        orders: step-order mixture of the pretraining data (``prompt`` the order the statements
            appear in, ``dfs`` depth-first per target, ``random`` a uniformly random valid order).
        test_fraction: share of the canonical-problem space reserved for the test split
            (by canonical hash), so train and test never share a problem whatever the seeds.
        names: ``ordered`` names the quantities a, b, c, ... in statement order (so the
            statement order is the alphabetical one); ``random`` draws distinct random letters.
        layout: ``fixed`` fills every prompt with ``_`` to ``prompt_width``; ``compact`` does not.
        inline_constants: operands that are not operations are constants written in place
            (``b=a*3``); False gives named given quantities (``a=5,...,b=a*c``).
        operand_values: steps also write their operands' values (``b=a*3=5*3=1;``).
    """

    modulus: int = 7
    max_ops: int = 12
    max_leaves: int = 4
    min_leaves: int = 4
    max_targets: int = 2
    contexts: tuple[tuple[str, float], ...] = (("eq", 0.6), ("rev", 0.2), ("word", 0.2))
    train_difficulty: tuple[tuple[int, float], ...] = tuple((d, 1.0) for d in range(1, 13))
    test_difficulty: tuple[tuple[int, float], ...] = ((2, 1.0), (4, 1.0), (6, 2.0), (8, 2.0), (10, 2.0), (12, 2.0))
    styles: tuple[tuple[str, float], ...] = (("step1", 0.60), ("step2", 0.25), ("bare", 0.15))
    orders: tuple[tuple[str, float], ...] = (("prompt", 0.80), ("dfs", 0.15), ("random", 0.05))
    test_fraction: float = 0.1
    names: str = "ordered"
    layout: str = "fixed"
    inline_constants: bool = True
    operand_values: bool = False

    def __post_init__(self) -> None:
        p = self.modulus
        if not isinstance(p, int) or p < 3 or any(p % q == 0 for q in range(2, int(p**0.5) + 1)):
            raise InputError(f"modulus must be a prime >= 3, got {p!r}", field="modulus")
        if p > 997:
            raise InputError(f"modulus must be at most 997 (one token per value), got {p}", field="modulus")
        if not 1 <= self.max_targets <= 4:
            raise InputError(f"max_targets must be in 1..4, got {self.max_targets}", field="max_targets")
        if not 2 <= self.min_leaves <= self.max_leaves <= 8:
            raise InputError(f"need 2 <= min_leaves <= max_leaves <= 8, got {self.min_leaves}, {self.max_leaves}",
                             field="max_leaves")
        if self.layout not in ("fixed", "compact"):
            raise InputError(f"layout must be 'fixed' or 'compact', got {self.layout!r}", field="layout")
        if not 1 <= self.max_ops or self.max_ops + self.max_leaves > len(NAMES):
            raise InputError(f"need 1 <= max_ops and max_ops + max_leaves <= {len(NAMES)}, got "
                             f"max_ops={self.max_ops}, max_leaves={self.max_leaves}", field="max_ops")
        if self.names not in ("ordered", "random"):
            raise InputError(f"names must be 'ordered' or 'random', got {self.names!r}", field="names")
        if not 0.0 < self.test_fraction < 1.0:
            raise InputError(f"test_fraction must be in (0, 1), got {self.test_fraction}", field="test_fraction")
        object.__setattr__(self, "contexts", _weights(self.contexts, "contexts", CONTEXTS))
        object.__setattr__(self, "styles", _weights(self.styles, "styles", STYLES))
        object.__setattr__(self, "orders", _weights(self.orders, "orders", ORDERS))
        for name in ("train_difficulty", "test_difficulty"):
            mix = tuple((int(d), w) for d, w in _weights(getattr(self, name), name))
            for d, _ in mix:
                if not 1 <= d <= self.max_ops:
                    raise InputError(f"{name}: difficulty {d} outside 1..max_ops={self.max_ops}", field=name)
            object.__setattr__(self, name, mix)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (mixtures as ``{key: weight}``) for manifests."""
        d = dataclasses.asdict(self)
        for k in ("contexts", "styles", "orders", "train_difficulty", "test_difficulty"):
            d[k] = {str(a): w for a, w in getattr(self, k)}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TaskConfig:
        """Inverse of ``to_dict``; unknown keys raise ``InputError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise InputError(f"unknown task config field(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        kw = dict(d)
        for k in ("train_difficulty", "test_difficulty"):
            if k in kw and isinstance(kw[k], Mapping):
                kw[k] = tuple((int(a), w) for a, w in kw[k].items())
        return cls(**kw)


# --------------------------------------------------------------------------------------------------
# Graphs


def generate_graph(config: TaskConfig, difficulty: int, rng: random.Random) -> Graph:
    """Draw a random problem graph with ``difficulty`` operations (GSM-Infinite style, see module doc).

    Shape: ``t = min(max_targets, d)`` expression trees (one per target) whose operation counts
    sum to ``d``; each tree grows by expanding a uniformly chosen open slot. The ``d + t`` leaf
    slots are filled from ``L = min(d + t, U{2..max_leaves})`` given quantities, each used at least
    once. Rejected and redrawn when an operation has the same quantity on both sides or two
    operations have the same definition (that keeps two-operation steps unambiguous).
    Statements appear leaves first, then operations in a uniformly random topological order.
    """
    d = int(difficulty)
    if not 1 <= d <= config.max_ops:
        raise InputError(f"difficulty must be in 1..{config.max_ops}, got {difficulty}", field="difficulty")
    for _ in range(1000):
        g = _draw_graph_once(config, d, rng)
        if g is not None:
            return _rename_in_order(g) if config.names == "ordered" else g
    raise RuntimeError("could not draw a valid graph in 1000 tries")  # pragma: no cover - needs tiny max_leaves


Slot = tuple[str, int]  # ("op", k): operation k; ("leaf", j): leaf slot j


def _tree_shapes(sizes: Sequence[int], rng: random.Random) -> tuple[list[list[Slot]], list[int], int]:
    """Expression trees of ``sizes`` operations, each grown by expanding a uniformly chosen open
    slot: (children of every operation, root operation of each tree, number of leaf slots)."""
    ops_children: list[list[Slot]] = []
    roots: list[int] = []
    leaf_slots = 0
    for size in sizes:
        root = len(ops_children)
        ops_children.append([("open", 0), ("open", 0)])
        roots.append(root)
        open_slots = [(root, 0), (root, 1)]
        for _ in range(size - 1):
            parent, side = open_slots.pop(rng.randrange(len(open_slots)))
            k = len(ops_children)
            ops_children.append([("open", 0), ("open", 0)])
            ops_children[parent][side] = ("op", k)
            open_slots += [(k, 0), (k, 1)]
        for parent, side in open_slots:
            ops_children[parent][side] = ("leaf", leaf_slots)
            leaf_slots += 1
    return ops_children, roots, leaf_slots


def _unambiguous(nodes: Iterable[Node]) -> bool:
    """No operation has the same quantity on both sides, no two operations the same definition."""
    sigs = set()
    for n in nodes:
        sig = (n.op,) + ((tuple(sorted((n.left, n.right)))) if n.op in COMMUTATIVE else (n.left, n.right))
        if (n.left == n.right and not n.left.isdigit()) or sig in sigs:
            return False
        sigs.add(sig)
    return True


def _draw_graph_once(config: TaskConfig, d: int, rng: random.Random) -> Graph | None:
    """One draw of ``generate_graph`` (names not yet reordered); None when it is rejected."""
    p = config.modulus
    t = min(config.max_targets, d)
    # split d operations among t trees, each >= 1
    cuts = sorted(rng.sample(range(1, d), t - 1))
    sizes = [b - a for a, b in zip([0] + cuts, cuts + [d])]
    ops_children, roots, leaf_slots = _tree_shapes(sizes, rng)
    n_leaves = rng.randint(config.min_leaves, config.max_leaves)
    used = min(leaf_slots, n_leaves)
    fill = rng.sample(range(n_leaves), used) + [rng.randrange(n_leaves) for _ in range(leaf_slots - used)]
    rng.shuffle(fill)
    names = rng.sample(NAMES, n_leaves + d)
    leaf_names, op_names = names[:n_leaves], names[n_leaves:]

    consts = [str(rng.randrange(p)) for _ in range(leaf_slots)]

    def ref(slot: Slot) -> str:
        kind, i = slot
        if kind == "op":
            return op_names[i]
        return consts[i] if config.inline_constants else leaf_names[fill[i]]

    nodes = {op_names[k]: Node(op_names[k], rng.choice(OPS), ref(ch[0]), ref(ch[1]))
             for k, ch in enumerate(ops_children)}
    if not _unambiguous(nodes.values()):
        return None
    order = _random_topo(nodes, rng)
    leaves = [] if config.inline_constants else [(nm, rng.randrange(p)) for nm in leaf_names]
    rng.shuffle(leaves)
    return Graph(modulus=p, leaves=tuple(leaves), nodes=tuple(nodes[x] for x in order),
                 targets=tuple(op_names[r] for r in roots))


def _rename_in_order(g: Graph) -> Graph:
    """Rename quantities a, b, c, ... in statement order (leaves first)."""
    order = [n for n, _ in g.leaves] + [n.name for n in g.nodes]
    new = {old: NAMES[i] for i, old in enumerate(order)}

    def r(x: str) -> str:
        return new.get(x, x)  # constants stay

    return Graph(g.modulus, tuple((new[n], v) for n, v in g.leaves),
                 tuple(Node(new[n.name], n.op, r(n.left), r(n.right)) for n in g.nodes),
                 tuple(new[t] for t in g.targets))


def _random_topo(nodes: Mapping[str, Node], rng: random.Random) -> list[str]:
    """Uniformly chosen ready node at each step (random Kahn order)."""
    done: set[str] = set()
    order: list[str] = []
    pending = sorted(nodes)
    while pending:
        ready = [x for x in pending if all(a not in nodes or a in done for a in (nodes[x].left, nodes[x].right))]
        x = rng.choice(ready)
        pending.remove(x)
        done.add(x)
        order.append(x)
    return order


# --------------------------------------------------------------------------------------------------
# Token-level text


def split_tokens(text: str) -> list[str]:
    """Split text into sandbox tokens (the same pieces the HF tokenizer produces; unknown text
    becomes single characters). Pure Python, so prompt widths need no tokenizer."""
    return _TOKEN_RE.findall(text)


def _token_pattern() -> str:
    # longest first; ties by text, so tokenizer.json is the same bytes in every process (set order is not)
    multi = sorted(set(WORD_TOKENS) | {ANSWER_MARK}, key=lambda w: (-len(w), w))
    return "|".join(re.escape(w) for w in multi) + r"|[0-9]+|[\s\S]"


_TOKEN_RE = re.compile(_token_pattern())


def render_statement(graph: Graph, context: str, operand_values: bool = False) -> str:
    """The problem statement in a surface template, without padding. An operation statement ends
    in ``=?`` (``=?*?=?`` with ``operand_values``), so that it is as long as its solution step."""
    tpl = CONTEXTS[context]
    parts = [tpl["leaf"].format(n=n, v=v) for n, v in graph.leaves]
    parts += [tpl["node"].format(n=x.name, l=x.left, o=x.op, r=x.right, w=_WORD_OPS[x.op])
              + (f"{x.op}?=?" if operand_values else "") for x in graph.nodes]
    return ",".join(parts) + ";" + tpl["question"].format(t=",".join(graph.targets))


def prompt_width(config: TaskConfig) -> int:
    """Longest prompt under ``config``, in tokens: the longest statement any context can produce
    (``max_leaves`` leaves, ``max_ops`` operations, ``max_targets`` targets) plus ``_``."""
    n_leaves, t = (0 if config.inline_constants else config.max_leaves), min(config.max_targets, config.max_ops)
    leaves = tuple((NAMES[i], config.modulus - 1) for i in range(n_leaves))
    c = str(config.modulus - 1)
    ops = [Node(NAMES[n_leaves + i], "-", c, c) for i in range(config.max_ops)]
    g = Graph(config.modulus, leaves, tuple(ops), tuple(x.name for x in ops[-t:]))
    return max(len(split_tokens(render_statement(g, c, config.operand_values))) for c in CONTEXTS) + 1


def render_prompt(graph: Graph, context: str, width: int | None = None, operand_values: bool = False) -> str:
    """The prompt: the statement in the context's template, then ``_`` (end of prompt), filled
    with more ``_`` to exactly ``width`` tokens when ``width`` is given (fixed layout)."""
    s = render_statement(graph, context, operand_values) + PROMPT_END
    if width is None:
        return s
    n = len(split_tokens(s))
    if n > width:
        raise InputError(f"prompt has {n} tokens, the fixed width is {width}", field="prompt")
    return s + FILLER * (width - n)


DEFAULT_CONFIG = TaskConfig()
PROMPT_WIDTH = prompt_width(DEFAULT_CONFIG)


def prompt_text(problem: Problem) -> str:
    """Exactly the text the model sees before its completion: ``problem.prompt`` (the statement and
    the end-of-prompt token ``_``; no template, no special tokens)."""
    if problem.verifier != "synthetic":
        raise InputError(f"problem {problem.id!r} is not a sandbox problem (verifier={problem.verifier!r})",
                         field="verifier")
    if not problem.prompt.endswith(PROMPT_END):
        raise InputError(f"problem {problem.id!r}: sandbox prompts end with '{PROMPT_END}'", field="prompt")
    return problem.prompt


# --------------------------------------------------------------------------------------------------
# Solutions


def step_order(graph: Graph, order: str, rng: random.Random) -> list[str]:
    """Operation names in one valid computing order: ``prompt``, ``dfs`` (post-order per target,
    left operand first) or ``random`` (uniform random topological order)."""
    nmap = graph.node_map()
    if order == "prompt":
        return [n.name for n in graph.nodes]
    if order == "random":
        return _random_topo(nmap, rng)
    if order == "dfs":
        out: list[str] = []
        seen: set[str] = set()

        def visit(x: str) -> None:
            if x not in nmap or x in seen:
                return
            visit(nmap[x].left)
            visit(nmap[x].right)
            seen.add(x)
            out.append(x)

        for t in graph.targets:
            visit(t)
        return out
    raise InputError(f"unknown step order {order!r}; known: {', '.join(ORDERS)}", field="orders")


def _operand(a: str, inner: str | None, nmap: Mapping[str, Node]) -> str:
    """Operand ``a`` of a step: ``(l op r)`` when it is the step's absorbed ``inner`` operation."""
    if a == inner:
        m = nmap[a]
        return f"({m.left}{m.op}{m.right})"
    return a


def solution_text(graph: Graph, style: str, order: str = "prompt", rng: random.Random | None = None,
                  operand_values: bool = False) -> str:
    """A gold completion (without end-of-sequence token).

    ``step1``: one step per operation in ``order``. ``step2``: walking ``order``, each operation
    absorbs one not-yet-absorbed operand that is itself an operation (and absorbs nothing), written
    in parentheses; the absorbed operation gets no step of its own. ``bare``: the answer only.
    ``operand_values``: each step also writes its operands' values (``e=c*d=22*5=18;``; for a
    parenthesised operand, the value of that inner operation).
    """
    rng = rng or random.Random(0)
    vals, nmap = graph.values(), graph.node_map()
    ans = ANSWER_MARK + ",".join(str(vals[t]) for t in graph.targets)
    if style == "bare":
        return ans
    seq = step_order(graph, order, rng)
    inner_of: dict[str, str] = {}
    if style == "step2":
        used: set[str] = set()
        for x in seq:
            cands = [a for a in (nmap[x].left, nmap[x].right) if a in nmap and a not in used]
            if x not in used and cands:
                u = cands[0] if len(cands) == 1 else rng.choice(cands)
                inner_of[x] = u
                used.update((u, x))
    elif style != "step1":
        raise InputError(f"unknown solution style {style!r}; known: {', '.join(STYLES)}", field="styles")
    absorbed = set(inner_of.values())
    steps = []
    for x in seq:
        if x in absorbed:
            continue
        n, inner = nmap[x], inner_of.get(x)
        shown = (f"={operand_value(n.left, vals)}{n.op}{operand_value(n.right, vals)}"
                 if operand_values else "")
        steps.append(f"{x}={_operand(n.left, inner, nmap)}{n.op}{_operand(n.right, inner, nmap)}{shown}={vals[x]};")
    return "".join(steps) + ans


# --------------------------------------------------------------------------------------------------
# Splits and problems


def split_of(graph: Graph, config: TaskConfig) -> str:
    """``test`` when the canonical hash falls in the reserved ``test_fraction`` of hash space."""
    return "test" if int(graph.canonical_hash()[:12], 16) < config.test_fraction * 16**12 else "train"


def _pick(mix: Sequence[tuple[Any, float]], rng: random.Random) -> Any:
    return rng.choices([k for k, _ in mix], weights=[w for _, w in mix])[0]


def draw_graph(config: TaskConfig, split: str, rng: random.Random, difficulty: int | None = None) -> Graph:
    """A graph of ``split`` (rejection on the canonical-hash partition), difficulty from the split's
    mixture unless given."""
    mix = config.train_difficulty if split == "train" else config.test_difficulty
    d = difficulty if difficulty is not None else _pick(mix, rng)
    for _ in range(100_000):
        g = generate_graph(config, d, rng)
        if split_of(g, config) == split:
            return g
    raise InputError(f"could not draw a {split} problem of difficulty {d}", field="difficulty")  # pragma: no cover


def make_problem(graph: Graph, config: TaskConfig, context: str, split: str, pid: str) -> Problem:
    """Wrap a graph as an ``rlbound.types.Problem`` (verifier ``synthetic``)."""
    return Problem(
        id=pid,
        prompt=render_prompt(graph, context, prompt_width(config) if config.layout == "fixed" else None,
                             config.operand_values),
        reference=graph.to_json(),
        verifier="synthetic",
        metadata={"difficulty": graph.difficulty, "context": context, "split": split,
                  "modulus": graph.modulus, "targets": len(graph.targets),
                  "answer": ",".join(map(str, graph.answer())), "hash": graph.canonical_hash()[:16]},
    )


def generate_split(config: TaskConfig, split: str, count: int, seed: int, *, allow_fewer: bool = False
                   ) -> list[Problem]:
    """``count`` distinct problems of ``split`` ("train" or "test"), deterministic in (config, split, seed).

    Difficulties follow the split's mixture and contexts ``config.contexts``. Problems within the
    list are distinct by canonical hash, and the two splits partition the canonical-problem space
    by hash (``split_of``), so no test problem is ever a train problem, for any seeds. When the
    mixture has fewer distinct problems than ``count`` (1-operation problems with a small modulus),
    ``InputError`` unless ``allow_fewer``, which returns what was found.
    """
    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}, got {split!r}", field="split")
    if count < 0:
        raise InputError(f"count must be >= 0, got {count}", field="count")
    rng = random.Random(f"rlbound-sandbox:{split}:{seed}")
    out: list[Problem] = []
    seen: set[str] = set()
    misses = 0
    while len(out) < count:
        g = draw_graph(config, split, rng)
        h = g.canonical_hash()
        if h in seen:
            misses += 1
            if misses > 50 * count + 1000:
                if allow_fewer:
                    break
                raise InputError(f"only {len(out)} distinct {split} problems found for count={count}; "
                                 f"the difficulty mixture has too few distinct problems", field="count")
            continue
        seen.add(h)
        ctx = _pick(config.contexts, rng)
        out.append(make_problem(g, config, ctx, split, f"{split}-{seed}-{len(out):06d}"))
    return out


def write_problems_jsonl(problems: Iterable[Problem], path: str | Path, *, overwrite: bool = False) -> int:
    """Write problems as JSONL (one ``dataclasses.asdict(Problem)`` per line) atomically.

    Refuses to replace an existing file unless ``overwrite`` (nothing the user wrote is lost).
    Returns the number of rows written.
    """
    from rlbound.data.jsonl import write_jsonl_atomic

    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError("file exists; pass overwrite=True (--overwrite) to replace it", path=str(path))
    return write_jsonl_atomic(path, (dataclasses.asdict(p) for p in problems))


def read_problems_jsonl(path: str | Path) -> list[Problem]:
    """Read what ``write_problems_jsonl`` wrote; ``InputError`` names the line and field."""
    from rlbound.data.jsonl import read_jsonl

    out = []
    for line, obj in read_jsonl(path):
        out.append(Problem.from_row(obj, path=str(path), line=line))
    return out


# --------------------------------------------------------------------------------------------------
# Pretraining examples


@dataclass(frozen=True)
class Example:
    """One pretraining example: fixed-width prompt, gold completion, and what was drawn."""

    prompt: str
    completion: str
    difficulty: int
    context: str
    style: str
    order: str
    meta: dict[str, Any] = field(default_factory=dict)


def training_examples(config: TaskConfig, rng: random.Random, count: int) -> Iterator[Example]:
    """``count`` train-split examples: difficulty, context, style and order drawn from the config's
    mixtures (the pretraining data mix)."""
    width = prompt_width(config) if config.layout == "fixed" else None
    for _ in range(count):
        g = draw_graph(config, "train", rng)
        ctx, style, order = _pick(config.contexts, rng), _pick(config.styles, rng), _pick(config.orders, rng)
        yield Example(render_prompt(g, ctx, width, config.operand_values),
                      solution_text(g, style, order, rng, config.operand_values), g.difficulty, ctx, style, order)
