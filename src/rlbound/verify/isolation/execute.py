"""One program run under a given plan: its descriptors and arguments, its start, its supervision.

``run_plan`` is what ``run_program`` and the mode probes call; descriptors the child receives are
named as ``child.py`` expects them (module doc of ``rlbound.verify.isolation`` for the fd numbers
a program sees).
"""

from __future__ import annotations

import atexit
import marshal
import os
import secrets
import shutil
import tempfile
import time
import types

from rlbound.verify.isolation.handles import ExecHandle, ZygoteHandle
from rlbound.verify.isolation.model import Isolation, Limits, Plan, RunResult
from rlbound.verify.isolation.state import STATE
from rlbound.verify.isolation.supervise import supervise

UID_RANGE = (1_000_000, 2_000_000_000)  # fresh uid per run (root mode); nothing on the host owns these
NS_USER_UID = 1000  # uid inside the nested user namespace (userns mode)


def run_plan(
    source: str | types.CodeType,
    stdin: bytes,
    limits: Limits,
    secret: bytes | None,
    peer: str | types.CodeType | None,
    plan: Plan,
    iso: Isolation,
    spawn: str,
) -> RunResult:
    """Run ``source`` (and ``peer``) under ``plan`` started by ``spawn``; never raises for the program."""
    fds: list[int] = []
    work: str | None = None
    handle: ExecHandle | ZygoteHandle | None = None
    try:
        args, child, work = _child_args(source, stdin, limits, peer, plan)
        fds += list(child.values())
        out_r, child["out"] = os.pipe()
        err_r, child["err"] = os.pipe()
        rep_r, child["rep"] = os.pipe()
        ctl_r, child["ctl"] = os.pipe()
        fds += [out_r, err_r, rep_r, ctl_r, child["out"], child["err"], child["rep"], child["ctl"]]
        if secret is not None:
            child["sec"], sec_w = os.pipe()
            fds.append(child["sec"])
            try:
                os.write(sec_w, secret)
            finally:
                os.close(sec_w)
        t0 = time.perf_counter()
        try:
            if spawn == "exec":
                handle = ExecHandle(plan, args, child)
            else:
                handle = ZygoteHandle(plan, mountpoint() if plan.mode != "plain" else None, args, child)
        except OSError as e:  # could not start a process at all (fork server down, no memory, ...)
            return RunResult(exit_code=None, signal=None, stdout=b"", stderr=b"", timed_out=False, limit_hit=None,
                             wall_s=time.perf_counter() - t0, cpu_s=0.0, isolation=iso,
                             setup_error=f"could not start the program: {e}")
        for fd in child.values():  # the child holds its own copies now
            os.close(fd)
            fds.remove(fd)
        return supervise(handle, t0, limits, iso, out_r, err_r, rep_r, ctl_r)
    finally:
        if handle is not None:
            handle.close()
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if work is not None:
            _remove_tree(work)


def _child_args(
    source: str | types.CodeType, stdin: bytes, limits: Limits, peer: str | types.CodeType | None, plan: Plan
) -> tuple[list[str], dict[str, int], str | None]:
    """The child's ``key=value`` arguments, its in-memory files (name -> fd: code, peer code,
    stdin) and the temporary working folder of plain mode (None otherwise)."""
    child: dict[str, int] = {}
    work: str | None = None
    try:
        data, fmt = _program_bytes(source)
        child["src"] = _memfd("main.py", data)
        args = [f"mode={plan.mode}", f"fmt={fmt}", f"limits={_limit_args(limits)}", f"wall={limits.wall_s}"]
        if peer is not None:
            pdata, pfmt = _program_bytes(peer)
            child["peer"] = _memfd("peer.py", pdata)
            args.append(f"fmt_peer={pfmt}")
        if plan.mode == "plain":
            work = tempfile.mkdtemp(prefix="rlbound-sbx-", dir=_fast_tmp())
            args.append(f"work={work}")
        else:
            uid = _fresh_uid() if plan.mode == "root-ns" else NS_USER_UID
            peer_uid = _fresh_uid() if plan.mode == "root-ns" else NS_USER_UID
            while plan.mode == "root-ns" and peer_uid == uid:
                peer_uid = _fresh_uid()
            args += [f"root={mountpoint()}", f"uid={uid}", f"peer_uid={peer_uid}"]
            args += [f"ro={p}" for p in plan.ro_paths] + [f"hide={p}" for p in plan.hidden]
        child["stdin"] = _memfd("stdin", stdin)
    except BaseException:
        for fd in child.values():
            os.close(fd)
        if work is not None:
            _remove_tree(work)
        raise
    return args, child, work


def _limit_args(limits: Limits) -> str:
    cpu = max(1, int(-(-limits.cpu_s // 1)))
    return ",".join(str(int(x)) for x in (cpu, limits.memory_bytes, limits.nproc, limits.disk_bytes, limits.open_files))


def _fresh_uid() -> int:
    return secrets.randbelow(UID_RANGE[1] - UID_RANGE[0]) + UID_RANGE[0]


def _memfd(name: str, data: bytes) -> int:
    """An anonymous in-memory file holding ``data`` (no disk, gone with its last descriptor)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _program_bytes(program: str | types.CodeType) -> tuple[bytes, str]:
    if isinstance(program, types.CodeType):
        return marshal.dumps(program), "marshal"
    if not isinstance(program, str):
        raise TypeError(f"a program must be str or a code object, got {type(program).__name__}")
    return program.encode("utf-8", "surrogatepass"), "source"


def mountpoint() -> str:
    """One empty folder per process on which each run mounts its private root inside its own mount
    namespace (the host folder stays empty, concurrent runs share it). On tmpfs when possible:
    creating and removing folders on a disk with ``discard`` costs milliseconds per run."""
    with STATE.mountpoint_lock:
        if STATE.mountpoint is None or not os.path.isdir(STATE.mountpoint):
            STATE.mountpoint = tempfile.mkdtemp(prefix="rlbound-sbx-root-", dir=_fast_tmp())
            atexit.register(_rmdir_quiet, STATE.mountpoint, os.getpid())
        return STATE.mountpoint


def _fast_tmp() -> str | None:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _rmdir_quiet(path: str, owner: int) -> None:
    if owner != os.getpid():
        return  # a forked child: the folder belongs to its parent
    try:
        os.rmdir(path)
    except OSError:
        pass


def _remove_tree(path: str) -> None:
    """Remove a run's temporary folder even if the program made parts of it read-only."""

    def onerror(func, p, exc_info):  # type: ignore[no-untyped-def]
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=onerror)
