"""One await from options to a finished render, for scripts and notebooks.

It sits above the client and the watcher (it makes a client when given none), so neither
of them imports the other at run time.

Example::

    import aioremotion

    done = await aioremotion.render(serve_url="my-site", composition="HelloWorld",
                                    codec="h264")
    print(done.url)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .client import RemotionLambda
from .events import Done, Progress, RenderFailed
from .notebook import LiveProgress, in_notebook
from .watching import WatchOptions, live_watch_options, wait

__all__ = ["render"]


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
    (top-level ``await`` works there) a live progress bar is shown (polled on
    :func:`~aioremotion.watching.live_watch_options` unless ``watch_options`` is given):
    it ends full on success, or red with the message on failure; the returned
    :class:`Done` displays as the video itself when it was rendered locally.

    Example::

        done = await aioremotion.render(serve_url="my-site", composition="HelloWorld",
                                        codec="h264", input_props={"title": "Hi"})
        print(done.url)
    """
    if client is None:
        async with RemotionLambda() as own:
            return await render(options, client=own, watch_options=watch_options,
                                on_progress=on_progress, **render_options)
    live = LiveProgress() if on_progress is None and in_notebook() else None
    if live is not None:  # a person watches: poll livelier, and finish the bar
        on_progress = live
        watch_options = watch_options or live_watch_options()
    handle = await client.render_media(options, **render_options)
    try:
        done = await wait(client, handle, watch_options, on_progress=on_progress)
    except RenderFailed as exc:
        if live is not None:
            live(exc.event)
        raise
    if live is not None:
        live(done)
    return done
