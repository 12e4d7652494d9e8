"""CPU and memory of process groups, read from /proc while a benchmark runs.

A *group* is a named set of processes: a started process and all its descendants
(gunicorn's master and workers, dramatiq's master and worker processes), or every
process with a given command name (``postgres``, ``beam.smp``). CPU is the change in
user+system time over a window, as a share of one core (200% = both cores of a 2-core
box). Memory is sampled every ``interval`` seconds: the peak of the group's summed RSS,
and of its summed PSS (shared pages split between the processes sharing them, so PSS
of forked workers adds up to what the group really holds).
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
EXITED_CHILDREN = "load generator(s) (wrk)"


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name sits in parentheses and may hold spaces; fields follow it.
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float | None:
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[21]) * PAGE_KIB if fields is not None else 0


def pss_kib(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _all_processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command name) for every process visible now."""
    table: dict[int, tuple[int, str]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), name)
    return table


def descendants(root: int, table: dict[int, tuple[int, str]] | None = None) -> set[int]:
    """``root`` and every process below it."""
    table = table if table is not None else _all_processes()
    found = {root} if root in table else set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in table.items() if ppid == parent]
        found.update(children)
        frontier.extend(children)
    return found


def by_name(name: str, table: dict[int, tuple[int, str]] | None = None) -> set[int]:
    table = table if table is not None else _all_processes()
    return {pid for pid, (_, command) in table.items() if command == name}


Finder = Callable[[dict[int, tuple[int, str]]], set[int]]


def tree(root: int) -> Finder:
    return lambda table: descendants(root, table)


def named(name: str) -> Finder:
    return lambda table: by_name(name, table)


@dataclass
class GroupUsage:
    """One group's figures over a window."""

    cpu_percent: float
    peak_rss_mib: float
    peak_pss_mib: float
    processes: int


@dataclass
class Sampler:
    """Samples the groups' memory in a thread; :meth:`window` gives CPU over a span."""

    groups: dict[str, Finder]
    # Each sample reads /proc for every process (smaps_rollup for PSS): four a second cost
    # the harness 12% of a core, taken from the service it measures; one a second, 3%.
    interval: float = 1.0
    _peak_rss: dict[str, int] = field(default_factory=dict)
    _peak_pss: dict[str, int] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def add(self, name: str, finder: Finder) -> None:
        self.groups[name] = finder

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def reset_peaks(self) -> None:
        self._peak_rss.clear()
        self._peak_pss.clear()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        table = _all_processes()
        for name, finder in list(self.groups.items()):
            pids = finder(table)
            self._counts[name] = max(self._counts.get(name, 0), len(pids))
            rss = sum(rss_kib(pid) for pid in pids)
            pss = sum(pss_kib(pid) for pid in pids)
            self._peak_rss[name] = max(self._peak_rss.get(name, 0), rss)
            self._peak_pss[name] = max(self._peak_pss.get(name, 0), pss)

    def cpu_snapshot(self) -> dict[str, dict[int, float]]:
        table = _all_processes()
        snapshot: dict[str, dict[int, float]] = {}
        for name, finder in self.groups.items():
            times = {pid: cpu_seconds(pid) for pid in finder(table)}
            snapshot[name] = {pid: t for pid, t in times.items() if t is not None}
        return snapshot

    def window(self) -> Window:
        return Window(self)

    def usage(self, cpu: dict[str, float]) -> dict[str, GroupUsage]:
        groups = dict.fromkeys(self.groups)
        if EXITED_CHILDREN in cpu:
            groups[EXITED_CHILDREN] = None
        return {
            name: GroupUsage(
                cpu_percent=cpu.get(name, 0.0),
                peak_rss_mib=self._peak_rss.get(name, 0) / 1024,
                peak_pss_mib=self._peak_pss.get(name, 0) / 1024,
                processes=self._counts.get(name, 0),
            )
            for name in groups
        }


class Window:
    """CPU share of each group between ``start()`` and ``stop()``."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.children_before = 0.0
        self.started_at = 0.0
        self.before: dict[str, dict[int, float]] = {}
        self.cpu: dict[str, float] = {}
        self.seconds = 0.0

    def __enter__(self) -> Window:
        self.before = self.sampler.cpu_snapshot()
        self.children_before = waited_children_cpu()
        self.started_at = time.monotonic()
        return self

    def __exit__(self, *_: object) -> None:
        after = self.sampler.cpu_snapshot()
        self.seconds = time.monotonic() - self.started_at
        for name, times in after.items():
            earlier = self.before.get(name, {})
            # A process born inside the window counts from zero.
            used = sum(t - earlier.get(pid, 0.0) for pid, t in times.items())
            self.cpu[name] = 100.0 * used / self.seconds if self.seconds else 0.0
        # The load generators exit inside the window: /proc no longer has them, but their
        # CPU is in this process's waited-children account.
        exited = waited_children_cpu() - self.children_before
        if exited > 0 and self.seconds:
            self.cpu[EXITED_CHILDREN] = 100.0 * exited / self.seconds


def waited_children_cpu() -> float:
    """CPU seconds of the children this process has waited for (wrk, once it exits)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
