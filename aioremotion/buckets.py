"""The render bucket of a region: found among the account's buckets, or created the way
Remotion sets it up (``remotionlambda-<region>-<random>``, objects publicly readable
through a bucket policy, or a public-read ACL where policies are refused).

Example::

    buckets = RenderBuckets(transport)
    name = await buckets.get_or_create()      # cached for the life of the object
"""

from __future__ import annotations

import json
from contextlib import suppress

import anyio

from .errors import AwsError, RemotionError
from .protocol.naming import (
    is_remotion_bucket,
    make_bucket_name,
    partition_of,
    region_of_bucket_name,
)
from .transport.base import Transport

__all__ = ["RenderBuckets"]


class RenderBuckets:
    """The ``remotionlambda-*`` buckets of the transport's region."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.region = transport.region
        self._bucket: str | None = None
        self._lock = anyio.Lock()

    async def all(self) -> list[str]:
        """Every ``remotionlambda-*`` bucket of the region (normally one)."""
        matching = []
        for name in await self.transport.list_buckets():
            if not is_remotion_bucket(name):
                continue
            region = region_of_bucket_name(name) or await self.transport.bucket_region(name)
            if region == self.region:
                matching.append(name)
        return matching

    async def find(self) -> str | None:
        """The region's bucket, or ``None``; raises when there are several (Remotion
        expects exactly one per region)."""
        matching = await self.all()
        if len(matching) > 1:
            raise RemotionError(
                f"You have multiple buckets ({', '.join(matching)}) in your S3 region "
                f'({self.region}) starting with "remotionlambda-". Remotion uses exactly one: '
                "delete the extra ones, or pass force_bucket_name."
            )
        return matching[0] if matching else None

    async def get_or_create(self) -> str:
        """The region's bucket, created if there is none; remembered once known."""
        if self._bucket is not None:
            return self._bucket
        async with self._lock:
            if self._bucket is None:
                found = await self.find()
                self._bucket = found if found is not None else await self._create()
        return self._bucket

    async def _create(self) -> str:
        name = make_bucket_name(self.region)
        transport = self.transport
        await transport.create_bucket(name)
        # not every S3 has these settings; Remotion tolerates their absence
        with suppress(AwsError):
            await transport.delete_bucket_setting(name, "ownership-controls")
        with suppress(AwsError):
            await transport.delete_bucket_setting(name, "public-access-block")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "PublicReadGetObject",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:{partition_of(self.region).name}:s3:::{name}/*",
            }],
        }
        try:
            await transport.put_bucket_policy(name, json.dumps(policy))
            acl = "private"
        except AwsError:
            acl = "public-read"
        with suppress(AwsError):
            await transport.put_bucket_acl(name, acl)
        return name
