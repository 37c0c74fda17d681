"""Which outcome hub a URL names: the one place a hub URL becomes a hub.

``AIOREMOTION_HUB_URL`` (read through :mod:`aioremotion.environment`; the web app's
``WebConfig.hub_url``) chooses where verified webhooks meet the watches waiting for them:

=================================  ================================================
URL                                hub
=================================  ================================================
unset, empty or ``memory://``      :class:`~aioremotion.hub.LocalHub` (this process)
``redis://[:password@]host:port/db``  :class:`~aioremotion.hub_redis.RedisHub`, shared
``rediss://…``, ``unix:///…sock``  by every process naming the same Redis
=================================  ================================================

Example:
    >>> type(hub_from_url(None)).__name__, type(hub_from_url("memory://")).__name__
    ('LocalHub', 'LocalHub')
    >>> check_hub_url("http://cache:6379")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    aioremotion.errors.InvalidOptionsError: Invalid options:
      hub_url: must be memory:// or a redis://, rediss:// or unix:// URL; got 'http://cache:6379'
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from . import environment
from .hub import LocalHub, OutcomeHub
from .protocol.hub_urls import HUB_URL_SCHEMES, check_hub_url, hide_password

__all__ = ["HUB_URL_SCHEMES", "check_hub_url", "hide_password", "hub_from_url",
           "hub_url_from_env"]


def hub_url_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``AIOREMOTION_HUB_URL`` (``None`` when unset or blank).

    >>> hub_url_from_env({"AIOREMOTION_HUB_URL": " redis://127.0.0.1:6379/0 "})
    'redis://127.0.0.1:6379/0'
    """
    return environment.setting("hub_url", environ)


def hub_from_url(url: str | None, *, keep_s: float = 600.0) -> OutcomeHub:
    """A new hub for ``url`` (see the table above); the caller closes it (``aclose()``).

    A Redis URL needs redis-py (``pip install "aioremotion[redis]"``; the ImportError says
    so); nothing connects until the hub is first used.

    Example::

        hub = hub_from_url("redis://127.0.0.1:6379/0")   # or hub_url_from_env()
        done = await wait(remotion, handle, hub=hub)
    """
    check_hub_url(url)
    if not url or urlsplit(url).scheme == "memory":
        return LocalHub(keep_s=keep_s)
    from .hub_redis import RedisHub

    return RedisHub(url, keep_s=keep_s)
