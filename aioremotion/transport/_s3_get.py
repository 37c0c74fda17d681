"""A lean, signed S3 ``GET`` for the hot polling path.

Watching a render polls ``renders/<id>/progress.json`` with a conditional ``GET``. Through
aiobotocore every ``get_object`` pays for endpoint resolution, the event hooks, request
serialisation, signing and response parsing, which makes CPU, not the network, the limit
when thousands of renders are watched from one process. This module does exactly one
request - a SigV4-signed ``GET`` (or ``HEAD``) of one object with an empty body - over a
plain :class:`aiohttp.ClientSession`:

* :class:`S3SigV4Signer`: AWS Signature Version 4 as specified
  by AWS for S3 (`"Authenticating Requests: Using the Authorization Header"`), for requests
  without a query string or body. The payload hash is the SHA-256 of the empty string.
* :func:`resolve_object_url`: where an object lives (virtual-hosted or path style, AWS or a
  custom endpoint such as moto, LocalStack or the project's emulator).
* :class:`S3ObjectReader`: ``await reader.get(bucket, key, if_none_match=etag)`` returns
  ``(200, etag, body)`` or ``(304, etag, b"")`` and raises
  :class:`botocore.exceptions.ClientError` for anything else, shaped like botocore's own,
  so code that looks at ``exc.response["Error"]["Code"]`` and
  ``exc.response["ResponseMetadata"]["HTTPStatusCode"]`` works unchanged.

Not supported (use aiobotocore for these): query strings, request bodies, retries,
S3 Express/access points/ARNs/outposts, FIPS or dual-stack endpoints, proxies taken from
the environment, and object keys whose path has ``.``/``..``
segments or that rely on URL normalisation (S3 keys are signed exactly as given).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import re
import ssl
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import yarl
from botocore.exceptions import ClientError

from ..errors import CredentialsMissingError

__all__ = [
    "EMPTY_SHA256",
    "ObjectLocation",
    "S3ObjectReader",
    "S3SigV4Signer",
    "client_error_from_response",
    "is_virtual_hostable",
    "resolve_object_url",
    "s3_uri_encode",
]

#: SHA-256 of the empty payload, hex-encoded.
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
AddressingStyle = Literal["auto", "path", "virtual"]

#: RFC 3986 unreserved characters: the only bytes SigV4 leaves unencoded (plus '/' in S3
#: paths). Every other byte of the UTF-8 encoding becomes %XX with upper-case hex.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_ENCODED_BYTE = tuple(
    chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in range(256)
)
_ENCODED_BYTE_KEEP_SLASH = tuple(
    "/" if b == 0x2F else enc for b, enc in enumerate(_ENCODED_BYTE)
)
_SAFE_RUN = re.compile(r"[A-Za-z0-9\-_.~/]*\Z")
_BUCKET_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_BUCKET_DNS = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z")


def s3_uri_encode(value: str, *, keep_slash: bool = True) -> str:
    """Percent-encode ``value`` the way S3's SigV4 canonical URI wants it.

    Each byte of the UTF-8 encoding except the unreserved characters ``A-Z a-z 0-9 - _ . ~``
    becomes ``%XX`` (upper-case hex); ``/`` is kept when ``keep_slash`` (object keys).
    S3 encodes the path once (no double encoding, unlike other services).
    """
    if keep_slash and _SAFE_RUN.match(value):
        return value
    table = _ENCODED_BYTE_KEEP_SLASH if keep_slash else _ENCODED_BYTE
    return "".join([table[b] for b in value.encode("utf-8")])


def _amz_dates(now: datetime | float | None) -> tuple[str, str]:
    """``(YYYYMMDDTHHMMSSZ, YYYYMMDD)`` in UTC for ``now`` (naive datetimes are UTC)."""
    if now is None:
        now = time.time()
    if isinstance(now, datetime):
        if now.tzinfo is not None:
            now = now.astimezone(timezone.utc)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    else:
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return amz_date, amz_date[:8]


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


class S3SigV4Signer:
    """SigV4 for S3 ``GET``/``HEAD`` requests with no query string and an empty body.

    The signing key (an HMAC chain over date, region and service) is cached per
    (secret key, date, region); the cache is tiny and cleared when it grows past
    ``max_cached_keys`` (keys change at most daily, or when credentials rotate).
    """

    def __init__(self, *, max_cached_keys: int = 16) -> None:
        self._keys: dict[tuple[str, str, str], bytes] = {}
        self._max_cached_keys = max_cached_keys

    def signing_key(self, secret_key: str, date: str, region: str) -> bytes:
        """``HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"), "aws4_request")``."""
        cache_key = (secret_key, date, region)
        key = self._keys.get(cache_key)
        if key is None:
            key = _hmac_sha256(("AWS4" + secret_key).encode("utf-8"), date)
            key = _hmac_sha256(key, region)
            key = _hmac_sha256(key, SERVICE)
            key = _hmac_sha256(key, "aws4_request")
            if len(self._keys) >= self._max_cached_keys:
                self._keys.clear()
            self._keys[cache_key] = key
        return key

    def sign(
        self,
        *,
        method: str,
        host: str,
        canonical_uri: str,
        region: str,
        access_key: str,
        secret_key: str,
        session_token: str | None = None,
        now: datetime | float | None = None,
    ) -> dict[str, str]:
        """The headers that authenticate the request, ``Authorization`` included.

        Args:
            method: ``GET`` or ``HEAD``.
            host: the ``Host`` header exactly as sent (with ``:port`` when not the
                scheme's default).
            canonical_uri: the request path, already encoded with :func:`s3_uri_encode`
                (it is also the path sent on the wire).
            region: the signing region, e.g. ``us-east-1``.
            access_key, secret_key, session_token: the (frozen) credentials.
            now: the signing time: a datetime (naive means UTC) or seconds since the epoch;
                the current time when omitted.

        Returns:
            ``X-Amz-Date``, ``X-Amz-Content-SHA256``, ``Authorization`` and, with a session
            token, ``X-Amz-Security-Token``. Headers added to the request besides these
            and ``Host`` (``If-None-Match``, say) are sent unsigned, which SigV4 allows.
        """
        amz_date, date = _amz_dates(now)
        # Canonical headers: lower-case names, sorted, trimmed values, one per line.
        if session_token:
            canonical_headers = (
                f"host:{host.strip()}\nx-amz-content-sha256:{EMPTY_SHA256}\n"
                f"x-amz-date:{amz_date}\nx-amz-security-token:{session_token.strip()}\n"
            )
            signed_headers = "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
        else:
            canonical_headers = (
                f"host:{host.strip()}\nx-amz-content-sha256:{EMPTY_SHA256}\n"
                f"x-amz-date:{amz_date}\n"
            )
            signed_headers = "host;x-amz-content-sha256;x-amz-date"
        canonical_request = (
            f"{method.upper()}\n{canonical_uri}\n\n{canonical_headers}\n"
            f"{signed_headers}\n{EMPTY_SHA256}"
        )
        scope = f"{date}/{region}/{SERVICE}/aws4_request"
        string_to_sign = (
            f"{ALGORITHM}\n{amz_date}\n{scope}\n"
            f"{hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()}"
        )
        signature = hmac.new(
            self.signing_key(secret_key, date, region),
            string_to_sign.encode("utf-8"),
            hashlib.sha256,
        ).hexdigest()
        headers = {
            "X-Amz-Date": amz_date,
            "X-Amz-Content-SHA256": EMPTY_SHA256,
            "Authorization": (
                f"{ALGORITHM} Credential={access_key}/{scope}, "
                f"SignedHeaders={signed_headers}, Signature={signature}"
            ),
        }
        if session_token:
            headers["X-Amz-Security-Token"] = session_token
        return headers


# --------------------------------------------------------------------------- addressing


@dataclass(frozen=True)
class ObjectLocation:
    """Where to send a request for one object.

    ``url`` is already encoded (send it with ``yarl.URL(url, encoded=True)``); ``host`` is
    the ``Host`` header to send and sign; ``canonical_uri`` the encoded path that is signed.
    """

    url: str
    host: str
    canonical_uri: str


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def is_virtual_hostable(bucket: str, *, allow_dots: bool = False) -> bool:
    """Whether ``bucket`` can be the first DNS label(s) of a virtual-hosted S3 host.

    3-63 characters of ``a-z 0-9 -``, starting and ending with a letter or digit, not an
    IP address. Dots are refused unless ``allow_dots`` (over HTTPS a dotted bucket does not
    match ``*.s3.<region>.amazonaws.com``'s certificate).
    """
    if not 3 <= len(bucket) <= 63 or _is_ip(bucket):
        return False
    if "." in bucket:
        return allow_dots and all(_BUCKET_LABEL.match(label) for label in bucket.split("."))
    return _BUCKET_DNS.match(bucket) is not None


def aws_s3_host(region: str) -> str:
    """The regional S3 endpoint host: ``s3.<region>.amazonaws.com`` (``.com.cn`` in China)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"s3.{region}.{suffix}"


def resolve_object_url(
    bucket: str,
    key: str,
    *,
    region: str,
    endpoint_url: str | None = None,
    addressing_style: AddressingStyle | str = "auto",
) -> ObjectLocation:
    """The URL, ``Host`` header and canonical URI of ``bucket``/``key``.

    Without ``endpoint_url`` (AWS): ``auto`` uses virtual-hosted style
    ``https://{bucket}.s3.{region}.amazonaws.com/{key}`` when the bucket is DNS-compatible
    without dots, else path style ``https://s3.{region}.amazonaws.com/{bucket}/{key}``.
    With ``endpoint_url`` (moto, LocalStack, the emulator): ``auto`` is path style, as in
    botocore; a path in the endpoint URL is kept as a prefix. ``path`` forces path style;
    ``virtual`` is virtual-hosted whenever the bucket can be a host name (dots only over
    plain HTTP) and the endpoint's host is not an IP address, else path style, which is
    what botocore does too. Unlike botocore (which uses the legacy global endpoint
    ``s3.amazonaws.com`` there), us-east-1 gets its regional endpoint as well.
    """
    if addressing_style not in ("auto", "path", "virtual"):
        raise ValueError(f"addressing_style must be auto, path or virtual: {addressing_style!r}")
    if not bucket or "/" in bucket:
        raise ValueError(f"invalid bucket name: {bucket!r}")
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        scheme = parts.scheme or "https"
        hostname = parts.hostname or ""
        if not hostname:
            raise ValueError(f"endpoint_url has no host: {endpoint_url!r}")
        if ":" in hostname:  # IPv6 literal
            hostname = f"[{hostname}]"
        default_port = 443 if scheme == "https" else 80
        port_suffix = f":{parts.port}" if parts.port and parts.port != default_port else ""
        prefix = s3_uri_encode(parts.path.rstrip("/"))
        base_host = hostname
        allow_dots = scheme == "http"
        virtual = (
            addressing_style == "virtual" and not _is_ip(hostname)
            and is_virtual_hostable(bucket, allow_dots=allow_dots)
        )
    else:
        scheme, base_host, port_suffix, prefix = "https", aws_s3_host(region), "", ""
        virtual = addressing_style != "path" and is_virtual_hostable(bucket)
    encoded_key = s3_uri_encode(key)
    if virtual:
        host = f"{bucket}.{base_host}{port_suffix}"
        path = f"{prefix}/{encoded_key}"
    else:
        host = f"{base_host}{port_suffix}"
        path = f"{prefix}/{s3_uri_encode(bucket, keep_slash=False)}/{encoded_key}"
    return ObjectLocation(url=f"{scheme}://{host}{path}", host=host, canonical_uri=path)


# --------------------------------------------------------------------------- errors


def _parse_error_body(body: bytes) -> dict[str, str]:
    """The child elements of S3's ``<Error>`` document (empty when there is none)."""
    if not body or body.lstrip()[:1] != b"<":
        return {}
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return {}
    if root.tag != "Error":
        found = root.find("Error")
        if found is None:
            return {}
        root = found
    return {child.tag: (child.text or "") for child in root if len(child) == 0}


def client_error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    operation_name: str = "GetObject",
) -> ClientError:
    """A :class:`botocore.exceptions.ClientError` shaped like the one botocore raises.

    ``Error`` holds ``Code`` and ``Message`` (and any other fields of S3's XML error, such
    as ``Key`` or ``BucketName``); without an XML body the code is the status as a string
    (``"404"``) and the message its reason phrase, as botocore reports HEAD errors.
    ``ResponseMetadata`` carries ``RequestId``, ``HostId``, ``HTTPStatusCode``,
    ``HTTPHeaders`` (lower-case names) and ``RetryAttempts`` (0: there are no retries).
    """
    fields = _parse_error_body(body)
    lower_headers = {name.lower(): value for name, value in headers.items()}
    request_id = fields.pop("RequestId", "") or lower_headers.get("x-amz-request-id", "")
    host_id = fields.pop("HostId", "") or lower_headers.get("x-amz-id-2", "")
    error: dict[str, str] = {
        "Code": fields.pop("Code", "") or str(status),
        "Message": fields.pop("Message", "") or http.client.responses.get(status, ""),
    }
    error.update(fields)
    response: dict[str, Any] = {
        "Error": error,
        "ResponseMetadata": {
            "RequestId": request_id,
            "HostId": host_id,
            "HTTPStatusCode": status,
            "HTTPHeaders": lower_headers,
            "RetryAttempts": 0,
        },
    }
    return ClientError(response, operation_name)


# --------------------------------------------------------------------------- the reader


#: How many object locations a reader remembers (one per watched render).
_LOCATION_CACHE_SIZE = 50_000


class S3ObjectReader:
    """Signed ``GET``s of S3 objects over one :class:`aiohttp.ClientSession`.

    Args:
        session: an aiobotocore ``AioSession``; its credentials are frozen for every
            request, so refreshable credentials (SSO, assumed roles, IMDS) keep working.
        region: the bucket's region (the signing region).
        endpoint_url: a custom S3 endpoint (moto, LocalStack, the emulator); AWS when None.
        addressing_style: ``auto``, ``path`` or ``virtual`` (see :func:`resolve_object_url`).
        max_connections: the connection pool's size.
        connect_timeout_s: socket connect timeout.
        read_timeout_s: timeout between reads of the response.
        ca_bundle: a PEM file of the certificate authorities to trust for HTTPS (what
            ``AWS_CA_BUNDLE`` names); the system's default store when None.
        clock: seconds since the epoch, for signing (injectable for tests).

    The HTTP session is created on first use, inside the running event loop; close it with
    :meth:`close` or ``async with``. Each request is made once (no retries): callers that
    poll retry on their own schedule.
    """

    def __init__(
        self,
        session: Any,
        *,
        region: str,
        endpoint_url: str | None = None,
        addressing_style: AddressingStyle | str = "auto",
        max_connections: int = 100,
        connect_timeout_s: float = 10,
        read_timeout_s: float = 60,
        ca_bundle: str | None = None,
        clock: Any = None,
    ) -> None:
        if addressing_style not in ("auto", "path", "virtual"):
            raise ValueError(
                f"addressing_style must be auto, path or virtual: {addressing_style!r}"
            )
        self._session = session
        self.region = region
        self.endpoint_url = endpoint_url or None
        self.addressing_style = addressing_style
        self.max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self.ca_bundle = ca_bundle or None
        self._clock = clock or time.time
        self._signer = S3SigV4Signer()
        self._credentials: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._locations: dict[tuple[str, str], ObjectLocation] = {}
        self._closed = False

    async def __aenter__(self) -> S3ObjectReader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the pooled connections; the reader cannot be used afterwards."""
        self._closed = True
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            if self._closed:
                raise RuntimeError("S3ObjectReader is closed")
            tls: ssl.SSLContext | bool = True
            if self.ca_bundle:
                tls = ssl.create_default_context(cafile=self.ca_bundle)
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, limit_per_host=0, ttl_dns_cache=60, ssl=tls,
            )
            self._http = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=False,
                trust_env=False, skip_auto_headers=("User-Agent",),
            )
        return self._http

    async def _frozen_credentials(self) -> Any:
        if self._credentials is None:
            credentials = await self._session.get_credentials()
            if credentials is None:
                raise CredentialsMissingError(detail="none to sign the S3 request with")
            self._credentials = credentials
        return await self._credentials.get_frozen_credentials()

    def location(self, bucket: str, key: str) -> ObjectLocation:
        """Where ``bucket``/``key`` is requested (see :func:`resolve_object_url`);
        remembered, since a watcher asks for the same object again and again."""
        cached = self._locations.get((bucket, key))
        if cached is None:
            if len(self._locations) >= _LOCATION_CACHE_SIZE:
                self._locations.clear()
            cached = self._locations[(bucket, key)] = resolve_object_url(
                bucket, key, region=self.region, endpoint_url=self.endpoint_url,
                addressing_style=self.addressing_style,
            )
        return cached

    async def get(
        self, bucket: str, key: str, *, if_none_match: str | None = None
    ) -> tuple[int, str | None, bytes]:
        """``GET`` one object: ``(200, etag, body)``, or ``(304, etag, b"")`` when
        ``if_none_match`` still matches.

        Raises:
            botocore.exceptions.ClientError: any other status (``NoSuchKey``/``404``,
                ``AccessDenied``, ``SlowDown``, ...), shaped like botocore's.
            CredentialsMissingError: the session has no credentials.
            aiohttp.ClientError, OSError, TimeoutError: the network failed.
        """
        location = self.location(bucket, key)
        frozen = await self._frozen_credentials()
        headers = self._signer.sign(
            method="GET", host=location.host, canonical_uri=location.canonical_uri,
            region=self.region, access_key=frozen.access_key, secret_key=frozen.secret_key,
            session_token=frozen.token, now=self._clock(),
        )
        headers["Host"] = location.host
        headers["Accept-Encoding"] = "identity"
        headers["User-Agent"] = "aioremotion"
        # One id per request, like botocore's: two polls signed in the same second are
        # otherwise byte-identical, and logs and proxies could not tell them apart.
        headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        if if_none_match:
            headers["If-None-Match"] = if_none_match
        async with self._client().get(
            yarl.URL(location.url, encoded=True), headers=headers, allow_redirects=False
        ) as response:
            body = await response.read()
            status = response.status
            if status == 200 or status == 304:
                return status, response.headers.get("ETag"), body if status == 200 else b""
            raise client_error_from_response(status, response.headers, body)
