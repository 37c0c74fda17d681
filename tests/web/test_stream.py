"""The render route as a stream: NDJSON (template-react-router's shapes) and Server-Sent
Events, errors before the start as JSON, the EventSource GET, and a client that goes away
stopping the watch at once without cancelling the render."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from aioremotion import RemotionLambda
from aioremotion.emulator import RemotionEmulator
from aioremotion.events import Done, Progress
from aioremotion.watching import live_watch_options
from aioremotion.web import create_app
from aioremotion.web._http import stream_format
from aioremotion.web.app import RemotionWeb

from .conftest import asgi_client, serve
from .test_web import running_app, web_config

NDJSON = {"accept": "application/x-ndjson"}
SSE = {"accept": "text/event-stream"}
BODY = {"id": "HelloWorld", "inputProps": {"title": "streamed"}}


def lines(text: str) -> list[dict[str, Any]]:
    """The events of an NDJSON body (every line a JSON object, the last one ended too)."""
    assert text.endswith("\n"), text[-80:]
    return [json.loads(line) for line in text.splitlines()]


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each Server-Sent Event."""
    found = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        assert set(fields) == {"event", "data"}, block
        found.append((fields["event"], json.loads(fields["data"])))
    return found


def check_template_shapes(events: list[dict[str, Any]], bucket: str) -> None:
    """started → progress (the template's shape, never decreasing, floored) → done."""
    started, *progress, done = events
    assert set(started) == {"type", "renderId", "bucketName"}
    assert started["type"] == "started" and started["bucketName"] == bucket
    assert progress, events
    for item in progress:
        assert set(item) == {"type", "progress"} and item["type"] == "progress"
        assert 0.03 <= item["progress"] <= 1
    values = [item["progress"] for item in progress]
    assert values == sorted(values)
    assert set(done) == {"type", "url", "size"} and done["type"] == "done"
    assert done["size"] > 0 and started["renderId"] in done["url"]


def reads(remotion: RemotionLambda) -> int:
    calls = remotion.transport.calls  # type: ignore[attr-defined]
    return int(calls["GetObject"] + calls["HeadObject"])


# ---------------------------------------------------------------- shapes


async def test_ndjson_stream_started_progress_done(emulator: RemotionEmulator) -> None:
    emulator.faults.slow_renders(100)  # ~1 s: progress is read before done
    async with running_app(emulator) as (http, _):
        with anyio.fail_after(60):
            response = await http.post("/api/lambda/render", json=BODY, headers=NDJSON)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["cache-control"].startswith("no-cache")
    check_template_shapes(lines(response.text), emulator.bucket)
    (start,) = emulator.server.invocations_of("start")
    assert json.loads(start.payload_json["inputProps"]["payload"]) == {"title": "streamed"}


async def test_sse_stream_names_each_event_by_its_type(emulator: RemotionEmulator) -> None:
    emulator.faults.slow_renders(100)  # about 1 s, as above
    async with running_app(emulator) as (http, _):
        with anyio.fail_after(60):
            response = await http.post("/api/lambda/render", json=BODY, headers=SSE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert all(name == data["type"] for name, data in events)
    check_template_shapes([data for _, data in events], emulator.bucket)


async def test_without_the_accept_header_the_nextjs_json_answer_is_unchanged(
    emulator: RemotionEmulator,
) -> None:
    async with running_app(emulator) as (http, _):
        for headers in ({}, {"accept": "application/json"}, {"accept": "*/*"},
                        {"accept": "application/x-ndjson;q=0"}):
            response = await http.post("/api/lambda/render", json=BODY, headers=headers)
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            body = response.json()
            assert set(body) == {"type", "data"} and body["type"] == "success"
            assert body["data"]["bucketName"] == emulator.bucket


async def test_errors_before_the_start_are_json_not_a_stream(emulator: RemotionEmulator) -> None:
    emulator.faults.throttle_next(0)
    async with running_app(emulator, web_config(emulator, allowed_compositions=["HelloWorld"])
                           ) as (http, _):
        for headers in (NDJSON, SSE):
            bad = await http.post("/api/lambda/render", json={"id": "Nope"}, headers=headers)
            assert bad.status_code == 400
            assert bad.headers["content-type"] == "application/json"
            assert set(bad.json()) == {"type", "message"} and bad.json()["type"] == "error"
            props = await http.post("/api/lambda/render",
                                    json={"id": "HelloWorld", "inputProps": [1]},
                                    headers=headers)
            assert props.status_code == 400 and "inputProps" in props.json()["message"]
    assert not emulator.server.invocations_of("start")


async def test_a_refused_start_is_a_500_json_answer(emulator: RemotionEmulator) -> None:
    async with running_app(emulator, web_config(emulator, function_name="remotion-render-"
                                                "4-0-527-mem2048mb-disk2048mb-120sec-x")
                           ) as (http, _):
        response = await http.post("/api/lambda/render", json=BODY, headers=NDJSON)
    assert response.status_code >= 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["type"] == "error" and response.json()["message"]


async def test_a_failed_render_ends_the_stream_with_an_error_line(
    emulator: RemotionEmulator,
) -> None:
    emulator.faults.fail_chunk(0, retryable=False, message="The composition crashed")
    async with running_app(emulator) as (http, _):
        with anyio.fail_after(60):
            response = await http.post("/api/lambda/render", json=BODY, headers=NDJSON)
    assert response.status_code == 200
    events = lines(response.text)
    assert events[0]["type"] == "started"
    assert set(events[-1]) == {"type", "message"} and events[-1]["type"] == "error"
    assert "The composition crashed" in events[-1]["message"]


async def test_event_source_get_streams_a_started_render(emulator: RemotionEmulator) -> None:
    async with running_app(emulator) as (http, _):
        data = (await http.post("/api/lambda/render", json=BODY)).json()["data"]
        params = {"id": data["renderId"], "bucketName": data["bucketName"]}
        with anyio.fail_after(60):
            # what EventSource sends: a GET with Accept: text/event-stream
            response = await http.get("/api/lambda/progress", params=params, headers=SSE)
            as_ndjson = await http.get("/api/lambda/progress", params=params, headers=NDJSON)
        bad = await http.get("/api/lambda/progress",
                             params={"id": "../x", "bucketName": data["bucketName"]})
        unknown = await http.get("/api/lambda/progress",
                                 params={"id": data["renderId"],
                                         "bucketName": "remotionlambda-useast1-zzzzzzzzzz"})
    events = sse_events(response.text)
    assert events[0] == ("started", {"type": "started", **{
        "renderId": data["renderId"], "bucketName": data["bucketName"]}})
    assert events[-1][0] == "done"
    assert lines(as_ndjson.text)[-1]["type"] == "done"
    assert bad.status_code == 400 and bad.json()["type"] == "error"
    assert unknown.status_code == 400


def test_accept_negotiation() -> None:
    assert stream_format("application/json, application/x-ndjson") == "application/x-ndjson"
    assert stream_format("text/event-stream") == "text/event-stream"
    assert stream_format("APPLICATION/X-NDJSON; charset=utf-8") == "application/x-ndjson"
    assert stream_format("application/json") is None


# ---------------------------------------------------------------- the one watch


async def test_progress_never_decreases_in_the_stream(
    emulator: RemotionEmulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever the watch says, the stream's progress does not go back."""

    async def jumpy(self: RemotionWeb, handle: Any) -> AsyncIterator[Progress | Done]:
        for value in (0.5, 0.4, 0.7, 0.6):
            yield Progress(progress=value)
        yield Done(url="https://x/out.mp4", size=3)

    monkeypatch.setattr(RemotionWeb, "_watch", jumpy)
    async with running_app(emulator) as (http, _):
        response = await http.post("/api/lambda/render", json=BODY, headers=NDJSON)
    progress = [e["progress"] for e in lines(response.text) if e["type"] == "progress"]
    assert progress == [0.5, 0.5, 0.7, 0.7]


async def test_the_stream_watches_through_the_hub_when_the_app_has_one(
    emulator: RemotionEmulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aioremotion.web.app as app_module

    seen: list[dict[str, Any]] = []
    real_watch = app_module.watch

    def spy(client: Any, handle: Any, options: Any = None, **kwargs: Any) -> Any:
        seen.append({"options": options, **kwargs})
        kwargs.pop("hub", None)   # watch() takes hub= from the hub release on
        return real_watch(client, handle, options, **kwargs)

    monkeypatch.setattr(app_module, "watch", spy)
    hub = object()
    async with emulator.client() as remotion:
        app = create_app(web_config(emulator), client=remotion)
        app.state.remotion_web.hub = None   # no hub: watch() is called without one
        async with asgi_client(app) as http:
            with anyio.fail_after(60):
                await http.post("/api/lambda/render", json=BODY, headers=NDJSON)
                app.state.remotion_web.hub = hub
                await http.post("/api/lambda/render", json=BODY, headers=NDJSON)
    assert [call.get("hub") for call in seen] == [None, hub]
    options = seen[0]["options"]
    live = live_watch_options()
    assert options.policy == live.policy        # a live display's reads ...
    assert options.estimate_every_s == live.estimate_every_s is not None  # ... and estimates
    assert options.progress_floor == 0.03       # the template's floor
    assert options.heartbeat_s is not None


# ---------------------------------------------------------------- disconnects


async def test_a_client_that_disconnects_stops_the_watch_and_not_the_render(
    emulator: RemotionEmulator,
) -> None:
    emulator.faults.slow_renders(200)   # still rendering long after the client left
    closed = anyio.Event()
    async with emulator.client() as remotion:
        app = create_app(web_config(emulator, render_options={"enable_cancellation": True}),
                         client=remotion)
        web: RemotionWeb = app.state.remotion_web
        real_watch = web._watch

        async def observed(handle: Any) -> AsyncIterator[Any]:
            try:
                async for event in real_watch(handle):
                    yield event
            finally:
                closed.set()

        web._watch = observed  # type: ignore[method-assign,assignment]
        async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
            with anyio.fail_after(60):
                async with http.stream("POST", "/api/lambda/render", json=BODY,
                                       headers=NDJSON) as response:
                    assert response.status_code == 200
                    seen = []
                    async for line in response.aiter_lines():
                        seen.append(json.loads(line))
                        if seen[-1]["type"] == "progress":
                            break   # leaving the block closes the connection
                await closed.wait()    # the server noticed, and stopped the watch
                before = reads(remotion)
                await emulator.wait_for_renders()
            assert reads(remotion) == before, "the watch went on after the client left"
            render_id = seen[0]["renderId"]
            progress = await remotion.get_progress(render_id, bucket_name=emulator.bucket)
            assert progress.done and not progress.fatal_error_encountered  # not cancelled


async def test_a_disconnect_is_noticed_while_nothing_is_being_written(
    emulator: RemotionEmulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The watch is stopped by the disconnect itself, not by a later failed write: here
    the watch goes silent after the first progress, and is still closed at once."""
    closed = anyio.Event()

    async def silent(self: RemotionWeb, handle: Any) -> AsyncIterator[Progress]:
        try:
            yield Progress(progress=0.25)
            await anyio.sleep_forever()
            yield Progress(progress=0.5)  # never reached
        finally:
            closed.set()

    monkeypatch.setattr(RemotionWeb, "_watch", silent)
    async with emulator.client() as remotion:
        app = create_app(web_config(emulator), client=remotion)
        async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
            with anyio.fail_after(30):
                async with http.stream("POST", "/api/lambda/render", json=BODY,
                                       headers=NDJSON) as response:
                    async for line in response.aiter_lines():
                        if json.loads(line)["type"] == "progress":
                            break
                await closed.wait()


async def test_event_source_get_of_an_unknown_render_is_404_json(
    emulator: RemotionEmulator,
) -> None:
    async with running_app(emulator) as (http, _):
        response = await http.get("/api/lambda/progress", headers=SSE,
                                  params={"id": "abcdefghij", "bucketName": emulator.bucket})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["type"] == "error"


async def test_a_watch_that_gives_up_ends_the_stream_with_an_error_line(
    emulator: RemotionEmulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aioremotion.watching import WatchError

    async def gives_up(self: RemotionWeb, handle: Any) -> AsyncIterator[Progress]:
        yield Progress(progress=0.2)
        raise WatchError("S3 kept failing", render=handle)

    monkeypatch.setattr(RemotionWeb, "_watch", gives_up)
    async with running_app(emulator) as (http, _):
        response = await http.post("/api/lambda/render", json=BODY, headers=NDJSON)
    assert response.status_code == 200
    assert [e["type"] for e in lines(response.text)] == ["started", "progress", "error"]
    assert lines(response.text)[-1] == {"type": "error", "message": "S3 kept failing"}
