"""Shared parts of the benchmarks: a mesh of processes on free ports, /proc readings, percentiles.

A package (not a ``benchmarks/*.py`` file) so that ``make bench`` does not run it as a benchmark.
"""

from benchkit.procstats import ProcessSample, cpu_seconds, find_processes, memory_kib, rss_kib
from benchkit.stats import Summary, percentile, summarize
from benchkit.up import UpMesh, free_ports

__all__ = [
    "ProcessSample",
    "Summary",
    "UpMesh",
    "cpu_seconds",
    "find_processes",
    "free_ports",
    "memory_kib",
    "percentile",
    "rss_kib",
    "summarize",
]
