"""A randomized fault-and-cancel run over ``Batch``, ``render_many`` and ``aioremotion batch``.

Each iteration draws, from its seed, an API, a number of jobs and a mix of faults: emulator
faults (throttled starts, fatal chunk errors, lost progress writes, slow renders), S3 proxy
faults on progress.json (503s, resets, garbage), Lambda proxy faults (a start forwarded and
then reset, the case where only the render's tag tells whether it started), a whole-batch
cancel at a random moment, fail-fast on or off, and for the CLI a SIGKILL then a rerun.

After each iteration it checks what must always hold, whatever the timing:

* exactly one outcome per job, and the outcome the armed faults call for;
* no render started twice (the emulator's own record, grouped by each start's tag);
* every render the emulator started is known to the caller (a handle in a result or an
  ``on_started`` call, or a result that names its tag as an unknown outcome);
* no task left running client code, no connection or stream left open, a usable client.

A failing iteration's message starts with its seed: ``AIOREMOTION_FUZZ_SEED=<seed>`` runs it
alone.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import random
import signal
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.lowlevel

from aioremotion import ThrottleRetry
from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.fanout import Batch, BatchFailed, JobResult, render_many
from aioremotion.recovery import JOB_TAG
from aioremotion.schedule import PollPolicy
from aioremotion.testing import FaultyProxy
from aioremotion.watching import WatchOptions

from .helpers import client_side_tasks, connections_in_use

Api = Literal["Batch", "render_many", "cli"]
CONFIG = EmulatorConfig(progress_write_interval_s=0.02, cancel_poll_interval_s=0.05,
                        frame_cost_ms=0.5)
FAST = WatchOptions(policy=PollPolicy(first_delay_s=0.01, floor_s=0.01, base_s=0.02,
                                      cap_s=0.1, near_finish_s=0.01))
START = b'"type":"start"'


@dataclass(frozen=True)
class Plan:
    """What one iteration does, drawn from its seed."""

    seed: int
    api: Api
    jobs: int
    fail_fast: bool
    cancel_remote_on_exit: bool
    consume_events: bool
    #: Cancel the whole batch after this long (seconds), or never.
    cancel_after_s: float | None
    #: CLI: SIGKILL the first run after this long, then rerun; or let it finish.
    kill_after_s: float | None
    throttles: int
    start_resets: int
    failing_renders: int
    dropped_writes: int
    slow_factor: float
    s3_faults: tuple[tuple[str, int], ...]

    @classmethod
    def draw(cls, seed: int) -> Plan:
        rng = random.Random(seed)
        chosen: Api = rng.choice(["Batch", "render_many", "cli"])
        jobs = rng.randint(3, 10)
        library = chosen != "cli"
        start_resets = rng.choice([0, 1, 2])
        # (a throttled start whose 429 is then lost stays unknown for start_shield_s:
        # test_fault_matrix covers it once; here it would only make iterations slow)
        throttles = 0 if start_resets else rng.choice([0, 2, 8])
        return cls(
            seed=seed,
            api=chosen,
            jobs=jobs,
            fail_fast=library and rng.random() < 0.3,
            cancel_remote_on_exit=library and rng.random() < 0.5,
            consume_events=rng.random() < 0.5,
            cancel_after_s=rng.uniform(0.05, 1.5) if library and rng.random() < 0.35 else None,
            kill_after_s=rng.uniform(0.5, 3.0) if not library and rng.random() < 0.5 else None,
            throttles=throttles,
            start_resets=start_resets,
            failing_renders=rng.choice([0, 0, 1]),
            dropped_writes=rng.choice([0, 3]),
            slow_factor=rng.choice([1.0, 1.0, 20.0, 60.0]),
            s3_faults=tuple(
                (kind, rng.randint(1, 4))
                for kind in ("503", "reset", "corrupt") if rng.random() < 0.4
            ),
        )

    def __str__(self) -> str:
        return f"seed {self.seed} ({self.api}, {self.jobs} jobs): {self!r}"


@dataclass
class Outcome:
    """What the caller ended with."""

    statuses: list[str] = field(default_factory=list)
    #: Render ids the caller was told of (results, on_started, results file).
    known_renders: set[str] = field(default_factory=set)
    #: Tags of starts whose outcome the caller holds as unknown.
    unknown_tags: set[str] = field(default_factory=set)
    #: Terminal events per job index (when the events were consumed).
    terminal_events: collections.Counter[int] = field(default_factory=collections.Counter)
    batch_failed: bool = False
    cancelled: bool = False


def _arm(plan: Plan, emulator: RemotionEmulator, s3: FaultyProxy,
         aws_lambda: FaultyProxy) -> None:
    faults = emulator.faults
    if plan.throttles:
        faults.throttle_next(plan.throttles, routines={"start"})
    for _ in range(plan.failing_renders):
        faults.fail_chunk(0, retryable=False, message="fuzz: boom")
    if plan.dropped_writes:
        faults.drop_progress_writes(plan.dropped_writes)
    if plan.slow_factor > 1:
        faults.slow_renders(plan.slow_factor)
    if plan.start_resets:
        aws_lambda.reset_after_forward(times=plan.start_resets, body_match=START)
    for kind, times in plan.s3_faults:
        if kind == "503":
            s3.fail(503, "SlowDown", times=times, method="GET", match="progress.json")
        elif kind == "reset":
            s3.reset_connection(times=times, match="progress.json")
        else:
            s3.corrupt_body(times=times, match="progress.json")


def _options(emulator: RemotionEmulator, index: int) -> dict[str, Any]:
    return {"serve_url": emulator.serve_url, "composition": "HelloWorld", "codec": "h264",
            "input_props": {"n": index}, "enable_cancellation": True}


async def _run_library(plan: Plan, emulator: RemotionEmulator) -> Outcome:
    outcome = Outcome()
    handed: list[JobResult] = []
    results: list[JobResult] = []
    async with FaultyProxy(emulator.s3_endpoint) as s3, \
            FaultyProxy(emulator.lambda_endpoint) as aws_lambda:
        _arm(plan, emulator, s3, aws_lambda)
        async with emulator.client(
            endpoint_urls={"lambda": aws_lambda.endpoint_url, "s3": s3.endpoint_url},
            s3_max_attempts=1,
            # short waits; enough attempts (the batch's, in all) to outlast 8 throttles
            throttle_retry=ThrottleRetry(attempts=10, base_s=0.01, cap_s=0.05),
        ) as remotion:
            jobs = [_options(emulator, i) for i in range(plan.jobs)]
            scope = anyio.CancelScope()
            if plan.cancel_after_s is not None:
                scope.deadline = anyio.current_time() + plan.cancel_after_s
            with anyio.fail_after(120), scope:
                try:
                    if plan.api == "Batch":
                        batch = Batch(remotion, fail_fast=plan.fail_fast, watch_options=FAST,
                                      cancel_remote_on_exit=plan.cancel_remote_on_exit,
                                      start_shield_s=30)
                        results = batch.results
                        async with batch:
                            for job in jobs:
                                batch.submit(job)
                            if plan.consume_events:
                                async for tagged in batch.events():
                                    if tagged.event.type in ("done", "error"):
                                        outcome.terminal_events[tagged.index] += 1
                    else:
                        results = await render_many(
                            remotion, jobs, fail_fast=plan.fail_fast, watch_options=FAST,
                            cancel_remote_on_exit=plan.cancel_remote_on_exit,
                            on_started=handed.append)
                except BatchFailed as failed:
                    outcome.batch_failed = True
                    results = failed.results
            outcome.cancelled = scope.cancelled_caught
            # the client is left as it should be: nothing running, nothing held
            await anyio.lowlevel.checkpoint()
            leaked = client_side_tasks()
            assert not leaked, f"{plan}: tasks left running client code: {leaked}"
            assert connections_in_use(remotion) == 0, f"{plan}: a connection is still in use"
            # a remote cancel is written once per render at most
            cancels = collections.Counter(
                r.path for r in s3.filter(method="PUT", match="cancel.json"))
            assert all(n == 1 for n in cancels.values()), f"{plan}: {cancels}"
            if not plan.cancel_remote_on_exit:
                assert not cancels, f"{plan}: cancelled remotely unasked: {cancels}"
            s3.clear_faults()
            aws_lambda.clear_faults()
            with anyio.fail_after(30):
                assert await remotion.function_version()
                await remotion.transport.list_objects(emulator.bucket, "sites/")
    outcome.statuses = [r.status for r in results]
    for result in [*results, *handed]:
        if result.render is not None:
            outcome.known_renders.add(result.render.render_id)
        if result.start_outcome_unknown and result.tag:
            outcome.unknown_tags.add(result.tag)
    if plan.api == "render_many" and outcome.cancelled:
        assert not results, f"{plan}: a cancelled render_many returned"
    return outcome


def _cli(emulator: RemotionEmulator, lambda_url: str, s3_url: str, jobs: Path,
         out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, **emulator.env, "AWS_ENDPOINT_URL_LAMBDA": lambda_url,
           "AWS_ENDPOINT_URL_S3": s3_url}
    return subprocess.Popen(
        [sys.executable, "-m", "aioremotion", "batch", str(jobs), "--out", str(out),
         "--concurrency", "4", "--json"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)


async def _run_cli(plan: Plan, emulator: RemotionEmulator, work: Path) -> Outcome:
    outcome = Outcome()
    jobs, out = work / "jobs.jsonl", work / "results.jsonl"
    jobs.write_text("".join(
        json.dumps({"key": f"job-{i}", "composition": "HelloWorld", "inputProps": {"n": i}})
        + "\n" for i in range(plan.jobs)))
    async with FaultyProxy(emulator.s3_endpoint) as s3, \
            FaultyProxy(emulator.lambda_endpoint) as aws_lambda:
        _arm(plan, emulator, s3, aws_lambda)
        process = _cli(emulator, aws_lambda.endpoint_url, s3.endpoint_url, jobs, out)
        try:
            with anyio.move_on_after(plan.kill_after_s or 180) as wait:
                await anyio.to_thread.run_sync(process.wait, abandon_on_cancel=True)
            if wait.cancelled_caught:
                assert plan.kill_after_s is not None, f"{plan}: the batch hung"
                process.send_signal(signal.SIGKILL)
            _, err = await anyio.to_thread.run_sync(process.communicate)
        finally:
            if process.returncode is None:
                process.kill()
                process.communicate()
        assert process.returncode in (0, 1, -signal.SIGKILL), f"{plan}: {err}"
        assert "Traceback" not in err, f"{plan}: {err}"
        # the rerun (as a user would, faults still armed if any are left) completes it
        for _ in range(2):
            process = _cli(emulator, aws_lambda.endpoint_url, s3.endpoint_url, jobs, out)
            _, err = await anyio.to_thread.run_sync(process.communicate)
            assert process.returncode in (0, 1), f"{plan}: rerun failed: {err}"
            assert "Traceback" not in err, f"{plan}: {err}"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["key"] for r in records] == [f"job-{i}" for i in range(plan.jobs)], plan
    outcome.statuses = [r["status"] for r in records]
    outcome.known_renders = {r["renderId"] for r in records if r.get("renderId")}
    for record in records:
        if record["status"] == "error" and "its tag: " in (record.get("error") or ""):
            outcome.unknown_tags.add(record["error"].rpartition("its tag: ")[2].rstrip(")"))
    return outcome


def _check(plan: Plan, emulator: RemotionEmulator, outcome: Outcome) -> None:
    assert emulator.functions is not None
    started = emulator.functions.started_renders
    # no render started twice: each start's tag names its job, once
    tags = [r.metadata.get(JOB_TAG) for r in started]
    assert None not in tags, f"{plan}: a start without a tag"
    job_ids = collections.Counter(str(tag).rpartition(".")[0] for tag in tags)
    twice = [job for job, count in job_ids.items() if count > 1]
    assert not twice, f"{plan}: started twice: {twice}"
    assert len(started) <= plan.jobs, f"{plan}: {len(started)} renders for {plan.jobs} jobs"
    # every render started is known to the caller
    for render in started:
        assert (render.render_id in outcome.known_renders
                or render.metadata.get(JOB_TAG) in outcome.unknown_tags), (
            f"{plan}: render {render.render_id} ({render.metadata}) is unknown to the caller")
    # exactly one outcome per job, the one the faults call for
    assert all(count == 1 for count in outcome.terminal_events.values()), \
        f"{plan}: {outcome.terminal_events}"
    if plan.api == "render_many" and outcome.cancelled:
        return  # nothing returned; on_started named every render (checked above)
    assert len(outcome.statuses) == plan.jobs, f"{plan}: {outcome.statuses}"
    interrupted = outcome.cancelled or outcome.batch_failed
    allowed = {"done", "failed", "error", "cancelled", "not-started"} if interrupted else \
        {"done", "failed"} | ({"error"} if plan.api == "cli" else set())
    assert set(outcome.statuses) <= allowed, f"{plan}: {outcome.statuses}"
    if not interrupted:
        failed = outcome.statuses.count("failed")
        assert failed == min(plan.failing_renders, len(started)), \
            f"{plan}: {outcome.statuses}"
        if plan.api == "cli":  # an error is only a start cut by the kill, never resent
            assert outcome.statuses.count("error") == len(outcome.unknown_tags) or \
                plan.kill_after_s is not None, f"{plan}: {outcome.statuses}"


async def run_iteration(plan: Plan, work: Path) -> None:
    """One iteration on a fresh emulator; raises AssertionError naming the seed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        async with RemotionEmulator(config=CONFIG) as emulator:
            if plan.api == "cli":
                outcome = await _run_cli(plan, emulator, work)
            else:
                outcome = await _run_library(plan, emulator)
            # the caller has returned (or its process is gone): no start can come after
            _check(plan, emulator, outcome)
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)
                and "aioremotion" in (w.filename or "") + str(w.message)]
    assert not unclosed, f"{plan}: {unclosed}"


def seeds(count: int, *, base: int, each_api: bool = False) -> list[int]:
    """The seeds of a run: ``AIOREMOTION_FUZZ_SEED`` alone, else ``count`` seeds from
    ``base`` (with ``each_api``, the first ones that give each API equally often)."""
    chosen = os.environ.get("AIOREMOTION_FUZZ_SEED")
    if chosen:
        return [int(chosen)]
    if not each_api:
        return [base + i for i in range(count)]
    apis = ("Batch", "render_many", "cli")
    per_api = {api: 0 for api in apis}
    picked: list[int] = []
    seed = base
    while len(picked) < count:
        api = Plan.draw(seed).api
        if per_api[api] < -(-count // len(apis)):
            per_api[api] += 1
            picked.append(seed)
        seed += 1
    return picked
