"""The sandbox's records: ``Limits`` (asked), ``Isolation`` (in force), ``RunResult`` (what happened).

Also the internal ``Plan`` (how programs of one mode are started) and the version string that
verifiers put in theirs. Module doc of ``rlbound.verify.isolation``: what each protection is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# 2: seccomp denies new namespaces, no capability in userns mode, programs die with their server (issue 24)
# 3: seccomp also denies keyrings, SysV/POSIX IPC, memfd, BPF and ptrace; installed packages hidden;
#    main not dumpable before the peer exists; userns peer without main's home (docs/hostile-suite.md)
# 4: programs and fork servers end at once when their caller is SIGKILLed (a grading worker past its
#    time limit): servers watch a pidfd of the caller, exec programs have PR_SET_PDEATHSIG
SANDBOX_VERSION = "sandbox-4"
SPAWNS = ("zygote", "exec")
MODES = ("root-ns", "userns", "plain")
# the whole environment of a sandbox process before its setup (no variable of the caller survives)
CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


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


@dataclass(frozen=True)
class Plan:
    """How programs of one mode start: the mode, util-linux ``unshare`` (userns mode), the real
    interpreter binary, the read-only paths of the private root and the folders inside them that
    are hidden (installed packages)."""

    mode: str
    unshare: str | None
    python: str
    ro_paths: tuple[str, ...] = field(default=())
    hidden: tuple[str, ...] = field(default=())
