"""CPU time and resident memory of processes, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def find_processes(marker: bytes, under: int | None = None) -> list[int]:
    """Pids whose command line contains ``marker``; with ``under``, only that pid's descendants."""
    parents: dict[int, int] = {}
    matches: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[pid] = int(stat[1])
        if marker in cmdline:
            matches.append(pid)
    if under is None:
        return sorted(matches)

    def descends(pid: int) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            pid = parents.get(pid, 0)
            if pid == under:
                return True
            seen += 1
        return False

    return sorted(pid for pid in matches if descends(pid))


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def rss_kib(pids: list[int]) -> int:
    """Resident set size of the processes, summed, in KiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


#: /proc/<pid>/status fields of a process's memory: resident now (anonymous, file-backed, shared
#: memory), and the resident peak since it started.
MEMORY_FIELDS = ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM")


def memory_kib(pid: int) -> dict[str, int]:
    """A process's :data:`MEMORY_FIELDS` in KiB (empty if the process is gone)."""
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in MEMORY_FIELDS:
                fields[key] = int(value.split()[0])
    except OSError:
        return {}
    return fields


@dataclass(frozen=True)
class ProcessSample:
    """CPU seconds and RSS of a set of processes at one moment."""

    cpu_s: float
    rss_kib: int

    @classmethod
    def of(cls, pids: list[int]) -> ProcessSample:
        return cls(cpu_seconds(pids), rss_kib(pids))


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (every core, any process) since boot."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS
