"""What watching a render yields: ``Progress``, ``Done`` or ``Failed``.

They are pydantic models discriminated on ``type`` whose JSON is exactly what the web
endpoint of Remotion's Next.js template returns — ``{"type":"progress","progress":…}``,
``{"type":"done","url":…,"size":…}``, ``{"type":"error","message":…}`` — plus extra
fields (camelCase), so a FastAPI handler can ``return event``.

Example:
    >>> Progress(progress=0.5, render_id="k1a2b3c4d5").model_dump(exclude_none=True)
    {'type': 'progress', 'progress': 0.5, 'renderId': 'k1a2b3c4d5', 'framesRendered': 0, \
'chunks': 0, 'lambdasInvoked': 0, 'costSoFar': 0.0, 'heartbeat': False, 'estimated': False}
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
from .progress import EnhancedErrorInfo, RenderProgress, frame_count
from .sequences import OutputSequence

__all__ = ["STAGE_WORDS", "Done", "Failed", "Progress", "RenderEvent", "RenderFailed", "Stage",
           "event_from_progress", "format_eta", "outcome_bar_html",
           "render_stage", "shown_progress"]

#: What a running render is doing: waiting for its metadata (``starting``), rendering the
#: frames (``frames``), finishing the chunks (``chunks``: the last encodes and uploads),
#: then combining them into the output (``combine``).
Stage = Literal["starting", "frames", "chunks", "combine"]

#: How displays name each stage (the command line, notebooks).
STAGE_WORDS: dict[str, str] = {"starting": "starting", "frames": "rendering",
                               "chunks": "encoding", "combine": "combining"}


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
    #: ``cost_so_far`` for people, formatted by :func:`.pricing.format_cost` as
    #: ``Done.cost_display`` is: ``$0.00038``, ``$0.012``.
    cost_display: str | None = None
    #: What the render is doing (:data:`Stage`); None when not known.
    stage: Stage | None = None
    #: Seconds until the current ``stage`` is predicted to end, from its rate so far
    #: (rendering the frames, finishing the chunks, then combining them: the last stage,
    #: so then until the render finishes). None until the stage moved across two reads.
    eta_seconds: float | None = None
    #: True when re-sent by the heartbeat without a change.
    heartbeat: bool = False
    #: True when ``progress`` is estimated between two reads (from the current stage's
    #: measured rate, never beyond the next stage's start); the counters are the last
    #: read's. Only watches asked for it send these (``WatchOptions.estimate_every_s``).
    estimated: bool = False

    def _repr_html_(self) -> str:
        return progress_html(self)


class Done(_Event):
    """The output exists: ``url`` and ``size`` as the template reports them.

    For an image sequence (``render_frames``) ``output_sequence`` says where the frames
    and their manifest are; ``url`` is then the manifest's URL, ``out_key`` its key and
    ``size`` the frames' bytes together (as the function reports them).
    """

    type: Literal["done"] = "done"
    url: str
    size: int
    render_id: str | None = None
    bucket_name: str | None = None
    out_key: str | None = None
    #: The render's final cost estimate (``postRenderData.cost.estimatedCost``: the
    #: renderers' billed durations × memory, plus the invocations).
    cost: float | None = None
    #: ``cost`` for people, formatted as ``Progress.cost_display`` is
    #: (:func:`.pricing.format_cost`).
    cost_display: str | None = None
    time_to_finish_ms: float | None = None
    chunks: int | None = None
    frames_rendered: int | None = None
    errors: list[EnhancedErrorInfo] = Field(default_factory=list)
    #: Where an image sequence's frames and manifest are (``None`` for media renders).
    output_sequence: OutputSequence | None = None

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


def event_from_progress(
    progress: RenderProgress, *, floor: float = 0.0, eta_seconds: float | None = None
) -> Progress | Done | Failed:
    """Turn a RenderProgress into the event a UI needs (no monotonicity applied here)."""
    costs = progress.costs
    if progress.done:
        sequence = progress.output_sequence
        return Done(
            url=progress.output_file or (sequence.manifest_url if sequence else ""),
            output_sequence=sequence,
            size=int(progress.output_size_in_bytes or 0),
            render_id=progress.render_id,
            bucket_name=progress.out_bucket,
            out_key=progress.out_key,
            cost=float(costs.accrued_so_far),
            cost_display=format_cost(float(costs.accrued_so_far), costs.currency),
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
        cost_so_far=float(costs.accrued_so_far),
        cost_display=format_cost(float(costs.accrued_so_far), costs.currency),
        stage=render_stage(progress)[0],
        eta_seconds=eta_seconds,
    )


def render_stage(progress: RenderProgress) -> tuple[Stage, float | None]:
    """The stage a running render is in and how far along that stage is (0..1).

    The stages run at very different speeds (the overall progress gives combining a
    tenth, however long it takes), so each is measured on its own: ``frames`` (frames
    rendered of the total), ``chunks`` (chunks finished of the total, once every frame is
    rendered), then ``combine`` (frames combined). Before the metadata exists:
    ``starting``, with no measure.
    """
    metadata = progress.render_metadata
    if metadata is None or not metadata.frame_range or len(metadata.frame_range) < 2:
        return "starting", None
    total = frame_count(metadata.frame_range, metadata.every_nth_frame or 1)
    if total <= 0:
        return "starting", None
    if progress.frames_rendered < total:
        return "frames", progress.frames_rendered / total
    chunks = metadata.total_chunks or 0
    if progress.combined_frames <= 0 and progress.chunks < chunks:
        return "chunks", progress.chunks / chunks
    return "combine", min(1.0, progress.combined_frames / total)


# ------------------------------------------------------------ HTML (notebooks)

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def format_eta(seconds: float | None) -> str:
    """How displays show an ETA: ``75.2`` -> ``'1:15'``; ``None`` -> ``'-'``.

    >>> format_eta(75.2), format_eta(3725), format_eta(None)
    ('1:15', '1:02:05', '-')
    """
    if seconds is None:
        return "-"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


_FAILED_RED = "#b00020"

#: The most a running render's bar shows: Remotion's progress reaches 1 while the output
#: is still being checked, and a full bar should mean done.
RUNNING_MAX = 0.99


def shown_progress(event: Progress) -> float:
    """The share of a bar a running render fills: its progress, 99% at most.

    >>> shown_progress(Progress(progress=1.0)), shown_progress(Progress(progress=0.5))
    (0.99, 0.5)
    """
    return min(event.progress, RUNNING_MAX)


def _progress_element(percent: float, color: str | None = None) -> str:
    style = "width:24em" + (f";accent-color:{color}" if color else "")
    return f'<progress value="{percent}" max="100" style="{style}"></progress>'


def progress_html(event: Progress) -> str:
    """A small HTML progress bar for a :class:`Progress` event: percent, stage, frames,
    chunks, the stage's ETA and the cost so far.

    >>> progress_html(Progress(progress=0.5, frames_rendered=75, stage="frames",
    ...                        eta_seconds=72, cost_display="$0.001")).split("</progress> ")[1]
    '50.0% · rendering · 75 frames, 0 chunks · ETA 1:12 · $0.001 so far</div>'
    """
    percent = round(shown_progress(event) * 100, 1)
    chunks = (f"{event.chunks}/{event.total_chunks}" if event.total_chunks
              else str(event.chunks))
    parts = [f"{percent}%", f"{event.frames_rendered} frames, {chunks} chunks"]
    if event.stage:
        parts.insert(1, STAGE_WORDS[event.stage])
    if event.eta_seconds is not None:
        parts.append(f"ETA {format_eta(event.eta_seconds)}")
    if event.cost_display:
        parts.append(f"{html.escape(event.cost_display)} so far")
    return f"<div>{_progress_element(percent)} {' · '.join(parts)}</div>"


def outcome_bar_html(event: Done | Failed, progress: float = 0.0) -> str:
    """The last state of a live progress bar: full on :class:`Done`; on :class:`Failed`,
    stopped where it was (``progress``), in red, with the message and the explanation.

    >>> outcome_bar_html(Done(url="https://x/o.mp4", size=1, cost_display="$0.002")
    ...                  ).split("</progress> ")[1]
    '100% · done · $0.002</div>'
    >>> "Render failed:</b> boom" in outcome_bar_html(Failed(message="boom"), 0.4)
    True
    """
    if isinstance(event, Done):
        parts = ["100%", "done"]
        if event.frames_rendered is not None:
            parts.append(f"{event.frames_rendered} frames, {event.chunks or 0} chunks")
        if event.cost_display:
            parts.append(html.escape(event.cost_display))
        return f"<div>{_progress_element(100)} {' · '.join(parts)}</div>"
    percent = round(progress * 100, 1)
    explanation = (f"<div><i>{html.escape(event.explanation)}</i></div>"
                   if event.explanation else "")
    return (f'<div style="color:{_FAILED_RED}">{_progress_element(percent, _FAILED_RED)} '
            f"<b>Render failed:</b> {html.escape(event.message)}</div>{explanation}")


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
    return (f'<div style="color:{_FAILED_RED}"><b>Render failed:</b> '
            f"{html.escape(event.message)}</div>{explanation}")
