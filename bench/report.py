"""Reports: one markdown file per benchmark in ``bench/results/``.

Each report says what produced it (the command), where (the machine and how loaded it
was), every figure beside its ceiling and the ratio, the CPU and memory of every process
group while it was measured, and each goal as met or missed.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.procstat import GroupUsage

RESULTS = Path(__file__).resolve().parent / "results"


def _run(*command: str) -> str:
    if shutil.which(command[0]) is None:
        return "not installed"
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=15, check=False)
    except subprocess.TimeoutExpired:
        return "no answer"
    return (result.stdout or result.stderr).strip()


def machine() -> dict[str, str]:
    """The machine, the software versions and how busy the box is right now."""
    lscpu = _run("lscpu")
    model = next(
        (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line),
        platform.processor() or "unknown",
    )
    memory = next(
        (line.split()[1] for line in _run("free", "-m").splitlines() if line.startswith("Mem:")),
        "?",
    )
    load = os.getloadavg()
    root = Path(__file__).resolve().parent.parent
    commit = _run("git", "-C", str(root), "rev-parse", "--short", "HEAD")
    return {
        "cpus (nproc)": _run("nproc"),
        "cpu model": model,
        "memory": f"{memory} MiB",
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "postgresql": _run("psql", "--version"),
        "rabbitmq": _run("rabbitmqctl", "-q", "version"),
        "wrk": _run("wrk", "--version").splitlines()[0] if shutil.which("wrk") else "missing",
        "load average (1/5/15 min) at start": f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
        "CPU pressure at start (/proc/pressure/cpu, some)": _cpu_pressure(),
        "scheduler": _scheduler(),
        "commit": commit,
    }


def _cpu_pressure() -> str:
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"
    fields = dict(part.split("=") for part in line.split()[1:])
    return f"{fields.get('avg10', '?')}% (10 s), {fields.get('avg60', '?')}% (60 s)"


def _scheduler() -> str:
    try:
        autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return "unknown"
    if autogroup == "1":
        return (
            "autogroup on: each session (each started server, each engineer's test run) "
            "gets an equal share of the cores when they are contended"
        )
    return "autogroup off"


@dataclass
class Figure:
    """A measured figure beside what the parts underneath allow in the same run."""

    name: str
    value: float | None
    unit: str
    ceiling: float | None = None
    ceiling_name: str = ""
    # False where the ceiling is shown for reference but a ratio would mean nothing (the
    # no-op run uses next to no PostgreSQL or RabbitMQ).
    compared: bool = True

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.ceiling or not self.compared:
            return None
        return self.value / self.ceiling


@dataclass
class Goal:
    text: str
    met: bool | None  # None: could not be measured
    measured: str

    @property
    def verdict(self) -> str:
        return {True: "**met**", False: "**MISSED**", None: "not measured"}[self.met]


@dataclass
class Usage:
    """CPU and memory of the process groups during one measured window."""

    label: str
    seconds: float
    groups: dict[str, GroupUsage]


@dataclass
class Report:
    name: str
    title: str
    command: str
    machine: dict[str, str] = field(default_factory=machine)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    setup: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    usage: list[Usage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str = ""
    sections: dict[str, str] = field(default_factory=dict)  # title → preformatted text

    def to_markdown(self) -> str:
        lines = [
            f"# {self.title}",
            "",
            f"Produced by `{self.command}` at {self.started_at:%Y-%m-%d %H:%M} UTC.",
            "",
            "## Machine",
            "",
            *(f"- {key}: {value}" for key, value in self.machine.items()),
            "",
        ]
        if self.setup:
            lines += ["## Setup", "", *(f"- {item}" for item in self.setup), ""]
        lines += [
            "## Figures",
            "",
            "| figure | value | ceiling | ratio |",
            "|---|---:|---:|---:|",
        ]
        for figure in self.figures:
            ceiling = (
                f"{_number(figure.ceiling)} {figure.unit} ({figure.ceiling_name})"
                if figure.ceiling is not None
                else "—"
            )
            ratio = f"{figure.ratio:.0%}" if figure.ratio is not None else "—"
            value = f"{_number(figure.value)} {figure.unit}" if figure.value is not None else "—"
            lines.append(f"| {figure.name} | {value} | {ceiling} | {ratio} |")
        lines.append("")
        if self.goals:
            lines += ["## Goals", "", "| goal | measured | verdict |", "|---|---|---|"]
            lines += [f"| {g.text} | {g.measured} | {g.verdict} |" for g in self.goals]
            lines.append("")
        for usage in self.usage:
            lines += [
                f"### CPU and memory: {usage.label} ({usage.seconds:.1f} s)",
                "",
                "CPU is a share of one core (the machine has "
                f"{self.machine.get('cpus (nproc)', '?')}); memory is the group's peak.",
                "",
                "| process group | processes | CPU | peak RSS | peak PSS |",
                "|---|---:|---:|---:|---:|",
            ]
            for name, group in usage.groups.items():
                lines.append(
                    f"| {name} | {group.processes} | {group.cpu_percent:.0f}% "
                    f"| {group.peak_rss_mib:.0f} MiB | {group.peak_pss_mib:.0f} MiB |"
                )
            lines.append("")
        if self.notes:
            lines += ["## Notes", "", *(f"- {note}" for note in self.notes), ""]
        if self.profile:
            lines += ["## Profile", "", "```", self.profile.rstrip(), "```", ""]
        for title, body in self.sections.items():
            lines += [f"## {title}", "", "```", body.rstrip(), "```", ""]
        return "\n".join(lines)

    def write(self, directory: Path = RESULTS) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.md"
        path.write_text(self.to_markdown())
        return path


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
