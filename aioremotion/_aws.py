"""AWS sessions, credentials and client settings for aioremotion.

Credentials come from the standard AWS chain, or from Remotion's own variables
(``REMOTION_AWS_ACCESS_KEY_ID``/``REMOTION_AWS_SECRET_ACCESS_KEY``/``REMOTION_AWS_SESSION_TOKEN``
or ``REMOTION_AWS_PROFILE``), which take precedence as in the JS client. Endpoints honour
``AWS_ENDPOINT_URL_LAMBDA`` and ``AWS_ENDPOINT_URL_S3`` (botocore reads them), which is how
the local emulator is reached.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import (
    ConnectTimeoutError,
    EndpointConnectionError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)

from . import environment
from .errors import CredentialsMissingError, InvalidOptionsError
from .protocol.constants import DEFAULT_REMOTION_VERSION

#: Lambda invokes need read timeouts at least the function timeout (up to 900 s).
LAMBDA_READ_TIMEOUT_MARGIN_S = 30
MAX_LAMBDA_TIMEOUT_S = 900


@dataclass(frozen=True)
class AwsSettings:
    """Where and how to reach AWS.

    ``endpoint_urls`` maps a service name (``lambda``, ``s3``) to an endpoint; when absent,
    botocore's own configuration applies (``AWS_ENDPOINT_URL_<SERVICE>``, config files).
    """

    region: str
    endpoint_urls: Mapping[str, str] = field(default_factory=dict)
    max_pool_connections: int = 100
    lambda_read_timeout_s: float = MAX_LAMBDA_TIMEOUT_S + LAMBDA_READ_TIMEOUT_MARGIN_S
    connect_timeout_s: float = 10
    s3_addressing_style: str = "auto"
    s3_max_attempts: int = 3


#: What a client without a region is told.
MISSING_REGION = ('is required: pass the region your function is deployed in, as '
                  'region="us-east-1" for example, or set AWS_REGION (or REMOTION_AWS_REGION)')


def region_from_environment() -> str | None:
    """The region set in the environment, Remotion's variable first."""
    return environment.setting("region")


def version_from_environment() -> str:
    """The Remotion version to build payloads for: ``REMOTION_VERSION``, else the default."""
    return environment.setting("remotion_version") or DEFAULT_REMOTION_VERSION


def make_session(environ: Mapping[str, str] | None = None) -> AioSession:
    """An aiobotocore session with Remotion's credential variables applied."""
    key = environment.setting("access_key_id", environ)
    secret = environment.setting("secret_access_key", environ)
    profile = environment.setting("profile", environ)
    if bool(key) != bool(secret):
        missing = "REMOTION_AWS_SECRET_ACCESS_KEY" if key else "REMOTION_AWS_ACCESS_KEY_ID"
        raise InvalidOptionsError(
            [(missing, "is not set although its partner is: set both, or neither")]
        )
    session = get_session()
    if profile and not key:
        session.set_config_variable("profile", profile)
    if key and secret:
        session.set_credentials(key, secret, environment.setting("session_token", environ))
    return session


async def ensure_credentials(session: AioSession) -> None:
    """Raise :class:`CredentialsMissingError` when no credentials can be found."""
    try:
        credentials = await session.get_credentials()
    except Exception as exc:  # a broken profile, say
        raise CredentialsMissingError(
            detail=f"they could not be loaded: {type(exc).__name__}: {exc}") from exc
    if credentials is None:
        raise CredentialsMissingError()


def lambda_config(settings: AwsSettings) -> AioConfig:
    """Lambda: no botocore retries (a retried start is a second render), long reads."""
    return AioConfig(
        region_name=settings.region,
        retries={"total_max_attempts": 1, "mode": "standard"},
        read_timeout=settings.lambda_read_timeout_s,
        connect_timeout=settings.connect_timeout_s,
        max_pool_connections=settings.max_pool_connections,
        tcp_keepalive=True,
    )


def s3_config(settings: AwsSettings) -> AioConfig:
    """S3: reads and writes of small objects are idempotent, so standard retries are fine."""
    return AioConfig(
        region_name=settings.region,
        retries={"total_max_attempts": settings.s3_max_attempts, "mode": "standard"},
        read_timeout=60,
        connect_timeout=settings.connect_timeout_s,
        max_pool_connections=settings.max_pool_connections,
        s3={"addressing_style": settings.s3_addressing_style},
        signature_version="s3v4",
    )


def request_never_sent(exc: BaseException) -> bool:
    """Whether ``exc`` proves that a request never left this machine.

    This is the one rule aioremotion uses to decide that a failed start started nothing.
    It is conservative: only a failure to *connect* proves it (connection refused, a DNS
    failure, a TLS handshake or certificate failure, a connect timeout, a proxy that
    refused the tunnel). aiobotocore reports a connection reset or dropped while the
    request was being sent or its reply read as ``EndpointConnectionError`` too, so that
    class alone proves nothing: its underlying aiohttp error decides. Everything else
    (read timeouts, resets, closed connections, unknown errors) may have reached the
    function.

    Example:
        >>> import aiohttp
        >>> from botocore.exceptions import EndpointConnectionError
        >>> reset = aiohttp.ClientOSError(104, "Connection reset by peer")
        >>> request_never_sent(EndpointConnectionError(endpoint_url="http://x", error=reset))
        False
    """
    if isinstance(exc, ReadTimeoutError):
        return False
    if isinstance(exc, (ConnectTimeoutError, SSLError, ProxyConnectionError)):
        return True
    if isinstance(exc, EndpointConnectionError):
        cause = exc.kwargs.get("error")
        return isinstance(cause, (aiohttp.ClientConnectorError, socket.gaierror))
    return isinstance(exc, aiohttp.ClientConnectorError)
