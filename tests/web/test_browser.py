"""The demo page in a real browser: Debian's Chromium driven by Playwright, the app on
uvicorn, the emulator encoding real H.264 (the template's flow, end to end)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.web import WebConfig, create_app
from aioremotion.web.app import RemotionWeb

from .conftest import serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: Where the screenshots go (AIOREMOTION_SCREENSHOT_DIR=docs/screenshots refreshes the
#: README's).
SCREENSHOTS = Path(os.environ.get("AIOREMOTION_SCREENSHOT_DIR", "/tmp"))

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing: install it with "
           "`apt-get install -y --no-install-recommends chromium` (.ci/run does)",
)

playwright_api = pytest.importorskip("playwright.async_api",
                                     reason="playwright is not installed (the test extra)")


@pytest.fixture
async def served(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, RemotionEmulator]]:
    """The app (settings from the environment, its own client) on uvicorn, in front of an
    emulator that encodes real video."""
    config = EmulatorConfig(real_encoding=True, progress_write_interval_s=0.1)
    async with RemotionEmulator(config=config) as emulator:
        for name, value in emulator.env.items():
            monkeypatch.setenv(name, value)
        app = create_app(WebConfig.from_env(composition="HelloWorld"))
        async with serve(app) as base_url:
            yield base_url, emulator


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def test_render_a_video_from_the_demo_page(
    served: tuple[str, RemotionEmulator], browser: Any
) -> None:
    base_url, emulator = served
    page = await browser.new_page(viewport={"width": 900, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requests: list[Any] = []
    page.on("request", lambda request: requests.append(request))
    await page.goto(base_url + "/")
    # the bar's width animates: no animation, so a screenshot shows the width it reached
    await page.add_style_tag(content="* { transition: none !important; }")
    assert await page.text_content("#composition") == "HelloWorld"

    await page.fill("#title", "Rendered from Chromium")
    await page.click("#render")
    # the bar moves: a streamed progress event above 0 while rendering
    await page.wait_for_function(
        "Number(document.getElementById('progress').dataset.progress) > 0", timeout=30_000)
    assert await page.is_disabled("#render")
    # the README's mid-render picture: a bar well under way (unless it finished first)
    await page.wait_for_function(
        "Number(document.getElementById('progress').dataset.progress) >= 0.2"
        " || document.getElementById('video').hasAttribute('src')", timeout=60_000)
    if await page.get_attribute("#video", "src") is None:
        await page.screenshot(path=str(SCREENSHOTS / "demo-page-mid-render.png"))

    # done: the player gets the output and loads it
    await page.wait_for_selector("#video[src]", state="attached", timeout=60_000)
    await page.wait_for_function("document.getElementById('video').readyState >= 1",
                                 timeout=30_000)
    video = await page.evaluate(
        """() => { const v = document.getElementById('video');
                   return {src: v.src, duration: v.duration, width: v.videoWidth,
                           height: v.videoHeight, error: v.error && v.error.code}; }""")
    assert video["error"] is None
    assert video["duration"] == pytest.approx(5, abs=0.2)      # 150 frames at 30 fps
    assert (video["width"], video["height"]) == (1280, 720)
    # frames decode: seek to the middle (the title is in) and wait for the frame
    decoded = await page.evaluate(
        """() => new Promise((resolve) => {
               const v = document.getElementById('video');
               v.addEventListener('seeked', () => resolve(v.readyState), {once: true});
               v.currentTime = 2.5; })""")
    assert decoded >= 2   # HAVE_CURRENT_DATA
    await page.screenshot(path=str(SCREENSHOTS / "demo-page-done.png"))

    states = await page.evaluate("window.renderStates.map(s => [s.status, s.progress])")
    statuses = [status for status, _ in states]
    assert statuses[:3] == ["init", "invoking", "rendering"]
    assert statuses[-1] == "done"
    progresses = [progress for status, progress in states if status == "rendering"]
    assert any(0 < progress < 1 for progress in progresses), states
    assert progresses == sorted(progresses)
    assert len(set(progresses)) > 2, states   # it rose step by step, not in one jump

    # one streamed request (NDJSON), no polling of the progress route
    api = [(r.method, r.url.removeprefix(base_url), r.headers.get("accept"))
           for r in requests if "/api/" in r.url]
    assert api == [("POST", "/api/lambda/render", "application/x-ndjson")]
    assert not await page.is_visible("#error")

    # the download link serves the file the player shows, with the template's file name
    href = await page.get_attribute("#download", "href")
    assert href == video["src"]
    async with httpx.AsyncClient() as http:
        download = await http.get(href)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert 'filename="video.mp4"' in download.headers["content-disposition"]
    assert download.content[4:8] == b"ftyp"
    size_text = await page.text_content("#size")
    assert size_text and size_text.endswith("KB")

    # the render got the title typed into the page
    (start,) = emulator.server.invocations_of("start")
    assert "Rendered from Chromium" in start.payload.decode()

    await page.click("#reset")
    assert await page.is_visible("#render") and not await page.is_disabled("#render")
    assert not await page.is_visible("#result")
    assert errors == []


async def test_errors_are_shown_on_the_page(
    served: tuple[str, RemotionEmulator], browser: Any
) -> None:
    base_url, emulator = served
    emulator.faults.fail_chunk(0, retryable=False, message="The composition crashed")
    page = await browser.new_page()
    await page.goto(base_url + "/")
    await page.click("#render")
    await page.wait_for_selector("#error", state="visible", timeout=60_000)
    message = await page.text_content("#error-message")
    assert message and "The composition crashed" in message
    assert not await page.is_disabled("#render")
    assert await page.get_attribute("#video", "src") is None


async def test_event_source_follows_a_render_started_with_a_post(
    served: tuple[str, RemotionEmulator], browser: Any
) -> None:
    """The SSE route as a page's EventSource sees it: start with the JSON POST, then
    listen on GET /api/lambda/progress; progress rises, the last event is done."""
    base_url, _ = served
    page = await browser.new_page()
    await page.goto(base_url + "/")
    events = await page.evaluate(
        """async () => {
            const started = await fetch("/api/lambda/render", {
                method: "POST", headers: {"content-type": "application/json"},
                body: JSON.stringify({inputProps: {title: "EventSource"}})});
            const {data} = await started.json();
            const url = `/api/lambda/progress?id=${encodeURIComponent(data.renderId)}` +
                        `&bucketName=${encodeURIComponent(data.bucketName)}`;
            return await new Promise((resolve, reject) => {
                const seen = [];
                const source = new EventSource(url);
                for (const name of ["started", "progress", "done", "error"]) {
                    source.addEventListener(name, (event) => {
                        seen.push([name, JSON.parse(event.data)]);
                        if (name === "done" || name === "error") {
                            source.close();
                            resolve(seen);
                        }
                    });
                }
                source.onerror = () => { source.close(); reject(new Error("EventSource failed")); };
            });
        }""")
    names = [name for name, _ in events]
    assert names[0] == "started" and names[-1] == "done", names
    progress = [data["progress"] for name, data in events if name == "progress"]
    assert progress and progress == sorted(progress)
    assert all(name == data["type"] for name, data in events)


async def test_leaving_the_page_mid_render_stops_the_servers_watch(
    served: tuple[str, RemotionEmulator], browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A visitor who closes the tab: the browser drops the stream, the server's watch
    stops at once, and the render still finishes (nobody cancelled it)."""
    base_url, emulator = served
    closed = anyio.Event()
    seen: list[str] = []
    real_watch = RemotionWeb._watch

    async def observed(self: RemotionWeb, handle: Any) -> AsyncIterator[Any]:
        try:
            async for event in real_watch(self, handle):
                seen.append(event.type)
                yield event
        finally:
            closed.set()

    monkeypatch.setattr(RemotionWeb, "_watch", observed)
    page = await browser.new_page()
    await page.goto(base_url + "/")
    await page.click("#render")
    await page.wait_for_function(
        "Number(document.getElementById('progress').dataset.progress) > 0", timeout=30_000)
    render_id = await page.evaluate("window.renderStates.find((s) => s.renderId).renderId")
    await page.close()
    with anyio.fail_after(30):
        await closed.wait()
        # stopped by the disconnect, not by the render's end
        assert seen and set(seen) == {"progress"}, seen
        await emulator.wait_for_renders()
    async with emulator.client() as remotion:
        progress = await remotion.get_progress(render_id, bucket_name=emulator.bucket)
    assert progress.done and not progress.fatal_error_encountered
