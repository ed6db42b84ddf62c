"""``run_program``: the one entry point that runs an untrusted program (module doc of the package)."""

from __future__ import annotations

import types

from rlbound.verify.isolation.detect import default_spawn, detect, detect_isolation, probe
from rlbound.verify.isolation.execute import run_plan
from rlbound.verify.isolation.model import Limits, RunResult

SECRET_CAP = 4096


def run_program(
    source: str | types.CodeType,
    *,
    stdin: bytes = b"",
    limits: Limits,
    secret: bytes | None = None,
    peer: str | types.CodeType | None = None,
    mode: str | None = None,
    spawn: str | None = None,
) -> RunResult:
    """Run the Python program ``source`` (text or a code object) sandboxed; collect what it did.

    The execution step of functional-correctness grading (Chen et al. 2021, Sec. 2.3) as used for
    pass@k by Yue et al. 2025; isolation and limits as in the module doc. ``secret`` arrives on fd 3
    and fd 4 is the report channel (``RunResult.report``); ``peer`` is a second program run beside
    the main one under another uid, connected by pipes (main: read fd 5, write fd 6; peer: read
    fd 3, write fd 4). ``mode`` forces "root-ns", "userns" or "plain" and ``spawn`` "zygote" or
    "exec" (tests, benchmarks); by default the detected mode and ``RLBOUND_SANDBOX_SPAWN``.

    Returns a ``RunResult``; never raises for anything the program does.
    """
    if not isinstance(source, (str, types.CodeType)):
        raise TypeError(f"source must be str or a code object, got {type(source).__name__}")
    if secret is not None and len(secret) > SECRET_CAP:
        raise ValueError(f"secret must be at most {SECRET_CAP} bytes")
    spawn = spawn or default_spawn()
    if mode is None and spawn == default_spawn():
        iso, plan = detect()
    else:
        got = probe(mode or detect_isolation().mode, spawn)
        if got is None:
            raise RuntimeError(f"sandbox mode {mode!r} with spawn {spawn!r} does not work on this machine")
        iso, plan = got
    return run_plan(source, stdin, limits, secret, peer, plan, iso, spawn)

