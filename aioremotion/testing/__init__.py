"""Testing tools: the ``remotion_emulator`` pytest fixture, a fault-injecting proxy, and
what a test of your own backend needs from the emulator.

* the pytest plugin (:mod:`aioremotion.testing.pytest_plugin`, registered by entry point):
  the ``remotion_emulator`` fixture, configured by the ``remotion_emulator_config``
  fixture and the ``remotion_emulator`` marker;
* :class:`FaultyProxy` (alias :class:`FaultyS3Proxy`) - a reverse proxy that injects HTTP
  faults between a client and any endpoint (moto's S3, the emulator's Lambda API);
* re-exported from :mod:`aioremotion.emulator`: :class:`RemotionEmulator`,
  :class:`EmulatorConfig`, :class:`Faults`, :class:`S3Server`, :class:`LambdaApiServer`
  and its backend interface; and :class:`ScriptedLambdaBackend`, a Lambda backend
  whose replies a test scripts, for tests of one call at a time.

Names load lazily, so importing this package (as the pytest plugin does) needs none of
the emulator's optional dependencies until they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "RemotionEmulator": "aioremotion.emulator",
    "EmulatorConfig": "aioremotion.emulator",
    "Faults": "aioremotion.emulator",
    "S3Server": "aioremotion.emulator",
    "AbortConnection": "aioremotion.emulator",
    "FunctionError": "aioremotion.emulator",
    "InvokeResult": "aioremotion.emulator",
    "LambdaApiError": "aioremotion.emulator",
    "LambdaApiServer": "aioremotion.emulator",
    "LambdaBackend": "aioremotion.emulator",
    "LambdaInvocation": "aioremotion.emulator",
    "StreamResult": "aioremotion.emulator",
    "ScriptedLambdaBackend": "aioremotion.testing.scripted_lambda",
    "FaultyProxy": "aioremotion.testing.proxy",
    "FaultyS3Proxy": "aioremotion.testing.proxy",
}

__all__ = [
    "AbortConnection",
    "EmulatorConfig",
    "Faults",
    "FaultyProxy",
    "FaultyS3Proxy",
    "FunctionError",
    "InvokeResult",
    "LambdaApiError",
    "LambdaApiServer",
    "LambdaBackend",
    "LambdaInvocation",
    "RemotionEmulator",
    "S3Server",
    "ScriptedLambdaBackend",
    "StreamResult",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from ..emulator import (
        AbortConnection,
        EmulatorConfig,
        Faults,
        FunctionError,
        InvokeResult,
        LambdaApiError,
        LambdaApiServer,
        LambdaBackend,
        LambdaInvocation,
        RemotionEmulator,
        S3Server,
        StreamResult,
    )
    from .proxy import FaultyProxy, FaultyS3Proxy
    from .scripted_lambda import ScriptedLambdaBackend
