"""Sending webhooks from the emulated launch function: signed POSTs with retries."""

from __future__ import annotations

from typing import Any

import aiohttp
import anyio

from ..protocol.props import js_json_dumps
from ..protocol.webhooks import webhook_headers

RETRY_DELAYS_S = (0.5, 1.0)
ATTEMPT_TIMEOUT_S = 10.0


async def send_webhook(
    url: str, secret: str | None, payload: dict[str, Any],
    *, session: aiohttp.ClientSession,
) -> str | None:
    """POST ``payload``; retried twice (0.5 s, 1 s). Returns ``None`` on success, else the
    last error's text (the caller records it as a non-fatal ``webhook`` error)."""
    body = js_json_dumps(payload).encode()
    headers = webhook_headers(body, secret, str(payload["type"]))
    error: str | None = None
    for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
        try:
            with anyio.fail_after(ATTEMPT_TIMEOUT_S):
                async with session.post(url, data=body, headers=headers,
                                        allow_redirects=True) as response:
                    if 200 <= response.status < 300:
                        return None
                    error = f"Webhook at {url} returned HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"Webhook at {url} failed (attempt {attempt + 1}): {exc!r}"
        if delay is not None:
            await anyio.sleep(delay)
    return error
