"""The polling defects an independent harness found, each pinned by a test on a fake clock.

1. ``first_delay_s`` was never applied: the first read was immediate.
2. The frames' rate was measured from the read that first saw the render's metadata,
   though the frames begin only once the renderers are invoked (1-3 s later): the first
   prediction erred late.
3. A last stage (combine) that shows no progress before it ends got no prediction, so
   the schedule kept its base cadence (2 s for ``cheap()``).
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from aioremotion.events import Progress
from aioremotion.protocol.progress import ProgressContext
from aioremotion.protocol.watch import Read, ReadOk, Sleep, WatchMachine, WatchOptions
from aioremotion.schedule import PollPolicy, PollSchedule

from ..conformance.loader import load_cases

MID = {case["name"]: case for case in load_cases("progress-cases.json")}["02-mid-render"]
CTX = ProgressContext.for_function(MID["functionName"], region=MID["region"],
                                   render_id=MID["renderId"], bucket_name=MID["bucketName"])
WALL_MS = float(MID["now"])  # 60 frames in 3 chunks


def body(*, frames: int, metadata: bool = True) -> bytes:
    file: dict[str, Any] = copy.deepcopy(MID["progressJson"])
    file.update(framesRendered=frames, framesEncoded=frames, chunks=[], combinedFrames=0)
    if not metadata:
        file["renderMetadata"] = None
    return json.dumps(file).encode()


def read_at(machine: WatchMachine, now: float, data: bytes, etag: str) -> Any:
    """Skip the machine's sleeps, read at ``now``."""
    action = machine.next_action(now)
    while isinstance(action, Sleep):
        action = machine.next_action(now)
    assert isinstance(action, Read)
    return machine.receive(ReadOk(data, etag=etag), now_ms=WALL_MS + now * 1000)


@pytest.mark.parametrize("policy", [PollPolicy.default(), PollPolicy.cheap(),
                                    PollPolicy.interactive()])
def test_the_first_read_waits_first_delay_s(policy: PollPolicy) -> None:
    machine = WatchMachine(CTX, WatchOptions(policy=policy), start=5.0,
                           rng=random.Random(0))
    assert machine.next_action(5.0) == Sleep(policy.first_delay_s)
    assert machine.next_action(5.0 + policy.first_delay_s) == Read(None)


def test_the_frames_rate_is_measured_from_the_first_rendered_frame() -> None:
    """Metadata at 1 s, the renderers invoked ~2 s later: frames from ~3.5 s at 15 per
    second. The prediction must come from when frames began, not from when the metadata
    was first seen (that predicted the frames' end 3 s late)."""
    machine = WatchMachine(CTX, WatchOptions(policy=PollPolicy.cheap()), start=0.0,
                           rng=random.Random(0))
    read_at(machine, 0.5, body(frames=0, metadata=False), '"0"')
    read_at(machine, 1.0, body(frames=0), '"1"')   # metadata: the frames stage begins
    read_at(machine, 3.0, body(frames=0), '"2"')   # renderers still being invoked
    event = read_at(machine, 4.0, body(frames=15), '"3"')
    assert isinstance(event, Progress) and event.stage == "frames"
    # began midway between the reads at 3 s and 4 s: a quarter in 0.5 s, 1.5 s to go
    assert event.eta_seconds == pytest.approx(1.5)
    assert machine.schedule.predicted_finish == pytest.approx(5.5)


@pytest.mark.parametrize("policy", [PollPolicy.cheap(), PollPolicy.default()])
def test_a_combine_without_progress_yet_is_read_sooner_than_base_s(policy: PollPolicy) -> None:
    s = PollSchedule(policy, rng=random.Random(0), start=0.0)
    s.observe(1.0, changed=True, progress=0.5, stage="frames", last_stage=False)
    s.observe(2.0, changed=True, progress=1.0, stage="chunks", last_stage=False)
    s.observe(3.0, changed=True, progress=0.0, stage="combine", last_stage=True)
    assert s.predicted_finish is None
    wanted = max(policy.near_finish_s, policy.base_s / 2)
    assert s.next_delay(3.0) == pytest.approx(wanted)
    assert wanted < policy.base_s
    # nothing changes: it backs off from there, at most wanted * backoff
    s.observe(3.0 + wanted, changed=False, progress=0.0, stage="combine", last_stage=True)
    assert s.next_delay(3.0 + wanted) <= wanted * policy.backoff


def test_a_stage_before_the_last_keeps_its_cadence() -> None:
    s = PollSchedule(PollPolicy.cheap(), rng=random.Random(0), start=0.0)
    s.observe(1.0, changed=True, progress=0.0, stage="frames", last_stage=False)
    assert s.next_delay(1.0) == PollPolicy.cheap().base_s
