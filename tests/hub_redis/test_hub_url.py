"""The hub URL (AIOREMOTION_HUB_URL, WebConfig.hub_url) → the hub, in one place."""

from __future__ import annotations

import os

import pytest

from aioremotion.errors import InvalidOptionsError
from aioremotion.hub import LocalHub
from aioremotion.hub_url import check_hub_url, hub_from_url, hub_url_from_env
from aioremotion.web.config import WebConfig


@pytest.mark.parametrize("url", [None, "", "memory://"])
async def test_no_url_or_memory_is_the_in_process_hub(url: str | None) -> None:
    hub = hub_from_url(url, keep_s=5)
    assert isinstance(hub, LocalHub)
    assert hub.keep_s == 5
    await hub.aclose()


async def test_a_redis_url_is_a_redis_hub() -> None:
    if not os.environ.get("CI"):
        pytest.importorskip("redis", reason='pip install "aioremotion[redis]"')
    from aioremotion.hub_redis import RedisHub

    hub = hub_from_url("redis://:pw@127.0.0.1:1/3", keep_s=7)
    assert isinstance(hub, RedisHub)
    assert (hub.url, hub.keep_s) == ("redis://:pw@127.0.0.1:1/3", 7)
    assert hub.safe_url == "redis://:***@127.0.0.1:1/3"
    await hub.aclose()  # never connected: nothing to do


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis"])
def test_other_urls_are_refused_before_anything_connects(url: str) -> None:
    with pytest.raises(InvalidOptionsError) as caught:
        hub_from_url(url)
    assert caught.value.fields == ["hub_url"]
    assert "redis://" in str(caught.value)


def test_a_refused_url_hides_its_password() -> None:
    with pytest.raises(InvalidOptionsError) as caught:
        check_hub_url("http://:secret@cache:6379")
    assert "secret" not in str(caught.value)


def test_the_environment_names_the_url() -> None:
    assert hub_url_from_env({"AIOREMOTION_HUB_URL": "redis://h:1/0"}) == "redis://h:1/0"
    assert hub_url_from_env({"AIOREMOTION_HUB_URL": "  "}) is None
    assert hub_url_from_env({}) is None


def test_the_web_config_reads_it() -> None:
    env = {"AIOREMOTION_HUB_URL": "redis://:pw@cache:6379/0"}
    config = WebConfig.from_env(env)
    assert config.hub_url == "redis://:pw@cache:6379/0"
    assert "pw" not in repr(config)
    assert WebConfig.from_env({}).hub_url is None
    with pytest.raises(InvalidOptionsError) as caught:
        WebConfig.from_env({"AIOREMOTION_HUB_URL": "http://cache"})
    assert caught.value.fields == ["AIOREMOTION_HUB_URL"]
    assert WebConfig(hub_url="memory://").hub_url == "memory://"
