"""The runner's helper processes end with the command: after ``rlbound grade`` and ``rlbound verify``
exit, neither a worker nor the multiprocessing forkserver or resource tracker behind the pool is left.

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
import ctypes, json, os, subprocess, sys
assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER: orphans become our children
from rlbound.data.store import RunStore
from rlbound.types import Problem, RunManifest, Sample

tmp = sys.argv[1]
prompt, tests = 'def add(a, b):\n    """a + b"""\n', "def check(candidate):\n    assert candidate(2, 3) == 5\n"
answers = ["    return a + b\n", "    return a - b\n", "    return b + a\n", "    raise ValueError(a)\n"]
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
for name, args in (("grade", ["grade", path, "--verifier", "humaneval", "--workers", "2", "--timeout", "5"]),
                   ("verify", ["verify", store.path.as_posix(), "--workers", "2", "--timeout", "5"])):
    subprocess.run([sys.executable, "-c", cli, *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=240)
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
    out[name] = left
    for pid, *_ in left:  # reap them, so that the next command is judged on its own
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass
graded = [json.loads(x)["status"] for x in open(os.path.join(tmp, "in_graded.jsonl"))]
out["statuses"] = [graded, sorted(v.status.value for v in RunStore.open(store.path).verdicts().values())]
print(json.dumps(out))
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs PR_SET_CHILD_SUBREAPER and /proc")
def test_no_helper_process_outlives_grade_or_verify(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-c", REAPER, str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    want = ["correct", "wrong", "correct", "wrong"]
    assert out["statuses"] == [want, sorted(want)]  # the commands graded, in worker processes
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
