"""Chunk planning as the launch function does it."""

from __future__ import annotations

import pytest

from aioremotion.protocol.chunks import ChunkPlanError, choose_frames_per_lambda, plan_chunks


@pytest.mark.parametrize(("frames", "expected"), [(1, 1), (4, 4), (60, 20), (150, 19),
                                                  (1800, 22), (18000, 120), (100000, 667)])
def test_automatic_frames_per_lambda(frames: int, expected: int) -> None:
    assert choose_frames_per_lambda(frames) == expected


def test_concurrency_and_explicit_values() -> None:
    assert choose_frames_per_lambda(60, concurrency=20) == 5
    assert choose_frames_per_lambda(3, concurrency=20) == 3
    assert choose_frames_per_lambda(60, frames_per_lambda=7) == 7
    with pytest.raises(ChunkPlanError, match="at least 5"):
        choose_frames_per_lambda(60, frames_per_lambda=4)
    with pytest.raises(ChunkPlanError, match="Please use only one of them"):
        choose_frames_per_lambda(60, frames_per_lambda=10, concurrency=2)


def test_chunk_ranges_follow_every_nth_frame_and_the_range_start() -> None:
    plan = plan_chunks(frame_range=(10, 50), every_nth_frame=2, frames_per_lambda=5)
    assert plan.frame_count == 21
    assert plan.total_chunks == 5
    assert plan.chunk_frames(0) == (10, 19)
    assert plan.frames_of(0) == [10, 12, 14, 16, 18]
    assert plan.chunk_frames(4) == (50, 50)
    rendered = [f for chunk in range(plan.total_chunks) for f in plan.frames_of(chunk)]
    assert rendered == list(range(10, 51, 2))


def test_more_than_200_functions_is_refused_with_remotions_message() -> None:
    with pytest.raises(ChunkPlanError, match="Too many functions: This render would cause 201"):
        plan_chunks(frame_range=(0, 1004), frames_per_lambda=5)
