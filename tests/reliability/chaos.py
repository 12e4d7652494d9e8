"""Faults on a schedule, run beside a load: killing workers, cutting a proxy for a while."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from tests.reliability.cluster import ServiceProcess
from tests.reliability.faults import FaultProxy

READY_LINE = "ready for action"  # what a Dramatiq worker process logs once it consumes


class WorkerKiller:
    """SIGKILL the workers in turn and start each again at once, as an orchestrator would.

    Each victim is killed ``every`` seconds after it reported ready, so every incarnation
    does some work before it dies (on a loaded machine booting can take longer than
    ``every``, and killing a worker that never consumed proves nothing). With two or more
    workers some worker is always up.
    """

    def __init__(self, workers: list[ServiceProcess], *, every: float, max_kills: int) -> None:
        self.workers = workers
        self.every = every
        self.max_kills = max_kills
        self.kills = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        turn = 0
        while self.kills < self.max_kills and not self._stop.is_set():
            victim = self.workers[turn % len(self.workers)]
            while not victim.current_log_contains(READY_LINE):
                if self._stop.wait(0.2):
                    return
            if self._stop.wait(self.every):
                return
            victim.kill()
            victim.start()
            self.kills += 1
            turn += 1

    def __enter__(self) -> WorkerKiller:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@dataclass
class Outage:
    """Cut ``proxy`` ``after`` seconds from start for ``lasting`` seconds, on a thread.

    ``cut_at`` and ``restored_at`` are ``time.monotonic()`` readings, comparable with
    :class:`~tests.reliability.load.Answer` times.
    """

    proxy: FaultProxy
    after: float
    lasting: float
    cut_at: float = 0.0
    restored_at: float = 0.0
    dropped: int = 0
    _thread: threading.Thread | None = field(default=None, repr=False)

    def _run(self) -> None:
        time.sleep(self.after)
        self.cut_at = time.monotonic()
        self.dropped = self.proxy.cut()
        time.sleep(self.lasting)
        self.proxy.restore()
        self.restored_at = time.monotonic()

    def __enter__(self) -> Outage:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._thread is not None
        self._thread.join(timeout=self.after + self.lasting + 30)
        if self.proxy.is_cut:
            self.proxy.restore()
