"""Decoding a rendered file fully with PyAV and reporting what is in it (for tests and
checks): :func:`ffprobe_like`.
"""

from __future__ import annotations

import os
from typing import Any

from .deps import require_extra

__all__ = ["ffprobe_like"]


def ffprobe_like(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Decode every stream of ``path`` with PyAV and report what it found.

    Returns ``format`` (demuxer names), ``duration`` (container, s), ``video_codec``,
    ``width``, ``height``, ``fps``, ``pix_fmt``, ``audio_codec`` (``None`` where absent),
    ``frames`` (video frames decoded), ``decoded_seconds`` (the end of the last frame or
    samples decoded), ``errors`` (error messages of FFmpeg's libraries, and the exception
    that stopped decoding, if any) and ``returncode`` (0, or 1 if decoding stopped on an
    error).  Blocking: meant for tests.

    Example::

        info = ffprobe_like("out.mp4")
        assert info["video_codec"] == "h264" and info["frames"] == 150 and not info["errors"]
    """
    require_extra("av")
    import av
    import av.logging

    info: dict[str, Any] = dict.fromkeys(
        ("format", "duration", "video_codec", "width", "height", "fps", "pix_fmt",
         "audio_codec", "frames", "decoded_seconds"))  # fmt: skip
    errors: list[str] = []
    failed = False
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture(local=False) as logs:
            try:
                _decode(os.fspath(path), info)
            except (av.error.FFmpegError, OSError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                failed = True
    finally:
        av.logging.set_level(previous)
    errors[:0] = [f"[{name}] {message.strip()}" for level, name, message in logs
                  if level <= av.logging.ERROR]  # fmt: skip
    info["errors"] = errors
    info["returncode"] = 1 if failed else 0
    return info


def _decode(path: str, info: dict[str, Any]) -> None:
    import av

    with av.open(path) as container:
        info["format"] = container.format.name
        if container.duration is not None:
            info["duration"] = container.duration / av.time_base
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is not None:
            ctx = video.codec_context
            info["video_codec"] = ctx.codec.canonical_name
            info["width"], info["height"] = ctx.width, ctx.height
            rate = video.average_rate or video.guessed_rate
            info["fps"] = float(rate) if rate else None
            info["pix_fmt"] = ctx.format.name if ctx.format is not None else None
            info["frames"] = 0
        if audio is not None:
            info["audio_codec"] = audio.codec_context.codec.canonical_name
        end = 0.0
        seen = False
        streams = [s for s in (video, audio) if s is not None]
        for frame in container.decode(*streams):
            seen = True
            start = float(frame.time or 0.0)
            if isinstance(frame, av.AudioFrame):
                end = max(end, start + frame.samples / frame.sample_rate)
                continue
            info["frames"] += 1
            if frame.duration and frame.time_base is not None:
                step = float(frame.duration * frame.time_base)
            else:
                step = 1 / info["fps"] if info["fps"] else 0.0
            end = max(end, start + step)
        info["decoded_seconds"] = end if seen else None
