"""Receiving Remotion's webhooks: signature check, replay refusal, typed payloads.

The launch function POSTs one of three payloads when a render ends — ``success``,
``error`` or ``timeout`` — signed with HMAC-SHA512 of the raw body in
``X-Remotion-Signature``. :class:`WebhookReceiver` is framework-free: give it the raw body
and the header, it checks the signature in constant time, refuses a ``(renderId, type)``
pair it has already accepted, parses the payload and awaits your callback.
``aioremotion.web.create_app`` mounts it at ``POST /api/lambda/webhook``.

Example:
    >>> import asyncio
    >>> from aioremotion.protocol.webhooks import sign_webhook
    >>> seen = []
    >>> receiver = WebhookReceiver("s3cr3t", seen.append)
    >>> body = (b'{"type":"timeout","renderId":"k1a2b3c4d5","expectedBucketOwner":"1",'
    ...         b'"bucketName":"remotionlambda-useast1-abcdefghij","customData":null}')
    >>> payload = asyncio.run(receiver.receive(body, sign_webhook(body, "s3cr3t")))
    >>> type(payload).__name__, seen == [payload]
    ('WebhookTimeout', True)
    >>> try:
    ...     asyncio.run(receiver.receive(body, sign_webhook(body, "s3cr3t")))
    ... except WebhookRejected as exc:
    ...     print(exc.status, exc)
    409 Webhook for render k1a2b3c4d5 (timeout) was already received: refusing a replay
"""

from __future__ import annotations

import inspect
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from ..errors import RemotionError
from ..protocol.nesting import MAX_JSON_DEPTH, JsonTooDeepError, parse_json
from ..protocol.progress import EnhancedErrorInfo
from ..protocol.webhooks import NO_SECRET, RenderOutcome, verify_webhook_signature

if TYPE_CHECKING:
    from ..hub import OutcomeHub

__all__ = [
    "ReplayGuard",
    "WebhookCallback",
    "WebhookCosts",
    "WebhookError",
    "WebhookErrorInfo",
    "WebhookPayload",
    "WebhookReceiver",
    "WebhookRejected",
    "WebhookSuccess",
    "WebhookTimeout",
    "parse_webhook_payload",
]

SIGNATURE_HEADER = "X-Remotion-Signature"


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="allow",
        frozen=True,
    )


class WebhookErrorInfo(_Model):
    """One error of an ``error`` webhook."""

    message: str
    name: str = "Error"
    stack: str = ""


class WebhookCosts(_Model):
    """What the render cost (``AfterRenderCost``)."""

    estimated_cost: float
    estimated_display_cost: str
    currency: str
    disclaimer: str = ""


class _Payload(_Model):
    render_id: str
    expected_bucket_owner: str
    bucket_name: str
    custom_data: dict[str, Any] | None = None


class WebhookSuccess(_Payload):
    """The render is done: ``output_url`` is the video."""

    type: Literal["success"] = "success"
    output_url: str | None = None
    output_file: str | None = None
    lambda_errors: list[EnhancedErrorInfo] = Field(default_factory=list)
    time_to_finish: float | None = None
    costs: WebhookCosts | None = None


class WebhookError(_Payload):
    """The render failed; ``errors`` says why."""

    type: Literal["error"] = "error"
    errors: list[WebhookErrorInfo] = Field(default_factory=list)


class WebhookTimeout(_Payload):
    """The main function ran out of time."""

    type: Literal["timeout"] = "timeout"


WebhookPayload = Annotated[
    WebhookSuccess | WebhookError | WebhookTimeout, Field(discriminator="type")
]
_PAYLOAD: TypeAdapter[WebhookSuccess | WebhookError | WebhookTimeout] = TypeAdapter(
    WebhookPayload
)

#: What :class:`WebhookReceiver` calls with each accepted payload (sync or async).
WebhookCallback = Callable[
    [WebhookSuccess | WebhookError | WebhookTimeout], Awaitable[Any] | Any
]


class WebhookRejected(RemotionError):
    """A webhook request was refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def _decode(body: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """The webhook body as a JSON object (WebhookRejected 400 when it is not one)."""
    try:
        data = (parse_json(body, field="webhook body", limit=MAX_JSON_DEPTH + 8)
                if isinstance(body, (bytes, str)) else body)
    except JsonTooDeepError as exc:
        raise WebhookRejected(400, f"The webhook body {exc.problems[0][1]}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(400, f"The webhook body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "The webhook body must be a JSON object")
    return data


def parse_webhook_payload(
    body: bytes | str | dict[str, Any],
) -> WebhookSuccess | WebhookError | WebhookTimeout:
    """Parse a webhook body (raw JSON or a decoded object) into its typed payload.

    Raises :class:`WebhookRejected` (400) when it is not one of Remotion's payloads.

    >>> parse_webhook_payload({"type": "error", "renderId": "r1", "expectedBucketOwner": "1",
    ...                        "bucketName": "b1b", "errors": [{"message": "boom"}]}).errors[0]
    WebhookErrorInfo(message='boom', name='Error', stack='')
    """
    data = _decode(body)
    try:
        return _PAYLOAD.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        raise WebhookRejected(
            400, f"The webhook body is not a Remotion webhook payload: {problems}"
        ) from None


class ReplayGuard:
    """Remembers keys for ``window_s`` seconds (at most ``max_entries``, oldest dropped).

    :meth:`claim` is true the first time a key is seen in the window; a claim that did not
    lead anywhere (the callback failed) is given back with :meth:`release`, so Remotion's
    retry of the same webhook is accepted.

    >>> now = [0.0]
    >>> guard = ReplayGuard(window_s=10, clock=lambda: now[0])
    >>> guard.claim("a"), guard.claim("a")
    (True, False)
    >>> now[0] = 11.0
    >>> guard.claim("a")
    True
    """

    def __init__(
        self, *, window_s: float = 24 * 3600.0, max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: float) -> None:
        while self._seen:
            key, at = next(iter(self._seen.items()))
            if now - at < self.window_s:
                return
            del self._seen[key]

    def claim(self, key: Hashable) -> bool:
        """True (and remembered) if ``key`` was not seen within the window."""
        now = self._clock()
        self._expire(now)
        if key in self._seen:
            return False
        self._seen[key] = now
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return True

    def release(self, key: Hashable) -> None:
        """Forget ``key`` (its delivery failed and may be retried)."""
        self._seen.pop(key, None)


class WebhookReceiver:
    """Checks, de-duplicates and dispatches Remotion webhooks.

    Args:
        secret: the secret the renders were started with (``webhook.secret``).
        on_webhook: called with each accepted payload; may be sync or async. When it
            raises, the delivery is refused (the HTTP layer answers 500) and forgotten, so
            Remotion's retry is accepted.
        replay_window_s, max_entries: how long and how many ``(renderId, type)`` pairs are
            remembered.
        hub: an :class:`~aioremotion.hub.OutcomeHub`: each accepted webhook is published
            to it as a :class:`~aioremotion.hub.RenderOutcome` (before ``on_webhook`` is
            called), so watches given the same hub finish on it. When publishing fails the
            delivery is refused like a failing callback (Remotion's retry is accepted).
    """

    def __init__(
        self,
        secret: str,
        on_webhook: WebhookCallback | None = None,
        *,
        replay_window_s: float = 24 * 3600.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        hub: OutcomeHub | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a webhook secret is required: unsigned webhooks are refused")
        self._secret = secret
        self.on_webhook = on_webhook
        self.hub = hub
        self.replays = ReplayGuard(window_s=replay_window_s, max_entries=max_entries,
                                   clock=clock)

    def verify(self, body: bytes, signature: str | None) -> None:
        """Raise :class:`WebhookRejected` (401) unless ``signature`` signs ``body``."""
        if not signature:
            raise WebhookRejected(
                401, f"The {SIGNATURE_HEADER} header is missing: only signed Remotion "
                     "webhooks are accepted"
            )
        if signature == NO_SECRET:
            raise WebhookRejected(
                401, "The render was started without a webhook secret "
                     f"({SIGNATURE_HEADER}: {NO_SECRET}): start renders with "
                     "webhook={'url': ..., 'secret': ...}"
            )
        if not verify_webhook_signature(body, signature, self._secret):
            raise WebhookRejected(
                401, f"The {SIGNATURE_HEADER} header does not match the body: wrong secret, "
                     "or the body was changed"
            )

    async def receive(
        self, body: bytes, signature: str | None
    ) -> WebhookSuccess | WebhookError | WebhookTimeout:
        """Verify, parse, refuse replays, then call ``on_webhook``; returns the payload.

        Raises :class:`WebhookRejected` with status 401 (signature), 400 (not a payload)
        or 409 (replay); exceptions of the callback (and of the hub) propagate.
        """
        self.verify(body, signature)
        data = _decode(body)
        payload = parse_webhook_payload(data)
        key = (payload.render_id, payload.type)
        if not self.replays.claim(key):
            raise WebhookRejected(
                409, f"Webhook for render {payload.render_id} ({payload.type}) was already "
                     "received: refusing a replay"
            )
        try:
            if self.hub is not None:
                await self.hub.publish(RenderOutcome.from_webhook(data,
                                                                  received_at=time.time()))
            if self.on_webhook is not None:
                result = self.on_webhook(payload)
                if inspect.isawaitable(result):
                    await result
        except BaseException:
            self.replays.release(key)
            raise
        return payload
