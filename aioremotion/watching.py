"""Watching a render: an async generator of events, and ``wait``/``render`` on top.

The rules (when to read, what changed, when a render is missing, timed out or unreachable,
when to HEAD the output, the poll schedule) live in the sans-IO
:class:`~aioremotion.protocol.watch.WatchMachine`; :func:`watch` is the thin loop around
it: ask the machine what to do, do the I/O (a conditional GET of ``progress.json``, a
HEAD of the output, a sleep), feed the result back, and yield the events it returns.

Example::

    async with RemotionLambda() as remotion:
        render = await remotion.render_media(serve_url=..., composition=..., codec="h264")
        async for event in watch(remotion, render):
            print(event.model_dump_json())      # {"type":"progress","progress":0.42,...}
        done = await wait(remotion, render)     # or just this: Done, or raises RenderFailed
        # another process knows the render by its id and bucket:
        done = await wait(remotion, render.render_id, bucket_name=render.bucket_name)

With ``hub=`` (an :class:`~aioremotion.hub.OutcomeHub` fed by the verified webhooks), the
watch finishes on the webhook: between reads it races the machine's sleep against
``hub.wait_outcome``; it reads S3 once at the start, once after a success webhook (for the
size and cost) and otherwise only every ``WatchOptions.safety_poll_s`` (60 s), unless the
caller displays progress.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from .errors import ProgressFileError, RemotionError, RenderNotFoundError
from .errors import TransientError as TransientAwsError
from .events import Done, Failed, Progress, RenderFailed
from .handles import RenderHandle
from .protocol.progress import OutputHeadRequest
from .protocol.schedule import PollPolicy
from .protocol.watch import (
    METADATA_GRACE_MS,
    Abort,
    Finished,
    GiveUp,
    Head,
    HeadResult,
    NotFound,
    NotModified,
    PermanentError,
    Pushed,
    Read,
    ReadOk,
    Sleep,
    StatusReply,
    TransientError,
    Via,
    WatchInput,
    WatchMachine,
    WatchOptions,
)

if TYPE_CHECKING:
    from .client import RemotionLambda
    from .hub import OutcomeHub, RenderOutcome

__all__ = ["LIVE_ESTIMATE_EVERY_S", "METADATA_GRACE_MS", "WatchError", "WatchOptions",
           "live_watch_options", "wait", "watch"]

#: Deprecated alias of :data:`~aioremotion.protocol.watch.Via`.
Source = Via


#: How often a live display gets an estimated progress between reads (seconds).
LIVE_ESTIMATE_EVERY_S = 0.25


def live_watch_options(*, heartbeat_s: float | None = 1.0,
                       estimates: bool = True) -> WatchOptions:
    """The watch options of a live display (a terminal bar, a notebook cell): the
    :meth:`PollPolicy.default() <aioremotion.schedule.PollPolicy.default>` reads, and
    between them an estimated progress every :data:`LIVE_ESTIMATE_EVERY_S` (0.25 s) from
    the current stage's measured rate (``estimates=False``: only what was read). With
    ``heartbeat_s`` the last progress is re-sent that often while nothing changes,
    carrying a fresh ETA (None: only changes, for logs and JSON Lines).

    Chosen from measurement (benchmarks/polling_cost.py, 12 renders of 4 s to 6 min):
    these options showed a bar within 1.8 percentage points of the true progress on
    average (the 1 s S3 loop: 3.3) with 0.23x that loop's requests, where
    ``PollPolicy.interactive()`` without estimates (1.59x the loop's requests) was 2.1
    points off. A batch or a server should keep the default :class:`WatchOptions`.

    Example:
        >>> options = live_watch_options()
        >>> options.policy == PollPolicy.default(), options.estimate_every_s
        (True, 0.25)
        >>> live_watch_options(heartbeat_s=None, estimates=False).estimate_every_s is None
        True
    """
    return WatchOptions(policy=PollPolicy.default(), heartbeat_s=heartbeat_s,
                        estimate_every_s=LIVE_ESTIMATE_EVERY_S if estimates else None)


class WatchError(RemotionError):
    """Watching stopped without an outcome (too many consecutive errors reading progress).
    The render itself may still be running; watch it again with its handle."""

    def __init__(self, message: str, *, render: RenderHandle) -> None:
        self.render = render
        super().__init__(message)


#: What a watch retries (with backoff, up to ``max_consecutive_errors`` in a row). Every
#: other error (a missing bucket, denied access, bad credentials, a wrong region, ...) is
#: permanent: it ends the watch at once (see aioremotion.errors).
_TRANSIENT = (TransientAwsError, ProgressFileError)


def _resolve(client: RemotionLambda, render: RenderHandle | str,
             bucket_name: str | None) -> RenderHandle:
    """The handle of ``render``: itself, or a render id in ``bucket_name`` (the client
    fills in its region and function)."""
    return client._render_ref(render, bucket_name, None)


class _ProgressSource:
    """The I/O one watch does, behind two calls, through the client's
    :class:`~aioremotion.progress_reader.ProgressReader` (the transport seam)."""

    __slots__ = ("_client", "_render", "_via")

    def __init__(self, client: RemotionLambda, render: RenderHandle, via: Via) -> None:
        self._client = client
        self._render = render
        self._via = via

    async def read(self, if_none_match: str | None) -> ReadOk | NotModified | StatusReply:
        """Read progress.json (conditionally), or ask the status Lambda."""
        if self._via == "lambda":
            return StatusReply(await self._client.get_progress(self._render, via="lambda"))
        read = await self._client.progress_reader.read(self._render,
                                                       if_none_match=if_none_match)
        if read.file is None:
            return NotModified()
        # The client parsed the body already: pass both (the machine keeps only the bytes).
        return ReadOk(read.raw, read.etag, parsed=read.file)

    async def head(self, request: OutputHeadRequest) -> HeadResult:
        """HEAD the render's output."""
        return HeadResult(await self._client.progress_reader.head_output(request))


def _failure(exc: Exception) -> WatchInput | None:
    """What a failed read means to the machine (None: not a read failure; re-raise)."""
    if isinstance(exc, RenderNotFoundError):
        return NotFound(str(exc))
    if isinstance(exc, _TRANSIENT):
        return TransientError.from_exception(exc)
    if isinstance(exc, RemotionError):
        return PermanentError(exc)
    return None


async def _sleep_or_outcome(
    hub: OutcomeHub, render_id: str, seconds: float,
    sleep: Callable[[float], Awaitable[None]] | None,
) -> RenderOutcome | None:
    """Sleep ``seconds``, unless the hub delivers the render's outcome first (returned).

    Cancel-safe: an outcome that arrives as the sleep ends stays kept in the hub, and the
    next sleep returns it at once. With anyio's own sleep this is one cancel scope (no
    task); an injected ``sleep`` (simulated time) races in a task group."""
    if sleep is None:
        with anyio.move_on_after(seconds):
            return await hub.wait_outcome(render_id)
        return None
    got: list[RenderOutcome] = []

    async def nap(scope: anyio.CancelScope) -> None:
        await sleep(seconds)
        scope.cancel()

    async def listen(scope: anyio.CancelScope) -> None:
        got.append(await hub.wait_outcome(render_id))
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(nap, group.cancel_scope)
        group.start_soon(listen, group.cancel_scope)
    return got[0] if got else None


async def watch(
    client: RemotionLambda,
    render: RenderHandle | str,
    options: WatchOptions | None = None,
    *,
    bucket_name: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    rng: random.Random | None = None,
    hub: OutcomeHub | None = None,
) -> AsyncIterator[Progress | Done | Failed]:
    """Yield a render's events until it is done or failed (the last event says which).

    ``render`` is a :class:`~aioremotion.RenderHandle`, or a render id with
    ``bucket_name=`` (the client's region and function are assumed). Yields
    :class:`Progress` only when something changed (progress never goes backwards), then
    exactly one :class:`Done` or :class:`Failed`. Transient S3 errors and a malformed
    progress.json are retried with backoff, and after ``max_consecutive_errors`` in a row
    :class:`WatchError` is raised; a missing progress.json is tolerated for
    ``not_found_grace_s``; a render whose metadata never appears within its timeout is
    reported as a timeout failure. ``clock``, ``sleep`` and ``rng`` may be injected
    (simulated time, deterministic jitter).

    ``hub``: an :class:`~aioremotion.hub.OutcomeHub` fed by the verified webhooks; the
    watch then finishes on the render's webhook (an ``error`` or ``timeout`` is the
    :class:`Failed`; a ``success`` is confirmed by one read, for the size and cost) and
    polls only every ``options.safety_poll_s`` in case none arrives, unless progress is
    wanted (``options.poll_progress``, or ``heartbeat_s`` set).

    Example::

        async for event in watch(remotion, "k1a2b3c4d5", bucket_name="remotionlambda-…"):
            if event.type == "progress":
                print(f"{event.progress:.0%}")
    """
    opts = options or WatchOptions()
    handle = _resolve(client, render, bucket_name)
    nap = sleep or anyio.sleep
    source = _ProgressSource(client, handle, opts.via)
    machine = WatchMachine(handle.progress_context(), opts, start=clock(), rng=rng,
                           push=hub is not None)
    listening = hub
    while True:
        action = machine.next_action(clock())
        if isinstance(action, Sleep):
            if action.event is not None:  # an estimate between reads (estimate_every_s)
                yield action.event
            if listening is None:
                await nap(action.seconds)
                continue
            outcome = await _sleep_or_outcome(listening, handle.render_id, action.seconds,
                                              sleep)
            if outcome is not None:
                listening = None  # heard: what is left is at most one read
                event = machine.receive(Pushed(outcome))
                if event is not None:
                    yield event
            continue
        if isinstance(action, Finished):
            return
        if isinstance(action, GiveUp):
            raise WatchError(action.message, render=handle) from action.error
        if isinstance(action, Abort):
            raise action.error
        try:
            if isinstance(action, Read):
                result: WatchInput = await source.read(action.if_none_match)
            else:
                assert isinstance(action, Head)
                result = await source.head(action.request)
        except Exception as exc:
            failure = _failure(exc)
            if failure is None:
                raise
            event = machine.receive(failure)
        else:
            event = machine.receive(result, now_ms=client.now_ms())
        if event is not None:
            yield event


async def wait(
    client: RemotionLambda,
    render: RenderHandle | str,
    options: WatchOptions | None = None,
    *,
    bucket_name: str | None = None,
    on_progress: Callable[[Progress], Any] | None = None,
    hub: OutcomeHub | None = None,
    **watch_kwargs: Any,
) -> Done:
    """Wait for a render: returns :class:`Done`, or raises :class:`RenderFailed`.

    ``render`` is a handle, or a render id with ``bucket_name=`` (as for :func:`watch`).
    With ``hub=`` it finishes on the render's webhook; without ``on_progress`` it then
    reads S3 once at the start and once after a success webhook (none after an error or
    timeout webhook), plus one safety read per ``safety_poll_s`` the render lasts: 2 reads
    for a render shorter than ``safety_poll_s``, whatever its length when
    ``safety_poll_s`` is at least the function's timeout.

    Example::

        done = await wait(remotion, render_id, bucket_name=bucket, on_progress=print)
        print(done.url, done.size)
        done = await wait(remotion, handle, hub=web.hub)   # finishes on the webhook
    """
    handle = _resolve(client, render, bucket_name)
    opts = options or WatchOptions()
    if hub is not None and on_progress is not None and opts.poll_progress is None:
        opts = dataclasses.replace(opts, poll_progress=True)  # progress is displayed
    async for event in watch(client, handle, opts, hub=hub, **watch_kwargs):
        if isinstance(event, Done):
            return event
        if isinstance(event, Failed):
            raise RenderFailed(event)
        if on_progress is not None:
            on_progress(event)
    raise WatchError(f"watching {handle.render_id} ended without an outcome", render=handle)
