"""A local Remotion Lambda for tests, demos and benchmarks: no AWS account needed.

* :class:`RemotionEmulator` - the emulator (Lambda API + moto S3 + emulated functions);
* :class:`EmulatorConfig` - its speed, frame cost, real encoding, account concurrency;
* :class:`LambdaApiServer` / :class:`ScriptedLambdaBackend` - the Lambda Invoke API server
  with a scripted backend, for tests of one call at a time;
* :class:`S3Server` - moto's S3 server on a free loopback port.

Names load lazily, so importing this package (as the pytest plugin does) needs none of
the emulator's optional dependencies until they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "RemotionEmulator": "emulator",
    "EmulatorConfig": "functions",
    "Faults": "faults",
    "AbortConnection": "lambda_api",
    "FunctionError": "lambda_api",
    "InvokeResult": "lambda_api",
    "LambdaApiError": "lambda_api",
    "LambdaApiServer": "lambda_api",
    "LambdaBackend": "lambda_api",
    "LambdaInvocation": "lambda_api",
    "ScriptedLambdaBackend": "lambda_api",
    "StreamResult": "lambda_api",
    "S3Server": "s3_server",
    "FaultyS3Proxy": "s3_faults",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aioremotion.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .emulator import RemotionEmulator
    from .faults import Faults
    from .functions import EmulatorConfig
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
    from .s3_faults import FaultyS3Proxy
    from .s3_server import S3Server
