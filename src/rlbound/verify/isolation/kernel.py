"""The Linux interfaces of the sandbox's child processes: flag values, libc calls, the seccomp filter.

Runs in the fresh ``python -I -S`` interpreter of a sandboxed program or fork server (``child.py``,
``zygote.py``), never in the calling process: builtin modules and the small ``_ctypes`` extension
only, as ``ctypes`` itself would cost an import per program. The values are those of the kernel's
uapi headers (``linux/sched.h``, ``linux/mount.h``, ``linux/prctl.h``, ``linux/seccomp.h``,
``linux/filter.h``, ``linux/audit.h``, ``linux/capability.h``).
"""

import _ctypes
import os
import struct

# unshare(2) / clone(2): new namespaces
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEW_ANY = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET

# mount(2), umount2(2)
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
# statvfs(3) f_flag bit -> the mount flag a read-only remount must keep (the kernel refuses to
# drop a locked flag of a bind mount made in another user namespace)
ST_TO_MS = ((2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME), (2048, MS_NODIRATIME),
            (4096, MS_RELATIME))

# prctl(2)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

# capset(2): an all-zero capability set, version 3 (two 32-bit words per set)
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
NO_CAPABILITIES = (struct.pack("=Ii", _LINUX_CAPABILITY_VERSION_3, 0), bytes(24))

MACHINE = os.uname().machine
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(MACHINE)
# machine -> (AUDIT_ARCH_*, syscall numbers of unshare, setns, clone, clone3; the x32 syscall bit or 0)
SECCOMP_ARCH = {
    "x86_64": (0xC000003E, 272, 308, 56, 435, 0x40000000),
    "aarch64": (0xC00000B7, 97, 268, 220, 435, 0),
}


def libc_caller():
    """``call(name, *args)``: the libc function ``name``; raises OSError (with errno) when it fails."""

    class c_int(_ctypes._SimpleCData):
        _type_ = "i"

    class c_ulong(_ctypes._SimpleCData):
        _type_ = "L"

    class c_char_p(_ctypes._SimpleCData):
        _type_ = "z"

    class Fn(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = c_int

    libc = _ctypes.dlopen(None, 0)
    signatures = (
        ("mount", (c_char_p, c_char_p, c_char_p, c_ulong, c_char_p)), ("unshare", (c_int,)),
        ("setns", (c_int, c_int)), ("umount2", (c_char_p, c_int)), ("syscall", (c_ulong, c_char_p, c_char_p)),
        ("capset", (c_char_p, c_char_p)), ("prctl", (c_int, c_ulong, c_ulong, c_ulong, c_ulong)),
    )
    fns = {}
    for name, argtypes in signatures:
        f = Fn(_ctypes.dlsym(libc, name))
        f.argtypes = argtypes
        fns[name] = f

    def call(name, *args):
        if fns[name](*args) != 0:
            e = _ctypes.get_errno()
            raise OSError(e, f"{name}{args!r}: {os.strerror(e)}")

    return call


call = libc_caller()

# classic BPF (linux/filter.h) over struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6]}
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_JSET_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
EPERM, ENOSYS = 1, 38


def namespace_filter(machine=MACHINE):
    """The seccomp program (bytes, 8 per instruction) that denies every way to a new namespace, or
    None for a machine without a table entry: unshare and setns fail with EPERM, clone with any
    CLONE_NEW* flag too; clone3 fails with ENOSYS (its flags lie in memory, out of a filter's reach;
    libc then falls back to clone). Another syscall ABI (x32, a 32-bit int 0x80) kills the process."""
    if machine not in SECCOMP_ARCH:
        return None
    arch, unshare, setns, clone, clone3, x32 = SECCOMP_ARCH[machine]
    prog = [(BPF_LD_W_ABS, 0, 0, 4), (BPF_JEQ_K, 0, "kill", arch), (BPF_LD_W_ABS, 0, 0, 0)]
    if x32:
        prog.append((BPF_JGE_K, "eperm", 0, x32))
    prog += [
        (BPF_JEQ_K, "eperm", 0, unshare), (BPF_JEQ_K, "eperm", 0, setns), (BPF_JEQ_K, "enosys", 0, clone3),
        (BPF_JEQ_K, 0, "allow", clone), (BPF_LD_W_ABS, 0, 0, 16),  # args[0] (low word): clone's flags
        (BPF_JSET_K, "eperm", "allow", CLONE_NEW_ANY),
    ]
    at = {"allow": len(prog), "eperm": len(prog) + 1, "enosys": len(prog) + 2, "kill": len(prog) + 3}
    prog += [(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW), (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
             (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS), (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS)]

    def jump(pc, target):
        return at[target] - pc - 1 if isinstance(target, str) else target

    return b"".join(struct.pack("=HBBI", op, jump(pc, jt), jump(pc, jf), k) for pc, (op, jt, jf, k) in enumerate(prog))


class _SockFprog(_ctypes.Structure):
    class _c_ushort(_ctypes._SimpleCData):
        _type_ = "H"

    class _c_char_p(_ctypes._SimpleCData):
        _type_ = "z"

    _fields_ = [("len", _c_ushort), ("filter", _c_char_p)]


_FILTER = namespace_filter()
_FPROG = None if _FILTER is None else _SockFprog(len(_FILTER) // 8, _FILTER)  # built once, before any fork


def deny_namespaces():
    """Install ``namespace_filter()`` on this process (inherited by all it starts); needs
    PR_SET_NO_NEW_PRIVS first. False on a machine without a filter (nothing installed)."""
    if _FPROG is None:
        return False
    call("prctl", PR_SET_SECCOMP, SECCOMP_MODE_FILTER, _ctypes.addressof(_FPROG), 0, 0)
    return True


def drop_capabilities():
    """Empty the effective, permitted and inheritable capability sets of this process."""
    call("capset", *NO_CAPABILITIES)
