"""Without redis-py, importing the Redis hub says which extra to install."""

from __future__ import annotations

import importlib
import sys

import pytest


def test_a_missing_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "redis" or name.startswith("redis.") or name == "aioremotion.hub_redis":
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)  # "import redis" raises ImportError
    with pytest.raises(ImportError, match=r'pip install "aioremotion\[redis\]"'):
        importlib.import_module("aioremotion.hub_redis")
