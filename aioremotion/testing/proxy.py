"""A fault-injecting reverse proxy, :class:`FaultyProxy`, in front of any HTTP endpoint:
moto's S3 server, the emulator's Lambda API, or anything else a client talks to.

moto answers correctly or not at all; to see how a client copes with throttling,
dropped connections, slow or corrupted responses, put :class:`FaultyProxy`
between the client and moto and arm faults from Python::

    async with S3Server() as s3, FaultyProxy(s3.endpoint_url) as proxy:
        client = session.create_client("s3", endpoint_url=proxy.endpoint_url, ...)
        proxy.fail(503, "SlowDown", times=2, match="progress.json")
        proxy.reset_connection(match="progress.json")
        proxy.delay(0.5, match="progress.json")
        proxy.corrupt_body(match="progress.json", body=b"{not json")
        ...
        assert proxy.count(method="GET", match="progress.json", status=304) == 3

Requests are forwarded as received (method, raw path and query, headers, body) to
the upstream endpoint, minus hop-by-hop headers and ``Host``; the upstream response
is relayed the same way.  moto does not verify SigV4 signatures, so the signature
(computed for the proxy's address) need not match the upstream host.
The emulator's Lambda API does not either.  :meth:`~FaultyProxy.fail` answers with
S3's XML error document, whatever the upstream; :meth:`~FaultyProxy.reset_after_forward`
picks requests by their body too (a Lambda start, say).  ``FaultyS3Proxy`` is the name
the proxy had when it only stood in front of S3; it is kept as an alias.

How each fault surfaces in aiobotocore:

* :meth:`~FaultyProxy.fail` - ``botocore.exceptions.ClientError`` with the armed
  ``Error.Code`` and HTTP status (for ``HEAD``, which has no body, the code is the
  status as a string, e.g. ``"503"``).  botocore's retry modes retry 500/503 and
  ``SlowDown``.
* :meth:`~FaultyProxy.reset_connection` - ``botocore.exceptions.ConnectionClosedError``
  (aiohttp's ``ServerDisconnectedError``); with ``rst=True``,
  ``botocore.exceptions.EndpointConnectionError`` (aiohttp's ``ClientOSError``
  for ``ECONNRESET``).
* :meth:`~FaultyProxy.delay` - nothing, unless the delay exceeds the client's
  ``read_timeout``: then ``botocore.exceptions.ReadTimeoutError``.
* :meth:`~FaultyProxy.corrupt_body` - no error: the operation returns the
  replacement bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import socket
import struct
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ..emulator._loopback import AsyncLoopbackServer
from .proxy_rules import (
    DEFAULT_CODES,
    DEFAULT_MESSAGES,
    FaultKind,
    FaultRule,
    Match,
    ProxiedRequest,
    error_response,
    matches_method,
    matches_path,
)

__all__ = ["FaultRule", "FaultyProxy", "FaultyS3Proxy", "ProxiedRequest"]

#: RFC 9110 section 7.6.1 hop-by-hop headers, plus the framing headers the proxy
#: recomputes for each leg.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
        # The proxy reads the whole body before forwarding: the upstream leg
        # must not wait for a "100 Continue" that the client already got.
        "expect",
    }
)

_UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=60)

#: Methods aiohttp's client resends once when the connection drops
#: (``aiohttp.client.IDEMPOTENT_METHODS``).
_RESENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

#: Seconds within which a byte-identical request counts as aiohttp's resend of a
#: dropped one (aiohttp resends at once).
_RESEND_WINDOW = 5.0


class FaultyProxy(AsyncLoopbackServer):
    """Reverse proxy on ``127.0.0.1`` forwarding to ``upstream_url``, with faults.

    Use as an async context manager (or :meth:`start` / :meth:`close`)::

        async with FaultyProxy(s3.endpoint_url) as proxy:
            proxy.endpoint_url    # give this to the S3 client

    Arm faults with :meth:`fail`, :meth:`reset_connection`, :meth:`delay` and
    :meth:`corrupt_body`.  Each returns its :class:`FaultRule` and applies to the
    next ``times`` requests matching ``method`` and ``match`` (see
    :class:`FaultRule`).  A request gets at most one fault: the first armed
    active rule that matches; ``fail``/``reset_connection``/``delay`` rules are
    picked when the request arrives, ``corrupt_body`` rules only if none of
    those applied and the upstream answered a ``GET`` with 200.

    Every request is recorded in :attr:`requests`; :meth:`count` filters them.

    Args:
        upstream_url: the S3 endpoint to forward to, e.g. ``S3Server.endpoint_url``.
        port: TCP port; 0 (default) picks a free one.
    """

    def __init__(self, upstream_url: str, *, port: int = 0) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.requests: list[ProxiedRequest] = []
        """Every request received, in arrival order."""
        self.rules: list[FaultRule] = []
        """Every armed rule, in arming order (exhausted ones included)."""
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port: int | None = None
        self._in_flight: set[asyncio.Task[object]] = set()
        # Fingerprints of dropped requests, for per_attempt resets: aiohttp
        # resends an idempotent request once, byte for byte, when the
        # connection drops before the response.
        self._dropped: dict[str, tuple[FaultRule, float]] = {}

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Bind ``127.0.0.1`` and start serving.  Idempotent."""
        if self._runner is not None:
            return
        app = web.Application(middlewares=[self._track], client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._requested_port))
            sock.listen(128)
            sock.setblocking(False)
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._session = aiohttp.ClientSession(
            auto_decompress=False,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=_UPSTREAM_TIMEOUT,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )
        self._port = int(sock.getsockname()[1])
        self._runner = runner

    async def close(self) -> None:
        """Stop serving, cancel in-flight requests, close the upstream session.

        Idempotent.
        """
        runner = self._runner
        if runner is None:
            return
        self._runner = None
        self._port = None
        for site in list(runner.sites):
            await site.stop()
        tasks = list(self._in_flight)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- arming ------------------------------------------------------------

    def _arm(self, rule: FaultRule) -> FaultRule:
        if rule.remaining < 1:
            raise ValueError("times must be at least 1")
        if rule.method is not None:
            rule.method = rule.method.upper()
        self.rules.append(rule)
        return rule

    def fail(
        self,
        status: int = 503,
        code: str | None = None,
        message: str | None = None,
        *,
        times: int = 1,
        method: str | None = None,
        match: Match = None,
    ) -> FaultRule:
        """Answer the next ``times`` matching requests with an S3 XML error.

        The request is not forwarded.  ``code`` defaults by status (503
        ``SlowDown``, 500 ``InternalError``, ...), ``message`` by code.
        """
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (4xx or 5xx)")
        code = code or DEFAULT_CODES.get(status, "InternalError")
        message = message if message is not None else DEFAULT_MESSAGES.get(code, code)
        return self._arm(
            FaultRule("fail", times, method, match, status=status, code=code, message=message)
        )

    def reset_connection(
        self,
        *,
        times: int = 1,
        method: str | None = None,
        match: Match = None,
        rst: bool = False,
        per_attempt: bool = True,
    ) -> FaultRule:
        """Close the connection of the next ``times`` matching requests without
        answering.  The request body is read; the request is not forwarded.

        Args:
            rst: abort with a TCP RST (``SO_LINGER`` 0) instead of a clean FIN.
            per_attempt: aiohttp silently resends an idempotent request (GET,
                HEAD, PUT, DELETE) once when the connection drops before the
                response, so one dropped connection alone is invisible to the
                client.  With ``per_attempt`` (default) that byte-identical
                resend is dropped too, without using up ``times``: each of the
                ``times`` counts one client attempt, which then fails.  With
                ``False`` every HTTP request counts.
        """
        return self._arm(FaultRule("reset", times, method, match, rst=rst, per_attempt=per_attempt))

    def reset_after_forward(
        self,
        *,
        times: int = 1,
        method: str | None = None,
        match: Match = None,
        body_match: bytes | None = None,
    ) -> FaultRule:
        """Forward the next ``times`` matching requests, wait for the upstream's answer
        (so the request took effect: a Lambda start has started its render), then reset
        the client's connection with a TCP RST instead of relaying the answer.

        This is the fault that tells "was the request sent?" apart: aiobotocore reports
        it as ``EndpointConnectionError`` wrapping aiohttp's ``ClientOSError``
        (ECONNRESET), exactly as it reports a connection that could not be made.
        ``body_match`` picks requests by their body, e.g. ``b'"type":"start"'`` for
        Lambda start invocations (the proxy works in front of any endpoint).
        """
        return self._arm(FaultRule("reset-after-forward", times, method, match,
                                   body_match=body_match))

    def delay(
        self,
        seconds: float,
        *,
        times: int = 1,
        method: str | None = None,
        match: Match = None,
    ) -> FaultRule:
        """Hold the upstream's response to the next ``times`` matching requests
        for ``seconds`` before relaying it.  The request is forwarded at once
        (a PUT takes effect even if the client times out)."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return self._arm(FaultRule("delay", times, method, match, seconds=seconds))

    def corrupt_body(
        self,
        *,
        times: int = 1,
        match: Match = None,
        body: bytes | Callable[[bytes], bytes] = b"{not json",
    ) -> FaultRule:
        """Replace the body of the next ``times`` matching ``GET`` responses
        with status 200.

        ``body`` is the replacement, or a function of the original body.
        ``Content-Length`` follows the new body, ``ETag`` gets a fresh random
        value (so conditional logic sees a change) and ``x-amz-checksum-*`` /
        ``Content-MD5`` headers are dropped (so botocore's response checksum
        validation does not reject it).
        """
        return self._arm(FaultRule("corrupt", times, "GET", match, body=body))

    @property
    def active_rules(self) -> list[FaultRule]:
        """Rules with applications left, in arming order."""
        return [rule for rule in self.rules if rule.active]

    def clear_faults(self) -> None:
        """Disarm every rule."""
        self.rules.clear()
        self._dropped.clear()

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self.requests.clear()

    def clear(self) -> None:
        """:meth:`clear_faults` and :meth:`clear_requests`."""
        self.clear_faults()
        self.clear_requests()

    # -- inspection --------------------------------------------------------

    def filter(
        self,
        *,
        method: str | None = None,
        match: Match = None,
        status: int | None = None,
        fault: FaultKind | bool | None = None,
    ) -> list[ProxiedRequest]:
        """Recorded requests by method, path (``match`` as in :class:`FaultRule`),
        returned status and fault (a kind, ``True`` for any, ``False`` for none)."""

        def keep(request: ProxiedRequest) -> bool:
            if not matches_method(method, request.method):
                return False
            if not matches_path(match, request.path):
                return False
            if status is not None and request.status != status:
                return False
            if fault is None:
                return True
            if isinstance(fault, bool):
                return request.faulted is fault
            return request.fault == fault

        return [request for request in self.requests if keep(request)]

    def count(
        self,
        *,
        method: str | None = None,
        match: Match = None,
        status: int | None = None,
        fault: FaultKind | bool | None = None,
    ) -> int:
        """How many recorded requests pass :meth:`filter`."""
        return len(self.filter(method=method, match=match, status=status, fault=fault))

    # -- serving -----------------------------------------------------------

    @web.middleware
    async def _track(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - handlers always run in a task
            return await handler(request)
        self._in_flight.add(task)
        try:
            return await handler(request)
        finally:
            self._in_flight.discard(task)

    def _take(self, method: str, path: str, *, corrupt: bool = False,
              body: bytes = b"") -> FaultRule | None:
        """Use up the first matching rule: a ``corrupt`` one or any other kind."""
        for rule in self.rules:
            if (rule.kind == "corrupt") is corrupt and rule.matches(method, path, body):
                rule.remaining -= 1
                rule.applied += 1
                return rule
        return None

    def _take_resend(self, fingerprint: str, now: float) -> FaultRule | None:
        """The ``per_attempt`` reset rule whose dropped request this one resends."""
        for key, (_, deadline) in list(self._dropped.items()):
            if deadline < now:
                del self._dropped[key]
        rule, _ = self._dropped.pop(fingerprint, (None, 0.0))
        if rule is not None:
            rule.applied += 1
        return rule

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = ProxiedRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=CIMultiDictProxy(request.headers.copy()),
            timestamp=time.monotonic(),
        )
        self.requests.append(record)
        body = await request.read()

        fingerprint = _fingerprint(request, body)
        rule = self._take_resend(fingerprint, record.timestamp)
        if rule is None:
            rule = self._take(request.method, request.path, body=body)
        if rule is not None:
            record.fault = rule.kind
            if rule.kind == "fail":
                response = error_response(rule)
                record.status = response.status
                return response
            if rule.kind == "reset":
                if rule.per_attempt and request.method in _RESENT_METHODS:
                    self._dropped[fingerprint] = (rule, record.timestamp + _RESEND_WINDOW)
                return _drop_connection(request, rst=rule.rst)

        try:
            upstream = await self._forward(request, body)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            response = error_response(
                FaultRule(
                    "fail",
                    1,
                    status=502,
                    code="BadGateway",
                    message=f"Upstream error: {type(exc).__name__}: {exc}",
                )
            )
            record.status = response.status
            return response
        status, reason, headers, payload = upstream

        if rule is not None and rule.kind == "reset-after-forward":
            return _drop_connection(request, rst=True)
        if rule is not None and rule.kind == "delay":
            await asyncio.sleep(rule.seconds)
        elif rule is None and request.method == "GET" and status == 200:
            corrupt = self._take(request.method, request.path, corrupt=True)
            if corrupt is not None:
                record.fault = "corrupt"
                payload = corrupt.body(payload) if callable(corrupt.body) else corrupt.body
                for name in list(headers):
                    lower = name.lower()
                    if lower.startswith("x-amz-checksum-") or lower == "content-md5":
                        headers.popall(name, None)
                if "ETag" in headers:
                    headers["ETag"] = f'"{secrets.token_hex(16)}"'

        response = web.Response(status=status, reason=reason, headers=headers, body=payload)
        record.status = status
        return response

    async def _forward(
        self, request: web.Request, body: bytes
    ) -> tuple[int, str | None, CIMultiDict[str], bytes]:
        session = self._session
        if session is None:  # pragma: no cover - closed while serving
            raise aiohttp.ClientConnectionError("proxy is closed")
        url = URL(self.upstream_url + request.raw_path, encoded=True)
        headers = _end_to_end(request.headers)
        async with session.request(
            request.method,
            url,
            headers=headers,
            data=body if body or request.method not in ("GET", "HEAD") else None,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            out = _end_to_end(upstream.headers, dedupe=True)
            if request.method == "HEAD" or upstream.status in (204, 304):
                # No body: keep the entity's length as the upstream stated it.
                length = upstream.headers.get("Content-Length")
                if length is not None:
                    out["Content-Length"] = length
            return upstream.status, upstream.reason, out, payload


FaultyS3Proxy = FaultyProxy
"""The name :class:`FaultyProxy` had when it only stood in front of S3 (kept as an alias)."""


def _end_to_end(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], *, dedupe: bool = False
) -> CIMultiDict[str]:
    """``headers`` without hop-by-hop and framing headers.

    With ``dedupe``, a repeated header keeps its last value (moto sends
    werkzeug's ``Server`` and then ``Server: AmazonS3``), except ``Set-Cookie``.
    """
    connection_tokens = {
        token.strip().lower()
        for value in headers.getall("Connection", [])
        for token in value.split(",")
    }
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lower = name.lower()
        if lower in _HOP_BY_HOP or lower in connection_tokens:
            continue
        if dedupe and lower != "set-cookie":
            out[name] = value
        else:
            out.add(name, value)
    return out


def _fingerprint(request: web.Request, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.raw_path.encode())
    for name, value in request.raw_headers:
        digest.update(b"\0" + name + b":" + value)
    digest.update(b"\0" + hashlib.sha256(body).digest())
    return digest.hexdigest()


def _drop_connection(request: web.Request, *, rst: bool) -> web.StreamResponse:
    """Close the connection without a response; aiohttp then fails to write
    the returned placeholder and gives up quietly."""
    transport = request.transport
    if transport is not None:
        if rst:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    return web.StreamResponse()
