"""What a render keeps in S3 besides progress.json, read and written for the client:
its ``cancel.json``, deleting its files, and an image sequence's ``manifest.json``.

:class:`~aioremotion.RemotionLambda` calls these for :meth:`~aioremotion.RemotionLambda.cancel`,
:meth:`~aioremotion.RemotionLambda.delete_render` and
:meth:`~aioremotion.RemotionLambda.read_manifest`; they take the client's transport and
progress reader, so they work the same over AWS, the emulator and a mock transport.

Example::

    freed = await delete_render_files(remotion.transport, remotion.progress_reader, handle)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import InvalidOptionsError, RemotionError
from .handles import RenderHandle
from .progress_reader import ProgressReader
from .protocol.naming import cancel_key, render_prefix
from .protocol.progress import OutputHeadRequest
from .protocol.props import js_json_dumps
from .protocol.sequences import OutputSequence, SequenceManifest
from .transport.base import Transport, list_all_objects

if TYPE_CHECKING:
    from .events import Done

__all__ = ["delete_render_files", "read_manifest", "write_cancel"]


async def write_cancel(transport: Transport, reader: ProgressReader, render: RenderHandle,
                       *, now_ms: float) -> None:
    """Write ``cancel.json`` for a render started with cancellation enabled; raises
    :class:`~aioremotion.errors.RemotionError` (naming the fix) when it was not.

    Example::

        await write_cancel(remotion.transport, remotion.progress_reader, handle,
                           now_ms=remotion.now_ms())
    """
    read = await reader.read(render)
    assert read.file is not None
    if not read.file.cancellation_enabled:
        raise RemotionError(f"Cannot cancel render {render.render_id}: The render was not "
                            "started with enableCancellation: true. Start it with "
                            "render_media(..., enable_cancellation=True) to cancel it.")
    body = js_json_dumps({"cancelledAt": int(now_ms)}).encode()
    await transport.put_object(render.bucket_name, cancel_key(render.render_id), body)


async def delete_render_files(transport: Transport, reader: ProgressReader,
                              render: RenderHandle) -> int:
    """Delete a render's output and every object under ``renders/<id>/``; returns the
    bytes freed (0, and nothing deleted, when the render has no metadata yet).

    Example::

        freed = await delete_render_files(remotion.transport, remotion.progress_reader,
                                          handle)
    """
    read = await reader.read(render)
    metadata = read.file.render_metadata if read.file is not None else None
    if metadata is None:
        return 0
    output = metadata.expected_output(render.render_id, render.bucket_name)
    freed = 0
    if output.custom_credentials is None:
        head = await reader.head_output(OutputHeadRequest(output.bucket_name, output.key))
        freed += (head.content_length or 0) if head is not None else 0
        await transport.delete_objects(output.bucket_name, [output.key])
    # A trailing slash: unlike Remotion's prefix, this never touches a longer render id.
    prefix = render_prefix(render.render_id) + "/"
    while objects := await list_all_objects(transport, render.bucket_name, prefix):
        freed += sum(item.size for item in objects)
        await transport.delete_objects(render.bucket_name, [item.key for item in objects])
    return freed


async def read_manifest(transport: Transport, sequence: Done | OutputSequence
                        ) -> SequenceManifest:
    """The ``manifest.json`` of a finished image sequence (the ``Done`` of a
    ``render_frames`` render, or its ``output_sequence``).

    Example::

        manifest = await read_manifest(remotion.transport, done)
        keys = [frame.key for frame in manifest.frames]
    """
    found = sequence if isinstance(sequence, OutputSequence) else sequence.output_sequence
    if found is None:
        raise InvalidOptionsError(
            [("sequence", "is the Done of a media render, which has no manifest: pass the "
                          "Done of a render_frames render")])
    read = await transport.get_object(found.bucket_name, found.manifest_key)
    return SequenceManifest.model_validate_json(read.body or b"{}")
