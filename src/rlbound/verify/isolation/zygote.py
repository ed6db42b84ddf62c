"""The sandbox's fork server; run as ``python -I -S -B zygote.py SOCK CALLER MAX_JOBS PRELOAD MODE [ROOT ro=PATH... hide=PATH...]``.

The ``spawn="zygote"`` side of ``rlbound.verify.isolation`` (module doc there). It never runs
untrusted code itself: it imports ``PRELOAD`` (comma-separated modules), sets up its namespaces and
the private root once, then forks one child per request and reports the child's end. Requests
arrive on the SOCK_SEQPACKET socket ``SOCK`` as NUL-separated ``key=value`` strings with
descriptors attached (``fds=`` names them, ``done`` first: the caller's socket for "started" with a
pidfd, then "exit STATUS CPU"). After ``MAX_JOBS`` requests, or when the caller closes the socket,
it exits once its running children have ended.

``CALLER`` is a pidfd of the calling process, readable once that process has ended (a grading
worker SIGKILLed on timeout, say). Then nobody waits for the children's results any more: the server
kills and reaps every child and exits at once, so neither it nor a program outlives its caller for
long. A pidfd rather than ``PR_SET_PDEATHSIG``: it follows the calling process, not the thread that
started the server, it reaches through ``unshare --fork`` (userns mode) and its pid namespace, and
it cannot miss a death that came before the server was ready (it stays readable).
"""

import _json  # noqa: F401 - the HumanEval harness codec's parser, preloaded for every child
import builtins
import gc
import marshal  # noqa: F401 - imported once here, not by each child (code objects arrive marshalled)
import os
import selectors
import signal
import socket
import sys
import time

try:
    from . import child, kernel
except ImportError:  # run by path in the sandbox's interpreter: -I keeps this folder off sys.path
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.append(_HERE)
    import child
    import kernel

    sys.path.remove(_HERE)

BACKSTOP_S = 5.0  # a child still running this long after its wall-clock limit is killed here


def run_as_main(code):
    """Run the program as the interpreter runs a script (exit status, traceback, threads, atexit),
    then end the process."""
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
                sys.stderr.write(f"{c}\n")
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


class Server:
    """The fork server's state: namespaces, prepared root, running children."""

    def __init__(self, mode, root, ro_paths, hidden):
        self.mode = mode
        self.root = root
        self.own_pidns = None  # our pid namespace (fd), to reset the one for children before each unshare
        self.procfd = None  # userns: /proc, for the children's uid maps (no /proc in the root)
        self.kids = {}  # pidfd -> (pid, done socket, deadline)
        if mode != "plain":
            self._prepare_namespaces(ro_paths, hidden)

    def _prepare_namespaces(self, ro_paths, hidden):
        """Our own private mount namespace with the sandbox root built once (each child copies it);
        new network (no interface up), IPC and UTS namespaces, shared by all our children."""
        k = kernel
        k.call("unshare", k.CLONE_NEWNS | k.CLONE_NEWUTS | k.CLONE_NEWIPC | k.CLONE_NEWNET)
        k.call("mount", None, b"/", None, k.MS_REC | k.MS_PRIVATE, None)
        self.own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY)
        if self.mode == "userns":
            self.procfd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
        child.build_root(self.root, ro_paths, hidden)
        # Move into the prepared root and drop the host's mounts from our namespace (pivot_root),
        # so that each child copies a dozen mounts instead of the host's whole table.
        if k.SYS_PIVOT_ROOT is not None:
            os.chdir(self.root)
            k.call("syscall", k.SYS_PIVOT_ROOT, b".", b".")
            k.call("umount2", b".", k.MNT_DETACH)  # the old root, stacked under the new one
            os.chdir("/")
            self.root = "/"

    def serve(self, sock, caller, max_jobs):
        """Fork one child per request until ``max_jobs`` or the caller closes the socket; then wait
        for all. When the caller process has ended (its pidfd ``caller`` is readable), end them all
        at once instead."""
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ, None)
        sel.register(caller, selectors.EVENT_READ, "caller")
        served = 0
        accepting = True
        while accepting or self.kids:
            timeout = None
            if self.kids:
                timeout = max(0.0, min(k[2] for k in self.kids.values()) - time.monotonic())
            for key, _ in sel.select(timeout):
                if key.data == "caller":
                    self.end_all()
                    return
                if key.data is not None:
                    sel.unregister(key.fd)
                    self.reap(key.fd)
                    continue
                try:
                    msg, fds, _f, _a = socket.recv_fds(sock, 1 << 20, 16)
                except OSError:
                    msg, fds = b"", []
                if msg:
                    served += 1
                    pidfd = self.start(msg, fds)
                    if pidfd is not None:
                        sel.register(pidfd, selectors.EVENT_READ, "kid")
                else:
                    for fd in fds:
                        os.close(fd)
                if not msg or served >= max_jobs:
                    accepting = False
                    sel.unregister(sock)
                    sock.close()
            self.kill_overdue()

    def start(self, msg, fds):
        """Fork the child for one request; its pidfd, or None when it could not start."""
        args, ro_paths, hidden = child.parse_args(msg.decode("utf-8", "surrogateescape").split("\0"))
        fdmap = dict(zip(args.pop("fds").split(","), fds))
        done = socket.socket(fileno=fdmap.pop("done"))
        try:
            self._reset_pidns()
            pid = os.fork()
        except Exception as e:  # no namespace or no process: tell the caller, keep serving
            try:
                os.write(fdmap["ctl"], f"setup failed: {type(e).__name__}: {e}".encode())
            except (OSError, KeyError):
                pass
            for fd in fdmap.values():
                os.close(fd)
            done.close()
            return None
        if pid == 0:
            try:
                self._become_child(args, ro_paths, hidden, fdmap)
            finally:
                os._exit(126)
        for fd in fdmap.values():
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(done, [b"started"], [pidfd])
        except OSError:
            pass
        self.kids[pidfd] = (pid, done, time.monotonic() + float(args["wall"]) + BACKSTOP_S)
        return pidfd

    def _reset_pidns(self):
        """CLONE_NEWPID: the next child is pid 1 of a new pid namespace. unshare() refuses a second
        one until the "namespace for children" is reset to our own, hence the setns first."""
        if self.mode != "plain":
            kernel.call("setns", self.own_pidns, kernel.CLONE_NEWPID)
            kernel.call("unshare", kernel.CLONE_NEWPID)

    def _become_child(self, args, ro_paths, hidden, fdmap):
        os.setsid()
        kernel.call("prctl", kernel.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the server
        os.dup2(fdmap.pop("stdin"), 0)
        os.dup2(fdmap.pop("out"), 1)
        os.dup2(fdmap.pop("err"), 2)
        for n, fd in fdmap.items():
            args[n] = str(fd)
        if self.mode != "plain":
            # We are pid 1 of a fresh pid namespace; a mount namespace of our own: a copy of the
            # server's private mounts, prepared root included. Network, IPC and UTS: the server's.
            kernel.call("unshare", kernel.CLONE_NEWNS)
            args["prebuilt"] = "1"
            args["root"] = self.root
            if self.procfd is not None:
                args["procfd"] = str(self.procfd)
        run_as_main(child.setup(args, ro_paths, hidden))

    def reap(self, pidfd):
        """A child ended: end what is left of its process group, collect it, tell the caller."""
        pid, done, _ = self.kids.pop(pidfd)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        _, st, ru = os.wait4(pid, 0)
        try:
            done.send(b"exit %d %r" % (st, ru.ru_utime + ru.ru_stime))
        except OSError:
            pass
        done.close()
        os.close(pidfd)

    def end_all(self):
        """The caller is gone: kill every child (also one not yet in a process group of its own),
        then its process group, and reap each one."""
        for pidfd in list(self.kids):
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass
            self.reap(pidfd)

    def kill_overdue(self):
        """Backstop only: the caller enforces the wall clock itself."""
        now = time.monotonic()
        for pid, _, deadline in list(self.kids.values()):
            if now > deadline:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass


def _name_process(name):
    try:
        with open("/proc/self/comm", "w") as f:  # "ps" (and a zombie's /proc/<pid>/stat) show it
            f.write(name)
    except OSError:
        pass


def main(argv):
    sock_fd, caller_fd, max_jobs, preload, mode = int(argv[0]), int(argv[1]), int(argv[2]), argv[3], argv[4]
    for name in preload.split(","):  # programs start with these already imported
        try:
            __import__(name)
        except Exception:
            pass
    _name_process("rlbound-zygote")
    _, ro_paths, hidden = child.parse_args(argv[6:])
    server = Server(mode, argv[5] if mode != "plain" else None, ro_paths, hidden)
    gc.collect()
    gc.freeze()  # children never scan (and so never copy) the server's objects in a collection
    server.serve(socket.socket(fileno=sock_fd), caller_fd, max_jobs)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
