"""aioremotion: an asyncio-native client for Remotion Lambda.

Example::

    from aioremotion import RemotionLambda

    async with RemotionLambda(region="us-east-1") as remotion:
        render = await remotion.render_media(serve_url="my-site", composition="MyComp",
                                             codec="h264")
        progress = await remotion.get_progress(render)

Names are imported lazily, so ``import aioremotion.protocol`` (the pure core) never loads
aiobotocore or anyio.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "RemotionLambda": "client",
    "ProgressRead": "progress_reader",
    "ProgressReader": "progress_reader",
    "ThrottleRetry": "retry",
    "RenderHandle": "handles",
    "StillResult": "handles",
    "AccessDeniedError": "errors",
    "AwsError": "errors",
    "BucketNotFoundError": "errors",
    "ConcurrencyLimitError": "errors",
    "CredentialsError": "errors",
    "CredentialsExpiredError": "errors",
    "CredentialsInvalidError": "errors",
    "CredentialsMissingError": "errors",
    "FunctionInvocationError": "errors",
    "FunctionNotFoundError": "errors",
    "InvalidOptionsError": "errors",
    "InvalidReplyError": "errors",
    "ObjectNotFoundError": "errors",
    "ProgressFileError": "errors",
    "RemotionError": "errors",
    "RemotionFunctionError": "errors",
    "RenderNotFoundError": "errors",
    "RequestNotSentError": "errors",
    "RequestTimeoutError": "errors",
    "StartOutcomeUnknownError": "errors",
    "StillRenderNotSupportedError": "errors",
    "TransientError": "errors",
    "VersionMismatchError": "errors",
    "WrongRegionError": "errors",
    "DEFAULT_REMOTION_VERSION": "protocol.constants",
    "CompositionsOptions": "protocol.options",
    "ProgressOptions": "protocol.options",
    "RenderFramesOptions": "protocol.options",
    "RenderMediaOptions": "protocol.options",
    "RenderStillOptions": "protocol.options",
    "S3OutputPrefix": "protocol.options",
    "OutputSequence": "protocol.sequences",
    "SequenceManifest": "protocol.sequences",
    "estimate_price": "protocol.pricing",
    "RenderProgress": "protocol.progress",
    "Progress": "events",
    "Done": "events",
    "Failed": "events",
    "RenderEvent": "events",
    "RenderFailed": "events",
    "Started": "events",
    "RenderStream": "streaming",
    "PollPolicy": "schedule",
    "WatchOptions": "watching",
    "WatchError": "watching",
    "watch": "watching",
    "wait": "watching",
    "render": "shortcuts",
    "Batch": "fanout",
    "BatchFailed": "fanout",
    "BatchObserver": "fanout",
    "Job": "fanout",
    "JobResult": "fanout",
    "render_many": "fanout",
}

__all__ = [  # literal, so type checkers see the re-exports; a test keeps it equal
    "DEFAULT_REMOTION_VERSION",
    "AccessDeniedError",
    "AwsError",
    "Batch",
    "BatchFailed",
    "BatchObserver",
    "BucketNotFoundError",
    "CompositionsOptions",
    "ConcurrencyLimitError",
    "CredentialsError",
    "CredentialsExpiredError",
    "CredentialsInvalidError",
    "CredentialsMissingError",
    "Done",
    "Failed",
    "FunctionInvocationError",
    "FunctionNotFoundError",
    "InvalidOptionsError",
    "InvalidReplyError",
    "Job",
    "JobResult",
    "ObjectNotFoundError",
    "OutputSequence",
    "PollPolicy",
    "Progress",
    "ProgressFileError",
    "ProgressOptions",
    "ProgressRead",
    "ProgressReader",
    "RemotionError",
    "RemotionFunctionError",
    "RemotionLambda",
    "RenderEvent",
    "RenderFailed",
    "RenderFramesOptions",
    "RenderHandle",
    "RenderMediaOptions",
    "RenderNotFoundError",
    "RenderProgress",
    "RenderStillOptions",
    "RenderStream",
    "RequestNotSentError",
    "RequestTimeoutError",
    "S3OutputPrefix",
    "SequenceManifest",
    "StartOutcomeUnknownError",
    "Started",
    "StillRenderNotSupportedError",
    "StillResult",
    "ThrottleRetry",
    "TransientError",
    "VersionMismatchError",
    "WatchError",
    "WatchOptions",
    "WrongRegionError",
    "__version__",
    "estimate_price",
    "render",
    "render_many",
    "wait",
    "watch",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aioremotion' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .client import RemotionLambda
    from .errors import (
        AccessDeniedError,
        AwsError,
        BucketNotFoundError,
        ConcurrencyLimitError,
        CredentialsError,
        CredentialsExpiredError,
        CredentialsInvalidError,
        CredentialsMissingError,
        FunctionInvocationError,
        FunctionNotFoundError,
        InvalidOptionsError,
        InvalidReplyError,
        ObjectNotFoundError,
        ProgressFileError,
        RemotionError,
        RemotionFunctionError,
        RenderNotFoundError,
        RequestNotSentError,
        RequestTimeoutError,
        StartOutcomeUnknownError,
        StillRenderNotSupportedError,
        TransientError,
        VersionMismatchError,
        WrongRegionError,
    )
    from .events import Done, Failed, Progress, RenderEvent, RenderFailed, Started
    from .fanout import Batch, BatchFailed, BatchObserver, Job, JobResult, render_many
    from .handles import RenderHandle, StillResult
    from .progress_reader import ProgressRead, ProgressReader
    from .protocol.constants import DEFAULT_REMOTION_VERSION
    from .protocol.options import (
        CompositionsOptions,
        ProgressOptions,
        RenderFramesOptions,
        RenderMediaOptions,
        RenderStillOptions,
        S3OutputPrefix,
    )
    from .protocol.pricing import estimate_price
    from .protocol.progress import RenderProgress
    from .protocol.sequences import OutputSequence, SequenceManifest
    from .retry import ThrottleRetry
    from .schedule import PollPolicy
    from .shortcuts import render
    from .streaming import RenderStream
    from .watching import WatchError, WatchOptions, wait, watch
