"""Finding a render whose start call lost its answer, by the tag its start carried.

A start that reached the function but whose answer never came back (a reset connection,
a read timeout, a process killed inside the call) leaves a render running that nobody
knows the id of. :class:`~aioremotion.Batch` and ``aioremotion batch`` therefore put a
tag into every render's ``metadata`` (key :data:`JOB_TAG`) before sending the start, and
look for it when the outcome is unknown, instead of sending the start again.

A tag is ``<job id>.<random>``: the random part tells one start from another; the job id
(stable for a job across runs of ``aioremotion batch``) lets a search find every start of
a job when the record of its tag was lost.

Example::

    from aioremotion.recovery import find_tagged_renders

    found = await find_tagged_renders(remotion, {"3f2a9c.1b2c3d4e5f60"},
                                      buckets={"remotionlambda-useast1-abcdefghij"},
                                      since_s=time.time() - 600)
    handle = found.get("3f2a9c.1b2c3d4e5f60")  # a RenderHandle, or None
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from typing import TYPE_CHECKING

import anyio

from .handles import RenderHandle
from .protocol.options import RenderMediaOptions
from .transport.base import list_all_objects

if TYPE_CHECKING:
    from .client import RemotionLambda

__all__ = ["JOB_TAG", "find_tagged_renders", "new_tag", "tag_options"]

#: The key of the render metadata entry that carries a start's tag.
JOB_TAG = "aioremotion-job"
#: A search lists progress.json files changed since the start less this much (clock skew).
CLOCK_SKEW_S = 60.0


def new_tag(job_id: str | None = None) -> str:
    """A fresh tag for one start: ``<job id>.<random>`` (a random job id if none).

    Example:
        >>> tag = new_tag("line-3")
        >>> tag.startswith("line-3.") and len(tag) == len("line-3.") + 12
        True
    """
    return f"{job_id or secrets.token_hex(6)}.{secrets.token_hex(6)}"


def tag_options(options: RenderMediaOptions, tag: str) -> RenderMediaOptions:
    """The options with ``tag`` added to the render's metadata (the rest unchanged).

    Example:
        >>> options = RenderMediaOptions(serve_url="s", composition="c", codec="h264")
        >>> tag_options(options, "j.1").metadata
        {'aioremotion-job': 'j.1'}
    """
    return options.model_copy(update={"metadata": {**(options.metadata or {}), JOB_TAG: tag}})


def _wanted(tag: str, tags: Collection[str], job_ids: Collection[str]) -> str | None:
    """Which wanted tag or job id (``<id>.`` prefix) ``tag`` answers, if any."""
    if tag in tags:
        return tag
    job_id = tag.rpartition(".")[0]
    return job_id if job_id in job_ids else None


async def find_tagged_renders(
    client: RemotionLambda,
    tags: Collection[str],
    *,
    buckets: Collection[str],
    since_s: float | None,
    job_ids: Collection[str] = (),
) -> dict[str, RenderHandle]:
    """The renders in ``buckets`` whose metadata carries one of ``tags``, or a tag of one
    of ``job_ids``; keyed by the tag or job id they answer.

    It lists ``renders/*/progress.json`` changed since ``since_s`` (epoch seconds, less a
    minute of clock skew; ``None``: all) and reads their metadata. A render still without
    metadata (its composition not yet validated) is not found yet; search again later.
    """
    since = since_s - CLOCK_SKEW_S if since_s is not None else None
    candidates: list[tuple[str, str]] = []
    for bucket in sorted(buckets):
        for item in await list_all_objects(client.transport, bucket, "renders/"):
            parts = item.key.split("/")
            if len(parts) != 3 or parts[2] != "progress.json":
                continue
            if since is not None and item.last_modified.timestamp() < since:
                continue
            candidates.append((bucket, parts[1]))
    found: dict[str, RenderHandle] = {}
    limiter = anyio.CapacityLimiter(16)
    reader = client.progress_reader

    async def check(bucket: str, render_id: str) -> None:
        render = RenderHandle(render_id=render_id, bucket_name=bucket, region=client.region,
                              function_name=client.function_name)
        async with limiter:
            try:
                read = await reader.read(render)
            except Exception:  # gone, or unreadable: not this search's to judge
                return
        meta = read.file.render_metadata if read.file is not None else None
        tag = (meta.metadata or {}).get(JOB_TAG) if meta is not None else None
        wanted = _wanted(tag, tags, job_ids) if isinstance(tag, str) else None
        if wanted is not None:
            found[wanted] = render.model_copy(update={
                "cancellation_enabled": bool(read.file and read.file.cancellation_enabled)})

    async with anyio.create_task_group() as tg:
        for bucket, render_id in candidates:
            tg.start_soon(check, bucket, render_id)
    return found
