"""Estimated progress between reads (``WatchOptions.estimate_every_s``): pure, on a fake
clock. The machine returns a Sleep until the next estimate tick carrying an estimated
Progress; estimates follow the current stage's measured rate, never pass the next
stage's start, never go backwards, and a real read corrects them (holding while an
estimate that ran ahead waits for the truth)."""

from __future__ import annotations

import copy
import itertools
import json
import random
from typing import Any

import pytest

from aioremotion.errors import InvalidOptionsError
from aioremotion.events import Progress
from aioremotion.protocol.progress import ProgressContext
from aioremotion.protocol.watch import Read, ReadOk, Sleep, WatchMachine, WatchOptions
from aioremotion.schedule import PollPolicy

from ..conformance.loader import load_cases

MID = {case["name"]: case for case in load_cases("progress-cases.json")}["02-mid-render"]
CTX = ProgressContext.for_function(MID["functionName"], region=MID["region"],
                                   render_id=MID["renderId"], bucket_name=MID["bucketName"])
WALL_MS = float(MID["now"])  # 60 frames in 3 chunks
#: Reads far apart (cap 8 s, the whole time to the predicted end slept), so estimates show.
SPARSE = PollPolicy(first_delay_s=1.0, base_s=4.0, cap_s=8.0, eta_share=1.0,
                    near_finish_window_s=0.0, jitter=0.0)


def body(*, frames: int, chunks: int = 0, combined: int = 0) -> bytes:
    file: dict[str, Any] = copy.deepcopy(MID["progressJson"])
    file.update(framesRendered=frames, framesEncoded=frames, chunks=list(range(chunks)),
                combinedFrames=combined)
    return json.dumps(file).encode()


class Clocked:
    """Drives the machine on a fake clock: sleeps advance it, estimates are collected."""

    def __init__(self, every: float | None = 0.5, policy: PollPolicy = SPARSE) -> None:
        self.m = WatchMachine(CTX, WatchOptions(policy=policy, estimate_every_s=every),
                              start=0.0, rng=random.Random(0))
        self.now = 0.0
        self.estimates: list[Progress] = []
        self.events: list[Any] = []
        self.reads = 0

    def read(self, data: bytes) -> Any:
        action = self.m.next_action(self.now)
        while isinstance(action, Sleep):
            if action.event is not None:
                assert action.event.estimated
                self.estimates.append(action.event)
                self.events.append(action.event)
            self.now += action.seconds
            action = self.m.next_action(self.now)
        assert isinstance(action, Read)
        self.reads += 1
        event = self.m.receive(ReadOk(data, etag=f'"{self.reads}"'),
                               now_ms=WALL_MS + self.now * 1000)
        if event is not None:
            self.events.append(event)
        return event


def shown(events: list[Any]) -> list[float]:
    return [e.progress for e in events if isinstance(e, Progress)]


def test_estimates_follow_the_stage_rate_between_reads() -> None:
    c = Clocked()
    c.read(body(frames=0))
    at, real = c.now, c.read(body(frames=6))  # the frames begin: a rate, a predicted end
    assert isinstance(real, Progress) and not real.estimated
    c.read(body(frames=12))
    between = c.estimates
    assert between, "no estimate between the reads"
    assert all(e.frames_rendered == 6 and e.stage == "frames" for e in between)
    # 0.7 of the overall progress is the frames' (rendered + encoded), at the rate seen:
    # a tenth of the frames in the 2 s since they began (midway between the reads)
    cap = real.progress + 0.7 * (1 - 6 / 60)
    assert all(real.progress < e.progress <= cap + 1e-9 for e in between)
    first = between[0]
    assert first.progress == pytest.approx(real.progress + 0.7 * 0.05 * 0.5)  # 0.5 s on
    steps = [b.progress - a.progress for a, b in itertools.pairwise(between)]
    assert steps and all(step == pytest.approx(steps[0]) for step in steps)
    assert c.now > at


def test_estimates_never_go_backwards_and_a_read_behind_them_holds() -> None:
    c = Clocked()
    c.read(body(frames=0))
    c.read(body(frames=6))
    c.read(body(frames=12))
    ahead = max(shown(c.events))
    late = c.read(body(frames=13))  # the truth is slower than the estimate was
    if c.estimates:
        ahead = max(shown(c.events[:-1]))
        assert late is None or late.progress >= ahead  # held, never backwards
    values = shown(c.events)
    assert values == sorted(values)
    c.read(body(frames=60, chunks=3, combined=60))  # the truth passes it
    assert shown(c.events)[-1] >= ahead


def test_an_estimate_never_passes_the_next_stage_start() -> None:
    c = Clocked(every=0.25)
    c.read(body(frames=0))
    c.read(body(frames=6))
    real = c.read(body(frames=12))
    assert isinstance(real, Progress)
    cap = real.progress + 0.7 * (1 - 12 / 60)
    # the machine's clock runs on to the next read: every estimate stays below the cap
    c.read(body(frames=12))
    assert c.estimates
    assert max(e.progress for e in c.estimates) <= cap + 1e-9


def test_the_chunks_stage_moves_no_estimate() -> None:
    """All frames rendered, chunks finishing: Remotion's overall progress does not move
    with the chunks, so neither does an estimate."""
    c = Clocked()
    c.read(body(frames=0))
    c.read(body(frames=60, chunks=1))
    c.read(body(frames=60, chunks=2))
    before = len(c.estimates)
    c.read(body(frames=60, chunks=2))
    assert len(c.estimates) == before


def test_no_estimates_unless_asked_and_the_reads_are_the_same() -> None:
    frames = [0, 6, 12, 30, 48]
    plain, estimating = Clocked(every=None), Clocked(every=0.5)
    for n in frames:
        plain.read(body(frames=n))
        estimating.read(body(frames=n))
    assert not plain.estimates and estimating.estimates
    assert plain.now == pytest.approx(estimating.now)  # estimation moves no read


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "1"])
def test_estimate_every_s_is_validated(bad: Any) -> None:
    with pytest.raises(InvalidOptionsError, match="estimate_every_s"):
        WatchOptions(estimate_every_s=bad)
