"""The seam between aioremotion and AWS: the :class:`Transport` interface and its values.

A transport does the few things Remotion Lambda needs of AWS (invoke a function, with or
without a response stream; conditional GET, HEAD, PUT, LIST and batch DELETE of S3
objects; what finding, creating and presigning need) and answers with the small frozen
values below, never botocore dicts. Every failure is raised as an
:mod:`aioremotion.errors` exception, mapped in one place
(:mod:`aioremotion.transport.errors`).

Implementations: :class:`~aioremotion.transport.aws.AiobotocoreTransport` (AWS, the
emulator, any S3-compatible store) and :class:`~aioremotion.transport.mock.MockTransport`
(in memory, for unit tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "BucketSetting",
    "ForeignS3",
    "InvokeReply",
    "ObjectHead",
    "ObjectInfo",
    "ObjectPage",
    "ObjectRead",
    "StreamReply",
    "Transport",
    "list_all_objects",
]

BucketSetting = Literal["ownership-controls", "public-access-block"]


@dataclass(frozen=True)
class InvokeReply:
    """The answer to a ``RequestResponse`` invoke: Lambda's status code, its
    ``FunctionError`` (``"Unhandled"`` when the function threw) and the payload."""

    status_code: int
    payload: bytes
    function_error: str | None = None


@dataclass(frozen=True)
class StreamReply:
    """The answer to an ``InvokeWithResponseStream``: the payload chunks in order, and the
    final ``InvokeComplete`` event's error code and details (``None``: no error)."""

    chunks: tuple[bytes, ...]
    error_code: str | None = None
    error_details: str | None = None


@dataclass(frozen=True)
class ObjectRead:
    """A (conditional) GET: ``body`` is ``None`` when the object is unchanged (304)."""

    body: bytes | None
    etag: str | None

    @property
    def not_modified(self) -> bool:
        return self.body is None


@dataclass(frozen=True)
class ObjectHead:
    """A HEAD of an object that exists."""

    content_length: int | None
    etag: str | None = None


@dataclass(frozen=True)
class ObjectInfo:
    """One entry of a listing."""

    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class ObjectPage:
    """One page of a listing; ``next_token`` continues it (``None``: the last page)."""

    objects: tuple[ObjectInfo, ...]
    next_token: str | None = None


@dataclass(frozen=True)
class ForeignS3:
    """Another S3-compatible store and its credentials (Remotion's ``s3OutputProvider``)."""

    endpoint: str | None
    access_key_id: str | None
    secret_access_key: str | None = None
    region: str | None = None

    def __repr__(self) -> str:  # the secret never shows
        return f"ForeignS3(endpoint={self.endpoint!r}, region={self.region!r})"


@runtime_checkable
class Transport(Protocol):
    """What aioremotion needs of AWS. Every method raises :mod:`aioremotion.errors`
    exceptions only (for instance :class:`~aioremotion.errors.BucketNotFoundError`,
    :class:`~aioremotion.errors.TransientError`); none retries a Lambda throttle (that is
    :mod:`aioremotion.retry`'s job).

    ``routine`` names the Remotion call an invoke carries (``start``, ``still``,
    ``status``, ...): a start or still whose answer is lost after sending is a
    :class:`~aioremotion.errors.StartOutcomeUnknownError`, other calls a
    :class:`~aioremotion.errors.TransientError`. ``bucket_name`` is what is known of the
    bucket the start renders into (for that error's message).
    """

    region: str

    async def open(self) -> None:
        """Open the connections (and check the credentials, if asked to)."""

    async def aclose(self) -> None:
        """Close every connection; the transport cannot be used afterwards."""

    async def invoke(self, function_name: str, payload: bytes, *, routine: str,
                     bucket_name: str | None = None) -> InvokeReply:
        """One ``RequestResponse`` invoke (never retried)."""

    async def invoke_stream(self, function_name: str, payload: bytes, *, routine: str,
                            bucket_name: str | None = None) -> StreamReply:
        """One ``InvokeWithResponseStream``, read to its end (never retried)."""

    async def get_object(self, bucket: str, key: str, *,
                         if_none_match: str | None = None) -> ObjectRead:
        """GET an object; with ``if_none_match`` an unchanged object is a 304 (``body``
        ``None``). Raises :class:`~aioremotion.errors.ObjectNotFoundError` when missing."""

    async def head_object(self, bucket: str, key: str, *,
                          store: ForeignS3 | None = None) -> ObjectHead | None:
        """HEAD an object (in ``store`` when given); ``None`` when it does not exist."""

    async def put_object(self, bucket: str, key: str, body: bytes, *,
                         content_type: str = "application/json",
                         acl: str = "private") -> None:
        """PUT an object."""

    async def list_objects(self, bucket: str, prefix: str, *,
                           token: str | None = None) -> ObjectPage:
        """One page (up to 1,000 entries) of the objects under ``prefix``."""

    async def delete_objects(self, bucket: str, keys: Sequence[str]) -> None:
        """Delete objects (in batches of 1,000); missing ones are not an error."""

    async def list_buckets(self) -> list[str]:
        """The names of every bucket of the account."""

    async def bucket_region(self, bucket: str) -> str | None:
        """The region of a bucket; ``None`` when it does not exist (any more)."""

    async def create_bucket(self, bucket: str) -> None:
        """Create a bucket in the transport's region."""

    async def put_bucket_policy(self, bucket: str, policy: str) -> None:
        """Set a bucket policy (JSON text)."""

    async def put_bucket_acl(self, bucket: str, acl: str) -> None:
        """Set a canned ACL on a bucket."""

    async def delete_bucket_setting(self, bucket: str, setting: BucketSetting) -> None:
        """Remove a bucket's ownership controls or public access block."""

    async def presign_get(self, bucket: str, key: str, *, expires_in: int) -> str:
        """A presigned GET URL of an object, valid for ``expires_in`` seconds."""

    def connections_in_use(self) -> int:
        """How many connections are taken by requests right now (0 when idle): after
        every call has returned, anything else is a leak."""


async def list_all_objects(transport: Transport, bucket: str, prefix: str) -> list[ObjectInfo]:
    """Every object under ``prefix``, all pages."""
    found: list[ObjectInfo] = []
    token: str | None = None
    while True:
        page = await transport.list_objects(bucket, prefix, token=token)
        found.extend(page.objects)
        if page.next_token is None:
            return found
        token = page.next_token
