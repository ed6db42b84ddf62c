"""The verification runner: hard wall-clock limits from outside, kill-and-replace, dedupe."""

from __future__ import annotations

import logging
import sys
import textwrap
import threading
import time

import pytest

from rlbound.errors import InputError
from rlbound.types import Problem, Status, Verdict
from rlbound.verify import base
from rlbound.verify.runner import summarize, verify_items

# A test-only verifier, importable by worker processes (the runner passes sys.path on).
_TOY_SOURCE = '''
import os
import time

from rlbound.types import Status, Verdict

CALLS = []


class ToyVerifier:
    """"sleep" hangs forever, "crash" kills its process, "raise" raises; else exact match."""

    name = "toy"
    version = "toy-1"

    def verify(self, problem, response):
        CALLS.append(response)
        if response.startswith("sleep"):
            while True:
                time.sleep(1)
        if response == "crash":
            os._exit(3)
        if response == "raise":
            raise ValueError("boom")
        ok = response == problem.reference
        return Verdict(correct=ok, status=Status.CORRECT if ok else Status.WRONG, extracted=response,
                       verifier=self.name, verifier_version=self.version)


class KeyedToyVerifier(ToyVerifier):
    """Same, with a cache key: responses equal up to case are one answer."""

    name = "toy_keyed"

    def cache_key(self, problem, response):
        return (problem.reference, response.lower())

    def verify(self, problem, response):
        return super().verify(problem, response.lower())


class QuickToyVerifier(ToyVerifier):
    """Decides "yes" without a worker; "raise" also raises in quick_verify (a worker must take it)."""

    name = "toy_quick"

    def quick_verify(self, problem, response):
        if response == "raise":
            raise RuntimeError("quick path broke")
        if response == "yes":
            return Verdict(correct=True, status=Status.CORRECT, extracted=response, detail="quick",
                           verifier=self.name, verifier_version=self.version)
        return None
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toyverifier")
    (root / "rlbound_toy_verifier.py").write_text(textwrap.dedent(_TOY_SOURCE))
    sys.path.insert(0, str(root))
    base.register("toy", "rlbound_toy_verifier:ToyVerifier")
    base.register("toy_keyed", "rlbound_toy_verifier:KeyedToyVerifier")
    base.register("toy_quick", "rlbound_toy_verifier:QuickToyVerifier")
    import rlbound_toy_verifier

    yield rlbound_toy_verifier
    base._REGISTRY.pop("toy", None)
    base._REGISTRY.pop("toy_keyed", None)
    base._REGISTRY.pop("toy_quick", None)
    sys.path.remove(str(root))


P = Problem(id="p", prompt="?", reference="yes", verifier="toy")


def _run(name, responses, **kw):
    items = [(i, P, r) for i, r in enumerate(responses)]
    kw.setdefault("progress", False)
    out = dict(verify_items(name, items, **kw))
    assert sorted(out) == list(range(len(responses))), "every item gets exactly one verdict"
    return [out[i] for i in range(len(responses))]


def test_stuck_worker_is_killed_and_later_items_still_graded(toy):
    # One worker: the stuck item blocks it, so the items after it are graded only if the
    # runner kills the stuck worker and starts a replacement.
    t0 = time.monotonic()
    verdicts = _run("toy", ["yes", "sleep", "no", "yes", "sleep again", "yes"], workers=1, timeout_s=1.0)
    elapsed = time.monotonic() - t0
    assert [v.status for v in verdicts] == [
        Status.CORRECT, Status.TIMEOUT, Status.WRONG, Status.CORRECT, Status.TIMEOUT, Status.CORRECT,
    ]
    stuck = verdicts[1]
    assert stuck.correct is False
    assert stuck.detail == "exceeded 1.0 s wall-clock"
    assert stuck.verifier == "toy" and stuck.verifier_version == "toy-1"
    assert elapsed < 60, "a hung grader must cost about its limit, not hang the run"


def test_timeout_detail_names_the_limit(toy):
    [v] = _run("toy", ["sleep"], workers=1, timeout_s=0.5)
    assert v.status is Status.TIMEOUT and v.detail == "exceeded 0.5 s wall-clock"


def test_crash_and_exception_become_error_verdicts(toy):
    verdicts = _run("toy", ["crash", "raise", "yes"], workers=1, timeout_s=5.0)
    assert verdicts[0].status is Status.ERROR and verdicts[0].detail == "worker process died (exit code 3)"
    assert verdicts[1].status is Status.ERROR and verdicts[1].detail == "ValueError: boom"
    assert verdicts[2].status is Status.CORRECT


def test_in_process_mode_and_dedupe_by_cache_key(toy):
    toy.CALLS.clear()
    verdicts = _run("toy_keyed", ["YES", "yes", "Yes", "no", "NO", "raise"], workers=0)
    assert [v.status for v in verdicts] == [Status.CORRECT] * 3 + [Status.WRONG] * 2 + [Status.ERROR]
    assert sorted(toy.CALLS) == ["no", "raise", "yes"], "equal keys are verified once"


def test_dedupe_in_pool_reports_reuse(toy, caplog):
    with caplog.at_level(logging.INFO, logger="rlbound.verify.runner"):
        verdicts = _run("toy_keyed", ["YES", "yes", "no", "Yes", "NO"] * 4, workers=2, timeout_s=5.0)
    assert [v.correct for v in verdicts[:5]] == [True, True, False, True, False]
    summary = [r.getMessage() for r in caplog.records if "reused by cache key" in r.getMessage()]
    assert summary and "(2 verified, 18 reused by cache key)" in summary[-1]
    assert "correct=12, wrong=8, no_answer=0, timeout=0, error=0" in summary[-1]


def test_duplicate_of_a_stuck_item_shares_its_timeout(toy):
    verdicts = _run("toy_keyed", ["sleep", "yes", "SLEEP"], workers=1, timeout_s=0.5)
    assert [v.status for v in verdicts] == [Status.TIMEOUT, Status.CORRECT, Status.TIMEOUT]


def test_runs_from_a_non_main_thread(toy):
    result: dict[str, object] = {}

    def work():
        try:
            result["v"] = _run("toy", ["yes", "sleep", "no"], workers=1, timeout_s=0.5)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            result["exc"] = exc

    t = threading.Thread(target=work)
    t.start()
    t.join(timeout=120)
    assert not t.is_alive()
    if "exc" in result:
        raise result["exc"]  # type: ignore[misc]
    assert [v.status for v in result["v"]] == [Status.CORRECT, Status.TIMEOUT, Status.WRONG]


def test_closing_the_generator_early_stops_the_pool(toy):
    gen = verify_items("toy", [(0, P, "yes"), (1, P, "sleep"), (2, P, "yes")], workers=2, timeout_s=30, progress=False)
    key, verdict = next(gen)
    assert verdict.status is Status.CORRECT
    t0 = time.monotonic()
    gen.close()  # must not wait for the 30 s limit of the stuck item
    assert time.monotonic() - t0 < 20


def test_generator_input_is_consumed_lazily(toy):
    pulled = []

    def items():
        for i in range(200):
            pulled.append(i)
            yield i, P, "yes"

    gen = verify_items("toy", items(), workers=1, timeout_s=5, progress=False)
    next(gen)
    assert len(pulled) < 200, "items are read as work is needed, not all up front"
    assert sum(1 for _ in gen) == 199


def test_bad_arguments_raise_input_error(toy):
    with pytest.raises(InputError, match="unknown verifier"):
        verify_items("no-such-verifier", [])
    with pytest.raises(InputError, match="timeout_s"):
        verify_items("toy", [], timeout_s=0)
    with pytest.raises(InputError, match="workers"):
        verify_items("toy", [], workers=-1)


def test_quick_verdicts_are_decided_in_the_parent_and_the_rest_by_workers(toy, monkeypatch):
    from rlbound.verify import runner

    def no_pool(*a, **k):
        raise AssertionError("a job decided entirely by quick_verify must start no worker")

    monkeypatch.setattr(runner, "_Pool", no_pool)
    out = _run("toy_quick", ["yes"] * 5, workers=2)
    assert all(v.status is Status.CORRECT and v.detail == "quick" for v in out)
    monkeypatch.undo()
    # None and a raising quick_verify both fall through to a worker, which grades as usual
    out = _run("toy_quick", ["yes", "no", "raise"], workers=1)
    assert [v.status for v in out] == [Status.CORRECT, Status.WRONG, Status.ERROR]
    assert out[0].detail == "quick" and "boom" in out[2].detail


def test_integer_math_answers_start_no_worker(monkeypatch):
    from rlbound.verify import runner

    def no_pool(*a, **k):
        raise AssertionError("integer answers need no SymPy worker")

    monkeypatch.setattr(runner, "_Pool", no_pool)
    prob = Problem(id="a", prompt="?", reference="27.0")  # AMC-style float reference is not an integer...
    prob_int = Problem(id="b", prompt="?", reference="1{,}000")
    items = [
        (0, prob_int, "so \\boxed{1000}"), (1, prob_int, "\\boxed{1,000}"), (2, prob_int, "\\boxed{999}"),
        (3, prob_int, "no answer here"),
    ]
    out = dict(verify_items("math", items, workers=2, progress=False))
    assert [out[i].status for i in range(4)] == [Status.CORRECT, Status.CORRECT, Status.WRONG, Status.NO_ANSWER]
    monkeypatch.undo()
    # ...so it goes to a worker, and still gets the right verdict
    out = dict(verify_items("math", [(0, prob, "\\boxed{27}")], workers=1, progress=False))
    assert out[0].status is Status.CORRECT


def test_summarize_counts_timeouts_apart():
    def v(status):
        return Verdict(correct=status == "correct", status=status)

    counts = summarize([v("correct"), v("wrong"), v("timeout"), v("timeout"), v("error"), v("no_answer")])
    assert counts == {"total": 6, "correct": 1, "wrong": 1, "no_answer": 1, "timeout": 2, "error": 1}


# ----------------------------------------------------------------- the real math verifier


def test_adversarial_math_answers_time_out_and_do_not_block_others():
    nested = "x"
    while len(nested) < 20000:
        nested = "\\frac{1}{1+" + nested + "}"
    prob = Problem(id="m", prompt="?", reference="1")
    items = [
        ("tower", prob, "So the answer is $\\boxed{9^{9^{9^{9}}}}$."),
        ("long", prob, "Thus \\boxed{" + nested + "}"),
        ("ok", prob, "The answer is \\boxed{1}."),
        ("bad", prob, "The answer is \\boxed{2}."),
        ("none", prob, "I give up."),
    ]
    t0 = time.monotonic()
    out = dict(verify_items("math", items, workers=2, timeout_s=1.5, progress=False))
    assert time.monotonic() - t0 < 90
    assert out["tower"].status is Status.TIMEOUT and out["tower"].detail == "exceeded 1.5 s wall-clock"
    assert out["long"].status is Status.TIMEOUT
    assert out["ok"].status is Status.CORRECT
    assert out["bad"].status is Status.WRONG
    assert out["none"].status is Status.NO_ANSWER
    counts = summarize(out.values())
    assert counts["timeout"] == 2 and counts["wrong"] == 1
