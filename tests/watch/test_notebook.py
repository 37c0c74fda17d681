"""Notebook display: live progress in a cell, and inline video for local renders."""

from __future__ import annotations

import html
import sys
import types
from typing import Any

import pytest

import aioremotion.shortcuts
from aioremotion.emulator import RemotionEmulator
from aioremotion.events import Done, Failed, Progress, RenderFailed
from aioremotion.notebook import LiveProgress, in_notebook
from aioremotion.schedule import PollPolicy
from aioremotion.shortcuts import render
from aioremotion.watching import live_watch_options

from .test_watch import FAST


def test_html_reprs() -> None:
    local = Done(url="http://127.0.0.1:5000/b/renders/x/out.mp4", size=2_000_000)
    assert "<video" in local._repr_html_()
    remote = Done(url="https://s3.us-east-1.amazonaws.com/b/renders/x/out.mp4", size=1)
    assert "<video" not in remote._repr_html_()
    assert "<progress" in Progress(progress=0.5)._repr_html_()
    failed = Failed(message="boom <b>", explanation="why")._repr_html_()
    assert "boom &lt;b&gt;" in failed


class FakeDisplay:
    def __init__(self) -> None:
        self.shown: list[str] = []
        self.updates: list[str] = []

    def display(self, obj: Any, display_id: bool = False) -> Any:
        self.shown.append(obj.data)
        fake = self

        class Handle:
            def update(self, new: Any) -> None:
                fake.updates.append(new.data)

        return Handle()


@pytest.fixture
def fake_ipython(monkeypatch: pytest.MonkeyPatch) -> FakeDisplay:
    fake = FakeDisplay()
    ipython = types.ModuleType("IPython")
    display_mod = types.ModuleType("IPython.display")

    class HTML:
        def __init__(self, data: str) -> None:
            self.data = data

    display_mod.HTML = HTML  # type: ignore[attr-defined]
    display_mod.display = fake.display  # type: ignore[attr-defined]
    shell = types.SimpleNamespace(kernel=object())
    ipython.get_ipython = lambda: shell  # type: ignore[attr-defined]
    ipython.display = display_mod  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display_mod)
    return fake


async def test_render_in_a_notebook_shows_live_progress(
    emulator: RemotionEmulator, fake_ipython: FakeDisplay
) -> None:
    assert in_notebook()
    emulator.faults.slow_renders(20)
    async with emulator.client() as remotion:
        done = await render(client=remotion, serve_url=emulator.serve_url,
                            composition="HelloWorld", codec="h264", watch_options=FAST)
    assert fake_ipython.shown
    assert all("<progress" in html for html in fake_ipython.shown + fake_ipython.updates)
    last = fake_ipython.updates[-1]  # the bar ends full, with the cost, not at 90%
    assert 'value="100"' in last and "done" in last and done.cost_display
    assert html.escape(done.cost_display) in last
    assert "<video" in done._repr_html_()  # the emulator serves it locally


async def test_a_failed_render_in_a_notebook_ends_the_bar_in_red(
    emulator: RemotionEmulator, fake_ipython: FakeDisplay
) -> None:
    emulator.faults.fail_chunk(0, retryable=False, message="TypeError: x is undefined")
    async with emulator.client() as remotion:
        with pytest.raises(RenderFailed):
            await render(client=remotion, serve_url=emulator.serve_url,
                         composition="HelloWorld", codec="h264", watch_options=FAST)
    last = (fake_ipython.shown + fake_ipython.updates)[-1]
    assert "#b00020" in last and "Render failed:</b> TypeError: x is undefined" in last


async def test_a_notebook_polls_on_the_live_options(
    emulator: RemotionEmulator, fake_ipython: FakeDisplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    real_wait = aioremotion.shortcuts.wait

    async def spy(client: Any, handle: Any, options: Any = None, **kwargs: Any) -> Done:
        seen.append(options)
        return await real_wait(client, handle, options, **kwargs)

    monkeypatch.setattr(aioremotion.shortcuts, "wait", spy)
    async with emulator.client() as remotion:
        await render(client=remotion, serve_url=emulator.serve_url,
                     composition="HelloWorld", codec="h264")
    [options] = seen
    # the live display's options: the default reads, estimates between them (measured in
    # benchmarks/polling_cost.py), a heartbeat each second
    assert options == live_watch_options()
    assert options.policy == PollPolicy.default() and options.heartbeat_s == 1.0
    assert options.estimate_every_s == 0.25


def test_live_progress_updates_one_display(fake_ipython: FakeDisplay) -> None:
    live = LiveProgress()
    live(Progress(progress=0.1))
    live(Progress(progress=0.2, stage="frames", eta_seconds=75, cost_display="<$0.001"))
    assert len(fake_ipython.shown) == 1
    assert len(fake_ipython.updates) == 1
    assert "rendering" in fake_ipython.updates[-1] and "ETA 1:15" in fake_ipython.updates[-1]
    live(Done(url="https://x/out.mp4", size=1, cost_display="$0.002"))
    assert len(fake_ipython.shown) == 1  # still the same display
    assert 'value="100"' in fake_ipython.updates[-1]
    assert "done" in fake_ipython.updates[-1] and "$0.002" in fake_ipython.updates[-1]


def test_live_progress_shows_a_failure_where_it_stopped(fake_ipython: FakeDisplay) -> None:
    live = LiveProgress()
    live(Progress(progress=0.9))
    live(Failed(message="boom <b>", explanation="the browser crashed"))
    last = fake_ipython.updates[-1]
    assert 'value="90.0"' in last and "#b00020" in last
    assert "boom &lt;b&gt;" in last and "the browser crashed" in last
