"""Parallel verification with hard wall-clock limits enforced from outside the grader.

Yue et al. 2025 (arXiv 2504.13837) grade n samples per problem (n up to 1024), so graders run
millions of times and one hanging grader must neither stall a run nor skew it. Each item is graded
by ``get_verifier(name).verify(problem, response)`` in a pool of worker processes (forkserver, else
spawn); a worker still busy ``timeout_s`` after it was handed an item is SIGKILLed and replaced, and
the item gets a ``timeout`` verdict. No SIGALRM is used (it only works on the main thread, pain point
1), and timeouts are reported apart, never folded into ``wrong`` (pain point 2).

Items whose verifier ``cache_key(problem, response)`` is equal are verified once and the verdict is
reused (e.g. the 64 samples of one problem that reach the same extracted answer). A verifier may also
offer ``quick_verify(problem, response) -> Verdict | None``: cheap, bounded checks run in this process
(the math verifier's integer and same-LaTeX fast paths); only items it returns None for go to a
worker, and the pool starts at the first such item, so a job decided entirely that way starts none.

Each call ends its own workers. The multiprocessing forkserver and resource tracker behind the pools
stay warm for the next call and are stopped, and reaped, when this process exits (or by
``stop_pool_helpers``), so that no helper of ``rlbound grade`` or ``rlbound verify`` outlives it.
A worker SIGKILLed on timeout reaps nothing; the forkserver that forked it is a child subreaper and
reaps what it leaves (the sandbox's fork servers, which end at once when their caller dies), and at
its exit waits for, then kills, any rest (``_adopt_orphans``). With ``start_method="spawn"`` those
orphans still end at once but are reaped by init (or an outer subreaper).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

from rlbound.errors import InputError
from rlbound.types import Problem, Status, Verdict
from rlbound.verify import base

log = logging.getLogger(__name__)

K = TypeVar("K")

_STARTUP_LIMIT_S = 120.0  # a worker that cannot import its verifier in this long is a bug, not a slow item
_VERDICT_CACHE_SIZE = 1 << 18


def summarize(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """Count verdicts by status: ``{"total", "correct", "wrong", "no_answer", "timeout", "error"}``.

    Timeouts and errors are counted apart from ``wrong`` (pain point 2).
    """
    counts = Counter(v.status.value for v in verdicts)
    out = {"total": sum(counts.values())}
    out.update({s.value: counts.get(s.value, 0) for s in Status})
    return out


def _format_summary(name: str, counts: dict[str, int], verified: int, seconds: float) -> str:
    parts = ", ".join(f"{s.value}={counts[s.value]}" for s in Status)
    reused = counts["total"] - verified
    return (
        f"verify[{name}]: {counts['total']} items in {seconds:.1f} s "
        f"({verified} verified, {reused} reused by cache key): {parts}"
    )


def _error_verdict(verifier: Any, detail: str, status: Status = Status.ERROR) -> Verdict:
    return Verdict(
        correct=False,
        status=status,
        detail=detail,
        verifier=getattr(verifier, "name", ""),
        verifier_version=getattr(verifier, "version", ""),
    )


def _verify_one(verifier: Any, problem: Problem, response: str) -> Verdict:
    """Run one verification; an exception becomes an ``error`` verdict with its text."""
    try:
        verdict = verifier.verify(problem, response)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"verify() returned {type(verdict).__name__}, not Verdict")
        return verdict
    except Exception as exc:  # noqa: BLE001 - any grader crash is reported, never raised
        return _error_verdict(verifier, f"{type(exc).__name__}: {exc}"[:500])


def _worker_main(conn: Connection, name: str, registry: dict[str, str], sys_path: list[str]) -> None:
    """Worker process: build the verifier once, then answer ``(task_id, problem, response)`` messages."""
    for p in sys_path:
        if p not in sys.path:
            sys.path.append(p)
    for reg_name, target in registry.items():
        base.register(reg_name, target)
    try:
        verifier = base.get_verifier(name)
        warmup = getattr(verifier, "warmup", None)
        if callable(warmup):
            warmup()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("init_error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready",))
    try:
        while True:
            msg = conn.recv()
            if msg is None:
                return
            task_id, problem, response = msg
            conn.send(("result", task_id, _verify_one(verifier, problem, response)))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        return


@dataclass
class _Worker:
    process: Any
    conn: Connection
    started: float
    ready: bool = False
    task: int | None = None
    deadline: float = 0.0


@dataclass
class _Task:
    task_id: int
    ckey: Hashable | None
    problem: Problem
    response: str
    waiters: list[Any] = field(default_factory=list)


_WARMUP_ENV = "RLBOUND_FORKSERVER_WARMUP"
_PR_SET_CHILD_SUBREAPER = 36
_ORPHAN_GRACE_S = 2.0  # at the forkserver's exit: how long adopted orphans may take to end, then killed


def _warm_forkserver() -> None:
    """Run in the forkserver when it imports this module (see ``_context``): make it the reaper of
    what killed workers leave (``_adopt_orphans``), then build the verifier named in
    ``$RLBOUND_FORKSERVER_WARMUP`` once and call its ``warmup``, so every worker forked from the
    server starts with imports done and parser caches filled (for Math-Verify: ANTLR's DFA)."""
    target = os.environ.get(_WARMUP_ENV)
    if not target or sys.argv[:1] != ["-c"] or "multiprocessing.forkserver" not in sys.modules:
        return
    _adopt_orphans()
    try:
        module_name, cls_name = target.split(":")
        import importlib

        verifier = getattr(importlib.import_module(module_name), cls_name)()
        warmup = getattr(verifier, "warmup", None)
        if callable(warmup):
            warmup()
    except Exception:  # noqa: BLE001 - an optimisation only; workers warm up themselves
        pass


def _adopt_orphans() -> None:
    """Make this process (the forkserver, parent of the workers) a child subreaper (Linux
    ``PR_SET_CHILD_SUBREAPER``). A worker SIGKILLed on timeout cannot reap its own children (the
    sandbox's fork servers, which then end by themselves); they become the forkserver's children
    instead of init's or an outer subreaper's, multiprocessing's SIGCHLD loop reaps them as they
    end (its warning about a pid it did not fork is silenced), and at its exit the forkserver waits
    ``_ORPHAN_GRACE_S`` for the rest, then kills and reaps them: none outlives the command."""
    try:
        import ctypes

        if ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):  # not Linux: orphans go to init as before
        return
    import atexit
    import warnings

    warnings.filterwarnings("ignore", message="forkserver: waitpid returned unexpected pid")
    atexit.register(_reap_children, os.getpid(), _ORPHAN_GRACE_S)


def _reap_children(owner: int, grace_s: float) -> None:
    """Reap every child of this process; those still running after ``grace_s`` are SIGKILLed (and
    what they leave, adopted in turn, too), giving up ``grace_s`` later."""
    if os.getpid() != owner:
        return  # a worker forked from the forkserver (they end by os._exit, this is a safeguard)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline + grace_s:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no child left
        if pid:
            continue
        if time.monotonic() >= deadline:
            for child in _child_pids():
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(0.005)


def _child_pids() -> list[int]:
    """The pids whose parent is this process (from /proc)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(b")") + 2:].split()[1]) == me:
            found.append(int(name))
    return found


_warm_forkserver()


def _context(start_method: str | None, preload: list[str]) -> tuple[Any, str]:
    method = start_method
    if method is None:
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "forkserver" and preload:
        # Workers fork from a server that has already imported the verifier (sympy etc.) and
        # warmed it up, so starting or replacing a worker costs milliseconds. The preload only
        # takes effect if this call starts the server (it is shared by the whole process).
        ctx.set_forkserver_preload([*preload, __name__])
    return ctx, method


class _Helpers:
    """The multiprocessing helper processes that worker pools share and that outlive each pool: the
    forkserver (start method ``forkserver``) and the resource tracker (both start methods).

    Those a pool of this module started are stopped by ``stop_pool_helpers`` and, at the latest,
    when this process exits (after multiprocessing has joined its children), so that no helper of a
    command outlives it, running or as a zombie of whoever inherits it. Helpers that were running
    before the first pool (the caller's own multiprocessing) are left alone.
    """

    ORDER = ("forkserver", "resource tracker")  # the forkserver holds the tracker's fd: it goes first

    def __init__(self) -> None:
        self.ours: set[str] = set()
        self.owner = os.getpid()
        self.at_exit = False
        self.lock = threading.Lock()

    @staticmethod
    def _handles() -> dict[str, tuple[Any, str, str]]:
        """Per helper: multiprocessing's object for it and the names of its fd and pid attributes."""
        from multiprocessing import forkserver, resource_tracker

        return {"forkserver": (forkserver._forkserver, "_forkserver_alive_fd", "_forkserver_pid"),
                "resource tracker": (resource_tracker._resource_tracker, "_fd", "_pid")}

    def running(self) -> set[str]:
        """The helpers running now (as far as multiprocessing knows)."""
        return {n for n, (obj, _, pid) in self._handles().items() if getattr(obj, pid, None) is not None}

    def adopt(self, before: set[str]) -> None:
        """Take the helpers started since ``running()`` gave ``before`` as this module's."""
        new = self.running() - before
        if not new or os.getpid() != self.owner:
            return
        with self.lock:
            self.ours |= new
            if not self.at_exit:
                import multiprocessing.util

                multiprocessing.util.Finalize(None, self.stop, exitpriority=-100)
                self.at_exit = True

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close each own helper's pipe (it exits at EOF) and reap it; killed after ``timeout_s``."""
        if os.getpid() != self.owner:
            return  # a copy inherited through fork(): the helpers are the parent's
        deadline = time.monotonic() + timeout_s
        handles = self._handles()
        with self.lock:
            ours, self.ours = self.ours, set()
        for name in self.ORDER:
            if name not in ours:
                continue
            obj, fd_attr, pid_attr = handles[name]
            fd, pid = getattr(obj, fd_attr, None), getattr(obj, pid_attr, None)
            setattr(obj, fd_attr, None)
            setattr(obj, pid_attr, None)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
            if pid is not None:
                _reap(pid, deadline)


def _reap(pid: int, deadline: float) -> None:
    """Wait for child ``pid`` to exit; SIGKILL it at ``deadline`` (a ``time.monotonic()``)."""
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        if time.monotonic() >= deadline:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            return
        time.sleep(0.005)


_HELPERS = _Helpers()


def stop_pool_helpers(timeout_s: float = 5.0) -> None:
    """Stop the forkserver and resource tracker that this module's worker pools started, waiting
    for both to exit (killed after ``timeout_s``); the next pool starts them again.

    Each ``verify_items`` call already ends its own workers; the helpers stay for the next call
    (a warm forkserver makes a worker cost milliseconds) and are stopped when this process exits.
    The forkserver reaps what it adopted from killed workers before it exits (``_adopt_orphans``).
    """
    _HELPERS.stop(timeout_s)


class _Pool:
    """Worker processes, one item at a time each, killed and replaced on timeout or death."""

    def __init__(self, name: str, size: int, ctx: Any, method: str) -> None:
        self.name = name
        self.size = size
        self.ctx = ctx
        self.registry = {n: base.target(n) for n in base.available()}
        self.workers: list[_Worker] = []
        # The forkserver (if this starts it) reads the variable once, at start-up.
        saved = os.environ.get(_WARMUP_ENV)
        if method == "forkserver":
            os.environ[_WARMUP_ENV] = self.registry[name]
        before = _HELPERS.running()
        try:
            for _ in range(size):
                self._spawn()
        finally:
            _HELPERS.adopt(before)
            if method == "forkserver":
                if saved is None:
                    os.environ.pop(_WARMUP_ENV, None)
                else:
                    os.environ[_WARMUP_ENV] = saved

    def _spawn(self) -> None:
        parent_conn, child_conn = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(
            target=_worker_main,
            args=(child_conn, self.name, self.registry, list(sys.path)),
            daemon=True,
            name=f"rlbound-verify-{self.name}",
        )
        proc.start()
        child_conn.close()
        self.workers.append(_Worker(proc, parent_conn, time.monotonic()))

    def replace(self, worker: _Worker) -> None:
        self.kill(worker)
        self.workers.remove(worker)
        self._spawn()

    @staticmethod
    def kill(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()  # SIGKILL: works whatever the grader is stuck in
        worker.process.join(timeout=5)
        worker.conn.close()

    def close(self) -> None:
        for w in self.workers:
            if not w.process.is_alive():
                continue
            if w.task is None and w.ready:
                try:
                    w.conn.send(None)  # idle: let it exit cleanly
                except (OSError, BrokenPipeError):
                    pass
            else:
                w.process.kill()  # busy or still starting: nothing of it is needed any more
        deadline = time.monotonic() + 2.0
        for w in self.workers:
            w.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=5)
            w.conn.close()
        self.workers = []


def verify_items(
    verifier: str,
    items: Iterable[tuple[K, Problem, str]],
    *,
    workers: int | None = None,
    timeout_s: float = 5.0,
    progress: bool = True,
    total: int | None = None,
    start_method: str | None = None,
) -> Iterator[tuple[K, Verdict]]:
    """Verify ``(key, problem, response)`` items in parallel; yield ``(key, verdict)`` as they arrive.

    Args:
        verifier: registry name (``rlbound.verify.base``), e.g. ``"math"``.
        items: any iterable, consumed lazily; ``key`` is the caller's label (e.g. (problem_id,
            sample_index)) and is returned with the verdict.
        workers: worker processes (default ``os.cpu_count()``); 0 grades in this process, with no
            time limit (for debugging).
        timeout_s: wall-clock limit per item, counted from the moment a ready worker receives it;
            past it the worker is SIGKILLed and replaced and the item's status is ``timeout``.
        progress: show a tqdm bar (items/s, ETA when the total is known).
        total: number of items for the bar when ``items`` has no ``len``.
        start_method: ``"forkserver"`` (default where available) or ``"spawn"``.

    Yields:
        (key, Verdict) in completion order, not input order. Items with the same
        ``cache_key`` share one verification; a summary of statuses is logged at the end
        (use ``summarize`` on the verdicts to get it as a dict).

    Raises:
        InputError: unknown verifier name, workers < 0 or timeout_s <= 0.
    """
    try:
        instance = base.get_verifier(verifier)
    except KeyError as exc:
        raise InputError(str(exc.args[0]), field="verifier") from None
    n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if n_workers < 0:
        raise InputError(f"workers must be >= 0, got {workers}", field="workers")
    if not timeout_s > 0:
        raise InputError(f"timeout_s must be > 0, got {timeout_s}", field="timeout_s")
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    return _run(verifier, instance, items, n_workers, float(timeout_s), progress, total, start_method)


def _run(
    name: str,
    instance: Any,
    items: Iterable[tuple[K, Problem, str]],
    n_workers: int,
    timeout_s: float,
    progress: bool,
    total: int | None,
    start_method: str | None,
) -> Iterator[tuple[K, Verdict]]:
    grading = _Grading(name, instance, progress, total)
    try:
        if n_workers == 0:
            yield from grading.in_process(items)
        else:
            yield from _Scheduler(grading, n_workers, timeout_s, start_method).run(items)
    finally:
        grading.finish()


class _Grading:
    """What one ``verify_items`` call knows whatever grades its items: the verifier's dedupe key and
    quick path, the verdicts decided so far (by cache key), the status counts and the progress bar."""

    def __init__(self, name: str, instance: Any, progress: bool, total: int | None) -> None:
        from tqdm.auto import tqdm

        self.name = name
        self.instance = instance
        self.progress = progress
        self.key_fn = getattr(instance, "cache_key", None)
        self.quick_fn = getattr(instance, "quick_verify", None)
        self.done: OrderedDict[Hashable, Verdict] = OrderedDict()
        self.counts: Counter[str] = Counter()
        self.verified = 0
        self.t0 = time.monotonic()
        self.bar = tqdm(total=total, unit="item", desc=f"verify[{name}]", disable=not progress, smoothing=0.05)
        self.last_postfix = 0.0

    def ckey_of(self, problem: Problem, response: str) -> Hashable | None:
        """The verifier's cache key of the item, or None (no dedupe for it)."""
        if self.key_fn is None:
            return None
        try:
            ck = self.key_fn(problem, response)
            hash(ck)
            return ck
        except Exception:  # noqa: BLE001 - no dedupe for this item; the worker will report errors
            return None

    def cached(self, ck: Hashable | None) -> Verdict | None:
        """The verdict already decided for cache key ``ck``, if any (kept as recently used)."""
        if ck is None or ck not in self.done:
            return None
        self.done.move_to_end(ck)
        return self.done[ck]

    def quick(self, problem: Problem, response: str) -> Verdict | None:
        """The verifier's own SymPy-free verdict, decided here with no worker (None: needs a worker)."""
        if self.quick_fn is None:
            return None
        try:
            verdict = self.quick_fn(problem, response)
        except Exception:  # noqa: BLE001 - a worker will verify it and report any error
            return None
        return verdict if isinstance(verdict, Verdict) else None

    def decided(self, ck: Hashable | None, verdict: Verdict) -> None:
        """Count one verification and remember its verdict under ``ck`` (a bounded LRU cache)."""
        self.verified += 1
        if ck is None:
            return
        self.done[ck] = verdict
        if len(self.done) > _VERDICT_CACHE_SIZE:
            self.done.popitem(last=False)

    def emit(self, key: Any, verdict: Verdict) -> tuple[Any, Verdict]:
        """Count ``verdict`` on the bar and return the ``(key, verdict)`` to yield."""
        self.counts[verdict.status.value] += 1
        self.bar.update(1)
        now = time.monotonic()
        if now - self.last_postfix > 0.5:
            self.last_postfix = now
            c = self.counts
            self.bar.set_postfix(wrong=c["wrong"], timeout=c["timeout"], error=c["error"], refresh=False)
        return key, verdict

    def in_process(self, items: Iterable[tuple[K, Problem, str]]) -> Iterator[tuple[K, Verdict]]:
        """``workers=0``: grade every item here, one after the other, with no time limit."""
        for key, problem, response in items:
            ck = self.ckey_of(problem, response)
            verdict = self.cached(ck)
            if verdict is None:
                verdict = _verify_one(self.instance, problem, response)
                self.decided(ck, verdict)
            yield self.emit(key, verdict)

    def finish(self) -> None:
        """Close the bar and log (and with ``progress``, print) the summary line."""
        self.bar.close()
        summary = {"total": sum(self.counts.values()), **{s.value: self.counts.get(s.value, 0) for s in Status}}
        line = _format_summary(self.name, summary, self.verified, time.monotonic() - self.t0)
        log.info(line)
        if self.progress:
            from tqdm.auto import tqdm

            tqdm.write(line, file=sys.stderr)


class _Scheduler:
    """Items graded by a pool of worker processes (started at the first item that needs one), each
    under the wall-clock limit ``timeout_s``; one round of ``run`` reads items, hands them out,
    waits, collects results and kills workers past their deadline."""

    def __init__(self, grading: _Grading, n_workers: int, timeout_s: float, start_method: str | None) -> None:
        self.g = grading
        self.n_workers = n_workers
        self.timeout_s = timeout_s
        self.start_method = start_method
        self.preload = [base.target(grading.name).split(":")[0], *getattr(grading.instance, "preload_modules", ())]
        self.pool: _Pool | None = None
        self.queue: deque[_Task] = deque()
        self.in_flight: dict[Hashable, _Task] = {}  # cache key -> queued or running task
        self.tasks: dict[int, _Task] = {}
        self.next_id = 0
        self.max_queued = 4 * n_workers + 16
        self.exhausted = False

    def run(self, items: Iterable[tuple[K, Problem, str]]) -> Iterator[tuple[K, Verdict]]:
        it = iter(items)
        try:
            while True:
                yield from self._intake(it)
                if self.exhausted and not self.queue and not self.tasks:
                    return
                if self.pool is None:
                    self.pool = _Pool(self.g.name, self.n_workers, *_context(self.start_method, self.preload))
                self._dispatch(self.pool)
                finished = self._collect(self.pool)
                finished += self._expire(self.pool)
                yield from self._settle(finished)
        finally:
            if self.pool is not None:
                self.pool.close()

    def _intake(self, it: Iterator[tuple[K, Problem, str]]) -> Iterator[tuple[K, Verdict]]:
        """Read items until enough distinct work is queued, deduping as we go: an item whose verdict
        is known, or decided by the quick path, is yielded at once; a repeat of queued work waits
        for it."""
        g = self.g
        while not self.exhausted and len(self.queue) < self.max_queued:
            try:
                key, problem, response = next(it)
            except StopIteration:
                self.exhausted = True
                return
            ck = g.ckey_of(problem, response)
            if (verdict := g.cached(ck)) is not None:
                yield g.emit(key, verdict)
            elif ck is not None and ck in self.in_flight:
                self.in_flight[ck].waiters.append(key)
            elif (verdict := g.quick(problem, response)) is not None:
                g.decided(ck, verdict)
                yield g.emit(key, verdict)
            else:
                task = _Task(self.next_id, ck, problem, response, [key])
                self.next_id += 1
                self.tasks[task.task_id] = task
                self.queue.append(task)
                if ck is not None:
                    self.in_flight[ck] = task

    def _dispatch(self, pool: _Pool) -> None:
        """Hand queued items to ready, idle workers; each one's deadline starts now."""
        for w in pool.workers:
            if not self.queue:
                return
            if w.ready and w.task is None:
                task = self.queue.popleft()
                try:
                    w.conn.send((task.task_id, task.problem, task.response))
                except (OSError, BrokenPipeError):
                    self.queue.appendleft(task)  # the worker died while idle: _collect replaces it
                    continue
                w.task = task.task_id
                w.deadline = time.monotonic() + self.timeout_s

    def _collect(self, pool: _Pool) -> list[tuple[_Task, Verdict]]:
        """Wait for a message or the nearest deadline; the tasks that finished (a worker that died
        with a task gives it an ``error`` verdict and is replaced)."""
        now = time.monotonic()
        deadlines = [w.deadline for w in pool.workers if w.task is not None]
        wait_s = max(0.0, min(deadlines) - now) if deadlines else 1.0
        ready = wait([w.conn for w in pool.workers], timeout=wait_s)
        finished: list[tuple[_Task, Verdict]] = []
        name = self.g.name
        for w in list(pool.workers):
            if w.conn not in ready:
                continue
            try:
                msg = w.conn.recv()
            except (EOFError, OSError):
                w.process.join(timeout=1.0)
                code = w.process.exitcode
                if w.task is not None:
                    detail = f"worker process died (exit code {code})"
                    finished.append((self.tasks[w.task], _error_verdict(self.g.instance, detail)))
                elif not w.ready:
                    raise RuntimeError(f"verifier {name!r} worker died while starting (exit code {code})") from None
                pool.replace(w)
                continue
            if msg[0] == "ready":
                w.ready = True
            elif msg[0] == "result":
                finished.append((self.tasks[msg[1]], msg[2]))
                w.task = None
            elif msg[0] == "init_error":
                raise RuntimeError(f"verifier {name!r} failed to start in a worker: {msg[1]}")
        return finished

    def _expire(self, pool: _Pool) -> list[tuple[_Task, Verdict]]:
        """Kill and replace workers past their deadline, their tasks ``timeout`` (a result that raced
        the deadline still counts); a worker that never became ready is an error."""
        now = time.monotonic()
        finished: list[tuple[_Task, Verdict]] = []
        for w in list(pool.workers):
            if w.task is not None and now >= w.deadline and not w.conn.poll(0):
                detail = f"exceeded {self.timeout_s!r} s wall-clock"
                finished.append((self.tasks[w.task], _error_verdict(self.g.instance, detail, Status.TIMEOUT)))
                pool.replace(w)
            elif not w.ready and now - w.started > _STARTUP_LIMIT_S:
                raise RuntimeError(f"verifier {self.g.name!r} worker did not start within {_STARTUP_LIMIT_S:g} s")
        return finished

    def _settle(self, finished: list[tuple[_Task, Verdict]]) -> Iterator[tuple[Any, Verdict]]:
        """Record each finished task's verdict and yield it for every item that waited on it."""
        for task, verdict in finished:
            del self.tasks[task.task_id]
            if task.ckey is not None:
                self.in_flight.pop(task.ckey, None)
            self.g.decided(task.ckey, verdict)
            for key in task.waiters:
                yield self.g.emit(key, verdict)


# --------------------------------------------------------------------------------------------------
# A run's unverified samples, graded and stored in chunks (resumable after kill -9)

CHUNK_ROWS = 512      # verdicts per stored chunk
CHUNK_SECONDS = 10.0  # or at least this often, so a kill loses little


def verify_run(store, *, verifier: str | None = None, workers: int | None = None, timeout_s: float = 5.0,
               chunk_rows: int = CHUNK_ROWS, progress: bool = True) -> Counter[str]:
    """Grade the samples of ``store`` (a RunStore) that have no verdict yet; returns status counts.

    Each problem is graded by its own verifier unless ``verifier`` overrides it. Grading runs in the
    runner's worker processes under a hard wall-clock limit per item (``workers=0``: in-process, no
    limit, for trusted verifiers such as ``synthetic``). Verdicts are stored every ``chunk_rows`` items
    or ``CHUNK_SECONDS``, so a killed run loses at most one chunk and a rerun grades only the rest.
    """
    problems = {p.id: p for p in store.problems()}
    by_verifier: dict[str, list] = {}
    for s in store.unverified():
        p = problems[s.problem_id]
        by_verifier.setdefault(verifier or p.verifier, []).append(((s.problem_id, s.sample_index), p, s.text or ""))
    counts: Counter[str] = Counter()
    for name, items in by_verifier.items():
        if name not in base.available():
            raise InputError(f"unknown verifier {name!r}; known: {', '.join(base.available())}", field="verifier")
        buf: list = []
        last = time.time()
        for (pid, idx), verdict in verify_items(name, items, workers=workers, timeout_s=timeout_s, progress=progress):
            buf.append((pid, idx, verdict))
            counts[verdict.status.value] += 1
            if len(buf) >= chunk_rows or time.time() - last > CHUNK_SECONDS:
                store.add_verdicts(buf)
                buf, last = [], time.time()
        if buf:
            store.add_verdicts(buf)
    return counts


def grade(response: str, reference: str | None, verifier: str = "math", *, prompt: str = "",
          metadata: dict[str, Any] | None = None, timeout_s: float = 5.0) -> Verdict:
    """Grade one ``response`` against ``reference`` with the verifier ``verifier``; returns its Verdict.

    The one-call form of the runner (``rlbound grade`` for a file): the response is graded in a
    worker process under the wall-clock limit ``timeout_s`` (past it the status is ``timeout``), as
    every verdict of a run is, and ``quick_verify`` answers without a worker where it can.
    ``prompt`` and ``metadata`` reach verifiers that read them (HumanEval's entry point, stdio tests).
    """
    problem = Problem(id="0", prompt=prompt, reference=reference, verifier=verifier, metadata=dict(metadata or {}))
    ((_, verdict),) = list(verify_items(verifier, [(0, problem, response or "")], workers=1, timeout_s=timeout_s,
                                        progress=False))
    return verdict
