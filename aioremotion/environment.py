"""Every environment variable aioremotion reads, in one table, read in one way.

A setting may have several variables (Remotion's own first, then AWS's); the first one
set to a non-blank value wins. The client, the command line and the web backend all read
through :func:`setting`, so a variable means the same thing everywhere, and this table is
the one place that lists them. (botocore reads its own ``AWS_*`` variables, such as
``AWS_ENDPOINT_URL_S3`` and ``AWS_PROFILE``, itself.)

Example:
    >>> setting("region", {"AWS_REGION": "eu-west-1", "REMOTION_AWS_REGION": " "})
    'eu-west-1'
    >>> setting("fast_s3_reads", {})
    '1'
    >>> source("region", {"REMOTION_AWS_REGION": "us-east-2"})
    'REMOTION_AWS_REGION'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

__all__ = ["DEFAULTS", "VARIABLES", "is_off", "setting", "source"]

#: Which variables set which setting, in order of precedence.
VARIABLES: Final[Mapping[str, tuple[str, ...]]] = {
    # where and what to render
    "region": ("REMOTION_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    "function_name": ("REMOTION_FUNCTION_NAME",),
    "serve_url": ("REMOTION_SERVE_URL",),
    "site_name": ("SITE_NAME", "REMOTION_SITE_NAME"),
    "composition": ("REMOTION_COMPOSITION",),
    "allowed_compositions": ("REMOTION_COMPOSITIONS",),
    "bucket_name": ("REMOTION_BUCKET",),
    "allowed_buckets": ("REMOTION_ALLOWED_BUCKETS",),
    "remotion_version": ("REMOTION_VERSION",),
    # the deployed function (the Next.js template's names)
    "ram_mb": ("REMOTION_RAM",),
    "disk_mb": ("REMOTION_DISK",),
    "timeout_s": ("REMOTION_TIMEOUT",),
    "frames_per_lambda": ("REMOTION_FRAMES_PER_LAMBDA",),
    # credentials (Remotion's own variables win over the AWS chain)
    "access_key_id": ("REMOTION_AWS_ACCESS_KEY_ID",),
    "secret_access_key": ("REMOTION_AWS_SECRET_ACCESS_KEY",),
    "session_token": ("REMOTION_AWS_SESSION_TOKEN",),
    "profile": ("REMOTION_AWS_PROFILE",),
    "any_access_key_id": ("AWS_ACCESS_KEY_ID", "REMOTION_AWS_ACCESS_KEY_ID"),
    "any_secret_access_key": ("AWS_SECRET_ACCESS_KEY", "REMOTION_AWS_SECRET_ACCESS_KEY"),
    # the web backend
    "webhook_secret": ("REMOTION_WEBHOOK_SECRET",),
    "webhook_url": ("REMOTION_WEBHOOK_URL",),
    "credential_guard": ("REMOTION_CREDENTIAL_GUARD",),
    "max_body_bytes": ("REMOTION_MAX_BODY_BYTES",),
    # where verified webhooks meet the watches (memory:// or unset: this process; redis://…
    # shared by several workers; see aioremotion.hub_url)
    "hub_url": ("AIOREMOTION_HUB_URL",),
    # the command line's progress bar ("dumb": plain lines instead)
    "terminal": ("TERM",),
    # how progress.json is read
    "fast_s3_reads": ("AIOREMOTION_FAST_S3",),
    "ca_bundle": ("AWS_CA_BUNDLE",),
    "proxy": ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
              "all_proxy"),
}

#: Values used when no variable of a setting is set.
DEFAULTS: Final[Mapping[str, str]] = {"fast_s3_reads": "1"}


def setting(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of setting ``name`` (stripped), from the first of its variables that is
    set; its default, or ``None``, when none is."""
    env = os.environ if environ is None else environ
    for variable in VARIABLES[name]:
        value = env.get(variable)
        if value is not None and value.strip():
            return value.strip()
    return DEFAULTS.get(name)


def source(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Which variable gave setting ``name`` its value (to name it in an error)."""
    env = os.environ if environ is None else environ
    return next((variable for variable in VARIABLES[name]
                 if (env.get(variable) or "").strip()), None)


def is_off(value: str | None) -> bool:
    """Whether a flag's value turns it off (``0``, ``false``, ``no``, ``off``).

    >>> is_off("0"), is_off("False"), is_off("1"), is_off(None)
    (True, True, False, False)
    """
    return value is not None and value.strip().lower() in ("0", "false", "no", "off")
