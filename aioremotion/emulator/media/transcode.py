"""The blocking PyAV work behind :mod:`.encoding`, run in worker threads: encoding drawn
frames into a chunk, remuxing chunks into the final container (timestamps offset, no
re-encode), re-quantising GIF chunks into one GIF, and encoding the WAV chunks of an
audio-only render.

Every function here takes the ``stop`` event of :func:`.deps.run_in_worker`, checks it once
a frame (or packet) and raises :class:`.deps.Stopped` when it is set; FFmpeg's errors leave
as :class:`.deps.EncodingError`.  PyAV is imported inside the functions: this module imports
without the ``emulator`` extra.
"""

from __future__ import annotations

import contextlib
import threading
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from .audio import AUDIO_CHANNELS, AUDIO_RATE
from .deps import EncodingError, Stopped

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import OutputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream
    from PIL import Image

__all__ = [
    "AUDIO_ENCODERS",
    "AudioTrack",
    "VideoSettings",
    "combine_gif",
    "encode_audio",
    "encode_video",
    "libav_errors",
    "remux_video",
]

#: PyAV encoder, bit rate (bit/s, 0 for none) per Remotion audio codec.
AUDIO_ENCODERS: Final[dict[str, tuple[str, int]]] = {
    "pcm-16": ("pcm_s16le", 0),
    "aac": ("aac", 192_000),
    "mp3": ("libmp3lame", 192_000),
    "opus": ("libopus", 128_000),
}

#: Remotion's default CRF per codec.
_DEFAULT_CRF: Final[dict[str, int]] = {"h264": 18, "h265": 23, "vp8": 9, "vp9": 28}

# bt709 tagging, so browsers and players show the colours the frames were drawn with.
_BT709: Final[dict[str, str]] = {
    "colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709",
    "color_range": "tv",
}  # fmt: skip

#: Samples per silent or PCM audio frame handed to an encoder (it re-chunks as it needs).
_AUDIO_FRAME: Final = 4800


@contextlib.contextmanager
def libav_errors(what: str) -> Iterator[None]:
    """Turn PyAV's errors (FFmpeg's, and a file that is not media) into
    :class:`EncodingError` saying ``what`` failed.

    Example::

        with libav_errors("combine 2 h264 chunks"):
            ...
    """
    import av

    try:
        yield
    except av.error.FFmpegError as exc:
        raise EncodingError(what, str(exc), code=exc.errno) from exc


def _check(stop: threading.Event) -> None:
    if stop.is_set():
        raise Stopped


# -- video chunks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoSettings:
    """How :func:`encode_video` encodes: codec, output size, frame rate and CRF."""

    codec: str
    width: int
    height: int
    rate: Fraction
    crf: int | None = None

    def encoder(self) -> tuple[str, str, dict[str, str]]:
        """``(encoder, pixel format, encoder options)`` for :attr:`codec`."""
        q = str(self.crf if self.crf is not None else _DEFAULT_CRF.get(self.codec, 0))
        if self.codec == "h264":
            return "libx264", "yuv420p", {"preset": "ultrafast", "crf": q, "bf": "0", **_BT709}
        if self.codec == "h265":
            return "libx265", "yuv420p", {
                "preset": "ultrafast", "crf": q, "x265-params": "log-level=error:bframes=0",
                **_BT709}  # fmt: skip
        if self.codec == "vp8":
            return "libvpx", "yuv420p", {
                "deadline": "realtime", "cpu-used": "8", "crf": q, "b": "8M",
                "auto-alt-ref": "0", **_BT709}  # fmt: skip
        if self.codec == "vp9":
            return "libvpx-vp9", "yuv420p", {
                "deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": q, "b": "0",
                **_BT709}  # fmt: skip
        if self.codec == "prores":  # Remotion's default profile, "hq"; prores_aw is fast
            return "prores_aw", "yuv422p10le", {"profile": "3", "vendor": "apl0"}
        if self.codec == "gif":
            return "gif", "pal8", {}
        raise ValueError(f"codec {self.codec!r} has no video encoder")  # pragma: no cover


def _add_video_stream(container: OutputContainer, settings: VideoSettings) -> VideoStream:
    name, pix_fmt, options = settings.encoder()
    stream = cast("VideoStream", container.add_stream(name, rate=settings.rate,
                                                       options=options))
    stream.width, stream.height = settings.width, settings.height
    stream.pix_fmt = pix_fmt
    stream.codec_context.time_base = 1 / settings.rate
    return stream


def _pal8_frame(img: Image.Image) -> VideoFrame:
    """``img`` quantised to 256 colours (Pillow) as a ``pal8`` frame for the GIF encoder."""
    import av
    from PIL import Image

    quantised = img.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    frame = av.VideoFrame(img.width, img.height, "pal8")
    indices, plane = quantised.tobytes(), frame.planes[0]
    if plane.line_size == img.width:
        plane.update(indices)
    else:
        view = memoryview(plane)
        for row in range(img.height):
            start = row * plane.line_size
            view[start : start + img.width] = indices[row * img.width : (row + 1) * img.width]
    rgb = quantised.getpalette() or []
    palette = bytearray(1024)  # 256 native-endian ARGB words: B, G, R, A in memory
    for i in range(min(256, len(rgb) // 3)):
        r, g, b = rgb[3 * i : 3 * i + 3]
        palette[4 * i : 4 * i + 4] = bytes((b, g, r, 255))
    frame.planes[1].update(bytes(palette))
    return frame


def _video_frame(img: Image.Image, settings: VideoSettings, pix_fmt: str) -> VideoFrame:
    """``img`` in the encoder's pixel format (bt709, limited range for the 4:2:0 codecs)."""
    import av

    if pix_fmt == "pal8":
        return _pal8_frame(img)
    frame = cast("VideoFrame", av.VideoFrame.from_image(img))  # type: ignore[no-untyped-call]
    if pix_fmt == "yuv420p":
        frame = frame.reformat(format=pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
    else:
        frame = frame.reformat(format=pix_fmt)
    return frame


def _timed(packets: list[Any], duration: int) -> list[Any]:
    """``packets`` with ``duration`` (in their time base) where the encoder left none, so
    that the muxer records the last frame's duration too (the GIF muxer, for one, would
    fall back on a frame rate)."""
    for packet in packets:
        if not packet.duration:
            packet.duration = duration
    return packets


def encode_video(
    out_path: Path,
    muxer: str,
    settings: VideoSettings,
    draw: Callable[[int], Image.Image],
    count: int,
    stop: threading.Event,
    report: Callable[[int], None],
) -> None:
    """Draw frames ``draw(0) .. draw(count - 1)`` and encode them into ``out_path``.

    The first frame is drawn before the file is opened, so bad props fail before any
    output exists; ``report(n)`` is called after the ``n``-th frame went to the encoder.
    Frames get timestamps ``0, 1, ...`` in units of ``1 / rate``, with no B-frames, so the
    chunks join by offsetting timestamps (:func:`remux_video`).

    Example::

        encode_video(Path("c0.mp4"), "mp4", VideoSettings("h264", 160, 90, Fraction(30)),
                     draw, 10, threading.Event(), print)
    """
    import av

    first = draw(0)
    with libav_errors(f"encode a {settings.codec} chunk"):
        options = {"loop": "0"} if muxer == "gif" else {}
        with av.open(str(out_path), "w", format=muxer, container_options=options) as container:
            stream = _add_video_stream(container, settings)
            pix_fmt = settings.encoder()[1]
            for index in range(count):
                _check(stop)
                frame = _video_frame(first if index == 0 else draw(index), settings, pix_fmt)
                frame.pts, frame.time_base = index, 1 / settings.rate
                container.mux(_timed(stream.encode(frame), 1))
                report(index + 1)
            container.mux(_timed(stream.encode(None), 1))


# -- combining ---------------------------------------------------------------------------------


@dataclass
class AudioTrack:
    """A silent audio track written next to remuxed video (``audio_codec`` of a video)."""

    encoder: str
    bit_rate: int
    stream: AudioStream | None = field(default=None, repr=False)
    samples: int = 0

    def add_to(self, container: OutputContainer) -> None:
        """Add the track's stream to ``container`` (before anything is muxed)."""
        stream = cast("AudioStream", container.add_stream(self.encoder, rate=AUDIO_RATE))
        stream.codec_context.layout = "stereo"
        if self.bit_rate:
            stream.codec_context.bit_rate = self.bit_rate
        self.stream = stream

    def fill_to(self, container: OutputContainer, seconds: Fraction) -> None:
        """Write silence up to ``seconds`` of audio."""
        assert self.stream is not None
        target = round(seconds * AUDIO_RATE)
        while self.samples < target:
            n = min(_AUDIO_FRAME, target - self.samples)
            container.mux(self.stream.encode(_pcm_frame(bytes(n * 2 * AUDIO_CHANNELS),
                                                        self.samples)))  # fmt: skip
            self.samples += n

    def finish(self, container: OutputContainer) -> None:
        """Flush the encoder."""
        assert self.stream is not None
        container.mux(self.stream.encode(None))


def _pcm_frame(data: bytes, pts: int) -> AudioFrame:
    import av

    samples = len(data) // (2 * AUDIO_CHANNELS)
    frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
    memoryview(frame.planes[0])[: len(data)] = data
    frame.sample_rate = AUDIO_RATE
    frame.pts, frame.time_base = pts, Fraction(1, AUDIO_RATE)
    return frame


def remux_video(
    paths: Sequence[Path],
    out_path: Path,
    *,
    muxer: str,
    codec: str,
    faststart: bool,
    audio: AudioTrack | None,
    stop: threading.Event,
) -> None:
    """Copy the video packets of ``paths`` in order into one ``muxer`` file, each chunk's
    timestamps offset to follow the previous chunk's frames (no re-encoding).

    Timestamps are counted in frames of the first chunk's rate: each chunk starts where the
    previous one's last frame ended, so chunks of any length join exactly.  ``audio`` adds
    a silent track of the video's length, interleaved.

    Example::

        remux_video([Path("c0.mp4"), Path("c1.mp4")], Path("out.mp4"), muxer="mp4",
                    codec="h264", faststart=True, audio=None, stop=threading.Event())
    """
    import av

    options = {"movflags": "+faststart"} if faststart else {}
    with (libav_errors(f"combine {len(paths)} {codec} chunks"),
          av.open(str(out_path), "w", format=muxer, container_options=options) as output):
        with av.open(str(paths[0])) as first:
            template = first.streams.video[0]
            out_stream = output.add_stream_from_template(template)
            rate = template.average_rate or template.guessed_rate or template.base_rate
            if codec == "h265" and muxer in ("mp4", "mov"):
                out_stream.codec_context.codec_tag = "hvc1"  # what Apple players want
            elif muxer == "mov":  # ProRes: the tag names the profile ("apch" for hq)
                out_stream.codec_context.codec_tag = template.codec_context.codec_tag
        if not rate:
            raise EncodingError(f"combine {len(paths)} {codec} chunks",
                                f"{paths[0]} has no frame rate")  # fmt: skip
        out_stream.codec_context.framerate = rate  # the container records it (WebM too)
        if audio is not None:
            audio.add_to(output)
        frame_base = 1 / Fraction(rate)
        done = 0  # frames before the current chunk
        for path in paths:
            with av.open(str(path)) as chunk:
                stream = chunk.streams.video[0]
                assert stream.time_base is not None
                to_frames = stream.time_base * Fraction(rate)
                origin: int | None = None
                last = -1
                for packet in chunk.demux(stream):
                    _check(stop)
                    if packet.size == 0 or packet.pts is None:
                        continue  # the demuxer's end-of-stream marker
                    dts = packet.dts if packet.dts is not None else packet.pts
                    if origin is None:
                        origin = min(packet.pts, dts)
                    pts = done + round((packet.pts - origin) * to_frames)
                    packet.pts, packet.dts = pts, done + round((dts - origin) * to_frames)
                    packet.duration, packet.time_base = 1, frame_base
                    packet.stream = out_stream
                    output.mux(packet)
                    last = max(last, pts)
                    if audio is not None:
                        audio.fill_to(output, (last + 1) * frame_base)
                done = last + 1 if last >= 0 else done
        if audio is not None:
            audio.fill_to(output, done * frame_base)
            audio.finish(output)


def combine_gif(paths: Sequence[Path], out_path: Path, stop: threading.Event) -> None:
    """Decode the GIF chunks ``paths`` and encode their frames, in order, as one GIF.

    Each frame is quantised again (the chunks' palettes differ); frame delays are kept,
    each chunk starting where the previous one ended.

    Example::

        combine_gif([Path("c0.gif"), Path("c1.gif")], Path("out.gif"), threading.Event())
    """
    import av

    with (libav_errors(f"combine {len(paths)} gif chunks"),
          av.open(str(out_path), "w", format="gif", container_options={"loop": "0"}) as output):
        stream: VideoStream | None = None
        offset = 0  # in 1/100 s, the GIF clock
        for path in paths:
            with av.open(str(path)) as chunk:
                source = chunk.streams.video[0]
                assert source.time_base is not None
                to_cs = source.time_base * 100
                end = offset
                for packet in chunk.demux(source):
                    _check(stop)
                    if packet.pts is None:
                        continue  # the demuxer's end-of-stream marker
                    pts = offset + round(packet.pts * to_cs)
                    delay = max(1, round((packet.duration or 0) * to_cs))
                    for frame in packet.decode():
                        img = frame.to_image()
                        if stream is None:
                            stream = _add_video_stream(output, VideoSettings(
                                "gif", img.width, img.height, Fraction(100)))  # fmt: skip
                        out = _pal8_frame(img)
                        out.pts, out.time_base = pts, Fraction(1, 100)
                        output.mux(_timed(stream.encode(out), delay))
                    end = max(end, pts + delay)
                offset = end
        if stream is not None:
            output.mux(stream.encode(None))


def encode_audio(
    paths: Sequence[Path], out_path: Path, *, muxer: str, audio_codec: str,
    stop: threading.Event,
) -> None:
    """Encode the PCM WAV chunks ``paths``, in order, as one ``muxer`` file of
    ``audio_codec`` (a Remotion audio codec: pcm-16, aac, mp3 or opus).

    Example::

        encode_audio([Path("c0.wav")], Path("out.mp3"), muxer="mp3", audio_codec="mp3",
                     stop=threading.Event())
    """
    import av

    encoder, bit_rate = AUDIO_ENCODERS[audio_codec]
    track = AudioTrack(encoder, bit_rate)
    with (libav_errors(f"combine {len(paths)} {audio_codec} chunks"),
          av.open(str(out_path), "w", format=muxer) as output):
        track.add_to(output)
        assert track.stream is not None
        for path in paths:
            with _pcm_chunk(path, f"combine {len(paths)} {audio_codec} chunks") as chunk:
                while data := chunk.readframes(_AUDIO_FRAME):
                    _check(stop)
                    output.mux(track.stream.encode(_pcm_frame(data, track.samples)))
                    track.samples += len(data) // (2 * AUDIO_CHANNELS)
        track.finish(output)


@contextlib.contextmanager
def _pcm_chunk(path: Path, what: str) -> Iterator[wave.Wave_read]:
    """``path`` opened as a WAV chunk of :func:`.audio.write_wav`'s format."""
    try:
        with wave.open(str(path), "rb") as chunk:
            if (chunk.getnchannels(), chunk.getsampwidth(), chunk.getframerate()) != (
                    AUDIO_CHANNELS, 2, AUDIO_RATE):
                raise EncodingError(what, f"{path} is not 48 kHz stereo 16-bit PCM")
            yield chunk
    except (wave.Error, EOFError) as exc:
        raise EncodingError(what, f"{path} is not a WAV file: {exc}") from exc
