"""What the fault tests check after each case: no client task left, no connection in use."""

from __future__ import annotations

import asyncio
from typing import Any

from aioremotion import RemotionLambda

#: Modules whose code a leaked task would be running.
CLIENT_FILES = ("aioremotion/fanout.py", "aioremotion/watching.py", "aioremotion/client.py",
                "aioremotion/invoking.py", "aioremotion/retry.py",
                "aioremotion/progress_reader.py", "aioremotion/transport/aws.py",
                "aioremotion/transport/_s3_get.py")


def _await_chain_files(coro: Any) -> list[str]:
    files = []
    while coro is not None:
        code = (getattr(coro, "cr_code", None) or getattr(coro, "ag_code", None)
                or getattr(coro, "gi_code", None))
        if code is not None:
            files.append(code.co_filename.replace("\\", "/"))
        coro = (getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
                or getattr(coro, "gi_yieldfrom", None))
    return files


def client_side_tasks() -> set[asyncio.Task[Any]]:
    """Live tasks running aioremotion client code (the emulator's own tasks excluded),
    found by walking each task's await chain."""
    current = asyncio.current_task()
    return {
        task for task in asyncio.all_tasks()
        if task is not current and not task.done()
        and any(f.endswith(CLIENT_FILES) for f in _await_chain_files(task.get_coro()))
    }


def connections_in_use(remotion: RemotionLambda) -> int:
    """Connections the client's transport holds acquired (not idle in a pool): its
    public signal (which fails loudly if aiobotocore's internals moved)."""
    return remotion.transport.connections_in_use()
