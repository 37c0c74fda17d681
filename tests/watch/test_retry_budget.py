"""One retry layer: however a start is made, it is sent at most ``attempts`` times in all
(counted per job by the tag its start carries, on the emulator's own record of every
invocation, throttled ones included)."""

from __future__ import annotations

from collections import Counter

import anyio
import pytest

from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.errors import ConcurrencyLimitError
from aioremotion.fanout import Batch, Job, render_many
from aioremotion.recovery import JOB_TAG
from aioremotion.retry import ThrottleRetry

from .test_watch import FAST, HELLO


def sends_per_job(emulator: RemotionEmulator) -> Counter[str]:
    """How many start invocations each tag got (throttled ones included)."""
    return Counter(call.payload_json["metadata"][JOB_TAG]
                   for call in emulator.server.invocations_of("start"))


def jobs(emulator: RemotionEmulator, count: int) -> list[Job]:
    return [Job({"serve_url": emulator.serve_url, **HELLO, "input_props": {"n": i}},
                key=f"job-{i}") for i in range(count)]


async def test_a_start_throttled_for_good_is_sent_exactly_attempts_times(
    emulator: RemotionEmulator,
) -> None:
    emulator.faults.throttle_next(10_000, routines={"start"})
    budget = ThrottleRetry(attempts=5, base_s=0.001, cap_s=0.01)
    async with emulator.client(throttle_retry=ThrottleRetry(attempts=3)) as remotion:
        with anyio.fail_after(30):
            async with Batch(remotion, watch_options=FAST, start_retry=budget) as batch:
                for job in jobs(emulator, 4):
                    batch.submit(job)
        emulator.faults.throttles = 0
    assert [r.status for r in batch.results] == ["error"] * 4
    for result in batch.results:
        assert isinstance(result.error, ConcurrencyLimitError)
        assert result.error.attempts == 5  # the batch's budget, not 5 x the client's 3
    sends = sends_per_job(emulator)
    assert sorted(sends) == sorted(r.tag for r in batch.results if r.tag)
    assert set(sends.values()) == {5}
    assert batch.pacer.throttles == 20  # every throttle reached the pacer
    assert emulator.functions is not None and emulator.functions.renders_started == 0


async def test_a_throttle_storm_at_an_account_limit_finishes_every_job_within_the_budget(
) -> None:
    config = EmulatorConfig(progress_write_interval_s=0.02, account_concurrency=2,
                            frame_cost_ms=0.5)
    budget = ThrottleRetry(attempts=60, base_s=0.005, cap_s=0.1)
    async with RemotionEmulator(config=config) as emulator:
        emulator.faults.throttle_next(15, routines={"start"})
        async with emulator.client(throttle_retry=budget) as remotion:
            with anyio.fail_after(120):
                results = await render_many(remotion, jobs(emulator, 10),
                                            max_concurrent_starts=10, watch_options=FAST)
        assert emulator.functions is not None
        assert emulator.functions.renders_started == 10  # nothing started twice
        assert emulator.functions.throttled >= 15
        sends = sends_per_job(emulator)
    assert [r.status for r in results] == ["done"] * 10, [r.error for r in results]
    assert len(sends) == 10 and max(sends.values()) <= budget.attempts
    assert sum(sends.values()) == 10 + emulator.functions.throttled


async def test_a_direct_start_is_sent_at_most_the_clients_attempts(
    emulator: RemotionEmulator,
) -> None:
    emulator.faults.throttle_next(10_000, routines={"start"})
    async with emulator.client(throttle_retry=ThrottleRetry(attempts=4, base_s=0.001,
                                                            cap_s=0.01)) as remotion:
        with pytest.raises(ConcurrencyLimitError) as info:
            await remotion.render_media(serve_url=emulator.serve_url, **HELLO,
                                        metadata={JOB_TAG: "direct"})
        emulator.faults.throttles = 0
    assert info.value.attempts == 4
    assert sends_per_job(emulator) == {"direct": 4}
