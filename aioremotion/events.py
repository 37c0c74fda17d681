"""The events a render goes through: :class:`Started`, :class:`Progress`, :class:`Done`,
:class:`Failed`.

:class:`Progress`, :class:`Done` and :class:`Failed` live in the pure core
(:mod:`aioremotion.protocol.events`, which the watch machine builds them in);
:class:`Started` (what :class:`~aioremotion.Batch` and
:meth:`~aioremotion.RemotionLambda.render_and_stream` yield when a start was accepted)
is defined here. This module is their public home.

Example:
    >>> from aioremotion.events import Done, RenderEvent
    >>> RenderEvent.validate_json('{"type": "done", "url": "https://x/out.mp4", "size": 3}')
    Done(type='done', url='https://x/out.mp4', size=3, ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .handles import RenderHandle
from .protocol.events import (
    STAGE_WORDS,
    Done,
    Failed,
    Progress,
    RenderEvent,
    RenderFailed,
    Stage,
    event_from_progress,
    format_eta,
    shown_progress,
)

__all__ = ["STAGE_WORDS", "Done", "Failed", "Progress", "RenderEvent", "RenderFailed", "Stage",
           "Started", "event_from_progress", "format_eta", "shown_progress"]


@dataclass(frozen=True)
class Started:
    """A render was accepted by the function: ``render`` is its handle, all a watcher (in
    this process or another) needs. ``resumed``: a render started earlier, now watched
    again (:class:`~aioremotion.Batch` with ``Job(render=...)``).

    Example:
        >>> h = RenderHandle(render_id="k1a2b3c4d5", bucket_name="remotionlambda-x",
        ...                  region="us-east-1", function_name="remotion-render")
        >>> event = Started(h)
        >>> event.type, event.render_id, event.bucket_name
        ('started', 'k1a2b3c4d5', 'remotionlambda-x')
    """

    render: RenderHandle
    type: Literal["started"] = "started"
    resumed: bool = False

    @property
    def render_id(self) -> str:
        """The render's id (``render.render_id``)."""
        return self.render.render_id

    @property
    def bucket_name(self) -> str:
        """The render's bucket (``render.bucket_name``)."""
        return self.render.bucket_name
