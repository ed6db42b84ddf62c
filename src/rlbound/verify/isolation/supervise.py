"""Watch one running program to its end: read its output under caps, enforce the wall clock, collect.

The parent's half of every run (module doc of ``rlbound.verify.isolation``): stdout and stderr are
read incrementally and capped (past ``Limits.output_bytes`` the program is killed at once), the
report channel (fd 4) is kept up to ``REPORT_CAP`` bytes, the control pipe tells whether the setup
succeeded, and the wall-clock limit is enforced here.
"""

from __future__ import annotations

import os
import selectors
import signal
import time

from rlbound.verify.isolation.child import CONTROL_OK
from rlbound.verify.isolation.handles import ExecHandle, ZygoteHandle
from rlbound.verify.isolation.model import Isolation, Limits, RunResult

REPORT_CAP = 1 << 16
CONTROL_CAP = 4096


def supervise(
    handle: ExecHandle | ZygoteHandle,
    t0: float,
    limits: Limits,
    iso: Isolation,
    out_r: int,
    err_r: int,
    rep_r: int,
    ctl_r: int,
) -> RunResult:
    """Watch the program of ``handle`` (started at ``t0``) through its pipes to its end; what happened."""
    caps = {out_r: limits.output_bytes, err_r: limits.output_bytes, rep_r: REPORT_CAP, ctl_r: CONTROL_CAP}
    bufs, killed_for = _watch(handle, t0 + limits.wall_s, caps, (out_r, err_r))
    got = handle.result()
    wall = time.perf_counter() - t0
    ctl = bytes(bufs[ctl_r])
    stderr = bytes(bufs[err_r])
    exit_code: int | None = None
    sig: int | None = None
    cpu = 0.0
    if got is not None:
        status, cpu = got
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    setup_error = None
    if ctl.startswith(b"setup failed"):
        setup_error = ctl.decode("utf-8", "replace")
    elif got is None and killed_for is None:
        setup_error = "the sandbox lost track of the program (fork server gone)"
    elif ctl != CONTROL_OK and killed_for is None:
        setup_error = ctl.decode("utf-8", "replace") or (
            "sandbox did not start: " + stderr.decode("utf-8", "replace").strip()[-500:]
        )
    limit_hit = killed_for
    if limit_hit is None and setup_error is None:
        limit_hit = infer_limit(exit_code, sig, cpu, stderr, limits)
    return RunResult(
        exit_code=exit_code if killed_for is None else None,
        signal=sig if killed_for is None else signal.SIGKILL,
        stdout=bytes(bufs[out_r]),
        stderr=stderr,
        timed_out=killed_for == "wall",
        limit_hit=limit_hit,
        wall_s=wall,
        cpu_s=cpu,
        isolation=iso,
        report=bytes(bufs[rep_r]),
        setup_error=setup_error,
    )


def _watch(
    handle: ExecHandle | ZygoteHandle, deadline: float, caps: dict[int, int], capped: tuple[int, ...]
) -> tuple[dict[int, bytearray], str | None]:
    """Read the pipes ``caps`` (fd -> cap) until the program has ended and they are closed, or a
    limit is hit (then the program is killed). Returns the bytes read and the limit ("wall", or
    "output" when a pipe of ``capped`` overflowed), None when none."""
    bufs: dict[int, bytearray] = {fd: bytearray() for fd in caps}
    sel = selectors.DefaultSelector()
    for fd in bufs:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    hfd = handle.fileno()
    sel.register(hfd, selectors.EVENT_READ)
    open_pipes = set(bufs)
    exited = False
    killed_for: str | None = None

    def read(fd: int) -> None:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            sel.unregister(fd)
            open_pipes.discard(fd)
            return
        buf = bufs[fd]
        room = caps[fd] - len(buf)
        buf += chunk[:room]
        nonlocal killed_for
        if len(chunk) > room and fd in capped and killed_for is None:
            killed_for = "output"

    try:
        while (open_pipes or not exited) and killed_for is None:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                killed_for = "wall"
                break
            for key, _ in sel.select(timeout=remaining):
                if key.fd == hfd:
                    if handle.on_ready():
                        exited = True
                        sel.unregister(hfd)
                else:
                    read(key.fd)
            if exited and open_pipes and killed_for is None:
                # The program has ended; drain briefly, then end whatever still holds a pipe.
                drain_until = time.perf_counter() + 0.5
                while open_pipes and time.perf_counter() < drain_until:
                    for key, _ in sel.select(timeout=0.05):
                        read(key.fd)
                break
        if killed_for is not None:
            handle.kill()
    finally:
        sel.close()
    return bufs, killed_for


def infer_limit(exit_code: int | None, sig: int | None, cpu: float, stderr: bytes, limits: Limits) -> str | None:
    """The limit that ended a program (``RunResult.limit_hit``): from its signal, else best-effort
    from its error output (MemoryError, EAGAIN from fork, EFBIG/ENOSPC)."""
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits.cpu_s * 0.8):  # rusage lags the limit
        return "cpu"
    if sig == signal.SIGXFSZ:
        return "disk"
    if exit_code == 0:
        return None
    tail = stderr[-4096:]
    if b"MemoryError" in tail:
        return "memory"
    if b"Resource temporarily unavailable" in tail or b"can't start new thread" in tail:
        return "nproc"
    if b"No space left on device" in tail or b"File too large" in tail:
        return "disk"
    return None
