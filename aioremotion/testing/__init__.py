"""Loopback test servers for aioremotion (the base of a local Lambda emulator).

* :class:`LambdaApiServer` - aiohttp emulation of the Lambda invoke API,
  driven by a :class:`LambdaBackend` such as :class:`ScriptedLambdaBackend`;
* :class:`S3Server` - moto's S3 server on a free loopback port;
* :mod:`aioremotion.testing.eventstream` - AWS event-stream encoder.
"""

from .lambda_api import (
    AbortConnection,
    FunctionError,
    InvokeResult,
    LambdaApiError,
    LambdaApiServer,
    LambdaBackend,
    LambdaInvocation,
    ScriptedLambdaBackend,
    StreamResult,
)
from .s3_server import S3Server

__all__ = [
    "AbortConnection",
    "FunctionError",
    "InvokeResult",
    "LambdaApiError",
    "LambdaApiServer",
    "LambdaBackend",
    "LambdaInvocation",
    "S3Server",
    "ScriptedLambdaBackend",
    "StreamResult",
]
