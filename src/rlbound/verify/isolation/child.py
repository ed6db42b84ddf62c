"""Turns a fresh process into one sandboxed program; run as ``python -I -S -B child.py key=value ...``.

The child side of ``rlbound.verify.isolation`` (module doc there): it runs in the fresh interpreter
started for a program (``spawn="exec"``) or in a process forked by the fork server (``zygote.py``),
never in the calling process. Arguments are ``key=value`` strings (``ro=PATH`` repeated: the
read-only paths of the private root; ``hide=PATH`` repeated: folders inside them replaced by an empty
one); descriptors arrive open and are named by the arguments.
``setup`` does descriptors, private root, peer fork, uid, limits, seccomp, in that order, and
returns the program's code object.
"""

import fcntl
import os
import resource
import signal
import sys

try:
    from . import kernel
except ImportError:  # run by path in the sandbox's interpreter: -I keeps this folder off sys.path
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.append(_HERE)
    import kernel

    sys.path.remove(_HERE)

CONTROL_OK = b"rlbound-sandbox-ok"
SETUP_FAILED = 125  # exit status of a process whose setup failed (the reason is on the control pipe)
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"


def parse_args(items):
    """``key=value`` strings -> (dict, ``ro=`` values in order, ``hide=`` values in order)."""
    args, ro, hide = {}, [], []
    for a in items:
        k, _, v = a.partition("=")
        if k == "ro":
            ro.append(v)
        elif k == "hide":
            hide.append(v)
        else:
            args[k] = v
    return args, ro, hide


def keep_only(fdmap):
    """Move the descriptors in ``fdmap`` (name -> fd) above 500 and close every other fd >= 3."""
    parked = {n: fcntl.fcntl(fd, fcntl.F_DUPFD, 500) for n, fd in fdmap.items()}
    lo = 3
    for k in sorted(parked.values()):
        os.closerange(lo, k)
        lo = k + 1
    os.closerange(lo, os.sysconf("SC_OPEN_MAX"))
    return parked


def layout(final):
    """``final``: target fd -> source fd. Afterwards exactly 0, 1, 2 and the targets are open."""
    parked = keep_only({str(t): s for t, s in final.items()})
    for t, h in parked.items():
        os.dup2(h, int(t))
        os.close(h)


def enter_namespaces():
    """Exec spawn: new mount, UTS, IPC, pid and network namespaces. This process stays outside the
    new pid namespace and waits; its child (pid 1 there) returns and becomes the program. The
    waiter ends exactly as the program ends (same exit code, or the same signal)."""
    kernel.call("unshare", kernel.CLONE_NEWNS | kernel.CLONE_NEWUTS | kernel.CLONE_NEWIPC | kernel.CLONE_NEWPID
                | kernel.CLONE_NEWNET)
    kernel.call("mount", None, b"/", None, kernel.MS_REC | kernel.MS_PRIVATE, None)  # no propagation out
    alive_r, alive_w = os.pipe()
    pid = os.fork()
    if pid:
        os.closerange(0, alive_w)
        os.closerange(alive_w + 1, os.sysconf("SC_OPEN_MAX"))
        _end_like(pid)
    os.close(alive_w)
    kernel.call("prctl", kernel.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the waiter
    os.set_blocking(alive_r, False)
    try:
        if os.read(alive_r, 1) == b"":
            os._exit(SETUP_FAILED)  # the waiter is already gone
    except BlockingIOError:
        pass
    os.close(alive_r)


def _end_like(pid):
    """Wait for ``pid``, then end this process with its exit status or its signal."""
    while True:
        try:
            _, st = os.waitpid(pid, 0)
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


def _mount(src, dst, fstype, flags, data=None):
    def enc(s):
        return None if s is None else s.encode()

    kernel.call("mount", enc(src), enc(dst), enc(fstype), flags, enc(data))


def _ro_remount(path, extra=0):
    keep = 0
    f = os.statvfs(path).f_flag
    for st, ms in kernel.ST_TO_MS:
        if f & st:
            keep |= ms
    _mount(None, path, None, kernel.MS_REMOUNT | kernel.MS_BIND | kernel.MS_RDONLY | keep | extra)


def build_root(root, ro_paths, hidden=()):
    """The private root on ``root``: a tmpfs holding read-only binds of ``ro_paths`` (symbolic links
    recreated) in which each folder of ``hidden`` (installed packages: site-packages, dist-packages)
    is covered by an empty read-only tmpfs, four device nodes, empty mount points /sandbox and /peer,
    /tmp -> /sandbox; then made read-only."""
    nosuid_nodev = kernel.MS_NOSUID | kernel.MS_NODEV
    _mount("tmpfs", root, "tmpfs", nosuid_nodev, "mode=0755,size=1m,nr_inodes=1024")
    for p in ro_paths:
        dst = root + p
        if os.path.islink(p):
            os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
            os.symlink(os.readlink(p), dst)
        elif os.path.isdir(p):
            os.makedirs(dst, mode=0o755, exist_ok=True)
            _mount(p, dst, None, kernel.MS_BIND | kernel.MS_REC)
            _ro_remount(dst, nosuid_nodev)
    for p in hidden:
        if os.path.isdir(root + p):
            _mount("tmpfs", root + p, "tmpfs", kernel.MS_RDONLY | kernel.MS_NOEXEC | nosuid_nodev,
                   "mode=0755,size=4k,nr_inodes=2")
    os.mkdir(root + "/dev", 0o755)
    for d in ("null", "zero", "random", "urandom"):
        os.close(os.open(root + "/dev/" + d, os.O_CREAT | os.O_WRONLY, 0o666))
        _mount("/dev/" + d, root + "/dev/" + d, None, kernel.MS_BIND)
    os.mkdir(root + "/sandbox", 0o700)
    os.mkdir(root + "/peer", 0o700)
    os.symlink("/sandbox", root + "/tmp")
    _ro_remount(root, nosuid_nodev)


class _Setup:
    """One program's setup (``setup``), step by step; ``ctl`` is the control pipe's descriptor."""

    def __init__(self, args, ro_paths, hidden=()):
        self.args, self.ro_paths, self.hidden = args, ro_paths, hidden
        self.mode = args["mode"]
        self.has_peer = "peer" in args
        self.is_peer = False
        # cpu, address space, nproc, file size, open files
        self.cpu, self.memory, self.nproc, self.fsize, self.nofile = (int(x) for x in args["limits"].split(","))
        names = ("rep", "ctl", "src", "sec", "peer", "procfd")
        self.fds = keep_only({n: int(args[n]) for n in names if n in args})
        self.ctl = self.fds["ctl"]
        self.pipes = None  # (main -> peer read, write, peer -> main read, write)

    def fail(self, msg):
        try:
            os.write(self.ctl, ("setup failed: " + msg).encode("utf-8", "replace"))
        except OSError:
            pass
        os._exit(SETUP_FAILED)

    def run(self):
        """Every step of the setup; returns the program's code object."""
        if self.mode != "plain":
            self.mount_homes()
        if self.has_peer:
            # Not dumpable from before the fork: the peer may not ptrace or read main at any time
            # (in userns mode both have one host uid, and main's uid change comes later).
            kernel.call("prctl", kernel.PR_SET_DUMPABLE, 0, 0, 0, 0)
            rp, wp = os.pipe()
            rm, wm = os.pipe()
            self.pipes = (rp, wp, rm, wm)
            self.is_peer = os.fork() == 0
            if self.is_peer and self.mode == "userns":
                self.hide_main_home()
        src = self.read_source()
        uid = None
        if self.mode != "plain":
            uid = int(self.args["peer_uid" if self.is_peer else "uid"])
        if self.mode == "userns":
            self.enter_nested_userns(uid)
        home = self.arrange_descriptors()
        self.enter_home(home)
        self.limit_resources()
        self.drop_privileges(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (self.nproc, self.nproc))
        os.environ.clear()
        os.environ.update(PATH=CLEAN_PATH, HOME=home, TMPDIR=home, LANG="C.UTF-8")
        return self.load_code(src)

    def mount_homes(self):
        """The private root (unless prebuilt by the fork server) and the size-capped home tmpfs."""
        root = self.args["root"]
        if self.args.get("prebuilt") != "1":
            build_root(root, self.ro_paths, self.hidden)
        owners = (int(self.args["uid"]), int(self.args["peer_uid"])) if self.mode == "root-ns" else (0, 0)
        size = f"size={self.fsize},nr_inodes=4096"
        homes = [("/sandbox", owners[0])] + ([("/peer", owners[1])] if self.has_peer else [])
        for home, owner in homes:
            _mount("tmpfs", root + home, "tmpfs", kernel.MS_NOSUID | kernel.MS_NODEV,
                   f"mode=0700,uid={owner},gid={owner},{size}")

    def hide_main_home(self):
        """userns mode: main and peer share one host uid, so the file permissions that keep the peer
        out of main's home as root (two fresh uids) do not; the peer gets a mount namespace of its
        own without main's home (what is left is a folder of the read-only root)."""
        kernel.call("unshare", kernel.CLONE_NEWNS)
        kernel.call("umount2", (self.args["root"].rstrip("/") + "/sandbox").encode(), kernel.MNT_DETACH)

    def read_source(self):
        fd = self.fds["peer" if self.is_peer else "src"]
        chunks, off = [], 0
        while True:
            b = os.pread(fd, 1 << 20, off)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
            off += len(b)

    def enter_nested_userns(self, uid):
        """A nested user namespace in which we are ``uid`` (mapped to our root); see
        ``drop_privileges`` for the capabilities that come with it."""
        kernel.call("unshare", kernel.CLONE_NEWUSER)
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} 0 1"), ("gid_map", f"{uid} 0 1")):
            if "procfd" in self.fds:  # the fork server's /proc (there is none in its root)
                f = os.open("self/" + name, os.O_WRONLY, dir_fd=self.fds["procfd"])
            else:
                f = os.open("/proc/self/" + name, os.O_WRONLY)
            try:
                os.write(f, text.encode())
            finally:
                os.close(f)

    def arrange_descriptors(self):
        """The final descriptors of main or peer (module doc of the parent); returns the home."""
        if self.is_peer:
            # The peer never holds the secret, the report channel, the control pipe or main's code.
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            if null > 2:
                os.close(null)
            layout({3: self.pipes[0], 4: self.pipes[3]})
            return "/peer"
        final = {4: self.fds["rep"], 9: self.ctl}
        if "sec" in self.fds:
            final[3] = self.fds["sec"]
        if self.pipes is not None:
            final[5], final[6] = self.pipes[2], self.pipes[1]
        layout(final)
        self.ctl = 9
        return "/sandbox"

    def enter_home(self, home):
        if self.mode == "plain":
            home = self.args["work"] + ("/peer" if self.is_peer else "")
            os.makedirs(home, exist_ok=True)
            os.chdir(home)
            return
        os.chdir(self.args["root"])
        os.chroot(".")
        os.chdir(home)

    def limit_resources(self):
        R = resource
        R.setrlimit(R.RLIMIT_CORE, (0, 0))
        R.setrlimit(R.RLIMIT_CPU, (self.cpu, self.cpu))  # SIGKILL at the limit (pid 1 ignores SIGXCPU)
        R.setrlimit(R.RLIMIT_AS, (self.memory, self.memory))
        R.setrlimit(R.RLIMIT_FSIZE, (self.fsize, self.fsize))
        R.setrlimit(R.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def drop_privileges(self, uid):
        """The program's uid, no capability, no new privileges, the seccomp filter
        (``kernel.sandbox_filter``: no new namespace, no keyring, no SysV IPC, no memfd, no ptrace)."""
        if self.mode != "plain":
            if self.mode == "root-ns":
                os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            # userns: setresuid kept the uid mapped to the outer root, and with it every capability
            # of the nested namespace (chroot, ...): empty the sets (root-ns: they are empty already).
            kernel.drop_capabilities()
            # the uid change cleared the parent-death signal: die with the waiter / server / main
            kernel.call("prctl", kernel.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        kernel.call("prctl", kernel.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if self.has_peer and not self.is_peer:
            kernel.call("prctl", kernel.PR_SET_DUMPABLE, 0, 0, 0, 0)  # the peer may not ptrace or read us
        kernel.install_filter()

    def load_code(self, src):
        if self.args.get("fmt_peer" if self.is_peer else "fmt") == "marshal":
            import marshal

            return marshal.loads(src)
        return compile(src, "peer.py" if self.is_peer else "main.py", "exec")

    def announce(self):
        """Setup done: ``exit()`` defined (-S skips site), main tells the parent it is running."""
        import builtins

        if not hasattr(builtins, "exit"):
            def exit(code=None):
                raise SystemExit(code)

            builtins.exit = builtins.quit = exit
        if not self.is_peer:
            os.write(self.ctl, CONTROL_OK)
            os.close(self.ctl)
        sys.argv[:] = ["peer.py" if self.is_peer else "main.py"]


def setup(args, ro_paths, hidden=()):
    """Turn this process into the sandboxed program (main or, after the fork, peer); its code object.
    A failure is reported on the control pipe and ends the process (status ``SETUP_FAILED``)."""
    s = _Setup(args, ro_paths, hidden)
    try:
        code = s.run()
    except BaseException as e:
        s.fail(f"{type(e).__name__}: {e}")
    s.announce()
    return code


def die_with_caller(caller):
    """Exec spawn: be SIGKILLed when the thread that started this process ends (it supervises the
    run to its end, so only when it dies: a grading worker killed on timeout, say), and end now if
    the caller (pid ``caller``) is already gone, which the prctl would not notice."""
    kernel.call("prctl", kernel.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != caller:
        os._exit(SETUP_FAILED)


def main(argv):
    """Exec spawn: namespaces (unless plain), setup, then the program as ``__main__``."""
    args, ro_paths, hidden = parse_args(argv)
    die_with_caller(int(args["caller"]))
    if args["mode"] != "plain":
        enter_namespaces()
    code = setup(args, ro_paths, hidden)
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})


if __name__ == "__main__":
    main(sys.argv[1:])
