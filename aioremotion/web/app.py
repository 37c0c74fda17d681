"""The web backend: the API of Remotion's Next.js template (and the render stream of its
React Router template), on Starlette.

Routes (the templates' contract; every reply is JSON, or a stream of JSON events when the
request's ``Accept`` asks for one):

``POST /api/lambda/render``
    ``{"id": <composition>, "inputProps": {...}}`` starts a render and answers
    ``{"type":"success","data":{"renderId":…,"bucketName":…,"cloudWatchLogs":…,…}}``
    (what ``renderMediaOnLambda`` resolves to in JavaScript).
    With ``Accept: application/x-ndjson`` the same request answers a stream instead,
    template-react-router's: one JSON object a line, ``{"type":"started","renderId":…,
    "bucketName":…}``, then ``{"type":"progress","progress":…}``… (never decreasing,
    at least the progress floor), then ``{"type":"done","url":…,"size":…}`` or
    ``{"type":"error","message":…}``. With ``Accept: text/event-stream`` the same events
    come as Server-Sent Events (``event: started|progress|done|error``, ``data:`` the same
    JSON). An error before the render started (invalid input, a refused start) is a
    non-OK JSON answer ``{"type":"error","message":…}`` as without the header. A client
    that disconnects stops the watch at once; the render goes on.
``GET /api/lambda/progress?id=<renderId>&bucketName=<bucket>``
    The events of a render started earlier, as Server-Sent Events (or NDJSON with that
    ``Accept``): what a page's ``EventSource`` (which can only GET) listens to. Starting
    a render stays a POST (an ``EventSource`` reconnects on its own; a reconnect here only
    watches again). Close the ``EventSource`` on ``done``/``error``. An unknown render
    is a 404 JSON answer (one progress read before the stream starts).
``POST /api/lambda/progress``
    ``{"id": <renderId>, "bucketName": …}`` reads progress.json once and answers
    ``{"type":"success","data": P}`` where ``P`` is ``{"type":"progress","progress":…}``
    (at least 0.03), ``{"type":"done","url":…,"size":…}`` or ``{"type":"error","message":…}``
    (a failed render is a successful request, as in the template; so is a render whose
    launch died before writing its metadata, by the watch's rule).
``POST /api/lambda/webhook``
    Remotion's signed webhook (mounted when a webhook secret is configured): answers
    ``{"success":true}``; 401 for a missing or wrong ``X-Remotion-Signature``, 409 for a
    replay. Each verified webhook is published to :attr:`RemotionWeb.hub` as a
    :class:`~aioremotion.hub.RenderOutcome` before the answer (a hub that fails to take
    it makes the answer a 500, so Remotion's retry is accepted), and the watches given
    that hub finish on it.
``GET /``
    A demo page: a title, a Render button, a progress bar, then the video.

Errors are ``{"type":"error","message":…}``: 400 for invalid input (before any AWS call),
413 for a body over ``max_body_bytes``, 415 for a body that is not JSON, 404 for an unknown
render, 500 for anything else (the template's status for every error). Progress is only
read from the buckets this deployment renders into: with no ``REMOTION_BUCKET``, the
region's ``remotionlambda-*`` bucket is discovered at startup (then at most once per
``bucket_discovery_retry_s``), and while that fails progress for other buckets answers a
500 that tells the operator to set ``REMOTION_BUCKET`` (the details go to the log).
Messages repeat at most 64 characters of what a client sent.

Example (``uvicorn`` serving the template's API with settings from the environment)::

    import uvicorn
    from aioremotion.web import WebConfig, create_app

    app = create_app(WebConfig.from_env(composition="MyComp"))
    uvicorn.run(app, host="127.0.0.1", port=8000)

In a FastAPI application, mount it and run its lifespan from yours (Starlette does not run
the lifespans of mounted apps)::

    from contextlib import asynccontextmanager
    from fastapi import FastAPI
    from aioremotion.web import create_app

    remotion_app = create_app()

    @asynccontextmanager
    async def lifespan(api: FastAPI):
        async with remotion_app.router.lifespan_context(remotion_app):
            yield

    api = FastAPI(lifespan=lifespan)
    api.mount("/remotion", remotion_app)    # or "/" after your own routes

or pass ``client=`` a :class:`~aioremotion.RemotionLambda` you open yourself.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .. import environment
from ..client import RemotionLambda
from ..errors import InvalidOptionsError, RenderNotFoundError
from ..events import Done, Failed, Progress
from ..handles import RenderHandle
from ..hub import OutcomeHub
from ..hub_url import hub_from_url
from ..protocol.naming import check_bucket_name, check_render_id
from ..protocol.watch import progress_event
from ..watching import live_watch_options, watch
from ._http import (
    SSE,
    ApiError,
    EventStreamResponse,
    StreamFormat,
    clip,
    demo_page,
    echo,
    error_response,
    json_type,
    read_body,
    read_json_object,
    stream_format,
    success_response,
    template_events,
    template_progress,
)
from .config import WebConfig
from .webhooks import SIGNATURE_HEADER, WebhookCallback, WebhookReceiver, WebhookRejected

__all__ = [
    "MISSING_KEY_MESSAGE",
    "MISSING_SECRET_MESSAGE",
    "ApiError",
    "RemotionWeb",
    "clip",
    "create_app",
    "template_progress",
]

logger = logging.getLogger("aioremotion.web")

#: The Next.js template's messages when the AWS keys are not in the environment.
MISSING_KEY_MESSAGE = (
    "Set up Remotion Lambda to render videos. See the README.md for how to do so."
)
MISSING_SECRET_MESSAGE = (
    "The environment variable REMOTION_AWS_SECRET_ACCESS_KEY is missing. Add it to your "
    ".env file."
)
NO_LIFESPAN_MESSAGE = (
    "The app has no RemotionLambda client: its lifespan did not run. Serve it with an ASGI "
    "server that runs lifespans, run app.router.lifespan_context(app) from the parent app's "
    "lifespan when mounting it, or pass client=... to create_app"
)
#: The reply to a progress request for an unknown bucket while the render bucket could not
#: be discovered (the details, bucket names included, go to the server log only).
BUCKET_UNKNOWN_MESSAGE = (
    "The server is misconfigured: it could not find out which S3 bucket it renders into. "
    "Its operator should set REMOTION_BUCKET to the name of the render bucket (the server "
    "log has the details)."
)
#: How often a streamed render's progress is re-sent while it does not move (seconds):
#: keeps proxies from closing an idle stream; the page sees the same progress again.
STREAM_HEARTBEAT_S = 10.0


class RemotionWeb:
    """The backend behind :func:`create_app`: settings, the client, the known buckets and
    the webhook receiver, with one Starlette endpoint per route.

    Use :meth:`routes` to add the routes to an existing Starlette/FastAPI router, and run
    :meth:`lifespan` from its lifespan (or pass ``client=``).

    Example::

        web = RemotionWeb(WebConfig.from_env(), client=remotion)
        app = Starlette(routes=web.routes())
    """

    def __init__(
        self,
        config: WebConfig | None = None,
        *,
        client: RemotionLambda | None = None,
        on_webhook: WebhookCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config if config is not None else WebConfig.from_env()
        cfg = self.config
        self._clock = clock
        self._injected = client is not None
        self._client: RemotionLambda | None = client
        self._startup_error: str | None = None
        #: Whether the template's credential guard runs before AWS calls.
        self.credential_guard = (
            cfg.credential_guard if cfg.credential_guard is not None else client is None
        )
        self._explicit_buckets = bool(cfg.known_buckets)
        #: The buckets progress may be read from (grows with the buckets renders return).
        self.buckets: set[str] = set(cfg.known_buckets)
        self._discovered = self._explicit_buckets
        #: No ListBuckets call before this time on ``clock`` (after an attempt that found
        #: nothing or failed).
        self._next_discovery_at = float("-inf")
        #: Whether the last discovery attempt failed (progress for unknown buckets: 500).
        self._discovery_failed = False
        self._discover_lock = anyio.Lock()
        if on_webhook is not None and not cfg.webhook_secret:
            raise InvalidOptionsError(
                [("webhook_secret", "is required to receive webhooks (on_webhook was given): "
                                    "set REMOTION_WEBHOOK_SECRET or WebConfig(webhook_secret=...)")]
            )
        #: Where verified webhooks go, and what the app's watches wait on: the config's
        #: hub, else (when webhooks are configured) an in-process LocalHub the app owns
        #: and closes on shutdown; None without webhooks (watches then poll).
        self.hub: OutcomeHub | None = cfg.hub
        self._owns_hub = False
        if self.hub is None and cfg.webhook_secret:
            self.hub, self._owns_hub = self._default_hub(), True
        self.webhooks: WebhookReceiver | None = (
            WebhookReceiver(
                cfg.webhook_secret, on_webhook,
                replay_window_s=cfg.webhook_replay_window_s,
                max_entries=cfg.webhook_replay_max_entries,
                hub=self.hub,
            )
            if cfg.webhook_secret
            else None
        )

    def _default_hub(self) -> OutcomeHub:
        """The hub of an app whose config names no hub object but receives webhooks: the
        one ``hub_url`` names (``AIOREMOTION_HUB_URL``; unset: in-process); the app owns
        it and closes it when its lifespan ends."""
        return hub_from_url(self.config.hub_url)

    # ------------------------------------------------------------ lifecycle

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Open the app's own client (unless one was injected) and find the render bucket;
        close the client on exit."""
        async with AsyncExitStack() as stack:
            if self._owns_hub and self.hub is not None:
                stack.push_async_callback(self.hub.aclose)
            if not self._injected:
                cfg = self.config
                try:
                    client = RemotionLambda(
                        region=cfg.region,
                        function_name=cfg.resolved_function_name,
                        remotion_version=cfg.remotion_version,
                        check_credentials=False,  # the credential guard answers per request
                    )
                    self._client = await stack.enter_async_context(client)
                except Exception as exc:
                    self._startup_error = f"Could not set up the Remotion Lambda client: {exc}"
                    logger.error("%s", self._startup_error)
                else:
                    stack.callback(self._forget_client)
            if self._client is not None and self._credentials_set():
                await self._discover_bucket()
            yield

    def _forget_client(self) -> None:
        self._client = None

    @property
    def client(self) -> RemotionLambda:
        """The RemotionLambda in use (the injected one, or the app's own while it runs)."""
        if self._client is None:
            raise RuntimeError(self._startup_error or NO_LIFESPAN_MESSAGE)
        return self._client

    def _credentials_set(self) -> bool:
        if not self.credential_guard:
            return True
        try:
            self._guard()
        except ApiError:
            return False
        return True

    def _guard(self) -> None:
        """The template's checks, before any AWS call."""
        if not self.credential_guard:
            return
        if environment.setting("any_access_key_id") is None:
            raise ApiError(500, MISSING_KEY_MESSAGE)
        if environment.setting("any_secret_access_key") is None:
            raise ApiError(500, MISSING_SECRET_MESSAGE)

    def _may_discover(self) -> bool:
        return not self._discovered and self._clock() >= self._next_discovery_at

    async def _discover_bucket(self) -> None:
        """Look for the region's ``remotionlambda-*`` bucket (one ListBuckets call) unless
        it is known, or the last attempt was less than ``bucket_discovery_retry_s`` ago.

        The one place the app lists buckets: at startup, then on demand at most once per
        interval. A failure is logged once (WARNING, with the details) and remembered;
        it never reaches a reply."""
        if not self._may_discover():
            return
        client = self.client
        async with self._discover_lock:
            if not self._may_discover():
                return  # another request just tried
            retry_s = self.config.bucket_discovery_retry_s
            # set first: even an attempt cut short (cancelled) counts
            self._next_discovery_at = self._clock() + retry_s
            try:
                found = await client.find_bucket()
            except Exception as exc:
                self._discovery_failed = True
                logger.warning(
                    "Could not find the render bucket of %s: progress requests for buckets "
                    "this app has not rendered into are refused until it is found (next "
                    "attempt in %g s at the earliest). Set REMOTION_BUCKET to the render "
                    "bucket's name. The error: %s: %s",
                    client.region, retry_s, type(exc).__name__, exc,
                )
                return
            self._discovery_failed = False
            if found is None:   # none yet: the first render creates it
                return
            self.buckets.add(found)
            self._discovered = True
            logger.info("Reading progress from the render bucket %s", found)

    async def _check_bucket(self, bucket: str) -> None:
        """Refuse (before any other AWS call) a bucket not known to be this app's."""
        if bucket in self.buckets:
            return
        await self._discover_bucket()
        if bucket in self.buckets:
            return
        if self._discovery_failed:
            raise ApiError(500, BUCKET_UNKNOWN_MESSAGE)
        raise ApiError(
            400, f'bucketName "{clip(bucket)}" is not a bucket this app renders into: pass the '
                 "bucketName that /api/lambda/render returned"
        )

    # ------------------------------------------------------------ routes

    def routes(self) -> list[BaseRoute]:
        """The routes: render, progress, the webhook (when a secret is set) and the page."""
        routes: list[BaseRoute] = [
            Route("/api/lambda/render", self.render, methods=["POST"], name="lambda-render"),
            Route("/api/lambda/progress", self.progress, methods=["POST", "GET"],
                  name="lambda-progress"),
        ]
        if self.webhooks is not None:
            routes.append(Route(self.config.webhook_path, self.webhook, methods=["POST"],
                                name="lambda-webhook"))
        if self.config.demo_page:
            routes.append(Route("/", self.page, methods=["GET"], name="demo-page"))
        return routes

    async def _answer(
        self, handler: Callable[[Request], Awaitable[Response]], request: Request
    ) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.status, exc.message)
        except WebhookRejected as exc:
            return error_response(exc.status, exc.message)
        except InvalidOptionsError as exc:
            return error_response(400, str(exc))
        except RenderNotFoundError as exc:
            return error_response(404, str(exc))
        except ClientDisconnect:
            # the client went away before sending its whole body: nobody to answer
            logger.debug("%s %s: the client disconnected before sending its body",
                         request.method, request.url.path)
            return Response(status_code=400)
        except Exception as exc:
            logger.exception("%s %s failed", request.method, request.url.path)
            return error_response(500, str(exc) or type(exc).__name__)

    async def render(self, request: Request) -> Response:
        """``POST /api/lambda/render``: start a render."""
        return await self._answer(self._render, request)

    async def progress(self, request: Request) -> Response:
        """``POST /api/lambda/progress``: one progress read; ``GET``: the render's events
        as a stream (for ``EventSource``)."""
        if request.method == "GET":
            return await self._answer(self._progress_stream, request)
        return await self._answer(self._progress, request)

    async def webhook(self, request: Request) -> Response:
        """``POST /api/lambda/webhook``: a signed Remotion webhook."""
        return await self._answer(self._webhook, request)

    # ------------------------------------------------------------ handlers

    def _composition(self, body: dict[str, Any]) -> str:
        cfg = self.config
        if "id" not in body or body["id"] is None:
            if cfg.composition is None:
                raise ApiError(400, '"id" is required: the id of the composition to render')
            return cfg.composition
        composition = body["id"]
        if not isinstance(composition, str) or not composition.strip():
            raise ApiError(400, '"id" must be a non-empty string, the id of the composition '
                                f"to render; got {json_type(composition)}")
        if cfg.allowed_compositions is not None and composition not in cfg.allowed_compositions:
            raise ApiError(400, f'"id" {echo(composition)} is not a composition this app renders '
                                f"(allowed: {', '.join(sorted(cfg.allowed_compositions))})")
        return composition

    def render_options(self, composition: str, input_props: dict[str, Any]) -> dict[str, Any]:
        """The ``render_media`` options of a render request (the template's, plus the
        configured bucket, webhook and ``render_options``)."""
        cfg = self.config
        options: dict[str, Any] = {
            "serve_url": cfg.resolved_serve_url,
            "composition": composition,
            "codec": cfg.codec,
            "input_props": input_props,
        }
        if cfg.frames_per_lambda is not None:
            options["frames_per_lambda"] = cfg.frames_per_lambda
        if cfg.download_file_name is not None:
            options["download_behavior"] = {"type": "download",
                                            "file_name": cfg.download_file_name}
        if cfg.function_name is not None:
            options["function_name"] = cfg.function_name
        if cfg.bucket_name is not None:
            options["force_bucket_name"] = cfg.bucket_name
        if cfg.webhook_url is not None:
            options["webhook"] = {"url": cfg.webhook_url, "secret": cfg.webhook_secret}
        options.update(cfg.render_options)
        return options

    async def _render(self, request: Request) -> Response:
        body = await read_json_object(request, self.config.max_body_bytes)
        composition = self._composition(body)
        input_props = body.get("inputProps", {})
        if input_props is None:
            input_props = {}
        if not isinstance(input_props, dict):
            raise ApiError(400, f'"inputProps" must be a JSON object; got '
                                f"{json_type(input_props)}")
        self._guard()
        fmt = stream_format(request.headers.get("accept"))
        # an error up to here (and in the start) is a JSON answer, streamed or not
        handle = await self.client.render_media(self.render_options(composition, input_props))
        self.buckets.add(handle.bucket_name)
        if fmt is None:
            return success_response(handle.js_result())
        return EventStreamResponse(self._stream(handle), fmt)

    async def _progress_stream(self, request: Request) -> Response:
        fmt: StreamFormat = stream_format(request.headers.get("accept")) or SSE
        handle = await self._progress_handle(request.query_params.get("id"),
                                             request.query_params.get("bucketName"))
        await self.client.get_progress(handle)  # an unknown render: 404 now, not a stream
        return EventStreamResponse(self._stream(handle), fmt)

    def _watch(self, handle: RenderHandle) -> AsyncIterator[Progress | Done | Failed]:
        """The one way the app watches a render for a stream: a live display's options
        (:func:`~aioremotion.watching.live_watch_options`: few reads, estimated progress
        between them), the template's progress floor, a heartbeat every
        :data:`STREAM_HEARTBEAT_S`, through the app's outcome hub when it has one."""
        options = dataclasses.replace(live_watch_options(heartbeat_s=STREAM_HEARTBEAT_S),
                                      progress_floor=self.config.progress_floor)
        return watch(self.client, handle, options, hub=self.hub)

    def _stream(self, handle: RenderHandle) -> AsyncIterator[dict[str, Any]]:
        """A render's events in the template's shapes (see :func:`template_events`)."""
        return template_events(handle, self._watch(handle),
                               detailed=self.config.detailed_progress)

    async def _progress(self, request: Request) -> Response:
        body = await read_json_object(request, self.config.max_body_bytes)
        handle = await self._progress_handle(body.get("id"), body.get("bucketName"))
        progress = await self.client.get_progress(handle)
        # one read: the watch machine's single step (a launch that died is an error here too)
        event = progress_event(progress, handle.progress_context(),
                               floor=self.config.progress_floor)
        return success_response(template_progress(event, detailed=self.config.detailed_progress))

    async def _progress_handle(self, render_id: Any, bucket: Any) -> RenderHandle:
        """The handle of a render a client names by id and bucket, checked (400 before any
        AWS call, then the bucket allow-list)."""
        if not isinstance(render_id, str):
            raise ApiError(400, '"id" must be the renderId that /api/lambda/render returned; '
                                f"got {json_type(render_id)}")
        if not isinstance(bucket, str):
            raise ApiError(400, '"bucketName" must be the bucketName that /api/lambda/render '
                                f"returned; got {json_type(bucket)}")
        # the naming patterns end in "$", which lets one trailing newline through
        try:
            check_render_id(render_id)
            valid_id = not render_id.endswith("\n")
        except InvalidOptionsError:
            valid_id = False
        if not valid_id:
            raise ApiError(400, f"id: {echo(render_id)} is not a Remotion render id: pass the "
                                "renderId that /api/lambda/render returned (letters, digits, "
                                "'-' and '_' only)")
        try:
            check_bucket_name(bucket, "bucketName")
            valid_bucket = not bucket.endswith("\n")
        except InvalidOptionsError:
            valid_bucket = False
        if not valid_bucket:
            raise ApiError(400, f"bucketName: {echo(bucket)} is not a valid S3 bucket name: "
                                "3-63 characters of lowercase letters, digits, '.' and '-'")
        self._guard()
        await self._check_bucket(bucket)
        client = self.client
        return RenderHandle(
            render_id=render_id,
            bucket_name=bucket,
            region=client.region,
            function_name=self.config.function_name or client.function_name,
        )

    async def _webhook(self, request: Request) -> Response:
        if self.webhooks is None:  # not routed without a secret
            raise ApiError(404, "Webhooks are not configured")
        body = await read_body(request, self.config.max_body_bytes)
        await self.webhooks.receive(body, request.headers.get(SIGNATURE_HEADER))
        return JSONResponse({"success": True})

    # ------------------------------------------------------------ the demo page

    async def page(self, request: Request) -> Response:
        """``GET /``: the demo page."""
        settings = {
            "composition": self.config.composition or "HelloWorld",
            "renderUrl": request.url_for("lambda-render").path,
            "progressUrl": request.url_for("lambda-progress").path,
        }
        # "<" escaped: the JSON sits inside a <script> element
        data = json.dumps(settings).replace("<", "\\u003c")
        return HTMLResponse(demo_page().replace("__SETTINGS__", data))


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = error_response(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def create_app(
    config: WebConfig | None = None,
    *,
    client: RemotionLambda | None = None,
    on_webhook: WebhookCallback | None = None,
    debug: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """A Starlette app serving the Next.js template's API and the demo page.

    Args:
        config: the settings (default: :meth:`WebConfig.from_env`).
        client: a RemotionLambda you opened yourself; by default the app opens its own in
            its lifespan and closes it on shutdown. With an injected client the credential
            guard is off (IAM roles and profiles work) unless ``config`` turns it on.
        on_webhook: called (sync or async) with each verified webhook payload
            (:class:`~aioremotion.web.webhooks.WebhookSuccess`, ``WebhookError`` or
            ``WebhookTimeout``); needs ``config.webhook_secret``.
        clock: the monotonic clock that spaces bucket discovery attempts (tests inject
            one).

    The :class:`RemotionWeb` behind the app is ``app.state.remotion_web``.

    Example::

        async def notify(payload):
            if payload.type == "success":
                print("done:", payload.output_url)

        app = create_app(WebConfig.from_env(webhook_secret="s3cr3t"), on_webhook=notify)
        # uvicorn module:app
    """
    web = RemotionWeb(config, client=client, on_webhook=on_webhook, clock=clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with web.lifespan():
            yield

    app = Starlette(
        debug=debug,
        routes=web.routes(),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_exception},
    )
    app.state.remotion_web = web
    return app
