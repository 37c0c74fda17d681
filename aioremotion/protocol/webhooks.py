"""Webhooks: the payloads launch POSTs, and their signature (docs/PROTOCOL.md section 12).

Example:
    >>> body = b'{"type":"success"}'
    >>> header = sign_webhook(body, "s3cr3t")
    >>> header.startswith("sha512=") and verify_webhook_signature(body, header, "s3cr3t")
    True
    >>> sign_webhook(body, None)
    'NO_SECRET_PROVIDED'
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

NO_SECRET = "NO_SECRET_PROVIDED"


def sign_webhook(body: bytes, secret: str | None) -> str:
    """The ``X-Remotion-Signature`` header for ``body``."""
    if secret is None:
        return NO_SECRET
    digest = hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()
    return f"sha512={digest}"


def verify_webhook_signature(body: bytes, header: str | None, secret: str) -> bool:
    """Check a signature over the raw request bytes, in constant time."""
    if not header or header == NO_SECRET:
        return False
    expected = sign_webhook(body, secret)
    return hmac.compare_digest(expected.encode(), header.encode())


def webhook_headers(body: bytes, secret: str | None, status: str) -> dict[str, str]:
    """The headers of a webhook request (``status``: success, error or timeout)."""
    return {
        "Content-Type": "application/json",
        "X-Remotion-Mode": "production",
        "X-Remotion-Signature": sign_webhook(body, secret),
        "X-Remotion-Status": status,
    }


def webhook_payload(
    status: str,
    *,
    render_id: str,
    expected_bucket_owner: str,
    bucket_name: str,
    custom_data: dict[str, Any] | None,
    **extra: Any,
) -> dict[str, Any]:
    """A webhook body: the shared keys in Remotion's order, then the status's own."""
    return {
        "type": status,
        "renderId": render_id,
        "expectedBucketOwner": expected_bucket_owner,
        "bucketName": bucket_name,
        "customData": custom_data,
        **extra,
    }
