"""Benchmark 1: what watching a render costs, against how soon its end is noticed and how
close a display stays to the truth.

The render set (after an independent harness): 12 renders, 6 short (4-8 s) and 6 long
(3.5-6 min), each with its own invoke latency (1-3 s, for the launch and again for the
renderers), on the local emulator in *simulated time*: the emulator runs ``speed`` times
faster, and so does every watcher (the 1 s loops sleep ``1/speed`` s, aioremotion's
watcher gets a clock and a sleep scaled by ``speed``), so each strategy sees what it would
see at full length. All times reported are simulated seconds. Every render is watched by
each strategy at once (paired comparisons):

  a  the Next.js template's loop: the status Lambda (``getRenderProgress``) every 1 s
  b  progress.json from S3 every 1 s, no ETag (the JS client's ``skipLambdaInvocation``)
  c  the official Python SDK's ``AsyncRemotionClient.get_render_progress`` every 1 s
  d  ``aioremotion.watching`` with ``PollPolicy.default()``
  e  ``aioremotion.watching`` with ``PollPolicy.cheap()``
  g  ``aioremotion.watching`` with ``PollPolicy.interactive()``
  h  ``interactive()`` with estimated progress between reads (``estimate_every_s``)
  i  ``live_watch_options()``: what the command line's bar, notebooks and the demo use

Each strategy runs in its own process, behind its own loopback proxies (S3 and Lambda)
that record every request, so the counts are what each strategy really sent. The
emulator runs in another process and records every progress.json write with the overall
progress it means (the truth a display is compared with).

Measured per strategy: requests per render (short, long), detection latency p50/p90 after
the output is written, mean staleness (time until a progress change is held), and the mean
absolute error between the displayed and the true overall progress, both sampled every
0.1 s simulated from the render's start to its output.

The render plan (:func:`plan_renders`) and the strategy runners (:data:`STRATEGIES`,
:func:`watch_with`) are importable: another benchmark adds its own strategy with them.

Run: ``python benchmarks/polling_cost.py [--quick]``; writes
``benchmarks/results/polling_cost.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import re
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
    "g": "aioremotion watch, PollPolicy.interactive()",
    "h": "interactive() + estimates every 0.25 s",
    "i": "live_watch_options() (CLI bar, notebook, demo)",
}
#: The strategies that poll once a second (the baselines).
LOOPS = ("a", "b", "c")
#: How often the estimating strategy (h) sends an estimate, simulated seconds.
ESTIMATE_EVERY_S = 0.25
#: The sampling step of the progress error, simulated seconds.
SAMPLE_STEP_S = 0.1

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

    short_renders: int = 6
    long_renders: int = 6
    short_s: tuple[float, float] = (4.0, 8.0)
    long_s: tuple[float, float] = (210.0, 360.0)
    invoke_latency_s: tuple[float, float] = (1.0, 3.0)
    speed: float = 2.5
    stagger_s: float = 10.0
    frame_cost_ms: float = 100.0
    combine_cost_ms: float = 1500.0
    seed: int = 20261201

    @property
    def renders(self) -> int:
        return self.short_renders + self.long_renders


def plan_renders(setup: Setup) -> list[dict[str, Any]]:
    """Per render, in start order: when to start it (``start_at_s``, real seconds), its
    invoke latency (``invoke_latency_ms``, simulated) and the render options giving it its
    length (``world_s``).

    A render takes about ``2 * invoke_latency + frames_per_lambda * frame_cost +
    combine_cost`` (its chunks run in parallel), so ``frames_per_lambda`` sets its length
    and the number of chunks (2-10) its width. A short render is never planned shorter
    than its fixed part plus 0.5 s of frames.
    """
    rng = random.Random(setup.seed)
    plans = []
    kinds = ["short"] * setup.short_renders + ["long"] * setup.long_renders
    rng.shuffle(kinds)
    for index, kind in enumerate(kinds):
        low, high = setup.short_s if kind == "short" else setup.long_s
        latency_ms = 1000 * rng.uniform(*setup.invoke_latency_s)
        fixed_ms = 2 * latency_ms + setup.combine_cost_ms
        world_s = max(rng.uniform(low, high), (fixed_ms + 500) / 1000)
        frames_per_lambda = max(5, round((world_s * 1000 - fixed_ms) / setup.frame_cost_ms))
        chunks = rng.randint(2, 10)
        plans.append({
            "index": index,
            "kind": kind,
            "start_at_s": rng.uniform(0, setup.stagger_s / setup.speed),
            "world_s": round(world_s, 2),
            "invoke_latency_ms": round(latency_ms),
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
    """The emulator, recording every progress.json write: [wall time when the upload
    finished, framesRendered, chunks, lambdasInvoked, postRenderData.endTime, the overall
    progress the write means]. Each render gets its planned invoke latency (armed in start
    order; the main process starts the renders one after another)."""
    from aioremotion.emulator import EmulatorConfig, RemotionEmulator
    from aioremotion.protocol.progress import (
        ProgressContext,
        RenderProgress,
        compute_render_progress,
    )

    config = EmulatorConfig(speed=args.speed, frame_cost_ms=args.frame_cost_ms,
                            combine_cost_ms=args.combine_cost_ms)
    writes: dict[str, list[tuple[float, bytes, str]]] = {}
    async with RemotionEmulator(config=config) as emulator:
        for latency_ms in json.loads(args.latencies):
            emulator.faults.next_render().invoke_latency_ms = latency_ms
        functions = emulator.functions
        assert functions is not None
        original = functions._write_progress

        async def recording(bucket: str, render_id: str, body: bytes) -> None:
            await original(bucket, render_id, body)
            writes.setdefault(render_id, []).append((time.time(), body, bucket))

        functions._write_progress = recording  # type: ignore[method-assign]
        env = emulator.env
        print(json.dumps({**env, "lambda": emulator.lambda_endpoint,
                          "s3": emulator.s3_endpoint}), flush=True)
        cpu_start, wall_start = cpu_seconds(), time.monotonic()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)  # "dump"
        log: dict[str, list[list[Any]]] = {}
        for render_id, entries in writes.items():
            for at, body, bucket in entries:
                state = json.loads(body)
                post = state.get("postRenderData")
                ctx = ProgressContext.for_function(
                    re.sub(r"-\d+sec$", "-900sec", env["REMOTION_FUNCTION_NAME"]),
                    region=env["AWS_REGION"],
                    render_id=render_id, bucket_name=bucket)
                computed = compute_render_progress(state, ctx, now_ms=at * 1000)
                overall = (computed.overall_progress if isinstance(computed, RenderProgress)
                           and not computed.done else 1.0)
                log.setdefault(render_id, []).append([
                    at, state["framesRendered"], len(state["chunks"]), state["lambdasInvoked"],
                    post["endTime"] / 1000 if post else None, float(overall),
                ])
        stats = {
            "cpu_seconds": cpu_seconds() - cpu_start,
            "wall_seconds": time.monotonic() - wall_start,
            "renders_started": functions.renders_started,
            "status_invocations": len(emulator.server.invocations_of("status")),
        }
        await asyncio.to_thread(_write_json, args.out, {"writes": log, "stats": stats})
        print("dumped", flush=True)


# ----------------------------------------------------------------- strategy runners


@dataclass
class Watched:
    """What one strategy saw of one render."""

    #: [wall time, framesRendered, chunks, lambdasInvoked, displayed overall progress]
    observations: list[list[float]]
    terminal_at: float | None = None
    outcome: str | None = None
    polls: int = 0
    errors: int = 0


async def _poll_every_second(
    read: Callable[[], Awaitable[tuple[tuple[int, int, int, float], bool]]], seen: Watched,
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


def watch_options_of(strategy: str) -> Any:
    """The WatchOptions of an aioremotion strategy (d, e, g, h, i)."""
    from aioremotion.schedule import PollPolicy
    from aioremotion.watching import WatchOptions, live_watch_options

    if strategy == "i":
        return live_watch_options(heartbeat_s=None)
    policy = {"d": PollPolicy.default(), "e": PollPolicy.cheap(),
              "g": PollPolicy.interactive(), "h": PollPolicy.interactive()}[strategy]
    return WatchOptions(policy=policy,
                        estimate_every_s=ESTIMATE_EVERY_S if strategy == "h" else None)


async def watch_with(strategy: str, client: Any, handle: Any, record: Watched, *,
                     scale: float, sdk: Any = None, deadline_s: float = 600.0) -> None:
    """Watch one render the way ``strategy`` does, filling ``record`` (wall times).

    ``client`` is a :class:`~aioremotion.RemotionLambda`; ``sdk`` the official SDK's
    client (strategy c only); ``scale`` the emulator's speed factor."""
    from aioremotion.watching import watch

    if strategy in ("a", "b"):
        via = "lambda" if strategy == "a" else "s3"

        async def read_aio() -> tuple[tuple[int, int, int, float], bool]:
            p = await client.get_progress(handle, via=via)
            return ((p.frames_rendered, p.chunks, p.lambdas_invoked,
                     float(p.overall_progress)), p.done or p.fatal_error_encountered)

        await _poll_every_second(read_aio, record, deadline_s, scale)
        return
    if strategy == "c":

        async def read_sdk() -> tuple[tuple[int, int, int, float], bool]:
            p = await sdk.get_render_progress(handle.render_id, handle.bucket_name)
            return ((p.framesRendered, p.chunks, p.lambdasInvoked, float(p.overallProgress)),
                    bool(p.done or getattr(p, "fatalErrorEncountered", False)))

        await _poll_every_second(read_sdk, record, deadline_s, scale)
        return

    def clock() -> float:  # simulated seconds
        return time.monotonic() * scale

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds / scale)

    async def consume() -> None:
        async for event in watch(client, handle, watch_options_of(strategy),
                                 clock=clock, sleep=sleep):
            now = time.time()
            if event.type == "progress":
                record.observations.append([now, event.frames_rendered, event.chunks,
                                            event.lambdas_invoked, event.progress])
            else:
                record.terminal_at, record.outcome = now, event.type

    await asyncio.wait_for(consume(), deadline_s)


async def run_watcher(args: argparse.Namespace) -> None:
    """One strategy in its own process: reads render handles (JSON lines) on stdin, watches
    each as it arrives, and writes what it saw plus its proxies' request counts (in all and
    per render)."""
    from aiobotocore.session import AioSession

    from aioremotion import RemotionLambda
    from aioremotion.handles import RenderHandle
    from aioremotion.testing import FaultyProxy

    env = json.loads(args.env)
    strategy = args.strategy
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

            os.environ.update({
                "AWS_ENDPOINT_URL_LAMBDA": lambda_proxy.endpoint_url,
                "AWS_ENDPOINT_URL_S3": s3_proxy.endpoint_url,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            })
            sdk = AsyncRemotionClient(
                region=env["AWS_REGION"], serve_url=env["REMOTION_SERVE_URL"],
                function_name=speculate_function_name(version=sdk_version, memory_mb=2048,
                                                      disk_mb=2048, timeout_s=120),
                session=boto3.Session(region_name=env["AWS_REGION"]),
            )

        async def watch_one(handle: RenderHandle) -> None:
            record = seen[handle.render_id] = Watched(observations=[])
            await watch_with(strategy, client, handle, record, scale=args.speed, sdk=sdk)

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
        s3_requests = [r for r in s3_proxy.requests
                       if r.method in ("GET", "HEAD") and "/renders/" in r.path]
        per_render = {rid: sum(1 for r in s3_requests if f"/renders/{rid}/" in r.path)
                      + (w.polls if strategy in ("a", "c") else 0)
                      for rid, w in seen.items()}
        counts = {
            "lambda_invokes": lambda_proxy.count(method="POST", match="/invocations"),
            "s3_get_200": s3_proxy.count(method="GET", status=200),
            "s3_get_304": s3_proxy.count(method="GET", status=304),
            "s3_head": s3_proxy.count(method="HEAD"),
        }
    await asyncio.to_thread(_write_json, args.out, {
        "counts": counts, "failures": failures, "per_render": per_render,
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


async def run(setup: Setup, strategies: dict[str, str] | None = None) -> dict[str, Any]:
    """Start the planned renders on an emulator process, watch each with every strategy
    (one process each), and analyse what they saw."""
    from aiobotocore.session import AioSession

    from aioremotion import RemotionLambda

    strategies = strategies or STRATEGIES
    plans = plan_renders(setup)
    workdir = Path(tempfile.mkdtemp(prefix="aioremotion-bench-"))
    emulator = await _spawn(
        "--role", "emulator", "--out", str(workdir / "emulator.json"),
        "--speed", str(setup.speed), "--frame-cost-ms", str(setup.frame_cost_ms),
        "--combine-cost-ms", str(setup.combine_cost_ms),
        "--latencies", json.dumps([p["invoke_latency_ms"] for p in plans]),
    )
    watchers: dict[str, asyncio.subprocess.Process] = {}
    try:
        env = json.loads(await _read_line(emulator))
        # A function whose timeout (900 s, Lambda's limit) outlasts the long renders (the
        # emulator deploys any well-formed name, and divides its timeout by the speed).
        env["REMOTION_FUNCTION_NAME"] = re.sub(r"-\d+sec$", "-900sec",
                                               env["REMOTION_FUNCTION_NAME"])
        env_line = json.dumps(env)
        for name in strategies:
            watchers[name] = await _spawn("--role", "watcher", "--strategy", name,
                                          "--env", env_line, "--speed", str(setup.speed),
                                          "--out", str(workdir / f"watcher-{name}.json"))
        for proc in watchers.values():
            assert await _read_line(proc) == "ready"

        session = AioSession()
        session.set_credentials(ACCESS_KEY, SECRET_KEY)
        started: dict[str, dict[str, Any]] = {}
        print(f"starting {len(plans)} renders ({setup.short_renders} of "
              f"{setup.short_s[0]:g}-{setup.short_s[1]:g} s, {setup.long_renders} of "
              f"{setup.long_s[0]:g}-{setup.long_s[1]:g} s; speed {setup.speed:g})...",
              flush=True)
        async with RemotionLambda(
            region=env["AWS_REGION"], function_name=env["REMOTION_FUNCTION_NAME"],
            session=session, s3_addressing_style="path",
            endpoint_urls={"lambda": env["lambda"], "s3": env["s3"]},
        ) as remotion:
            t0 = time.monotonic()
            for plan in plans:  # one after another: the emulator arms latencies in order
                await asyncio.sleep(max(0.0, t0 + plan["start_at_s"] - time.monotonic()))
                options = {**plan["options"], "serve_url": env["REMOTION_SERVE_URL"]}
                handle = await remotion.render_media(options)
                started[handle.render_id] = plan
                line = handle.model_dump_json().encode() + b"\n"
                for proc in watchers.values():
                    assert proc.stdin is not None
                    proc.stdin.write(line)
                    await proc.stdin.drain()
        for proc in watchers.values():
            assert proc.stdin is not None
            proc.stdin.close()
        for name, proc in watchers.items():
            rc = await asyncio.wait_for(proc.wait(), 900)
            if rc != 0:
                raise RuntimeError(f"watcher {name} failed (rc={rc})")
        wall = time.monotonic() - t0
        assert emulator.stdin is not None
        emulator.stdin.write(b"dump\n")
        await emulator.stdin.drain()
        assert await _read_line(emulator, 300) == "dumped"
    finally:
        for proc in [*watchers.values(), emulator]:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
    emulated = json.loads((workdir / "emulator.json").read_text())
    seen = {name: json.loads((workdir / f"watcher-{name}.json").read_text())
            for name in strategies}
    return analyse(setup, started, emulated, seen, wall, strategies)


# ----------------------------------------------------------------- analysis


def _notice_delays(writes: list[list[Any]], observations: list[list[float]],
                   terminal_at: float | None) -> list[float]:
    """For every progress change written to progress.json (a new framesRendered / chunks /
    lambdasInvoked; the initial and the final write excluded), how long until the watcher
    held that progress or a later one (the counters only grow)."""
    delays = []
    previous = None
    for at, frames, chunks, lambdas, end, *_ in writes:
        key = (frames, chunks, lambdas)
        if end is not None:
            break
        if previous is not None and key != previous:
            noticed = next((o[0] for o in observations
                            if o[1] >= frames and o[2] >= chunks and o[3] >= lambdas),
                           terminal_at)
            if noticed is not None:
                delays.append(max(0.0, noticed - at))
        previous = key
    return delays


def progress_error(writes: list[list[Any]], observations: list[list[float]],
                   start: float, end: float, step: float) -> float | None:
    """Mean |displayed - true| overall progress, sampled every ``step`` (wall seconds)
    from ``start`` to ``end``: the truth is the last progress.json write at each sample,
    the display the last progress the strategy showed (0 before its first)."""
    if end <= start:
        return None
    truth = [(w[0], w[5]) for w in writes]
    shown = [(o[0], o[4]) for o in observations]
    ti = si = 0
    true_now = shown_now = 0.0
    total, n, t = 0.0, 0, start
    while t <= end:
        while ti < len(truth) and truth[ti][0] <= t:
            true_now = truth[ti][1]
            ti += 1
        while si < len(shown) and shown[si][0] <= t:
            shown_now = shown[si][1]
            si += 1
        total += abs(shown_now - true_now)
        n += 1
        t += step
    return total / n


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def analyse(setup: Setup, started: dict[str, dict[str, Any]], emulated: dict[str, Any],
            seen: dict[str, dict[str, Any]], wall: float,
            strategies: dict[str, str] | None = None) -> dict[str, Any]:
    """Per strategy: requests per render, detection latency, staleness, progress error."""
    strategies = strategies or STRATEGIES
    writes: dict[str, list[list[Any]]] = emulated["writes"]
    k = setup.speed  # real seconds -> simulated seconds
    invoke_usd = status_invoke_usd()
    end_at = {rid: next((w[4] for w in writes.get(rid, []) if w[4] is not None), None)
              for rid in started}
    details = {rid: {"kind": plan["kind"], "world_s": plan["world_s"],
                     "invoke_latency_ms": plan["invoke_latency_ms"],
                     "seconds": k * (end_at[rid] - writes[rid][0][0]) if end_at[rid] else None,
                     "detect_s": {}, "requests": {}, "mae_pp": {}}
               for rid, plan in started.items()}
    rows = []
    for name, label in strategies.items():
        data = seen[name]
        counts = data["counts"]
        latencies, delays, missing = [], [], 0
        errors: dict[str, list[float]] = {"short": [], "long": []}
        requests: dict[str, list[float]] = {"short": [], "long": []}
        for rid, plan in started.items():
            watched = data["seen"].get(rid)
            requests[plan["kind"]].append(data["per_render"].get(rid, 0))
            details[rid]["requests"][name] = data["per_render"].get(rid, 0)
            if watched is None or watched["terminal_at"] is None or end_at[rid] is None:
                missing += 1
                continue
            latencies.append(k * (watched["terminal_at"] - end_at[rid]))
            details[rid]["detect_s"][name] = round(latencies[-1], 3)
            delays += [k * d for d in _notice_delays(writes[rid], watched["observations"],
                                                     watched["terminal_at"])]
            error = progress_error(writes[rid], watched["observations"], writes[rid][0][0],
                                   end_at[rid], SAMPLE_STEP_S / k)
            if error is not None:
                errors[plan["kind"]].append(100 * error)
                details[rid]["mae_pp"][name] = round(100 * error, 2)
        s3_requests = counts["s3_get_200"] + counts["s3_get_304"] + counts["s3_head"]
        n = len(started)
        usd = counts["lambda_invokes"] * invoke_usd + s3_requests * S3_GET_USD
        rows.append({
            "strategy": name,
            "what": label,
            "requests_per_render": (counts["lambda_invokes"] + s3_requests) / n,
            "requests_short": _mean(requests["short"]),
            "requests_long": _mean(requests["long"]),
            "usd_per_1000_renders": usd / n * 1000,
            "detect_p50_s": percentile(latencies, 50),
            "detect_p90_s": percentile(latencies, 90),
            "stale_mean_s": _mean(delays),
            "mae_pp": _mean(errors["short"] + errors["long"]),
            "mae_short_pp": _mean(errors["short"]),
            "mae_long_pp": _mean(errors["long"]),
            "not_seen_to_end": missing,
            "errors": sum(w["errors"] for w in data["seen"].values()),
            "failures": data["failures"],
            "counts": counts,
        })
    by = {row["strategy"]: row for row in rows}
    goals = {}
    if "b" in by:
        loop = by["b"]
        for name, row in by.items():
            if name in LOOPS:
                continue
            share = row["requests_per_render"] / loop["requests_per_render"]
            goals[name] = {
                "requests_vs_1hz_s3": round(share, 3),
                "mae_pp": None if row["mae_pp"] is None else round(row["mae_pp"], 2),
                "goal_met": share <= 0.5 and row["mae_pp"] is not None
                and row["mae_pp"] <= 2.0,
            }
    durations = sorted(d["seconds"] for d in details.values() if d["seconds"] is not None)
    stats = emulated["stats"]
    return {
        "setup": {**dataclasses.asdict(setup), "renders": setup.renders},
        "renders": len(started),
        "render_seconds": {
            kind: sorted(round(d["seconds"], 1) for d in details.values()
                         if d["kind"] == kind and d["seconds"] is not None)
            for kind in ("short", "long")},
        "render_seconds_range": [durations[0], durations[-1]] if durations else None,
        "wall_seconds": wall,
        "emulator": {**stats, "cpu_share": stats["cpu_seconds"] / stats["wall_seconds"]},
        "prices": {"s3_get_usd": S3_GET_USD, "status_invoke_usd": invoke_usd,
                   "status_invoke_assumed_ms": STATUS_INVOKE_MS},
        "goal": "MAE <= 2 percentage points with at most half the requests of (b)",
        "goals": goals,
        "strategies": rows,
        "per_render": details,
    }


def report(result: dict[str, Any]) -> None:
    rs = result["render_seconds"]
    print(f"\n{result['renders']} renders: short {rs['short']} s, long {rs['long']} s "
          f"(simulated, speed {result['setup']['speed']:g}); {result['wall_seconds']:.0f} s "
          f"wall; emulator CPU {result['emulator']['cpu_share']:.0%} of one core; load "
          f"average {result['load_average']['before'][0]:.2f} before, "
          f"{result['load_average']['after'][0]:.2f} after")
    print_table(
        "Polling cost, detection, staleness and progress error (per render, simulated s)",
        result["strategies"],
        ["strategy", "what", "requests_per_render", "requests_short", "requests_long",
         "usd_per_1000_renders", "detect_p50_s", "detect_p90_s", "stale_mean_s", "mae_pp",
         "mae_short_pp", "mae_long_pp", "not_seen_to_end"],
    )
    print(f"\ngoal: {result['goal']}")
    for name, goal in result["goals"].items():
        print(f"({name}) {goal['requests_vs_1hz_s3']:.2f}x the requests of (b), MAE "
              f"{goal['mae_pp']} pp: {'met' if goal['goal_met'] else 'not met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 short and 3 long renders at speed 5 (about 80 s)")
    parser.add_argument("--speed", type=float, help="the speed factor (default 2.5)")
    parser.add_argument("--role", choices=["main", "emulator", "watcher"], default="main",
                        help=argparse.SUPPRESS)
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--latencies", help=argparse.SUPPRESS)
    parser.add_argument("--frame-cost-ms", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--combine-cost-ms", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "emulator":
        asyncio.run(serve_emulator(args))
        return
    if args.role == "watcher":
        asyncio.run(run_watcher(args))
        return
    if args.quick:
        setup = Setup(short_renders=3, long_renders=3, speed=args.speed or 5.0)
    else:
        setup = Setup(speed=args.speed or 2.5)
    load_before = os.getloadavg()
    result = asyncio.run(run(setup))
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    report(result)
    write_results("polling_cost", {"quick": args.quick, **result})


if __name__ == "__main__":
    main()
