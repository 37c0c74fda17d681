"""Benchmark 4: waiting on webhooks (an outcome hub) against polling, on the same renders.

The render set, the simulated time and the polling strategies are benchmark 1's
(``benchmarks/polling_cost.py``: its ``Setup``, ``plan_renders``, emulator process and
watcher processes are imported, not copied): its 12 renders (6 of 4-8 s, 6 of 3.5-6 min
of Lambda time, 1-3 s invoke latency) run on the
emulator ``speed`` times faster, and every strategy watches every render at once, each in
its own process behind its own loopback proxies that count every request on the wire.

Added here, in one more process: a loopback HTTP server verifying the emulator's signed
webhooks (``WebhookReceiver(hub=LocalHub())``; every render is started with
``webhook={"url": ..., "secret": ...}`` pointing at it), and ``wait``-style watches given
that hub (no progress wanted), each variant behind its own proxies:

  p   ``watch(..., hub=hub)`` with the default ``safety_poll_s=60``
  q   ``watch(..., hub=hub)`` with ``safety_poll_s=600`` (beyond every render's length:
      what a render costs when the safety poll never fires)
  r   one ``Batch(hub=hub)`` watching every render (``Job(render=handle)``), safety poll
      600 s: a batch waiting on webhooks

compared with benchmark 1's (a) status Lambda every 1 s, (b) S3 every 1 s, (d)
``PollPolicy.default()`` and (e) ``PollPolicy.cheap()`` (the official SDK's loop, (c), needs
remotion-lambda and is left out when it is not installed). Latencies are simulated
seconds from "output written" (``postRenderData.endTime``); "webhook" is when the
webhook was verified, so "after webhook" is what the push watch adds to the webhook's own
delivery latency (one S3 read, for the size and cost).

Run: ``python benchmarks/push_cost.py [--quick]``; writes
``benchmarks/results/push_cost.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from benchmarks import polling_cost as pc
    from benchmarks._common import percentile, print_table, write_results
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    import polling_cost as pc  # type: ignore[no-redef]
    from _common import percentile, print_table, write_results  # type: ignore[no-redef]

SCRIPT = Path(__file__).resolve()
SECRET = "push-benchmark-s3cr3t"
PUSH = {"p": ("push: hub + safety poll every 60 s", 60.0),
        "q": ("push: hub + safety poll every 600 s", 600.0),
        "r": ("push: Batch(hub=) + safety poll every 600 s", 600.0)}
#: The variant run as one ``Batch`` (jobs given the started renders' handles), not as
#: watches of their own: a batch waiting on webhooks. A Batch takes no injected clock, so
#: its waits are real seconds: its safety poll is divided by the speed factor.
BATCH = "r"
POLLED = ["a", "b", "c", "d", "e"]


# ----------------------------------------------------------------- the push process


async def run_push_watcher(args: argparse.Namespace) -> None:
    """The webhook receiver, the LocalHub and the push watches, in one process: prints
    ``ready <webhook url>``, reads render handles on stdin, writes what it saw."""
    from aiobotocore.session import AioSession
    from aiohttp import web

    from aioremotion import RemotionLambda
    from aioremotion.fanout import Batch, BatchObserver, Job, JobResult
    from aioremotion.handles import RenderHandle
    from aioremotion.hub import LocalHub
    from aioremotion.testing import FaultyProxy
    from aioremotion.watching import WatchOptions, watch
    from aioremotion.web.webhooks import SIGNATURE_HEADER, WebhookReceiver

    env = json.loads(args.env)
    scale = args.speed
    hub = LocalHub()
    webhooks: dict[str, list[Any]] = {}

    def on_webhook(payload: Any) -> None:
        webhooks[payload.render_id] = [time.time(), payload.type]

    receiver = WebhookReceiver(SECRET, on_webhook, hub=hub)

    async def handle_webhook(request: web.Request) -> web.Response:
        await receiver.receive(await request.read(), request.headers.get(SIGNATURE_HEADER))
        return web.json_response({"success": True})

    app = web.Application()
    app.router.add_post("/webhook", handle_webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"

    def clock() -> float:  # simulated seconds
        return time.monotonic() * scale

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds / scale)

    out: dict[str, Any] = {"webhooks": webhooks}
    variants: dict[str, Any] = {}
    async with FaultyProxy(env["lambda"]) as lambda_proxy:
        proxies = {name: FaultyProxy(env["s3"]) for name in PUSH}
        for proxy in proxies.values():
            await proxy.start()
        try:
            for name, (_, safety) in PUSH.items():
                session = AioSession()
                session.set_credentials(pc.ACCESS_KEY, pc.SECRET_KEY)
                client = RemotionLambda(
                    region=env["AWS_REGION"], function_name=env["REMOTION_FUNCTION_NAME"],
                    session=session, s3_addressing_style="path",
                    endpoint_urls={"lambda": lambda_proxy.endpoint_url,
                                   "s3": proxies[name].endpoint_url})
                await client.__aenter__()
                variants[name] = (client, WatchOptions(safety_poll_s=safety),
                                  {}, [])
            print(f"ready {url}", flush=True)

            async def watch_one(name: str, handle: RenderHandle) -> None:
                client, options, seen, _ = variants[name]
                record = pc.Watched(observations=[])
                seen[handle.render_id] = record
                async for event in watch(client, handle, options, hub=hub, clock=clock,
                                         sleep=sleep):
                    if event.type != "progress":
                        record.terminal_at, record.outcome = time.time(), event.type

            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                         sys.stdin)
            batch_client, _, batch_seen, _ = variants[BATCH]

            class Recorder(BatchObserver):
                def event(self, result: JobResult, event: Any) -> None:
                    if event.type != "progress" and result.key is not None:
                        record = batch_seen[result.key]
                        record.terminal_at, record.outcome = time.time(), event.type

            batch = Batch(batch_client, hub=hub, max_in_flight=100_000,
                          watch_options=WatchOptions(safety_poll_s=PUSH[BATCH][1] / scale),
                          observer=Recorder())
            await batch.__aenter__()
            tasks = []
            while line := await reader.readline():
                handle = RenderHandle.model_validate_json(line)
                for name in PUSH:
                    if name == BATCH:
                        batch_seen[handle.render_id] = pc.Watched(observations=[])
                        batch.submit(Job({}, key=handle.render_id, render=handle))
                        continue
                    tasks.append(asyncio.ensure_future(watch_one(name, handle)))
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await batch.__aexit__(None, None, None)
            variants[BATCH][3].extend(repr(r.error) for r in batch.results
                                      if r.error is not None)
            for name in PUSH:
                client, _, seen, failures = variants[name]
                proxy = proxies[name]
                failures.extend(repr(r) for r in results if isinstance(r, BaseException))
                out[name] = {
                    "counts": {
                        "lambda_invokes": 0,
                        "s3_get_200": proxy.count(method="GET", status=200),
                        "s3_get_304": proxy.count(method="GET", status=304),
                        "s3_head": proxy.count(method="HEAD"),
                    },
                    "per_render_requests": {rid: proxy.count(match=f"renders/{rid}/")
                                            for rid in seen},
                    "failures": failures,
                    "seen": {rid: w.__dict__ for rid, w in seen.items()},
                }
                await client.__aexit__(None, None, None)
            out["lambda_invokes"] = lambda_proxy.count(method="POST", match="/invocations")
        finally:
            for proxy in proxies.values():
                await proxy.close()
            await runner.cleanup()
    await asyncio.to_thread(pc._write_json, args.out, out)


async def _spawn_push(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), *argv,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )


# ----------------------------------------------------------------- orchestration


async def run(setup: pc.Setup, polled: list[str]) -> dict[str, Any]:
    from aiobotocore.session import AioSession

    from aioremotion import RemotionLambda

    plans = pc.plan_renders(setup)
    workdir = Path(tempfile.mkdtemp(prefix="aioremotion-push-"))
    emulator = await pc._spawn(
        "--role", "emulator", "--out", str(workdir / "emulator.json"),
        "--speed", str(setup.speed), "--frame-cost-ms", str(setup.frame_cost_ms),
        "--combine-cost-ms", str(setup.combine_cost_ms),
        "--latencies", json.dumps([p["invoke_latency_ms"] for p in plans]),
    )
    procs: dict[str, asyncio.subprocess.Process] = {}
    try:
        env = json.loads(await pc._read_line(emulator))
        # the function's timeout (900 s) outlasts the long renders, as in benchmark 1
        env["REMOTION_FUNCTION_NAME"] = re.sub(r"-\d+sec$", "-900sec",
                                               env["REMOTION_FUNCTION_NAME"])
        env_line = json.dumps(env)
        for name in polled:
            procs[name] = await pc._spawn("--role", "watcher", "--strategy", name,
                                          "--env", env_line, "--speed", str(setup.speed),
                                          "--out", str(workdir / f"watcher-{name}.json"))
        procs["push"] = await _spawn_push("--role", "push", "--env", env_line,
                                          "--speed", str(setup.speed),
                                          "--out", str(workdir / "push.json"))
        for name, proc in procs.items():
            line = await pc._read_line(proc)
            if name == "push":
                assert line.startswith("ready "), line
                webhook_url = line.split(" ", 1)[1]
            else:
                assert line == "ready", line
        session = AioSession()
        session.set_credentials(pc.ACCESS_KEY, pc.SECRET_KEY)
        started: dict[str, dict[str, Any]] = {}
        print(f"starting {len(plans)} renders ({setup.short_renders} of "
              f"{setup.short_s[0]:g}-{setup.short_s[1]:g} s, {setup.long_renders} of "
              f"{setup.long_s[0]:g}-{setup.long_s[1]:g} s; speed {setup.speed:g}); "
              f"polled: {', '.join(polled)}; push: {', '.join(PUSH)} ...", flush=True)
        async with RemotionLambda(
            region=env["AWS_REGION"], function_name=env["REMOTION_FUNCTION_NAME"],
            session=session, s3_addressing_style="path",
            endpoint_urls={"lambda": env["lambda"], "s3": env["s3"]},
        ) as remotion:
            t0 = time.monotonic()

            async def start(plan: dict[str, Any]) -> None:
                await asyncio.sleep(max(0.0, t0 + plan["start_at_s"] - time.monotonic()))
                options = {**plan["options"], "serve_url": env["REMOTION_SERVE_URL"],
                           "webhook": {"url": webhook_url, "secret": SECRET}}
                handle = await remotion.render_media(options)
                started[handle.render_id] = plan
                line = handle.model_dump_json().encode() + b"\n"
                for proc in procs.values():
                    assert proc.stdin is not None
                    proc.stdin.write(line)
                    await proc.stdin.drain()

            for plan in plans:  # one after another: the emulator arms latencies in order
                await start(plan)
        for proc in procs.values():
            assert proc.stdin is not None
            proc.stdin.close()
        for name, proc in procs.items():
            rc = await asyncio.wait_for(proc.wait(), 600)
            if rc != 0:
                raise RuntimeError(f"watcher {name} failed (rc={rc})")
        wall = time.monotonic() - t0
        assert emulator.stdin is not None
        emulator.stdin.write(b"dump\n")
        await emulator.stdin.drain()
        assert await pc._read_line(emulator, 120) == "dumped"
    finally:
        for proc in [*procs.values(), emulator]:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
    emulated = json.loads((workdir / "emulator.json").read_text())
    seen = {name: json.loads((workdir / f"watcher-{name}.json").read_text())
            for name in polled}
    push = json.loads((workdir / "push.json").read_text())
    return analyse(setup, started, emulated, seen, push, wall)


# ----------------------------------------------------------------- analysis


def analyse(setup: pc.Setup, started: dict[str, dict[str, Any]], emulated: dict[str, Any],
            seen: dict[str, Any], push: dict[str, Any], wall: float) -> dict[str, Any]:
    writes = emulated["writes"]
    n = len(started)
    k = setup.speed
    invoke_usd = pc.status_invoke_usd()
    end_at = {rid: next((w[4] for w in writes.get(rid, []) if w[4] is not None), None)
              for rid in started}
    first_at = {rid: writes[rid][0][0] for rid in started if writes.get(rid)}
    length = {rid: k * (end_at[rid] - first_at[rid]) for rid in started
              if end_at[rid] is not None and rid in first_at}
    hooks = push["webhooks"]
    webhook_delay = [k * (hooks[rid][0] - end_at[rid]) for rid in started
                     if rid in hooks and end_at[rid] is not None]
    rows = []
    sources = {**{name: (pc.STRATEGIES[name], seen[name]) for name in seen},
               **{name: (PUSH[name][0], push[name]) for name in PUSH}}
    for name, (label, data) in sources.items():
        counts = data["counts"]
        latencies, after_hook, missing = [], [], 0
        for rid in started:
            watched = data["seen"].get(rid)
            if watched is None or watched["terminal_at"] is None or end_at[rid] is None:
                missing += 1
                continue
            latencies.append(k * (watched["terminal_at"] - end_at[rid]))
            if rid in hooks:
                after_hook.append(k * (watched["terminal_at"] - hooks[rid][0]))
        s3 = counts["s3_get_200"] + counts["s3_get_304"] + counts["s3_head"]
        per_render = data.get("per_render_requests")
        rows.append({
            "strategy": name,
            "what": label,
            "lambda_per_render": counts["lambda_invokes"] / n,
            "s3_per_render": s3 / n,
            "s3_max_per_render": max(per_render.values()) if per_render else None,
            "aws_requests_per_render": (counts["lambda_invokes"] + s3) / n,
            "usd_per_1000_renders": (counts["lambda_invokes"] * invoke_usd
                                     + s3 * pc.S3_GET_USD) / n * 1000,
            "detect_p50_s": percentile(latencies, 50),
            "detect_p95_s": percentile(latencies, 95),
            "after_webhook_p50_s": percentile(after_hook, 50) if name in PUSH else None,
            "after_webhook_p95_s": percentile(after_hook, 95) if name in PUSH else None,
            "not_seen_to_end": missing,
            "failures": data["failures"],
            "counts": counts,
        })
        if per_render:
            rows[-1]["per_render_requests_by_length"] = sorted(
                [round(length.get(rid, 0.0), 1), count] for rid, count in per_render.items())
    by = {row["strategy"]: row for row in rows}
    durations = sorted(length.values())
    targets = {}
    for name in PUSH:
        row = by[name]
        targets[name] = {
            "max_requests_per_render": row["s3_max_per_render"],
            "max_requests_target": 2,
            "max_requests_met": (row["s3_max_per_render"] or 0) <= 2,
            "after_webhook_p95_s": row["after_webhook_p95_s"],
            "fewer_requests_than_b": round(by["b"]["aws_requests_per_render"]
                                           / row["aws_requests_per_render"], 1)
            if "b" in by else None,
            "fewer_requests_than_e": round(by["e"]["aws_requests_per_render"]
                                           / row["aws_requests_per_render"], 1)
            if "e" in by else None,
        }
    return {
        "setup": setup.__dict__,
        "renders": n,
        "render_seconds": {"min": durations[0], "p50": percentile(durations, 50),
                           "max": durations[-1]} if durations else None,
        "webhook_delay_s": {"p50": percentile(webhook_delay, 50),
                            "p95": percentile(webhook_delay, 95),
                            "max": max(webhook_delay) if webhook_delay else None},
        "webhooks_received": len(hooks),
        "wall_seconds": wall,
        "strategies": rows,
        "targets": targets,
    }


def report(result: dict[str, Any]) -> None:
    rs = result["render_seconds"]
    hook = result["webhook_delay_s"]
    print(f"\n{result['renders']} renders, {rs['min']:.1f}-{rs['max']:.1f} s each "
          f"(p50 {rs['p50']:.1f} s; simulated seconds, speed {result['setup']['speed']:g}), "
          f"{result['wall_seconds']:.0f} s wall; load average "
          f"{result['load_average']['before'][0]:.2f} before, "
          f"{result['load_average']['after'][0]:.2f} after; webhook verified "
          f"{hook['p50']:.3f} s (p50) / {hook['p95']:.3f} s (p95) after the output was "
          f"written")
    print_table(
        "Waiting on webhooks against polling (per render; $ per 1,000 renders)",
        result["strategies"],
        ["strategy", "what", "lambda_per_render", "s3_per_render", "s3_max_per_render",
         "aws_requests_per_render", "usd_per_1000_renders", "detect_p50_s", "detect_p95_s",
         "after_webhook_p50_s", "after_webhook_p95_s", "not_seen_to_end"],
    )
    for name, t in result["targets"].items():
        print(f"({name}) at most {t['max_requests_per_render']} S3 requests per render "
              f"[target <= 2: {'met' if t['max_requests_met'] else 'MISSED'}]; the end "
              f"seen {t['after_webhook_p95_s']:.3f} s (p95) after the webhook; "
              f"{t['fewer_requests_than_b']}x fewer requests than (b), "
              f"{t['fewer_requests_than_e']}x fewer than (e)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer and shorter renders (about 40 s)")
    parser.add_argument("--role", choices=["main", "push"], default="main",
                        help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--speed", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "push":
        asyncio.run(run_push_watcher(args))
        return
    # benchmark 1's render set (the harness's: 6 of 4-8 s, 6 of 3.5-6 min, 1-3 s invoke
    # latency), so push and polling are compared on the same renders
    quick = pc.Setup(short_renders=3, long_renders=3, speed=5.0)
    setup = quick if args.quick else pc.Setup()
    polled = [name for name in POLLED
              if name != "c" or importlib.util.find_spec("remotion_lambda") is not None]
    load_before = os.getloadavg()
    result = asyncio.run(run(setup, polled))
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    result["left_out"] = sorted(set(POLLED) - set(polled))
    report(result)
    write_results("push_cost", {"quick": args.quick, **result})


if __name__ == "__main__":
    main()
