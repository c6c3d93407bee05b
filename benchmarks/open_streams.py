"""Open streams: how many concurrent Converse streams one router process holds, and their memory.

    .venv/bin/python benchmarks/open_streams.py                     # up to 2,000 streams
    .venv/bin/python benchmarks/open_streams.py --steps 500 1000 2000 4000 --channels 16

Runs `switchboard up` on free ports (one router process), then opens Converse streams in steps
and keeps them open and idle. Each stream proves the router holds it before it counts: it sends
one empty ConverseRequest and waits for the router's answer on that stream (an error event
"a ConverseRequest needs a turn or cancel"; the stream stays open). At each step the router
process's resident memory (/proc/<pid>/status VmRSS) and open file descriptors are read, and
the memory per stream is the growth since no stream was open divided by the streams. With every
stream open, a few of them then carry a real turn ("Is flight UA 123 on time?") to show an open
stream still serves, with its latency. Streams are spread over --channels HTTP/2 connections.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from benchkit import UpMesh, rss_kib, summarize
from grpc import aio

from switchboard.v1 import router_pb2, router_pb2_grpc

EOF: object = getattr(aio, "EOF")  # noqa: B009 - grpc.aio exports it without a stub entry


class Stream:
    """One open Converse call and the queue that feeds it."""

    def __init__(self, stub: router_pb2_grpc.RouterServiceStub) -> None:
        self.outbox: asyncio.Queue[router_pb2.ConverseRequest | None] = asyncio.Queue()
        self.call: Any = stub.Converse(self._requests())

    async def _requests(self) -> Any:
        while (request := await self.outbox.get()) is not None:
            yield request

    async def open(self) -> None:
        """Send an empty request and wait for the router's answer: the router holds the stream."""
        await self.outbox.put(router_pb2.ConverseRequest())
        response = await asyncio.wait_for(self.call.read(), 30)
        if response is EOF or response.event.WhichOneof("event") != "error":
            raise RuntimeError(f"unexpected answer on a new stream: {response}")

    async def turn(self, session: str, text: str) -> float:
        started = time.perf_counter()
        await self.outbox.put(
            router_pb2.ConverseRequest(
                turn=router_pb2.ConverseTurn(session_id=session, text=text, channel="bench")
            )
        )
        while True:
            response = await asyncio.wait_for(self.call.read(), 30)
            if response is EOF:
                raise RuntimeError("the stream ended during a turn")
            kind = response.event.WhichOneof("event")
            if kind in ("turn_completed", "error"):
                if kind == "error":
                    raise RuntimeError(f"turn failed: {response.event.error}")
                return time.perf_counter() - started

    async def close(self) -> None:
        await self.outbox.put(None)
        self.call.cancel()


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return -1


async def run(up: UpMesh, steps: list[int], channels: int, turns: int) -> dict[str, Any]:
    pids = up.pids("router")
    if len(pids) != 1:
        raise RuntimeError(f"expected one router process, found {pids}")
    pid = pids[0]
    target = up.target("router")
    chans = [
        aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(channels)
    ]
    stubs = [router_pb2_grpc.RouterServiceStub(c) for c in chans]
    streams: list[Stream] = []
    rows: list[dict[str, Any]] = []
    try:
        for chan in chans:
            await asyncio.wait_for(chan.channel_ready(), 30)
        # A first stream and turn warm the router up before the baseline reading.
        warm = Stream(stubs[0])
        await warm.open()
        await warm.turn("streams-warm", "Is flight UA 123 on time?")
        await warm.close()
        await asyncio.sleep(1)  # let the router release the warm-up stream
        baseline = rss_kib([pid])
        base_fds = fd_count(pid)
        print(f"router pid {pid}: {baseline / 1024:.1f} MiB, {base_fds} fds with no stream open")
        for target_count in steps:
            started = time.perf_counter()
            while len(streams) < target_count:
                batch = [
                    Stream(stubs[(len(streams) + i) % channels])
                    for i in range(min(100, target_count - len(streams)))
                ]
                await asyncio.gather(*(s.open() for s in batch))
                streams.extend(batch)
            rss = rss_kib([pid])
            row = {
                "streams": len(streams),
                "open_s": round(time.perf_counter() - started, 2),
                "router_rss_mib": round(rss / 1024, 1),
                "kib_per_stream": round((rss - baseline) / len(streams), 1),
                "router_fds": fd_count(pid),
                "router_threads": threads(pid),
            }
            rows.append(row)
            print(
                f"{row['streams']:6d} streams open (+{row['open_s']} s): router RSS "
                f"{row['router_rss_mib']} MiB, {row['kib_per_stream']} KiB per stream, "
                f"{row['router_fds']} fds, {row['router_threads']} threads",
                flush=True,
            )
        latencies = []
        for n in range(turns):
            stream = streams[(n * 7919) % len(streams)]
            latencies.append(await stream.turn(f"streams-{n}", "Is flight UA 123 on time?"))
        turn = summarize(latencies)
        print(
            f"{turns} turns on open streams while {len(streams)} are open: "
            f"p50 {turn.p50_ms} ms, p99 {turn.p99_ms} ms"
        )
    finally:
        await asyncio.gather(*(s.close() for s in streams), return_exceptions=True)
        for chan in chans:
            await chan.close(None)
    last = rows[-1]
    return {
        "bench": "open_streams",
        "max_streams_held": last["streams"],
        "router_rss_mib_idle": round(baseline / 1024, 1),
        "router_rss_mib_at_max": last["router_rss_mib"],
        "kib_per_stream": last["kib_per_stream"],
        "turn_p50_ms_at_max": turn.p50_ms,
        "turn_p99_ms_at_max": turn.p99_ms,
        "steps": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--channels", type=int, default=8, help="HTTP/2 connections to use")
    parser.add_argument("--turns", type=int, default=20, help="turns on open streams at the end")
    args = parser.parse_args()
    steps = sorted(s for s in args.steps if 0 < s <= 20_000)
    with UpMesh() as up:
        figures = asyncio.run(run(up, steps, max(1, args.channels), args.turns))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
