"""The events a render goes through: :class:`Progress`, :class:`Done`, :class:`Failed`.

They live in the pure core (:mod:`aioremotion.protocol.events`, which the watch machine
builds them in); this module is their public home.

Example:
    >>> from aioremotion.events import Done, RenderEvent
    >>> RenderEvent.validate_json('{"type": "done", "url": "https://x/out.mp4", "size": 3}')
    Done(type='done', url='https://x/out.mp4', size=3, ...)
"""

from __future__ import annotations

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
           "event_from_progress", "format_eta", "shown_progress"]
