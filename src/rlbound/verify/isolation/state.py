"""What the sandbox keeps per process, in one object: detection results, the mount point, the fork servers.

After ``os.fork()`` of a process using the sandbox (a multiprocessing worker, say) the child gets
fresh locks and fork servers of its own instead of sharing its parent's; the detection results and
the mount point folder stay valid and are kept.
"""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass, field

from rlbound.verify.isolation.model import Isolation, Plan
from rlbound.verify.isolation.servers import ZygotePool


@dataclass
class SandboxState:
    """Per-process state. ``probed``: (mode, spawn) -> (isolation, plan), None when unusable;
    ``detected``: the mode in use by default; ``mountpoint``: the empty folder private roots are
    mounted on (``execute.mountpoint``)."""

    probed: dict[tuple[str, str], tuple[Isolation, Plan] | None] = field(default_factory=dict)
    detected: tuple[Isolation, Plan] | None = None
    mountpoint: str | None = None
    pool: ZygotePool = field(default_factory=ZygotePool)
    detect_lock: threading.Lock = field(default_factory=threading.Lock)
    probe_lock: threading.RLock = field(default_factory=threading.RLock)
    mountpoint_lock: threading.Lock = field(default_factory=threading.Lock)

    def after_fork_in_child(self) -> None:
        self.pool = ZygotePool()
        self.detect_lock, self.probe_lock, self.mountpoint_lock = threading.Lock(), threading.RLock(), threading.Lock()


STATE = SandboxState()
os.register_at_fork(after_in_child=STATE.after_fork_in_child)


@atexit.register
def _stop_servers() -> None:
    STATE.pool.stop()
