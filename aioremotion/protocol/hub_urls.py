"""Hub URLs, checked without importing or connecting anything (pure: no I/O).

:mod:`aioremotion.hub_url` turns a checked URL into a hub; the Redis hub shows URLs in its
messages with :func:`hide_password`.

Example:
    >>> check_hub_url("redis://127.0.0.1:6379/0"), check_hub_url(None)
    (None, None)
    >>> hide_password("rediss://user:pw@cache:6380/1")
    'rediss://user:***@cache:6380/1'
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..errors import InvalidOptionsError

__all__ = ["HUB_URL_SCHEMES", "check_hub_url", "hide_password"]

#: The schemes a hub URL may have (``memory`` is the in-process hub).
HUB_URL_SCHEMES = ("memory", "redis", "rediss", "unix")


def hide_password(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, to show in messages.

    >>> hide_password("redis://:s3cr3t@cache.internal:6379/0")
    'redis://:***@cache.internal:6379/0'
    >>> hide_password("redis://127.0.0.1:6379/0")
    'redis://127.0.0.1:6379/0'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def check_hub_url(url: str | None, field: str = "hub_url") -> None:
    """Raise :class:`~aioremotion.errors.InvalidOptionsError` unless ``url`` names a hub
    (``None`` and ``""`` do: the in-process one). Nothing is imported or connected.

    >>> check_hub_url("redis://127.0.0.1:6379/0")
    """
    if not url:
        return
    if urlsplit(url).scheme not in HUB_URL_SCHEMES:
        raise InvalidOptionsError([(field, "must be memory:// or a redis://, rediss:// or "
                                           f"unix:// URL; got {hide_password(url)!r}")])
