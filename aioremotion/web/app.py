"""The web backend: the API of Remotion's Next.js template, on Starlette.

Routes (the template's contract; every reply is JSON):

``POST /api/lambda/render``
    ``{"id": <composition>, "inputProps": {...}}`` starts a render and answers
    ``{"type":"success","data":{"renderId":…,"bucketName":…,"cloudWatchLogs":…,…}}``
    (what ``renderMediaOnLambda`` resolves to in JavaScript).
``POST /api/lambda/progress``
    ``{"id": <renderId>, "bucketName": …}`` reads progress.json once and answers
    ``{"type":"success","data": P}`` where ``P`` is ``{"type":"progress","progress":…}``
    (at least 0.03), ``{"type":"done","url":…,"size":…}`` or ``{"type":"error","message":…}``
    (a failed render is a successful request, as in the template; so is a render whose
    launch died before writing its metadata, by the watch's rule).
``POST /api/lambda/webhook``
    Remotion's signed webhook (mounted when a webhook secret is configured): answers
    ``{"success":true}``; 401 for a missing or wrong ``X-Remotion-Signature``, 409 for a
    replay.
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
from ..protocol.naming import check_bucket_name, check_render_id
from ..protocol.nesting import MAX_JSON_DEPTH, JsonTooDeepError, parse_json
from ..protocol.watch import progress_event
from .config import WebConfig
from .webhooks import SIGNATURE_HEADER, WebhookCallback, WebhookReceiver, WebhookRejected

__all__ = [
    "MISSING_KEY_MESSAGE",
    "MISSING_SECRET_MESSAGE",
    "ApiError",
    "RemotionWeb",
    "create_app",
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
#: The most characters of a client's input an error message repeats.
ECHO_LIMIT = 64
#: The most characters of an error reply's message.
MESSAGE_LIMIT = 1000


def clip(text: str, limit: int = ECHO_LIMIT, *, quote: bool = False) -> str:
    """``text`` cut to ``limit`` characters (saying how long it was), ``repr``-quoted with
    ``quote``: how error messages repeat what a client sent.

    >>> clip("abc", quote=True)
    "'abc'"
    >>> clip("x" * 100, 4)
    'xxxx… (100 characters)'
    >>> clip("x" * 100, 4, quote=True)
    "'xxxx'… (100 characters)"
    """
    cut = len(text) > limit
    shown = text[:limit] if cut else text
    if quote:
        shown = repr(shown)
    return f"{shown}… ({len(text)} characters)" if cut else shown


def echo(value: str) -> str:
    """A client's ``value`` quoted for an error message: ``clip(value, quote=True)``."""
    return clip(value, quote=True)


class ApiError(Exception):
    """An error answered as ``{"type":"error","message":…}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def error_response(status: int, message: str) -> JSONResponse:
    """The template's error envelope (the message cut to ``MESSAGE_LIMIT`` characters)."""
    return JSONResponse({"type": "error", "message": clip(message, MESSAGE_LIMIT)},
                        status_code=status)


def success_response(data: Any) -> JSONResponse:
    """The template's success envelope."""
    return JSONResponse({"type": "success", "data": data})


async def read_body(request: Request, limit: int) -> bytes:
    """The raw request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    too_large = ApiError(413, f"The request body is larger than {limit} bytes")
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise ApiError(400, f"Invalid Content-Length header: {echo(length)}") from None
        if declared > limit:
            raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


#: The deepest request body accepted: the body object itself, then ``inputProps`` nested
#: at most :data:`~aioremotion.protocol.nesting.MAX_JSON_DEPTH` levels.
BODY_MAX_DEPTH = MAX_JSON_DEPTH + 1


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object: 415 when not sent as JSON, 413 when too large,
    400 when not a JSON object or nested deeper than :data:`BODY_MAX_DEPTH` levels."""
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        raise ApiError(
            415, "Send the request body as JSON with Content-Type: application/json; got "
                 f"{clip(content_type) or 'no Content-Type'}"
        )
    body = await read_body(request, limit)
    try:
        data = parse_json(body, field="request body", limit=BODY_MAX_DEPTH)
    except JsonTooDeepError as exc:
        raise ApiError(400, f"The request body is nested {exc.depth} levels deep; at most "
                            f"{exc.limit} are supported (inputProps may nest at most "
                            f"{MAX_JSON_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"The request body must be a JSON object; got "
                            f"{_json_type(data)}")
    return data


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def template_progress(event: Progress | Done | Failed, *, detailed: bool = False) -> dict[str, Any]:
    """The progress route's ``data``: the template's three shapes.

    With ``detailed``, the event's camelCase extras follow the template's keys.

    >>> template_progress(Progress(progress=0.5, frames_rendered=10))
    {'type': 'progress', 'progress': 0.5}
    >>> template_progress(Done(url="https://x/out.mp4", size=3))
    {'type': 'done', 'url': 'https://x/out.mp4', 'size': 3}
    >>> template_progress(Failed(message="boom"))
    {'type': 'error', 'message': 'boom'}
    """
    if isinstance(event, Progress):
        shape: dict[str, Any] = {"type": "progress", "progress": event.progress}
    elif isinstance(event, Done):
        shape = {"type": "done", "url": event.url, "size": event.size}
    else:
        shape = {"type": "error", "message": event.message}
    if detailed:
        return {**shape, **event.model_dump(mode="json", exclude_none=True)}
    return shape


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
        self.webhooks: WebhookReceiver | None = (
            WebhookReceiver(
                cfg.webhook_secret, on_webhook,
                replay_window_s=cfg.webhook_replay_window_s,
                max_entries=cfg.webhook_replay_max_entries,
            )
            if cfg.webhook_secret
            else None
        )

    # ------------------------------------------------------------ lifecycle

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Open the app's own client (unless one was injected) and find the render bucket;
        close the client on exit."""
        async with AsyncExitStack() as stack:
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
            Route("/api/lambda/progress", self.progress, methods=["POST"],
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
        """``POST /api/lambda/progress``: one progress read."""
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
                                f"to render; got {_json_type(composition)}")
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
                                f"{_json_type(input_props)}")
        self._guard()
        handle = await self.client.render_media(self.render_options(composition, input_props))
        self.buckets.add(handle.bucket_name)
        return success_response(handle.js_result())

    async def _progress(self, request: Request) -> Response:
        body = await read_json_object(request, self.config.max_body_bytes)
        render_id, bucket = body.get("id"), body.get("bucketName")
        if not isinstance(render_id, str):
            raise ApiError(400, '"id" must be the renderId that /api/lambda/render returned; '
                                f"got {_json_type(render_id)}")
        if not isinstance(bucket, str):
            raise ApiError(400, '"bucketName" must be the bucketName that /api/lambda/render '
                                f"returned; got {_json_type(bucket)}")
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
        handle = RenderHandle(
            render_id=render_id,
            bucket_name=bucket,
            region=client.region,
            function_name=self.config.function_name or client.function_name,
        )
        progress = await client.get_progress(handle)
        # one read: the watch machine's single step (a launch that died is an error here too)
        event = progress_event(progress, handle.progress_context(),
                               floor=self.config.progress_floor)
        return success_response(template_progress(event, detailed=self.config.detailed_progress))

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
            "pollIntervalMs": 1000,
        }
        # "<" escaped: the JSON sits inside a <script> element
        data = json.dumps(settings).replace("<", "\\u003c")
        return HTMLResponse(DEMO_PAGE.replace("__SETTINGS__", data))


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


DEMO_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Render a video with Remotion Lambda</title>
<style>
  :root { color-scheme: light dark; --accent: #0b84f3; --radius: 8px; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
         background: Canvas; color: CanvasText; }
  main { max-width: 720px; margin: 48px auto; padding: 0 20px; }
  h1 { font-size: 1.6rem; margin: 0 0 4px; }
  .hint { margin: 0 0 24px; opacity: .7; }
  .card { border: 1px solid color-mix(in srgb, CanvasText 15%, transparent);
          border-radius: var(--radius); padding: 20px; }
  form { display: flex; gap: 12px; }
  input { flex: 1; font: inherit; padding: 8px 12px; border-radius: var(--radius);
          border: 1px solid color-mix(in srgb, CanvasText 25%, transparent); }
  button, .button { font: inherit; font-weight: 600; padding: 8px 16px; border: 0;
          border-radius: var(--radius); background: var(--accent); color: white;
          cursor: pointer; text-decoration: none; display: inline-block; }
  button:disabled { opacity: .5; cursor: progress; }
  button.secondary { background: transparent; color: var(--accent); }
  .bar { margin-top: 16px; height: 10px; border-radius: 5px; overflow: hidden;
         background: color-mix(in srgb, CanvasText 12%, transparent); }
  .bar > div { height: 100%; width: 0; background: var(--accent);
               transition: width .3s ease-out; }
  #status { margin: 8px 0 0; font-variant-numeric: tabular-nums; min-height: 1.5em; }
  #error { margin-top: 16px; padding: 12px; border-radius: var(--radius);
           background: #ff41361a; color: #d62518; }
  video { width: 100%; margin-top: 16px; border-radius: var(--radius); background: black; }
  .actions { display: flex; gap: 12px; align-items: center; margin-top: 12px; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<main>
  <h1>Render a video with Remotion Lambda</h1>
  <p class="hint">Composition <code id="composition"></code>, rendered in the cloud and
    served by aioremotion.</p>
  <div class="card">
    <form id="render-form">
      <input id="title" name="title" aria-label="Title" value="Hello from Python"
             maxlength="200" autocomplete="off">
      <button id="render" type="submit">Render video</button>
    </form>
    <div id="progress" class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"
         aria-valuenow="0" data-progress="0" hidden><div id="progress-bar"></div></div>
    <p id="status" aria-live="polite"></p>
    <div id="error" role="alert" hidden>
      <strong>Error:</strong> <span id="error-message"></span>
    </div>
    <section id="result" hidden>
      <video id="video" controls playsinline preload="auto"></video>
      <div class="actions">
        <a id="download" class="button" href="#" download="video.mp4">Download video</a>
        <span id="size"></span>
        <button id="reset" class="secondary" type="button">Make another video</button>
      </div>
    </section>
  </div>
</main>
<script id="settings" type="application/json">__SETTINGS__</script>
<script>
"use strict";
const settings = JSON.parse(document.getElementById("settings").textContent);
const $ = (id) => document.getElementById(id);
// Every state the page went through (read by tests; handy in the console too).
window.renderStates = [];
let generation = 0;

async function makeRequest(endpoint, body) {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  let json;
  try {
    json = await response.json();
  } catch (err) {
    throw new Error(`HTTP ${response.status} from ${endpoint}`);
  }
  if (json.type === "error") throw new Error(json.message);
  return json.data;
}

function formatBytes(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes, unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function setState(state) {
  window.renderStates.push(state);
  const busy = state.status === "invoking" || state.status === "rendering";
  $("render").disabled = busy;
  $("title").disabled = busy;
  $("progress").hidden = !busy;
  $("error").hidden = state.status !== "error";
  $("result").hidden = state.status !== "done";
  const progress = state.status === "rendering" ? state.progress : 0;
  const percent = Math.round(progress * 100);
  $("progress-bar").style.width = `${percent}%`;
  $("progress").setAttribute("aria-valuenow", String(percent));
  $("progress").dataset.progress = String(progress);
  if (state.status === "invoking") $("status").textContent = "Starting the render…";
  else if (state.status === "rendering") $("status").textContent = `Rendering… ${percent}%`;
  else if (state.status === "done") $("status").textContent = "Done.";
  else $("status").textContent = "";
  if (state.status === "error") $("error-message").textContent = state.error.message;
  if (state.status === "done") {
    $("video").src = state.url;
    $("download").href = state.url;
    $("size").textContent = formatBytes(state.size);
  } else {
    $("video").removeAttribute("src");
  }
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function renderVideo(title) {
  const mine = ++generation;
  setState({ status: "invoking" });
  try {
    const { renderId, bucketName } = await makeRequest(settings.renderUrl, {
      id: settings.composition,
      inputProps: { title },
    });
    setState({ status: "rendering", progress: 0, renderId, bucketName });
    while (mine === generation) {
      const result = await makeRequest(settings.progressUrl, { id: renderId, bucketName });
      if (mine !== generation) return;
      if (result.type === "error") {
        setState({ status: "error", error: new Error(result.message), renderId });
        return;
      }
      if (result.type === "done") {
        setState({ status: "done", url: result.url, size: result.size });
        return;
      }
      setState({ status: "rendering", progress: result.progress, renderId, bucketName });
      await wait(settings.pollIntervalMs);
    }
  } catch (err) {
    if (mine === generation) setState({ status: "error", error: err });
  }
}

$("composition").textContent = settings.composition;
$("render-form").addEventListener("submit", (event) => {
  event.preventDefault();
  renderVideo($("title").value);
});
$("reset").addEventListener("click", () => {
  generation++;
  setState({ status: "init" });
});
setState({ status: "init" });
</script>
</body>
</html>
"""
