"""The emulator's "site": compositions that really draw frames, and real encoding with PyAV.

A :class:`Composition` is what Remotion's ``getCompositions`` lists for a deployed site;
here it also carries a ``draw`` function that paints one frame as an RGB Pillow image.
:func:`default_registry` holds the built-in ``HelloWorld`` (1280x720, 30 fps, 150 frames)
and a tiny ``Square`` (160x90, 30 fps, 30 frames) for fast tests.

Rendering mirrors Remotion Lambda's fan-out:

* :func:`encode_chunk` draws frames and encodes each as it is drawn, in a worker thread,
  into one chunk in a format that concatenates without re-encoding (H.264/H.265 in MP4,
  VP8/VP9 in WebM, ProRes in MOV; GIF chunks are GIFs, audio-only codecs get PCM WAV
  chunks), reporting each frame as it goes;
* :func:`combine_chunks` joins chunks into the final container (a remux with timestamp
  offsets where it can, ``+faststart`` MP4 for H.264/H.265);
* :func:`render_still` paints one frame as PNG, JPEG, WebP or PDF with Pillow.

Real rendering needs the ``emulator`` extra (Pillow, and PyAV, whose wheel ships FFmpeg's
libraries with the encoders; no ffmpeg binary and no numpy are used)::

    pip install "aioremotion[emulator]"

Without it this module still imports, and the fast test mode's :func:`synthetic_output` /
:func:`synthetic_still` (tiny deterministic bytes, no encoder) work; the real-rendering
functions raise :class:`MediaDependencyError` naming the extra.

Example::

    registry = default_registry()
    square = registry.get("Square")
    await render_media(square, {}, codec="h264", out_path=Path("out.mp4"), frames_per_chunk=10)
"""

from __future__ import annotations

from .compositions import Composition, CompositionRegistry
from .deps import (
    EncodingError,
    FFmpegError,
    MediaDependencyError,
    encoder_available,
    ffmpeg_available,
)
from .drawing import default_registry, parse_color
from .encoding import (
    chunk_extension,
    combine_chunks,
    encode_chunk,
    output_extension,
    output_size,
    render_media,
)
from .probe import ffprobe_like
from .stills import STILL_FORMATS, render_still
from .synthetic import synthetic_output, synthetic_still

__all__ = [
    "STILL_FORMATS",
    "Composition",
    "CompositionRegistry",
    "EncodingError",
    "FFmpegError",
    "MediaDependencyError",
    "chunk_extension",
    "combine_chunks",
    "default_registry",
    "encode_chunk",
    "encoder_available",
    "ffmpeg_available",
    "ffprobe_like",
    "output_extension",
    "output_size",
    "parse_color",
    "render_media",
    "render_still",
    "synthetic_output",
    "synthetic_still",
]
