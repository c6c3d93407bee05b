"""Handing freed heap memory back to the operating system after a one-off load.

Building an onnxruntime session from weights held in Python (the PII tagger's read-out)
allocates and frees several copies of the weights. glibc keeps freed heap pages in its arenas
for reuse, so a service that loaded a model once holds on to memory it will never use again:
~130 MiB in the pii service (turn_load: 512 -> 383 MiB RSS). ``malloc_trim(0)`` returns them;
it is glibc's own call, and safe at any time. Elsewhere (musl, macOS) this does nothing. The
router calls it too once its classifier is built and trained, and the intent encoder after a
run with unusually large activations (benchmarks/router_memory.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)


@functools.cache
def _trim() -> ctypes._NamedFuncPointer | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


def release_freed_memory() -> bool:
    """Return free heap pages to the operating system; False where the C library cannot."""
    trim = _trim()
    if trim is None:
        log.debug("malloc_trim is not available: freed heap memory stays with the process")
        return False
    trim(0)
    return True
