"""Where the time goes: py-spy samples a process tree under load; a text summary of it.

py-spy records collapsed stacks ("frame;frame;frame count"); the summary lists the
functions that are on the CPU most (self) and the project's own frames that most
samples pass through (inclusive), which is what a missed goal's report shows.
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
        for frame in {_short(f) for f in frames if _is_project(f)}:
            inclusive[frame] += count
    if not total:
        return "py-spy recorded no busy samples"
    lines = [
        f"{total} busy samples (another {idle} of threads parked waiting for work left out)",
        "",
        "where the busy samples are (self; a leaf blocked in C, e.g. a socket read or an",
        "argon2 hash, shows as the Python frame that called it):",
    ]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "project frames those samples pass through (inclusive):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def _is_project(frame: str) -> bool:
    """A frame in this project's own code (py-spy runs with --full-filenames)."""
    return bool(PROJECT_FILE.search(frame))


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
