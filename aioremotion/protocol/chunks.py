"""How a render is split into chunks, one renderer invocation each (docs/PROTOCOL.md section 10).

Example:
    >>> plan = plan_chunks(frame_range=(0, 149), every_nth_frame=1)
    >>> plan.frames_per_lambda, plan.total_chunks, plan.chunk_frames(7)
    (19, 8, (133, 149))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .constants import MAX_FUNCTIONS_PER_RENDER, MINIMUM_FRAMES_PER_LAMBDA


class ChunkPlanError(ValueError):
    """The requested split is impossible (the function reports these as fatal errors)."""


def _interpolate(value: float, inputs: tuple[float, float], outputs: tuple[float, float]) -> float:
    """Linear interpolation, clamped on the right."""
    (x0, x1), (y0, y1) = inputs, outputs
    if value >= x1:
        return y1
    return y0 + (value - x0) * (y1 - y0) / (x1 - x0)


def choose_frames_per_lambda(
    frame_count: int, *, frames_per_lambda: int | None = None, concurrency: int | None = None
) -> int:
    """Frames per renderer: explicit, derived from ``concurrency``, or Remotion's automatic
    choice (at least 20 frames a chunk, about 75-150 chunks for long videos).

    >>> choose_frames_per_lambda(60, concurrency=20), choose_frames_per_lambda(1800)
    (5, 22)
    """
    minimum = min(MINIMUM_FRAMES_PER_LAMBDA, frame_count)
    if frames_per_lambda is not None and concurrency is not None:
        raise ChunkPlanError(
            "Both 'framesPerLambda' and 'concurrency' were set. Please use only one of them."
        )
    if concurrency is not None:
        if not 1 <= concurrency <= MAX_FUNCTIONS_PER_RENDER:
            raise ChunkPlanError(
                f"'concurrency' needs to be between 1 and {MAX_FUNCTIONS_PER_RENDER}, passed "
                f"{concurrency}"
            )
        return max(math.ceil(frame_count / concurrency), minimum)
    if frames_per_lambda is not None:
        if frames_per_lambda < minimum:
            raise ChunkPlanError(
                f"The framesPerLambda needs to be at least {minimum}, but is {frames_per_lambda}"
            )
        return frames_per_lambda
    if frame_count == 0:
        return 0
    target_chunks = _interpolate(frame_count, (0, 18000), (75, 150))
    frames_each = max(frame_count / target_chunks, 20)
    chunk_count = math.ceil(frame_count / frames_each)
    return max(math.ceil(frame_count / chunk_count), minimum)


@dataclass(frozen=True)
class ChunkPlan:
    """A render's chunks: ``chunk_frames(i)`` is the inclusive composition frame range."""

    first_frame: int
    last_frame: int
    every_nth_frame: int
    frame_count: int
    frames_per_lambda: int
    total_chunks: int

    def chunk_frames(self, chunk: int) -> tuple[int, int]:
        """The composition frames ``[start, end]`` chunk ``chunk`` covers."""
        step = self.frames_per_lambda * self.every_nth_frame
        start = chunk * step + self.first_frame
        end = min(self.last_frame, (chunk + 1) * step - 1 + self.first_frame)
        return start, end

    def frames_of(self, chunk: int) -> list[int]:
        """The frames chunk ``chunk`` renders (every n-th frame of its range)."""
        start, end = self.chunk_frames(chunk)
        offset = (start - self.first_frame) % self.every_nth_frame
        first = start + ((self.every_nth_frame - offset) % self.every_nth_frame)
        return list(range(first, end + 1, self.every_nth_frame))


def plan_chunks(
    *,
    frame_range: tuple[int, int],
    every_nth_frame: int = 1,
    frames_per_lambda: int | None = None,
    concurrency: int | None = None,
) -> ChunkPlan:
    """Split ``frame_range`` (inclusive) into chunks the way the launch function does.

    Raises :class:`ChunkPlanError` with Remotion's message for an impossible split
    (including more than 200 functions).
    """
    first, last = frame_range
    count = len(range(first, last + 1, every_nth_frame))
    fpl = choose_frames_per_lambda(
        count, frames_per_lambda=frames_per_lambda, concurrency=concurrency
    )
    total = math.ceil(count / fpl) if fpl else 0
    if total > MAX_FUNCTIONS_PER_RENDER:
        raise ChunkPlanError(
            f"Too many functions: This render would cause {total} functions to spawn. We limit "
            f"this amount to {MAX_FUNCTIONS_PER_RENDER} functions as more would result in "
            f"diminishing returns. Values set: frameCount = {count}, framesPerLambda={fpl}. "
            "See https://remotion.dev/docs/lambda/concurrency#too-many-functions for help."
        )
    return ChunkPlan(first, last, every_nth_frame, count, fpl, total)
