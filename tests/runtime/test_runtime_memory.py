"""Freed heap memory handed back to the operating system (services/runtime/memory.py)."""

from __future__ import annotations

import sys

import pytest

from services.runtime.memory import release_freed_memory


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc are Linux's")
def test_freed_heap_pages_go_back_to_the_system() -> None:
    # 3,000 blocks of 64 KiB come from the heap (below glibc's mmap threshold); keeping every
    # tenth and the last pins the heap's top, so freeing the rest leaves ~170 MiB of free pages
    # inside it that only malloc_trim hands back.
    blocks = [bytearray(64 * 1024) for _ in range(3000)]
    for block in blocks:
        block[::4096] = b"x" * len(block[::4096])  # touch every page
    kept = [block for i, block in enumerate(blocks) if i % 10 == 0 or i == len(blocks) - 1]
    del blocks
    before = _rss_kib()
    assert release_freed_memory()
    after = _rss_kib()
    assert before - after > 100 * 1024, (before, after)
    assert len(kept) == 301
