"""What :class:`~aioremotion.testing.proxy.FaultyProxy` arms and records: a
:class:`FaultRule` per armed fault, a :class:`ProxiedRequest` per request, and the S3-style
XML error a ``fail`` rule answers with."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from multidict import CIMultiDictProxy

__all__ = [
    "DEFAULT_CODES",
    "DEFAULT_MESSAGES",
    "FaultKind",
    "FaultRule",
    "Match",
    "ProxiedRequest",
    "error_response",
    "matches_method",
    "matches_path",
]

FaultKind = Literal["fail", "reset", "delay", "corrupt", "reset-after-forward"]
Match = str | re.Pattern[str] | None

#: Default ``Message`` for well-known S3 error codes.
DEFAULT_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Service is unable to handle request.",
    "RequestTimeout": (
        "Your socket connection to the server was not read from or written to "
        "within the timeout period."
    ),
    "AccessDenied": "Access Denied",
    "NoSuchKey": "The specified key does not exist.",
}

#: Default ``Code`` for a status.
DEFAULT_CODES = {
    400: "BadRequest",
    403: "AccessDenied",
    404: "NoSuchKey",
    500: "InternalError",
    503: "SlowDown",
}



def matches_path(match: Match, path: str) -> bool:
    if match is None:
        return True
    if isinstance(match, str):
        return match in path
    return match.search(path) is not None


def matches_method(method: str | None, request_method: str) -> bool:
    return method is None or method.upper() == request_method.upper()


@dataclass
class FaultRule:
    """One armed fault; returned by the arming methods of :class:`FaultyProxy`.

    Applies to the next :attr:`remaining` requests whose method equals
    :attr:`method` (any if ``None``) and whose percent-decoded path matches
    :attr:`match`: a ``str`` is a substring, a compiled pattern is searched
    (``re.search``), ``None`` matches every path.  The query string is not
    matched.
    """

    kind: FaultKind
    remaining: int
    method: str | None = None
    match: Match = None
    status: int = 0
    code: str = ""
    message: str = ""
    seconds: float = 0.0
    body: bytes | Callable[[bytes], bytes] = b""
    rst: bool = False
    per_attempt: bool = True
    body_match: bytes | None = None
    """Only requests whose body contains these bytes (any body if ``None``)."""
    applied: int = 0
    """How many requests this rule has been applied to (resends included)."""

    @property
    def active(self) -> bool:
        return self.remaining > 0

    def matches(self, method: str, path: str, body: bytes = b"") -> bool:
        return (
            self.remaining > 0
            and matches_method(self.method, method)
            and matches_path(self.match, path)
            and (self.body_match is None or self.body_match in body)
        )


@dataclass
class ProxiedRequest:
    """One request received by the proxy (see :attr:`FaultyProxy.requests`)."""

    method: str
    path: str
    """Percent-decoded path, e.g. ``/bucket/renders/abc/progress.json``."""
    query: str
    """Decoded query string without ``?`` (``""`` if none)."""
    headers: CIMultiDictProxy[str]
    """The request headers as the client sent them."""
    timestamp: float
    """Arrival time on the :func:`time.monotonic` clock."""
    status: int | None = None
    """Status returned to the client; ``None`` while in flight or when the
    connection was dropped."""
    fault: FaultKind | None = None
    """The fault applied to this request, if any."""

    @property
    def faulted(self) -> bool:
        return self.fault is not None


def error_response(rule: FaultRule) -> web.Response:
    request_id = secrets.token_hex(8).upper()
    host_id = secrets.token_urlsafe(48)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{_xml_escape(rule.code)}</Code>"
        f"<Message>{_xml_escape(rule.message)}</Message>"
        f"<RequestId>{request_id}</RequestId>"
        f"<HostId>{host_id}</HostId></Error>"
    )
    return web.Response(
        status=rule.status,
        body=body.encode("utf-8"),
        headers={
            "Content-Type": "application/xml",
            "Server": "AmazonS3",
            "x-amz-request-id": request_id,
            "x-amz-id-2": host_id,
        },
    )


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
