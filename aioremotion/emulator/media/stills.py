"""Stills: one frame drawn and saved as PNG, JPEG, WebP or PDF with Pillow.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from .compositions import Composition
from .deps import require_extra
from .encoding import output_size

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "STILL_FORMATS",
    "normalise_still_format",
    "render_still",
]

#: Still image formats :func:`render_still` writes.
STILL_FORMATS: Final[tuple[str, ...]] = ("png", "jpeg", "webp", "pdf")


# -- stills ------------------------------------------------------------------------------------


def normalise_still_format(image_format: str) -> str:
    """The still format Pillow writes for ``image_format`` (``jpg`` is ``jpeg``).

    Example:
        >>> normalise_still_format("JPG")
        'jpeg'
    """
    fmt = {"jpg": "jpeg"}.get(image_format.lower(), image_format.lower())
    if fmt not in STILL_FORMATS:
        allowed = ", ".join(STILL_FORMATS)
        raise ValueError(f"image format must be one of {allowed}; got {image_format!r}")
    return fmt


def _encode_image(img: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, "PNG", compress_level=1)
    elif fmt == "jpeg":
        img.save(buf, "JPEG", quality=quality)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=quality)
    else:
        img.save(buf, "PDF", resolution=72.0)
    return buf.getvalue()


async def render_still(
    comp: Composition,
    props: Mapping[str, Any] | None,
    frame: int,
    *,
    image_format: str,
    scale: float = 1,
    jpeg_quality: int = 80,
) -> bytes:
    """Draw ``frame`` of ``comp`` and return it as PNG, JPEG, WebP or PDF bytes.

    Drawing and encoding run in a worker thread.  ``jpeg_quality`` (0-100) also sets the
    WebP quality.

    Example::

        png = await render_still(default_registry().get("HelloWorld"), {"title": "Hi"}, 30,
                                 image_format="png")
    """
    fmt = normalise_still_format(image_format)
    if not 0 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be 0..100; got {jpeg_quality!r}")
    require_extra("Pillow")
    size = output_size(comp, scale)

    def work() -> bytes:
        return _encode_image(comp.render_frame(frame, props, size=size), fmt, jpeg_quality)

    return await asyncio.to_thread(work)

