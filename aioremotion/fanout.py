"""Many renders at once, with structured cancellation: ``render_many`` and ``Batch``.

Starts are paced by an AIMD window that halves when AWS throttles (HTTP 429) and grows
back one start at a time; watchers share the transport's fair limiter, so no render
starves. A throttled start is sent again by the batch itself (the one retry layer,
:mod:`aioremotion.retry`): at most ``start_retry.attempts`` times in all (default: the
client's ``throttle_retry``, 10 attempts), never more.
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
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .errors import (
    InvalidOptionsError,
    InvalidReplyError,
    RemotionError,
    StartOutcomeUnknownError,
)
from .events import Done, Failed, Progress, Started
from .handles import RenderHandle
from .protocol.options import RenderMediaOptions
from .recovery import find_tagged_renders, new_tag, tag_options
from .retry import ThrottleRetry, backoff, retry_throttled
from .watching import WatchOptions, watch

if TYPE_CHECKING:
    from .client import RemotionLambda
    from .hub import OutcomeHub

__all__ = [
    "Batch",
    "BatchFailed",
    "BatchObserver",
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
    """One render of a batch: its options and a key of yours to recognise it by.

    ``render``: a render this job started earlier (say, in a process that died); the
    batch watches it instead of starting one. ``job_id``: how the job's start tags name
    it (see :mod:`aioremotion.recovery`); random when ``None``.
    """

    options: RenderMediaOptions | Mapping[str, Any]
    key: str | None = None
    render: RenderHandle | None = None
    job_id: str | None = None


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
    #: The tag the job's start put into the render's metadata: with a
    #: :class:`~aioremotion.errors.StartOutcomeUnknownError`, the way to find the render
    #: (:func:`aioremotion.recovery.find_tagged_renders`).
    tag: str | None = None

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

    @property
    def done(self) -> Done | None:
        """The job's :class:`Done`, or ``None``: narrows without a cast.

        Example::

            for result in results:
                if (done := result.done) is not None:
                    print(done.url, done.size)
        """
        return self.outcome if isinstance(self.outcome, Done) else None

    @property
    def start_outcome_unknown(self) -> bool:
        """The start was sent, its answer lost, and its render not found by ``tag``: a
        render may be running that this result does not name. Never started again."""
        return self.render is None and isinstance(
            self.error, (StartOutcomeUnknownError, InvalidReplyError))


class BatchObserver:
    """Hooks a :class:`Batch` calls, synchronously and in order, as each job moves on;
    subclass it and override what you need. An exception raised here stops the batch.

    ``starting`` comes just before a start call is sent, with the tag the render will
    carry (persist it, and a render whose call is cut by a crash can be found again);
    ``started`` as soon as the render is known (``result.render``); ``event`` for each
    watch event; ``finished`` once the job is over, whatever happened to it.

    Example::

        class Log(BatchObserver):
            def started(self, result: JobResult) -> None:
                print("started", result.key, result.render.render_id)

        async with Batch(remotion, observer=Log()) as batch:
            ...
    """

    def starting(self, result: JobResult, tag: str) -> None:
        """A start call for ``result`` is about to be sent, tagged ``tag``."""

    def started(self, result: JobResult) -> None:
        """``result.render`` is set: the render runs (or was resumed)."""

    def event(self, result: JobResult, event: Progress | Done | Failed) -> None:
        """A watch event of the job's render."""

    def finished(self, result: JobResult) -> None:
        """The job is over (done, failed, errored, or cancelled with the batch)."""


class _OnStarted(BatchObserver):
    def __init__(self, callback: Callable[[JobResult], object]) -> None:
        self.callback = callback

    def started(self, result: JobResult) -> None:
        self.callback(result)


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


#: What the client is asked for each send of a batch: one attempt (the batch retries).
_ONE_ATTEMPT = ThrottleRetry(attempts=1)


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
        """Called whenever AWS answers a start with 429."""
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
    them in submission order. With ``fail_fast``, the first failure cancels the other
    jobs and the block's body, and the block raises :class:`BatchFailed`.

    Every start is tagged (:mod:`aioremotion.recovery`): when a start's answer is lost
    after it was sent, the batch looks for the render by its tag (for up to
    ``start_shield_s``) and watches it, rather than forgetting it or starting it twice.

    Example::

        async with Batch(remotion, max_in_flight=20) as batch:
            for name in names:
                batch.submit({"serve_url": site, "composition": "Card", "codec": "h264",
                              "input_props": {"name": name}}, key=name)
            async for tagged in batch.events():
                print(tagged.key, tagged.event.type)
        print([result.status for result in batch.results])

    With ``hub=`` (see :mod:`aioremotion.hub`) the watches finish on the renders'
    webhooks: about two S3 requests per render whatever its length.
    """

    client: RemotionLambda
    max_in_flight: int = 100
    max_concurrent_starts: int = 50
    fail_fast: bool = False
    cancel_remote_on_exit: bool = False
    watch_options: WatchOptions | None = None
    #: How a start that AWS throttled is sent again (such a start never ran, so sending
    #: it again cannot start it twice): at most ``attempts`` sends per job in all, with
    #: full-jitter backoff between them (the client makes one attempt per send). ``None``:
    #: the client's ``throttle_retry``.
    start_retry: ThrottleRetry | None = None
    #: A start call, once sent, is shielded from the batch's cancellation for up to this
    #: long, so the render it started is recorded in the results (and cancelled remotely
    #: with ``cancel_remote_on_exit``) instead of being forgotten. When the call's answer
    #: is lost (:class:`~aioremotion.errors.StartOutcomeUnknownError`), the search for
    #: the render by its tag runs within the same time. A start still unresolved after
    #: it is recorded as ``StartOutcomeUnknownError`` (with ``JobResult.tag``) and never
    #: sent again.
    start_shield_s: float = 60.0
    #: Called as jobs move on (see :class:`BatchObserver`).
    observer: BatchObserver = field(default_factory=BatchObserver)
    #: An :class:`~aioremotion.hub.OutcomeHub` fed by the renders' verified webhooks
    #: (start them with ``webhook={"url": ..., "secret": ...}`` pointing at the receiver
    #: that publishes to it): every watch then finishes on its webhook and reads S3 only
    #: every ``watch_options.safety_poll_s`` in between (see :func:`~aioremotion.wait`).
    hub: OutcomeHub | None = None
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
        assert self._receive is not None
        ours = False
        try:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                # The task group tells a cancellation of its own (fail_fast cancelled
                # the body with the jobs) from one that came from outside: it swallows
                # only its own.
                ours = bool(await self._tg.__aexit__(exc_type, exc, tb))
            else:
                if exc is not None:
                    # leaving with an error: stop every job now
                    self._tg.cancel_scope.cancel()
                # the body's own exception propagates unchanged (not in a group)
                await self._tg.__aexit__(None, None, None)
        finally:
            if self.cancel_remote_on_exit:
                with anyio.CancelScope(shield=True):
                    await self._cancel_unfinished_remotely()
            self._send.close()
            self._receive.close()
        if self._failure is not None and (exc is None or ours):
            raise BatchFailed(self.results, self._failure) from (exc if ours else None)
        return ours

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
            self.observer.finished(result)
            if self._running == 0 and self._send is not None:
                self._send.send_nowait(_IDLE)

    async def _run_job(self, job: Job, result: JobResult) -> None:
        assert self._in_flight is not None
        async with self._in_flight:
            resumed = job.render is not None
            if job.render is not None:
                result.render = job.render
            else:
                try:
                    result.render = await self._start(job, result)
                except Exception as exc:  # a start that failed: recorded, never raised here
                    result.error = exc
                    self._fail(result)
                    return
            self.observer.started(result)
            self._emit(result, Started(result.render, resumed=resumed))
            try:
                async for event in watch(self.client, result.render, self.watch_options,
                                         hub=self.hub):
                    if isinstance(event, (Done, Failed)):
                        result.outcome = event
                    self.observer.event(result, event)
                    self._emit(result, event)
            except Exception as exc:
                result.error = exc
            if not result.ok:
                self._fail(result)

    async def _start(self, job: Job, result: JobResult) -> RenderHandle:
        """Start one render, tagged. A throttled start never ran, so it is safe to send
        again: the pacer narrows its window, the job waits (jittered, growing, outside the
        window and the shield) and sends it again, at most ``start_retry.attempts`` times
        in all."""
        options = job.options
        if not isinstance(options, RenderMediaOptions):
            if not isinstance(options, Mapping):
                raise InvalidOptionsError([("options", "must be a RenderMediaOptions or a "
                                                       f"mapping; got {type(options).__name__}")])
            options = RenderMediaOptions.model_validate(options)
        tag = result.tag = new_tag(job.job_id)
        options = tag_options(options, tag)

        async def send() -> RenderHandle:
            async with self.pacer:
                self.observer.starting(result, tag)
                return await self._start_shielded(options, tag)

        return await retry_throttled(send, self.start_retry or self.client.throttle_retry,
                                     sleep=anyio.sleep, rng=self._rng,
                                     on_throttle=self.pacer.on_throttle)

    async def _start_shielded(self, options: RenderMediaOptions, tag: str) -> RenderHandle:
        """One start call that a cancellation of the batch does not abandon halfway: its
        answer is awaited, and a lost answer resolved by the render's tag, within
        ``start_shield_s``, so the render it started is known; the batch's cancellation
        takes effect right after."""
        sent_at = time.time()
        lost: RemotionError | None = None
        with anyio.CancelScope(shield=True) as scope:
            scope.deadline = anyio.current_time() + self.start_shield_s
            try:
                return await self.client.render_media(options, throttle_retry=_ONE_ATTEMPT)
            except (StartOutcomeUnknownError, InvalidReplyError) as exc:
                lost = exc
            return await self._find_started(tag, lost, sent_at, options)
        if lost is not None:  # its render did not show up within start_shield_s
            raise lost
        raise StartOutcomeUnknownError(
            f"The start call (tag {tag}) got no answer within {self.start_shield_s} s; the "
            "render may be running. Look for a render whose metadata carries this tag "
            "(aioremotion.recovery.find_tagged_renders) before starting it again.",
            function_name=self.client.function_name, payload_type="start",
        )

    async def _find_started(self, tag: str, lost: RemotionError, sent_at: float,
                            options: RenderMediaOptions) -> RenderHandle:
        """The render a start whose answer was lost started, found by its tag. The search
        is read-only: it backs off and goes on (through S3 errors too) until the caller's
        deadline cancels it."""
        bucket = getattr(lost, "bucket_name", None) or options.force_bucket_name
        buckets = {bucket} if bucket else {
            r.render.bucket_name for r in self.results if r.render is not None}
        searches = 0
        while True:
            searches += 1
            try:
                if not buckets:  # the function used its region's bucket
                    buckets = set(await self.client.remotion_buckets())
                found = await find_tagged_renders(self.client, {tag}, buckets=buckets,
                                                  since_s=sent_at)
            except Exception:  # S3 trouble: search again after the pause
                found = {}
            if tag in found:
                return found[tag].model_copy(update={
                    "cancellation_enabled": options.enable_cancellation,
                    "started_at_ms": self.client.now_ms()})
            await anyio.sleep(backoff(searches, base_s=0.25, cap_s=5.0))

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
    on_started: Callable[[JobResult], object] | None = None,
    hub: OutcomeHub | None = None,
) -> list[JobResult]:
    """Render every job; results in input order.

    With ``fail_fast`` the first failure cancels the rest and raises :class:`BatchFailed`
    (which carries every result); otherwise failures are collected in the results.
    ``on_started`` is called with each job's result the moment its render is known, so
    a caller that is cancelled or interrupted still knows every render it started.
    ``hub``: the watches finish on the renders' webhooks (see :attr:`Batch.hub`).

    Example::

        hub = LocalHub()   # fed by a WebhookReceiver(secret, hub=hub) or the web app
        results = await render_many(remotion, [{**card, "webhook": hook}] * 100, hub=hub)
    """
    observer = _OnStarted(on_started) if on_started is not None else BatchObserver()
    async with Batch(client, max_in_flight=max_in_flight,
                     max_concurrent_starts=max_concurrent_starts, fail_fast=fail_fast,
                     cancel_remote_on_exit=cancel_remote_on_exit,
                     watch_options=watch_options, observer=observer, hub=hub) as batch:
        for job in jobs:
            batch.submit(job)
    return batch.results
