"""The built-in compositions, ``HelloWorld`` and ``Square``, and how they draw a frame:
CSS colours, and text and disc masks blended onto a background, with Pillow alone.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .compositions import Composition, CompositionRegistry

if TYPE_CHECKING:
    from PIL import Image

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


def _text_mask(text: str, height: int, max_width: int) -> Image.Image | None:
    """Alpha mask (``L``) of ``text`` about ``height`` px tall, at most ``max_width`` wide,
    cropped to its ink; ``None`` if it has none."""
    from PIL import Image, ImageDraw

    def render(size: int) -> Image.Image:
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
    box = img.getbbox()
    return img.crop(box) if box else None


def _disc_mask(radius: int) -> Image.Image:
    """Anti-aliased filled circle, ``2r x 2r`` (drawn 4x larger, then box-filtered)."""
    from PIL import Image, ImageDraw

    d = 2 * radius
    big = Image.new("L", (4 * d, 4 * d), 0)
    ImageDraw.Draw(big).ellipse((0, 0, 4 * d - 1, 4 * d - 1), fill=255)
    return big.resize((d, d), Image.Resampling.BOX)


def _faded(mask: Image.Image, opacity: float) -> Image.Image:
    """``mask`` with every alpha scaled by ``opacity`` (0..1)."""
    if opacity >= 1:
        return mask
    return mask.point([round(v * opacity) for v in range(256)])


@dataclass(frozen=True)
class _HelloLayers:
    background: Image.Image
    title: Image.Image | None
    title_rgb: tuple[int, int, int]
    disc: Image.Image


@functools.lru_cache(maxsize=16)
def _hello_layers(
    title: str, title_rgb: tuple[int, int, int], bg_rgb: tuple[int, int, int], w: int, h: int
) -> _HelloLayers:
    """What every frame of one HelloWorld render shares; never mutated (frames are drawn
    on copies, in several worker threads at once)."""
    from PIL import Image

    background = Image.new("RGB", (w, h), bg_rgb)
    mask = _text_mask(title, max(6, round(h * 0.1)), max(1, round(w * 0.9))) if title else None
    return _HelloLayers(background, mask, title_rgb, _disc_mask(max(1, round(h / 18))))


class _HelloWorldDraw:
    """Background colour, the title sliding up and fading in, a travelling disc and a
    progress bar: every frame differs, and only small regions are blended per frame."""

    def __init__(self, duration_in_frames: int, fps: float) -> None:
        self.duration = duration_in_frames
        self.intro = max(1, round(fps * 2 / 3))  # the title's entrance takes 2/3 s

    def __call__(self, frame: int, props: dict[str, Any], size: tuple[int, int]) -> Image.Image:
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
        out = layers.background.copy()
        color = layers.title_rgb
        # Title: ease-out slide up by 8% of the height while fading in.
        p = min(1.0, frame / self.intro)
        ease = 1.0 - (1.0 - p) ** 3
        if layers.title is not None and ease > 0:
            tw, th = layers.title.size
            x = (w - tw) // 2
            y = round(h * 0.42 - th / 2 + (1.0 - ease) * h * 0.08)
            out.paste(color, (x, y), _faded(layers.title, ease))
        # Disc: crosses the width once over the composition (smoothstep).
        u = frame / max(1, self.duration - 1)
        s = u * u * (3.0 - 2.0 * u)
        d = layers.disc.width
        out.paste(color, (round(s * (w - d)), round(h * 0.68 - d / 2)), layers.disc)
        # Progress bar along the bottom.
        bar_h = max(1, round(h / 90))
        bar_w = round(w * (frame + 1) / self.duration)
        if bar_w > 0:
            out.paste(color, (0, h - 2 * bar_h, bar_w, h - bar_h))
        return out


class _SquareDraw:
    """A square crossing a plain background: almost free to draw."""

    def __init__(self, duration_in_frames: int) -> None:
        self.duration = duration_in_frames

    def __call__(self, frame: int, props: dict[str, Any], size: tuple[int, int]) -> Image.Image:
        from PIL import Image

        w, h = size
        out = Image.new("RGB", size, parse_color(props.get("backgroundColor"),
                                                 prop="backgroundColor"))
        fg = parse_color(props.get("color"), prop="color")
        side = max(1, h // 3)
        x = round((w - side) * frame / max(1, self.duration - 1))
        y = (h - side) // 2
        out.paste(fg, (x, y, x + side, y + side))
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

