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
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from .events import Done, Failed
from .progress import EnhancedErrorInfo

#: What a webhook says of a render: it succeeded, failed, or its main function timed out.
OutcomeKind: TypeAlias = Literal["success", "error", "timeout"]

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


# ---------------------------------------------------------------- outcomes (the hub's unit)


@dataclass(frozen=True)
class RenderOutcome:
    """What one verified webhook said of a render (what an outcome hub carries).

    ``payload`` is the webhook's JSON body as received; ``received_at`` is ``time.time()``
    when it was verified. Build one with :meth:`from_webhook`.

    Example:
        >>> outcome = RenderOutcome.from_webhook(
        ...     {"type": "timeout", "renderId": "k1a2b3c4d5",
        ...      "bucketName": "remotionlambda-useast1-abcdefghij"}, received_at=1.0)
        >>> outcome.kind, outcome.render_id
        ('timeout', 'k1a2b3c4d5')
    """

    render_id: str
    bucket_name: str
    kind: OutcomeKind
    payload: dict[str, Any]
    received_at: float

    @classmethod
    def from_webhook(cls, payload: dict[str, Any], *, received_at: float) -> RenderOutcome:
        """The outcome a (verified) webhook body states; ValueError if it is none of
        Remotion's three kinds or lacks its render id."""
        kind = payload.get("type")
        render_id = payload.get("renderId")
        if kind not in ("success", "error", "timeout") or not isinstance(render_id, str):
            raise ValueError(f"not a Remotion webhook payload: type={kind!r}, "
                             f"renderId={render_id!r}")
        return cls(render_id=render_id, bucket_name=str(payload.get("bucketName") or ""),
                   kind=kind, payload=payload, received_at=received_at)


def outcome_event(outcome: RenderOutcome, *, size: int | None = None) -> Done | Failed | None:
    """The event a webhook's outcome means (the watch's push rule, in one place).

    ``error`` → :class:`Failed` with the errors' messages; ``timeout`` → ``Failed`` with
    ``timed_out=True``; ``success`` → :class:`Done` with ``url`` = ``outputUrl`` (else
    ``outputFile``) when ``size`` is known. The success webhook carries no size, so with
    ``size=None`` a success gives ``None``: the watch then reads progress.json once (the
    launch function writes ``postRenderData``, with the size and final cost, before it
    sends the webhook), which gives the full ``Done`` by the polling rules (image
    sequences included, which have no output file to HEAD).

    Example:
        >>> error = RenderOutcome.from_webhook(
        ...     {"type": "error", "renderId": "r1", "bucketName": "b",
        ...      "errors": [{"message": "boom"}, {"message": "again"}]}, received_at=0.0)
        >>> outcome_event(error).message
        'boom; again'
        >>> success = RenderOutcome.from_webhook(
        ...     {"type": "success", "renderId": "r1", "bucketName": "b",
        ...      "outputUrl": "https://b.s3.amazonaws.com/renders/r1/out.mp4"}, received_at=0.0)
        >>> outcome_event(success) is None, outcome_event(success, size=10).url
        (True, 'https://b.s3.amazonaws.com/renders/r1/out.mp4')
    """
    payload = outcome.payload
    if outcome.kind == "success":
        if size is None:
            return None
        costs = payload.get("costs") or {}
        cost = costs.get("estimatedCost") if isinstance(costs, dict) else None
        return Done(
            url=str(payload.get("outputUrl") or payload.get("outputFile") or ""),
            size=size,
            render_id=outcome.render_id,
            bucket_name=outcome.bucket_name or None,
            cost=float(cost) if isinstance(cost, (int, float)) else None,
            time_to_finish_ms=payload.get("timeToFinish"),
        )
    if outcome.kind == "timeout":
        return Failed(
            message=(f"Render {outcome.render_id} timed out: its main function reached "
                     "its time limit (webhook 'timeout')"),
            render_id=outcome.render_id,
            explanation="The main function ran out of time before the render finished.",
            timed_out=True,
        )
    raw = payload.get("errors")
    errors = [EnhancedErrorInfo.model_validate(e) for e in raw if isinstance(e, dict)] \
        if isinstance(raw, list) else []
    messages = [e.message for e in errors if e.message]
    return Failed(
        message="; ".join(messages) or f"Render {outcome.render_id} failed (webhook 'error')",
        render_id=outcome.render_id,
        errors=errors,
        timed_out=any(e.name == "TimeoutError" for e in errors),
    )
