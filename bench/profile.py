"""Where the CPU goes: py-spy samples a process tree under load; a text summary of it.

py-spy records collapsed stacks ("frame;frame;frame count") of the threads that hold the
GIL (``--gil``), i.e. Python code on the CPU; a thread waiting on a socket, a lock or in
C code that released the GIL (an argon2 hash) is not sampled. On a 2-core box shared by
every process, CPU per request is what limits throughput, so this is the view that says
where to cut. The summary lists the functions on the CPU most (self) and the project's
own frames that most samples pass through (inclusive).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.load import Load
from bench.stack import Started

ROOT = str(Path(__file__).resolve().parent.parent)
PROJECT_FILE = re.compile(r"\(" + re.escape(ROOT) + r"/(?:core|api|workers|cli)/[^()]+\.py:\d+\)$")
# Leaf frames of threads parked waiting for work: py-spy cannot always tell them from
# running ones, and they say nothing about where the time of a request goes.
IDLE_LEAVES = (
    "futures/thread.py:81)",  # a pool thread waiting for a request
    "selectors.py:",  # an event loop waiting for sockets
    "threading.py:",  # a thread waiting on a lock or condition
    "queue.py:",  # a worker thread waiting for a message
    "workertmp.py:",  # gunicorn's heartbeat
)


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


def summarize(collapsed: str, top: int = 20) -> str:
    """Top functions by own samples and project frames by inclusive samples."""
    own: Counter[str] = Counter()
    by_library: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames or any(marker in frames[-1] for marker in IDLE_LEAVES):
            idle += count
            continue
        total += count
        own[_short(frames[-1])] += count
        by_library[_library(frames[-1])] += count
        for frame in {_short(f) for f in frames if _is_project(f)}:
            inclusive[frame] += count
    if not total:
        return "py-spy recorded no samples of a thread holding the GIL"
    lines = [
        f"{total} samples of threads holding the GIL (another {idle} of threads parked"
        " waiting for work left out)",
        "",
        "where the CPU goes (self):",
    ]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "where the CPU goes, by library (self):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in by_library.most_common(12)]
    lines += ["", "project frames those samples pass through (inclusive):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def _is_project(frame: str) -> bool:
    """A frame in this project's own code (py-spy runs with --full-filenames)."""
    return bool(PROJECT_FILE.search(frame))


def _library(frame: str) -> str:
    """The installed package, the standard-library module or the project package of a frame."""
    where = frame.partition(" (")[2].rstrip(")").rpartition(":")[0]
    if "site-packages/" in where:
        return where.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if where.startswith(ROOT + "/"):
        return "project: " + where.removeprefix(ROOT + "/").split("/", 1)[0]
    parts = where.split("/")
    if "lib" in parts and parts.index("lib") + 2 < len(parts):  # .../lib/python3.11/<module>
        return "stdlib: " + parts[parts.index("lib") + 2].removesuffix(".py")
    return parts[-1] or "?"


def _short(frame: str) -> str:
    # "function (/full/path/to/module.py:123)" → the function and a readable path.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    if "site-packages/" in where:
        where = where.split("site-packages/", 1)[1]
    elif where.startswith(ROOT + "/"):
        where = where.removeprefix(ROOT + "/")
    else:
        where = "/".join(where.split("/")[-2:])
    return f"{name} ({where})" if where else name


def profile_under_load(started: Started, load: Load, label: str) -> str:
    """Run ``load`` against ``started`` while py-spy samples its whole process tree."""
    spy = py_spy()
    if spy is None:
        return f"{label}: py-spy is not installed (pip install py-spy); no profile taken"
    with tempfile.TemporaryDirectory(prefix="otp-bench-spy-") as tmp:
        out = Path(tmp) / "profile.txt"
        wrk = load.start()
        spy_run = subprocess.run(
            [
                spy,
                "record",
                "--pid",
                str(started.pid),
                "--subprocesses",
                "--duration",
                str(max(2, round(load.seconds) - 2)),
                "--format",
                "raw",
                "--full-filenames",
                "--rate",
                "200",
                "--gil",
                "--output",
                str(out),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        load.result(wrk)
        if not out.exists():
            return f"{label}: py-spy failed: {spy_run.stderr.strip()[-500:]}"
        return f"{label} — {load.describe()}\n\n" + summarize(out.read_text())
