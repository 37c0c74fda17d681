"""Push scale: 100,000 renders in flight in one process, each waiting on the hub.

One process runs ``wait(client, render, WatchOptions(safety_poll_s=60), hub=hub)`` for N
renders (default 100,000) against the fast S3 stand-in (``_fake_s3.py``, its own process,
so its CPU is not counted here) and one :class:`~aioremotion.hub.LocalHub`. Renders start
over ``--ramp`` seconds; each one's outcome is published to the hub at a time drawn
uniformly from ``--min-life`` to ``--max-life`` seconds after its start (min-life >= ramp,
so all N are in flight at once). This is the production path: real time, anyio's own
sleep (each sleeping watch is one cancel scope on the hub's event: no task per waiter).

Outcomes are ``error`` webhooks: the stand-in's renders never finish, so a ``success``
would make its watch read on (a real success costs exactly one more GET: measured on the
emulator by ``push_cost.py``). A watch reads progress.json once when it starts, then
once per ``safety_poll_s`` while no outcome has come.

Measured: peak RSS (and the baseline before any watch), RSS per render, CPU seconds of
this process, S3 requests (counted at the client's progress reader and by the stand-in),
and the latency from ``hub.publish`` to ``wait`` returning (p50/p99/max, real seconds).

Run: ``python benchmarks/push_scale.py [--renders N] [--quick]``; writes
``benchmarks/results/push_scale.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    FAKE_S3_ENV,
    cpu_seconds,
    fake_s3,
    peak_rss_mb,
    percentile,
    print_table,
    write_results,
)

BUCKET = "remotionlambda-useast1-benchfanout"
FUNCTION = "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec"
REGION = "us-east-1"


def current_rss_mb() -> float:
    """Resident memory now, in MB (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def stand_in_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__stats", timeout=10) as reply:
        return dict(json.loads(reply.read()))


async def run(args: argparse.Namespace, port: int) -> dict[str, Any]:
    from aioremotion import RemotionLambda, RenderHandle
    from aioremotion.events import RenderFailed
    from aioremotion.hub import LocalHub, RenderOutcome
    from aioremotion.watching import WatchOptions, wait

    n = args.renders
    rng = random.Random(20261201)
    starts = [args.ramp * i / n for i in range(n)]
    lives = [rng.uniform(args.min_life, args.max_life) for _ in range(n)]
    hub = LocalHub(max_kept=n)
    options = WatchOptions(safety_poll_s=args.safety)
    reads = {"progress": 0, "head": 0}
    published: dict[int, float] = {}
    latencies: list[float] = []
    state = {"in_flight": 0, "peak_in_flight": 0, "ended": 0, "other": 0}
    endpoint = f"http://127.0.0.1:{port}"

    async with RemotionLambda(region=REGION, function_name=FUNCTION,
                              endpoint_urls={"s3": endpoint, "lambda": endpoint}) as client:
        reader = client.progress_reader
        read, head = reader.read, reader.head_output

        async def counted_read(*a: Any, **k: Any) -> Any:
            reads["progress"] += 1
            return await read(*a, **k)

        async def counted_head(*a: Any, **k: Any) -> Any:
            reads["head"] += 1
            return await head(*a, **k)

        reader.read = counted_read  # type: ignore[method-assign]
        reader.head_output = counted_head  # type: ignore[method-assign]

        async def follow(index: int) -> None:
            handle = RenderHandle(render_id=f"r{index:09d}", bucket_name=BUCKET,
                                  region=REGION, function_name=FUNCTION)
            state["in_flight"] += 1
            state["peak_in_flight"] = max(state["peak_in_flight"], state["in_flight"])
            try:
                await wait(client, handle, options, hub=hub)
                state["other"] += 1
            except RenderFailed:
                latencies.append(time.monotonic() - published[index])
                state["ended"] += 1
            except Exception:
                state["other"] += 1
            finally:
                state["in_flight"] -= 1

        async def publisher(t0: float) -> None:
            due = [(starts[i] + lives[i], i) for i in range(n)]
            heapq.heapify(due)
            while due:
                at, index = due[0]
                delay = t0 + at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(min(delay, 0.05))
                    continue
                heapq.heappop(due)
                published[index] = time.monotonic()
                await hub.publish(RenderOutcome.from_webhook(
                    {"type": "error", "renderId": f"r{index:09d}", "bucketName": BUCKET,
                     "errors": [{"message": "simulated failure", "name": "Error"}]},
                    received_at=time.time()))

        samples: list[list[float]] = []

        async def sampler(t0: float) -> None:
            while True:
                samples.append([round(time.monotonic() - t0, 1), state["in_flight"],
                                round(current_rss_mb(), 1)])
                await asyncio.sleep(2.0)

        baseline = current_rss_mb()
        stats_before = stand_in_stats(port)
        cpu0, t0 = cpu_seconds(), time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        side = [asyncio.create_task(publisher(t0)), asyncio.create_task(sampler(t0))]
        next_index = 0
        while next_index < n:  # start the renders on their schedule (batches every 10 ms)
            now = time.monotonic() - t0
            while next_index < n and starts[next_index] <= now:
                tasks.append(asyncio.create_task(follow(next_index)))
                next_index += 1
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
        cpu, wall = cpu_seconds() - cpu0, time.monotonic() - t0
        for task in side:
            task.cancel()
        stats_after = stand_in_stats(port)
        await hub.aclose()
    peak = peak_rss_mb()
    lives_over = sum(1 for life in lives if life >= args.safety)
    requests = reads["progress"] + reads["head"]
    return {
        "renders": n,
        "ramp_s": args.ramp,
        "life_s": [args.min_life, args.max_life],
        "safety_poll_s": args.safety,
        "peak_in_flight": state["peak_in_flight"],
        "ended_on_outcome": state["ended"],
        "other_endings": state["other"],
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpu_ms_per_render": round(cpu / n * 1000, 3),
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_kb_per_render": round((peak - baseline) * 1024 / n, 2),
        "s3_requests": requests,
        "s3_requests_per_render": round(requests / n, 3),
        "stand_in_requests": {key: stats_after.get(key, 0) - stats_before.get(key, 0)
                              for key in stats_after if isinstance(stats_after[key], int)},
        "renders_living_past_one_safety_poll": lives_over,
        "publish_to_end_p50_ms": round(1000 * (percentile(latencies, 50) or 0), 2),
        "publish_to_end_p99_ms": round(1000 * (percentile(latencies, 99) or 0), 2),
        "publish_to_end_max_ms": round(1000 * max(latencies, default=0.0), 2),
        "samples": samples,
        "load_average_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="10,000 renders, shorter")
    parser.add_argument("--ramp", type=float, default=None, help="seconds to start them all")
    parser.add_argument("--min-life", type=float, default=None)
    parser.add_argument("--max-life", type=float, default=None)
    parser.add_argument("--safety", type=float, default=60.0, help="safety_poll_s")
    args = parser.parse_args()
    if args.quick:
        defaults = {"renders": 10_000, "ramp": 10.0, "min_life": 10.0, "max_life": 80.0}
    else:
        defaults = {"renders": 100_000, "ramp": 40.0, "min_life": 40.0, "max_life": 160.0}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    os.environ.update(FAKE_S3_ENV)
    os.environ.pop("AWS_PROFILE", None)
    load_before = os.getloadavg()
    with fake_s3(args.renders) as port:
        result = asyncio.run(run(args, port))
    result["load_average_before"] = load_before
    print_table(f"{result['renders']:,} renders waiting on a LocalHub in one process "
                f"(safety poll {args.safety:g} s)", [result],
                ["renders", "peak_in_flight", "wall_s", "cpu_s", "baseline_rss_mb",
                 "peak_rss_mb", "rss_kb_per_render", "s3_requests_per_render",
                 "publish_to_end_p50_ms", "publish_to_end_p99_ms", "ended_on_outcome"])
    write_results("push_scale_quick" if args.quick else "push_scale",
                  {"quick": args.quick, **result})
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
