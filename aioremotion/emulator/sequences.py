"""Image sequence renders of the emulated functions (``renderFramesOnLambda``, Remotion
4.0.535+; docs/PROTOCOL.md section 4.4).

Each renderer draws its chunk's frames with the composition's ``draw`` and uploads each
as PNG or JPEG to its key (:func:`aioremotion.protocol.sequences.frame_key`), counting it
in ``framesUploaded`` as it lands; once every chunk is in, the launch writes
``manifest.json`` and reports the sequence in ``outputSequence`` and ``postRenderData``.
Which payloads take this path is decided by :func:`sequence_of`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..protocol.sequences import (
    DEFAULT_IMAGE_SEQUENCE_PATTERN,
    frame_key,
    frame_padding,
    manifest_key,
    sequence_location,
)
from ..protocol.versions import IMAGE_SEQUENCES_SINCE, parse_version

if TYPE_CHECKING:
    from .functions import RemotionFunctions
    from .media import Composition

__all__ = ["SequenceJob", "old_function_codec_error", "sequence_of"]


def sequence_of(params: dict[str, Any], *, version: str, render_id: str, bucket: str,
                frame_range: tuple[int, int]) -> SequenceJob | None:
    """The sequence a ``start`` payload asks for, or ``None`` for a media render.

    A function older than 4.0.535 does not know ``output`` and ignores it, as a real one
    does: it then renders media with ``codec: null`` (see :func:`old_function_codec_error`).
    """
    output = params.get("output")
    if parse_version(version) < parse_version(IMAGE_SEQUENCES_SINCE):
        return None
    if not isinstance(output, dict) or output.get("type") != "sequence":
        return None
    out_bucket, prefix = sequence_location(output.get("outputPrefix"), render_id=render_id,
                                           render_bucket=bucket)
    image_format = params.get("imageFormat") or "png"
    return SequenceJob(
        bucket=out_bucket, key_prefix=prefix,
        pattern=output.get("imageSequencePattern") or DEFAULT_IMAGE_SEQUENCE_PATTERN,
        padding=frame_padding(frame_range[1]), image_format=image_format,
        jpeg_quality=int(params.get("jpegQuality") or 80), render_id=render_id,
        frame_range=frame_range, every_nth_frame=int(params.get("everyNthFrame") or 1),
    )


def old_function_codec_error(codec: Any) -> str | None:
    """What a function's codec check says of ``codec`` (``None``: it passes).

    An image sequence payload sent to a function older than 4.0.535 reaches this check
    with ``codec: null``, and the render fails here. The wording is UNCONFIRMED
    (docs/PROTOCOL.md section 4.4); the failure itself is what Remotion's launch does with
    a codec it does not know."""
    if codec is None:
        return ("Codec must be one of the following: h264, h265, vp8, vp9, mp3, aac, wav, "
                "prores, h264-mkv, h264-ts, gif, but got null (renderMediaOnLambda: codec)")
    return None


@dataclass
class SequenceJob:
    """One image sequence: where its frames go and what has been uploaded so far."""

    bucket: str
    key_prefix: str
    pattern: str
    padding: int
    image_format: str
    jpeg_quality: int
    render_id: str
    frame_range: tuple[int, int]
    every_nth_frame: int
    uploaded: dict[int, int] = field(default_factory=dict)  # frame -> bytes

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.key_prefix)

    @property
    def size(self) -> int:
        """Bytes of every frame uploaded."""
        return sum(self.uploaded.values())

    def key_of(self, frame: int) -> str:
        return frame_key(frame=frame, key_prefix=self.key_prefix, pattern=self.pattern,
                         image_format=self.image_format, padding=self.padding)

    async def upload_frame(self, functions: RemotionFunctions, composition: Composition,
                           props: dict[str, Any], frame: int, *, scale: float,
                           params: dict[str, Any]) -> None:
        """Draw ``frame``, encode it and upload it to its key (a frame uploaded again, by a
        retried chunk, is counted once)."""
        from .media import render_still

        body = await render_still(composition, props, frame, image_format=self.image_format,
                                  scale=scale, jpeg_quality=self.jpeg_quality)
        await functions.upload_output(self.bucket, self.key_of(frame), body, params)
        self.uploaded[frame] = len(body)

    def sized(self, composition: Composition, params: dict[str, Any]) -> Composition:
        """``composition`` with the payload's ``forceWidth``/``forceHeight`` applied."""
        width = int(params.get("forceWidth") or composition.width)
        height = int(params.get("forceHeight") or composition.height)
        if (width, height) == (composition.width, composition.height):
            return composition
        return dataclasses.replace(composition, width=width, height=height)

    def manifest(self, *, width: int, height: int, fps: float) -> dict[str, Any]:
        """``manifest.json``: the render, its size and every frame's key, in frame order."""
        return {
            "renderId": self.render_id,
            "imageFormat": self.image_format,
            "width": width,
            "height": height,
            "fps": fps,
            "frameRange": list(self.frame_range),
            "everyNthFrame": self.every_nth_frame,
            "frames": [{"frame": f, "key": self.key_of(f)} for f in sorted(self.uploaded)],
        }

    def output_sequence(self, manifest_url: str) -> dict[str, Any]:
        """progress.json's ``outputSequence`` once the manifest is written."""
        return {
            "bucketName": self.bucket,
            "keyPrefix": self.key_prefix,
            "manifestKey": self.manifest_key,
            "manifestUrl": manifest_url,
            "imageFormat": self.image_format,
            "frameCount": len(self.uploaded),
        }

    async def write_manifest(self, functions: RemotionFunctions, params: dict[str, Any], *,
                             width: int, height: int, fps: float) -> dict[str, Any]:
        """Upload the manifest; returns ``outputSequence``."""
        body = json.dumps(self.manifest(width=width, height=height, fps=fps)).encode()
        await functions.upload_output(self.bucket, self.manifest_key, body, params)
        return self.output_sequence(functions.output_url(self.bucket, self.manifest_key))
