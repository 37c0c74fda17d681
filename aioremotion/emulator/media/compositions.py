"""The compositions of the emulated site: :class:`Composition` (size, fps, duration,
default props and a ``draw`` function) and :class:`CompositionRegistry`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .deps import require_extra

if TYPE_CHECKING:
    from PIL import Image

    Frame = Image.Image
    DrawFn = Callable[[int, dict[str, Any], tuple[int, int]], Image.Image]
else:  # Pillow is optional at run time; these keep typing.get_type_hints() working
    Frame = Any
    DrawFn = Callable[[int, dict[str, Any], tuple[int, int]], Any]


__all__ = [
    "Composition",
    "CompositionRegistry",
    "DrawFn",
    "Frame",
]

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
        draw: ``draw(frame, props, (width, height)) -> PIL.Image.Image``, an ``RGB`` image
            of exactly that size, called with the merged props and the output size (already
            scaled); ``None`` renders black.  It runs in a worker thread, possibly in
            several at once (one per chunk), so it must not mutate shared state.  An
            ``HxWx3`` ``uint8`` array (numpy) is accepted too and converted with
            ``PIL.Image.fromarray``; aioremotion itself never needs numpy.

    Example::

        from PIL import Image, ImageDraw

        def draw(frame: int, props: dict, size: tuple[int, int]) -> Image.Image:
            img = Image.new("RGB", size, props["background"])
            ImageDraw.Draw(img).text((10, 10), f"frame {frame}", fill="white")
            return img

        comp = Composition("Counter", 320, 180, 30, 60, {"background": "#222222"}, draw)
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

    def slowed(self, seconds: float) -> Composition:
        """A copy whose every frame takes ``seconds`` longer to draw (simulated work, slept
        in the drawing thread; the emulator's frame cost in real-encoding mode).

        Example::

            slow = default_registry().get("Square").slowed(0.01)   # 10 ms more a frame
        """
        draw = self.draw

        def slow_draw(frame: int, props: dict[str, Any], size: tuple[int, int]) -> Frame:
            time.sleep(seconds)
            if draw is None:
                from PIL import Image

                return Image.new("RGB", size)
            return draw(frame, props, size)

        return dataclasses.replace(self, draw=slow_draw)

    def render_frame(
        self,
        frame: int,
        props: Mapping[str, Any] | None = None,
        *,
        size: tuple[int, int] | None = None,
    ) -> Frame:
        """Draw one frame (merged props, ``size`` defaults to the composition's).

        Returns an ``RGB`` Pillow image of ``size``; raises ``ValueError`` for a frame
        outside the composition, bad props or a ``draw`` that returns something else.

        Example::

            img = default_registry().get("Square").render_frame(0)   # img.size == (160, 90)
        """
        require_extra("Pillow")
        from PIL import Image

        if not 0 <= frame < self.duration_in_frames:
            raise ValueError(
                f"frame {frame} is outside composition {self.id!r} "
                f"(0..{self.duration_in_frames - 1})"
            )
        width, height = size or (self.width, self.height)
        merged = self.merge_props(props)
        if self.draw is None:
            return Image.new("RGB", (width, height))
        out: Any = self.draw(frame, merged, (width, height))
        if not isinstance(out, Image.Image) and hasattr(out, "__array_interface__"):
            out = Image.fromarray(out)  # a numpy array from an older draw function
        if not (isinstance(out, Image.Image) and out.mode == "RGB"
                and out.size == (width, height)):
            got = (f"a {out.mode} image of {out.size}" if isinstance(out, Image.Image)
                   else type(out).__name__)
            raise ValueError(
                f"composition {self.id!r}: draw returned {got}, "
                f"expected an RGB image of {(width, height)}"
            )
        return out


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

