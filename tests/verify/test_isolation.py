"""Attacks on rlbound.verify.isolation: one property per test, each contained by small limits.

Each test states what it attacks; a failure message says what got through. Tests that need a
protection this machine cannot give (see ``Isolation``) are skipped with the reason, never passed.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import time
from pathlib import Path

import pytest

from rlbound.verify import isolation as sb

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
                        if sb._UID_RANGE[0] <= uid < sb._UID_RANGE[1]:
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
