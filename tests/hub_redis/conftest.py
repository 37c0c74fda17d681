"""A real ``redis-server`` (Debian's package) on 127.0.0.1 and a free port, per test.

Started with ``--save '' --appendonly no`` (nothing written to disk) and stopped after the
test. Without the binary the tests skip locally; in CI (``CI`` set) they fail, since
``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
#: How long redis-server may take to say it is ready.
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RedisServer:
    """A running redis-server: its URL and process."""

    url: str
    port: int
    process: subprocess.Popen[str]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(port: int, workdir: str) -> tuple[subprocess.Popen[str], bool]:
    """Start redis-server; True once it logs that it is ready, False if it exited."""
    process = subprocess.Popen(
        [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--dir", workdir, "--logfile", "",
         "--protected-mode", "yes"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    ready = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:     # until the server exits and closes its stdout
            lines.append(line)
            if "Ready to accept connections" in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(START_TIMEOUT_S):
        process.kill()
        raise RuntimeError("redis-server did not start in time:\n" + "".join(lines))
    return process, process.poll() is None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server for one test."""
    if not os.path.exists(REDIS_SERVER):
        if os.environ.get("CI"):
            pytest.fail(f"{REDIS_SERVER} is missing: .ci/run installs the redis-server package")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with tempfile.TemporaryDirectory(prefix="aioremotion-redis-") as workdir:
        for _ in range(5):  # another process may take the port between pick and bind
            port = _free_port()
            process, started = _start(port, workdir)
            if started:
                break
        else:
            raise RuntimeError("redis-server could not bind a free port in 5 attempts")
        try:
            yield RedisServer(f"redis://127.0.0.1:{port}/0", port, process)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def admin(redis_server: RedisServer) -> AsyncIterator[Any]:
    """A plain redis-py client of the server, for the test's own commands."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_server.url, client_name="test-admin")
    try:
        yield client
    finally:
        await client.aclose()
