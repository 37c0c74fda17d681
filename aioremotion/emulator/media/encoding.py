"""Real encoding with ffmpeg, as Remotion Lambda fans out: :func:`encode_chunk` pipes raw
RGB frames into ffmpeg and writes one chunk in a format that concatenates without
re-encoding, :func:`combine_chunks` joins chunks into the final container, and
:func:`render_media` does both for a whole composition.
"""

from __future__ import annotations

import asyncio
import math
import os
import struct
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from ...protocol.constants import AUDIO_ONLY_CODECS, CODECS, FILE_EXTENSIONS
from .compositions import Composition
from .ffmpeg import remove_file, require_extra, run_ffmpeg

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

#: Sample rate and channel count of the emulator's synthetic audio.
_AUDIO_RATE: Final = 48_000
_AUDIO_CHANNELS: Final = 2

#: ffmpeg muxer per output extension.
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

#: ffmpeg encoder per Remotion audio codec.
_AUDIO_ENCODERS: Final[dict[str, list[str]]] = {
    "pcm-16": ["-c:a", "pcm_s16le"],
    "aac": ["-c:a", "aac", "-b:a", "192k"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
    "opus": ["-c:a", "libopus", "-b:a", "128k"],
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

_CHUNK_MUXERS: Final[dict[str, str]] = {
    "mp4": "mp4",
    "webm": "webm",
    "mov": "mov",
    "gif": "gif",
    "wav": "wav",
}

#: Remotion's default CRF per codec.
_DEFAULT_CRF: Final[dict[str, int]] = {"h264": 18, "h265": 23, "vp8": 9, "vp9": 28}

# bt709 tagging, so browsers and players show the colours the frames were drawn with.
_BT709: Final = [
    "-vf", "scale=out_color_matrix=bt709:out_range=tv",
    "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
]  # fmt: skip



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


def _rate(fps: float) -> str:
    r = Fraction(fps).limit_denominator(1001)
    return f"{r.numerator}/{r.denominator}"


def _video_encoder_args(codec: str, crf: int | None) -> list[str]:
    q = str(crf if crf is not None else _DEFAULT_CRF.get(codec, 0))
    if codec == "h264":
        return ["-c:v", "libx264", "-preset", "ultrafast", "-crf", q, "-pix_fmt", "yuv420p",
                *_BT709]  # fmt: skip
    if codec == "h265":
        return ["-c:v", "libx265", "-preset", "ultrafast", "-crf", q, "-pix_fmt", "yuv420p",
                "-x265-params", "log-level=error:bframes=0", *_BT709]  # fmt: skip
    if codec == "vp8":
        return ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-crf", q,
                "-b:v", "8M", "-auto-alt-ref", "0", "-pix_fmt", "yuv420p", *_BT709]  # fmt: skip
    if codec == "vp9":
        return ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1",
                "-crf", q, "-b:v", "0", "-pix_fmt", "yuv420p", *_BT709]  # fmt: skip
    if codec == "prores":  # Remotion's default profile, "hq"; prores_aw is ~4x faster than _ks
        return ["-c:v", "prores_aw", "-profile:v", "3", "-vendor", "apl0",
                "-pix_fmt", "yuv422p10le"]  # fmt: skip
    if codec == "gif":
        return ["-filter_complex", "split[a][b];[a]palettegen=stats_mode=diff[p];"
                "[b][p]paletteuse=dither=bayer", "-loop", "0"]  # fmt: skip
    raise ValueError(f"codec {codec!r} has no video encoder")  # pragma: no cover




def _check_frames(comp: Composition, frames: Sequence[int]) -> None:
    if not frames:
        raise ValueError("frames must not be empty")
    bad = [f for f in frames if not 0 <= f < comp.duration_in_frames]
    if bad:
        raise ValueError(
            f"frames {bad[:5]} are outside composition {comp.id!r} "
            f"(0..{comp.duration_in_frames - 1})"
        )


def _tone(start_sample: int, end_sample: int) -> bytes:
    """Interleaved s16le stereo: a 440 Hz beep for the first 0.2 s of every second, else
    silence.  Sample positions are absolute, so chunks join without clicks."""
    import numpy as np

    n = np.arange(start_sample, end_sample, dtype=np.int64)
    t = n / _AUDIO_RATE
    beep = (n % _AUDIO_RATE) < _AUDIO_RATE // 5
    mono = np.where(beep, 0.2 * np.sin(2 * np.pi * 440.0 * t), 0.0)
    pcm = np.rint(mono * 32767).astype("<i2")
    return np.repeat(pcm, _AUDIO_CHANNELS).tobytes()


def wav_header(data_len: int, rate: int = _AUDIO_RATE, channels: int = _AUDIO_CHANNELS) -> bytes:
    block = channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 16)
    return (
        b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", data_len)
    )  # fmt: skip


def _write_wav(path: Path, start_sample: int, end_sample: int) -> None:
    pcm = _tone(start_sample, end_sample)
    path.write_bytes(wav_header(len(pcm)) + pcm)


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
) -> Path:
    """Render ``frames`` of ``comp`` and encode them as one chunk at ``out_path``.

    The chunk format concatenates without re-encoding (see :func:`chunk_extension`):
    H.264/H.265 in MP4, VP8/VP9 in WebM, ProRes in MOV, GIF as GIF; audio-only codecs
    (mp3, aac, wav) write a PCM WAV chunk of the frames' duration with a synthetic tone.
    Video chunks have no B-frames and start on a keyframe, and their containers record the
    last frame's duration, so chunks of any length (even one frame) join exactly; MPEG-TS
    does not record it, and ffmpeg mis-probes a TS chunk of one or two small frames.
    Frames are streamed as raw RGB to an ffmpeg subprocess; cancelling the task kills it
    and removes the partial file.  Returns ``out_path``.

    Example::

        square = default_registry().get("Square")
        await encode_chunk(square, {}, range(0, 10), codec="h264", out_path=Path("c0.mp4"))
    """
    _check_codec(codec)
    _check_frames(comp, frames)
    rate = comp.fps if fps is None else fps
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"fps must be a positive number; got {fps!r}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    if codec in AUDIO_ONLY_CODECS:
        require_extra("numpy")
        start = round(frames[0] * _AUDIO_RATE / rate)
        end = start + round(len(frames) * _AUDIO_RATE / rate)
        try:
            await asyncio.to_thread(_write_wav, out_path, start, end)
        except BaseException:
            remove_file(out_path)
            raise
        return out_path

    require_extra()
    merged = comp.merge_props(props)
    width, height = output_size(comp, scale, codec)
    first = comp.render_frame(frames[0], merged, size=(width, height))  # bad props fail here

    def raw_frames() -> Iterator[bytes]:
        yield first.tobytes()
        for f in frames[1:]:
            yield comp.render_frame(f, merged, size=(width, height)).tobytes()

    args = [
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", _rate(rate),
        "-i", "pipe:0", "-an", *_video_encoder_args(codec, crf),
        "-f", _CHUNK_MUXERS[_CHUNK_EXTENSIONS[codec]], str(out_path),
    ]  # fmt: skip
    try:
        await run_ffmpeg(f"encode a {codec} chunk", args, raw_frames())
    except BaseException:
        remove_file(out_path)
        raise
    return out_path


def _concat_list(paths: Sequence[Path]) -> str:
    lines = ["ffconcat version 1.0"]
    for p in paths:
        quoted = str(Path(p).resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"


async def combine_chunks(
    chunk_paths: Sequence[Path],
    out_path: Path,
    *,
    codec: str,
    audio_codec: str | None = None,
) -> Path:
    """Join chunks from :func:`encode_chunk` into the final file at ``out_path``.

    The container follows Remotion (:func:`output_extension`): H.264/H.265 are stream-copied
    into a ``+faststart`` MP4 (``hvc1``-tagged for H.265), VP8/VP9 into WebM, ProRes into
    MOV; GIF chunks are re-quantised into one GIF; audio-only codecs encode the WAV chunks
    as MP3, ADTS AAC or WAV.  With ``audio_codec`` set for a video codec a silent track of
    that codec is added (PCM goes to MKV, as in Remotion).  Returns ``out_path``.

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
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    args: list[str] = ["-f", "concat", "-safe", "0", "-i", "{list}"]
    if codec in AUDIO_ONLY_CODECS:
        encoder = _AUDIO_ENCODERS[audio_codec or {"wav": "pcm-16"}.get(codec, codec)]
        args += ["-vn", *encoder]
    elif codec == "gif":
        args += _video_encoder_args("gif", None)
    else:
        if audio_codec is not None:
            args += ["-f", "lavfi", "-i", f"anullsrc=r={_AUDIO_RATE}:cl=stereo",
                     "-map", "0:v", "-map", "1:a", *_AUDIO_ENCODERS[audio_codec],
                     "-shortest"]  # fmt: skip
        args += ["-c:v", "copy"]
        if codec == "h265":
            args += ["-tag:v", "hvc1"]
    if ext in ("mp4", "mov"):
        args += ["-movflags", "+faststart"]
    args += ["-f", _MUXERS[ext], str(out_path)]

    fd, list_name = tempfile.mkstemp(prefix=".concat-", suffix=".txt", dir=out_path.parent)
    os.close(fd)
    list_path = Path(list_name)
    try:
        await asyncio.to_thread(list_path.write_text, _concat_list(paths), "utf-8")
        args[args.index("{list}")] = str(list_path)
        await run_ffmpeg(f"combine {len(paths)} {codec} chunks", args)
    except BaseException:
        remove_file(out_path)
        raise
    finally:
        remove_file(list_path)
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


