"""Notebook niceties: a live progress display for ``await aioremotion.render(...)`` in
Jupyter, and HTML reprs for events (a finished local render plays inline).

Nothing here is needed outside IPython; everything degrades to plain text.
"""

from __future__ import annotations

import html
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:  # the events call these functions from their _repr_html_()
    from .events import Done, Failed, Progress

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def in_notebook() -> bool:
    """Whether code runs inside an IPython kernel (Jupyter, VS Code notebooks, …)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_html(event: Progress) -> str:
    """A small HTML progress bar for a :class:`Progress` event."""
    percent = round(event.progress * 100, 1)
    eta = f", about {event.eta_seconds:.0f} s left" if event.eta_seconds else ""
    cost = f", {html.escape(event.cost_display)} so far" if event.cost_display else ""
    return (
        f'<div><progress value="{percent}" max="100" style="width:24em"></progress> '
        f"{percent}% · {event.frames_rendered} frames, {event.chunks} chunks{eta}{cost}</div>"
    )


def done_html(event: Done) -> str:
    """HTML for a finished render: the video inline when it was rendered locally (the
    emulator serves it), else a link."""
    url = html.escape(event.url, quote=True)
    size = f"{event.size / 1_000_000:.2f} MB"
    local = urlparse(event.url).hostname in LOCAL_HOSTS
    player = (f'<video src="{url}" controls style="max-width:480px;display:block"></video>'
              if local and event.url.endswith((".mp4", ".webm", ".mov")) else "")
    return f'{player}<div>Done: <a href="{url}" target="_blank">{url}</a> ({size})</div>'


def failed_html(event: Failed) -> str:
    """HTML for a failed render, with Remotion's explanation."""
    explanation = (f"<div><i>{html.escape(event.explanation)}</i></div>"
                   if event.explanation else "")
    return (f'<div style="color:#b00020"><b>Render failed:</b> '
            f"{html.escape(event.message)}</div>{explanation}")


class LiveProgress:
    """Shows and updates one progress line in a notebook cell (``on_progress`` callback)."""

    def __init__(self) -> None:
        self._handle: Any = None

    def __call__(self, event: Progress) -> None:
        from IPython.display import HTML, display

        if self._handle is None:
            self._handle = display(HTML(progress_html(event)), display_id=True)
        else:
            self._handle.update(HTML(progress_html(event)))
