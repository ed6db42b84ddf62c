"""Attacks on rlbound.verify.isolation: one property per test, each contained by small limits.

Each test states what it attacks; a failure message says what got through. Tests that need a
protection this machine cannot give (see ``Isolation``) are skipped with the reason, never passed.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlbound.verify import isolation as sb
from rlbound.verify.isolation import kernel
from rlbound.verify.isolation.execute import UID_RANGE

SMALL = sb.Limits(wall_s=15.0, cpu_s=5.0, memory_bytes=512 << 20, nproc=16, output_bytes=1 << 16)


@pytest.fixture(scope="module")
def iso() -> sb.Isolation:
    return sb.detect_isolation()


def _sandbox_uids() -> set[int]:
    """Real uids of live processes in the range the sandbox gives fresh uids from (root mode)."""
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        uid = int(line.split()[1])
                        if UID_RANGE[0] <= uid < UID_RANGE[1]:
                            found.add(uid)
                        break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def _wait_no_sandbox_processes(timeout: float = 5.0) -> set[int]:
    deadline = time.monotonic() + timeout
    left = _sandbox_uids()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _sandbox_uids()
    return left


def test_runs_a_program_and_captures_output() -> None:
    res = sb.run_program("import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)", limits=SMALL)
    assert res.setup_error is None, res.setup_error
    assert (res.stdout, res.stderr, res.exit_code) == (b"out\n", b"err\n", 3)
    assert not res.timed_out and res.limit_hit is None


def test_stdin_is_delivered() -> None:
    res = sb.run_program("import sys\nprint(sys.stdin.read().upper())", stdin=b"abc", limits=SMALL)
    assert res.stdout == b"ABC\n", res.stderr


def test_fork_bomb_is_contained(iso: sb.Isolation) -> None:
    """A fork bomb must end quickly by itself and leave no process behind."""
    if not iso.nproc:
        pytest.skip(f"RLIMIT_NPROC is not enforced here ({iso.summary()}); a fork bomb would hit the machine")
    res = sb.run_program("import os\nwhile True:\n    os.fork()", limits=SMALL)
    assert not res.ok, "a fork bomb cannot end successfully"
    assert not res.timed_out, "the process limit, not the wall clock, must stop a fork bomb"
    assert res.limit_hit == "nproc", (res.limit_hit, res.stderr[-300:])
    left = _wait_no_sandbox_processes()
    assert not left, f"processes of sandbox uids survived the run: {sorted(left)}"


def test_process_count_is_capped(iso: sb.Isolation) -> None:
    if not iso.nproc:
        pytest.skip(f"RLIMIT_NPROC is not enforced here ({iso.summary()})")
    prog = (
        "import os\nn = 0\n"
        "for _ in range(200):\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        os._exit(0)\n"
        "    n += 1\n"
        "print(n)"
    )
    res = sb.run_program(prog, limits=SMALL)
    assert res.exit_code == 0, res.stderr
    assert int(res.stdout) < SMALL.nproc, f"forked {int(res.stdout)} children with nproc={SMALL.nproc}"


def test_memory_hog_hits_address_space_limit() -> None:
    res = sb.run_program("chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))", limits=SMALL)
    assert not res.ok
    assert res.limit_hit == "memory", (res.limit_hit, res.signal, res.stderr[-300:])


def test_infinite_loop_hits_cpu_limit() -> None:
    res = sb.run_program("while True:\n    pass", limits=sb.Limits(wall_s=30.0, cpu_s=1.0))
    assert res.limit_hit == "cpu", (res.limit_hit, res.signal, res.cpu_s)
    assert not res.timed_out, "the CPU limit (1 s) must end it long before the wall clock (30 s)"


def test_long_sleep_hits_wall_limit() -> None:
    res = sb.run_program("import time\ntime.sleep(600)", limits=sb.Limits(wall_s=1.0, cpu_s=5.0))
    assert res.timed_out and res.limit_hit == "wall"
    assert res.exit_code is None and res.signal is not None
    assert res.wall_s < 30, f"the sleeping program was not killed at its 1 s limit (ran {res.wall_s:.1f} s)"


def test_network_connect_fails(iso: sb.Isolation) -> None:
    """Connect to a port this test listens on: must fail in a network namespace."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.5)
    port = srv.getsockname()[1]
    try:
        prog = (
            "import socket\ns = socket.socket()\ns.settimeout(3)\n"
            f"try:\n    s.connect(('127.0.0.1', {port}))\n    print('CONNECTED')\n"
            "except OSError as e:\n    print('FAILED', e.errno)"
        )
        res = sb.run_program(prog, limits=SMALL)
        if not iso.netns:
            assert "netns=NO" in iso.summary() and any("network" in n for n in iso.notes), iso.summary()
            pytest.skip(f"no network namespace here; the isolation summary says so: {iso.summary()}")
        assert res.stdout.startswith(b"FAILED"), res.stdout + res.stderr
        with pytest.raises(TimeoutError):
            srv.accept()
    finally:
        srv.close()


def test_cannot_write_or_delete_outside_its_folder(tmp_path: Path, iso: sb.Isolation) -> None:
    if not (iso.private_fs or iso.uid_drop):
        pytest.skip(f"no file-system isolation here ({iso.summary()})")
    canary = tmp_path / "canary.txt"
    canary.write_text("original")
    cwd_victim = Path.cwd() / f"rlbound-sandbox-escape-{secrets.token_hex(4)}"
    prog = (
        "import os\nout = []\n"
        f"for act, path in [('write', {str(canary)!r}), ('delete', {str(canary)!r}),\n"
        f"                  ('create', {str(tmp_path / 'new.txt')!r}), ('create', {str(cwd_victim)!r})]:\n"
        "    try:\n"
        "        if act == 'delete':\n            os.remove(path)\n"
        "        else:\n            open(path, 'w').write('pwned')\n"
        "        out.append(act + ' OK')\n"
        "    except OSError as e:\n        out.append(act + ' ' + type(e).__name__)\n"
        "print(out)"
    )
    try:
        res = sb.run_program(prog, limits=SMALL)
        assert res.setup_error is None
        assert canary.read_text() == "original", "the canary was overwritten"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["canary.txt"], "a file appeared next to the canary"
        assert not cwd_victim.exists(), "the program wrote into the parent's working folder"
        assert b"OK" not in res.stdout, res.stdout
    finally:
        cwd_victim.unlink(missing_ok=True)


def test_parent_environment_is_invisible(monkeypatch: pytest.MonkeyPatch, iso: sb.Isolation) -> None:
    if not (iso.private_fs or iso.uid_drop):
        pytest.skip(f"/proc/<pid>/environ of other processes is readable here ({iso.summary()})")
    token = "rlbound-secret-" + secrets.token_hex(8)
    monkeypatch.setenv("RLBOUND_TEST_SECRET", token)
    prog = (
        "import os\nprint(sorted(os.environ.items()))\n"
        "for p in ('/proc/self/environ', '/proc/%d/environ' % os.getppid(), '/proc/1/environ'):\n"
        "    try:\n        print(open(p, 'rb').read())\n    except OSError as e:\n        print(p, e)"
    )
    res = sb.run_program(prog, limits=SMALL)
    assert res.exit_code == 0, res.stderr
    assert token.encode() not in res.stdout + res.stderr
    assert b"RLBOUND_TEST_SECRET" not in res.stdout


def test_killing_its_parent_fails(iso: sb.Isolation) -> None:
    if not (iso.pidns or iso.uid_drop):
        pytest.skip(f"the program could signal this test process here ({iso.summary()})")
    me = os.getpid()
    prog = (
        "import os, signal\n"
        f"for target in (os.getppid(), {me}):\n"
        "    try:\n        os.kill(target, signal.SIGKILL)\n        print('sent', target)\n"
        "    except OSError as e:\n        print('denied', target, e.errno)\n"
        f"try:\n    os.killpg({os.getpgid(me)}, signal.SIGKILL)\nexcept OSError as e:\n    print('denied group', e.errno)\n"
    )
    res = sb.run_program(prog, limits=SMALL)
    assert os.getpid() == me  # still here
    again = sb.run_program("print('alive')", limits=SMALL)
    assert again.stdout == b"alive\n", "the sandbox stopped working after the attack"
    assert res.setup_error is None


def test_gigabyte_of_stdout_is_capped() -> None:
    res = sb.run_program(
        "import sys\nblock = b'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.buffer.write(block)",
        limits=SMALL,
    )
    assert res.limit_hit == "output"
    assert len(res.stdout) == SMALL.output_bytes
    assert not res.timed_out, "the output cap, not the wall clock, must stop the flood"


def test_working_folder_is_fresh_each_run() -> None:
    first = sb.run_program("import os\nopen('left.txt', 'w').write('x')\nprint(os.getcwd())", limits=SMALL)
    second = sb.run_program("import os\nprint(sorted(os.listdir('.')))", limits=SMALL)
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    assert second.stdout == b"[]\n", "a file of the previous run was visible"


def test_no_temporary_folder_left_behind() -> None:
    roots = {p for p in ("/dev/shm", "/tmp") if os.path.isdir(p)}
    before = {str(p) for r in roots for p in Path(r).glob("rlbound-sbx-*") if "root" not in p.name}
    sb.run_program("open('x', 'w').write('y' * 1000)", limits=SMALL)
    after = {str(p) for r in roots for p in Path(r).glob("rlbound-sbx-*") if "root" not in p.name}
    assert after <= before, f"left behind: {sorted(after - before)}"


def test_secret_arrives_and_report_comes_back() -> None:
    res = sb.run_program("import os\ns = os.read(3, 100)\nos.close(3)\nos.write(4, s[::-1])", limits=SMALL, secret=b"abc")
    assert res.report == b"cba", res.stderr


def test_peer_cannot_see_secret_or_report_channel(iso: sb.Isolation) -> None:
    if not iso.peer_isolated:
        pytest.skip(f"the peer is not isolated from the main program here ({iso.summary()})")
    main = "import os\ns = os.read(3, 100)\nos.write(6, b'go\\n')\nprint(os.read(5, 100))"
    peer = (
        "import os\nos.read(3, 10)\nout = []\n"
        "for fd in (5, 6, 7, 8, 9):\n"
        "    try:\n        out.append((fd, os.read(fd, 100)))\n    except OSError as e:\n        out.append((fd, e.errno))\n"
        "try:\n    os.write(4, repr(out).encode())\nexcept OSError as e:\n    pass\n"
    )
    res = sb.run_program(main, limits=SMALL, secret=b"topsecret", peer=peer)
    assert res.exit_code == 0, res.stderr
    assert b"topsecret" not in res.stdout + res.stderr + res.report
    assert res.report == b"", "the peer reached the report channel"


NAMESPACE_ESCAPE = r"""
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, fn):
    try:
        r = fn()
    except OSError as e:
        r, err = -1, e.errno
    else:
        err = ctypes.get_errno() if r == -1 else 0
    print(name, "OK" if r != -1 else errno.errorcode.get(err, err))
attempt("unshare-user", lambda: libc.unshare(0x10000000))  # CLONE_NEWUSER
attempt("chroot", lambda: os.chroot("/") or 0)
attempt("unshare-mount", lambda: libc.unshare(0x00020000))
attempt("setns", lambda: libc.setns(0, 0))
attempt("clone-user", lambda: libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0) if os.uname().machine == "x86_64" else -1)
hdr, data = (ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)()
libc.capget(hdr, data)
print("caps", [data[i] for i in (0, 1, 3, 4)])
pid = os.fork()  # plain fork and threads still work (clone without namespace flags, clone3 -> clone)
if pid == 0:
    os._exit(0)
import threading
t = threading.Thread(target=print, args=("thread", "ok"))
t.start(); t.join()
print("fork", os.waitpid(pid, 0)[1])
"""


def _seccomp_action(prog: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """Run the classic-BPF program ``prog`` on a ``struct seccomp_data``; the action it returns."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    insns = [struct.unpack_from("=HBBI", prog, i) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    while True:
        op, jt, jf, k = insns[pc]
        if op == kernel.BPF_RET_K:
            return k
        if op == kernel.BPF_LD_W_ABS:
            acc, taken = struct.unpack_from("=I", data, k)[0], None
        else:
            taken = {kernel.BPF_JEQ_K: acc == k, kernel.BPF_JGE_K: acc >= k, kernel.BPF_JSET_K: bool(acc & k)}[op]
        pc += 1 + (0 if taken is None else (jt if taken else jf))


@pytest.mark.parametrize("machine", sorted(kernel.SECCOMP_ARCH))
def test_sandbox_filter_decides_each_syscall(machine: str) -> None:
    """The seccomp program itself, syscall by syscall, for each machine it is built for."""
    prog = kernel.sandbox_filter(machine)
    arch, x32, nr = kernel.SECCOMP_ARCH[machine]
    eperm, enosys = kernel.SECCOMP_RET_ERRNO | kernel.EPERM, kernel.SECCOMP_RET_ERRNO | kernel.ENOSYS
    allow = kernel.SECCOMP_RET_ALLOW
    sigchld = 17
    expect = {
        (nr["unshare"], 0): eperm, (nr["unshare"], kernel.CLONE_NEWUSER): eperm, (nr["setns"], 0): eperm,
        (nr["clone3"], 0): enosys, (nr["clone"], sigchld): allow, (nr["clone"], 0x3D0F00): allow,  # pthread flags
        (0, 0): allow,
    }
    for flag in (kernel.CLONE_NEWUSER, kernel.CLONE_NEWNS, kernel.CLONE_NEWNET, kernel.CLONE_NEWPID, kernel.CLONE_NEWCGROUP):
        expect[(nr["clone"], flag | sigchld)] = eperm
    denied = {name for names in kernel.DENIED_SYSCALLS.values() for name in names}
    assert {"keyctl", "memfd_create", "shmget", "msgget", "semget", "mq_open", "ptrace", "process_vm_readv"} <= denied
    for name in denied:
        expect[(nr[name], 0)] = eperm
    # what graded programs do stays allowed: read, write, openat, mmap, fork (clone), exit, wait4, kill
    common = {"x86_64": (0, 1, 257, 9, 57, 60, 61, 62), "aarch64": (63, 64, 56, 222, 93, 260, 129)}[machine]
    for n in common:
        if n != nr["clone"]:
            expect[(n, 0)] = allow
    if x32:
        expect[(x32 | nr["unshare"], 0)] = eperm
    for (n, arg0), action in expect.items():
        assert _seccomp_action(prog, n, arch, arg0) == action, (machine, n, hex(arg0))
    assert _seccomp_action(prog, nr["unshare"], arch ^ 1) == kernel.SECCOMP_RET_KILL_PROCESS  # another syscall ABI
    assert kernel.sandbox_filter("pdp11") is None


@pytest.mark.parametrize("spawn", ["zygote", "exec"])
@pytest.mark.parametrize("mode", ["root-ns", "userns"])
def test_no_nested_user_namespace_or_chroot(mode: str, spawn: str) -> None:
    """Issue 24: unshare(CLONE_NEWUSER) and then chroot succeeded inside the sandbox; no namespace
    and no capability may be had, while fork and threads keep working."""
    if sb.isolation_mode(mode, spawn) is None:
        pytest.skip(f"mode {mode} is not available here")
    res = sb.run_program(NAMESPACE_ESCAPE, limits=SMALL, mode=mode, spawn=spawn, peer="import os\nos.read(3, 1)")
    assert res.exit_code == 0, (res.stderr[-500:], res.setup_error)
    lines = dict(line.split(" ", 1) for line in res.stdout.decode().splitlines())
    for what in ("unshare-user", "chroot", "unshare-mount", "setns", "clone-user"):
        assert lines[what] != "OK", f"{what} succeeded inside the sandbox: {res.stdout!r}"
    assert lines["caps"] == "[0, 0, 0, 0]", f"the program holds capabilities: {lines['caps']}"
    assert lines["thread"] == "ok" and lines["fork"] == "0", res.stdout


BEYOND_LIMITS = r"""
import ctypes, errno, glob, os
out = []
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def attempt(name, fn):
    try:
        r = fn()
    except OSError as e:
        r, err = -1, e.errno
    else:
        err = ctypes.get_errno() if r == -1 else 0
    out.append("%s %s" % (name, "OK" if r != -1 else errno.errorcode.get(err, err)))
x86 = os.uname().machine == "x86_64"
attempt("memfd_create", lambda: os.memfd_create("x"))
attempt("shmget", lambda: libc.shmget(0, 1 << 20, 0o1600))
attempt("msgget", lambda: libc.msgget(0, 0o1600))
attempt("semget", lambda: libc.semget(0, 1, 0o1600))
attempt("keyctl", lambda: libc.syscall(250 if x86 else 219, 11, ctypes.c_long(-3), None, 0))  # read @s
attempt("ptrace", lambda: libc.ptrace(16, os.getppid(), 0, 0))
out.append("dumpable %d" % libc.prctl(3, 0, 0, 0, 0))
pkgs = [d for p in ("/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages", PREFIX + "/lib/python3*/*-packages")
        for d in glob.glob(p) if os.listdir(d)]  # the system's Pythons and the sandbox's own
out.append("packages %d" % len(pkgs))
os.write(4, "\n".join(out).encode())  # to main, which prints it
"""


@pytest.mark.parametrize("spawn", ["zygote", "exec"])
@pytest.mark.parametrize("mode", ["root-ns", "userns"])
def test_no_memory_or_data_outside_the_limits(mode: str, spawn: str) -> None:
    """docs/hostile-suite.md: memfd pages and SysV segments held memory past RLIMIT_AS (and the
    segments outlived the program), the caller's session keyring was readable, installed packages
    (where benchmarks ship their tests) were visible, and in userns mode the peer was forked while
    main was still dumpable. In the peer, under both spawn methods, each must now be refused."""
    if sb.isolation_mode(mode, spawn) is None:
        pytest.skip(f"mode {mode} is not available here")
    main = "import os\nprint(os.read(5, 4096).decode())"
    peer = f"PREFIX = {os.path.realpath(sys.base_prefix)!r}\n" + BEYOND_LIMITS
    res = sb.run_program(main, limits=SMALL, mode=mode, spawn=spawn, peer=peer)
    assert res.exit_code == 0, (res.stderr[-500:], res.setup_error)
    lines = dict(line.split(" ", 1) for line in res.stdout.decode().strip().splitlines())
    for what in ("memfd_create", "shmget", "msgget", "semget", "keyctl", "ptrace"):
        assert lines[what] == "EPERM", f"{what} in the peer: {lines[what]} ({res.stdout!r})"
    assert lines["dumpable"] == "0", "the peer was forked from a dumpable main"
    assert lines["packages"] == "0", "installed packages are visible in the sandbox"


REAPER = r'''
import ctypes, json, os, subprocess, sys
assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER: orphans become our children
row = {"problem_id": "p", "entry_point": "add", "prompt": 'def add(a, b):\n    """a + b"""\n',
       "tests": "def check(candidate):\n    assert candidate(2, 3) == 5\n", "response": "    return a + b\n"}
path = os.path.join(sys.argv[1], "in.jsonl")
with open(path, "w") as f:
    f.write("\n".join([json.dumps(row)] * 4) + "\n")
cli = "import sys; from rlbound.cli import main; sys.exit(main(sys.argv[1:]))"
subprocess.run([sys.executable, "-c", cli, "grade", path, "--verifier", "humaneval", "--workers", "2"], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
direct = "from rlbound.verify.isolation import Limits, run_program; assert run_program('print(1)', limits=Limits()).ok"
subprocess.run([sys.executable, "-c", direct], check=True)
left = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open("/proc/%s/stat" % pid) as f:
            stat = f.read()
    except OSError:
        continue
    comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
    if int(rest[1]) == os.getpid() and comm in ("rlbound-zygote", "unshare"):
        left.append((int(pid), comm, rest[0]))
print(json.dumps(left))
'''


def test_no_fork_server_outlives_a_grading_run(tmp_path: Path) -> None:
    """Issue 24: fork servers were left as zombies after ``rlbound grade`` exited. Under a child
    subreaper (which inherits whatever the run orphans), none may be left, running or zombie."""
    out = subprocess.run([sys.executable, "-c", REAPER, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == [], f"fork servers left behind (pid, name, state): {out.stdout}"


CALLER_KILLED = r'''
import ctypes, json, os, secrets, signal, subprocess, sys, time
assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER: orphans become our children
mode, spawn = sys.argv[1:3]
mark = "rlbd-" + secrets.token_hex(5)  # the program's process name (comm: 15 characters at most)
program = "import ctypes\nctypes.CDLL(None).prctl(15, %r, 0, 0, 0)\nwhile True:\n    pass\n" % mark.encode()
caller = ("import sys; from rlbound.verify.isolation import Limits, run_program; "
          "run_program(sys.argv[1], limits=Limits(wall_s=120, cpu_s=120), mode=sys.argv[2], spawn=sys.argv[3])")

def procs():
    """pid -> (name, state, parent) of every process."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        out[int(pid)] = (stat[stat.index("(") + 1:stat.rindex(")")], rest[0], int(rest[1]))
    return out

proc = subprocess.Popen([sys.executable, "-c", caller, program, mode, spawn])
deadline = time.monotonic() + 60
while not any(name == mark for name, _, _ in procs().values()):
    assert proc.poll() is None and time.monotonic() < deadline, "the program never started"
    time.sleep(0.02)
proc.kill()  # SIGKILL: the caller reaps nothing and runs no exit handler
proc.wait()
t0 = time.monotonic()
left = []
while time.monotonic() - t0 < 2.0:
    now = procs()
    left = [(p, n, s) for p, (n, s, pp) in now.items() if (pp == os.getpid() or n == mark) and s != "Z"]
    if not left:
        break
    time.sleep(0.02)
print(json.dumps({"left": left, "seconds": round(time.monotonic() - t0, 2)}))
for pid, (name, _, parent) in procs().items():  # end what is left (a failure) and reap it all
    if name == mark or parent == os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        if os.waitpid(-1, os.WNOHANG)[0] == 0:
            time.sleep(0.02)
    except ChildProcessError:
        break
'''


@pytest.mark.parametrize("spawn", ["zygote", "exec"])
@pytest.mark.parametrize("mode", ["root-ns", "userns", "plain"])
def test_programs_end_when_their_caller_is_killed(mode: str, spawn: str) -> None:
    """A caller SIGKILLed while its program runs (a grading worker past its time limit) reaps
    nothing: its fork server (or, with exec, the program's own process) must not keep running
    the program until its CPU limit, and must not keep running itself. Under a child subreaper,
    which inherits what the caller orphans, nothing may still run 2 s after the kill."""
    if sb.isolation_mode(mode, spawn) is None:
        pytest.skip(f"mode {mode} is not available here")
    out = subprocess.run([sys.executable, "-c", CALLER_KILLED, mode, spawn], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    assert got["left"] == [], f"still running {got['seconds']} s after the caller was killed (pid, name, state): {got}"


def test_exec_spawn_runs_programs() -> None:
    res = sb.run_program("print(6 * 7)", limits=SMALL, spawn="exec")
    assert res.stdout == b"42\n" and res.exit_code == 0, res.stderr or res.setup_error


def test_plain_mode_says_what_is_missing() -> None:
    iso = sb.isolation_mode("plain")
    assert iso is not None and iso.degraded
    text = iso.summary()
    assert "netns=NO" in text and "network" in text


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="wall_s"):
        sb.Limits(wall_s=0)
    with pytest.raises(ValueError, match="nproc"):
        sb.Limits(nproc=1)


def test_python_version_of_sandbox_matches() -> None:
    res = sb.run_program("import sys\nprint(sys.version_info[:2])", limits=SMALL)
    assert res.stdout.decode().strip() == str(tuple(sys.version_info[:2]))
