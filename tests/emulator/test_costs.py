"""A finished render's cost is its real estimate, shown as the running one is.

The emulated launch writes ``postRenderData.cost`` as Remotion's does
(docs/PROTOCOL.md section 13.4):
the renderers' billed durations (each chunk's render time plus 100 ms) × the renderer's
memory, plus every invocation, priced for the region. The protocol layer passes Remotion's
strings through unchanged (``<$0.001`` while running, ``$0`` at the end for a small
render); the events a watch yields format both figures with one formatter, so ``Done``
says what the render cost and in the same form ``Progress`` did.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aioremotion.emulator import RemotionEmulator
from aioremotion.events import Done, Progress
from aioremotion.protocol.constants import DISK_MB_FOR_PRICE_CALCULATION
from aioremotion.protocol.naming import parse_function_name, progress_key
from aioremotion.protocol.pricing import (
    estimate_price,
    format_cost,
    format_final_cost,
)
from aioremotion.protocol.schedule import PollPolicy
from aioremotion.watching import WatchOptions

FRAME_COST_MS = 5
FRAMES_PER_LAMBDA = 10  # Square has 30 frames: 3 renderers


async def read_progress_json(emulator: RemotionEmulator, render_id: str) -> dict[str, Any]:
    reply = await emulator.s3.get_object(Bucket=emulator.bucket, Key=progress_key(render_id))
    state: dict[str, Any] = json.loads(await reply["Body"].read())
    return state


@pytest.mark.remotion_emulator(frame_cost_ms=FRAME_COST_MS)
async def test_final_cost_is_the_estimate_of_the_renderers_durations(
    emulator: RemotionEmulator,
) -> None:
    async with emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="Square", codec="h264",
                                             frames_per_lambda=FRAMES_PER_LAMBDA)
        # reads every 10-100 ms from 10 ms on: this render is over in about 0.1 s, before
        # the default policy's first read, and the test needs to see it running
        often = WatchOptions(policy=PollPolicy(first_delay_s=0.01, floor_s=0.01,
                                               base_s=0.02, cap_s=0.1, near_finish_s=0.01))
        events = [event async for event in remotion.watch(render, often)]
        final = await remotion.get_progress(render)
    state = await read_progress_json(emulator, render.render_id)

    timings = state["timings"]
    assert len(timings) == 3
    billed = sum(t["rendered"] - t["start"] + 100 for t in timings)
    # every renderer simulated FRAMES_PER_LAMBDA frames of FRAME_COST_MS each, at least
    assert billed >= 3 * (FRAMES_PER_LAMBDA * FRAME_COST_MS + 100)
    post = state["postRenderData"]
    assert post["estimatedBillingDurationInMilliseconds"] == billed
    renderer = parse_function_name(state["renderMetadata"]["rendererFunctionName"])
    assert renderer is not None
    expected = estimate_price(
        region=emulator.region, memory_mb=renderer.memory_mb,
        disk_mb=DISK_MB_FOR_PRICE_CALCULATION,
        lambdas_invoked=state["renderMetadata"]["estimatedTotalLambdaInvokations"],
        duration_ms=billed,
    )
    cost = post["cost"]
    assert cost["estimatedCost"] == expected > 0
    assert cost["currency"] == "USD"
    # the protocol stays Remotion's: its final display string rounds a small cost away
    assert cost["estimatedDisplayCost"] == format_final_cost(expected, "USD")
    assert final.done and final.costs.display_cost == cost["estimatedDisplayCost"]

    done = events[-1]
    assert isinstance(done, Done)
    assert done.cost == expected
    assert done.cost_display == format_cost(expected, "USD") != "$0"
    running = [e for e in events if isinstance(e, Progress)]
    assert running
    for event in running:
        assert event.cost_display == format_cost(event.cost_so_far, "USD")
