"""Fan-out scale: N renders watched at once from one event loop, against a fast S3 stand-in.

For each configuration, a fresh stand-in server (``_fake_s3.py``: S3 GET/HEAD with ETags
and 304s, plus the status Lambda, on a raw asyncio protocol) and a fresh client process
are started, so the server's CPU is not the client's and every peak RSS is one run's own.
The client starts N watchers, staggered over the first poll interval (renders start at
different times in real life), lets them settle, and then measures over a fixed window:

* client CPU seconds (user + system, ``getrusage``) per 1,000 polls, and in cores;
* peak RSS of the client process (``ru_maxrss``; the baseline before any watcher too);
* poll lag: the time between two consecutive polls of a render (completion to completion)
  minus the delay the schedule asked for in between; p50/p99, and p99 of actual/scheduled
  (a render still waiting for an overdue poll at the window's end counts with its wait so
  far, so a saturated client cannot look better by not polling);
* starvation: the longest gap between two polls of any render (a render not polled since
  before the window counts up to the window's end).

Clients:

* ``aioremotion``: one ``RemotionLambda`` (100 pooled connections, the default, and its
  fair limiter of the same size) and one ``aioremotion.watching`` per render, polling
  progress.json with conditional GETs; the schedule is either a fixed cadence
  (``PollPolicy(base_s=cap_s=first_delay_s=interval, jitter=0)``) or the default policy.
* ``official``: ``remotion_lambda.AsyncRemotionClient`` (4.0.539), which can only ask the
  status Lambda: one ``get_render_progress`` then ``asyncio.sleep(interval)`` per render,
  its calls run in asyncio's default thread pool as the SDK does.

Run: ``python benchmarks/fanout_scale.py [--quick] [--sizes 100,1000,10000] [--window 60]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import FAKE_S3_ENV, fake_s3, percentile, print_table, write_results

HERE = Path(__file__).resolve().parent
BUCKET = "remotionlambda-useast1-benchfanout"
FUNCTION = "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec"
REGION = "us-east-1"


@dataclass(frozen=True)
class Spec:
    """One measured configuration."""

    client: str  # "aioremotion" or "official"
    n: int
    policy: str  # "fixed" or "default"
    interval_s: float  # the fixed cadence (and the stagger of the starts)
    window_s: float
    warmup_s: float
    pool: int = 100

    @property
    def label(self) -> str:
        cadence = f"fixed {self.interval_s:g} s" if self.policy == "fixed" else "default policy"
        return f"{self.client} N={self.n} {cadence}"


def rid(index: int) -> str:
    return f"r{index:09d}"


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def machine_busy_s() -> float:
    """CPU seconds all processes on the machine have used (from /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- recording


class Recorder:
    """Per-render poll times and the delays the schedule asked for."""

    def __init__(self, n: int) -> None:
        self.last: list[float | None] = [None] * n
        self.asked_delay: list[float | None] = [None] * n
        self.max_gap = [0.0] * n
        self.lags = array("d")
        self.ratios = array("d")
        self.polls = 0
        self.errors = 0
        self.measuring = False
        self.started = 0.0

    def asked(self, index: int, delay: float) -> None:
        self.asked_delay[index] = delay

    def polled(self, index: int) -> None:
        now = time.monotonic()
        previous, self.last[index] = self.last[index], now
        if not self.measuring:
            return
        self.polls += 1
        if previous is None:
            return
        gap = now - previous
        if gap > self.max_gap[index]:
            self.max_gap[index] = gap
        delay = self.asked_delay[index]
        if delay:
            self.lags.append(gap - delay)
            self.ratios.append(gap / delay)

    def start(self) -> None:
        self.measuring, self.started = True, time.monotonic()

    def stop(self) -> dict[str, Any]:
        end = time.monotonic()
        self.measuring = False
        gaps = []
        for index, (gap, last) in enumerate(zip(self.max_gap, self.last, strict=True)):
            waiting = end - (last if last is not None else self.started)
            delay = self.asked_delay[index]
            if delay and waiting > delay:
                # Still waiting for an overdue poll: it counts with the wait so far (a
                # lower bound), else a saturated client would look better than it is.
                self.lags.append(waiting - delay)
                self.ratios.append(waiting / delay)
            gaps.append(max(gap, waiting))
        never = sum(1 for last in self.last if last is None or last < self.started)
        worst = max(range(len(gaps)), key=gaps.__getitem__)
        return {
            "window_s": end - self.started,
            "polls": self.polls,
            "errors": self.errors,
            "lag_p50_s": percentile(self.lags, 50),
            "lag_p99_s": percentile(self.lags, 99),
            "lag_max_s": max(self.lags, default=None),
            "ratio_p50": percentile(self.ratios, 50),
            "ratio_p99": percentile(self.ratios, 99),
            "starvation_s": gaps[worst],
            "starvation_scheduled_s": self.asked_delay[worst],
            "renders_not_polled_in_window": never,
        }


async def server_stats(port: int) -> dict[str, Any]:
    """The stand-in's own CPU and request counters (``GET /__stats``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /__stats HTTP/1.1\r\nHost: stats\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    body = await reader.readexactly(length)
    writer.close()
    return json.loads(body)  # type: ignore[no-any-return]


async def measure(spec: Spec, port: int, recorder: Recorder, watchers_started: asyncio.Event,
                  baseline_rss: float) -> dict[str, Any]:
    """Wait for the watchers to start and settle, then measure one window."""
    await watchers_started.wait()
    await asyncio.sleep(spec.warmup_s)
    server0, cpu0, busy0 = await server_stats(port), cpu_now(), machine_busy_s()
    recorder.start()
    await asyncio.sleep(spec.window_s)
    result = recorder.stop()
    cpu, busy = cpu_now() - cpu0, machine_busy_s() - busy0
    server1 = await server_stats(port)
    window = result["window_s"]
    polls = result["polls"]
    server_cpu = server1["cpu_s"] - server0["cpu_s"]
    return {
        **asdict(spec),
        **result,
        "polls_per_s": polls / window,
        "demand_polls_per_s": spec.n / spec.interval_s if spec.policy == "fixed" else None,
        "client_cpu_s": cpu,
        "client_cpu_cores": cpu / window,
        "cpu_s_per_1000_polls": cpu / polls * 1000 if polls else None,
        "server_cpu_cores": server_cpu / window,
        # Whatever else ran on the machine meanwhile (it competes for the same 2 cores).
        "other_cpu_cores": max(0.0, busy - cpu - server_cpu) / window,
        "server_requests": server1["requests"] - server0["requests"],
        "server_304s": server1["not_modified"] - server0["not_modified"],
        "server_lambda_invokes": server1["lambda_invokes"] - server0["lambda_invokes"],
        "baseline_rss_mb": baseline_rss,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def staggered(spec: Spec, follow: Callable[[int], Awaitable[None]],
                    started: asyncio.Event) -> None:
    """Start ``follow(i)`` for every render, spread evenly over one interval."""
    stagger = max(1.0, spec.interval_s)
    tasks = []
    t0 = time.monotonic()
    for index in range(spec.n):
        delay = t0 + stagger * index / spec.n - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(follow(index)))
    started.set()
    await asyncio.gather(*tasks)


# --------------------------------------------------------------------------- aioremotion


async def run_aioremotion(spec: Spec, port: int) -> dict[str, Any]:
    from aioremotion import PollPolicy, RemotionLambda, RenderHandle

    # Not from the package: importing WatchOptions first binds ``aioremotion.watching`` to
    # the submodule, so ``from aioremotion import WatchOptions, watch`` gets the module.
    from aioremotion.watching import WatchError, WatchOptions, watch

    endpoint = f"http://127.0.0.1:{port}"
    if spec.policy == "fixed":
        policy = PollPolicy(first_delay_s=spec.interval_s, base_s=spec.interval_s,
                            cap_s=spec.interval_s, near_finish_s=spec.interval_s, jitter=0.0)
    else:
        policy = PollPolicy.default()
    options = WatchOptions(policy=policy)
    recorder = Recorder(spec.n)
    index_of = {rid(i): i for i in range(spec.n)}
    outcomes = {"ended": 0, "watch_errors": 0}

    async with RemotionLambda(region=REGION, function_name=FUNCTION, max_pool_connections=spec.pool,
                              endpoint_urls={"s3": endpoint, "lambda": endpoint}) as client:
        reader = client.progress_reader
        read = reader.read

        async def recorded_read(render: Any, **kwargs: Any) -> Any:
            try:
                return await read(render, **kwargs)
            except Exception:
                recorder.errors += 1
                raise
            finally:
                recorder.polled(index_of[render.render_id])

        reader.read = recorded_read  # type: ignore[method-assign]

        async def recorded_sleep(index: int, delay: float) -> None:
            recorder.asked(index, delay)
            await asyncio.sleep(delay)

        async def follow(index: int) -> None:
            handle = RenderHandle(render_id=rid(index), bucket_name=BUCKET, region=REGION,
                                  function_name=FUNCTION)
            try:
                async for _ in watch(client, handle, options,
                                     sleep=partial(recorded_sleep, index)):
                    pass
                outcomes["ended"] += 1
            except WatchError:
                outcomes["watch_errors"] += 1

        baseline = current_rss_mb()
        started = asyncio.Event()
        watchers = asyncio.create_task(staggered(spec, follow, started))
        result = await measure(spec, port, recorder, started, baseline)
        watchers.cancel()
        return {**result, **outcomes}


# --------------------------------------------------------------------------- official SDK


async def run_official(spec: Spec, port: int) -> dict[str, Any]:
    from remotion_lambda import AsyncRemotionClient

    client = AsyncRemotionClient(region=REGION, serve_url="https://example.com/sites/bench",
                                 function_name=FUNCTION)
    recorder = Recorder(spec.n)
    outcomes = {"ended": 0}

    async def follow(index: int) -> None:
        while True:
            done = False
            try:
                progress = await client.get_render_progress(rid(index), BUCKET)
                done = bool(progress and progress.done)
            except Exception:
                recorder.errors += 1
            finally:
                recorder.polled(index)
            if done:
                outcomes["ended"] += 1
                return
            recorder.asked(index, spec.interval_s)
            await asyncio.sleep(spec.interval_s)

    baseline = current_rss_mb()
    started = asyncio.Event()
    watchers = asyncio.create_task(staggered(spec, follow, started))
    result = await measure(spec, port, recorder, started, baseline)
    watchers.cancel()
    return {**result, **outcomes,
            "thread_pool_workers": min(32, (os.cpu_count() or 1) + 4)}


def worker(spec: Spec, port: int) -> None:
    """Run one configuration in this (fresh) process and print its result as JSON."""
    runner = run_aioremotion if spec.client == "aioremotion" else run_official
    result = asyncio.run(runner(spec, port))
    print(json.dumps(result), flush=True)
    os._exit(0)  # skip tearing down thousands of watchers and queued thread-pool calls


# --------------------------------------------------------------------------- orchestration


def run_one(spec: Spec) -> dict[str, Any]:
    env = {**os.environ, **FAKE_S3_ENV}
    env.pop("AWS_PROFILE", None)
    with fake_s3(spec.n) as port:
        env["AWS_ENDPOINT_URL_LAMBDA"] = env["AWS_ENDPOINT_URL_S3"] = f"http://127.0.0.1:{port}"
        timeout = spec.warmup_s + spec.window_s + spec.interval_s + 240
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker",
             json.dumps(asdict(spec)), "--port", str(port)],
            capture_output=True, text=True, env=env, timeout=timeout,
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{spec.label} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def wait_until_quiet(limit_s: float, threshold_cores: float = 0.3) -> float:
    """Wait (at most ``limit_s``) until the rest of the machine uses under
    ``threshold_cores``; return the load last seen. Other work on the same 2 cores
    takes CPU from the client and shows up as lag."""
    deadline = time.monotonic() + limit_s
    while True:
        before = machine_busy_s()
        time.sleep(1.0)
        load = machine_busy_s() - before
        if load < threshold_cores or time.monotonic() >= deadline:
            return load
        time.sleep(2.0)


def plan(args: argparse.Namespace) -> list[Spec]:
    sizes = [int(s) for s in args.sizes.split(",")]
    window, warmup, largest = args.window, args.warmup, max(sizes)
    specs = [Spec("aioremotion", n, "fixed", args.interval, window, warmup) for n in sizes]
    if not args.no_default_policy:
        # The default policy at the largest size only (it polls about once a second per
        # render here, so it is as loaded as the 1 s cadence), over half the window.
        specs.append(Spec("aioremotion", largest, "default", 1.0, window / 2, warmup))
    if args.sustained_interval and largest >= 10_000:
        specs.append(Spec("aioremotion", largest, "fixed", args.sustained_interval,
                          max(window, 2 * args.sustained_interval), warmup))
    specs += [Spec("official", n, "fixed", args.interval, window, warmup)
              for n in sizes if n <= args.official_max]
    return specs


def row(result: dict[str, Any]) -> dict[str, Any]:
    policy = (f"fixed {result['interval_s']:g}s" if result["policy"] == "fixed"
              else "default")
    demand = result["demand_polls_per_s"]
    return {
        "client": result["client"],
        "N": result["n"],
        "cadence": policy,
        "polls/s": round(result["polls_per_s"]),
        "asked/s": round(demand) if demand else None,
        "CPU s/1k polls": result["cpu_s_per_1000_polls"],
        "client cores": result["client_cpu_cores"],
        "server cores": result["server_cpu_cores"],
        "other cores": result["other_cpu_cores"],
        "peak RSS MB": round(result["peak_rss_mb"]),
        "lag p50 s": result["lag_p50_s"],
        "lag p99 s": result["lag_p99_s"],
        "p99 x sched": result["ratio_p99"],
        "max gap s": result["starvation_s"],
        "errors": result["errors"],
    }


COLUMNS = ["client", "N", "cadence", "polls/s", "asked/s", "CPU s/1k polls", "client cores",
           "server cores", "other cores", "peak RSS MB", "lag p50 s", "lag p99 s", "p99 x sched",
           "max gap s", "errors"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="N=100,1000, an 8 s window, the official SDK at 100 only")
    parser.add_argument("--sizes", default=None, help="comma-separated N (100,1000,10000)")
    parser.add_argument("--window", type=float, default=None, help="measured seconds (60)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds between the last watcher's start and the window (3)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="the fixed poll cadence, seconds (1)")
    parser.add_argument("--sustained-interval", type=float, default=None,
                        help="also run the largest N (>= 10000) at this slower fixed cadence, "
                             "seconds (30; 0 to skip)")
    parser.add_argument("--official-max", type=int, default=None,
                        help="largest N run with the official SDK (1000)")
    parser.add_argument("--no-default-policy", action="store_true",
                        help="skip the runs with aioremotion's default PollPolicy")
    parser.add_argument("--wait-quiet", type=float, default=0.0,
                        help="before each run, wait up to this many seconds for other "
                             "processes to use under 0.3 cores (for shared machines)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Spec(**json.loads(args.worker)), args.port)
        return
    args.sizes = args.sizes or ("100,1000" if args.quick else "100,1000,10000")
    args.window = args.window or (8.0 if args.quick else 60.0)
    args.warmup = args.warmup if args.warmup is not None else (2.0 if args.quick else 3.0)
    if args.sustained_interval is None:
        args.sustained_interval = 0.0 if args.quick else 30.0
    if args.official_max is None:
        args.official_max = 100 if args.quick else 1000
    specs = plan(args)
    results = []
    began = time.monotonic()
    for spec in specs:
        other = wait_until_quiet(args.wait_quiet) if args.wait_quiet else None
        print(f"running {spec.label} ({spec.window_s:g} s window) ...", flush=True)
        results.append({**run_one(spec), "other_cores_before": other})
    print_table("Fan-out scale: concurrent watches against a loopback S3 stand-in",
                [row(r) for r in results], COLUMNS)
    verdicts = []
    for r in results:
        if r["client"] == "aioremotion" and r["n"] >= 10_000:
            ratio = r["ratio_p99"]
            met = ratio is not None and ratio <= 2.0 and r["peak_rss_mb"] <= 300
            label = Spec(**{k: r[k] for k in Spec.__dataclass_fields__}).label
            verdicts.append({"run": label, "p99_ratio": ratio, "peak_rss_mb": r["peak_rss_mb"],
                             "target_met": met})
            shown = "-" if ratio is None else f"{ratio:.3g}x"
            print(f"target (10k watches, p99 interval <= 2x scheduled, peak RSS <= 300 MB): "
                  f"{label}: p99 {shown}, {r['peak_rss_mb']:.0f} MB -> "
                  f"{'met' if met else 'NOT met'}")
    write_results("fanout_scale", {
        "method": {
            "stand_in": "benchmarks/_fake_s3.py: raw asyncio HTTP/1.1 server in its own process "
                        "(S3 GET with ETag/If-None-Match->304, HEAD->404, status Lambda invoke); "
                        "each render's progress.json changes every 2-5 s and never finishes",
            "fixed_policy": "PollPolicy(first_delay_s=base_s=cap_s=near_finish_s=interval, "
                            "jitter=0)",
            "lag": "completion-to-completion interval between consecutive polls of a render "
                   "minus the delay the schedule asked for in between",
            "starvation": "longest gap between polls of any render, up to the window's end",
            "aioremotion_pool": 100,
            "official_thread_pool": "asyncio default executor: min(32, cpus + 4) workers",
        },
        "args": {k: v for k, v in vars(args).items() if k not in ("worker", "port")},
        "seconds": time.monotonic() - began,
        "runs": results,
        "target_10k": verdicts,
    })


if __name__ == "__main__":
    main()
