"""Watching a render: an async generator of events, and ``wait``/``render`` on top.

The loop reads ``progress.json`` with a conditional GET (an unchanged file costs a 304 and
no body), computes the progress exactly as the status Lambda would, and yields an event
only when something changed. How often it polls is decided by a pure, clock-injected
:class:`~aioremotion.schedule.PollSchedule`.

Example::

    async with RemotionLambda() as remotion:
        render = await remotion.render_media(serve_url=..., composition=..., codec="h264")
        async for event in watch(remotion, render):
            print(event.model_dump_json())      # {"type":"progress","progress":0.42,...}
        done = await wait(remotion, render)     # or just this: Done, or raises RenderFailed
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio

from .errors import ProgressFileError, RemotionError, RenderNotFoundError, TransientError
from .events import Done, Failed, Progress, RenderFailed, event_from_progress
from .handles import RenderHandle
from .protocol.progress import ProgressFile, RenderProgress, frame_count, parse_progress_file
from .schedule import PollPolicy, PollSchedule

if TYPE_CHECKING:
    from .client import RemotionLambda
    from .progress_reader import ProgressRead

__all__ = ["WatchError", "WatchOptions", "render", "wait", "watch"]

Source = Literal["s3", "lambda"]

#: How long past its timeoutTimestamp a render may stay without metadata before the
#: watcher declares that its main function died (the official code never does).
METADATA_GRACE_MS = 20_000


class WatchError(RemotionError):
    """Watching stopped without an outcome (too many consecutive errors reading progress).
    The render itself may still be running; watch it again with its handle."""

    def __init__(self, message: str, *, render: RenderHandle) -> None:
        self.render = render
        super().__init__(message)


@dataclass(frozen=True)
class WatchOptions:
    """How a watch polls and what it reports.

    ``policy``: the poll schedule; ``source``: ``"s3"`` (default; conditional GETs of
    progress.json) or ``"lambda"`` (the status routine, 8-30x dearer); ``progress_floor``:
    the smallest progress reported (the Next.js template uses 0.03); ``heartbeat_s``:
    re-send the last progress after this long without a change (for UIs);
    ``not_found_grace_s``: how long a missing progress.json is tolerated;
    ``max_consecutive_errors``: transient errors in a row before :class:`WatchError`;
    ``metadata_grace_s``: how long past its ``timeoutTimestamp`` a render may lack metadata
    before it is reported as crashed.
    """

    policy: PollPolicy = field(default_factory=PollPolicy.default)
    source: Source = "s3"
    progress_floor: float = 0.0
    heartbeat_s: float | None = None
    not_found_grace_s: float = 10.0
    max_consecutive_errors: int = 20
    metadata_grace_s: float = METADATA_GRACE_MS / 1000


#: What a watch retries (with backoff, up to ``max_consecutive_errors`` in a row). Every
#: other error (a missing bucket, denied access, bad credentials, a wrong region, ...) is
#: permanent: it ends the watch at once, raised as it came (see aioremotion.errors).
_TRANSIENT = (TransientError, ProgressFileError)


async def watch(
    client: RemotionLambda,
    render: RenderHandle,
    options: WatchOptions | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    rng: random.Random | None = None,
) -> AsyncIterator[Progress | Done | Failed]:
    """Yield a render's events until it is done or failed (the last event says which).

    Yields :class:`Progress` only when something changed (progress never goes backwards),
    then exactly one :class:`Done` or :class:`Failed`. Transient S3 errors and a
    malformed progress.json are retried with backoff; a missing progress.json is tolerated
    for ``not_found_grace_s``; a render whose metadata never appears within its timeout is
    reported as a timeout failure. A permanent error (no such bucket, access denied, bad
    credentials, wrong region: see :mod:`aioremotion.errors`) is raised at once.
    """
    opts = options or WatchOptions()
    nap = sleep or anyio.sleep
    schedule = PollSchedule(opts.policy, rng=rng or _SHARED_RNG, start=clock())
    cache = _LastRead()
    last: Progress | None = None
    last_sent_at = clock()
    best = 0.0
    errors_in_row = 0
    first_missing: float | None = None
    first_poll = True
    progress: RenderProgress | None = None
    event: Progress | Done | Failed | None = None

    while True:
        if not first_poll:
            # Hold no parsed models across the sleep: with 10,000 watches they would
            # cost ~25 KB each (the cache keeps the raw body instead).
            progress = event = None
            await nap(schedule.next_delay(clock()))
        first_poll = False
        now = clock()
        try:
            progress, changed = await _read(client, render, opts.source, cache)
        except RenderNotFoundError as exc:
            first_missing = now if first_missing is None else first_missing
            if now - first_missing >= opts.not_found_grace_s:
                yield Failed(message=str(exc), render_id=render.render_id)
                return
            schedule.observe_error(now)
            continue
        except _TRANSIENT as exc:
            errors_in_row += 1
            if errors_in_row >= opts.max_consecutive_errors:
                raise WatchError(
                    f"Stopped watching render {render.render_id} after {errors_in_row} "
                    f"consecutive errors; the last: {type(exc).__name__}: {exc}",
                    render=render,
                ) from exc
            schedule.observe_error(now)
            continue
        errors_in_row = 0
        first_missing = None

        event = event_from_progress(progress, floor=opts.progress_floor)
        if isinstance(event, Progress) and progress.render_metadata is None:
            timeout_at = progress.timeout_timestamp
            grace_ms = opts.metadata_grace_s * 1000
            if timeout_at is not None and progress.current_time > timeout_at + grace_ms:
                yield _metadata_timeout(render, progress)
                return
        if not isinstance(event, Progress):
            yield event
            return

        best = max(best, event.progress)
        stage, stage_progress = _stage_of(progress)
        schedule.observe(now, changed=changed, progress=stage_progress, stage=stage,
                         last_stage=stage == "combine")
        eta = schedule.eta(now)
        event = event.model_copy(update={"progress": best, "eta_seconds": eta})
        if last is None or _differs(event, last):
            last, last_sent_at = event, now
            yield event
        elif opts.heartbeat_s is not None and now - last_sent_at >= opts.heartbeat_s:
            last_sent_at = now
            yield last.model_copy(update={"heartbeat": True, "eta_seconds": eta})


#: One generator for every watch's jitter (a Random is 2.8 KB: 28 MB for 10,000 watches).
_SHARED_RNG = random.Random()


class _LastRead:
    """What a watch keeps between polls to answer 304s: the ETag and the raw body
    (2.5 KB, against ~20 KB for the parsed file), or the parsed file when a client gave
    no raw body."""

    __slots__ = ("etag", "file", "raw")

    def __init__(self) -> None:
        self.etag: str | None = None
        self.raw: bytes | None = None
        self.file: ProgressFile | None = None

    @property
    def empty(self) -> bool:
        return self.raw is None and self.file is None

    def remember(self, read: ProgressRead) -> None:
        self.etag = read.etag
        self.raw = read.raw
        self.file = None if read.raw is not None else read.file

    def parsed(self) -> ProgressFile:
        if self.raw is not None:
            return parse_progress_file(self.raw)  # a 304: parse again (~0.1 ms)
        if self.file is None:
            raise ProgressFileError("progress.json was not modified, but was never read")
        return self.file


async def _read(client: RemotionLambda, render: RenderHandle, source: Source,
                cache: _LastRead) -> tuple[RenderProgress, bool]:
    """One poll: the render's progress and whether it changed since the last poll."""
    if source == "lambda":
        return await client.get_progress(render, via="lambda"), True
    reader = client.progress_reader
    read = await reader.read(render, if_none_match=cache.etag)
    if read.file is None:
        file = cache.parsed()
        changed = False
    else:
        file = read.file
        changed = read.etag != cache.etag or cache.empty
        cache.remember(read)
    return await reader.compute(render, file), changed


def _stage_of(progress: RenderProgress) -> tuple[str, float | None]:
    """The phase a render is in and how far along it is, for the poll schedule.

    Rendering the frames and combining the chunks run at very different speeds (the
    overall progress gives combining a tenth however long it takes), so the schedule
    predicts the end of each on its own: ``frames`` (frames rendered of the total),
    then ``combine`` (frames combined). Before the metadata exists: ``starting``.
    """
    metadata = progress.render_metadata
    if metadata is None or not metadata.frame_range or len(metadata.frame_range) < 2:
        return "starting", None
    total = frame_count(metadata.frame_range, metadata.every_nth_frame or 1)
    if total <= 0:
        return "starting", None
    if progress.frames_rendered < total:
        return "frames", progress.frames_rendered / total
    return "combine", min(1.0, progress.combined_frames / total)


def _differs(a: Progress, b: Progress) -> bool:
    return (a.progress, a.frames_rendered, a.chunks, a.lambdas_invoked) != (
        b.progress, b.frames_rendered, b.chunks, b.lambdas_invoked
    )


def _metadata_timeout(render: RenderHandle, progress: RenderProgress) -> Failed:
    return Failed(
        message=(
            f"The main function of render {render.render_id} did not report the render's "
            f"metadata before its timeout ({render.timeout_ms} ms): it most likely crashed "
            "(for example out of memory) before validating the composition. Check the "
            f"launch logs: {render.cloud_watch_main_logs}"
        ),
        render_id=render.render_id,
        explanation="The main function timed out or crashed before the render started.",
        errors=progress.errors,
        timed_out=True,
    )


async def wait(
    client: RemotionLambda,
    render: RenderHandle,
    options: WatchOptions | None = None,
    *,
    on_progress: Callable[[Progress], Any] | None = None,
    **watch_kwargs: Any,
) -> Done:
    """Wait for a render: returns :class:`Done`, or raises :class:`RenderFailed`."""
    async for event in watch(client, render, options, **watch_kwargs):
        if isinstance(event, Done):
            return event
        if isinstance(event, Failed):
            raise RenderFailed(event)
        if on_progress is not None:
            on_progress(event)
    raise WatchError(f"watching {render.render_id} ended without an outcome", render=render)


async def render(
    options: Mapping[str, Any] | None = None,
    /,
    *,
    client: RemotionLambda | None = None,
    watch_options: WatchOptions | None = None,
    on_progress: Callable[[Progress], Any] | None = None,
    **render_options: Any,
) -> Done:
    """Start a render and wait for it, in one await (for scripts and notebooks).

    Uses ``client`` or a :class:`~aioremotion.RemotionLambda` configured from the
    environment. Raises :class:`RenderFailed` when the render fails. In a Jupyter cell
    (top-level ``await`` works there) a live progress bar is shown, and the returned
    :class:`Done` displays as the video itself when it was rendered locally.

    Example::

        done = await aioremotion.render(serve_url="my-site", composition="HelloWorld",
                                        codec="h264", input_props={"title": "Hi"})
        print(done.url)
    """
    if client is None:
        from .client import RemotionLambda

        async with RemotionLambda() as own:
            return await render(options, client=own, watch_options=watch_options,
                                on_progress=on_progress, **render_options)
    if on_progress is None:
        from .notebook import LiveProgress, in_notebook

        if in_notebook():
            on_progress = LiveProgress()
    handle = await client.render_media(options, **render_options)
    return await wait(client, handle, watch_options, on_progress=on_progress)
