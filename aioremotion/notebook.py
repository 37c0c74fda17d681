"""Notebook niceties: a live progress display for ``await aioremotion.render(...)`` in
Jupyter, and HTML reprs for events (a finished local render plays inline).

Nothing here is needed outside IPython; everything degrades to plain text.
"""

from __future__ import annotations

import sys
from typing import Any

from .protocol.events import (
    LOCAL_HOSTS,
    Done,
    Failed,
    Progress,
    done_html,
    failed_html,
    outcome_bar_html,
    progress_html,
    shown_progress,
)

__all__ = ["LOCAL_HOSTS", "LiveProgress", "done_html", "failed_html", "in_notebook",
           "outcome_bar_html", "progress_html"]


def in_notebook() -> bool:
    """Whether code runs inside an IPython kernel (Jupyter, VS Code notebooks, …)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveProgress:
    """One progress bar in a notebook cell, updated in place: call it with each event.

    :class:`Progress` moves the bar; :class:`Done` completes it (100%, with the cost);
    :class:`Failed` stops it where it was, in red, with the message and Remotion's
    explanation. (It is the ``on_progress`` callback ``aioremotion.render`` uses in a
    notebook, which also passes it the outcome.)

    Example::

        live = LiveProgress()
        async for event in watch(remotion, render, live_watch_options()):
            live(event)
    """

    def __init__(self) -> None:
        self._handle: Any = None
        self._progress = 0.0

    def __call__(self, event: Progress | Done | Failed) -> None:
        if isinstance(event, Progress):
            self._progress = shown_progress(event)
            self._show(progress_html(event))
        else:
            self._show(outcome_bar_html(event, self._progress))

    def _show(self, markup: str) -> None:
        from IPython.display import HTML, display

        if self._handle is None:
            self._handle = display(HTML(markup), display_id=True)
        else:
            self._handle.update(HTML(markup))
