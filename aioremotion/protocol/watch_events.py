"""What one read of a render means, by the rules that need no history: the single step of
:class:`~aioremotion.protocol.watch.WatchMachine` (which adds monotonicity and heartbeats),
and what the web progress route answers each request with.
"""

from __future__ import annotations

from .events import Done, Failed, Progress, event_from_progress
from .naming import launch_logs_url
from .progress import ProgressContext, RenderProgress
from .watch_options import METADATA_GRACE_MS

__all__ = ["METADATA_GRACE_MS", "metadata_timeout_failure", "progress_event"]



def metadata_timeout_failure(ctx: ProgressContext, progress: RenderProgress) -> Failed:
    """The failure of a render whose main function never wrote the render's metadata."""
    return Failed(
        message=(
            f"The main function of render {ctx.render_id} did not report the render's "
            f"metadata before its timeout ({ctx.timeout_ms} ms): it most likely crashed "
            "(for example out of memory) before validating the composition. Check the "
            f"launch logs: {launch_logs_url(ctx.region, ctx.function_name, ctx.render_id)}"
        ),
        render_id=ctx.render_id,
        explanation="The main function timed out or crashed before the render started.",
        errors=progress.errors,
        timed_out=True,
    )


def progress_event(
    progress: RenderProgress,
    ctx: ProgressContext,
    *,
    floor: float = 0.0,
    metadata_grace_s: float = METADATA_GRACE_MS / 1000,
) -> Progress | Done | Failed:
    """The event one read means, by the rules that need no history (the machine's
    single step; the web route answers each request with it).

    Done and Failed as the progress says, else Progress (at least ``floor``), except that
    a render still without metadata ``metadata_grace_s`` past its ``timeoutTimestamp``
    is a timeout failure: its main function died before it began. Monotonicity and
    heartbeats need a history: :class:`WatchMachine` adds them.

    Example:
        >>> from aioremotion.protocol.progress import compute_render_progress
        >>> ctx = ProgressContext.for_function(
        ...     "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec", region="us-east-1",
        ...     render_id="k1a2b3c4d5", bucket_name="remotionlambda-useast1-abcdefghij")
        >>> started = {"timeoutTimestamp": 1_760_000_120_000}
        >>> fresh = compute_render_progress(started, ctx, now_ms=1_760_000_000_000)
        >>> progress_event(fresh, ctx, floor=0.03).progress
        0.03
        >>> late = compute_render_progress(started, ctx, now_ms=1_760_000_140_001)
        >>> progress_event(late, ctx).timed_out
        True
    """
    event = event_from_progress(progress, floor=floor)
    if isinstance(event, Progress) and progress.render_metadata is None:
        timeout_at = progress.timeout_timestamp
        if timeout_at is not None and progress.current_time > timeout_at + metadata_grace_s * 1000:
            return metadata_timeout_failure(ctx, progress)
    return event


def _differs(a: Progress, b: Progress) -> bool:
    return (a.progress, a.frames_rendered, a.chunks, a.lambdas_invoked) != (
        b.progress, b.frames_rendered, b.chunks, b.lambdas_invoked
    )
