"""The emulator's "site": compositions that really draw frames, and real encoding with ffmpeg.

A :class:`Composition` is what Remotion's ``getCompositions`` lists for a deployed site;
here it also carries a ``draw`` function that paints one frame as an ``HxWx3`` ``uint8``
RGB numpy array.  :func:`default_registry` holds the built-in ``HelloWorld`` (1280x720,
30 fps, 150 frames) and a tiny ``Square`` (160x90, 30 fps, 30 frames) for fast tests.

Rendering mirrors Remotion Lambda's fan-out:

* :func:`encode_chunk` pipes raw RGB frames into an ffmpeg subprocess and writes one chunk
  in a format that concatenates without re-encoding (H.264/H.265 in MP4, VP8/VP9 in WebM,
  ProRes in MOV; GIF chunks are GIFs, audio-only codecs get PCM WAV chunks);
* :func:`combine_chunks` joins chunks into the final container (stream copy where it can,
  ``+faststart`` MP4 for H.264/H.265);
* :func:`render_still` paints one frame as PNG, JPEG, WebP or PDF with Pillow.

Real rendering needs the ``emulator`` extra (numpy, Pillow and imageio-ffmpeg, whose wheel
ships a static ffmpeg binary; no system ffmpeg is used)::

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

import asyncio
import contextlib
import functools
import importlib
import importlib.util
import io
import json
import math
import os
import re
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..errors import RemotionError
from ..protocol.constants import AUDIO_ONLY_CODECS, CODECS, FILE_EXTENSIONS

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Frame = npt.NDArray[np.uint8]
    DrawFn = Callable[[int, dict[str, Any], tuple[int, int]], Frame]
else:  # numpy is optional at run time; these keep typing.get_type_hints() working
    Frame = Any
    DrawFn = Callable[[int, dict[str, Any], tuple[int, int]], Any]

__all__ = [
    "STILL_FORMATS",
    "Composition",
    "CompositionRegistry",
    "FFmpegError",
    "MediaDependencyError",
    "chunk_extension",
    "combine_chunks",
    "default_registry",
    "encode_chunk",
    "ffmpeg_available",
    "ffmpeg_exe",
    "ffprobe_like",
    "output_extension",
    "output_size",
    "parse_color",
    "render_media",
    "render_still",
    "synthetic_output",
    "synthetic_still",
]

_EXTRA_HINT: Final = 'pip install "aioremotion[emulator]"'

#: Still image formats :func:`render_still` writes.
STILL_FORMATS: Final[tuple[str, ...]] = ("png", "jpeg", "webp", "pdf")

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


# -- errors ----------------------------------------------------------------------------------


class MediaDependencyError(RemotionError, ImportError):
    """Real rendering was asked for but the ``emulator`` extra is not installed."""


class FFmpegError(RemotionError, RuntimeError):
    """ffmpeg exited with an error.

    Attributes:
        returncode: ffmpeg's exit status.
        stderr: what ffmpeg wrote to stderr (its ``-loglevel error`` messages).
    """

    def __init__(self, what: str, returncode: int, stderr: str) -> None:
        tail = stderr.strip()[-2000:]
        super().__init__(f"ffmpeg failed to {what} (exit status {returncode}): {tail or '-'}")
        self.returncode = returncode
        self.stderr = stderr


# -- dependencies ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _missing_modules() -> tuple[str, ...]:
    needed = {"numpy": "numpy", "PIL": "Pillow", "imageio_ffmpeg": "imageio-ffmpeg"}
    return tuple(pkg for mod, pkg in needed.items() if importlib.util.find_spec(mod) is None)


def _require(*packages: str) -> None:
    missing = [p for p in _missing_modules() if not packages or p in packages]
    if missing:
        raise MediaDependencyError(
            f"real rendering in the emulator needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: {_EXTRA_HINT}"
        )


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg.

    Raises :class:`MediaDependencyError` if imageio-ffmpeg is missing.

    Example::

        subprocess.run([ffmpeg_exe(), "-version"], check=True)
    """
    _require("imageio-ffmpeg")
    module = importlib.import_module("imageio_ffmpeg")
    return str(module.get_ffmpeg_exe())


def ffmpeg_available() -> bool:
    """Whether the bundled ffmpeg (imageio-ffmpeg) can be used.

    Example::

        if not ffmpeg_available():
            pytest.skip("needs the emulator extra")
    """
    try:
        exe = ffmpeg_exe()
    except (ImportError, RuntimeError, OSError):
        return False
    return os.path.isfile(exe) and os.access(exe, os.X_OK)


# -- colours -----------------------------------------------------------------------------------

_CSS_COLORS: Final[dict[str, tuple[int, int, int]]] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "lime": (0, 255, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "cyan": (0, 255, 255),
    "aqua": (0, 255, 255),
    "magenta": (255, 0, 255),
    "fuchsia": (255, 0, 255),
    "orange": (255, 165, 0),
    "purple": (128, 0, 128),
    "pink": (255, 192, 203),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "navy": (0, 0, 128),
    "teal": (0, 128, 128),
    "maroon": (128, 0, 0),
    "olive": (128, 128, 0),
}

_HEX_RE: Final = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_RGB_RE: Final = re.compile(r"rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)", re.I)


def parse_color(value: object, *, prop: str = "color") -> tuple[int, int, int]:
    """Parse a CSS colour (``#rgb``, ``#rrggbb``, ``rgb(r, g, b)`` or a basic name).

    Raises ``ValueError`` naming ``prop`` for anything else.

    Example:
        >>> parse_color("#0b84f3")
        (11, 132, 243)
        >>> parse_color("White")
        (255, 255, 255)
        >>> parse_color("nope", prop="titleColor")
        Traceback (most recent call last):
        ...
        ValueError: prop 'titleColor': invalid colour 'nope' (use '#rrggbb', '#rgb', ...
    """
    if isinstance(value, str):
        text = value.strip()
        if m := _HEX_RE.fullmatch(text):
            digits = m.group(1)
            if len(digits) == 3:
                digits = "".join(c * 2 for c in digits)
            return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
        if (m := _RGB_RE.fullmatch(text)) and all(int(g) <= 255 for g in m.groups()):
            return (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if text.lower() in _CSS_COLORS:
            return _CSS_COLORS[text.lower()]
    raise ValueError(
        f"prop {prop!r}: invalid colour {value!r} (use '#rrggbb', '#rgb', 'rgb(r, g, b)' "
        f"or one of {', '.join(sorted(_CSS_COLORS))})"
    )


# -- compositions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Composition:
    """One composition of the emulated site.

    Args:
        id: the composition id (``HelloWorld``).
        width, height: size in pixels at scale 1.
        fps: frames per second.
        duration_in_frames: length in frames.
        default_props: props used where the input props do not set them.
        draw: ``draw(frame, props, (width, height)) -> HxWx3 uint8 RGB array``, called with
            the merged props and the output size (already scaled); ``None`` renders black.

    Example::

        comp = Composition("Blank", 320, 180, 30, 60)
        comp.to_json({"x": 1})["durationInFrames"]   # 60
    """

    id: str
    width: int
    height: int
    fps: float
    duration_in_frames: int
    default_props: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    draw: DrawFn | None = field(default=None, hash=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a composition needs a non-empty id")
        if self.width < 1 or self.height < 1:
            raise ValueError(f"composition {self.id!r}: width and height must be >= 1")
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise ValueError(f"composition {self.id!r}: fps must be a positive number")
        if self.duration_in_frames < 1:
            raise ValueError(f"composition {self.id!r}: duration_in_frames must be >= 1")

    def merge_props(self, props: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The default props overlaid with ``props``.

        Example::

            HELLO.merge_props({"title": "Hi"})["titleColor"]   # '#ffffff'
        """
        return {**self.default_props, **(props or {})}

    def to_json(self, props: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """This composition as Remotion's ``getCompositions`` returns it.

        Example::

            comp.to_json({})   # {"id": "HelloWorld", "width": 1280, ..., "props": {...}}
        """
        return {
            "id": self.id,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "durationInFrames": self.duration_in_frames,
            "defaultProps": dict(self.default_props),
            "props": self.merge_props(props),
            "defaultCodec": None,
            "defaultOutName": None,
            "defaultVideoImageFormat": None,
            "defaultPixelFormat": None,
            "defaultProResProfile": None,
        }

    def render_frame(
        self,
        frame: int,
        props: Mapping[str, Any] | None = None,
        *,
        size: tuple[int, int] | None = None,
    ) -> Frame:
        """Draw one frame (merged props, ``size`` defaults to the composition's).

        Returns an ``HxWx3`` C-contiguous ``uint8`` array; raises ``ValueError`` for a
        frame outside the composition, bad props or a ``draw`` that returns the wrong shape.

        Example::

            rgb = default_registry().get("Square").render_frame(0)   # shape (90, 160, 3)
        """
        _require("numpy")
        import numpy as np

        if not 0 <= frame < self.duration_in_frames:
            raise ValueError(
                f"frame {frame} is outside composition {self.id!r} "
                f"(0..{self.duration_in_frames - 1})"
            )
        width, height = size or (self.width, self.height)
        merged = self.merge_props(props)
        if self.draw is None:
            return np.zeros((height, width, 3), dtype=np.uint8)
        out = self.draw(frame, merged, (width, height))
        if out.shape != (height, width, 3) or out.dtype != np.uint8:
            raise ValueError(
                f"composition {self.id!r}: draw returned {out.dtype} {out.shape}, "
                f"expected uint8 {(height, width, 3)}"
            )
        return np.ascontiguousarray(out)


class CompositionRegistry:
    """The compositions of one emulated site, by id.

    Example::

        registry = CompositionRegistry([Composition("Blank", 320, 180, 30, 60)])
        "Blank" in registry, registry.ids()   # (True, ['Blank'])
    """

    def __init__(self, compositions: Iterable[Composition] = ()) -> None:
        self._by_id: dict[str, Composition] = {}
        for comp in compositions:
            self.register(comp)

    def register(self, comp: Composition, *, replace: bool = False) -> Composition:
        """Add ``comp``; an id already present is an error unless ``replace``.

        Example::

            registry.register(Composition("Blank", 320, 180, 30, 60))
        """
        if comp.id in self._by_id and not replace:
            raise ValueError(f"composition {comp.id!r} is already registered")
        self._by_id[comp.id] = comp
        return comp

    def get(self, composition_id: str) -> Composition:
        """The composition ``composition_id``; ``KeyError`` listing the ids if absent.

        Example::

            registry.get("HelloWorld").fps   # 30
        """
        try:
            return self._by_id[composition_id]
        except KeyError:
            raise KeyError(
                f"no composition {composition_id!r} (available: {', '.join(self.ids()) or '-'})"
            ) from None

    def ids(self) -> list[str]:
        """Ids in registration order.

        Example::

            default_registry().ids()   # ['HelloWorld', 'Square']
        """
        return list(self._by_id)

    def to_json(self, props: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every composition as ``getCompositions`` lists them.

        Example::

            [c["id"] for c in default_registry().to_json()]   # ['HelloWorld', 'Square']
        """
        return [comp.to_json(props) for comp in self._by_id.values()]

    def __contains__(self, composition_id: object) -> bool:
        return composition_id in self._by_id

    def __iter__(self) -> Iterator[Composition]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)


# -- built-in drawing --------------------------------------------------------------------------


def _load_font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # scalable (FreeType) in Pillow >= 10.1
    except (TypeError, OSError, ImportError):  # old Pillow or no FreeType: the bitmap font
        return ImageFont.load_default()


def _text_mask(text: str, height: int, max_width: int) -> npt.NDArray[np.float32]:
    """Alpha mask (0..1) of ``text`` about ``height`` px tall, at most ``max_width`` wide."""
    import numpy as np
    from PIL import Image, ImageDraw

    def render(size: int) -> Any:
        font = _load_font(size)
        left, top, right, bottom = font.getbbox(text)
        img = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
        ImageDraw.Draw(img).text((-left, -top), text, fill=255, font=font)
        return img

    img = render(height)
    if img.width > max_width:
        img = render(max(6, int(height * max_width / img.width)))
    if img.height < height // 3:  # the bitmap fallback font is tiny: scale it up
        factor = min(height / max(img.height, 1), max_width / max(img.width, 1))
        new_size = (max(1, int(img.width * factor)), max(1, int(img.height * factor)))
        img = img.resize(new_size, Image.Resampling.BILINEAR)
    if img.width > max_width:
        img = img.resize((max_width, max(1, img.height * max_width // img.width)))
    mask = np.asarray(img, dtype=np.float32) / 255.0
    rows, cols = np.nonzero(mask > 0)
    if rows.size == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return np.ascontiguousarray(mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1])


def _disc_mask(radius: int) -> npt.NDArray[np.float32]:
    """Anti-aliased filled circle, ``2r x 2r``."""
    import numpy as np

    d = 2 * radius
    c = np.arange(d, dtype=np.float32) + 0.5 - radius
    dist = np.sqrt(c[:, None] ** 2 + c[None, :] ** 2)
    return np.clip(radius - dist + 0.5, 0.0, 1.0).astype(np.float32)


def _blend(
    out: Frame, alpha: npt.NDArray[np.float32], rgb: tuple[int, int, int], x: int, y: int
) -> None:
    """Paint ``rgb`` through ``alpha`` onto ``out`` with its top-left at ``(x, y)``, clipped."""
    import numpy as np

    h, w = alpha.shape
    height, width = out.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x0 >= x1 or y0 >= y1:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
    region = out[y0:y1, x0:x1]
    color = np.asarray(rgb, dtype=np.float32)
    blended = region + a * (color - region)
    np.rint(blended, out=blended)
    region[...] = blended.astype(np.uint8)


@dataclass(frozen=True)
class _HelloLayers:
    background: Frame
    title: npt.NDArray[np.float32]
    title_rgb: tuple[int, int, int]
    disc: npt.NDArray[np.float32]


@functools.lru_cache(maxsize=16)
def _hello_layers(
    title: str, title_rgb: tuple[int, int, int], bg_rgb: tuple[int, int, int], w: int, h: int
) -> _HelloLayers:
    import numpy as np

    background = np.empty((h, w, 3), dtype=np.uint8)
    background[...] = bg_rgb
    background.flags.writeable = False
    mask = _text_mask(title, max(6, round(h * 0.1)), max(1, round(w * 0.9))) if title else None
    if mask is None:
        mask = np.zeros((0, 0), dtype=np.float32)
    return _HelloLayers(background, mask, title_rgb, _disc_mask(max(1, round(h / 18))))


class _HelloWorldDraw:
    """Background colour, the title sliding up and fading in, a travelling disc and a
    progress bar: every frame differs, and only small regions are blended per frame."""

    def __init__(self, duration_in_frames: int, fps: float) -> None:
        self.duration = duration_in_frames
        self.intro = max(1, round(fps * 2 / 3))  # the title's entrance takes 2/3 s

    def __call__(self, frame: int, props: dict[str, Any], size: tuple[int, int]) -> Frame:
        w, h = size
        title = props.get("title", "")
        title = title if isinstance(title, str) else str(title)
        layers = _hello_layers(
            title,
            parse_color(props.get("titleColor"), prop="titleColor"),
            parse_color(props.get("backgroundColor"), prop="backgroundColor"),
            w,
            h,
        )
        out: Frame = layers.background.copy()
        color = layers.title_rgb
        # Title: ease-out slide up by 8% of the height while fading in.
        p = min(1.0, frame / self.intro)
        ease = 1.0 - (1.0 - p) ** 3
        th, tw = layers.title.shape
        if th and ease > 0:
            x = (w - tw) // 2
            y = round(h * 0.42 - th / 2 + (1.0 - ease) * h * 0.08)
            _blend(out, layers.title * ease if ease < 1 else layers.title, color, x, y)
        # Disc: crosses the width once over the composition (smoothstep).
        u = frame / max(1, self.duration - 1)
        s = u * u * (3.0 - 2.0 * u)
        d = layers.disc.shape[0]
        _blend(out, layers.disc, color, round(s * (w - d)), round(h * 0.68 - d / 2))
        # Progress bar along the bottom.
        bar_h = max(1, round(h / 90))
        bar_w = round(w * (frame + 1) / self.duration)
        out[h - 2 * bar_h : h - bar_h, :bar_w] = color
        return out


class _SquareDraw:
    """A square crossing a plain background: almost free to draw."""

    def __init__(self, duration_in_frames: int) -> None:
        self.duration = duration_in_frames

    def __call__(self, frame: int, props: dict[str, Any], size: tuple[int, int]) -> Frame:
        w, h = size
        bg = _plain(parse_color(props.get("backgroundColor"), prop="backgroundColor"), w, h)
        fg = parse_color(props.get("color"), prop="color")
        out: Frame = bg.copy()
        side = max(1, h // 3)
        x = round((w - side) * frame / max(1, self.duration - 1))
        y = (h - side) // 2
        out[y : y + side, x : x + side] = fg
        return out


@functools.lru_cache(maxsize=16)
def _plain(rgb: tuple[int, int, int], w: int, h: int) -> Frame:
    import numpy as np

    out = np.empty((h, w, 3), dtype=np.uint8)
    out[...] = rgb
    out.flags.writeable = False
    return out


def default_registry() -> CompositionRegistry:
    """A new registry with the built-in compositions.

    * ``HelloWorld``: 1280x720, 30 fps, 150 frames; props ``title``
      (``"Hello from aioremotion"``), ``titleColor`` (``"#ffffff"``), ``backgroundColor``
      (``"#0b84f3"``);
    * ``Square``: 160x90, 30 fps, 30 frames; props ``color`` (``"#ff4136"``),
      ``backgroundColor`` (``"#111111"``).

    Example:
        >>> default_registry().ids()
        ['HelloWorld', 'Square']
    """
    return CompositionRegistry(
        [
            Composition(
                "HelloWorld",
                1280,
                720,
                30,
                150,
                {
                    "title": "Hello from aioremotion",
                    "titleColor": "#ffffff",
                    "backgroundColor": "#0b84f3",
                },
                _HelloWorldDraw(150, 30),
            ),
            Composition(
                "Square",
                160,
                90,
                30,
                30,
                {"color": "#ff4136", "backgroundColor": "#111111"},
                _SquareDraw(30),
            ),
        ]
    )


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


# -- ffmpeg processes --------------------------------------------------------------------------


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Kill ``proc`` if it still runs, and reap it even if we are cancelled again."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    if proc.stdin is not None and not proc.stdin.is_closing():
        proc.stdin.close()
    with contextlib.suppress(asyncio.CancelledError, ProcessLookupError):
        await asyncio.shield(proc.wait())


async def _run_ffmpeg(what: str, args: Sequence[str], stdin: Iterator[bytes] | None = None) -> None:
    """Run ffmpeg with ``args``, feeding the byte chunks of ``stdin`` to its standard input.

    The frames are produced between awaits (one draw at a time), so the event loop stays
    responsive; ffmpeg is killed and reaped if anything fails or the task is cancelled.
    """
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_exe(),
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-y",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    stderr_task = asyncio.ensure_future(proc.stderr.read())
    try:
        if stdin is not None:
            pipe = proc.stdin
            assert pipe is not None
            try:
                for data in stdin:
                    pipe.write(data)
                    await pipe.drain()
                    await asyncio.sleep(0)  # let other tasks run between frames
                pipe.close()
                await pipe.wait_closed()
            except (BrokenPipeError, ConnectionResetError):
                pass  # ffmpeg quit early: its exit status and stderr say why
        returncode = await proc.wait()
        err = await stderr_task
    except BaseException:
        await _stop(proc)
        stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await stderr_task
        raise
    # At ``-loglevel error`` anything on stderr is an error: the concat demuxer, for one,
    # logs a chunk it cannot open and exits 0 without it, so output there fails too.
    if returncode != 0 or err.strip():
        raise FFmpegError(what, returncode, err.decode("utf-8", "replace"))


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


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


def _wav_header(data_len: int, rate: int = _AUDIO_RATE, channels: int = _AUDIO_CHANNELS) -> bytes:
    block = channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 16)
    return (
        b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", data_len)
    )  # fmt: skip


def _write_wav(path: Path, start_sample: int, end_sample: int) -> None:
    pcm = _tone(start_sample, end_sample)
    path.write_bytes(_wav_header(len(pcm)) + pcm)


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
        _require("numpy")
        start = round(frames[0] * _AUDIO_RATE / rate)
        end = start + round(len(frames) * _AUDIO_RATE / rate)
        try:
            await asyncio.to_thread(_write_wav, out_path, start, end)
        except BaseException:
            _remove(out_path)
            raise
        return out_path

    _require()
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
        await _run_ffmpeg(f"encode a {codec} chunk", args, raw_frames())
    except BaseException:
        _remove(out_path)
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
        await _run_ffmpeg(f"combine {len(paths)} {codec} chunks", args)
    except BaseException:
        _remove(out_path)
        raise
    finally:
        _remove(list_path)
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


# -- stills ------------------------------------------------------------------------------------


def _normalise_still_format(image_format: str) -> str:
    fmt = {"jpg": "jpeg"}.get(image_format.lower(), image_format.lower())
    if fmt not in STILL_FORMATS:
        allowed = ", ".join(STILL_FORMATS)
        raise ValueError(f"image format must be one of {allowed}; got {image_format!r}")
    return fmt


def _encode_image(rgb: Frame, fmt: str, quality: int) -> bytes:
    from PIL import Image

    img = Image.fromarray(rgb, "RGB")
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
    fmt = _normalise_still_format(image_format)
    if not 0 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be 0..100; got {jpeg_quality!r}")
    _require("numpy", "Pillow")
    size = output_size(comp, scale)

    def work() -> bytes:
        return _encode_image(comp.render_frame(frame, props, size=size), fmt, jpeg_quality)

    return await asyncio.to_thread(work)


# -- synthetic outputs (fast test mode) ---------------------------------------------------------


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _ebml_element(element_id: bytes, payload: bytes) -> bytes:
    return element_id + b"\x01" + len(payload).to_bytes(7, "big") + payload


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\x00\x00\x00", 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def synthetic_output(codec: str, *, frames: int, fps: float) -> bytes:
    """Tiny deterministic stand-in for a rendered file, for the no-encoder test mode.

    Not playable, but it starts with the magic of the codec's default container (an
    ``ftyp`` box for MP4/MOV, EBML for WebM, ``GIF89a``, ``ID3``, an ADTS sync word, a
    RIFF/WAVE header) followed by a JSON note of the codec, frame count and fps.

    Example:
        >>> synthetic_output("h264", frames=150, fps=30)[4:8]
        b'ftyp'
        >>> synthetic_output("gif", frames=1, fps=30)[:6]
        b'GIF89a'
    """
    ext = output_extension(codec)
    note = json.dumps(
        {"aioremotion": "synthetic", "codec": codec, "frames": frames, "fps": fps},
        sort_keys=True,
    ).encode()
    if ext in ("mp4", "mov"):
        brand = b"qt  " if ext == "mov" else b"isom"
        compat = b"qt  " if ext == "mov" else b"isomiso2avc1mp41"
        return _box(b"ftyp", brand + struct.pack(">I", 0x200) + compat) + _box(b"free", note)
    if ext == "webm":
        header = _ebml_element(b"\x42\x82", b"webm")
        return _ebml_element(b"\x1a\x45\xdf\xa3", header) + _ebml_element(b"\xec", note)
    if ext == "gif":
        comment = b"".join(bytes([len(note[i : i + 255])]) + note[i : i + 255]
                           for i in range(0, len(note), 255))  # fmt: skip
        return (
            b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
            + b"\x21\xfe" + comment + b"\x00"
            + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
            + b"\x3b"
        )  # fmt: skip
    if ext == "mp3":
        syncsafe = bytes((len(note) >> shift) & 0x7F for shift in (21, 14, 7, 0))
        return b"ID3\x04\x00\x00" + syncsafe + note
    if ext == "aac":
        return b"\xff\xf1\x50\x80" + note
    return _wav_header(0) + b"LIST" + struct.pack("<I", len(note)) + note  # wav


def synthetic_still(image_format: str) -> bytes:
    """Tiny deterministic stand-in for a rendered still (a valid 1x1 PNG for ``png``).

    Example:
        >>> synthetic_still("png")[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
        >>> synthetic_still("pdf")[:5]
        b'%PDF-'
    """
    fmt = _normalise_still_format(image_format)
    note = b'{"aioremotion":"synthetic"}'
    if fmt == "png":
        return _png_1x1()
    if fmt == "jpeg":
        app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        return (
            b"\xff\xd8\xff\xe0" + struct.pack(">H", 2 + len(app0)) + app0
            + b"\xff\xfe" + struct.pack(">H", 2 + len(note)) + note + b"\xff\xd9"
        )  # fmt: skip
    if fmt == "webp":
        body = b"WEBP" + b"VP8L" + struct.pack("<I", len(note)) + note
        return b"RIFF" + struct.pack("<I", len(body)) + body
    return b"%PDF-1.4\n%" + note + b"\n%%EOF\n"


# -- probing ----------------------------------------------------------------------------------

_DURATION_RE: Final = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_TIME_RE: Final = re.compile(r"time=\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_FRAME_RE: Final = re.compile(r"frame=\s*(\d+)")
_INPUT_RE: Final = re.compile(r"Input #0, (.+?), from")
_VIDEO_RE: Final = re.compile(r"Stream #0:\d+.*?: Video: (\w+)")
_AUDIO_RE: Final = re.compile(r"Stream #0:\d+.*?: Audio: (\w+)")
_SIZE_RE: Final = re.compile(r", (\d{1,5})x(\d{1,5})[ ,]")
_FPS_RE: Final = re.compile(r", ([\d.]+) fps")
_PIX_RE: Final = re.compile(r"Video: [^,]*?(?:\([^)]*\))*, (\w+)")


def _seconds(m: re.Match[str] | None) -> float | None:
    if m is None:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def ffprobe_like(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Decode ``path`` fully with the bundled ffmpeg (``-f null``) and report what it found.

    Returns ``format`` (demuxer names), ``duration`` (container, s), ``video_codec``,
    ``width``, ``height``, ``fps``, ``pix_fmt``, ``audio_codec`` (``None`` where absent),
    ``frames`` (video frames decoded), ``decoded_seconds`` (time reached), ``errors``
    (ffmpeg's error lines) and ``returncode``.  Blocking: meant for tests.

    Example::

        info = ffprobe_like("out.mp4")
        assert info["video_codec"] == "h264" and info["frames"] == 150 and not info["errors"]
    """
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "level+info",
         "-i", os.fspath(path), "-map", "0", "-f", "null", "-"],
        capture_output=True, text=True, errors="replace", timeout=600, check=False,
    )  # fmt: skip
    lines = re.split(r"[\r\n]+", done.stderr)
    head: list[str] = []
    for line in lines:
        if "Stream mapping:" in line or "Output #0" in line:
            break
        head.append(line)
    head_text = "\n".join(head)
    video_line = next((ln for ln in head if _VIDEO_RE.search(ln)), "")
    audio = _AUDIO_RE.search(head_text)
    fmt = _INPUT_RE.search(head_text)
    size = _SIZE_RE.search(video_line)
    fps = _FPS_RE.search(video_line)
    pix = _PIX_RE.search(video_line)
    frame_hits = _FRAME_RE.findall(done.stderr)
    times = list(_TIME_RE.finditer(done.stderr))
    video = _VIDEO_RE.search(video_line)
    return {
        "format": fmt.group(1) if fmt else None,
        "duration": _seconds(_DURATION_RE.search(head_text)),
        "video_codec": video.group(1) if video else None,
        "width": int(size.group(1)) if size else None,
        "height": int(size.group(2)) if size else None,
        "fps": float(fps.group(1)) if fps else None,
        "pix_fmt": pix.group(1) if pix else None,
        "audio_codec": audio.group(1) if audio else None,
        "frames": int(frame_hits[-1]) if frame_hits and video else None,
        "decoded_seconds": _seconds(times[-1]) if times else None,
        "errors": [ln for ln in lines if "[error]" in ln or "[fatal]" in ln],
        "returncode": done.returncode,
    }
