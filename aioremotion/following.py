"""Following renders, the half of :class:`~aioremotion.RemotionLambda` that observes:
``watch``, ``wait``, ``render`` and the streaming calls. Each is a thin door to
:mod:`aioremotion.watching` (the watch loop around the pure watch machine) or
:mod:`aioremotion.streaming` (start + watch as one stream); the client's own module keeps
starting renders and reading what they leave.

Example::

    async with RemotionLambda() as remotion:
        async for event in remotion.render_and_stream(serve_url="my-site",
                                                      composition="HelloWorld"):
            print(event.type)       # started, progress, ..., done
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from typing_extensions import Unpack

from .protocol.option_kwargs import RenderFramesKwargs, RenderMediaKwargs
from .protocol.options import RenderFramesOptions, RenderMediaOptions, options_from

if TYPE_CHECKING:
    from .client import RemotionLambda
    from .events import Done, Failed, Progress
    from .handles import RenderHandle
    from .hub import OutcomeHub
    from .retry import ThrottleRetry
    from .streaming import RenderStream
    from .watching import WatchOptions

__all__ = ["Following"]


class Following:
    """The observing methods of :class:`~aioremotion.RemotionLambda` (a mixin)."""

    @property
    def _client(self) -> RemotionLambda:
        return cast("RemotionLambda", self)


    def watch(self, render: RenderHandle | str, options: WatchOptions | None = None,
              **kwargs: Any) -> AsyncIterator[Progress | Done | Failed]:
        """``aioremotion.watch(self, render, ...)``: the render's events."""
        from .watching import watch

        return watch(self._client, render, options, **kwargs)

    async def wait(self, render: RenderHandle | str, options: WatchOptions | None = None,
                   **kwargs: Any) -> Done:
        """``aioremotion.wait(self, render, ...)``: Done, or raises RenderFailed."""
        from .watching import wait

        return await wait(self._client, render, options, **kwargs)

    def render_and_stream(self, options: RenderMediaOptions | Mapping[str, Any] | None = None,
                          /, *, watch_options: WatchOptions | None = None,
                          hub: OutcomeHub | None = None, cancel_on_exit: bool = False,
                          throttle_retry: ThrottleRetry | None = None,
                          **kwargs: Unpack[RenderMediaKwargs]) -> RenderStream:
        """Start a render and stream its events (``renderMediaOnLambdaAndStream``):
        ``Started``, ``Progress``…, then ``Done`` or ``Failed``. The options are checked
        now; the start is sent on the first iteration. Leaving the loop never cancels the
        render unless ``cancel_on_exit``; ``watch_options`` and ``hub`` go to
        :func:`aioremotion.watch`. See :mod:`aioremotion.streaming`.

        Example::

            async with remotion.render_and_stream(serve_url="my-site",
                                                  composition="HelloWorld") as events:
                async for event in events:
                    print(event.type)   # started, progress, ..., done
        """
        from .streaming import RenderStream

        opts = options_from(RenderMediaOptions, options, kwargs)
        client = self._client
        return RenderStream(client,
                            lambda: client.render_media(opts, throttle_retry=throttle_retry),
                            watch_options=watch_options, hub=hub, cancel_on_exit=cancel_on_exit)

    def render_frames_and_stream(
            self, options: RenderFramesOptions | Mapping[str, Any] | None = None, /, *,
            watch_options: WatchOptions | None = None, hub: OutcomeHub | None = None,
            cancel_on_exit: bool = False, throttle_retry: ThrottleRetry | None = None,
            **kwargs: Unpack[RenderFramesKwargs]) -> RenderStream:
        """:meth:`render_and_stream` for an image sequence (``renderFramesOnLambdaAndStream``):
        its ``Done`` has ``output_sequence``.

        Example::

            async for event in remotion.render_frames_and_stream(serve_url="my-site",
                                                                 composition="HelloWorld"):
                if event.type == "done":
                    manifest = await remotion.read_manifest(event)
        """
        from .streaming import RenderStream

        opts = options_from(RenderFramesOptions, options, kwargs)
        client = self._client
        return RenderStream(client,
                            lambda: client.render_frames(opts, throttle_retry=throttle_retry),
                            watch_options=watch_options, hub=hub, cancel_on_exit=cancel_on_exit)

    async def render(self, options: RenderMediaOptions | Mapping[str, Any] | None = None, /,
                     *, watch_options: WatchOptions | None = None,
                     **kwargs: Unpack[RenderMediaKwargs]) -> Done:
        """Start a render and wait for it: Done, or raises RenderFailed."""
        handle = await self._client.render_media(options, **kwargs)
        return await self.wait(handle, watch_options)
