"""Many renders at once, with structured cancellation: ``render_many`` and ``Batch``.

Starts are paced by an AIMD window that halves when AWS throttles (HTTP 429) and grows
back one start at a time; watchers share the client's fair limiter, so no render starves.
Everything runs in a task group owned by the ``async with``: leaving it (or a failure
with ``fail_fast``) stops every watcher promptly and leaves no task behind; renders
started with ``enable_cancellation`` are cancelled remotely, exactly once each, when
``cancel_remote_on_exit`` is set. A render that was started is never forgotten: its
handle is in the results whatever happened.

Example::

    jobs = [{"serve_url": "my-site", "composition": "Card", "codec": "h264",
             "input_props": {"name": name}} for name in names]
    async with RemotionLambda() as remotion:
        results = await render_many(remotion, jobs, max_in_flight=50)
    for result in results:
        print(result.key, result.status, result.outcome.url if result.ok else result.error)
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .errors import ConcurrencyLimitError, RemotionError, StartOutcomeUnknownError
from .events import Done, Failed, Progress
from .handles import RenderHandle
from .protocol.options import RenderMediaOptions
from .watching import WatchOptions, watch

if TYPE_CHECKING:
    from .client import RemotionLambda

__all__ = [
    "Batch",
    "BatchFailed",
    "Job",
    "JobResult",
    "StartPacer",
    "Started",
    "TaggedEvent",
    "render_many",
]

Status = Literal["done", "failed", "error", "cancelled", "not-started"]


@dataclass(frozen=True)
class Job:
    """One render of a batch: its options and a key of yours to recognise it by."""

    options: RenderMediaOptions | Mapping[str, Any]
    key: str | None = None


@dataclass(frozen=True)
class Started:
    """The event of a job whose render was accepted by the function."""

    render: RenderHandle
    type: Literal["started"] = "started"


@dataclass(frozen=True)
class TaggedEvent:
    """An event of one job: ``index`` in submission order and your ``key``."""

    index: int
    key: str | None
    event: Started | Progress | Done | Failed


@dataclass
class JobResult:
    """What became of one job. ``render`` is set as soon as it started."""

    index: int
    key: str | None
    render: RenderHandle | None = None
    outcome: Done | Failed | None = None
    error: BaseException | None = None
    remote_cancelled: bool = False

    @property
    def status(self) -> Status:
        if isinstance(self.outcome, Done):
            return "done"
        if isinstance(self.outcome, Failed):
            return "failed"
        if self.error is not None:
            return "error"
        return "cancelled" if self.render is not None else "not-started"

    @property
    def ok(self) -> bool:
        return isinstance(self.outcome, Done)


#: Marks, in the event stream, the moment no job is running.
_IDLE: Any = TaggedEvent(-1, None, Started.__new__(Started))


class BatchFailed(RemotionError):
    """A ``fail_fast`` batch stopped at its first failure; ``results`` has every job."""

    def __init__(self, results: list[JobResult], first: JobResult) -> None:
        self.results = results
        self.first = first
        reason = first.outcome.message if isinstance(first.outcome, Failed) else repr(first.error)
        super().__init__(f"Job {first.index} ({first.key}) failed: {reason}; the batch was "
                         "cancelled")


class StartPacer:
    """A window on concurrent starts, paced like TCP congestion control.

    Until AWS first throttles, it grows by one per successful start (slow start: the
    window doubles every round of starts, so a batch reaches its ``maximum`` within a
    few round trips). After a throttle it is AIMD: it halves on a throttle (at most once
    per ``cooldown_s``) and grows by ``1/window`` per successful start, between 1 and
    ``maximum``.

    Example:
        >>> pacer = StartPacer(initial=4, maximum=50, clock=lambda: 0.0)
        >>> pacer.slow_start, pacer.window
        (True, 4.0)
        >>> pacer.on_throttle()
        >>> pacer.slow_start, pacer.window
        (False, 2.0)
    """

    def __init__(self, *, initial: float = 8, maximum: float = 50, cooldown_s: float = 1.0,
                 clock: Any = None) -> None:
        self.window = float(initial)
        self.maximum = float(maximum)
        self.cooldown_s = cooldown_s
        self.in_flight = 0
        self.throttles = 0
        self._clock = clock or anyio.current_time
        self._last_cut = -math.inf
        self._changed: anyio.Event | None = None
        self.slow_start = True

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def __aenter__(self) -> None:
        while self.in_flight >= max(1, int(self.window)):
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()
        self.in_flight += 1

    async def __aexit__(self, exc_type: type[BaseException] | None, *args: object) -> None:
        self.in_flight -= 1
        if exc_type is None:
            growth = 1.0 if self.slow_start else 1 / self.window
            self.window = min(self.maximum, self.window + growth)
        self._notify()

    def on_throttle(self) -> None:
        """Called by the client whenever AWS answers 429."""
        self.throttles += 1
        self.slow_start = False
        now = self._clock()
        if now - self._last_cut >= self.cooldown_s:
            self._last_cut = now
            self.window = max(1.0, self.window / 2)


@dataclass
class Batch:
    """Start and watch many renders inside ``async with``.

    ``submit`` returns at once; ``events()`` streams every job's events tagged with its
    index and key; on a clean exit the block waits for every job, ``results`` then holds
    them in submission order.
    """

    client: RemotionLambda
    max_in_flight: int = 100
    max_concurrent_starts: int = 50
    fail_fast: bool = False
    cancel_remote_on_exit: bool = False
    watch_options: WatchOptions | None = None
    #: How often a job retries a start that AWS throttled until the client gave up
    #: (such a start never ran, so retrying cannot start it twice).
    start_retries: int = 8
    #: A start call, once sent, is shielded from the batch's cancellation for up to this
    #: long, so the render it started is recorded in the results (and cancelled remotely
    #: with ``cancel_remote_on_exit``) instead of being forgotten. A call unanswered
    #: after this (a start normally answers within seconds) is recorded as
    #: :class:`~aioremotion.errors.StartOutcomeUnknownError` and never retried.
    start_shield_s: float = 60.0
    results: list[JobResult] = field(default_factory=list)
    pacer: StartPacer = field(default_factory=StartPacer)
    _tg: TaskGroup | None = None
    _send: MemoryObjectSendStream[TaggedEvent] | None = None
    _receive: MemoryObjectReceiveStream[TaggedEvent] | None = None
    _failure: JobResult | None = None
    _in_flight: anyio.CapacityLimiter | None = None
    _cancelled_remote: set[str] = field(default_factory=set)
    _running: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    async def __aenter__(self) -> Batch:
        self.pacer.maximum = float(self.max_concurrent_starts)
        self.pacer.window = min(self.pacer.window, self.pacer.maximum)
        self.client.throttle_listeners.append(self.pacer.on_throttle)
        self._in_flight = anyio.CapacityLimiter(self.max_in_flight)
        self._send, self._receive = anyio.create_memory_object_stream[TaggedEvent](math.inf)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        assert self._tg is not None
        assert self._send is not None
        if exc is not None:
            # leaving with an error (or being cancelled): stop every job now
            self._tg.cancel_scope.cancel()
        try:
            # the body's own exception propagates unchanged (not in an exception group)
            await self._tg.__aexit__(None, None, None)
        finally:
            self.client.throttle_listeners.remove(self.pacer.on_throttle)
            if self.cancel_remote_on_exit:
                with anyio.CancelScope(shield=True):
                    await self._cancel_unfinished_remotely()
            self._send.close()
        if self._failure is not None and exc is None:
            raise BatchFailed(self.results, self._failure)
        return False

    def submit(self, options: RenderMediaOptions | Mapping[str, Any] | Job,
               key: str | None = None) -> int:
        """Queue one render; returns its index."""
        if self._tg is None:
            raise RuntimeError("use Batch inside 'async with Batch(...)'")
        job = options if isinstance(options, Job) else Job(options, key)
        result = JobResult(index=len(self.results), key=job.key)
        self.results.append(result)
        self._running += 1
        self._tg.start_soon(self._run, job, result)
        return result.index

    async def events(self) -> AsyncIterator[TaggedEvent]:
        """Every job's events as they happen; ends once every job submitted so far has
        ended (submit them all first), or when the batch is over."""
        assert self._receive is not None
        if self._running == 0:
            return
        async with self._receive.clone() as receive:
            async for tagged in receive:
                if tagged is _IDLE:
                    if self._running == 0:
                        return
                    continue
                yield tagged

    def _emit(self, result: JobResult, event: Started | Progress | Done | Failed) -> None:
        assert self._send is not None
        self._send.send_nowait(TaggedEvent(result.index, result.key, event))

    async def _run(self, job: Job, result: JobResult) -> None:
        try:
            await self._run_job(job, result)
        finally:
            self._running -= 1
            if self._running == 0 and self._send is not None:
                self._send.send_nowait(_IDLE)

    async def _run_job(self, job: Job, result: JobResult) -> None:
        assert self._in_flight is not None
        async with self._in_flight:
            try:
                result.render = await self._start(job)
            except Exception as exc:  # a start that failed: recorded, never raised here
                result.error = exc
                self._fail(result)
                return
            self._emit(result, Started(result.render))
            try:
                async for event in watch(self.client, result.render, self.watch_options):
                    self._emit(result, event)
                    if isinstance(event, (Done, Failed)):
                        result.outcome = event
            except Exception as exc:
                result.error = exc
            if not result.ok:
                self._fail(result)

    async def _start(self, job: Job) -> RenderHandle:
        """Start one render. A start that AWS kept throttling never ran, so it is safe to
        try again later: the job waits (jittered, growing) and retries, up to
        ``start_retries`` times, while the pacer has already narrowed the window."""
        for attempt in range(self.start_retries + 1):
            try:
                async with self.pacer:
                    return await self._start_shielded(job)
            except ConcurrencyLimitError:
                if attempt == self.start_retries:
                    raise
                await anyio.sleep(self._rng.uniform(0, min(30.0, 0.5 * 2**attempt)))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _start_shielded(self, job: Job) -> RenderHandle:
        """One start call that a cancellation of the batch does not abandon halfway:
        its answer is awaited (up to ``start_shield_s``) so the render it started is
        known; the batch's cancellation takes effect right after."""
        with anyio.CancelScope(shield=True) as scope:
            scope.deadline = anyio.current_time() + self.start_shield_s
            return await self.client.render_media(job.options)
        raise StartOutcomeUnknownError(
            f"The start call got no answer within {self.start_shield_s} s; the render may "
            "be running. Look for a new renders/<id>/progress.json in the bucket before "
            "starting it again.",
            function_name=self.client.function_name, payload_type="start",
        )

    def _fail(self, result: JobResult) -> None:
        if self.fail_fast and self._failure is None:
            self._failure = result
            assert self._tg is not None
            self._tg.cancel_scope.cancel()

    async def _cancel_unfinished_remotely(self) -> None:
        async def cancel_one(result: JobResult) -> None:
            assert result.render is not None
            render_id = result.render.render_id
            if render_id in self._cancelled_remote:
                return
            self._cancelled_remote.add(render_id)
            try:
                with anyio.move_on_after(30):
                    await self.client.cancel(result.render)
                    result.remote_cancelled = True
            except Exception as exc:  # the render may have just finished; keep going
                result.error = result.error or exc

        async with anyio.create_task_group() as tg:
            for result in self.results:
                if (result.render is not None and result.outcome is None
                        and result.render.cancellation_enabled):
                    tg.start_soon(cancel_one, result)


async def render_many(
    client: RemotionLambda,
    jobs: Iterable[RenderMediaOptions | Mapping[str, Any] | Job],
    *,
    max_in_flight: int = 100,
    max_concurrent_starts: int = 50,
    fail_fast: bool = False,
    cancel_remote_on_exit: bool = False,
    watch_options: WatchOptions | None = None,
) -> list[JobResult]:
    """Render every job; results in input order.

    With ``fail_fast`` the first failure cancels the rest and raises :class:`BatchFailed`
    (which carries every result); otherwise failures are collected in the results.
    """
    async with Batch(client, max_in_flight=max_in_flight,
                     max_concurrent_starts=max_concurrent_starts, fail_fast=fail_fast,
                     cancel_remote_on_exit=cancel_remote_on_exit,
                     watch_options=watch_options) as batch:
        for job in jobs:
            batch.submit(job)
    return batch.results
