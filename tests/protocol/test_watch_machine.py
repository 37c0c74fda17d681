"""The watch machine, driven with a fake clock and scripted reads: no event loop, no sleeps.

Bodies come from the conformance records (progress.json files with the JS client's
expected progress), so the events are the ones a real render produces.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioremotion.errors import (
    ProgressFileError,
    RemotionFunctionError,
    StillRenderNotSupportedError,
)
from aioremotion.events import Done, Failed, Progress
from aioremotion.protocol.naming import launch_logs_url
from aioremotion.protocol.progress import (
    OutputHead,
    OutputHeadRequest,
    ProgressContext,
    ProgressFile,
    RenderProgress,
    compute_render_progress,
    parse_progress_file,
)
from aioremotion.protocol.watch import (
    Abort,
    Finished,
    GiveUp,
    Head,
    HeadResult,
    NotFound,
    NotModified,
    PermanentError,
    Read,
    ReadOk,
    Sleep,
    StatusReply,
    TransientError,
    WatchInput,
    WatchMachine,
    WatchOptions,
    WatchProtocolError,
    progress_event,
)
from aioremotion.schedule import PollPolicy, PollSchedule

from ..conformance.loader import load_cases

CASES = {case["name"]: case for case in load_cases("progress-cases.json")}
FIRST = CASES["01-initial"]
CTX = ProgressContext.for_function(FIRST["functionName"], region=FIRST["region"],
                                   render_id=FIRST["renderId"], bucket_name=FIRST["bucketName"])
RENDER_ID = FIRST["renderId"]
POLICY = PollPolicy.default()


def body(name: str) -> bytes:
    return json.dumps(CASES[name]["progressJson"]).encode()


def now_ms(name: str) -> float:
    return float(CASES[name]["now"])


def machine(options: WatchOptions | None = None, *, seed: int = 0,
            start: float = 0.0) -> WatchMachine:
    return WatchMachine(CTX, options, start=start, rng=random.Random(seed))


class Driver:
    """Plays the I/O loop: reads at the times the machine asks for, on a fake clock."""

    def __init__(self, m: WatchMachine, *, now: float = 0.0) -> None:
        self.m = m
        self.now = now
        self.slept: list[float] = []
        self.events: list[Progress | Done | Failed] = []

    def action(self) -> Any:
        """The next action that is not a sleep (the clock advances by the sleeps)."""
        action = self.m.next_action(self.now)
        while isinstance(action, Sleep):
            self.slept.append(action.seconds)
            self.now += action.seconds
            action = self.m.next_action(self.now)
        return action

    def feed(self, result: WatchInput, *, wall_ms: float | None = None) -> Any:
        action = self.action()
        assert isinstance(action, (Read, Head)), action
        event = self.m.receive(result, now_ms=wall_ms)
        if event is not None:
            self.events.append(event)
        return event

    def read(self, name: str, etag: str, *, wall_ms: float | None = None) -> Any:
        return self.feed(ReadOk(body(name), etag),
                         wall_ms=now_ms(name) if wall_ms is None else wall_ms)


# ---------------------------------------------------------------- a whole render


def test_a_recorded_render_from_start_to_done_via_head() -> None:
    d = Driver(machine())
    assert d.action() == Read(if_none_match=None)  # the first read is immediate
    first = d.read("01-initial", '"1"')
    assert isinstance(first, Progress) and first.render_id == RENDER_ID
    assert d.action() == Read(if_none_match='"1"')  # conditional from now on
    d.read("02-mid-render", '"2"')
    d.read("03-combining", '"3"')
    assert d.read("07-done-via-head", '"7"') is None  # all chunks in: HEAD first
    head = d.action()
    assert head == Head(OutputHeadRequest(CTX.bucket_name, f"renders/{RENDER_ID}/out.mp4"))
    assert d.m.next_action(d.now) == head  # asked again: still the HEAD
    done = d.feed(HeadResult(OutputHead(content_length=98765)))
    assert isinstance(done, Done)
    assert done.size == 98765 and done.url.endswith(f"/renders/{RENDER_ID}/out.mp4")
    assert d.m.next_action(d.now + 1) == Finished(done)
    assert d.m.finished and d.m.outcome == done
    progress = [e.progress for e in d.events if isinstance(e, Progress)]
    assert progress == sorted(progress) and len(progress) == 3
    expected = [CASES[n]["expected"]["overallProgress"] for n in
                ("01-initial", "02-mid-render", "03-combining")]
    assert progress == pytest.approx(expected)


def test_done_from_post_render_data_needs_no_head() -> None:
    d = Driver(machine())
    done = d.read("04-done-postRenderData", '"4"')
    assert isinstance(done, Done)
    assert isinstance(d.action(), Finished)


def test_a_head_that_finds_nothing_keeps_watching() -> None:
    d = Driver(machine())
    d.read("07-done-via-head", '"7"')
    assert isinstance(d.action(), Head)
    event = d.feed(HeadResult(None))
    assert isinstance(event, Progress)
    assert isinstance(d.m.next_action(d.now), Sleep)


def test_a_failed_head_is_a_transient_error_and_the_next_read_asks_again() -> None:
    d = Driver(machine())
    d.read("07-done-via-head", '"7"')
    assert d.feed(TransientError("ClientError: 500")) is None
    assert d.m.consecutive_errors == 1
    assert d.action() == Read('"7"')
    assert d.feed(NotModified(), wall_ms=now_ms("07-done-via-head")) is None
    assert isinstance(d.action(), Head)  # the cached body still says: HEAD the output
    assert isinstance(d.feed(HeadResult(OutputHead(5))), Done)


# ---------------------------------------------------------------- progress never goes back


def test_progress_never_goes_backwards_under_out_of_order_reads() -> None:
    d = Driver(machine())
    late = d.read("03-combining", '"3"')
    early = d.read("02-mid-render", '"2"')  # a stale replica answered
    assert isinstance(late, Progress) and isinstance(early, Progress)
    assert early.progress == late.progress == d.m.best_progress
    assert early.frames_rendered < late.frames_rendered  # the rest is as read
    again = d.read("03-combining", '"3b"')
    assert again is not None and again.progress == late.progress


def test_progress_floor_applies() -> None:
    d = Driver(machine(WatchOptions(progress_floor=0.03)))
    event = d.read("01-initial", '"1"')
    assert event.progress == 0.03


# ---------------------------------------------------------------- the cache and 304s


def test_a_304_reuses_the_cached_body_and_emits_nothing_new() -> None:
    d = Driver(machine())
    d.read("02-mid-render", '"2"')
    assert d.action() == Read('"2"')
    assert d.feed(NotModified(), wall_ms=now_ms("02-mid-render") + 500) is None
    assert d.m.schedule.consecutive_idle == 1
    assert d.m.etag == '"2"'


def test_the_same_etag_in_a_200_is_not_a_change() -> None:
    d = Driver(machine())
    d.read("02-mid-render", '"2"')
    assert d.read("02-mid-render", '"2"') is None
    assert d.m.schedule.consecutive_idle == 1


def test_no_parsed_model_is_held_across_a_sleep() -> None:
    d = Driver(machine(WatchOptions(heartbeat_s=1.0)))
    d.read("02-mid-render", '"2"')
    d.feed(NotModified(), wall_ms=now_ms("02-mid-render"))
    d.read("07-done-via-head", '"7"')
    d.feed(HeadResult(None))
    assert isinstance(d.m.next_action(d.now), Sleep)
    held = [getattr(d.m, name) for name in type(d.m).__slots__]
    assert not [v for v in held if isinstance(v, (ProgressFile, RenderProgress))]
    assert d.m._pending is None and d.m._file is None
    assert isinstance(d.m._raw, bytes)  # the raw body answers the next 304


def test_a_client_without_raw_bodies_still_gets_304s_answered() -> None:
    d = Driver(machine())
    parsed = parse_progress_file(body("02-mid-render"))
    d.feed(ReadOk(None, '"2"', parsed=parsed), wall_ms=now_ms("02-mid-render"))
    assert d.feed(NotModified(), wall_ms=now_ms("02-mid-render")) is None
    assert d.m.consecutive_errors == 0


def test_a_304_before_any_body_is_an_error() -> None:
    d = Driver(machine())
    assert d.feed(NotModified(), wall_ms=0) is None
    assert d.m.consecutive_errors == 1


def test_a_malformed_body_is_a_transient_error_and_is_not_cached() -> None:
    d = Driver(machine(WatchOptions(max_consecutive_errors=2)))
    d.read("02-mid-render", '"2"')
    assert d.feed(ReadOk(b"{not json", '"x"'), wall_ms=0) is None
    assert d.m.consecutive_errors == 1 and d.m.etag == '"2"'
    assert d.feed(ReadOk(b"[1, 2]", '"y"'), wall_ms=0) is None
    give_up = d.action()
    assert isinstance(give_up, GiveUp)
    assert "the last: ProgressFileError: progress.json must hold a JSON object" in (
        give_up.message)
    assert isinstance(give_up.error, ProgressFileError)


# ---------------------------------------------------------------- missing renders


def missing_until_failed(d: Driver, message: str) -> tuple[float, float, Failed]:
    """Feed NotFound until the watch fails: when the first and the failing read were."""
    first: float | None = None
    while True:
        event = d.feed(NotFound(message))
        first = d.now if first is None else first
        if event is not None:
            assert isinstance(event, Failed)
            return first, d.now, event
        assert d.now - first < 10.0  # tolerated only within the grace period


def test_not_found_is_tolerated_within_the_grace_period_only() -> None:
    d = Driver(machine(WatchOptions(not_found_grace_s=10.0)))
    for _ in range(3):
        assert d.feed(NotFound("No render")) is None
    assert isinstance(d.read("01-initial", '"1"'), Progress)  # it appeared: reset
    message = f'No render with ID "{RENDER_ID}"'
    first, failed_at, event = missing_until_failed(d, message)
    assert failed_at - first >= 10.0
    assert event.message == message and event.render_id == RENDER_ID
    assert d.action() == Finished(event)


def test_not_found_past_a_zero_grace_fails_at_once() -> None:
    d = Driver(machine(WatchOptions(not_found_grace_s=0.0)))
    assert isinstance(d.feed(NotFound("gone")), Failed)
    assert isinstance(d.action(), Finished)


# ---------------------------------------------------------------- errors


def test_transient_errors_back_off_then_a_read_recovers() -> None:
    d = Driver(machine(WatchOptions(policy=PollPolicy(jitter=0.0)), seed=1))
    d.read("02-mid-render", '"2"')
    for _ in range(4):
        assert d.feed(TransientError("ClientError: SlowDown")) is None
    assert d.m.consecutive_errors == 4
    # first_delay_s, base_s, then the error counter's backoff
    assert d.slept == [0.25, 0.5, 1.0, 2.0, 4.0]
    event = d.read("03-combining", '"3"')
    assert isinstance(event, Progress)
    assert d.m.consecutive_errors == 0
    d.action()
    assert d.slept[-1] == 0.5  # a change: back to base_s


def test_giving_up_after_the_error_budget() -> None:
    d = Driver(machine(WatchOptions(max_consecutive_errors=3)))
    boom = TimeoutError("read timed out")
    for _ in range(3):
        assert d.feed(TransientError.from_exception(boom)) is None
    action = d.action()
    assert action == GiveUp(f"Stopped watching render {RENDER_ID} after 3 consecutive "
                            "errors; the last: TimeoutError: read timed out", boom)
    assert d.m.finished and d.m.outcome is None
    with pytest.raises(WatchProtocolError, match="ended"):
        d.m.receive(NotModified(), now_ms=0)


def test_not_found_neither_counts_nor_resets_the_error_budget() -> None:
    d = Driver(machine(WatchOptions(max_consecutive_errors=2)))
    d.feed(TransientError("x"))
    d.feed(NotFound("missing"))
    assert d.m.consecutive_errors == 1
    d.feed(TransientError("y"))
    assert isinstance(d.action(), GiveUp)


def test_a_permanent_error_ends_the_watch_at_once() -> None:
    d = Driver(machine(WatchOptions(max_consecutive_errors=100)))
    error = RemotionFunctionError("AccessDenied", function_name="f")
    assert d.feed(PermanentError(error)) is None
    assert d.action() == Abort(error)
    assert d.m.next_action(d.now + 100) == Abort(error)


def test_a_still_render_is_a_permanent_error() -> None:
    still = {**CASES["02-mid-render"]["progressJson"]}
    still["renderMetadata"] = {**still["renderMetadata"], "type": "still"}
    d = Driver(machine())
    d.feed(ReadOk(json.dumps(still).encode(), '"s"'), wall_ms=now_ms("02-mid-render"))
    action = d.action()
    assert isinstance(action, Abort)
    assert isinstance(action.error, StillRenderNotSupportedError)


# ---------------------------------------------------------------- failures in the file


def test_a_fatal_error_in_progress_json_ends_in_failed() -> None:
    d = Driver(machine())
    failed = d.read("05-fatal-no-metadata", '"5"')
    assert isinstance(failed, Failed)
    expected = CASES["05-fatal-no-metadata"]["expected"]["errors"][0]["message"]
    assert failed.message == expected
    assert isinstance(d.action(), Finished)


def test_the_stitch_timeout_ends_in_a_timed_out_failure() -> None:
    d = Driver(machine())
    failed = d.read("06-timeout", '"6"')
    assert isinstance(failed, Failed) and failed.timed_out
    assert failed.message.startswith("The main function timed out after 120000ms.")


def test_a_retryable_chunk_error_keeps_watching() -> None:
    d = Driver(machine())
    assert isinstance(d.read("08-retryable-error", '"8"'), Progress)


def test_metadata_timeout_once_past_timeout_and_grace() -> None:
    timeout_at = FIRST["progressJson"]["timeoutTimestamp"]
    d = Driver(machine())
    assert isinstance(d.read("01-initial", '"1"', wall_ms=timeout_at + 20_000), Progress)
    failed = d.read("01-initial", '"1b"', wall_ms=timeout_at + 20_001)
    assert isinstance(failed, Failed) and failed.timed_out
    assert failed.message.startswith(f"The main function of render {RENDER_ID} did not "
                                     "report the render's metadata before its timeout "
                                     "(120000 ms)")
    assert launch_logs_url(CTX.region, CTX.function_name, RENDER_ID) in failed.message
    assert isinstance(d.action(), Finished)


def test_metadata_grace_is_an_option() -> None:
    timeout_at = FIRST["progressJson"]["timeoutTimestamp"]
    d = Driver(machine(WatchOptions(metadata_grace_s=0.0)))
    assert isinstance(d.read("01-initial", '"1"', wall_ms=timeout_at + 1), Failed)


def test_progress_event_is_the_single_step() -> None:
    timeout_at = FIRST["progressJson"]["timeoutTimestamp"]
    late = compute_render_progress(FIRST["progressJson"], CTX, now_ms=timeout_at + 30_000)
    assert isinstance(late, RenderProgress)
    assert isinstance(progress_event(late, CTX), Failed)
    assert isinstance(progress_event(late, CTX, metadata_grace_s=60), Progress)


# ---------------------------------------------------------------- heartbeat


def test_heartbeat_resends_the_last_progress_after_silence() -> None:
    d = Driver(machine(WatchOptions(heartbeat_s=1.0)))
    first = d.read("02-mid-render", '"2"')
    wall = now_ms("02-mid-render")
    beats = []
    while d.now < 20 and len(beats) < 3:
        event = d.feed(NotModified(), wall_ms=wall)
        if event is not None:
            beats.append((d.now, event))
    assert len(beats) == 3
    for _, beat in beats:
        assert beat.heartbeat
        assert beat.progress == first.progress
        assert beat.model_dump(exclude={"heartbeat", "eta_seconds"}) == first.model_dump(
            exclude={"heartbeat", "eta_seconds"})
    times = [0.0] + [at for at, _ in beats]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))


def test_no_heartbeat_unless_asked() -> None:
    d = Driver(machine())
    d.read("02-mid-render", '"2"')
    for _ in range(20):
        assert d.feed(NotModified(), wall_ms=now_ms("02-mid-render")) is None


# ---------------------------------------------------------------- the schedule


def test_the_delays_are_the_poll_schedule_s() -> None:
    """The machine sleeps exactly what a PollSchedule fed the same reads says."""
    names = ["01-initial", "02-mid-render", "02-mid-render", "02-mid-render",
             "03-combining", "03-combining"]
    d = Driver(machine(seed=42, start=100.0), now=100.0)
    reference = PollSchedule(POLICY, rng=random.Random(42), start=100.0)
    t = 100.0
    expected = []
    for i, name in enumerate(names):
        expected.append(reference.next_delay(t))  # the first: first_delay_s
        t += expected[-1]
        d.read(name, f'"{name}"')
        progress = compute_render_progress(CASES[name]["progressJson"], CTX,
                                           now_ms=now_ms(name))
        assert isinstance(progress, RenderProgress)
        meta = progress.render_metadata
        total = (meta.frame_range[1] - meta.frame_range[0] + 1) if meta else 0
        if not total:
            stage, share = "starting", None
        elif progress.frames_rendered < total:
            stage, share = "frames", progress.frames_rendered / total
        else:
            stage, share = "combine", progress.combined_frames / total
        changed = i == 0 or names[i - 1] != name
        reference.observe(t, changed=changed, progress=share, stage=stage,
                          last_stage=stage == "combine")
    assert d.slept == expected
    assert d.slept[:2] == [POLICY.first_delay_s, POLICY.base_s]


def test_the_first_read_waits_first_delay_s_and_a_sleep_is_returned_once() -> None:
    m = machine(WatchOptions(policy=PollPolicy.cheap()), start=10.0)
    assert m.next_action(10.0) == Sleep(PollPolicy.cheap().first_delay_s)  # 3 s
    assert m.next_action(13.0) == Read(None)
    assert m.next_action(13.1) == Read(None)  # still in flight
    m.receive(TransientError("x"))
    sleep = m.next_action(13.2)
    assert isinstance(sleep, Sleep) and sleep.seconds >= POLICY.floor_s
    assert m.next_action(14.3) == Read(None)

    m.receive(TransientError("x"))
    sleep = m.next_action(0.2)
    assert isinstance(sleep, Sleep) and sleep.seconds >= POLICY.floor_s
    assert m.next_action(0.3) == Read(None)


def test_status_replies_always_count_as_a_change() -> None:
    progress = compute_render_progress(CASES["02-mid-render"]["progressJson"], CTX,
                                       now_ms=now_ms("02-mid-render"))
    assert isinstance(progress, RenderProgress)
    d = Driver(machine(WatchOptions(via="lambda")))
    assert isinstance(d.feed(StatusReply(progress)), Progress)
    d.feed(StatusReply(progress))
    assert d.m.schedule.consecutive_idle == 0


# ---------------------------------------------------------------- misuse and options


def test_feeding_what_was_not_asked_for_is_a_protocol_error() -> None:
    m = machine()
    with pytest.raises(WatchProtocolError, match="next_action"):
        m.receive(NotModified(), now_ms=0)
    assert isinstance(m.next_action(0.0), Sleep)
    m.next_action(0.25)
    with pytest.raises(WatchProtocolError, match="no HEAD"):
        m.receive(HeadResult(None))
    with pytest.raises(WatchProtocolError, match="now_ms"):
        m.receive(ReadOk(body("01-initial"), '"1"'))
    m.receive(ReadOk(body("07-done-via-head"), '"7"'), now_ms=now_ms("07-done-via-head"))
    with pytest.raises(WatchProtocolError, match="HeadResult"):
        m.receive(NotModified(), now_ms=0)


def test_source_is_the_deprecated_name_of_via() -> None:
    with pytest.warns(DeprecationWarning, match="via"):
        options = WatchOptions(source="lambda")
    assert options.via == "lambda" and options == WatchOptions(via="lambda")
    with pytest.warns(DeprecationWarning, match="via"):
        assert options.source == "lambda"
    with pytest.raises(ValueError, match="via"):
        WatchOptions(via="ftp")  # type: ignore[arg-type]


def test_the_machine_module_is_pure() -> None:
    code = (
        "import sys, aioremotion.protocol.watch\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiobotocore', 'anyio', "
        "'botocore', 'aiohttp', 'asyncio') or m in ('aioremotion.watching', "
        "'aioremotion.client')]\n"
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, f"the watch machine imported {done.stdout}{done.stderr}"


# ---------------------------------------------------------------- any script of inputs

_READS = ["01-initial", "02-mid-render", "03-combining", "08-retryable-error",
          "07-done-via-head", "04-done-postRenderData", "05-fatal-no-metadata"]
_STEP = st.one_of(
    st.sampled_from(_READS).map(lambda name: ("read", name)),
    st.just(("304", "")),
    st.just(("missing", "")),
    st.just(("error", "")),
    st.sampled_from([None, 321]).map(lambda size: ("head", size)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_STEP, max_size=40), st.integers(0, 2**16))
def test_any_script_keeps_the_invariants(steps: list[tuple[str, Any]], seed: int) -> None:
    """Whatever the reads say and in whatever order: progress never goes backwards,
    at most one outcome, every sleep is at least the floor, and the end is sticky."""
    m = machine(WatchOptions(max_consecutive_errors=5, not_found_grace_s=3.0), seed=seed)
    now = 0.0
    outcomes = 0
    best = 0.0
    for kind, value in steps:
        action = m.next_action(now)
        if isinstance(action, Sleep):
            assert action.seconds >= POLICY.floor_s
            now += action.seconds
            action = m.next_action(now)
        if isinstance(action, (Finished, GiveUp, Abort)):
            assert m.finished
            break
        result: WatchInput
        if isinstance(action, Head):
            result = HeadResult(None if value is None else OutputHead(321)) if kind == "head" \
                else TransientError("x")
        elif kind == "read":
            result = ReadOk(body(value), f'"{value}"')
        elif kind == "304":
            result = NotModified()
        elif kind == "missing":
            result = NotFound("missing")
        else:
            result = TransientError("x")
        event = m.receive(result, now_ms=now_ms("02-mid-render"))
        if isinstance(event, Progress):
            assert event.progress >= best
            best = event.progress
        elif event is not None:
            outcomes += 1
            assert isinstance(m.next_action(now), Finished)
    assert outcomes <= 1
