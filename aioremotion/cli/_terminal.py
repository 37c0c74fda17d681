"""A live region at the bottom of a terminal: lines redrawn in place, notes printed above.

The command line's progress display, without a dependency: a single render is one line
redrawn with ``\\r`` and an erase; a batch is a block of lines, redrawn by moving the
cursor up over it first. Lines are cut to the terminal's width (a wrapped line would
break the count of lines to move up over), redraws are limited to :data:`MAX_REDRAWS_S`
a second, and the last state is always drawn when the region closes.

Example:
    >>> import io
    >>> class Tty(io.StringIO):
    ...     def isatty(self) -> bool:
    ...         return True
    >>> out = Tty()
    >>> with LiveRegion(out, width=lambda: 20, clock=lambda: 0.0) as region:
    ...     region.update(["a" * 30])
    ...     region.note("hello")
    >>> out.getvalue()
    'aaaaaaaaaaaaaaaaaa…\\r\\x1b[Jhello\\naaaaaaaaaaaaaaaaaa…\\n'
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from typing import IO

__all__ = ["MAX_REDRAWS_S", "LiveRegion", "bar", "terminal_size"]

#: At most this many redraws a second (each one rewrites the whole region).
MAX_REDRAWS_S = 10.0

_ERASE_DOWN = "\x1b[J"  # erase from the cursor to the end of the screen


def terminal_size(stream: IO[str]) -> tuple[int, int]:
    """(columns, lines) of the terminal ``stream`` writes to: ``shutil.get_terminal_size``
    (``COLUMNS``/``LINES``, else stdout's terminal), else the stream's own terminal (stdout
    is often redirected: it carries the output's path), else 80x24."""
    columns, lines = shutil.get_terminal_size((0, 0))
    if columns > 0 and lines > 0:
        return columns, lines
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return columns or 80, lines or 24
    return columns or size.columns or 80, lines or size.lines or 24


def bar(fraction: float, width: int, *, unicode: bool = True) -> str:
    """A bar ``width`` characters wide, filled to ``fraction`` (in eighths with unicode).

    >>> bar(0.5, 8), bar(0.5, 8, unicode=False), bar(1 / 16, 4)
    ('████░░░░', '####----', '▎░░░')
    """
    fraction = min(1.0, max(0.0, fraction))
    if not unicode:
        full = round(fraction * width)
        return "#" * full + "-" * (width - full)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return ("█" * full + partial + "░" * width)[:width]


def supports_unicode(stream: IO[str]) -> bool:
    """Whether ``stream`` can encode the bar's block characters."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    try:
        "█▏░…".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return False
    return True


class LiveRegion:
    """Lines kept up to date at the bottom of ``stream`` (a terminal); use it with ``with``.

    :meth:`update` sets the lines (drawn at once, or at the next chance when the last
    redraw was less than ``1 / max_redraws_s`` ago); :meth:`note` prints a line above
    them; leaving the ``with`` block draws the last lines and moves below them.
    ``width`` and ``height`` (the terminal's, by default) and ``clock`` may be injected.
    """

    def __init__(self, stream: IO[str], *, clock: Callable[[], float] = time.monotonic,
                 width: Callable[[], int] | None = None, height: Callable[[], int] | None = None,
                 max_redraws_s: float = MAX_REDRAWS_S) -> None:
        self.stream = stream
        self._clock = clock
        self._width = width or (lambda: terminal_size(stream)[0])
        self._height = height or (lambda: terminal_size(stream)[1])
        self._interval = 1.0 / max_redraws_s
        self._lines: list[str] = []
        self._drawn = 0  # lines on the screen now
        self._last_draw: float | None = None
        self._stale = False  # lines set but not drawn yet
        self.unicode = supports_unicode(stream)

    @property
    def width(self) -> int:
        """The columns a line may use (one less than the terminal's: writing the last
        column wraps on some terminals)."""
        return max(10, self._width() - 1)

    @property
    def height(self) -> int:
        """The terminal's lines."""
        return max(3, self._height())

    def __enter__(self) -> LiveRegion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, lines: Sequence[str], *, force: bool = False) -> None:
        """Show ``lines`` (now, or within ``1 / max_redraws_s`` s; ``force``: now)."""
        self._lines = list(lines)
        self._stale = True
        now = self._clock()
        if force or self._last_draw is None or now - self._last_draw >= self._interval:
            self._write(self._erase() + self._render())
            self._last_draw = now

    def note(self, text: str) -> None:
        """Print ``text`` above the region (which is drawn again below it)."""
        self._write(self._erase() + text + "\n" + self._render())

    def close(self) -> None:
        """Draw the last lines (if not drawn yet) and move the cursor below them."""
        if self._stale:
            self._write(self._erase() + self._render())
        if self._drawn:
            self._write("\n")
        self._drawn = 0

    def _erase(self) -> str:
        if not self._drawn:
            return ""
        up = f"\x1b[{self._drawn - 1}A" if self._drawn > 1 else ""
        return "\r" + up + _ERASE_DOWN

    def _render(self) -> str:
        width, ellipsis = self.width, "…" if self.unicode else "~"
        lines = [_cut(line, width, ellipsis) for line in self._lines[: self.height - 1]]
        self._drawn = len(lines)
        self._stale = False
        return "\n".join(lines)

    def _write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self.stream.flush()


def _cut(line: str, width: int, ellipsis: str) -> str:
    return line if len(line) <= width else line[: width - 1] + ellipsis
