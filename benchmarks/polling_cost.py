"""Benchmark 1: what watching a render costs, against how soon its end is noticed.

N renders of varied length (5 s to 4 min of Lambda time, log-uniform) run on the local
emulator, in *simulated time*: the emulator runs ``speed`` times faster, and so does every
watcher (the 1 s loops sleep ``1/speed`` s, aioremotion's watcher gets a clock and a sleep
scaled by ``speed``), so each strategy sees exactly what it would see at full length. All
times reported (durations, latencies, freshness) are simulated seconds. Every render is
watched by each of these strategies at once (all watch the *same* renders, so each
render's "output written" moment is the same for all and the comparison is paired):

  a  the Next.js template's loop: the status Lambda (``getRenderProgress``) every 1 s
  b  progress.json from S3 every 1 s, no ETag (the JS client's ``skipLambdaInvocation``)
  c  the official Python SDK's ``AsyncRemotionClient.get_render_progress`` every 1 s
  d  ``aioremotion.watching`` with ``PollPolicy.default()``
  e  ``aioremotion.watching`` with ``PollPolicy.cheap()`` (tuned for cost)
  f  (extra, not one of the issue's five) ``cheap()`` with ``eta_share=0``: the same
     policy without sleeping towards the predicted finish, to show what that rule buys

Each strategy runs in its own process, behind its own loopback proxies (one in front of
S3, one in front of the Lambda API) that record every request with its status, so the
counts are what each strategy really sent. The emulator runs in another process and
records the wall time of every progress.json write. Nothing shares a GIL with anything
it is measured against.

Run: ``python benchmarks/polling_cost.py [--renders N] [--quick]``; writes
``benchmarks/results/polling_cost.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from benchmarks._common import cpu_seconds, percentile, print_table, write_results
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from _common import (  # type: ignore[no-redef]
        cpu_seconds,
        percentile,
        print_table,
        write_results,
    )

SCRIPT = Path(__file__).resolve()
ACCESS_KEY = SECRET_KEY = "testing"
STRATEGIES = {
    "a": "template loop: status Lambda every 1 s",
    "b": "S3 every 1 s (skipLambdaInvocation)",
    "c": "official SDK AsyncRemotionClient every 1 s",
    "d": "aioremotion watch, PollPolicy.default()",
    "e": "aioremotion watch, PollPolicy.cheap()",
    # Not one of the five: cheap() without sleeping towards the predicted finish
    # (the policy before eta_share existed), to show what that rule buys. Not a target row.
    "f": "extra: cheap() with eta_share=0",
}

# Prices (us-east-1). S3 GET and HEAD: $0.0004 per 1,000 requests; a conditional GET
# answered 304 Not Modified is billed as a GET.
S3_GET_USD = 0.0004 / 1000
#: Billed duration assumed for one warm status-Lambda invocation (it reads progress.json
#: from S3 and computes the progress); the cost ratios scale with it (see "sensitivity").
STATUS_INVOKE_MS = 300
FUNCTION_MEMORY_MB = 2048
FUNCTION_DISK_MB = 2048


def status_invoke_usd(duration_ms: float = STATUS_INVOKE_MS) -> float:
    """What one status invocation costs: Lambda request + duration at the function's
    memory and disk, priced with aioremotion's port of Remotion's price table (computed
    for 1,000 invocations and divided, since the table rounds to 5 decimals), plus the
    one S3 GET of progress.json the status function itself makes."""
    from aioremotion.protocol.pricing import estimate_price

    per_1000 = estimate_price(region="us-east-1", memory_mb=FUNCTION_MEMORY_MB,
                              disk_mb=FUNCTION_DISK_MB, lambdas_invoked=1000,
                              duration_ms=1000 * duration_ms)
    return per_1000 / 1000 + S3_GET_USD


@dataclass(frozen=True)
class Setup:
    """The emulated workload (durations are Lambda time before the ``speed`` division)."""

    renders: int
    min_world_s: float
    max_world_s: float
    speed: float
    stagger_s: float
    frame_cost_ms: float = 300.0
    invoke_latency_ms: float = 800.0
    combine_cost_ms: float = 3000.0
    seed: int = 20240601


def plan_renders(setup: Setup) -> list[dict[str, Any]]:
    """Per render: when to start it and the options giving it its (log-uniform) length.

    A render takes about ``2 * invoke_latency + frames_per_lambda * frame_cost +
    combine_cost`` (its chunks run in parallel), so ``frames_per_lambda`` sets its length
    and the number of chunks (2-10) its width.
    """
    rng = random.Random(setup.seed)
    fixed_ms = 2 * setup.invoke_latency_ms + setup.combine_cost_ms
    plans = []
    for index in range(setup.renders):
        world_s = math.exp(rng.uniform(math.log(setup.min_world_s), math.log(setup.max_world_s)))
        frames_per_lambda = max(5, round((world_s * 1000 - fixed_ms) / setup.frame_cost_ms))
        chunks = rng.randint(2, 10)
        plans.append({
            "index": index,
            "start_at_s": rng.uniform(0, setup.stagger_s),
            "world_s": round(world_s, 2),
            "options": {
                "serve_url": "",  # filled in with the emulator's site
                "composition": "HelloWorld",
                "codec": "h264",
                "frames_per_lambda": frames_per_lambda,
                "force_duration_in_frames": frames_per_lambda * chunks,
                "input_props": {"title": f"render {index}"},
            },
        })
    return sorted(plans, key=lambda p: p["start_at_s"])


# ----------------------------------------------------------------- emulator process


def _write_json(path: str, payload: Any) -> None:
    Path(path).write_text(json.dumps(payload))


async def serve_emulator(args: argparse.Namespace) -> None:
    """The emulator, recording every progress.json write: (wall time when the upload
    finished, framesRendered, chunks, lambdasInvoked, postRenderData.endTime)."""
    from aioremotion.emulator import EmulatorConfig, RemotionEmulator

    config = EmulatorConfig(speed=args.speed, frame_cost_ms=args.frame_cost_ms,
                            invoke_latency_ms=args.invoke_latency_ms,
                            combine_cost_ms=args.combine_cost_ms)
    writes: dict[str, list[tuple[float, bytes]]] = {}
    async with RemotionEmulator(config=config) as emulator:
        functions = emulator.functions
        assert functions is not None
        original = functions._write_progress

        async def recording(bucket: str, render_id: str, body: bytes) -> None:
            await original(bucket, render_id, body)
            writes.setdefault(render_id, []).append((time.time(), body))

        functions._write_progress = recording  # type: ignore[method-assign]
        print(json.dumps({**emulator.env, "lambda": emulator.lambda_endpoint,
                          "s3": emulator.s3_endpoint}), flush=True)
        cpu_start, wall_start = cpu_seconds(), time.monotonic()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)  # "dump"
        log: dict[str, list[list[Any]]] = {}
        for render_id, entries in writes.items():
            for at, body in entries:
                state = json.loads(body)
                post = state.get("postRenderData")
                log.setdefault(render_id, []).append([
                    at, state["framesRendered"], len(state["chunks"]), state["lambdasInvoked"],
                    post["endTime"] / 1000 if post else None,
                ])
        stats = {
            "cpu_seconds": cpu_seconds() - cpu_start,
            "wall_seconds": time.monotonic() - wall_start,
            "renders_started": functions.renders_started,
            "status_invocations": len(emulator.server.invocations_of("status")),
        }
        await asyncio.to_thread(_write_json, args.out, {"writes": log, "stats": stats})
        print("dumped", flush=True)


# ----------------------------------------------------------------- watcher processes


@dataclass
class Watched:
    """What one strategy saw of one render."""

    observations: list[list[float]]  # [wall time, framesRendered, chunks, lambdasInvoked]
    terminal_at: float | None = None
    outcome: str | None = None
    polls: int = 0
    errors: int = 0


async def _poll_every_second(
    read: Callable[[], Awaitable[tuple[tuple[int, int, int], bool]]], seen: Watched,
    deadline_s: float, time_scale: float,
) -> None:
    """The 1 s loops (a, b, c): read, record, stop at a terminal state, sleep 1 s
    (simulated: ``1 / time_scale`` real seconds)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        seen.polls += 1
        try:
            key, terminal = await read()
        except Exception:
            seen.errors += 1
        else:
            now = time.time()
            seen.observations.append([now, *key])
            if terminal:
                seen.terminal_at, seen.outcome = now, "terminal"
                return
        await asyncio.sleep(1.0 / time_scale)


async def run_watcher(args: argparse.Namespace) -> None:
    """One strategy in its own process: reads render handles (JSON lines) on stdin, watches
    each as it arrives, and writes what it saw plus its proxies' request counts."""
    from aiobotocore.session import AioSession

    from aioremotion import RemotionLambda
    from aioremotion.handles import RenderHandle
    from aioremotion.schedule import PollPolicy
    from aioremotion.testing import FaultyProxy
    from aioremotion.watching import WatchOptions, watch

    env = json.loads(args.env)
    strategy = args.strategy
    scale = args.speed
    deadline_s = 300.0
    seen: dict[str, Watched] = {}
    async with FaultyProxy(env["s3"]) as s3_proxy, \
            FaultyProxy(env["lambda"]) as lambda_proxy:
        session = AioSession()
        session.set_credentials(ACCESS_KEY, SECRET_KEY)
        client = RemotionLambda(
            region=env["AWS_REGION"], function_name=env["REMOTION_FUNCTION_NAME"],
            session=session, s3_addressing_style="path",
            endpoint_urls={"lambda": lambda_proxy.endpoint_url, "s3": s3_proxy.endpoint_url},
        )
        sdk: Any = None
        if strategy == "c":
            import boto3
            from remotion_lambda import AsyncRemotionClient
            from remotion_lambda.version import VERSION as sdk_version

            from aioremotion.protocol.naming import speculate_function_name

            # boto3 finds the emulator (through this process's proxies) from the environment
            os.environ.update({
                "AWS_ENDPOINT_URL_LAMBDA": lambda_proxy.endpoint_url,
                "AWS_ENDPOINT_URL_S3": s3_proxy.endpoint_url,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            })
            # a function of the SDK's own version (any well-formed name is deployed)
            sdk = AsyncRemotionClient(
                region=env["AWS_REGION"], serve_url=env["REMOTION_SERVE_URL"],
                function_name=speculate_function_name(version=sdk_version, memory_mb=2048,
                                                      disk_mb=2048, timeout_s=120),
                session=boto3.Session(region_name=env["AWS_REGION"]),
            )

        async def watch_one(handle: RenderHandle) -> None:
            record = seen[handle.render_id] = Watched(observations=[])
            if strategy in ("a", "b"):
                via = "lambda" if strategy == "a" else "s3"

                async def read_aio() -> tuple[tuple[int, int, int], bool]:
                    p = await client.get_progress(handle, via=via)
                    return ((p.frames_rendered, p.chunks, p.lambdas_invoked),
                            p.done or p.fatal_error_encountered)

                await _poll_every_second(read_aio, record, deadline_s, scale)
            elif strategy == "c":

                async def read_sdk() -> tuple[tuple[int, int, int], bool]:
                    p = await sdk.get_render_progress(handle.render_id, handle.bucket_name)
                    return ((p.framesRendered, p.chunks, p.lambdasInvoked),
                            bool(p.done or getattr(p, "fatalErrorEncountered", False)))

                await _poll_every_second(read_sdk, record, deadline_s, scale)
            else:
                policy = {"d": PollPolicy.default(), "e": PollPolicy.cheap(),
                          "f": dataclasses.replace(PollPolicy.cheap(), eta_share=0.0),
                          }[strategy]

                def clock() -> float:  # simulated seconds
                    return time.monotonic() * scale

                async def sleep(seconds: float) -> None:
                    await asyncio.sleep(seconds / scale)

                async def consume() -> None:
                    async for event in watch(client, handle, WatchOptions(policy=policy),
                                             clock=clock, sleep=sleep):
                        now = time.time()
                        if event.type == "progress":
                            record.observations.append(
                                [now, event.frames_rendered, event.chunks,
                                 event.lambdas_invoked])
                        else:
                            record.terminal_at, record.outcome = now, event.type

                await asyncio.wait_for(consume(), deadline_s)

        async with client:
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                         sys.stdin)
            print("ready", flush=True)
            tasks = []
            while line := await reader.readline():
                handle = RenderHandle.model_validate_json(line)
                tasks.append(asyncio.ensure_future(watch_one(handle)))
            results = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [repr(r) for r in results if isinstance(r, BaseException)]

        def count(proxy: FaultyProxy, **kwargs: Any) -> int:
            return proxy.count(**kwargs)

        counts = {
            "lambda_invokes": count(lambda_proxy, method="POST", match="/invocations"),
            "lambda_throttled": count(lambda_proxy, method="POST", status=429),
            "s3_get_200": count(s3_proxy, method="GET", status=200),
            "s3_get_304": count(s3_proxy, method="GET", status=304),
            "s3_head": count(s3_proxy, method="HEAD"),
            "s3_other": len(s3_proxy.requests) - count(s3_proxy, method="GET", status=200)
            - count(s3_proxy, method="GET", status=304) - count(s3_proxy, method="HEAD"),
        }
    await asyncio.to_thread(_write_json, args.out, {
        "counts": counts, "failures": failures,
        "seen": {rid: w.__dict__ for rid, w in seen.items()},
    })


# ----------------------------------------------------------------- orchestration


async def _spawn(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), *argv,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )


async def _read_line(proc: asyncio.subprocess.Process, timeout: float = 60) -> str:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    if not line:
        raise RuntimeError(f"child process {proc.pid} exited early (rc={await proc.wait()})")
    return line.decode().strip()


async def run(setup: Setup) -> dict[str, Any]:
    from aiobotocore.session import AioSession

    from aioremotion import RemotionLambda

    plans = plan_renders(setup)
    workdir = Path(tempfile.mkdtemp(prefix="aioremotion-bench-"))
    emulator = await _spawn(
        "--role", "emulator", "--out", str(workdir / "emulator.json"),
        "--speed", str(setup.speed), "--frame-cost-ms", str(setup.frame_cost_ms),
        "--invoke-latency-ms", str(setup.invoke_latency_ms),
        "--combine-cost-ms", str(setup.combine_cost_ms),
    )
    watchers: dict[str, asyncio.subprocess.Process] = {}
    try:
        env_line = await _read_line(emulator)
        env = json.loads(env_line)
        for name in STRATEGIES:
            watchers[name] = await _spawn("--role", "watcher", "--strategy", name,
                                          "--env", env_line, "--speed", str(setup.speed),
                                          "--out", str(workdir / f"watcher-{name}.json"))
        for proc in watchers.values():
            assert await _read_line(proc) == "ready"

        session = AioSession()
        session.set_credentials(ACCESS_KEY, SECRET_KEY)
        started: dict[str, dict[str, Any]] = {}
        print(f"starting {len(plans)} renders over {setup.stagger_s:.0f} s "
              f"(Lambda time {setup.min_world_s:.0f}-{setup.max_world_s:.0f} s, "
              f"speed {setup.speed:g})...", flush=True)
        async with RemotionLambda(
            region=env["AWS_REGION"], function_name=env["REMOTION_FUNCTION_NAME"],
            session=session, s3_addressing_style="path",
            endpoint_urls={"lambda": env["lambda"], "s3": env["s3"]},
        ) as remotion:
            t0 = time.monotonic()

            async def start(plan: dict[str, Any]) -> None:
                await asyncio.sleep(max(0.0, t0 + plan["start_at_s"] - time.monotonic()))
                options = {**plan["options"], "serve_url": env["REMOTION_SERVE_URL"]}
                handle = await remotion.render_media(options)
                started[handle.render_id] = plan
                line = handle.model_dump_json().encode() + b"\n"
                for proc in watchers.values():
                    assert proc.stdin is not None
                    proc.stdin.write(line)
                    await proc.stdin.drain()

            await asyncio.gather(*(start(plan) for plan in plans))
        for proc in watchers.values():
            assert proc.stdin is not None
            proc.stdin.close()
        for name, proc in watchers.items():
            rc = await asyncio.wait_for(proc.wait(), 400)
            if rc != 0:
                raise RuntimeError(f"watcher {name} failed (rc={rc})")
        wall = time.monotonic() - t0
        assert emulator.stdin is not None
        emulator.stdin.write(b"dump\n")
        await emulator.stdin.drain()
        assert await _read_line(emulator, 120) == "dumped"
    finally:
        for proc in [*watchers.values(), emulator]:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
    emulated = json.loads((workdir / "emulator.json").read_text())
    seen = {name: json.loads((workdir / f"watcher-{name}.json").read_text())
            for name in STRATEGIES}
    return analyse(setup, started, emulated, seen, wall)


# ----------------------------------------------------------------- analysis


def _notice_delays(writes: list[list[Any]], observations: list[list[float]],
                   terminal_at: float | None) -> list[float]:
    """For every progress change written to progress.json (a new framesRendered / chunks /
    lambdasInvoked; the initial and the final write excluded), how long until the watcher
    held that progress or a later one (the counters only grow)."""
    delays = []
    previous = None
    for at, frames, chunks, lambdas, end in writes:
        key = (frames, chunks, lambdas)
        if end is not None:
            break
        if previous is not None and key != previous:
            noticed = next((t for t, f, c, la in observations
                            if f >= frames and c >= chunks and la >= lambdas), terminal_at)
            if noticed is not None:
                delays.append(max(0.0, noticed - at))
        previous = key
    return delays


def analyse(setup: Setup, started: dict[str, dict[str, Any]], emulated: dict[str, Any],
            seen: dict[str, dict[str, Any]], wall: float) -> dict[str, Any]:
    writes: dict[str, list[list[Any]]] = emulated["writes"]
    n = len(started)
    k = setup.speed  # real seconds -> simulated seconds
    invoke_usd = status_invoke_usd()
    # "output written": postRenderData.endTime, stamped right after the output upload;
    # "published": when the progress.json holding it had been uploaded (the emulator's
    # own delay in between is the same for every strategy).
    end_at = {rid: next((w[4] for w in writes.get(rid, []) if w[4] is not None), None)
              for rid in started}
    published_at = {rid: next((w[0] for w in writes.get(rid, []) if w[4] is not None), None)
                    for rid in started}
    details = {rid: {"world_s": plan["world_s"], "chunks":
                     plan["options"]["force_duration_in_frames"]
                     // plan["options"]["frames_per_lambda"],
                     "seconds": k * (end_at[rid] - writes[rid][0][0]) if end_at[rid] else None,
                     "publish_delay_s": k * (published_at[rid] - end_at[rid])
                     if end_at[rid] and published_at[rid] else None,
                     "detect_s": {}}
               for rid, plan in started.items()}
    durations = sorted(k * (end_at[rid] - writes[rid][0][0]) for rid in started
                       if end_at[rid] is not None)
    rows = []
    for name, label in STRATEGIES.items():
        data = seen[name]
        counts = data["counts"]
        latencies, from_publish, delays, missing = [], [], [], 0
        for rid in started:
            watched = data["seen"].get(rid)
            if watched is None or watched["terminal_at"] is None or end_at[rid] is None:
                missing += 1
                continue
            latencies.append(k * (watched["terminal_at"] - end_at[rid]))
            from_publish.append(k * (watched["terminal_at"] - published_at[rid]))
            details[rid]["detect_s"][name] = round(latencies[-1], 3)
            delays += [k * d for d in _notice_delays(writes[rid], watched["observations"],
                                                     watched["terminal_at"])]
        s3_requests = counts["s3_get_200"] + counts["s3_get_304"] + counts["s3_head"]
        usd = counts["lambda_invokes"] * invoke_usd + s3_requests * S3_GET_USD
        rows.append({
            "strategy": name,
            "what": label,
            "lambda_per_render": counts["lambda_invokes"] / n,
            "s3_get_per_render": counts["s3_get_200"] / n,
            "s3_304_per_render": counts["s3_get_304"] / n,
            "s3_head_per_render": counts["s3_head"] / n,
            "aws_requests_per_render": (counts["lambda_invokes"] + s3_requests) / n,
            "usd_per_1000_renders": usd / n * 1000,
            "detect_p50_s": percentile(latencies, 50),
            "detect_p95_s": percentile(latencies, 95),
            "detect_max_s": max(latencies) if latencies else None,
            "after_publish_p50_s": percentile(from_publish, 50),
            "after_publish_p95_s": percentile(from_publish, 95),
            "fresh_mean_s": sum(delays) / len(delays) if delays else None,
            "fresh_p95_s": percentile(delays, 95),
            "not_seen_to_end": missing,
            "errors": sum(w["errors"] for w in data["seen"].values()),
            "failures": data["failures"],
            "counts": counts,
        })
    by = {row["strategy"]: row for row in rows}
    targets = {}
    for name in ("d", "e", "f"):
        row = by[name]
        fewer = by["b"]["aws_requests_per_render"] / row["aws_requests_per_render"]
        p50_gap = row["detect_p50_s"] - by["b"]["detect_p50_s"]
        cheaper = by["a"]["usd_per_1000_renders"] / row["usd_per_1000_renders"]
        sensitivity = {}
        for ms in (100, 300, 1000):
            a_usd = (by["a"]["counts"]["lambda_invokes"] * status_invoke_usd(ms)) / n * 1000
            sensitivity[f"{ms}ms"] = round(a_usd / row["usd_per_1000_renders"], 1)
        targets[name] = {
            "requests_vs_b": round(fewer, 2),
            "requests_vs_b_target": 5.0,
            "requests_vs_b_met": fewer >= 5.0,
            "p50_minus_b_p50_s": round(p50_gap, 3),
            "p50_target_s": 0.25,
            "p50_met": p50_gap <= 0.25,
            "cost_vs_a": round(cheaper, 1),
            "cost_vs_a_target": 50.0,
            "cost_vs_a_met": cheaper >= 50.0,
            "cost_vs_a_by_assumed_status_duration": sensitivity,
        }
    stats = emulated["stats"]
    return {
        "setup": setup.__dict__,
        "renders": n,
        "render_seconds": {"min": durations[0], "p50": percentile(durations, 50),
                           "max": durations[-1]} if durations else None,
        "wall_seconds": wall,
        "emulator": {**stats, "cpu_share": stats["cpu_seconds"] / stats["wall_seconds"]},
        "prices": {"s3_get_usd": S3_GET_USD, "status_invoke_usd": invoke_usd,
                   "status_invoke_assumed_ms": STATUS_INVOKE_MS,
                   "function": f"{FUNCTION_MEMORY_MB} MB memory, {FUNCTION_DISK_MB} MB disk, "
                               "us-east-1 ARM; +1 S3 GET per status invoke (made by the "
                               "function); 304s billed as GETs; HEADs priced as GETs"},
        "strategies": rows,
        "targets": targets,
        "per_render": details,
    }


def report(result: dict[str, Any]) -> None:
    rs = result["render_seconds"]
    print(f"\n{result['renders']} renders, {rs['min']:.1f}-{rs['max']:.1f} s each "
          f"(p50 {rs['p50']:.1f} s; simulated seconds, speed {result['setup']['speed']:g}), "
          f"{result['wall_seconds']:.0f} s wall; emulator CPU "
          f"{result['emulator']['cpu_share']:.0%} of one core; load average "
          f"{result['load_average']['before'][0]:.2f} before, "
          f"{result['load_average']['after'][0]:.2f} after")
    print_table(
        "Polling cost against done-detection latency (per render; $ per 1,000 renders)",
        result["strategies"],
        ["strategy", "what", "lambda_per_render", "s3_get_per_render", "s3_304_per_render",
         "s3_head_per_render", "aws_requests_per_render", "usd_per_1000_renders",
         "detect_p50_s", "detect_p95_s", "after_publish_p50_s", "fresh_mean_s", "fresh_p95_s",
         "not_seen_to_end"],
    )
    print(f"\nstatus invoke priced at ${result['prices']['status_invoke_usd']:.3g} "
          f"({STATUS_INVOKE_MS} ms assumed), S3 GET/304/HEAD at ${S3_GET_USD:.2g}")
    for name, t in result["targets"].items():
        name = name if name != "f" else "f, extra: not a target row"
        print(f"({name}) {t['requests_vs_b']:.2f}x fewer AWS requests than (b) "
              f"[target 5x: {'met' if t['requests_vs_b_met'] else 'MISSED'}]; p50 "
              f"{t['p50_minus_b_p50_s']:+.3f} s vs (b) [target <= +0.25 s: "
              f"{'met' if t['p50_met'] else 'MISSED'}]; {t['cost_vs_a']:.1f}x cheaper than "
              f"(a) [target 50x: {'met' if t['cost_vs_a_met'] else 'MISSED'}; at 100/300/1000 "
              f"ms status duration: {t['cost_vs_a_by_assumed_status_duration']}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=None, help="renders to watch")
    parser.add_argument("--quick", action="store_true",
                        help="fewer and shorter renders (about 30 s)")
    parser.add_argument("--role", choices=["main", "emulator", "watcher"], default="main",
                        help=argparse.SUPPRESS)
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--speed", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--frame-cost-ms", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--invoke-latency-ms", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--combine-cost-ms", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "emulator":
        asyncio.run(serve_emulator(args))
        return
    if args.role == "watcher":
        asyncio.run(run_watcher(args))
        return
    if args.quick:
        setup = Setup(renders=args.renders or 12, min_world_s=5, max_world_s=90, speed=2.5,
                      stagger_s=4)
    else:
        setup = Setup(renders=args.renders or 30, min_world_s=5, max_world_s=240, speed=2.5,
                      stagger_s=20)
    load_before = os.getloadavg()
    result = asyncio.run(run(setup))
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    report(result)
    write_results("polling_cost", {"quick": args.quick, **result})


if __name__ == "__main__":
    main()
