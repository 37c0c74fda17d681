"""Benchmark 3: start throughput, aioremotion against the official Python SDK.

N renders (100 and 1,000) are started as fast as each client allows against the local
emulator, which throttles (HTTP 429, ``ConcurrentInvocationLimitExceeded``) beyond a fixed
account concurrency, like an AWS account at its limit. The renders are short (Square,
2 chunks), so every start, launch and renderer takes a slot for a moment.

* aioremotion: ``RemotionLambda.render_media`` behind the ``StartPacer`` that ``Batch`` and
  ``render_many`` use (an AIMD window of concurrent starts, at most 50, halved on a 429);
  throttled invokes are retried with full-jitter backoff (botocore's own retries are off).
* official SDK (``remotion-lambda`` 4.0.539): ``AsyncRemotionClient.render_media_on_lambda``
  for all N at once with ``asyncio.gather`` (it runs the sync boto3 client in the event
  loop's default thread pool; botocore's default retries handle the 429s).

The emulator runs in its own process (a fresh one per measurement), so the process CPU
measured around the start phase is the client's alone. Duplicate starts: the renders the
emulator started (its count, and the distinct ``renders/<id>/progress.json`` in the bucket)
against the renders the client was told it started.

Run: ``python benchmarks/start_throughput.py [--quick]``; writes
``benchmarks/results/start_throughput.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from benchmarks._common import cpu_seconds, peak_rss_mb, print_table, write_results
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from _common import (  # type: ignore[no-redef]
        cpu_seconds,
        peak_rss_mb,
        print_table,
        write_results,
    )

SCRIPT = Path(__file__).resolve()
ACCESS_KEY = SECRET_KEY = "testing"
ACCOUNT_CONCURRENCY = 50
FRAME_COST_MS = 5.0
INVOKE_LATENCY_MS = 20.0
WARMUP = 2


@dataclass(frozen=True)
class Mode:
    """How the emulated account behaves: how long a start invocation takes (holding its
    concurrency slot) and how long a render holds its three slots (launch + 2 renderers);
    ``render_ms=None`` runs the emulator's own simulated renders instead."""

    name: str
    start_latency_ms: float
    render_ms: float | None


MODES = [
    Mode("instant starts", start_latency_ms=0, render_ms=100),
    Mode("200 ms starts", start_latency_ms=200, render_ms=100),
]
EMULATED_RENDERS = Mode("emulated renders", start_latency_ms=0, render_ms=None)


# ----------------------------------------------------------------- emulator process


async def serve_emulator(args: argparse.Namespace) -> None:
    """The emulator; answers ``stats`` on stdin with a JSON line, stops at ``quit``."""
    from aioremotion.emulator import EmulatorConfig, RemotionEmulator

    config = EmulatorConfig(account_concurrency=args.account_concurrency,
                            frame_cost_ms=args.frame_cost_ms,
                            invoke_latency_ms=args.invoke_latency_ms)
    async with RemotionEmulator(config=config) as emulator:
        functions = emulator.functions
        assert functions is not None
        if args.start_latency_ms:
            # what the start routine takes on AWS (it writes the initial progress and
            # invokes the launch function) while holding its concurrency slot
            original_start = functions._start

            async def slow_start(function_name: str, payload: dict[str, Any]) -> Any:
                await asyncio.sleep(args.start_latency_ms / 1000)
                return await original_start(function_name, payload)

            functions._start = slow_start  # type: ignore[method-assign]
        if args.render_ms is not None:
            # the render itself: the launch and its two renderers hold three concurrency
            # slots for render_ms, with no S3 traffic (moto would be the bottleneck)
            original_spawn = functions.spawn

            def spawn(launch: Any) -> None:
                async def simulated() -> None:
                    async with functions.lambda_slot(), functions.lambda_slot(), \
                            functions.lambda_slot():
                        await asyncio.sleep(args.render_ms / 1000)

                original_spawn(simulated)

            functions.spawn = spawn  # type: ignore[method-assign]
        print(json.dumps({**emulator.env, "lambda": emulator.lambda_endpoint,
                          "s3": emulator.s3_endpoint}), flush=True)
        loop = asyncio.get_running_loop()
        while True:
            command = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if command != "stats":
                return
            print(json.dumps({
                "renders_started": functions.renders_started,
                "start_invocations": len(emulator.server.invocations_of("start")),
                "throttled": functions.throttled,
                "peak_functions": functions.peak_functions,
                "active_functions": functions.active_functions,
                "running_renders": emulator.running_renders,
                "cpu_seconds": cpu_seconds(),
            }), flush=True)


class Emulator:
    """The emulator subprocess, seen from the benchmark."""

    def __init__(self, proc: asyncio.subprocess.Process, env: dict[str, str]) -> None:
        self.proc = proc
        self.env = env

    @classmethod
    async def start(cls, mode: Mode) -> Emulator:
        extra = ["--start-latency-ms", str(mode.start_latency_ms)]
        if mode.render_ms is not None:
            extra += ["--render-ms", str(mode.render_ms)]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SCRIPT), "--role", "emulator",
            "--account-concurrency", str(ACCOUNT_CONCURRENCY),
            "--frame-cost-ms", str(FRAME_COST_MS),
            "--invoke-latency-ms", str(INVOKE_LATENCY_MS), *extra,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the emulator did not start")
        return cls(proc, json.loads(line))

    async def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(b"stats\n")
        await self.proc.stdin.drain()
        return dict(json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 30)))

    async def settle(self, timeout: float = 120) -> dict[str, Any]:
        """Wait until every render has ended; the final stats."""
        end = time.monotonic() + timeout
        while True:
            stats = await self.stats()
            if (stats["running_renders"] == 0 and stats["active_functions"] == 0) or (
                time.monotonic() > end
            ):
                return stats
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"quit\n")
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.terminate()
                await self.proc.wait()


# ----------------------------------------------------------------- the two clients


def _aio_client(env: dict[str, str]) -> Any:
    from aiobotocore.session import AioSession

    from aioremotion import RemotionLambda

    session = AioSession()
    session.set_credentials(ACCESS_KEY, SECRET_KEY)
    return RemotionLambda(
        region=env["AWS_REGION"], function_name=env["REMOTION_FUNCTION_NAME"],
        session=session, s3_addressing_style="path",
        endpoint_urls={"lambda": env["lambda"], "s3": env["s3"]},
    )


async def _render_ids_in_bucket(env: dict[str, str]) -> set[str]:
    from aioremotion.transport import list_all_objects

    async with _aio_client(env) as remotion:
        ids: set[str] = set()
        for item in await list_all_objects(remotion.transport, env["REMOTION_BUCKET"],
                                           "renders/"):
            parts = item.key.split("/")
            if len(parts) == 3 and parts[2] == "progress.json":
                ids.add(parts[1])
        return ids


async def start_with_aioremotion(env: dict[str, str], n: int) -> dict[str, Any]:
    from aioremotion.fanout import StartPacer
    from aioremotion.retry import ThrottleRetry, retry_throttled

    options = {"serve_url": env["REMOTION_SERVE_URL"], "composition": "Square",
               "codec": "h264", "frames_per_lambda": 15, "input_props": {"color": "#00ff00"}}
    async with _aio_client(env) as remotion:
        pacer = StartPacer(maximum=50)  # as in Batch(max_concurrent_starts=50)
        once = ThrottleRetry(attempts=1)

        async def send() -> str:  # as Batch sends a start: one attempt in the window
            async with pacer:
                handle = await remotion.render_media(options, throttle_retry=once)
            return str(handle.render_id)

        async def one() -> str:  # ... retried by the one retry layer, outside the window
            return await retry_throttled(send, remotion.throttle_retry, sleep=asyncio.sleep,
                                         on_throttle=pacer.on_throttle)

        for _ in range(WARMUP):
            await one()
        throttles_before = pacer.throttles
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        return {"results": results, "wall_s": wall, "cpu_s": cpu,
                "client_saw_throttles": pacer.throttles - throttles_before,
                "min_window": None}


async def start_with_official_sdk(env: dict[str, str], n: int) -> dict[str, Any]:
    import boto3
    from remotion_lambda import AsyncRemotionClient
    from remotion_lambda.models import RenderMediaParams
    from remotion_lambda.version import VERSION as sdk_version

    from aioremotion.protocol.naming import speculate_function_name

    # The SDK reaches the emulator through the environment alone, as it would reach AWS.
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    sdk = AsyncRemotionClient(
        region=env["AWS_REGION"], serve_url=env["REMOTION_SERVE_URL"],
        # a function of the SDK's own version (any well-formed name is deployed)
        function_name=speculate_function_name(version=sdk_version, memory_mb=2048,
                                              disk_mb=2048, timeout_s=120),
        session=boto3.Session(region_name=env["AWS_REGION"]),
    )

    async def one() -> str:
        response = await sdk.render_media_on_lambda(RenderMediaParams(
            composition="Square", frames_per_lambda=15, input_props={"color": "#00ff00"}))
        assert response is not None
        return str(response.render_id)

    for _ in range(WARMUP):
        await one()
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return {"results": results, "wall_s": wall, "cpu_s": cpu, "client_saw_throttles": None}


CLIENTS = {
    "aioremotion": start_with_aioremotion,
    "official SDK (async)": start_with_official_sdk,
}


async def measure(mode: Mode, client: str, n: int) -> dict[str, Any]:
    emulator = await Emulator.start(mode)
    try:
        before = await emulator.stats()
        run = await CLIENTS[client](emulator.env, n)
        stats = await emulator.settle()
        in_bucket = await _render_ids_in_bucket(emulator.env)
    finally:
        await emulator.stop()
    results = run["results"]
    ok = [r for r in results if isinstance(r, str)]
    failed = [r for r in results if not isinstance(r, str)]
    believed = len(set(ok)) + WARMUP
    errors: dict[str, int] = {}
    for exc in failed:
        key = f"{type(exc).__name__}: {str(exc)[:120]}"
        errors[key] = errors.get(key, 0) + 1
    return {
        "mode": mode.name,
        "client": client,
        "n": n,
        "started": len(ok),
        "failed": len(failed),
        "starts_per_s": len(ok) / run["wall_s"],
        "wall_s": run["wall_s"],
        "cpu_ms_per_start": run["cpu_s"] / max(1, len(ok)) * 1000,
        "cpu_s": run["cpu_s"],
        "throttled_429": stats["throttled"] - before["throttled"],
        "start_invocations": stats["start_invocations"] - before["start_invocations"],
        "emulator_renders_started": stats["renders_started"],
        "renders_in_bucket": len(in_bucket),
        "client_believes_started": believed,
        "duplicate_starts": stats["renders_started"] - believed,
        "unknown_ids_in_bucket": len(in_bucket - set(ok)) - WARMUP,
        "peak_functions": stats["peak_functions"],
        "emulator_cpu_s": stats["cpu_seconds"] - before["cpu_seconds"],
        "errors": errors,
    }


async def run(modes: list[Mode], sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for mode in modes:
        for n in sizes:
            for client in CLIENTS:
                print(f"[{mode.name}] starting {n} renders with {client}...", flush=True)
                rows.append(await measure(mode, client, n))
                row = rows[-1]
                print(f"  {row['starts_per_s']:.1f} starts/s, {row['cpu_ms_per_start']:.2f} "
                      f"ms CPU/start, {row['throttled_429']} throttled, "
                      f"{row['duplicate_starts']} duplicates, {row['failed']} failed",
                      flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 100 only")
    parser.add_argument("--emulated-renders", action="store_true",
                        help="also measure N = 100 with the emulator's full simulated renders "
                             "(its S3 work makes the emulator the bottleneck)")
    parser.add_argument("--role", choices=["main", "emulator"], default="main",
                        help=argparse.SUPPRESS)
    parser.add_argument("--account-concurrency", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--frame-cost-ms", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--invoke-latency-ms", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--start-latency-ms", type=float, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--render-ms", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "emulator":
        asyncio.run(serve_emulator(args))
        return
    sizes = [100] if args.quick else [100, 1000]
    load_before = os.getloadavg()
    rows = asyncio.run(run(MODES, sizes))
    if args.emulated_renders:
        rows += asyncio.run(run([EMULATED_RENDERS], [100]))
    columns = ["mode", "client", "n", "started", "failed", "starts_per_s", "cpu_ms_per_start",
               "throttled_429", "start_invocations", "emulator_renders_started",
               "renders_in_bucket", "client_believes_started", "duplicate_starts",
               "emulator_cpu_s"]
    print_table(f"Start throughput (account concurrency {ACCOUNT_CONCURRENCY}; {WARMUP} "
                "warm-up starts per run, not timed but counted)", rows, columns)
    ratios: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["client"] != "aioremotion":
            continue
        sdk = next(r for r in rows if r["mode"] == row["mode"] and r["n"] == row["n"]
                   and r["client"] != "aioremotion")
        key = f"{row['mode']} N={row['n']}"
        ratios[key] = {
            "throughput_ratio": round(row["starts_per_s"] / sdk["starts_per_s"], 2),
            "cpu_per_start_ratio": round(sdk["cpu_ms_per_start"] / row["cpu_ms_per_start"], 2),
        }
        print(f"{key}: aioremotion {ratios[key]['throughput_ratio']:.1f}x the official async "
              f"client's starts/s, {ratios[key]['cpu_per_start_ratio']:.1f}x less CPU per start")
    at_1000 = {k: v["throughput_ratio"] for k, v in ratios.items() if k.endswith("N=1000")}
    for key, ratio in at_1000.items():
        print(f"target >= 10x at N=1000 [{key}]: {ratio:.1f}x "
              f"({'met' if ratio >= 10 else 'MISSED'})")
    aio_dupes = sum(r["duplicate_starts"] for r in rows if r["client"] == "aioremotion")
    print(f"aioremotion duplicate starts: {aio_dupes} (must be 0)")
    write_results("start_throughput", {
        "quick": args.quick,
        "setup": {"account_concurrency": ACCOUNT_CONCURRENCY,
                  "modes": [m.__dict__ for m in MODES]
                  + ([EMULATED_RENDERS.__dict__] if args.emulated_renders else []),
                  "composition": "Square", "frames_per_lambda": 15, "warmup_starts": WARMUP,
                  "aioremotion_pacer": "StartPacer(initial=8, maximum=50) as in Batch",
                  "sdk_thread_pool": "asyncio default executor, min(32, cpus + 4) = "
                                     f"{min(32, (os.cpu_count() or 1) + 4)} threads",
                  "load_average_before": load_before, "load_average_after": os.getloadavg(),
                  "peak_rss_mb": peak_rss_mb()},
        "rows": rows,
        "ratios": ratios,
        "targets": {"throughput_ratio_at_1000": at_1000, "target": 10.0,
                    "aioremotion_duplicate_starts": aio_dupes},
    })


if __name__ == "__main__":
    main()
