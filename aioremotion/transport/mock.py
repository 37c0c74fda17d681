"""``MockTransport``: an in-memory :class:`~aioremotion.transport.Transport` for unit tests
(like httpx's ``MockTransport``): S3 objects in dictionaries, invokes answered from a
script, every call recorded. Failures are scripted as AWS would answer them
(:class:`AwsFailure`) or as the exception a network would raise, and go through the same
mapping as the real transport, so a test sees exactly the typed error users would.

Example::

    mock = MockTransport(region="us-east-1")
    mock.reply("start", {"type": "success", "renderId": "abcdef1234",
                         "bucketName": "remotionlambda-useast1-abcdefghij"})
    mock.fail("start", AwsFailure(429, "TooManyRequestsException", "Rate Exceeded."))
    async with RemotionLambda(region="us-east-1", transport=mock) as remotion:
        ...
    [invocation] = mock.invocations
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import RemotionError
from .base import (
    BucketSetting,
    ForeignS3,
    InvokeReply,
    ObjectHead,
    ObjectInfo,
    ObjectPage,
    ObjectRead,
    StreamReply,
)
from .errors import MAPPED_EXCEPTIONS, RequestContext, error_from_exception, error_from_response

__all__ = ["AwsFailure", "MockInvocation", "MockObject", "MockTransport"]


@dataclass(frozen=True)
class AwsFailure:
    """An error answer of AWS: HTTP ``status``, AWS's error ``code`` and ``message``."""

    status: int
    code: str = ""
    message: str = ""
    reason: str | None = None
    bucket_region: str | None = None


@dataclass(frozen=True)
class MockInvocation:
    """One invoke the mock received (``api``: ``invoke`` or ``stream``)."""

    function_name: str
    routine: str | None
    payload: bytes
    api: str

    @property
    def payload_json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class MockObject:
    body: bytes
    content_type: str = "application/json"
    acl: str = "private"
    last_modified: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def etag(self) -> str:
        return f'"{hashlib.md5(self.body, usedforsecurity=False).hexdigest()}"'


Failure = AwsFailure | BaseException
Scripted = InvokeReply | StreamReply | AwsFailure | BaseException


class MockTransport:
    """An in-memory transport. Arrange S3 with :meth:`add_bucket` and :meth:`put`, script
    invokes with :meth:`reply`, :meth:`reply_stream`, :meth:`throttle` and :meth:`fail`,
    script S3 failures with :meth:`fail_s3`; inspect :attr:`invocations`,
    :attr:`requests` and :meth:`objects`."""

    def __init__(self, *, region: str = "us-east-1") -> None:
        self.region = region
        self.is_open = False
        #: bucket name -> (region, key -> object)
        self.buckets: dict[str, tuple[str, dict[str, MockObject]]] = {}
        self.bucket_policies: dict[str, str] = {}
        self.invocations: list[MockInvocation] = []
        #: ``(operation, bucket, key)`` of every S3 call, in order.
        self.requests: list[tuple[str, str | None, str | None]] = []
        self._replies: dict[str | None, deque[Scripted]] = defaultdict(deque)
        self._s3_failures: list[tuple[str, str | None, str | None, Failure]] = []

    # ------------------------------------------------------------ arranging

    def add_bucket(self, name: str, *, region: str | None = None) -> None:
        self.buckets.setdefault(name, (region or self.region, {}))

    def put(self, bucket: str, key: str, body: bytes | str | Mapping[str, Any], *,
            content_type: str = "application/json") -> None:
        """Store an object (a mapping is stored as JSON), creating the bucket if needed."""
        if isinstance(body, Mapping):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        self.add_bucket(bucket)
        self.buckets[bucket][1][key] = MockObject(data, content_type)

    def objects(self, bucket: str) -> dict[str, MockObject]:
        return self.buckets[bucket][1]

    def reply(self, routine: str | None, payload: Mapping[str, Any] | bytes, *,
              function_error: str | None = None, status_code: int = 200) -> None:
        """Queue the answer of the next invoke of ``routine`` (``None``: any routine)."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self._replies[routine].append(InvokeReply(status_code, data, function_error))

    def reply_stream(self, routine: str | None, chunks: Iterable[bytes], *,
                     error_code: str | None = None, error_details: str | None = None) -> None:
        self._replies[routine].append(StreamReply(tuple(chunks), error_code, error_details))

    def fail(self, routine: str | None, failure: Failure, *, times: int = 1) -> None:
        """Queue ``times`` failures of the invokes of ``routine``: an AWS answer, or the
        exception a network raises (mapped as the real transport maps it)."""
        self._replies[routine].extend([failure] * times)

    def throttle(self, routine: str | None, times: int = 1) -> None:
        self.fail(routine, AwsFailure(429, "TooManyRequestsException", "Rate Exceeded.",
                                      reason="ConcurrentInvocationLimitExceeded"), times=times)

    def fail_s3(self, operation: str, failure: Failure, *, bucket: str | None = None,
                key: str | None = None, times: int = 1) -> None:
        """Fail the next ``times`` S3 calls of ``operation`` (``GetObject``, ...) on
        ``bucket``/``key`` (``None``: any)."""
        self._s3_failures.extend([(operation, bucket, key, failure)] * times)

    def invocations_of(self, routine: str) -> list[MockInvocation]:
        return [inv for inv in self.invocations if inv.routine == routine]

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        self.is_open = True

    async def aclose(self) -> None:
        self.is_open = False

    def connections_in_use(self) -> int:
        return 0  # no connections: every call completes before it returns

    # ------------------------------------------------------------ Lambda

    def _raise(self, context: RequestContext, failure: Failure) -> None:
        if isinstance(failure, AwsFailure):
            raise error_from_response(context, status=failure.status, code=failure.code,
                                      message=failure.message, reason=failure.reason,
                                      bucket_region=failure.bucket_region)
        if isinstance(failure, MAPPED_EXCEPTIONS) and not isinstance(failure, RemotionError):
            raise error_from_exception(context, failure) from failure
        raise failure

    def _next(self, routine: str | None) -> Scripted:
        for key in (routine, None):
            queue = self._replies.get(key)
            if queue:
                return queue.popleft()
        raise LookupError(f"MockTransport: no reply scripted for routine {routine!r}")

    async def _invoke(self, api: str, function_name: str, payload: bytes, routine: str,
                      bucket_name: str | None) -> InvokeReply | StreamReply:
        self._check_open()
        operation = "Invoke" if api == "invoke" else "InvokeWithResponseStream"
        context = RequestContext("lambda", operation, self.region, bucket=bucket_name,
                                 function_name=function_name, routine=routine)
        self.invocations.append(MockInvocation(function_name, routine, payload, api))
        scripted = self._next(routine)
        if isinstance(scripted, (InvokeReply, StreamReply)):
            return scripted
        self._raise(context, scripted)
        raise AssertionError("unreachable")  # pragma: no cover

    async def invoke(self, function_name: str, payload: bytes, *, routine: str,
                     bucket_name: str | None = None) -> InvokeReply:
        reply = await self._invoke("invoke", function_name, payload, routine, bucket_name)
        if isinstance(reply, StreamReply):
            return InvokeReply(200, b"".join(reply.chunks))
        return reply

    async def invoke_stream(self, function_name: str, payload: bytes, *, routine: str,
                            bucket_name: str | None = None) -> StreamReply:
        reply = await self._invoke("stream", function_name, payload, routine, bucket_name)
        if isinstance(reply, InvokeReply):
            return StreamReply((reply.payload,))
        return reply

    # ------------------------------------------------------------ S3

    def _check_open(self) -> None:
        if not self.is_open:
            raise RuntimeError("the transport is closed: use the client inside 'async with'")

    def _s3(self, operation: str, bucket: str | None = None,
            key: str | None = None) -> RequestContext:
        """Record an S3 call, apply a scripted failure, check the bucket exists."""
        self._check_open()
        self.requests.append((operation, bucket, key))
        context = RequestContext("s3", operation, self.region, bucket=bucket, key=key)
        for index, (op, on_bucket, on_key, failure) in enumerate(self._s3_failures):
            if op == operation and on_bucket in (None, bucket) and on_key in (None, key):
                del self._s3_failures[index]
                self._raise(context, failure)
        if bucket is not None and operation not in ("CreateBucket",):
            if bucket not in self.buckets:
                self._raise(context, AwsFailure(404, "NoSuchBucket",
                                                "The specified bucket does not exist"))
            region = self.buckets[bucket][0]
            if region != self.region and operation != "GetBucketLocation":
                self._raise(context, AwsFailure(301, "PermanentRedirect",
                                                "The bucket is in another region",
                                                bucket_region=region))
        return context

    async def get_object(self, bucket: str, key: str, *,
                         if_none_match: str | None = None) -> ObjectRead:
        context = self._s3("GetObject", bucket, key)
        found = self.objects(bucket).get(key)
        if found is None:
            self._raise(context, AwsFailure(404, "NoSuchKey", "The specified key does not "
                                                              "exist."))
            raise AssertionError("unreachable")  # pragma: no cover
        if if_none_match is not None and if_none_match == found.etag:
            return ObjectRead(body=None, etag=found.etag)
        return ObjectRead(body=found.body, etag=found.etag)

    async def head_object(self, bucket: str, key: str, *,
                          store: ForeignS3 | None = None) -> ObjectHead | None:
        self._s3("HeadObject", bucket, key)
        found = self.objects(bucket).get(key)
        if found is None:
            return None
        return ObjectHead(content_length=len(found.body), etag=found.etag)

    async def put_object(self, bucket: str, key: str, body: bytes, *,
                         content_type: str = "application/json",
                         acl: str = "private") -> None:
        self._s3("PutObject", bucket, key)
        self.objects(bucket)[key] = MockObject(body, content_type, acl)

    async def list_objects(self, bucket: str, prefix: str, *,
                           token: str | None = None) -> ObjectPage:
        self._s3("ListObjectsV2", bucket)
        keys = sorted(k for k in self.objects(bucket) if k.startswith(prefix))
        start = int(token) if token else 0
        page = keys[start:start + 1000]
        objects = tuple(ObjectInfo(k, len(self.objects(bucket)[k].body),
                                   self.objects(bucket)[k].last_modified) for k in page)
        more = start + 1000 < len(keys)
        return ObjectPage(objects, str(start + 1000) if more else None)

    async def delete_objects(self, bucket: str, keys: Sequence[str]) -> None:
        self._s3("DeleteObjects", bucket)
        for key in keys:
            self.objects(bucket).pop(key, None)

    async def list_buckets(self) -> list[str]:
        self._s3("ListBuckets")
        return sorted(self.buckets)

    async def bucket_region(self, bucket: str) -> str | None:
        if bucket not in self.buckets:
            self._s3("GetBucketLocation")
            return None
        self._s3("GetBucketLocation", bucket)
        return self.buckets[bucket][0]

    async def create_bucket(self, bucket: str) -> None:
        context = self._s3("CreateBucket", bucket)
        if bucket in self.buckets:
            self._raise(context, AwsFailure(409, "BucketAlreadyOwnedByYou", "Yours already"))
        self.add_bucket(bucket)

    async def put_bucket_policy(self, bucket: str, policy: str) -> None:
        self._s3("PutBucketPolicy", bucket)
        self.bucket_policies[bucket] = policy

    async def put_bucket_acl(self, bucket: str, acl: str) -> None:
        self._s3("PutBucketAcl", bucket)

    async def delete_bucket_setting(self, bucket: str, setting: BucketSetting) -> None:
        self._s3("DeleteBucketSetting", bucket)

    async def presign_get(self, bucket: str, key: str, *, expires_in: int) -> str:
        self._check_open()
        return f"https://{bucket}.s3.mock.invalid/{key}?X-Amz-Expires={expires_in}"
