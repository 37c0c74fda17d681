"""Render a tmux pane (with its colours) to a PNG, for the README's screenshots.

Usage::

    tmux capture-pane -e -p -t SESSION > pane.ans
    python docs/screenshots/tmux_to_png.py pane.ans cli-bar.png

Only what a progress bar uses is understood: SGR reset, bold, and the 8/16 basic and 256
palette foreground colours.  Needs Pillow (part of the ``emulator`` extra) and a monospace
TrueType font (DejaVu Sans Mono on Debian; pass ``--font`` otherwise).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_BASIC = [(0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200),
          (188, 63, 188), (17, 168, 205), (229, 229, 229)]
_BRIGHT = [(102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67), (59, 142, 234),
           (214, 112, 214), (41, 184, 219), (255, 255, 255)]
_FG = (204, 204, 204)
_BG = (30, 30, 30)


def _palette_256(n: int) -> tuple[int, int, int]:
    if n < 8:
        return _BASIC[n]
    if n < 16:
        return _BRIGHT[n - 8]
    if n < 232:
        n -= 16
        steps = (0, 95, 135, 175, 215, 255)
        return steps[n // 36], steps[(n // 6) % 6], steps[n % 6]
    level = 8 + (n - 232) * 10
    return level, level, level


def _spans(line: str, fg: tuple[int, int, int]) -> tuple[list[tuple[str, tuple[int, int, int]]],
                                                          tuple[int, int, int]]:
    spans: list[tuple[str, tuple[int, int, int]]] = []
    pos = 0
    for match in _SGR.finditer(line):
        if match.start() > pos:
            spans.append((line[pos:match.start()], fg))
        codes = [int(c) if c else 0 for c in match.group(1).split(";")]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code in (0, 39):
                fg = _FG
            elif 30 <= code <= 37:
                fg = _BASIC[code - 30]
            elif 90 <= code <= 97:
                fg = _BRIGHT[code - 90]
            elif code == 38 and i + 2 < len(codes) and codes[i + 1] == 5:
                fg = _palette_256(codes[i + 2])
                i += 2
            elif code == 38 and i + 4 < len(codes) and codes[i + 1] == 2:
                fg = (codes[i + 2], codes[i + 3], codes[i + 4])
                i += 4
            i += 1
        pos = match.end()
    if pos < len(line):
        spans.append((line[pos:], fg))
    return spans, fg


def render(text: str, out: Path, font_path: str, size: int = 16) -> None:
    """Draw ``text`` (lines with SGR colour codes) on a dark background into ``out``."""
    font = ImageFont.truetype(font_path, size)
    lines = text.rstrip("\n").split("\n")
    while lines and not _SGR.sub("", lines[-1]).strip():
        lines.pop()
    cell_w = round(font.getlength("M"))
    cell_h = size + 6
    cols = max((len(_SGR.sub("", line)) for line in lines), default=1)
    image = Image.new("RGB", (cell_w * cols + 24, cell_h * len(lines) + 24), _BG)
    draw = ImageDraw.Draw(image)
    fg = _FG
    for row, line in enumerate(lines):
        x = 12
        spans, fg = _spans(line, fg)
        for chunk, colour in spans:
            draw.text((x, 12 + row * cell_h), chunk, font=font, fill=colour)
            x += cell_w * len(chunk)
    image.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pane", type=Path, help="output of tmux capture-pane -e -p")
    parser.add_argument("png", type=Path)
    parser.add_argument("--font", default="/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
    args = parser.parse_args()
    render(args.pane.read_text(encoding="utf-8"), args.png, args.font)


if __name__ == "__main__":
    main()
