"""The ETA and the stage a watch reports, and the cost shown the same way throughout.

The machine is driven on a fake clock (the caller's, passed as ``now``) with progress.json
bodies built from a conformance record; one test runs a real render on the emulator.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import anyio
import pytest

from aioremotion.emulator import RemotionEmulator
from aioremotion.events import Done, Progress
from aioremotion.protocol.events import event_from_progress, render_stage
from aioremotion.protocol.pricing import format_cost
from aioremotion.protocol.progress import ProgressContext, RenderProgress, compute_render_progress
from aioremotion.protocol.watch import ReadOk, Sleep, WatchMachine
from aioremotion.watching import live_watch_options, watch

from ..conformance.loader import load_cases

CASES = {case["name"]: case for case in load_cases("progress-cases.json")}
MID = CASES["02-mid-render"]  # 60 frames in 3 chunks
CTX = ProgressContext.for_function(MID["functionName"], region=MID["region"],
                                   render_id=MID["renderId"], bucket_name=MID["bucketName"])
WALL_MS = float(MID["now"])


def body(*, frames: int, chunks: int = 0, combined: int = 0, metadata: bool = True) -> bytes:
    file: dict[str, Any] = copy.deepcopy(MID["progressJson"])
    file.update(framesRendered=frames, framesEncoded=frames, chunks=list(range(chunks)),
                combinedFrames=combined)
    if not metadata:
        file["renderMetadata"] = None
    return json.dumps(file).encode()


def progress_of(data: bytes) -> RenderProgress:
    progress = compute_render_progress(json.loads(data), CTX, now_ms=WALL_MS)
    assert isinstance(progress, RenderProgress)
    return progress


class Reader:
    """Feeds the machine one body per read, at the times it asks for (a fake clock)."""

    def __init__(self) -> None:
        self.machine = WatchMachine(CTX, live_watch_options(heartbeat_s=None), start=0.0,
                                    rng=random.Random(0))
        self.now = 0.0
        self.reads = 0

    def read(self, data: bytes) -> Any:
        action = self.machine.next_action(self.now)
        while isinstance(action, Sleep):
            self.now += action.seconds
            action = self.machine.next_action(self.now)
        self.reads += 1
        return self.machine.receive(ReadOk(data, etag=f'"{self.reads}"'),
                                    now_ms=WALL_MS + self.now * 1000)


def test_the_stages_of_a_render() -> None:
    assert render_stage(progress_of(body(frames=0, metadata=False))) == ("starting", None)
    assert render_stage(progress_of(body(frames=15))) == ("frames", 0.25)
    assert render_stage(progress_of(body(frames=60, chunks=1))) == ("chunks", pytest.approx(1 / 3))
    assert render_stage(progress_of(body(frames=60, chunks=3))) == ("combine", 0.0)
    assert render_stage(progress_of(body(frames=60, chunks=3, combined=30))) == ("combine", 0.5)
    event = event_from_progress(progress_of(body(frames=60, chunks=1)))
    assert isinstance(event, Progress) and event.stage == "chunks"


def test_an_eta_as_soon_as_the_render_moved_across_two_reads() -> None:
    reader = Reader()
    first = reader.read(body(frames=0, metadata=False))
    at_first = reader.now  # first_delay_s after the start
    assert isinstance(first, Progress) and first.stage == "starting"
    assert first.eta_seconds is None
    second = reader.read(body(frames=15))  # a quarter of the frames since the last read
    assert isinstance(second, Progress) and second.stage == "frames"
    assert second.eta_seconds is not None
    # the frames began midway between the two reads: a quarter in half the gap
    gap = reader.now - at_first
    assert second.eta_seconds == pytest.approx(gap / 2 / 0.25 - gap / 2)
    at_second = reader.now
    third = reader.read(body(frames=30))  # then the line through the two samples
    assert isinstance(third, Progress) and third.eta_seconds is not None
    assert third.eta_seconds == pytest.approx(2 * (reader.now - at_second))


def test_the_eta_follows_each_stage() -> None:
    """Frames render fast, then the chunks take their time: each stage gets its own ETA
    (the overall progress stays at 90% meanwhile, so it could not give one)."""
    reader = Reader()
    reader.read(body(frames=0, metadata=False))
    reader.read(body(frames=60))  # every frame rendered at once: the chunks are next
    chunks = [reader.read(body(frames=60, chunks=n)) for n in (1, 2)]
    assert all(isinstance(e, Progress) and e.stage == "chunks" for e in chunks)
    assert chunks[0].progress == chunks[1].progress  # 0.9 both times
    eta = chunks[1].eta_seconds
    assert eta is not None and eta > 0
    combining = reader.read(body(frames=60, chunks=3, combined=30))
    assert isinstance(combining, Progress) and combining.stage == "combine"


def test_done_shows_its_cost_as_progress_did() -> None:
    """The function writes estimatedDisplayCost "$0" for $0.00031 (and "<$0.001" while
    running): displays show one rule throughout, which says what it cost."""
    done = event_from_progress(progress_of(json.dumps(
        CASES["04-done-postRenderData"]["progressJson"]).encode()))
    assert isinstance(done, Done) and done.cost == 0.00031
    assert done.cost_display == format_cost(0.00031, "USD") == "$0.00031"
    running = event_from_progress(progress_of(body(frames=15)))
    assert isinstance(running, Progress)
    assert running.cost_display == format_cost(running.cost_so_far, "USD")


async def test_a_render_on_the_emulator_reports_an_eta_before_it_is_done(
        emulator: RemotionEmulator) -> None:
    emulator.faults.slow_renders(100)  # 150 frames at 50 ms in 8 chunks: about 1 s
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="HelloWorld", codec="h264")
        with anyio.fail_after(60):
            events = [event async for event in watch(remotion, handle,
                                                     live_watch_options(heartbeat_s=None))]
    assert isinstance(events[-1], Done)
    progress = [e for e in events if isinstance(e, Progress)]
    assert any(e.eta_seconds is not None for e in progress), progress
    assert events[-1].cost_display == format_cost(events[-1].cost or 0.0, "USD")
