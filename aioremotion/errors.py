"""The exceptions aioremotion raises: one hierarchy, and each message says what to do.

This module is pure (no I/O), so the protocol core may raise these too. Every failure of a
request to AWS reaches the caller as one of these: botocore's and aiohttp's exceptions are
translated in one place (:mod:`aioremotion.transport.errors`) and kept as ``__cause__``.

The tree (``[permanent]``: never retried by anyone; ``[retried]``: watchers retry it with
backoff; see docs/ERRORS.md)::

    RemotionError                       everything aioremotion raises on purpose
    ├── InvalidOptionsError             options rejected before any AWS call (a ValueError)
    ├── AwsError                        a request to AWS failed (.service .operation .code
    │   │                               .status_code); the fallback for rare AWS codes
    │   ├── CredentialsError            the credentials are the problem       [permanent]
    │   │   ├── CredentialsMissingError     none were found
    │   │   ├── CredentialsExpiredError     an expired session token or SSO session
    │   │   └── CredentialsInvalidError     unknown key id, wrong secret, mixed up
    │   ├── AccessDeniedError           the credentials lack a permission     [permanent]
    │   ├── BucketNotFoundError         no such S3 bucket                     [permanent]
    │   ├── FunctionNotFoundError       no such Lambda function in the region [permanent]
    │   ├── WrongRegionError            the bucket lives in another region    [permanent]
    │   ├── ObjectNotFoundError         no such S3 object                     [permanent]
    │   │   └── RenderNotFoundError     no progress.json for this render (a watcher waits
    │   │                               ``not_found_grace_s`` for it to appear)
    │   ├── ConcurrencyLimitError       Lambda throttled (429) every attempt: nothing ran
    │   └── TransientError              may pass on its own: S3 5xx/SlowDown, a dropped
    │       │                           connection                            [retried]
    │       ├── RequestTimeoutError     no answer within the read timeout     [retried]
    │       └── RequestNotSentError     no connection could be made: nothing was sent
    ├── StartOutcomeUnknownError        a start was sent, its answer lost: never retried
    ├── RemotionFunctionError           the function ran and answered with an error
    │   └── VersionMismatchError        ... because it runs another Remotion version
    ├── FunctionInvocationError         Lambda reported an unhandled function error
    ├── InvalidReplyError               the reply is not what the protocol promises
    ├── ProgressFileError               progress.json cannot be understood    [retried]
    ├── StillRenderNotSupportedError    progress asked of a still render
    ├── HubError                        an outcome hub (aioremotion.hub_redis) failed
    │   └── HubUnavailableError         ... because its server cannot be reached
    ├── RenderFailed                    (aioremotion.events) wait() on a failed render
    ├── WatchError                      (aioremotion.watching) too many errors in a row
    └── BatchFailed                     (aioremotion.fanout) a fail_fast batch stopped

Example:
    >>> from aioremotion.errors import InvalidOptionsError
    >>> try:
    ...     raise InvalidOptionsError([("codec", "must be one of h264, ...; got 'avi'")])
    ... except InvalidOptionsError as exc:
    ...     print(exc)
    Invalid options:
      codec: must be one of h264, ...; got 'avi'
    >>> error = BucketNotFoundError("remotionlambda-useast1-abcdefghij", region="us-east-1")
    >>> isinstance(error, AwsError), is_transient(error)
    (True, False)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

__all__ = [
    "AccessDeniedError",
    "AwsError",
    "BucketNotFoundError",
    "ConcurrencyLimitError",
    "CredentialsError",
    "CredentialsExpiredError",
    "CredentialsInvalidError",
    "CredentialsMissingError",
    "FunctionInvocationError",
    "FunctionNotFoundError",
    "HubError",
    "HubUnavailableError",
    "InvalidOptionsError",
    "InvalidReplyError",
    "ObjectNotFoundError",
    "ProgressFileError",
    "RemotionError",
    "RemotionFunctionError",
    "RenderNotFoundError",
    "RequestNotSentError",
    "RequestTimeoutError",
    "StartOutcomeUnknownError",
    "StillRenderNotSupportedError",
    "TransientError",
    "VersionMismatchError",
    "WrongRegionError",
    "is_transient",
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


# ---------------------------------------------------------------- requests to AWS


class AwsError(RemotionError):
    """A request to AWS failed. Raised as such for AWS error codes without a class of
    their own; its subclasses name the common cases.

    ``service`` (``"s3"``, ``"lambda"``), ``operation`` (``"GetObject"``, ``"Invoke"``, ...),
    ``code`` (AWS's error code, e.g. ``"NoSuchBucket"``) and ``status_code`` (HTTP) are set
    when known; ``None`` otherwise (a failure before any answer, say).
    """

    def __init__(
        self,
        message: str,
        *,
        service: str | None = None,
        operation: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.service = service
        self.operation = operation
        self.code = code
        self.status_code = status_code
        super().__init__(message)


class CredentialsError(AwsError):
    """The AWS credentials are missing, expired or not accepted. Fix them; retrying the
    same request cannot help, so nothing retries it."""


#: How to give aioremotion AWS credentials (every variable is one aioremotion or botocore
#: reads; see aioremotion.environment.VARIABLES).
CREDENTIALS_HELP: Final = (
    "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or REMOTION_AWS_ACCESS_KEY_ID and "
    "REMOTION_AWS_SECRET_ACCESS_KEY, which win over them), or name a profile with AWS_PROFILE "
    "(or REMOTION_AWS_PROFILE); an IAM role, or `aws sso login` for an SSO profile, works too."
)
#: Where to render without an AWS account.
EMULATOR_HELP: Final = (
    "No AWS account? Render on the local emulator: add --local on the command line "
    "(`aioremotion render --local`), run `aioremotion emulator`, or use "
    "`aioremotion.emulator.RemotionEmulator` in Python."
)


def missing_credentials_message(detail: str | None = None) -> str:
    """The message of a :class:`CredentialsMissingError`; ``detail`` says what failed.

    >>> print(missing_credentials_message("botocore found none"))  # doctest: +ELLIPSIS
    No AWS credentials were found (botocore found none). Set AWS_ACCESS_KEY_ID and ...
    """
    found = f" ({detail})" if detail else ""
    return f"No AWS credentials were found{found}. {CREDENTIALS_HELP} {EMULATOR_HELP}"


class CredentialsMissingError(CredentialsError):
    """No AWS credentials were found. The message names the variables that provide them
    and the local emulator; ``detail`` says what failed (say, a profile that does not
    exist)."""

    def __init__(self, message: str | None = None, *, detail: str | None = None,
                 **context: Any) -> None:
        self.detail = detail
        super().__init__(message or missing_credentials_message(detail), **context)


class CredentialsExpiredError(CredentialsError):
    """The credentials have expired (a session token, an SSO session): refresh them."""


class CredentialsInvalidError(CredentialsError):
    """AWS does not know the access key, or the secret does not match it."""


class AccessDeniedError(AwsError):
    """AWS refused the request: the credentials lack a permission for it (or, for S3, the
    object does not exist and the credentials may not list the bucket)."""


class BucketNotFoundError(AwsError):
    """The S3 bucket does not exist."""

    def __init__(self, bucket_name: str, *, region: str, message: str | None = None,
                 **context: Any) -> None:
        self.bucket_name = bucket_name
        self.region = region
        super().__init__(
            message or (
                f"The S3 bucket {bucket_name} does not exist (asked from region {region}). "
                "Pass the bucketName the render call returned (bucket_name=..., or the "
                "RenderHandle itself); if the bucket was deleted, a new render creates one "
                "(or call get_or_create_bucket())."
            ),
            **context,
        )


class FunctionNotFoundError(AwsError):
    """No Lambda function of that name exists in the client's region."""

    def __init__(self, function_name: str, *, region: str, detail: str = "",
                 **context: Any) -> None:
        self.function_name = function_name
        self.region = region
        detail = f": {detail}" if detail else ""
        super().__init__(
            f"Lambda function {function_name} was not found in {region}{detail}. Deploy it "
            "with `npx remotion lambda functions deploy`, or pass the name of a deployed "
            "function (function_name=... or REMOTION_FUNCTION_NAME; `npx remotion lambda "
            "functions ls` lists them) and the region it is deployed in (region=... or "
            "AWS_REGION). " + EMULATOR_HELP,
            **context,
        )


class WrongRegionError(AwsError):
    """The bucket lives in another region than the client's."""

    def __init__(self, bucket_name: str, *, region: str, bucket_region: str | None = None,
                 **context: Any) -> None:
        self.bucket_name = bucket_name
        self.region = region
        self.bucket_region = bucket_region
        where = bucket_region or "another region"
        super().__init__(
            f"The S3 bucket {bucket_name} is in {where}, not in {region}, the client's "
            "region. Use a client for the bucket's region "
            f"(RemotionLambda(region={bucket_region or '...'!r}), or AWS_REGION or "
            "REMOTION_AWS_REGION), or pass a bucket of this region.",
            **context,
        )


class ObjectNotFoundError(AwsError):
    """The S3 object does not exist (``NoSuchKey``, a 404 HEAD)."""

    def __init__(self, bucket_name: str, key: str, *, message: str | None = None,
                 **context: Any) -> None:
        self.bucket_name = bucket_name
        self.key = key
        super().__init__(message or f"There is no object {key} in the S3 bucket "
                                    f"{bucket_name}.", **context)


class RenderNotFoundError(ObjectNotFoundError):
    """No ``progress.json`` exists for this render id in this bucket."""

    def __init__(self, render_id: str, bucket_name: str, region: str) -> None:
        self.render_id = render_id
        self.region = region
        super().__init__(
            bucket_name, f"renders/{render_id}/progress.json",
            message=(f'No render with ID "{render_id}" found in bucket {bucket_name} and '
                     f"region {region}"),
            service="s3", operation="GetObject", code="NoSuchKey", status_code=404,
        )


class ConcurrencyLimitError(AwsError):
    """AWS throttled the invocation (HTTP 429) and retries were used up.

    The function was never run, so nothing was started. The account's Lambda concurrency
    (1000 by default per region) is shared by every function and every chunk of every
    render. ``attempts``: how many times it was sent; ``reason``: AWS's reason
    (``ConcurrentInvocationLimitExceeded``, ...); ``original``: AWS's own message.
    """

    def __init__(self, message: str, *, attempts: int = 1, reason: str | None = None,
                 original: str | None = None, **context: Any) -> None:
        self.attempts = attempts
        self.reason = reason
        self.original = original if original is not None else message
        context.setdefault("service", "lambda")
        context.setdefault("status_code", 429)
        super().__init__(message, **context)


class TransientError(AwsError):
    """A failure that usually passes on its own: S3 answering 5xx or ``SlowDown``, a
    connection dropped, a read timeout on a call that changes nothing. Watchers retry it
    with backoff (up to ``WatchOptions.max_consecutive_errors`` in a row); a start is never
    retried on it (see :class:`StartOutcomeUnknownError`)."""


class RequestTimeoutError(TransientError):
    """No answer came within the read timeout (for a call that changes nothing)."""


class RequestNotSentError(TransientError):
    """The request provably never left this machine: the connection could not be made
    (refused, DNS failure, TLS handshake, connect timeout, proxy refused). Nothing ran, so
    it is safe to send again once the network or endpoint is fixed.

    Only failures that happen before any byte of the request is sent get this error; a
    connection lost after that (a reset, a read timeout) is a
    :class:`StartOutcomeUnknownError` for a start.
    """


def is_transient(error: BaseException) -> bool:
    """Whether a watcher may retry ``error`` (a :class:`TransientError` or a
    :class:`ProgressFileError`); every other error is final for it.

    >>> is_transient(TransientError("503 SlowDown")), is_transient(ProgressFileError("x"))
    (True, True)
    >>> is_transient(AccessDeniedError("denied"))
    False
    """
    return isinstance(error, (TransientError, ProgressFileError))


# ---------------------------------------------------------------- the function's answers


class RemotionFunctionError(RemotionError):
    """The Remotion function ran and answered with an error.

    ``message`` is the function's own message (Remotion's words, unchanged), ``stack`` its
    stack trace if it sent one. ``str()`` of the error is ``message``, except for
    subclasses that explain it in aioremotion's terms.
    """

    def __init__(self, message: str, *, stack: str | None = None, function_name: str = "") -> None:
        self.message = message
        self.stack = stack
        self.function_name = function_name
        super().__init__(self._describe())

    def _describe(self) -> str:
        return self.message


#: Remotion's API names in its version-mismatch text → the aioremotion call that sent it.
_PYTHON_CALLS: Final = {
    "renderMediaOnLambda": "render_media()",
    "renderStillOnLambda": "render_still()",
    "getRenderProgress": 'get_progress(via="lambda")',
    "getCompositionsOnLambda": "get_compositions()",
}
_API_RE: Final = re.compile(r"When calling (\w+)\(\)")
_FUNCTION_VERSION_RE: Final = re.compile(r"which has the version (\S+?),?\s")
_SENT_VERSION_RE: Final = re.compile(r"invoke the function has version (\S+?)\.?(?:\s|$)")


class VersionMismatchError(RemotionFunctionError):
    """The deployed function runs another Remotion version than the payload was built for.

    The message says both versions and the fix: pass the function's version
    (``RemotionLambda(remotion_version=...)`` or ``REMOTION_VERSION``; ``await
    client.function_version()`` or ``aioremotion info`` tells it), or deploy a function of
    the version you use. Remotion's own text stays in ``message`` and ends ``str()``.

    ``function_version`` and ``sent_version`` are read from Remotion's text (``None`` when
    it does not say; ``sent_version`` is ``None`` too when the payload had no version);
    ``call`` is the aioremotion call that was refused (``"render_media()"``, ...), if known.

    >>> error = VersionMismatchError(
    ...     "Version mismatch: When calling renderMediaOnLambda(), you passed fn as the "
    ...     "function, which has the version 4.0.508, but the @remotion/lambda package you "
    ...     "used to invoke the function has version 4.0.527. Deploy a new function and use "
    ...     "it to call getRenderProgress(). See: https://www.remotion.dev/docs/lambda/upgrading",
    ...     function_name="fn")
    >>> error.function_version, error.sent_version, error.call
    ('4.0.508', '4.0.527', 'render_media()')
    >>> print(error)  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    The function fn runs Remotion 4.0.508 but this client sent 4.0.527 (render_media()):
    pass remotion_version="4.0.508" (or set REMOTION_VERSION=4.0.508), or deploy a
    function of Remotion 4.0.527. ... Remotion said: Version mismatch: When calling ...
    """

    def __init__(self, message: str, *, stack: str | None = None, function_name: str = "") -> None:
        first_line = message.strip().split("\n", 1)[0]
        api = _API_RE.search(first_line)
        function_version = _FUNCTION_VERSION_RE.search(first_line)
        sent_version = _SENT_VERSION_RE.search(first_line)
        self.call: str | None = _PYTHON_CALLS.get(api.group(1)) if api else None
        self.function_version: str | None = function_version.group(1) if function_version else None
        self.sent_version: str | None = sent_version.group(1) if sent_version else None
        super().__init__(message, stack=stack, function_name=function_name)

    def _describe(self) -> str:
        function = f"The function {self.function_name}" if self.function_name else "The function"
        call = f" ({self.call})" if self.call else ""
        fv, sv = self.function_version, self.sent_version
        if fv and sv:
            problem = f"{function} runs Remotion {fv} but this client sent {sv}{call}"
        elif fv and ("incompatible payload" in self.message
                     or "package is an older version" in self.message):
            of = f" of {self.call}" if self.call else ""
            problem = f"{function} runs Remotion {fv} but the payload{of} carried no version"
        elif fv:
            problem = f"{function} runs Remotion {fv}, not the version this client sent{call}"
        else:
            sent = f" ({sv})" if sv else ""
            problem = (f"{function} runs another Remotion version than this client "
                       f"sent{sent}{call}")
        fix = (f'pass remotion_version="{fv}" (or set REMOTION_VERSION={fv})' if fv
               else "pass the function's version as remotion_version=... (or set "
                    "REMOTION_VERSION)")
        deploy = f"Remotion {sv}" if sv else "the version you use"
        said = self.message.strip().split("\n", 1)[0]
        return (f"{problem}: {fix}, or deploy a function of {deploy}. `await "
                "client.function_version()` (CLI: `aioremotion info`) shows a function's "
                f"version. Remotion said: {said}")


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


class ProgressFileError(RemotionError):
    """``progress.json`` exists but cannot be understood (not JSON, or not an object)."""


class StillRenderNotSupportedError(RemotionError):
    """Progress was asked for a still render, which finishes within its one invocation."""

    def __init__(self) -> None:
        super().__init__(
            "A still render has no progress to follow: render_still() returns only once the "
            "image is done, with its URL (StillResult.url). Remotion said: You don't need to "
            "call getRenderProgress() on a still render. Once you have obtained the "
            "`renderId`, the render is already done!"
        )


# ---------------------------------------------------------------- outcome hubs


class HubError(RemotionError):
    """An outcome hub (the store that carries verified webhooks to the watchers of their
    renders, e.g. :class:`aioremotion.hub_redis.RedisHub`) failed or is misconfigured.
    ``url`` is the hub's URL with any password hidden."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(message)


class HubUnavailableError(HubError):
    """The hub's server cannot be reached (refused, timed out, connection lost and not
    regained). Watchers still finish by polling; the message says how to fix it.

    >>> print(HubUnavailableError("Redis at redis://127.0.0.1:6379/0 is unreachable",
    ...                           url="redis://127.0.0.1:6379/0").url)
    redis://127.0.0.1:6379/0
    """
