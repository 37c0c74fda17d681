"""A fast loopback stand-in for S3 (and the status Lambda) for the fan-out benchmark.

moto serves about a few hundred requests a second, far too few for 10,000 watched
renders, so this is a deliberately minimal HTTP/1.1 keep-alive server on a raw
``asyncio.Protocol`` (no framework), run as its own process so its CPU is not counted
as the client's. It serves:

* ``GET /<bucket>/renders/<id>/progress.json`` for renders ``r000000000`` ..: a valid
  progress.json (with renderMetadata, chunks and 20 timings, ~2.4 KB) that changes on a
  per-render schedule (every 2-5 s, deterministic phases), with a quoted ETag that
  ``If-None-Match`` turns into a 304, and S3's response headers (x-amz-request-id,
  Last-Modified, ...). Renders never finish (no chunk set is ever complete, and
  ``startedDate`` moves with each version so the timeout is never reached).
* ``HEAD`` anything: 404 (there is no output yet); ``GET`` of another key: NoSuchKey.
* ``POST /2015-03-31/functions/<name>/invocations``: the status routine's RenderProgress
  JSON for the render in the payload, answered at once (no Lambda latency).
* ``GET /__stats``: this process's CPU seconds and request counts.

Run: ``python benchmarks/_fake_s3.py --renders 10000`` prints ``READY <port>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import signal
import time
from email.utils import formatdate

BUCKET = "remotionlambda-useast1-benchfanout"
FUNCTION = "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec"
TOTAL_CHUNKS = 400
FRAMES_PER_LAMBDA = 30
TOTAL_FRAMES = TOTAL_CHUNKS * FRAMES_PER_LAMBDA
TIMINGS = 20

_GOLDEN = (math.sqrt(5) - 1) / 2


def render_id(index: int) -> str:
    """The id of synthetic render ``index`` (10 characters, like Remotion's)."""
    return f"r{index:09d}"


class Renders:
    """Which version of progress.json each render is at, and its content."""

    def __init__(self, count: int, min_period_s: float, max_period_s: float) -> None:
        self.count = count
        self.t0 = time.monotonic()
        self.wall0_ms = time.time() * 1000
        spread = max_period_s - min_period_s
        self.periods = [min_period_s + spread * ((i * _GOLDEN) % 1.0) for i in range(count)]
        self.phases = [((i * 0.7548776662) % 1.0) for i in range(count)]

    def index_of(self, rid: str) -> int | None:
        if len(rid) != 10 or rid[0] != "r" or not rid[1:].isdigit():
            return None
        index = int(rid[1:])
        return index if index < self.count else None

    def version(self, index: int, now: float | None = None) -> int:
        elapsed = (time.monotonic() if now is None else now) - self.t0
        return int(elapsed / self.periods[index] + self.phases[index])

    def changed_at_ms(self, index: int, version: int) -> float:
        """Wall-clock ms when ``version`` of the file was written."""
        offset = (version - self.phases[index]) * self.periods[index]
        return self.wall0_ms + max(0.0, offset) * 1000

    def etag(self, index: int, version: int) -> str:
        return f'"{index:x}{version:08x}0000000000000000000000"'

    def document(self, index: int, version: int) -> dict[str, object]:
        """progress.json of render ``index`` at ``version`` (deterministic)."""
        written = self.changed_at_ms(index, version)
        started = written - 5_000  # always recent: never past the function's timeout
        # Progress grows with every version but the file's size barely does (20 chunk
        # timings, one more chunk number per version): ~2.4 KB, so memory does not
        # depend on how long a run lasts.
        done = min(TOTAL_CHUNKS - 1, TIMINGS + version)
        frames = min(TOTAL_FRAMES - 1, done * FRAMES_PER_LAMBDA + version % FRAMES_PER_LAMBDA)
        return {
            "cancellationEnabled": False,
            "chunks": list(range(done)),
            "framesRendered": frames,
            "framesEncoded": frames,
            "combinedFrames": 0,
            "timeToCombine": None,
            "timeToEncode": None,
            "lambdasInvoked": TOTAL_CHUNKS,
            "retries": [],
            "postRenderData": None,
            "timings": [
                {"chunk": c, "start": round(started + 200 + c),
                 "rendered": round(started + 900 + c)}
                for c in range(TIMINGS)
            ],
            "renderMetadata": {
                "type": "video",
                "startedDate": round(started),
                "totalChunks": TOTAL_CHUNKS,
                "estimatedTotalLambdaInvokations": TOTAL_CHUNKS + 1,
                "estimatedRenderLambdaInvokations": TOTAL_CHUNKS,
                "compositionId": "HelloWorld",
                "siteId": "bench-site",
                "codec": "h264",
                "imageFormat": "jpeg",
                "inputProps": {"type": "payload", "payload": '{"title":"Hello"}'},
                "lambdaVersion": "4.0.527",
                "framesPerLambda": FRAMES_PER_LAMBDA,
                "memorySizeInMb": 2048,
                "region": "us-east-1",
                "renderId": render_id(index),
                "outName": None,
                "privacy": "public",
                "everyNthFrame": 1,
                "frameRange": [0, TOTAL_FRAMES - 1],
                "audioCodec": None,
                "deleteAfter": None,
                "numberOfGifLoops": None,
                "downloadBehavior": {"type": "play-in-browser"},
                "audioBitrate": None,
                "muted": False,
                "metadata": None,
                "functionName": FUNCTION,
                "dimensions": {"width": 1280, "height": 720},
                "rendererFunctionName": FUNCTION,
                "scale": 1,
            },
            "errors": [],
            "fatalErrorTimestamp": None,
            "timeToRenderFrames": None,
            "timeoutTimestamp": round(started + 120_000),
            "functionLaunched": round(started),
            "serveUrlOpened": round(started + 300),
            "compositionValidated": round(started + 600),
            "receivedArtifact": [],
        }

    def status_reply(self, index: int) -> bytes:
        """What the status routine answers for render ``index`` right now."""
        version = self.version(index)
        doc = self.document(index, version)
        frames = int(doc["framesRendered"])  # type: ignore[call-overload]
        progress = 0.1 + 0.1 + 0.1 * frames / TOTAL_FRAMES * 2 + 0.6 * frames / TOTAL_FRAMES
        return json.dumps({
            "type": "success",
            "renderId": render_id(index),
            "bucket": BUCKET,
            "done": False,
            "overallProgress": progress,
            "chunks": len(doc["chunks"]),  # type: ignore[arg-type]
            "framesRendered": frames,
            "combinedFrames": 0,
            "encodingStatus": {"framesEncoded": frames, "combinedFrames": 0,
                               "timeToCombine": None},
            "lambdasInvoked": TOTAL_CHUNKS,
            "costs": {"accruedSoFar": 0.0123, "displayCost": "$0.012", "currency": "USD",
                      "disclaimer": "Estimated cost for function invocations only."},
            "estimatedBillingDurationInMilliseconds": 12_000,
            "renderMetadata": doc["renderMetadata"],
            "outputFile": None, "outKey": None, "outBucket": None,
            "outputSizeInBytes": None, "renderSize": 0, "timeToFinish": None,
            "timeToFinishChunks": None, "timeToRenderFrames": None, "timeToEncode": None,
            "timeToCombine": None, "errors": [], "fatalErrorEncountered": False,
            "retriesInfo": [], "mostExpensiveFrameRanges": None,
            "cleanup": {"doneIn": None, "minFilesToDelete": 0, "filesDeleted": 0},
            "currentTime": round(time.time() * 1000),
            "timeoutTimestamp": doc["timeoutTimestamp"],
            "functionLaunched": doc["functionLaunched"],
            "serveUrlOpened": doc["serveUrlOpened"],
            "compositionValidated": doc["compositionValidated"],
            "artifacts": [],
        }, separators=(",", ":")).encode()


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.ok = 0
        self.not_modified = 0
        self.not_found = 0
        self.lambda_invokes = 0
        self.connections = 0

    def as_json(self) -> bytes:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return json.dumps({
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "requests": self.requests,
            "ok": self.ok,
            "not_modified": self.not_modified,
            "not_found": self.not_found,
            "lambda_invokes": self.lambda_invokes,
            "connections": self.connections,
        }).encode()


_date_cache: list[object] = [0, b""]


def _http_date() -> bytes:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = formatdate(now, usegmt=True).encode()
    return _date_cache[1]  # type: ignore[return-value]


class S3Protocol(asyncio.Protocol):
    """One keep-alive connection; requests are answered in order as they are parsed."""

    def __init__(self, renders: Renders, stats: Stats) -> None:
        self.renders = renders
        self.stats = stats
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.request_no = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.stats.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            lower = head.lower()
            length = 0
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 2)
                length = int(lower[at + 17:stop if stop >= 0 else None].strip() or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self.handle(head, lower, body)

    def header(self, lower: bytes, head: bytes, name: bytes) -> bytes | None:
        at = lower.find(b"\r\n" + name + b":")
        if at < 0:
            return None
        start = at + len(name) + 3
        stop = lower.find(b"\r\n", start)
        return head[start:stop if stop >= 0 else None].strip()

    def respond(self, status: bytes, headers: list[bytes], body: bytes = b"",
                *, length: bool = True) -> None:
        self.request_no += 1
        lines = [b"HTTP/1.1 " + status, b"Date: " + _http_date(), b"Server: AmazonS3",
                 b"x-amz-request-id: %016X" % (id(self) ^ self.request_no),
                 b"x-amz-id-2: benchfanout", *headers]
        if length:
            lines.append(b"Content-Length: %d" % len(body))
        assert self.transport is not None
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)

    def handle(self, head: bytes, lower: bytes, body: bytes) -> None:
        stats = self.stats
        stats.requests += 1
        line_end = head.find(b"\r\n")
        method, _, rest = head[:line_end if line_end >= 0 else None].partition(b" ")
        target = rest.rpartition(b" ")[0].split(b"?", 1)[0].decode()
        if method == b"GET" and target == "/__stats":
            self.respond(b"200 OK", [b"Content-Type: application/json"], stats.as_json())
            return
        if method == b"POST" and target.startswith("/2015-03-31/functions/"):
            stats.lambda_invokes += 1
            try:
                index = self.renders.index_of(str(json.loads(body).get("renderId", "")))
            except ValueError:
                index = None
            if index is None:
                reply = b'{"type":"error","message":"no such render","stack":""}'
            else:
                reply = self.renders.status_reply(index)
            self.respond(b"200 OK", [b"Content-Type: application/json",
                                     b"X-Amz-Executed-Version: $LATEST"], reply)
            return
        parts = target.split("/")
        index = None
        if len(parts) >= 4 and parts[-1] == "progress.json" and parts[-3] == "renders":
            index = self.renders.index_of(parts[-2])
        if method == b"HEAD" or index is None:
            stats.not_found += 1
            if method == b"HEAD":
                self.respond(b"404 Not Found", [b"Content-Type: application/xml"])
                return
            key = "/".join(parts[2:])
            self.respond(b"404 Not Found", [b"Content-Type: application/xml"], (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
                "<Message>The specified key does not exist.</Message>"
                f"<Key>{key}</Key><RequestId>0</RequestId></Error>"
            ).encode())
            return
        renders = self.renders
        version = renders.version(index)
        etag = renders.etag(index, version).encode()
        modified = formatdate(renders.changed_at_ms(index, version) / 1000, usegmt=True).encode()
        if self.header(lower, head, b"if-none-match") == etag:
            stats.not_modified += 1
            self.respond(b"304 Not Modified",
                         [b"ETag: " + etag, b"Last-Modified: " + modified], length=False)
            return
        stats.ok += 1
        document = json.dumps(renders.document(index, version), separators=(",", ":")).encode()
        self.respond(b"200 OK", [b"Content-Type: application/json", b"ETag: " + etag,
                                 b"Last-Modified: " + modified, b"Accept-Ranges: bytes"],
                     document)


async def serve(args: argparse.Namespace) -> None:
    renders = Renders(args.renders, args.min_period, args.max_period)
    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: S3Protocol(renders, stats), "127.0.0.1",
                                      args.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--min-period", type=float, default=2.0,
                        help="fastest a render's progress.json changes (s)")
    parser.add_argument("--max-period", type=float, default=5.0,
                        help="slowest a render's progress.json changes (s)")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
