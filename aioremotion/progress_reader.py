"""Reading a render's progress from S3: what ``get_progress``, watchers and the tag search
use, so they never reach into the client.

A :class:`ProgressReader` makes one conditional GET of ``renders/<id>/progress.json``
through a transport (an unchanged file costs a 304 and no body) and computes the
progress exactly as the status Lambda would, HEADing the output when the computation asks
for it. Get the reader of an open client with ``remotion.progress_reader``.

Example::

    reader = remotion.progress_reader
    first = await reader.read(render)                     # ProgressRead
    again = await reader.read(render, if_none_match=first.etag)
    if again.not_modified:
        ...                                               # nothing changed: 304
    progress = await reader.compute(render, first.file)   # RenderProgress
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import AccessDeniedError, ObjectNotFoundError, RenderNotFoundError
from .handles import RenderHandle
from .protocol.naming import progress_key
from .protocol.progress import (
    OutputHead,
    OutputHeadRequest,
    ProgressContext,
    ProgressFile,
    RenderProgress,
    compute_render_progress,
    parse_progress_file,
)
from .transport.base import ForeignS3, Transport

__all__ = ["ProgressRead", "ProgressReader"]


@dataclass(frozen=True)
class ProgressRead:
    """One conditional read of progress.json: ``file`` is ``None`` when unchanged (304)."""

    file: ProgressFile | None
    etag: str | None
    not_modified: bool
    #: The body as read (``None`` on a 304); a watcher keeps it rather than ``file``.
    raw: bytes | None = None


class ProgressReader:
    """Reads progress.json through ``transport``; ``clock`` gives ms since the epoch (the
    ``now`` of the progress computation)."""

    def __init__(self, transport: Transport, *, clock: Callable[[], float]) -> None:
        self.transport = transport
        self.clock = clock

    async def read(self, render: RenderHandle, *,
                   if_none_match: str | None = None) -> ProgressRead:
        """One (conditional) GET of the render's progress.json.

        Raises:
            RenderNotFoundError: the file does not exist (yet).
            ProgressFileError: it exists but is not a JSON object.
            TransientError: S3 or the network failed in a way that may pass.
            AwsError: any other failure (a missing bucket, denied access, ...).
        """
        try:
            read = await self.transport.get_object(render.bucket_name,
                                                   progress_key(render.render_id),
                                                   if_none_match=if_none_match)
        except ObjectNotFoundError as exc:
            raise RenderNotFoundError(render.render_id, render.bucket_name,
                                      self.transport.region) from exc
        if read.body is None:
            return ProgressRead(file=None, etag=read.etag, not_modified=True)
        return ProgressRead(file=parse_progress_file(read.body), etag=read.etag,
                            not_modified=False, raw=read.body)

    async def compute(self, render: RenderHandle, file: ProgressFile, *,
                      now_ms: float | None = None) -> RenderProgress:
        """The render's progress from a progress.json already read, HEADing the output
        when the computation needs to know whether it exists."""
        now = self.clock() if now_ms is None else now_ms
        context = ProgressContext(
            render_id=render.render_id, bucket_name=render.bucket_name, region=render.region,
            function_name=render.function_name, timeout_ms=render.timeout_ms,
            memory_mb=render.memory_mb,
        )
        result = compute_render_progress(file, context, now_ms=now)
        if isinstance(result, OutputHeadRequest):
            head = await self.head_output(result)
            result = compute_render_progress(file, context, now_ms=now, output_head=head)
        assert isinstance(result, RenderProgress)
        return result

    async def progress(self, render: RenderHandle) -> RenderProgress:
        """Read and compute, in one call."""
        read = await self.read(render)
        assert read.file is not None
        return await self.compute(render, read.file)

    async def head_output(self, request: OutputHeadRequest) -> OutputHead | None:
        """HEAD a render's output; ``None`` when it is missing or not readable (404/403),
        which is what the progress computation needs to know."""
        credentials = request.custom_credentials
        store = None if not credentials else ForeignS3(
            endpoint=credentials.get("endpoint"),
            access_key_id=credentials.get("accessKeyId"),
            secret_access_key=credentials.get("secretAccessKey"),
            region=credentials.get("region"),
        )
        try:
            head = await self.transport.head_object(request.bucket_name, request.key,
                                                    store=store)
        except AccessDeniedError:
            return None
        return None if head is None else OutputHead(content_length=head.content_length)
