"""The aiobotocore transport: AWS (or the emulator, or any S3-compatible store) over HTTP.

It owns one aiobotocore session and one long-lived client per service, the lean signed GET
that reads progress.json on the hot path (:mod:`aioremotion.transport._s3_get`), and the
fair FIFO limiter every call waits in (sized to the connection pool: aiohttp wakes pool
waiters unfairly, which starves some tasks). Lambda invokes run with botocore retries off;
S3 calls keep botocore's standard retries (``s3_max_attempts``: they are idempotent).
Every failure is mapped by :mod:`aioremotion.transport.errors`.

Example::

    transport = AiobotocoreTransport(AwsSettings(region="us-east-1"))
    await transport.open()
    try:
        read = await transport.get_object("my-bucket", "renders/abc/progress.json")
    finally:
        await transport.aclose()
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import anyio
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError

from .. import _redact, environment
from .._aws import AwsSettings, ensure_credentials, lambda_config, make_session, s3_config
from ..errors import BucketNotFoundError, ObjectNotFoundError, WrongRegionError
from ._s3_get import S3ObjectReader
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
from .errors import MAPPED_EXCEPTIONS, RequestContext, error_from_exception

__all__ = ["AiobotocoreTransport"]

_DELETE_SETTING = {"ownership-controls": "delete_bucket_ownership_controls",
                   "public-access-block": "delete_public_access_block"}


class AiobotocoreTransport:
    """The :class:`~aioremotion.transport.Transport` to AWS through aiobotocore.

    Args:
        settings: region, endpoints, pool size, timeouts, S3 addressing and attempts.
        session: an aiobotocore session to use instead of a new one (with Remotion's
            credential variables applied).
        check_credentials: fail in :meth:`open` (before any call) when none exist.
        fast_reads: read objects with the lean signed GET on aiohttp (about 0.25 ms of
            CPU against ~1.7 ms through aiobotocore). ``None``: on, unless
            ``AIOREMOTION_FAST_S3=0``, a proxy is configured in the environment, or the S3
            endpoint is one only botocore knows how to reach (FIPS, dual-stack).
    """

    def __init__(self, settings: AwsSettings, *, session: AioSession | None = None,
                 check_credentials: bool = True, fast_reads: bool | None = None) -> None:
        self.settings = settings
        self.region = settings.region
        self._session = session
        self._check_credentials = check_credentials
        self._fast_reads = fast_reads
        self._stack: AsyncExitStack | None = None
        self._lambda: Any = None
        self._s3: Any = None
        self._reader: S3ObjectReader | None = None
        self._botocore_buckets: set[str] = set()  # buckets the lean reader cannot reach
        self._limiter = anyio.CapacityLimiter(settings.max_pool_connections)
        #: Calls made, by operation (``GetObject``, ``Invoke``, ...).
        self.calls: Counter[str] = Counter()

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        session = self._session or make_session()
        if self._check_credentials:
            await ensure_credentials(session)
        stack = AsyncExitStack()
        try:
            settings = self.settings
            self._lambda = await stack.enter_async_context(session.create_client(
                "lambda", region_name=self.region,
                endpoint_url=settings.endpoint_urls.get("lambda"),
                config=lambda_config(settings)))
            self._s3 = await stack.enter_async_context(session.create_client(
                "s3", region_name=self.region, endpoint_url=settings.endpoint_urls.get("s3"),
                config=s3_config(settings)))
            self._reader = self._make_reader(session)
            if self._reader is not None:
                stack.push_async_callback(self._reader.close)
            # botocore logs request headers and bodies at DEBUG: redact these credentials
            stack.callback((await _redact.credential_secrets(session)).release)
        except BaseException as exc:
            self._lambda = self._s3 = self._reader = None
            await stack.aclose()
            if isinstance(exc, MAPPED_EXCEPTIONS):  # a missing profile, a bad endpoint, ...
                raise error_from_exception(RequestContext("s3", "Open", self.region),
                                           exc) from exc
            raise
        self._session = session
        self._stack = stack

    async def aclose(self) -> None:
        stack, self._stack = self._stack, None
        self._lambda = self._s3 = self._reader = None
        if stack is not None:
            await stack.aclose()

    @property
    def fast_reads(self) -> bool:
        """Whether objects are read with the lean signed GET (decided in :meth:`open`)."""
        return self._reader is not None

    def _make_reader(self, session: AioSession) -> S3ObjectReader | None:
        """The lean reader, when nothing in the setup needs botocore's S3 stack.

        It cannot honour proxies from the environment, a config file's ``ca_bundle``,
        FIPS/dual-stack or other endpoints botocore derived itself: then every read stays on
        aiobotocore (as with ``fast_reads=False`` or ``AIOREMOTION_FAST_S3=0``).
        """
        enabled = self._fast_reads
        if enabled is None:
            enabled = not environment.is_off(environment.setting("fast_s3_reads"))
        style = self.settings.s3_addressing_style
        if not enabled or style not in ("auto", "path", "virtual"):
            return None
        if environment.setting("proxy") is not None:
            return None
        resolved = str(self._s3.meta.endpoint_url).rstrip("/")
        explicit = self.settings.endpoint_urls.get("s3")
        if explicit:
            endpoint: str | None = explicit
        elif resolved in (f"https://s3.{self.region}.amazonaws.com", "https://s3.amazonaws.com",
                          f"https://s3.{self.region}.amazonaws.com.cn"):
            endpoint = None  # plain AWS
        elif resolved.startswith("https://") and ".amazonaws." in resolved:
            return None  # FIPS, dual-stack, ...: leave it to botocore
        else:
            endpoint = resolved  # AWS_ENDPOINT_URL_S3 or a config file's endpoint_url
        return S3ObjectReader(
            session, region=self.region, endpoint_url=endpoint, addressing_style=style,
            max_connections=self.settings.max_pool_connections,
            connect_timeout_s=self.settings.connect_timeout_s, read_timeout_s=60,
            ca_bundle=environment.setting("ca_bundle"),
        )

    def _client(self, service: str) -> Any:
        client = self._s3 if service == "s3" else self._lambda
        if client is None:
            raise RuntimeError("the transport is closed: use the client inside 'async with'")
        return client

    async def _s3_call(self, operation: str, method: str, *, bucket: str | None = None,
                       key: str | None = None, **params: Any) -> Any:
        """One S3 call through aiobotocore, in the limiter, its failure mapped."""
        context = RequestContext("s3", operation, self.region, bucket=bucket, key=key)
        client = self._client("s3")
        self.calls[operation] += 1
        try:
            async with self._limiter:
                return await getattr(client, method)(**params)
        except MAPPED_EXCEPTIONS as exc:
            raise error_from_exception(context, exc) from exc

    # ------------------------------------------------------------ Lambda

    async def invoke(self, function_name: str, payload: bytes, *, routine: str,
                     bucket_name: str | None = None) -> InvokeReply:
        context = RequestContext("lambda", "Invoke", self.region, bucket=bucket_name,
                                 function_name=function_name, routine=routine)
        client = self._client("lambda")
        self.calls["Invoke"] += 1
        try:
            async with self._limiter:
                response = await client.invoke(FunctionName=function_name,
                                               InvocationType="RequestResponse",
                                               Payload=payload)
                async with response["Payload"] as stream:
                    data = await stream.read()
        except MAPPED_EXCEPTIONS as exc:
            raise error_from_exception(context, exc) from exc
        return InvokeReply(status_code=int(response.get("StatusCode", 200)), payload=data,
                           function_error=response.get("FunctionError"))

    async def invoke_stream(self, function_name: str, payload: bytes, *, routine: str,
                            bucket_name: str | None = None) -> StreamReply:
        context = RequestContext("lambda", "InvokeWithResponseStream", self.region,
                                 bucket=bucket_name, function_name=function_name,
                                 routine=routine)
        client = self._client("lambda")
        self.calls["InvokeWithResponseStream"] += 1
        chunks: list[bytes] = []
        code = details = None
        try:
            async with self._limiter:
                response = await client.invoke_with_response_stream(
                    FunctionName=function_name, Payload=payload)
                events = response["EventStream"]
                try:
                    async for event in events:
                        if "PayloadChunk" in event:
                            chunks.append(event["PayloadChunk"].get("Payload", b""))
                        elif "InvokeComplete" in event:
                            complete = event["InvokeComplete"]
                            code = complete.get("ErrorCode")
                            details = complete.get("ErrorDetails")
                except BaseException:
                    events.close()  # give the connection back, even when cut short
                    raise
        except MAPPED_EXCEPTIONS as exc:
            raise error_from_exception(context, exc) from exc
        return StreamReply(chunks=tuple(chunks), error_code=code, error_details=details)

    # ------------------------------------------------------------ objects

    async def get_object(self, bucket: str, key: str, *,
                         if_none_match: str | None = None) -> ObjectRead:
        context = RequestContext("s3", "GetObject", self.region, bucket=bucket, key=key)
        client = self._client("s3")
        self.calls["GetObject"] += 1
        reader = self._reader
        if reader is not None and bucket not in self._botocore_buckets:
            try:
                async with self._limiter:
                    status, etag, data = await reader.get(bucket, key,
                                                          if_none_match=if_none_match)
            except MAPPED_EXCEPTIONS as exc:
                error = error_from_exception(context, exc)
                if not isinstance(error, WrongRegionError):
                    raise error from exc
                # The bucket is in another region: botocore follows that (and remembers).
                self._botocore_buckets.add(bucket)
            else:
                if status == 304:
                    return ObjectRead(body=None, etag=etag or if_none_match)
                return ObjectRead(body=data, etag=etag)
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if if_none_match:
            params["IfNoneMatch"] = if_none_match
        try:
            async with self._limiter:
                response = await client.get_object(**params)
                async with response["Body"] as stream:
                    data = await stream.read()
        except ClientError as exc:
            metadata = exc.response.get("ResponseMetadata", {})
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("304", "NotModified") or metadata.get("HTTPStatusCode") == 304:
                return ObjectRead(body=None, etag=if_none_match)
            raise error_from_exception(context, exc) from exc
        except MAPPED_EXCEPTIONS as exc:
            raise error_from_exception(context, exc) from exc
        return ObjectRead(body=data, etag=response.get("ETag"))

    async def head_object(self, bucket: str, key: str, *,
                          store: ForeignS3 | None = None) -> ObjectHead | None:
        try:
            if store is not None:
                response = await self._head_foreign(bucket, key, store)
            else:
                response = await self._s3_call("HeadObject", "head_object", bucket=bucket,
                                               key=key, Bucket=bucket, Key=key)
        except ObjectNotFoundError:
            return None
        return ObjectHead(content_length=response.get("ContentLength"),
                          etag=response.get("ETag"))

    async def _head_foreign(self, bucket: str, key: str, store: ForeignS3) -> Any:
        context = RequestContext("s3", "HeadObject", store.region or "us-east-1",
                                 bucket=bucket, key=key, endpoint=store.endpoint)
        session = self._session or make_session()
        self.calls["HeadObject"] += 1
        try:
            async with session.create_client(
                "s3", region_name=store.region or "us-east-1", endpoint_url=store.endpoint,
                aws_access_key_id=store.access_key_id,
                aws_secret_access_key=store.secret_access_key,
                config=s3_config(self.settings),
            ) as client, self._limiter:
                return await client.head_object(Bucket=bucket, Key=key)
        except MAPPED_EXCEPTIONS as exc:
            raise error_from_exception(context, exc) from exc

    async def put_object(self, bucket: str, key: str, body: bytes, *,
                         content_type: str = "application/json",
                         acl: str = "private") -> None:
        await self._s3_call("PutObject", "put_object", bucket=bucket, key=key, Bucket=bucket,
                            Key=key, Body=body, ACL=acl, ContentType=content_type)

    async def list_objects(self, bucket: str, prefix: str, *,
                           token: str | None = None) -> ObjectPage:
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token is not None:
            params["ContinuationToken"] = token
        response = await self._s3_call("ListObjectsV2", "list_objects_v2", bucket=bucket,
                                       **params)
        objects = tuple(
            ObjectInfo(key=str(item["Key"]), size=int(item.get("Size", 0)),
                       last_modified=item["LastModified"])
            for item in response.get("Contents", [])
        )
        more = response.get("IsTruncated") and response.get("NextContinuationToken")
        return ObjectPage(objects=objects, next_token=str(more) if more else None)

    async def delete_objects(self, bucket: str, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start:start + 1000]]
            response = await self._s3_call("DeleteObjects", "delete_objects", bucket=bucket,
                                           Bucket=bucket,
                                           Delete={"Objects": batch, "Quiet": True})
            for failed in response.get("Errors", []):
                if failed.get("Code") in ("NoSuchKey", None):
                    continue
                raise error_from_exception(
                    RequestContext("s3", "DeleteObjects", self.region, bucket=bucket,
                                   key=failed.get("Key")),
                    ClientError({"Error": {"Code": failed.get("Code"),
                                           "Message": failed.get("Message", "")}},
                                "DeleteObjects"))

    # ------------------------------------------------------------ buckets

    async def list_buckets(self) -> list[str]:
        response = await self._s3_call("ListBuckets", "list_buckets")
        return [str(bucket["Name"]) for bucket in response.get("Buckets", [])]

    async def bucket_region(self, bucket: str) -> str | None:
        try:
            response = await self._s3_call("GetBucketLocation", "get_bucket_location",
                                           bucket=bucket, Bucket=bucket)
        except BucketNotFoundError:
            return None
        constraint = response.get("LocationConstraint") or "us-east-1"
        return "eu-west-1" if constraint == "EU" else str(constraint)

    async def create_bucket(self, bucket: str) -> None:
        params: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        await self._s3_call("CreateBucket", "create_bucket", bucket=bucket, **params)

    async def put_bucket_policy(self, bucket: str, policy: str) -> None:
        await self._s3_call("PutBucketPolicy", "put_bucket_policy", bucket=bucket,
                            Bucket=bucket, Policy=policy)

    async def put_bucket_acl(self, bucket: str, acl: str) -> None:
        await self._s3_call("PutBucketAcl", "put_bucket_acl", bucket=bucket, Bucket=bucket,
                            ACL=acl)

    async def delete_bucket_setting(self, bucket: str, setting: BucketSetting) -> None:
        method = _DELETE_SETTING[setting]
        operation = "".join(part.title() for part in method.split("_"))
        await self._s3_call(operation, method, bucket=bucket, Bucket=bucket)

    async def presign_get(self, bucket: str, key: str, *, expires_in: int) -> str:
        context = RequestContext("s3", "GetObject", self.region, bucket=bucket, key=key)
        try:
            url: str = await self._client("s3").generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in)
        except MAPPED_EXCEPTIONS as exc:
            raise error_from_exception(context, exc) from exc
        return url

    # ------------------------------------------------------------ health

    def connections_in_use(self) -> int:
        """Connections acquired from the pools of the S3 and Lambda clients and of the
        lean reader (not idle in a pool).

        It reads aiobotocore's and aiohttp's internals and fails loudly if they moved,
        rather than report 0.
        """
        total = 0
        sessions = 0
        for client in (self._s3, self._lambda):
            if client is None:
                raise RuntimeError("the transport is not open")
            http = client._endpoint.http_session
            for session in (http._sessions or {}).values():
                sessions += 1
                total += len(session.connector._acquired)
        if sessions < 1:
            raise RuntimeError("found no aiohttp session: aiobotocore internals changed?")
        reader = self._reader
        if reader is not None and reader._http is not None:
            connector: Any = reader._http.connector
            total += len(connector._acquired)
        return total
