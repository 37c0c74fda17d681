"""Notebook niceties: a live progress display for ``await aioremotion.render(...)`` in
Jupyter, and HTML reprs for events (a finished local render plays inline).

Nothing here is needed outside IPython; everything degrades to plain text.
"""

from __future__ import annotations

import sys
from typing import Any

from .protocol.events import (
    LOCAL_HOSTS,
    Progress,
    done_html,
    failed_html,
    progress_html,
)

__all__ = ["LOCAL_HOSTS", "LiveProgress", "done_html", "failed_html", "in_notebook",
           "progress_html"]


def in_notebook() -> bool:
    """Whether code runs inside an IPython kernel (Jupyter, VS Code notebooks, …)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


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
