"""Synthetic task generator: determinism, disjoint splits, graph invariants, solution styles."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter

import pytest

from rlbound.errors import InputError
from rlbound.toy.tasks import (
    CONTEXTS,
    DEFAULT_CONFIG,
    ORDERS,
    PROMPT_WIDTH,
    Graph,
    TaskConfig,
    generate_graph,
    generate_split,
    prompt_text,
    prompt_width,
    read_problems_jsonl,
    render_statement,
    solution_text,
    split_of,
    split_tokens,
    step_order,
    training_examples,
    write_problems_jsonl,
)


def test_generate_split_is_deterministic_in_seed():
    a = generate_split(DEFAULT_CONFIG, "test", 40, seed=3)
    b = generate_split(DEFAULT_CONFIG, "test", 40, seed=3)
    c = generate_split(DEFAULT_CONFIG, "test", 40, seed=4)
    assert a == b
    assert [p.reference for p in a] != [p.reference for p in c]


def test_train_and_test_never_share_a_problem():
    cfg = dataclasses.replace(DEFAULT_CONFIG, train_difficulty=((1, 1.0), (2, 3.0), (5, 1.0)),
                              test_difficulty=((1, 1.0), (2, 3.0), (5, 1.0)))
    train = generate_split(cfg, "train", 1500, seed=0)
    test = generate_split(cfg, "test", 150, seed=0)
    h_train = {p.metadata["hash"] for p in train}
    h_test = {p.metadata["hash"] for p in test}
    assert len(h_train) == 1500 and len(h_test) == 150  # distinct within each split
    # the 1-operation space is tiny at p = 7 and the test side holds ~10% of it
    ones = generate_split(dataclasses.replace(cfg, test_difficulty={1: 1.0}), "test", 100, 0, allow_fewer=True)
    assert 0 < len(ones) < 30
    assert not h_train & h_test
    for p in test:
        assert split_of(Graph.from_json(p.reference), cfg) == "test"
    # the pretraining stream is drawn from the train side of the same partition
    rng = random.Random(0)
    seen_test = {Graph.from_json(p.reference).canonical() for p in test}
    for ex in training_examples(cfg, rng, 300):
        assert ex.difficulty in (1, 2, 5)
    assert seen_test  # non-empty


def test_problem_records_follow_the_contract():
    probs = generate_split(DEFAULT_CONFIG, "test", 60, seed=1)
    for p in probs:
        assert p.verifier == "synthetic"
        g = Graph.from_json(p.reference)
        assert p.metadata["difficulty"] == g.difficulty == len(g.nodes)
        assert p.metadata["split"] == "test" and p.metadata["context"] in CONTEXTS
        assert p.metadata["answer"] == ",".join(map(str, g.answer()))
        assert len(split_tokens(prompt_text(p))) == PROMPT_WIDTH
        assert prompt_text(p) == p.prompt


@pytest.mark.parametrize("d", [1, 2, 7, 12])
def test_graphs_have_d_operations_all_needed(d):
    rng = random.Random(d)
    for _ in range(50):
        g = generate_graph(DEFAULT_CONFIG, d, rng)
        g.validate()  # topological, every operation an ancestor of a target
        assert g.difficulty == d
        assert len(g.targets) == min(DEFAULT_CONFIG.max_targets, d)
        assert all(0 <= v < DEFAULT_CONFIG.modulus for v in g.values().values())
        assert Graph.from_json(g.to_json()) == g


def test_difficulty_up_to_twenty_is_supported():
    cfg = TaskConfig(max_ops=20, max_leaves=4, test_difficulty=((20, 1.0),))
    p = generate_split(cfg, "test", 3, seed=0)[0]
    assert p.metadata["difficulty"] == 20
    assert len(split_tokens(p.prompt)) == prompt_width(cfg) > PROMPT_WIDTH


def test_several_valid_step_orders_exist():
    rng = random.Random(0)
    differing = 0
    for _ in range(100):
        g = generate_graph(DEFAULT_CONFIG, 6, rng)
        orders = {tuple(step_order(g, o, rng)) for o in ORDERS}
        differing += len(orders) > 1
    assert differing > 50


def test_solution_styles():
    rng = random.Random(2)
    g = generate_graph(DEFAULT_CONFIG, 8, rng)
    one = solution_text(g, "step1", "prompt")
    two = solution_text(g, "step2", "prompt", rng)
    bare = solution_text(g, "bare")
    ans = "####" + ",".join(map(str, g.answer()))
    assert one.endswith(ans) and two.endswith(ans) and bare == ans
    assert one.count(";") == 8 and "(" not in one
    assert "(" in two and two.count(";") < 8
    assert len(split_tokens(two)) < len(split_tokens(one))


def test_pretraining_mix_follows_the_weights():
    rng = random.Random(0)
    exs = list(training_examples(DEFAULT_CONFIG, rng, 3000))
    styles = Counter(e.style for e in exs)
    orders = Counter(e.order for e in exs)
    assert abs(styles["step1"] / 3000 - 0.60) < 0.04
    assert abs(styles["bare"] / 3000 - 0.15) < 0.03
    assert abs(orders["prompt"] / 3000 - 0.80) < 0.04
    assert all(len(split_tokens(e.prompt)) == PROMPT_WIDTH for e in exs)


def test_bad_config_raises_input_error():
    with pytest.raises(InputError, match="prime"):
        TaskConfig(modulus=21)
    with pytest.raises(InputError, match="unknown entry"):
        TaskConfig(styles={"step3": 1.0})
    with pytest.raises(InputError, match="outside"):
        TaskConfig(test_difficulty={13: 1.0})
    with pytest.raises(InputError, match="split"):
        generate_split(DEFAULT_CONFIG, "dev", 1, 0)
    assert TaskConfig.from_dict(json.loads(json.dumps(DEFAULT_CONFIG.to_dict()))) == DEFAULT_CONFIG


def test_too_few_distinct_problems_is_reported():
    cfg = TaskConfig(modulus=3, max_targets=1, test_difficulty={1: 1.0})
    with pytest.raises(InputError, match="distinct"):
        generate_split(cfg, "test", 50, seed=0)


def test_jsonl_round_trip_and_no_overwrite(tmp_path):
    probs = generate_split(DEFAULT_CONFIG, "test", 5, seed=0)
    path = tmp_path / "test.jsonl"
    assert write_problems_jsonl(probs, path) == 5
    assert read_problems_jsonl(path) == probs
    with pytest.raises(InputError, match="exists"):
        write_problems_jsonl(probs[:1], path)
    assert read_problems_jsonl(path) == probs  # untouched
    write_problems_jsonl(probs[:1], path, overwrite=True)
    assert len(read_problems_jsonl(path)) == 1


def test_layout_names_and_named_leaves_variants():
    base = dataclasses.replace(DEFAULT_CONFIG, test_difficulty={6: 1.0})
    fixed = generate_split(base, "test", 5, seed=0)
    assert {len(split_tokens(p.prompt)) for p in fixed} == {prompt_width(base)}
    compact = generate_split(dataclasses.replace(base, layout="compact"), "test", 5, seed=0)
    assert all(p.prompt.endswith("_") and not p.prompt.endswith("__") for p in compact)
    assert [Graph.from_json(p.reference) for p in compact] == [Graph.from_json(p.reference) for p in fixed]
    g = Graph.from_json(fixed[0].reference)
    assert [n.name for n in g.nodes] == list("abcdef")  # ordered names
    rnd = Graph.from_json(generate_split(dataclasses.replace(base, names="random"), "test", 1, 0)[0].reference)
    assert rnd.canonical() == g.canonical()  # same draw, only the names differ
    named = Graph.from_json(generate_split(dataclasses.replace(base, inline_constants=False), "test", 1, 0)[0].reference)
    assert len(named.leaves) == 4 and all(not n.left.isdigit() and not n.right.isdigit() for n in named.nodes)
    # statements are as long as one-operation steps, so prompt-order steps line up with them
    for ctx in CONTEXTS:
        stmt = render_statement(g, ctx).split(";")[0].split(",")
        steps = solution_text(g, "step1").split(";")[:-1]
        assert [len(split_tokens(s)) for s in stmt] == [len(split_tokens(s)) for s in steps]
