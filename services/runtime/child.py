"""Calling a function in a child process, so its imports never enter this one.

The router trains its intent classifier with scikit-learn at start, and a module once imported
stays for the life of the process: scikit-learn and scipy held ~100 MiB of the router's RSS
(benchmarks/router_memory.py) for the few seconds of fitting they were needed. A child process
is a fresh interpreter: it imports what the call needs, sends back the pickled result and exits,
taking those modules with it.

The child is ``sys.executable`` running a few lines that take the parent's ``sys.path``, then
one call, over a socket pair. multiprocessing's "spawn" does much the same but adds two things
not wanted here: it imports the parent's ``__main__`` again in the child (``services.cli`` and
all it imports, 0.7 s of the router's start; a script without an ``if __name__ == "__main__"``
guard would run again), and it writes a Process's arguments into a pipe whose reading end the
parent itself still holds, so a child that dies before reading a large argument leaves the
parent blocked for ever. A fork would copy the parent's threads' locks (gRPC's, onnxruntime's)
in whatever state they are. The child shares the parent's stdout and stderr (warnings, a crash).
"""

from __future__ import annotations

import importlib
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# What the child runs: take the parent's sys.path (so every module resolves as it does there),
# then serve one call.
_BOOTSTRAP = """\
import sys
from multiprocessing.connection import Connection

connection = Connection(int(sys.argv[1]))
sys.path[:] = connection.recv()
from services.runtime.child import _child_main

_child_main(connection)
"""


class ChildProcessFailed(RuntimeError):
    """The function raised in the child process, or the child died before it answered."""


class Child:
    """A child process that makes one call for this one.

    Started on construction, so it can import what the call needs (``preload``, module names)
    while this process prepares the call's arguments; :meth:`call` sends the call and waits for
    the answer. Use it as a context manager: leaving the block stops a child that has not
    answered (the arguments could not be prepared, say).
    """

    def __init__(self, what: str, preload: Sequence[str] = ()) -> None:
        """``what`` names the work in errors."""
        self.what = what
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
            )
        self._connection = Connection(ours.detach())
        self._answered = False
        try:
            # Small messages: they never wait for the child to read them.
            self._connection.send(list(sys.path))
            self._connection.send(tuple(preload))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the child is gone already: call() reports how it ended

    def call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args, **kwargs)`` in the child: its result, or ChildProcessFailed.

        ``function``, its arguments and its result must pickle: plain data, and a function
        defined at the top of an importable module (not in ``__main__``, which the child does
        not import). The error reads "<what> failed in a child process: <the child's exception>",
        then the child's traceback. A child that dies without answering (killed, out of memory,
        a crash in C) is reported with its exit code; the call never waits for an answer that
        cannot come.
        """
        try:
            self._connection.send((function, args, kwargs))
            status, payload = self._connection.recv()
            self._answered = True
        except (EOFError, BrokenPipeError, ConnectionResetError):
            code = self._process.wait()
            raise ChildProcessFailed(
                f"{self.what} failed: its child process exited with code {code} before "
                "answering (its stderr says why)"
            ) from None
        finally:
            self.close()
        if status == "error":
            summary, child_traceback = payload
            raise ChildProcessFailed(
                f"{self.what} failed in a child process: {summary}\n\n"
                f"the child's traceback:\n{child_traceback}"
            )
        result: T = payload
        return result

    def close(self) -> None:
        """Stop the child unless it has answered (then it exits by itself); wait for it."""
        self._connection.close()
        if self._process.poll() is not None:
            return
        if not self._answered:
            self._process.kill()
        try:
            self._process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def call_in_child(what: str, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``function(*args, **kwargs)`` in a new child process (see :meth:`Child.call`)."""
    with Child(what) as child:
        return child.call(function, *args, **kwargs)


def _child_main(connection: Connection) -> None:
    """The child's side: preload, then one call, its result or its exception sent back."""
    try:
        preload: tuple[str, ...] = connection.recv()
        try:
            for name in preload:
                importlib.import_module(name)
        finally:
            # Read the call even when a module failed to import: the parent is sending it.
            function, args, kwargs = connection.recv()
        reply: tuple[str, Any] = ("ok", function(*args, **kwargs))
    except BaseException as exc:  # the parent re-raises whatever it was
        reply = ("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    try:
        connection.send(reply)
    except Exception as exc:  # the result does not pickle: say so instead
        summary = f"its result could not be sent back: {type(exc).__name__}: {exc}"
        connection.send(("error", (summary, traceback.format_exc())))
    connection.close()
