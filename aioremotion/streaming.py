"""Start a render and stream its events in one call: :class:`RenderStream`.

What :meth:`RemotionLambda.render_and_stream <aioremotion.RemotionLambda.render_and_stream>`
and :meth:`~aioremotion.RemotionLambda.render_frames_and_stream` return (Remotion's
``renderMediaOnLambdaAndStream()`` / ``renderFramesOnLambdaAndStream()``, 4.0.542): an
async iterator of :class:`~aioremotion.events.Started` (the render id, bucket and the
:class:`~aioremotion.RenderHandle` to resume with), then
:class:`~aioremotion.events.Progress`…, then exactly one
:class:`~aioremotion.events.Done` or :class:`~aioremotion.events.Failed`. It is the
start call followed by :func:`aioremotion.watch` (the one watch loop), nothing more.

Leaving the loop (``break``, :meth:`RenderStream.aclose`, a cancellation, an exception
in your loop body) stops observing and **never cancels the render**, as in Remotion
(a callback that throws stops observing without cancelling); pass
``cancel_on_exit=True`` to cancel it (the render needs ``enable_cancellation=True``).
The stream is pull-based: nothing is read while your loop body runs, and nothing after
you stop asking. Use ``async with`` so that closing (and ``cancel_on_exit``) happens at a
known point even when you ``break``.

A started render is never lost: the start call, once sent, is shielded from your
cancellation (for up to ``start_shield_s``), and :attr:`RenderStream.render` holds the
handle from the moment the function accepted the render, whether or not the
:class:`Started` event reached your loop. Keep it (say, ``render.model_dump_json()``)
to watch the render again later with :func:`aioremotion.watch`.

Example::

    async with RemotionLambda() as remotion:
        async with remotion.render_and_stream(
                serve_url="my-site", composition="HelloWorld", codec="h264") as events:
            async for event in events:
                if event.type == "started":
                    print("render", event.render_id, "in", event.bucket_name)
                elif event.type == "progress":
                    print(f"{event.progress:.0%}")
                elif event.type == "done":
                    print(event.url, event.size)
                else:
                    print("failed:", event.message)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio

from .errors import StartOutcomeUnknownError
from .events import Done, Failed, Progress, Started
from .handles import RenderHandle
from .watching import WatchOptions, watch

if TYPE_CHECKING:
    from .client import RemotionLambda
    from .hub import OutcomeHub

__all__ = ["START_SHIELD_S", "RenderStream", "StreamEvent"]

logger = logging.getLogger("aioremotion.streaming")

#: One event of a :class:`RenderStream`.
StreamEvent = Started | Progress | Done | Failed
#: How long a start call, once sent, is awaited despite a cancellation (seconds).
START_SHIELD_S = 60.0
#: How long cancelling the render on exit (``cancel_on_exit``) may take (seconds).
CANCEL_TIMEOUT_S = 30.0


class RenderStream:
    """A render being started and watched: iterate it for its events (see the module).

    Attributes:
        render: the started render's handle: ``None`` until the function accepted the
            start, then set even if the :class:`Started` event was never consumed (a
            cancellation during the start) — the way to recover the render.
        outcome: the :class:`Done` or :class:`Failed` that ended the stream, if any.
        cancelled: whether ``cancel_on_exit`` cancelled the render.
        cancel_error: what cancelling the render raised (it is logged, not raised: the
            exit that triggered it wins).

    Example::

        stream = remotion.render_frames_and_stream(serve_url="my-site",
                                                   composition="HelloWorld")
        try:
            async for event in stream:
                ...
        finally:
            await stream.aclose()
            if stream.render is not None and stream.outcome is None:
                save_for_later(stream.render.model_dump_json())   # still rendering
    """

    def __init__(
        self,
        client: RemotionLambda,
        start: Callable[[], Awaitable[RenderHandle]],
        *,
        watch_options: WatchOptions | None = None,
        hub: OutcomeHub | None = None,
        cancel_on_exit: bool = False,
        start_shield_s: float = START_SHIELD_S,
        **watch_kwargs: Any,
    ) -> None:
        self.client = client
        self.render: RenderHandle | None = None
        self.outcome: Done | Failed | None = None
        self.cancelled = False
        self.cancel_error: BaseException | None = None
        self._start = start
        self._watch_options = watch_options
        self._watch_kwargs = dict(watch_kwargs)
        if hub is not None:
            self._watch_kwargs["hub"] = hub
        self._cancel_on_exit = cancel_on_exit
        self._start_shield_s = start_shield_s
        self._events: AsyncIterator[Progress | Done | Failed] | None = None
        self._closed = False

    # ------------------------------------------------------------ iteration

    def __aiter__(self) -> RenderStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._closed or self.outcome is not None:
            raise StopAsyncIteration
        try:
            if self.render is None:
                return Started(await self._start_shielded())
            if self._events is None:
                self._events = watch(self.client, self.render, self._watch_options,
                                     **self._watch_kwargs)
            event = await self._events.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise
        except BaseException:
            await self.aclose()
            raise
        if isinstance(event, (Done, Failed)):
            self.outcome = event
            await self.aclose()
        return event

    async def _start_shielded(self) -> RenderHandle:
        """The start call, awaited (up to ``start_shield_s``) even if the caller is
        cancelled meanwhile, so that an accepted render is always in :attr:`render`."""
        with anyio.CancelScope(shield=True) as scope:
            scope.deadline = anyio.current_time() + self._start_shield_s
            self.render = await self._start()
            return self.render
        raise StartOutcomeUnknownError(
            f"The start call got no answer within {self._start_shield_s} s; the render may "
            "be running (look for it in the render bucket before starting it again)",
            function_name=self.client.function_name, payload_type="start")

    # ------------------------------------------------------------ closing

    async def aclose(self) -> None:
        """Stop observing (idempotent). Never cancels the render, unless the stream was
        made with ``cancel_on_exit=True`` and the render had not finished."""
        if self._closed:
            return
        self._closed = True
        events, self._events = self._events, None
        with anyio.CancelScope(shield=True):
            if events is not None:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
            if self._cancel_on_exit and self.render is not None and self.outcome is None:
                await self._cancel_render(self.render)

    async def _cancel_render(self, render: RenderHandle) -> None:
        try:
            with anyio.fail_after(CANCEL_TIMEOUT_S):
                await self.client.cancel(render)
        except Exception as exc:  # the render may have just finished
            self.cancel_error = exc
            logger.warning("Could not cancel render %s on exit: %s: %s",
                           render.render_id, type(exc).__name__, exc)
        else:
            self.cancelled = True

    async def __aenter__(self) -> RenderStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()
