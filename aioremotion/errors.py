"""The exceptions aioremotion raises. Each message says what went wrong and what to do.

This module is pure (no I/O), so the protocol core may raise these too.

Example:
    >>> from aioremotion.errors import InvalidOptionsError
    >>> try:
    ...     raise InvalidOptionsError([("codec", "must be one of h264, ...; got 'avi'")])
    ... except InvalidOptionsError as exc:
    ...     print(exc)
    Invalid options:
      codec: must be one of h264, ...; got 'avi'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ConcurrencyLimitError",
    "CredentialsMissingError",
    "FunctionInvocationError",
    "InvalidOptionsError",
    "InvalidReplyError",
    "ProgressFileError",
    "RemotionError",
    "RemotionFunctionError",
    "RenderNotFoundError",
    "RequestNotSentError",
    "StartOutcomeUnknownError",
    "StillRenderNotSupportedError",
    "VersionMismatchError",
]


class RemotionError(Exception):
    """Base class of every error aioremotion raises on purpose."""


class InvalidOptionsError(RemotionError, ValueError):
    """Options were rejected before any AWS call.

    ``problems`` is a list of ``(field, message)``; field names are the snake_case names
    of the Python API (the camelCase alias works as input too).
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems: list[tuple[str, str]] = list(problems)
        lines = "\n".join(f"  {field}: {message}" for field, message in self.problems)
        super().__init__(f"Invalid options:\n{lines}")

    @property
    def fields(self) -> list[str]:
        """The names of the rejected fields, in order."""
        return [field for field, _ in self.problems]


class CredentialsMissingError(RemotionError):
    """No AWS credentials were found (the Next.js template's wording)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "Set up Remotion Lambda to render videos. See the README.md for how to do so."
        )


class RemotionFunctionError(RemotionError):
    """The Remotion function ran and answered with an error.

    ``message`` is the function's own message, ``stack`` its stack trace if it sent one.
    """

    def __init__(self, message: str, *, stack: str | None = None, function_name: str = "") -> None:
        self.message = message
        self.stack = stack
        self.function_name = function_name
        super().__init__(message)


class VersionMismatchError(RemotionFunctionError):
    """The deployed function runs another Remotion version than the payload was built for.

    Fix: pass the deployed version (``RemotionLambda(remotion_version=...)``; find it with
    ``await client.function_version()``), or deploy a function of the version you use.
    """


class FunctionInvocationError(RemotionError):
    """Lambda reported an unhandled error (``FunctionError``) or a streaming error code."""

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        function_name: str = "",
        details: Any = None,
    ) -> None:
        self.error_type = error_type
        self.function_name = function_name
        self.details = details
        super().__init__(message)


class InvalidReplyError(RemotionError):
    """The function's reply was empty or not the JSON the protocol promises."""


class ConcurrencyLimitError(RemotionError):
    """AWS throttled the invocation (HTTP 429) and retries were used up.

    The function was never run, so nothing was started. The account's Lambda concurrency
    (1000 by default per region) is shared by every function and every chunk of every render.
    """

    def __init__(self, message: str, *, attempts: int = 1, reason: str | None = None) -> None:
        self.attempts = attempts
        self.reason = reason
        super().__init__(message)


class RequestNotSentError(RemotionError):
    """The request provably never left this machine: the connection could not be made
    (refused, DNS failure, TLS handshake, connect timeout, proxy refused). Nothing ran, so
    it is safe to send again once the network or endpoint is fixed.

    Only failures that happen before any byte of the request is sent get this error; a
    connection lost after that (a reset, a read timeout) is a
    :class:`StartOutcomeUnknownError` for a start.
    """


class StartOutcomeUnknownError(RemotionError):
    """The request may have reached AWS but no answer came back (a read timeout, a reset
    or dropped connection): the render may or may not be running. It is never retried
    automatically, because retrying could start the render twice.

    ``function_name``, ``bucket_name`` and ``payload_type`` carry what is known; look for a
    new ``renders/<id>/progress.json`` in the bucket to find out. A start made by
    :class:`~aioremotion.Batch` (or ``aioremotion batch``) carries a tag in the render's
    metadata: ``aioremotion.recovery.find_tagged_renders`` finds it by that tag.
    """

    def __init__(
        self,
        message: str,
        *,
        function_name: str,
        payload_type: str,
        bucket_name: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.payload_type = payload_type
        self.bucket_name = bucket_name
        super().__init__(message)


class RenderNotFoundError(RemotionError):
    """No ``progress.json`` exists for this render id in this bucket."""

    def __init__(self, render_id: str, bucket_name: str, region: str) -> None:
        self.render_id = render_id
        self.bucket_name = bucket_name
        self.region = region
        super().__init__(
            f'No render with ID "{render_id}" found in bucket {bucket_name} and region {region}'
        )


class ProgressFileError(RemotionError):
    """``progress.json`` exists but cannot be understood (not JSON, or not an object)."""


class StillRenderNotSupportedError(RemotionError):
    """Progress was asked for a still render, which finishes within its one invocation."""

    def __init__(self) -> None:
        super().__init__(
            "You don't need to call getRenderProgress() on a still render. "
            "Once you have obtained the `renderId`, the render is already done! "
            "(aioremotion: render_still() returns the finished result.)"
        )
