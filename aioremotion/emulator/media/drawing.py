"""The built-in compositions, ``HelloWorld`` and ``Square``, and how they draw a frame:
CSS colours, text and disc masks blended onto a background (numpy and Pillow).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .compositions import Composition, CompositionRegistry

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .compositions import Frame

__all__ = [
    "default_registry",
    "parse_color",
]

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

