"""Image sequences (``renderFramesOnLambda``, Remotion 4.0.535+): where the frames land and
what the function reports about them (docs/PROTOCOL.md section 4.4).

A sequence render uploads one image per frame under a key prefix and, when every frame is
in, a ``manifest.json`` next to them listing each frame's key. Progress then carries an
``outputSequence`` saying where all of it is. The rules that name the keys live here, once:
the emulator writes by them and the client reads by them.

Example:
    >>> frame_key(frame=7, key_prefix="renders/k1a2b3c4d5/frames/",
    ...           pattern=DEFAULT_IMAGE_SEQUENCE_PATTERN, image_format="png", padding=3)
    'renders/k1a2b3c4d5/frames/element-007.png'
    >>> frame_padding(last_frame=299)
    3
    >>> sequence_location(None, render_id="k1a2b3c4d5", render_bucket="remotionlambda-x")
    ('remotionlambda-x', 'renders/k1a2b3c4d5/frames/')
    >>> sequence_location("exports/my-sequence", render_id="r", render_bucket="b")
    ('b', 'exports/my-sequence/')
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "DEFAULT_IMAGE_SEQUENCE_PATTERN",
    "MANIFEST_FILE_NAME",
    "ManifestFrame",
    "OutputSequence",
    "SequenceFormat",
    "SequenceManifest",
    "default_key_prefix",
    "frame_key",
    "frame_padding",
    "manifest_key",
    "sequence_location",
    "with_trailing_slash",
]


#: The image formats of a sequence.
SequenceFormat = Literal["png", "jpeg"]

#: How frames are named when ``imageSequencePattern`` is not given. UNCONFIRMED
#: (docs/PROTOCOL.md section 4.4): Remotion's renderer names frames ``element-<frame>``
#: and its Lambda docs use this very pattern in their example.
DEFAULT_IMAGE_SEQUENCE_PATTERN: Final = "element-[frame].[ext]"

#: The manifest's file name, under the sequence's key prefix (Remotion's docs:
#: "the storage prefix for the images and manifest.json").
MANIFEST_FILE_NAME: Final = "manifest.json"


def with_trailing_slash(prefix: str) -> str:
    """``prefix`` ending in ``/`` (Remotion adds one when it is missing)."""
    return prefix if prefix.endswith("/") else f"{prefix}/"


def default_key_prefix(render_id: str) -> str:
    """Where a render's frames go when no ``outputPrefix`` is given (its render bucket)."""
    return f"renders/{render_id}/frames/"


def sequence_location(output_prefix: str | dict[str, Any] | None, *, render_id: str,
                      render_bucket: str) -> tuple[str, str]:
    """``(bucket, key_prefix)`` of a sequence, from the payload's ``outputPrefix``: a
    string is a prefix in the render bucket, ``{bucketName, keyPrefix}`` names another
    bucket, ``None`` is :func:`default_key_prefix`."""
    if output_prefix is None:
        return render_bucket, default_key_prefix(render_id)
    if isinstance(output_prefix, str):
        return render_bucket, with_trailing_slash(output_prefix)
    return str(output_prefix["bucketName"]), with_trailing_slash(str(output_prefix["keyPrefix"]))


def manifest_key(key_prefix: str) -> str:
    """The manifest's key under ``key_prefix``."""
    return f"{key_prefix}{MANIFEST_FILE_NAME}"


def frame_padding(last_frame: int) -> int:
    """How many digits frame numbers are padded to: those of the render's last frame.

    UNCONFIRMED for Lambda (docs/PROTOCOL.md section 4.4): this is the rule Remotion's
    renderer applies when it names frames by their actual number."""
    return len(str(last_frame))


def frame_key(*, frame: int, key_prefix: str, pattern: str, image_format: str,
              padding: int) -> str:
    """A frame's key: ``key_prefix`` + ``pattern`` with every ``[frame]`` replaced by the
    zero-padded frame number and every ``[ext]`` by the image format."""
    name = pattern.replace("[frame]", str(frame).zfill(padding)).replace("[ext]", image_format)
    return f"{key_prefix}{name}"


class _Wire(BaseModel):
    """camelCase on the wire; unknown keys kept (a newer Remotion may add some)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow",
                              serialize_by_alias=True)


class OutputSequence(_Wire):
    """Where a finished image sequence is (progress' ``outputSequence``).

    Example:
        >>> seq = OutputSequence.model_validate({
        ...     "bucketName": "b", "keyPrefix": "renders/r/frames/",
        ...     "manifestKey": "renders/r/frames/manifest.json",
        ...     "manifestUrl": "https://b.s3.us-east-1.amazonaws.com/renders/r/frames/manifest.json",
        ...     "imageFormat": "png", "frameCount": 30})
        >>> seq.frame_count, seq.manifest_key
        (30, 'renders/r/frames/manifest.json')
    """

    bucket_name: str
    key_prefix: str
    manifest_key: str
    manifest_url: str
    image_format: SequenceFormat
    frame_count: int


class ManifestFrame(_Wire):
    """One frame of a manifest: its number and its key."""

    frame: int
    key: str


class SequenceManifest(_Wire):
    """``manifest.json`` of an image sequence.

    Example:
        >>> m = SequenceManifest.model_validate({
        ...     "renderId": "r", "imageFormat": "jpeg", "width": 160, "height": 90, "fps": 30,
        ...     "frameRange": [0, 1], "everyNthFrame": 1,
        ...     "frames": [{"frame": 0, "key": "f/element-0.jpeg"},
        ...                {"frame": 1, "key": "f/element-1.jpeg"}]})
        >>> [f.key for f in m.frames]
        ['f/element-0.jpeg', 'f/element-1.jpeg']
    """

    render_id: str
    image_format: SequenceFormat
    width: int
    height: int
    fps: float
    frame_range: tuple[int, int]
    every_nth_frame: int = 1
    frames: list[ManifestFrame] = Field(default_factory=list)
