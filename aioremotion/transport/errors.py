"""The one mapping of AWS failures to aioremotion's typed errors.

Two entry points, used by every transport:

* :func:`error_from_response`: AWS answered with an error (an HTTP status, an error code
  such as ``NoSuchBucket``, a message);
* :func:`error_from_exception`: a botocore, aiohttp or OS exception (a ``ClientError`` is
  read as an answer; the rest are network failures, credential-provider failures, ...).

Whether a failed request was sent at all is decided by one rule,
:func:`aioremotion._aws.request_never_sent`.

Example:
    >>> context = RequestContext("s3", "GetObject", region="us-east-1", bucket="b", key="k")
    >>> type(error_from_response(context, status=404, code="NoSuchBucket")).__name__
    'BucketNotFoundError'
    >>> type(error_from_response(context, status=503, code="SlowDown")).__name__
    'TransientError'
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError

from .._aws import request_never_sent
from ..errors import (
    AccessDeniedError,
    AwsError,
    BucketNotFoundError,
    ConcurrencyLimitError,
    CredentialsExpiredError,
    CredentialsInvalidError,
    CredentialsMissingError,
    FunctionNotFoundError,
    ObjectNotFoundError,
    RemotionError,
    RequestNotSentError,
    RequestTimeoutError,
    StartOutcomeUnknownError,
    TransientError,
    WrongRegionError,
)
from ..protocol.replies import concurrency_limit_message, is_throttle_error

__all__ = ["MAPPED_EXCEPTIONS", "RequestContext", "error_from_exception",
           "error_from_response"]

#: The exceptions a transport catches and maps; anything else is a bug and propagates.
MAPPED_EXCEPTIONS: tuple[type[BaseException], ...] = (
    BotoCoreError, ClientError, aiohttp.ClientError, OSError, TimeoutError,
    asyncio.TimeoutError,
)

UNRECOGNIZED_CLIENT_MESSAGE = (
    "UnrecognizedClientException: The AWS credentials provided were probably mixed up. Learn "
    "how to fix this issue here: "
    "https://remotion.dev/docs/lambda/troubleshooting/unrecognizedclientexception"
)

#: Routines whose invoke starts a render: a lost answer is an unknown outcome.
STARTING_ROUTINES = frozenset({"start", "still"})

_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired",
                      "TokenRefreshRequired"})
_INVALID = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId",
                      "UnrecognizedClientException", "InvalidSignatureException",
                      "InvalidToken", "IncompleteSignature", "MissingAuthenticationToken",
                      "InvalidSecurity", "AuthFailure"})
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "AllAccessDisabled",
                     "KMSAccessDeniedException", "Forbidden"})
_REGION = frozenset({"PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed",
                     "IllegalLocationConstraintException"})
_TRANSIENT = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
                        "Throttling", "ThrottlingException", "RequestLimitExceeded",
                        "ServiceException", "OperationAborted"})
_NOT_FOUND_OBJECT = frozenset({"NoSuchKey", "NotFound", "404"})
_REGION_IN_MESSAGE = re.compile(r"expecting '([a-z0-9-]+)'")

#: Credential-provider failures that mean "log in again" (botocore class names).
_EXPIRED_PROVIDERS = frozenset({"SSOTokenLoadError", "UnauthorizedSSOTokenError",
                                "TokenRetrievalError", "RefreshWithMFAUnsupportedError",
                                "CredentialRetrievalError", "NoAuthTokenError"})
_MISSING_PROVIDERS = frozenset({"NoCredentialsError", "PartialCredentialsError",
                                "ProfileNotFound"})


@dataclass(frozen=True)
class RequestContext:
    """What a request was: for the error's type and a message that names things."""

    service: str
    operation: str
    region: str
    bucket: str | None = None
    key: str | None = None
    function_name: str | None = None
    routine: str | None = None
    endpoint: str | None = None

    @property
    def what(self) -> str:
        if self.function_name:
            routine = f" ({self.routine})" if self.routine else ""
            return f"{self.operation} of {self.function_name}{routine}"
        if self.bucket and self.key:
            return f"{self.operation} of s3://{self.bucket}/{self.key}"
        if self.bucket:
            return f"{self.operation} on bucket {self.bucket}"
        return self.operation


def error_from_response(
    context: RequestContext,
    *,
    status: int,
    code: str = "",
    message: str = "",
    reason: str | None = None,
    bucket_region: str | None = None,
) -> AwsError | StartOutcomeUnknownError:
    """The typed error for an error answer of AWS (``status``, AWS's ``code`` and
    ``message``; ``reason``: a throttle's reason; ``bucket_region``: what S3 said of the
    bucket's region, from the ``x-amz-bucket-region`` header or the error body)."""
    code = code or str(status)
    facts: dict[str, Any] = {"service": context.service, "operation": context.operation,
                             "code": code, "status_code": status}
    said = f"{code}: {message}" if message else code
    lam, s3 = context.service == "lambda", context.service == "s3"
    if lam and (status == 429 or is_throttle_error(code, message)):
        return ConcurrencyLimitError(concurrency_limit_message(said, 1), attempts=1,
                                     reason=reason or code, original=said, **facts)
    if code in _EXPIRED:
        return CredentialsExpiredError(
            f"AWS refused {context.what}: the credentials have expired ({said}). Refresh "
            "them (a new session token; `aws sso login` for an SSO profile) and try again.",
            **facts)
    if code in _INVALID:
        lead = UNRECOGNIZED_CLIENT_MESSAGE if code == "UnrecognizedClientException" else (
            f"AWS did not accept the credentials for {context.what} ({said})")
        return CredentialsInvalidError(
            f"{lead}. Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
            "REMOTION_AWS_ACCESS_KEY_ID/REMOTION_AWS_SECRET_ACCESS_KEY, or the profile that "
            "AWS_PROFILE or REMOTION_AWS_PROFILE names): the key must exist, be active, and "
            "belong to that secret.", **facts)
    if code == "RequestTimeTooSkewed":
        return AwsError(
            f"AWS refused {context.what}: this machine's clock is more than 15 minutes off "
            f"({said}). Set the clock right (NTP) and try again.", **facts)
    if s3 and context.bucket and (code in _REGION or status in (301, 307)):
        if bucket_region is None:
            found = _REGION_IN_MESSAGE.search(message)
            bucket_region = found.group(1) if found else None
        return WrongRegionError(context.bucket, region=context.region,
                                bucket_region=bucket_region, **facts)
    if s3 and code == "NoSuchBucket" and context.bucket:
        return BucketNotFoundError(context.bucket, region=context.region, **facts)
    if lam and (code == "ResourceNotFoundException" or status == 404):
        return FunctionNotFoundError(context.function_name or "?", region=context.region,
                                     detail=message, **facts)
    if s3 and code in _NOT_FOUND_OBJECT and context.bucket and context.key:
        return ObjectNotFoundError(context.bucket, context.key, **facts)
    if code in _DENIED or status == 403:
        return AccessDeniedError(
            f"AWS denied {context.what} ({said}). Give these credentials Remotion's "
            "permissions (`npx remotion lambda policies user` prints the policy to attach) "
            "or use credentials that have them.", **facts)
    if lam and status >= 500 and context.routine in STARTING_ROUTINES:
        return _unknown_outcome(context, f"Lambda answered HTTP {status} ({said}), which "
                                         "does not say whether the function ran")
    if code in _TRANSIENT or status >= 500 or status == 429:
        return TransientError(
            f"{context.what} failed with {said} (HTTP {status}). This usually passes: try "
            "again in a moment (watchers retry it on their own).", **facts)
    return AwsError(
        f"AWS answered {context.what} with {said} (HTTP {status}). This is not something "
        "aioremotion knows how to fix; the code and message above come from AWS.", **facts)


def _client_error_facts(exc: ClientError) -> dict[str, Any]:
    response: Mapping[str, Any] = exc.response or {}
    error: Mapping[str, Any] = response.get("Error", {}) or {}
    metadata: Mapping[str, Any] = response.get("ResponseMetadata", {}) or {}
    headers: Mapping[str, Any] = metadata.get("HTTPHeaders", {}) or {}
    status = int(metadata.get("HTTPStatusCode", 0) or 0)
    code = str(error.get("Code", "") or "")
    if not status and code.isdigit():
        status = int(code)
    return {
        "status": status,
        "code": code,
        "message": str(error.get("Message", "") or ""),
        "reason": response.get("Reason") or error.get("Reason"),
        "bucket_region": headers.get("x-amz-bucket-region") or error.get("Region") or None,
    }


def error_from_exception(context: RequestContext,
                         exc: BaseException) -> RemotionError:
    """The typed error for an exception raised while making a request."""
    if isinstance(exc, RemotionError):
        return exc
    if isinstance(exc, ClientError):
        return error_from_response(context, **_client_error_facts(exc))
    facts: dict[str, Any] = {"service": context.service, "operation": context.operation}
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _MISSING_PROVIDERS:
        return CredentialsMissingError(detail=f"{type(exc).__name__}: {exc}", **facts)
    if names & _EXPIRED_PROVIDERS:
        return CredentialsExpiredError(
            f"The AWS credentials could not be refreshed ({type(exc).__name__}: {exc}). Log "
            "in again (`aws sso login` for an SSO profile) or set fresh credentials.",
            **facts)
    if request_never_sent(exc):
        service = "AWS Lambda" if context.service == "lambda" else "S3"
        variable = "AWS_ENDPOINT_URL_LAMBDA" if context.service == "lambda" else (
            "AWS_ENDPOINT_URL_S3")
        target = context.function_name or context.bucket or context.operation
        outcome = ("The request was never sent, so nothing was started"
                   if context.service == "lambda" else "The request was never sent")
        return RequestNotSentError(
            f"Could not connect to {service} for {target} ({exc}). {outcome}; check the "
            f"network, the endpoint (endpoint_urls=... or {variable}) and the region "
            "(region=... or AWS_REGION), and retry.", **facts)
    if context.service == "lambda" and context.routine in STARTING_ROUTINES:
        return _unknown_outcome(context, f"no answer came back ({type(exc).__name__}: "
                                         f"{exc})")
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or "Timeout" in type(exc).__name__:
        return RequestTimeoutError(
            f"No answer to {context.what} within the read timeout ({type(exc).__name__}: "
            f"{exc}); it changes nothing, so it is safe to retry (watchers do).", **facts)
    return TransientError(
        f"{context.what} failed: the connection was lost ({type(exc).__name__}: {exc}). It "
        "changes nothing, so it is safe to retry (watchers do).", **facts)


def _unknown_outcome(context: RequestContext, what: str) -> StartOutcomeUnknownError:
    routine = context.routine or "start"
    function_name = context.function_name or "?"
    return StartOutcomeUnknownError(
        f"The {routine} call to {function_name} was sent, but {what}. The render may be "
        "running: it was not retried, so it cannot have started twice. Look for a new "
        "renders/<id>/progress.json in the bucket to find out.",
        function_name=function_name,
        payload_type=routine,
        bucket_name=context.bucket,
    )
