"""Real encoding with PyAV (FFmpeg's libraries, in-process), as Remotion Lambda fans out:
:func:`encode_chunk` draws frames and encodes them into one chunk in a format that
concatenates without re-encoding, :func:`combine_chunks` joins chunks into the final
container, and :func:`render_media` does both for a whole composition.

The blocking work runs in worker threads (:mod:`.transcode`); cancelling the task stops it
after the frame in hand and removes the partial file.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from ...protocol.constants import AUDIO_ONLY_CODECS, CODECS, FILE_EXTENSIONS
from .audio import AUDIO_RATE, wav_header, write_wav
from .compositions import Composition
from .deps import remove_file, require_extra, run_in_worker
from .transcode import (
    AUDIO_ENCODERS,
    AudioTrack,
    VideoSettings,
    combine_gif,
    encode_audio,
    encode_video,
    remux_video,
)

__all__ = [
    "chunk_extension",
    "combine_chunks",
    "encode_chunk",
    "output_extension",
    "output_size",
    "render_media",
    "wav_header",
]

#: Codecs whose output is 4:2:0 and so needs even dimensions.
_EVEN_CODECS: Final = frozenset({"h264", "h265", "vp8", "vp9"})

#: Muxer per file extension.
_MUXERS: Final[dict[str, str]] = {
    "mp4": "mp4",
    "mkv": "matroska",
    "webm": "webm",
    "mov": "mov",
    "gif": "gif",
    "mp3": "mp3",
    "aac": "adts",
    "wav": "wav",
}

_CHUNK_EXTENSIONS: Final[dict[str, str]] = {
    "h264": "mp4",
    "h265": "mp4",
    "vp8": "webm",
    "vp9": "webm",
    "prores": "mov",
    "gif": "gif",
    "mp3": "wav",
    "aac": "wav",
    "wav": "wav",
}


# -- codecs and sizes --------------------------------------------------------------------------


def _check_codec(codec: str) -> None:
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {', '.join(CODECS)}; got {codec!r}")


def output_extension(codec: str, audio_codec: str | None = None) -> str:
    """File extension of the final output, as Remotion picks it.

    Example:
        >>> output_extension("h264"), output_extension("h264", "pcm-16"), output_extension("vp9")
        ('mp4', 'mkv', 'webm')
    """
    _check_codec(codec)
    by_audio = FILE_EXTENSIONS[codec]
    if audio_codec not in by_audio:
        allowed = ", ".join(str(a) for a in by_audio if a is not None) or "none"
        raise ValueError(
            f"audio codec {audio_codec!r} is not allowed with codec {codec!r} (allowed: {allowed})"
        )
    return by_audio[audio_codec]


def chunk_extension(codec: str) -> str:
    """File extension of the chunks :func:`encode_chunk` writes for ``codec``.

    Example:
        >>> chunk_extension("h264"), chunk_extension("vp9"), chunk_extension("mp3")
        ('mp4', 'webm', 'wav')
    """
    _check_codec(codec)
    return _CHUNK_EXTENSIONS[codec]


def output_size(comp: Composition, scale: float = 1, codec: str | None = None) -> tuple[int, int]:
    """``(width, height)`` rendered for ``scale``; rounded down to even for 4:2:0 codecs.

    Example:
        >>> from aioremotion.emulator.media import Composition, default_registry
        >>> output_size(default_registry().get("HelloWorld"), 0.5)
        (640, 360)
        >>> output_size(Composition("Odd", 101, 51, 30, 1), 1, "h264")
        (100, 50)
    """
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number; got {scale!r}")
    w = max(1, round(comp.width * scale))
    h = max(1, round(comp.height * scale))
    if codec in _EVEN_CODECS:
        w, h = max(2, w - w % 2), max(2, h - h % 2)
    return w, h


def _check_frames(comp: Composition, frames: Sequence[int]) -> None:
    if not frames:
        raise ValueError("frames must not be empty")
    bad = [f for f in frames if not 0 <= f < comp.duration_in_frames]
    if bad:
        raise ValueError(
            f"frames {bad[:5]} are outside composition {comp.id!r} "
            f"(0..{comp.duration_in_frames - 1})"
        )


async def encode_chunk(
    comp: Composition,
    props: Mapping[str, Any] | None,
    frames: Sequence[int],
    *,
    codec: str,
    out_path: Path,
    scale: float = 1,
    fps: float | None = None,
    crf: int | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> Path:
    """Render ``frames`` of ``comp`` and encode them as one chunk at ``out_path``.

    The chunk format concatenates without re-encoding (see :func:`chunk_extension`):
    H.264/H.265 in MP4, VP8/VP9 in WebM, ProRes in MOV, GIF as GIF; audio-only codecs
    (mp3, aac, wav) write a PCM WAV chunk of the frames' duration with a synthetic tone.
    Video chunks have no B-frames and start on a keyframe, so chunks of any length (even
    one frame) join exactly.  Each frame is drawn and encoded in turn, in a worker thread;
    ``on_frame(n)`` is called on the event loop after the ``n``-th frame was drawn and
    handed to the encoder (once, with ``len(frames)``, for an audio-only chunk), so
    progress follows the real work.  Cancelling the task stops the encoder after the frame
    in hand and removes the partial file.  Returns ``out_path``.

    Example::

        square = default_registry().get("Square")
        done = []
        await encode_chunk(square, {}, range(0, 10), codec="h264", out_path=Path("c0.mp4"),
                           on_frame=done.append)
        # done == [1, 2, ..., 10]
    """
    _check_codec(codec)
    _check_frames(comp, frames)
    rate = comp.fps if fps is None else fps
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"fps must be a positive number; got {fps!r}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    if codec in AUDIO_ONLY_CODECS:
        start = round(frames[0] * AUDIO_RATE / rate)
        end = start + round(len(frames) * AUDIO_RATE / rate)
        try:
            await asyncio.to_thread(write_wav, out_path, start, end)
        except BaseException:
            remove_file(out_path)
            raise
        if on_frame is not None:
            on_frame(len(frames))
        return out_path

    require_extra()
    merged = comp.merge_props(props)
    width, height = output_size(comp, scale, codec)
    settings = VideoSettings(codec, width, height, Fraction(rate).limit_denominator(1001), crf)
    loop = asyncio.get_running_loop()

    def report(n: int) -> None:
        if on_frame is not None:
            loop.call_soon_threadsafe(on_frame, n)

    def draw(index: int) -> Any:
        return comp.render_frame(frames[index], merged, size=(width, height))

    try:
        await run_in_worker(lambda stop: encode_video(
            out_path, _MUXERS[_CHUNK_EXTENSIONS[codec]], settings, draw, len(frames), stop,
            report))  # fmt: skip
    except BaseException:
        remove_file(out_path)
        raise
    return out_path


async def combine_chunks(
    chunk_paths: Sequence[Path],
    out_path: Path,
    *,
    codec: str,
    audio_codec: str | None = None,
) -> Path:
    """Join chunks from :func:`encode_chunk` into the final file at ``out_path``.

    The container follows Remotion (:func:`output_extension`): H.264/H.265 packets are
    copied into a ``+faststart`` MP4 (``hvc1``-tagged for H.265), VP8/VP9 into WebM, ProRes
    into MOV, each chunk's timestamps offset to follow the previous chunk (a remux: no
    re-encoding, so this is quick next to rendering); GIF chunks are re-quantised into one
    GIF; audio-only codecs encode the WAV chunks as MP3, ADTS AAC or WAV.  With
    ``audio_codec`` set for a video codec a silent track of that codec is added (PCM goes
    to MKV, as in Remotion).  Runs in a worker thread; returns ``out_path``.

    Example::

        await combine_chunks([Path("c0.mp4"), Path("c1.mp4")], Path("out.mp4"), codec="h264")
    """
    ext = output_extension(codec, audio_codec)
    if not chunk_paths:
        raise ValueError("chunk_paths must not be empty")
    paths = [Path(p) for p in chunk_paths]
    missing = await asyncio.to_thread(lambda: [str(p) for p in paths if not p.is_file()])
    if missing:
        raise FileNotFoundError(f"chunk files not found: {', '.join(missing[:5])}")
    require_extra("av")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    muxer = _MUXERS[ext]

    def work(stop: Any) -> None:
        if codec in AUDIO_ONLY_CODECS:
            encode_audio(paths, out_path, muxer=muxer, stop=stop,
                         audio_codec=audio_codec or {"wav": "pcm-16"}.get(codec, codec))
        elif codec == "gif":
            combine_gif(paths, out_path, stop)
        else:
            audio = AudioTrack(*AUDIO_ENCODERS[audio_codec]) if audio_codec else None
            remux_video(paths, out_path, muxer=muxer, codec=codec, audio=audio, stop=stop,
                        faststart=ext in ("mp4", "mov"))

    try:
        await run_in_worker(work)
    except BaseException:
        remove_file(out_path)
        raise
    return out_path


async def render_media(
    comp: Composition,
    props: Mapping[str, Any] | None,
    *,
    codec: str,
    out_path: Path,
    frames_per_chunk: int | None = None,
    concurrency: int = 2,
    scale: float = 1,
    crf: int | None = None,
    audio_codec: str | None = None,
) -> Path:
    """Render all of ``comp`` in chunks (at most ``concurrency`` at once) and combine them.

    Example::

        await render_media(default_registry().get("Square"), {}, codec="h264",
                           out_path=Path("square.mp4"), frames_per_chunk=10)
    """
    total = comp.duration_in_frames
    per = frames_per_chunk or total
    if per < 1 or concurrency < 1:
        raise ValueError("frames_per_chunk and concurrency must be >= 1")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    limit = asyncio.Semaphore(concurrency)
    with tempfile.TemporaryDirectory(prefix=".chunks-", dir=out_path.parent) as tmp:
        ext = chunk_extension(codec)
        ranges = [range(start, min(start + per, total)) for start in range(0, total, per)]
        paths = [Path(tmp) / f"chunk-{i:05d}.{ext}" for i in range(len(ranges))]

        async def one(frames: range, path: Path) -> None:
            async with limit:
                await encode_chunk(comp, props, frames, codec=codec, out_path=path,
                                   scale=scale, crf=crf)  # fmt: skip

        tasks = [asyncio.ensure_future(one(r, p)) for r, p in zip(ranges, paths, strict=True)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return await combine_chunks(paths, out_path, codec=codec, audio_codec=audio_codec)


