"""What watching a render yields: ``Progress``, ``Done`` or ``Failed``.

They are pydantic models discriminated on ``type`` whose JSON is exactly what the web
endpoint of Remotion's Next.js template returns — ``{"type":"progress","progress":…}``,
``{"type":"done","url":…,"size":…}``, ``{"type":"error","message":…}`` — plus extra
fields (camelCase), so a FastAPI handler can ``return event``.

Example:
    >>> Progress(progress=0.5, render_id="k1a2b3c4d5").model_dump(exclude_none=True)
    {'type': 'progress', 'progress': 0.5, 'renderId': 'k1a2b3c4d5', 'framesRendered': 0, \
'chunks': 0, 'lambdasInvoked': 0, 'costSoFar': 0.0, 'heartbeat': False}
    >>> event = RenderEvent.validate_python({"type": "done", "url": "https://x/o.mp4", "size": 3})
    >>> type(event).__name__, event.model_dump_json(include={"type", "url", "size"})
    ('Done', '{"type":"done","url":"https://x/o.mp4","size":3}')
"""

from __future__ import annotations

import html
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from ..errors import RemotionError
from .pricing import format_cost
from .progress import EnhancedErrorInfo, RenderProgress

__all__ = ["Done", "Failed", "Progress", "RenderEvent", "RenderFailed", "event_from_progress"]


class _Event(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="allow",
        frozen=True,
    )


class Progress(_Event):
    """The render is running. ``progress`` (0–1) never goes backwards in a watch."""

    type: Literal["progress"] = "progress"
    progress: float = Field(ge=0, le=1)
    render_id: str | None = None
    frames_rendered: int = 0
    chunks: int = 0
    total_chunks: int | None = None
    lambdas_invoked: int = 0
    #: The estimated cost so far (Remotion's ``costs.accruedSoFar``).
    cost_so_far: float = 0.0
    #: ``cost_so_far`` for people, formatted as ``Done.cost_display`` is
    #: (:func:`~aioremotion.protocol.pricing.format_cost`): ``$0.00038``, ``$0.012``.
    cost_display: str | None = None
    #: Seconds until the current stage is predicted to end, from its rate so far: first
    #: rendering the frames, then combining the chunks (the last stage, so then until
    #: the render finishes). None until there is a rate.
    eta_seconds: float | None = None
    #: True when re-sent by the heartbeat without a change.
    heartbeat: bool = False

    def _repr_html_(self) -> str:
        return progress_html(self)


class Done(_Event):
    """The output exists: ``url`` and ``size`` as the template reports them."""

    type: Literal["done"] = "done"
    url: str
    size: int
    render_id: str | None = None
    bucket_name: str | None = None
    out_key: str | None = None
    #: The render's final cost estimate (``postRenderData.cost.estimatedCost``: the
    #: renderers' billed durations × memory, plus the invocations).
    cost: float | None = None
    #: ``cost`` for people, formatted as ``Progress.cost_display`` is.
    cost_display: str | None = None
    time_to_finish_ms: float | None = None
    chunks: int | None = None
    frames_rendered: int | None = None
    errors: list[EnhancedErrorInfo] = Field(default_factory=list)

    def _repr_html_(self) -> str:
        return done_html(self)


class Failed(_Event):
    """The render failed (or timed out): ``message`` plus Remotion's explanation."""

    type: Literal["error"] = "error"
    message: str
    render_id: str | None = None
    explanation: str | None = None
    errors: list[EnhancedErrorInfo] = Field(default_factory=list)
    timed_out: bool = False

    def _repr_html_(self) -> str:
        return failed_html(self)


RenderEvent: TypeAdapter[Progress | Done | Failed] = TypeAdapter(
    Annotated[Progress | Done | Failed, Field(discriminator="type")]
)


class RenderFailed(RemotionError):
    """Raised by ``wait``/``render`` when a render fails; ``event`` holds the details."""

    def __init__(self, event: Failed) -> None:
        self.event = event
        explanation = f" ({event.explanation})" if event.explanation else ""
        render = f"Render {event.render_id} failed: " if event.render_id else "Render failed: "
        super().__init__(f"{render}{event.message}{explanation}")


def _cost_display(progress: RenderProgress) -> str:
    """The cost as ``Progress`` and ``Done`` both show it: one formatter for the running and
    the final estimate (Remotion's own two strings disagree: ``<$0.001``, then ``$0``)."""
    return format_cost(float(progress.costs.accrued_so_far), progress.costs.currency)


def event_from_progress(
    progress: RenderProgress, *, floor: float = 0.0, eta_seconds: float | None = None
) -> Progress | Done | Failed:
    """Turn a RenderProgress into the event a UI needs (no monotonicity applied here)."""
    if progress.done:
        return Done(
            url=progress.output_file or "",
            size=int(progress.output_size_in_bytes or 0),
            render_id=progress.render_id,
            bucket_name=progress.out_bucket,
            out_key=progress.out_key,
            cost=float(progress.costs.accrued_so_far),
            cost_display=_cost_display(progress),
            time_to_finish_ms=progress.time_to_finish,
            chunks=progress.chunks,
            frames_rendered=progress.frames_rendered,
            errors=progress.errors,
        )
    if progress.fatal_error_encountered:
        fatal = progress.fatal_errors or progress.errors
        first = fatal[0] if fatal else None
        return Failed(
            message=first.message if first else "The render failed",
            render_id=progress.render_id,
            explanation=first.explanation if first else None,
            errors=progress.errors,
            timed_out=bool(first and first.name == "TimeoutError"),
        )
    metadata = progress.render_metadata
    return Progress(
        progress=min(1.0, max(floor, float(progress.overall_progress))),
        render_id=progress.render_id,
        frames_rendered=progress.frames_rendered,
        chunks=progress.chunks,
        total_chunks=metadata.total_chunks if metadata else None,
        lambdas_invoked=progress.lambdas_invoked,
        cost_so_far=float(progress.costs.accrued_so_far),
        cost_display=_cost_display(progress),
        eta_seconds=eta_seconds,
    )


# ------------------------------------------------------------ HTML (notebooks)

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def progress_html(event: Progress) -> str:
    """A small HTML progress bar for a :class:`Progress` event."""
    percent = round(event.progress * 100, 1)
    eta = f", about {event.eta_seconds:.0f} s left" if event.eta_seconds else ""
    cost = f", {html.escape(event.cost_display)} so far" if event.cost_display else ""
    return (
        f'<div><progress value="{percent}" max="100" style="width:24em"></progress> '
        f"{percent}% · {event.frames_rendered} frames, {event.chunks} chunks{eta}{cost}</div>"
    )


def done_html(event: Done) -> str:
    """HTML for a finished render: the video inline when it was rendered locally (the
    emulator serves it), else a link."""
    url = html.escape(event.url, quote=True)
    size = f"{event.size / 1_000_000:.2f} MB"
    local = urlparse(event.url).hostname in LOCAL_HOSTS
    player = (f'<video src="{url}" controls style="max-width:480px;display:block"></video>'
              if local and event.url.endswith((".mp4", ".webm", ".mov")) else "")
    return f'{player}<div>Done: <a href="{url}" target="_blank">{url}</a> ({size})</div>'


def failed_html(event: Failed) -> str:
    """HTML for a failed render, with Remotion's explanation."""
    explanation = (f"<div><i>{html.escape(event.explanation)}</i></div>"
                   if event.explanation else "")
    return (f'<div style="color:#b00020"><b>Render failed:</b> '
            f"{html.escape(event.message)}</div>{explanation}")
