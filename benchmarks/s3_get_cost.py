"""CPU per S3 GET of progress.json: aiobotocore ``get_object`` vs ``S3ObjectReader.get``.

Starts the loopback stand-in (``_fake_s3.py``) in its own process, so only the client's
CPU is counted, then for each path does ``--requests`` GETs at ``--concurrency``, both
unconditional (200 with a ~2.4 KB body) and conditional (``If-None-Match`` → 304), and
prints the client CPU per GET. A plain unsigned aiohttp GET is the floor.

Run: ``python benchmarks/s3_get_cost.py [--requests 4000] [--concurrency 50]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from aioremotion.transport._s3_get import S3ObjectReader

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._common import (  # noqa: E402
    FAKE_S3_ENV,
    cpu_seconds,
    fake_s3,
    print_table,
    write_results,
)
from benchmarks._fake_s3 import BUCKET, render_id  # noqa: E402

REGION = "us-east-1"
RENDERS = 1000

Get = Callable[[str, str | None], Awaitable[str | None]]


async def measure(get: Get, requests: int, concurrency: int, conditional: bool) -> float:
    """Client CPU milliseconds per GET over ``requests`` GETs."""
    etags: dict[str, str | None] = {}
    for index in range(min(RENDERS, requests)):  # warm-up, and the ETags for 304s
        key = f"renders/{render_id(index)}/progress.json"
        etags[key] = await get(key, None)
    keys = [f"renders/{render_id(i % RENDERS)}/progress.json" for i in range(requests)]
    queue = iter(keys)

    async def worker() -> None:
        for key in queue:
            await get(key, etags[key] if conditional else None)

    start = cpu_seconds()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (cpu_seconds() - start) * 1000 / requests


async def run(port: int, requests: int, concurrency: int) -> list[tuple[str, float, float]]:
    endpoint = f"http://127.0.0.1:{port}"
    rows: list[tuple[str, float, float]] = []
    session = get_session()

    config = AioConfig(region_name=REGION, max_pool_connections=concurrency,
                       retries={"total_max_attempts": 3, "mode": "standard"},
                       s3={"addressing_style": "auto"}, signature_version="s3v4")
    async with session.create_client("s3", endpoint_url=endpoint, config=config) as client:

        async def botocore_get(key: str, etag: str | None) -> str | None:
            kwargs = {"IfNoneMatch": etag} if etag else {}
            try:
                response = await client.get_object(Bucket=BUCKET, Key=key, **kwargs)
            except client.exceptions.ClientError as exc:
                if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 304:
                    return etag
                raise
            async with response["Body"] as stream:
                await stream.read()
            return response.get("ETag")  # type: ignore[no-any-return]

        rows.append(("aiobotocore get_object",
                     await measure(botocore_get, requests, concurrency, False),
                     await measure(botocore_get, requests, concurrency, True)))

    async with S3ObjectReader(session, region=REGION, endpoint_url=endpoint,
                              max_connections=concurrency) as reader:

        async def lean_get(key: str, etag: str | None) -> str | None:
            return (await reader.get(BUCKET, key, if_none_match=etag))[1]

        rows.append(("S3ObjectReader.get",
                     await measure(lean_get, requests, concurrency, False),
                     await measure(lean_get, requests, concurrency, True)))

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def plain_get(key: str, etag: str | None) -> str | None:
            headers = {"If-None-Match": etag} if etag else {}
            async with http.get(f"{endpoint}/{BUCKET}/{key}", headers=headers) as response:
                await response.read()
                return response.headers.get("ETag")

        rows.append(("plain aiohttp GET (unsigned)",
                     await measure(plain_get, requests, concurrency, False),
                     await measure(plain_get, requests, concurrency, True)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    os.environ.update({k: v for k, v in FAKE_S3_ENV.items() if k.startswith("AWS_")})
    os.environ.pop("AWS_PROFILE", None)
    with fake_s3(RENDERS) as port:
        rows = asyncio.run(run(port, args.requests, args.concurrency))
    table = [{"path": name, "cpu_ms_per_get_200": round(full, 3),
              "cpu_ms_per_get_304": round(not_modified, 3)}
             for name, full, not_modified in rows]
    print_table(f"Client CPU per GET ({args.requests} GETs, concurrency {args.concurrency})",
                table, ["path", "cpu_ms_per_get_200", "cpu_ms_per_get_304"])
    base, lean = rows[0], rows[1]
    ratios = {"200": round(base[1] / lean[1], 1), "304": round(base[2] / lean[2], 1)}
    print(f"S3ObjectReader uses {ratios['200']}x less CPU per 200 and {ratios['304']}x "
          "less per 304 than aiobotocore")
    write_results("s3_get_cost", {"requests": args.requests, "concurrency": args.concurrency,
                                  "rows": table, "aiobotocore_over_lean": ratios})


if __name__ == "__main__":
    main()
