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
# machine -> (AUDIT_ARCH_*, the x32 syscall bit or 0, syscall numbers by name; asm/unistd_64.h for
# x86_64, asm-generic/unistd.h for aarch64)
SECCOMP_ARCH = {
    "x86_64": (0xC000003E, 0x40000000, {
        "unshare": 272, "setns": 308, "clone": 56, "clone3": 435,
        "memfd_create": 319, "memfd_secret": 447, "bpf": 321,
        "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
        "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71,
        "mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244,
        "mq_getsetattr": 245,
        "add_key": 248, "request_key": 249, "keyctl": 250,
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438,
    }),
    "aarch64": (0xC00000B7, 0, {
        "unshare": 97, "setns": 268, "clone": 220, "clone3": 435,
        "memfd_create": 279, "memfd_secret": 447, "bpf": 280,
        "shmget": 194, "shmat": 196, "shmctl": 195, "shmdt": 197, "semget": 190, "semop": 193, "semctl": 191,
        "semtimedop": 192, "msgget": 186, "msgsnd": 189, "msgrcv": 188, "msgctl": 187,
        "mq_open": 180, "mq_unlink": 181, "mq_timedsend": 182, "mq_timedreceive": 183, "mq_notify": 184,
        "mq_getsetattr": 185,
        "add_key": 217, "request_key": 218, "keyctl": 219,
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "pidfd_getfd": 438,
    }),
}
# What the filter makes fail with EPERM, by reason (besides clone with a CLONE_NEW* flag, and clone3,
# which fails with ENOSYS). Graded programs use none of these; each was measured to let a program
# past its limits or at data that is not its own (docs/hostile-suite.md).
DENIED_SYSCALLS = {
    "a new namespace (user namespaces bring capabilities; issue 24)": ("unshare", "setns"),
    "memory outside RLIMIT_AS (memfd pages, BPF maps)": ("memfd_create", "memfd_secret", "bpf"),
    "IPC objects that outlive the program in the fork server's IPC namespace, outside RLIMIT_AS": (
        "shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop", "msgget", "msgsnd",
        "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr"),
    "the kernel keyrings inherited from the calling process (its session keyring)": (
        "add_key", "request_key", "keyctl"),
    "another process's memory or descriptors": ("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd"),
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


def sandbox_filter(machine=MACHINE):
    """The seccomp program (bytes, 8 per instruction) of every sandboxed process, or None for a
    machine without a table entry. Every syscall in ``DENIED_SYSCALLS`` fails with EPERM, and so does
    clone with any CLONE_NEW* flag; clone3 fails with ENOSYS (its flags lie in memory, out of a
    filter's reach; libc then falls back to clone). Another syscall ABI (x32, a 32-bit int 0x80)
    kills the process. The decision depends on the syscall number alone except for clone, so the
    kernel caches it per number (no cost per call)."""
    if machine not in SECCOMP_ARCH:
        return None
    arch, x32, nr = SECCOMP_ARCH[machine]
    denied = sorted({nr[name] for names in DENIED_SYSCALLS.values() for name in names})
    prog = [(BPF_LD_W_ABS, 0, 0, 4), (BPF_JEQ_K, 0, "kill", arch), (BPF_LD_W_ABS, 0, 0, 0)]
    if x32:
        prog.append((BPF_JGE_K, "eperm", 0, x32))
    prog += [(BPF_JEQ_K, "eperm", 0, n) for n in denied]
    prog += [
        (BPF_JEQ_K, "enosys", 0, nr["clone3"]),
        (BPF_JEQ_K, 0, "allow", nr["clone"]), (BPF_LD_W_ABS, 0, 0, 16),  # args[0] (low word): clone's flags
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


_FILTER = sandbox_filter()
_FPROG = None if _FILTER is None else _SockFprog(len(_FILTER) // 8, _FILTER)  # built once, before any fork


def install_filter():
    """Install ``sandbox_filter()`` on this process (inherited by all it starts); needs
    PR_SET_NO_NEW_PRIVS first. False on a machine without a filter (nothing installed)."""
    if _FPROG is None:
        return False
    call("prctl", PR_SET_SECCOMP, SECCOMP_MODE_FILTER, _ctypes.addressof(_FPROG), 0, 0)
    return True


def drop_capabilities():
    """Empty the effective, permitted and inheritable capability sets of this process."""
    call("capset", *NO_CAPABILITIES)
