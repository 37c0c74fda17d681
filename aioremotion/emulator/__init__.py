"""A local Remotion Lambda: no AWS account needed, behind the real AWS HTTP APIs.

``aioremotion render --local``, ``aioremotion serve --local`` and ``aioremotion emulator``
run on it, and so can your demos, notebooks and tests (for tests, see the
``remotion_emulator`` fixture of :mod:`aioremotion.testing`). Those commands encode real
H.264 unless given ``--synthetic``; the library's :class:`EmulatorConfig` defaults to
synthetic outputs (tiny, unplayable, instant), so pass ``real_encoding=True`` for videos.

Any well-formed function name (``remotion-render-4-0-491-mem2048mb-disk2048mb-120sec``) is a
deployed function of the version it names, and the emulator is that version, strictly: a
payload of another version gets Remotion's ``Version mismatch`` error in that version's
words (:mod:`.version_mismatch`), and a ``start``, ``still``, ``status`` or ``compositions``
payload lacking a key that version reads, or carrying one only a
later version reads, gets an error reply naming the keys (:mod:`.payload_check`;
``EmulatorConfig(strict_payloads=False)`` or ``@pytest.mark.remotion_emulator(
strict_payloads=False)`` relaxes it). Other extra keys are ignored, as on Lambda.

* :class:`RemotionEmulator` - the emulator (Lambda API + moto S3 + emulated functions);
* :class:`EmulatorConfig` - its speed, frame cost, real encoding, account concurrency,
  strict payloads;
* :class:`Faults` - faults armed from Python (``emulator.faults``);
* :class:`Composition` / :class:`CompositionRegistry` - the compositions of its site;
* :class:`LambdaApiServer` and the :class:`LambdaBackend` interface (with its results and
  errors) - the Lambda Invoke API server the functions run behind;
* :class:`S3Server` - moto's S3 server on a free loopback port.

Example::

    from aioremotion.emulator import RemotionEmulator

    async with RemotionEmulator() as emulator:
        async with emulator.client() as remotion:
            render = await remotion.render_media(
                serve_url=emulator.serve_url, composition="HelloWorld", codec="h264")

Names load lazily, so importing this package needs none of the emulator's optional
dependencies (moto, Pillow, PyAV) until they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "RemotionEmulator": "emulator",
    "EmulatorConfig": "config",
    "ChunkFault": "faults",
    "Faults": "faults",
    "StartedRender": "functions",
    "Composition": "media",
    "CompositionRegistry": "media",
    "default_registry": "media",
    "AbortConnection": "backend",
    "FunctionError": "backend",
    "InvokeResult": "backend",
    "LambdaApiError": "backend",
    "LambdaBackend": "backend",
    "LambdaInvocation": "backend",
    "StreamResult": "backend",
    "LambdaApiServer": "lambda_api",
    "S3Server": "s3_server",
}

__all__ = [
    "AbortConnection",
    "ChunkFault",
    "Composition",
    "CompositionRegistry",
    "EmulatorConfig",
    "Faults",
    "FunctionError",
    "InvokeResult",
    "LambdaApiError",
    "LambdaApiServer",
    "LambdaBackend",
    "LambdaInvocation",
    "RemotionEmulator",
    "S3Server",
    "StartedRender",
    "StreamResult",
    "default_registry",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from .backend import (
        AbortConnection,
        FunctionError,
        InvokeResult,
        LambdaApiError,
        LambdaBackend,
        LambdaInvocation,
        StreamResult,
    )
    from .config import EmulatorConfig
    from .emulator import RemotionEmulator
    from .faults import ChunkFault, Faults
    from .functions import StartedRender
    from .lambda_api import LambdaApiServer
    from .media import Composition, CompositionRegistry, default_registry
    from .s3_server import S3Server
