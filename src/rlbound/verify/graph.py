"""The dependency-graph problems of the synthetic task: their stored form and their arithmetic.

A problem's ``reference`` is ``Graph.to_json()``: quantities modulo a prime ``p``, each defined by one
operation ``+ - *`` on two operands (a constant or an earlier quantity), and the target quantities
asked for. The synthetic verifier (``rlbound.verify.synthetic``) grades a solution against it; the
toy world (``rlbound.toy.tasks``) generates and renders such graphs. The task follows GSM-Infinite
(Zhou et al. 2025, arXiv 2502.05252), used here for the study of Yue et al. 2025 (arXiv 2504.13837).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

OPS: tuple[str, ...] = ("+", "-", "*")
COMMUTATIVE = frozenset({"+", "*"})
GRAPH_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Node:
    """One operation: ``name = left op right (mod p)``."""

    name: str
    op: str
    left: str
    right: str


@dataclass(frozen=True)
class Graph:
    """A problem's dependency graph.

    Attributes:
        modulus: the prime p.
        leaves: given quantities ``(name, value)`` in prompt order.
        nodes: operations in prompt order, which is a topological order.
        targets: names of the quantities asked for, in question order.
    """

    modulus: int
    leaves: tuple[tuple[str, int], ...]
    nodes: tuple[Node, ...]
    targets: tuple[str, ...]

    @property
    def difficulty(self) -> int:
        return len(self.nodes)

    def node_map(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def values(self) -> dict[str, int]:
        """Value of every quantity, leaves and operations."""
        vals = dict(self.leaves)
        for n in self.nodes:
            vals[n.name] = apply_op(n.op, operand_value(n.left, vals), operand_value(n.right, vals), self.modulus)
        return vals

    def answer(self) -> tuple[int, ...]:
        vals = self.values()
        return tuple(vals[t] for t in self.targets)

    def to_json(self) -> str:
        """Serialised form stored in ``Problem.reference`` (compact JSON)."""
        return json.dumps({
            "format": GRAPH_FORMAT_VERSION,
            "modulus": self.modulus,
            "leaves": [[n, v] for n, v in self.leaves],
            "nodes": [[n.name, n.op, n.left, n.right] for n in self.nodes],
            "targets": list(self.targets),
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Graph:
        """Parse and validate ``to_json`` output; ``ValueError`` says what is wrong."""
        try:
            d = json.loads(text)
            if d.get("format") != GRAPH_FORMAT_VERSION:
                raise ValueError(f"unsupported graph format {d.get('format')!r}")
            g = cls(modulus=int(d["modulus"]), leaves=tuple((str(n), int(v)) for n, v in d["leaves"]),
                    nodes=tuple(Node(str(a), str(o), str(lhs), str(r)) for a, o, lhs, r in d["nodes"]),
                    targets=tuple(str(t) for t in d["targets"]))
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"malformed graph JSON: {e}") from None
        g.validate()
        return g

    def validate(self) -> None:
        """Check the invariants (names unique, topological order, values in range, all used)."""
        seen: set[str] = set()
        for n, v in self.leaves:
            if n in seen or not 0 <= v < self.modulus:
                raise ValueError(f"bad leaf {n}={v}")
            seen.add(n)
        def ok(x: str) -> bool:
            return x in seen or (x.isdigit() and str(int(x)) == x and int(x) < self.modulus)

        for n in self.nodes:
            if n.name in seen or n.name.isdigit() or n.op not in OPS or not ok(n.left) or not ok(n.right):
                raise ValueError(f"bad node {n.name}={n.left}{n.op}{n.right} (unknown operand or out of order)")
            seen.add(n.name)
        if not self.targets or any(t not in self.node_map() for t in self.targets):
            raise ValueError("targets must name operations")
        if set(_ancestor_ops(self)) != {n.name for n in self.nodes}:
            raise ValueError("every operation must be needed by some target")

    def canonical(self) -> str:
        """Name- and surface-free form: each target's expression with leaf values substituted and
        the operands of + and * sorted. Two problems with the same canonical form ask the same
        computation."""
        vals, nmap = dict(self.leaves), self.node_map()

        def expr(name: str) -> str:
            if name.isdigit():
                return name
            if name in vals and name not in nmap:
                return str(vals[name])
            n = nmap[name]
            a, b = expr(n.left), expr(n.right)
            if n.op in COMMUTATIVE and b < a:
                a, b = b, a
            return f"({a}{n.op}{b})"

        return f"p{self.modulus}:" + ",".join(expr(t) for t in self.targets)

    def canonical_hash(self) -> str:
        """sha256 hex digest of ``canonical()``."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()


def operand_value(x: str, vals: Mapping[str, int]) -> int:
    """Value of an operand: a constant written as digits, or a named quantity."""
    return int(x) if x.isdigit() else vals[x]


def apply_op(op: str, x: int, y: int, p: int) -> int:
    """``x op y mod p`` for op in ``OPS``."""
    if op == "+":
        return (x + y) % p
    if op == "-":
        return (x - y) % p
    if op == "*":
        return (x * y) % p
    raise ValueError(f"unknown operation {op!r}")


def _ancestor_ops(g: Graph) -> list[str]:
    nmap, out, stack = g.node_map(), set(), list(g.targets)
    while stack:
        x = stack.pop()
        if x in nmap and x not in out:
            out.add(x)
            stack += [nmap[x].left, nmap[x].right]
    return sorted(out)
