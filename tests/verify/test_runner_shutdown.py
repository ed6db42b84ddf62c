"""The runner's helper processes end with the command: after ``rlbound grade`` and ``rlbound verify``
exit, neither a worker nor the multiprocessing forkserver or resource tracker behind the pool is left,
and neither is the sandbox fork server of a worker killed on timeout, nor its program.

The commands run under a child subreaper (PR_SET_CHILD_SUBREAPER), which inherits whatever they
orphan and does not reap it, so a helper that outlived its command, running or zombie, is seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlbound.verify.runner import stop_pool_helpers, verify_items

REAPER = r'''
import ctypes, json, os, subprocess, sys, time
assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER: orphans become our children
from rlbound.data.store import RunStore
from rlbound.types import Problem, RunManifest, Sample

tmp, answers, timeout, grace_s = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], float(sys.argv[4])
prompt, tests = 'def add(a, b):\n    """a + b"""\n', "def check(candidate):\n    assert candidate(2, 3) == 5\n"
path = os.path.join(tmp, "in.jsonl")
with open(path, "w") as f:
    for a in answers:
        f.write(json.dumps({"problem_id": "p", "entry_point": "add", "prompt": prompt, "tests": tests,
                            "response": a}) + "\n")
problem = Problem(id="p", prompt=prompt, reference=tests, verifier="humaneval", metadata={"entry_point": "add"})
store = RunStore.create(os.path.join(tmp, "run"), RunManifest(model="m", backend="import"), [problem])
store.add_samples(Sample(problem_id="p", sample_index=i, text=a) for i, a in enumerate(answers))
cli = "import sys; from rlbound.cli import main; sys.exit(main(sys.argv[1:]))"
out = {}


def ours():
    """(pid, name, state, command) of each process whose parent is this one (the commands are gone)."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:160]
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if int(rest[1]) == os.getpid():
            left.append((int(pid), comm, rest[0], cmd))
    return left


for name, args in (("grade", ["grade", path, "--verifier", "humaneval", "--workers", "2", "--timeout", timeout]),
                   ("verify", ["verify", store.path.as_posix(), "--workers", "2", "--timeout", timeout])):
    subprocess.run([sys.executable, "-c", cli, *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=240)
    end = time.monotonic() + grace_s
    left = ours()
    while left and time.monotonic() < end:  # what is still ending may take up to grace_s
        time.sleep(0.02)
        left = ours()
    out[name] = left
    end = time.monotonic() + 10
    while left and time.monotonic() < end:  # kill and reap them (and what they leave to us in turn),
        for pid, *_ in left:                # so that the next command is judged on its own
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.02)
        left = ours()
graded = [json.loads(x)["status"] for x in open(os.path.join(tmp, "in_graded.jsonl"))]
out["statuses"] = [graded, sorted(v.status.value for v in RunStore.open(store.path).verdicts().values())]
print(json.dumps(out))
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs PR_SET_CHILD_SUBREAPER and /proc")
def test_no_helper_process_outlives_grade_or_verify(tmp_path: Path) -> None:
    answers = ["    return a + b\n", "    return a - b\n", "    return b + a\n", "    raise ValueError(a)\n"]
    out = _run_under_subreaper(tmp_path, answers, timeout_s=5.0, grace_s=0.0)
    want = ["correct", "wrong", "correct", "wrong"]
    assert out["statuses"] == [want, sorted(want)]  # the commands graded, in worker processes
    assert out["grade"] == [], f"left behind by rlbound grade (pid, name, state, command): {out['grade']}"
    assert out["verify"] == [], f"left behind by rlbound verify (pid, name, state, command): {out['verify']}"


def _run_under_subreaper(tmp_path: Path, answers: list[str], timeout_s: float, grace_s: float) -> dict:
    """``REAPER`` on one HumanEval problem (add) with ``answers`` as its samples: what each command
    left (after ``grace_s``) and the statuses ``[grade's in input order, verify's sorted]``."""
    res = subprocess.run([sys.executable, "-c", REAPER, str(tmp_path), json.dumps(answers), str(timeout_s), str(grace_s)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs PR_SET_CHILD_SUBREAPER and /proc")
def test_no_sandbox_process_outlives_a_worker_killed_on_timeout(tmp_path: Path) -> None:
    """A completion that loops forever: its worker is SIGKILLed at the 1 s limit, which reaps nothing
    and runs no exit handler. Its sandbox fork server and program were orphaned, ran on for seconds
    and stayed as zombies of whoever inherited them; nothing of the command may be left 2 s after it
    exited, while the looping item is ``timeout`` and the others are graded as usual."""
    answers = ["    return a + b\n", "    while True:\n        pass\n", "    return a - b\n", "    return b + a\n"]
    out = _run_under_subreaper(tmp_path, answers, timeout_s=1.0, grace_s=2.0)
    want = ["correct", "timeout", "wrong", "correct"]
    assert out["statuses"] == [want, sorted(want)]
    assert out["grade"] == [], f"left behind by rlbound grade (pid, name, state, command): {out['grade']}"
    assert out["verify"] == [], f"left behind by rlbound verify (pid, name, state, command): {out['verify']}"


def _children() -> set[int]:
    with open(f"/proc/self/task/{os.getpid()}/children") as f:
        return {int(x) for x in f.read().split()}


@pytest.mark.skipif(not Path(f"/proc/self/task/{os.getpid()}/children").exists(), reason="needs /proc children")
def test_stop_pool_helpers_ends_the_pool_helpers_and_the_next_pool_starts_them_again() -> None:
    from rlbound.toy.tasks import DEFAULT_CONFIG, Graph, generate_split, solution_text

    stop_pool_helpers()  # helpers an earlier test left running
    before = _children()
    problem = generate_split(DEFAULT_CONFIG, "test", 1, seed=3)[0]  # synthetic: no quick path, a worker grades
    gold = solution_text(Graph.from_json(problem.reference), "bare")
    items = [(0, problem, gold), (1, problem, "#### 99999")]
    first = dict(verify_items("synthetic", items, workers=1, progress=False, start_method="forkserver"))
    assert first[0].correct and not first[1].correct
    helpers = _children() - before
    assert helpers, "a forkserver pool leaves its forkserver (and resource tracker) running for the next pool"
    stop_pool_helpers()
    assert not (_children() & helpers), f"still running after stop_pool_helpers: {_children() & helpers}"
    again = dict(verify_items("synthetic", items, workers=1, progress=False, start_method="forkserver"))
    assert {k: v.correct for k, v in again.items()} == {0: True, 1: False}
    stop_pool_helpers()
    assert not (_children() - before)


# A grader that starts a detached helper of its own (a new session, so no process group kill
# reaches it) and then hangs: its worker is killed on timeout and the helper is orphaned.
LEAKY_VERIFIER = '''
import os, subprocess, time


class LeakyVerifier:
    name = "leaky"
    version = "leaky-1"

    def verify(self, problem, response):
        helper = subprocess.Popen(["sleep", "120"], start_new_session=True, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "helper.pid"), "w") as f:
            f.write(str(helper.pid))
        while True:
            time.sleep(1)
'''

LEAKY_RUN = r'''
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from rlbound.types import Problem
from rlbound.verify import base
from rlbound.verify.runner import stop_pool_helpers, verify_items

base.register("leaky", "rlbound_leaky_verifier:LeakyVerifier")
problem = Problem(id="p", prompt="?", reference="x", verifier="leaky")
[(_, verdict)] = verify_items("leaky", [(0, problem, "")], workers=1, timeout_s=1.0, progress=False,
                              start_method="forkserver")
pid = int(open(os.path.join(sys.argv[1], "helper.pid")).read())
t0 = time.monotonic()
stop_pool_helpers()
print(json.dumps({"status": verdict.status.value, "pid": pid, "stop_s": round(time.monotonic() - t0, 2),
                  "left": os.path.exists("/proc/%d" % pid)}))
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs PR_SET_CHILD_SUBREAPER and /proc")
def test_the_forkserver_ends_what_a_killed_worker_left(tmp_path: Path) -> None:
    """What a grader started and a worker killed on timeout could not end (a detached helper) is
    adopted by the pool's forkserver and is gone, ended and reaped, once the pool helpers stop."""
    (tmp_path / "rlbound_leaky_verifier.py").write_text(LEAKY_VERIFIER)
    res = subprocess.run([sys.executable, "-c", LEAKY_RUN, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    if out["left"]:
        try:
            os.kill(out["pid"], 9)
        except ProcessLookupError:
            pass
    assert out["status"] == "timeout"
    assert not out["left"], f"the grader's helper (pid {out['pid']}) outlived the pool helpers: {out}"
