"""A drop-in backend for Remotion's Next.js template, on Starlette (``pip install
"aioremotion[web]"``).

``create_app()`` serves ``POST /api/lambda/render``, ``POST /api/lambda/progress`` (the
template's routes and JSON), a signed-webhook route and a demo page at ``/``.

Example::

    import uvicorn
    from aioremotion.web import WebConfig, create_app

    async def on_webhook(payload):            # WebhookSuccess | WebhookError | WebhookTimeout
        print(payload.type, payload.render_id)

    app = create_app(WebConfig.from_env(composition="MyComp", webhook_secret="s3cr3t"),
                     on_webhook=on_webhook)
    uvicorn.run(app, port=8000)

See :mod:`aioremotion.web.app` for mounting it in FastAPI.
"""

from __future__ import annotations

from .app import (
    MISSING_KEY_MESSAGE,
    MISSING_SECRET_MESSAGE,
    ApiError,
    RemotionWeb,
    create_app,
    template_progress,
)
from .config import WebConfig
from .webhooks import (
    ReplayGuard,
    WebhookCallback,
    WebhookCosts,
    WebhookError,
    WebhookErrorInfo,
    WebhookPayload,
    WebhookReceiver,
    WebhookRejected,
    WebhookSuccess,
    WebhookTimeout,
    parse_webhook_payload,
)

__all__ = [
    "MISSING_KEY_MESSAGE",
    "MISSING_SECRET_MESSAGE",
    "ApiError",
    "RemotionWeb",
    "ReplayGuard",
    "WebConfig",
    "WebhookCallback",
    "WebhookCosts",
    "WebhookError",
    "WebhookErrorInfo",
    "WebhookPayload",
    "WebhookReceiver",
    "WebhookRejected",
    "WebhookSuccess",
    "WebhookTimeout",
    "create_app",
    "parse_webhook_payload",
    "template_progress",
]
