"""Handles of one running program, as ``supervise`` drives them: started by exec, or by a fork server.

Both offer ``fileno`` (readable when there is news), ``on_ready`` (True once the program has
ended), ``kill``, ``result`` ((wait status, CPU seconds) or None when lost) and ``close``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from rlbound.verify.isolation.model import CLEAN_ENV, Plan
from rlbound.verify.isolation.state import STATE

CHILD_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
RESULT_WAIT_S = 10.0  # how long a killed program's fork server may take to report its end


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class ExecHandle:
    """A program started as ``[unshare ...] python -I -S -B child.py key=value ...``: our own child."""

    def __init__(self, plan: Plan, args: list[str], child: dict[str, int]) -> None:
        names = [n for n in ("src", "peer", "rep", "ctl", "sec") if n in child]
        argv = args + [f"{n}={child[n]}" for n in names] + [f"caller={os.getpid()}"]
        cmd: list[str] = []
        if plan.mode == "userns":
            assert plan.unshare is not None
            cmd += [plan.unshare, "--user", "--map-root-user"]
        cmd += [plan.python, "-I", "-S", "-B", CHILD_FILE, *argv]
        self.proc = subprocess.Popen(
            cmd, stdin=child["stdin"], stdout=child["out"], stderr=child["err"],
            pass_fds=[child[n] for n in names], env=CLEAN_ENV, cwd="/", start_new_session=True, close_fds=True,
        )
        self.fd = os.pidfd_open(self.proc.pid)
        self.status: tuple[int, float] | None = None

    def fileno(self) -> int:
        return self.fd

    def on_ready(self) -> bool:
        return True  # the pidfd is readable only once the process has exited

    def kill(self) -> None:
        kill_group(self.proc.pid)

    def result(self) -> tuple[int, float] | None:
        if self.status is None:
            kill_group(self.proc.pid)  # leftovers (plain mode) before the group id can be reused
            _, st, ru = os.wait4(self.proc.pid, 0)
            self.proc.returncode = os.waitstatus_to_exitcode(st)
            self.status = (st, ru.ru_utime + ru.ru_stime)
        return self.status

    def close(self) -> None:
        if self.status is None:
            self.kill()
            self.result()
        try:
            os.close(self.fd)
        except OSError:
            pass


class ZygoteHandle:
    """A program forked by the fork server; it reports "started" (with a pidfd) and "exit"."""

    def __init__(self, plan: Plan, root: str | None, args: list[str], child: dict[str, int]) -> None:
        self.sock, done = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            names = list(child)
            msg = "\0".join(args + ["fds=" + ",".join(["done"] + names)]).encode("utf-8", "surrogateescape")
            STATE.pool.submit(plan, root, msg, [done.fileno()] + [child[n] for n in names])
        finally:
            done.close()
        self.pidfd: int | None = None
        self.status: tuple[int, float] | None = None
        self.lost = False
        self.kill_pending = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def on_ready(self) -> bool:
        """Read one message; True once the program has ended (or the server was lost)."""
        try:
            msg, fds, _flags, _addr = socket.recv_fds(self.sock, 256, 1)
        except TimeoutError:
            raise
        except OSError:
            msg, fds = b"", []
        if msg == b"started" and fds:
            self.pidfd = fds[0]
            if self.kill_pending:
                self.kill()
            return False
        for fd in fds:
            os.close(fd)
        if msg.startswith(b"exit "):
            _, st, cpu = msg.split()
            self.status = (int(st), float(cpu))
            return True
        self.lost = True
        return True

    def kill(self) -> None:
        if self.pidfd is None:
            self.kill_pending = True
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except OSError:
            pass

    def result(self) -> tuple[int, float] | None:
        deadline = time.monotonic() + RESULT_WAIT_S
        while self.status is None and not self.lost:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.sock.settimeout(remaining)
            try:
                self.on_ready()
            except TimeoutError:
                break
            finally:
                self.sock.settimeout(None)
            if self.status is None and not self.lost:
                self.kill()
        return self.status

    def close(self) -> None:
        if self.status is None:
            self.kill()
        try:
            self.sock.close()
        except OSError:
            pass
        if self.pidfd is not None:
            try:
                os.close(self.pidfd)
            except OSError:
                pass
