"""How deeply JSON may nest: one limit, measured without recursion, checked at every boundary.

JavaScript's ``JSON.stringify`` accepts props nested thousands of levels deep; Python does
not: ``json.loads``, ``json.dumps`` and ``repr`` recurse once per level and raise
``RecursionError`` once the levels plus the frames already on the stack pass
``sys.getrecursionlimit()`` (1000). Rather than let that surface as a crash (a 500 from the
web app, a traceback from the command line), every place where JSON comes in refuses
values nested deeper than :data:`MAX_JSON_DEPTH` with a clear
:class:`~aioremotion.errors.InvalidOptionsError` (a :class:`JsonTooDeepError`):

- the option models (``input_props``, ``webhook.custom_data``), so the Python API, the web
  app and the command line all share one check;
- :func:`parse_json`, for JSON text arriving from outside (request bodies of the web app,
  ``--props`` and ``--props-file`` of the command line).

Depth counts the objects and arrays on the deepest path: a number or string has depth 0,
``{}`` and ``[]`` depth 1, ``{"a": [1]}`` depth 2.

Example:
    >>> json_depth({"a": [1, {"b": []}]})
    4
    >>> parse_json('{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> parse_json("[" * 600 + "]" * 600, field="--props")
    Traceback (most recent call last):
    ...
    aioremotion.protocol.nesting.JsonTooDeepError: Invalid options:
      --props: is nested 600 levels deep; at most 500 are supported (deeper JSON cannot be \
processed safely): flatten it
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from itertools import accumulate
from typing import Any, Final

from ..errors import InvalidOptionsError

__all__ = ["MAX_JSON_DEPTH", "JsonTooDeepError", "check_json_depth", "json_depth", "parse_json"]

#: The deepest nesting (objects and arrays on one path) accepted anywhere: input props,
#: webhook custom data, request bodies (which may be one level deeper, for the envelope
#: around ``inputProps``) and JSON arguments of the command line.
#:
#: Why 500: everything aioremotion itself does with such a value is iterative (conversion
#: and ``JSON.stringify``-exact serialisation of props, :func:`json_depth`), so only the
#: standard library's recursive C code is bounded by Python's recursion limit of 1000:
#: ``json.loads``, ``json.dumps`` and ``repr`` use one level of it per level of nesting
#: (measured: 993 levels from a bare script). The deepest caller measured is the web app,
#: 24 frames deep when it parses a body under uvicorn (30 under httpx's ASGI transport), so
#: 500 levels (501 for a request body) leave more than 400 frames to spare for middleware,
#: ASGI wrappers and test runners. Objects nested 500 levels deep are far beyond any real
#: composition's props.
#: (pydantic's JSON-mode serialisation, ``model_dump(mode="json")``/``model_dump_json``,
#: refuses values over 255 levels with a ValueError of its own; aioremotion never uses it
#: on props, and ``model_dump()`` in Python mode has no such limit.)
MAX_JSON_DEPTH: Final = 500


class JsonTooDeepError(InvalidOptionsError):
    """A JSON value is nested deeper than allowed.

    It is an :class:`~aioremotion.errors.InvalidOptionsError` (and so a ``ValueError``)
    whose one problem names ``field``; ``depth`` is the value's depth, ``limit`` the most
    allowed.

    >>> error = JsonTooDeepError("input_props", 501, 500)
    >>> (error.field, error.depth, error.limit)
    ('input_props', 501, 500)
    >>> error.problems
    [('input_props', 'is nested 501 levels deep; at most 500 are supported (deeper JSON \
cannot be processed safely): flatten it')]
    """

    def __init__(self, field: str, depth: int, limit: int = MAX_JSON_DEPTH) -> None:
        self.field = field
        self.depth = depth
        self.limit = limit
        super().__init__([(field, f"is nested {depth} levels deep; at most {limit} are "
                                  "supported (deeper JSON cannot be processed safely): "
                                  "flatten it")])


def _children(container: Any) -> Iterator[Any]:
    return iter(container.values() if isinstance(container, Mapping) else container)


def json_depth(value: Any) -> int:
    """How many objects and arrays ``value`` nests on its deepest path, measured without
    recursion (so any depth can be measured).

    Mappings, lists and tuples count as containers; everything else is a leaf. A value that
    contains itself raises ``ValueError``.

    >>> json_depth(3), json_depth([]), json_depth({"a": [1, {"b": "[[["}]})
    (0, 1, 3)
    >>> nested: list[object] = []
    >>> for _ in range(5000):
    ...     nested = [nested]
    >>> json_depth(nested)
    5001
    """
    if not isinstance(value, (list, tuple, Mapping)):
        return 0
    stack: list[tuple[Iterator[Any], int]] = [(_children(value), id(value))]
    open_ids = {id(value)}
    deepest = 1
    while stack:
        children, ident = stack[-1]
        for child in children:
            if isinstance(child, (list, tuple, Mapping)):
                if id(child) in open_ids:
                    raise ValueError("contains itself (a circular reference), "
                                     "which JSON cannot hold")
                open_ids.add(id(child))
                stack.append((_children(child), id(child)))
                deepest = max(deepest, len(stack))
                break
        else:
            stack.pop()
            open_ids.discard(ident)
    return deepest


def check_json_depth(value: Any, field: str, *, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`JsonTooDeepError` naming ``field`` when ``value`` nests deeper than
    ``limit`` (see :func:`json_depth`).

    >>> check_json_depth({"a": [[1]]}, "webhook.custom_data")
    >>> check_json_depth({"a": [[1]]}, "custom_data", limit=2)
    Traceback (most recent call last):
    ...
    aioremotion.protocol.nesting.JsonTooDeepError: Invalid options:
      custom_data: is nested 3 levels deep; at most 2 are supported (deeper JSON cannot be \
processed safely): flatten it
    """
    depth = json_depth(value)
    if depth > limit:
        raise JsonTooDeepError(field, depth, limit)


# A JSON string (escapes included), else one bracket: group 1 is the bracket or empty.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|([][{}])', re.DOTALL)
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1, "": 0}


def _text_depth(text: str | bytes | bytearray) -> int:
    """The nesting depth of JSON text, from its brackets outside strings (no parsing)."""
    if not isinstance(text, str):
        # Every ASCII byte (brackets, quotes, backslashes) maps to itself in latin-1, and
        # UTF-8/16/32 encode those characters as such bytes (plus NULs for UTF-16/32).
        text = bytes(text).decode("latin-1")
    steps = map(_STEP.__getitem__, _STRING_OR_BRACKET.findall(text))
    return max(accumulate(steps), default=0)


def parse_json(
    text: str | bytes | bytearray, *, field: str = "JSON", limit: int = MAX_JSON_DEPTH
) -> Any:
    """``json.loads(text)`` that refuses nesting deeper than ``limit`` levels with
    :class:`JsonTooDeepError` naming ``field`` instead of raising ``RecursionError``.

    Invalid JSON raises ``json.JSONDecodeError`` (and undecodable bytes
    ``UnicodeDecodeError``) as ``json.loads`` does. ``JsonTooDeepError`` is a
    ``ValueError`` too: catch it first where invalid JSON gets its own message.

    >>> parse_json('{"title": "Hi", "tags": ["a", "b"]}')
    {'title': 'Hi', 'tags': ['a', 'b']}
    >>> parse_json(b'[[1]]', limit=1)
    Traceback (most recent call last):
    ...
    aioremotion.protocol.nesting.JsonTooDeepError: Invalid options:
      JSON: is nested 2 levels deep; at most 1 are supported (deeper JSON cannot be \
processed safely): flatten it
    >>> try:
    ...     parse_json('{"a":' * 100_000 + "1" + "}" * 100_000, field="input_props")
    ... except JsonTooDeepError as exc:
    ...     print(exc.field, exc.depth, exc.limit)
    input_props 100000 500
    """
    try:
        value = json.loads(text)
    except RecursionError:
        depth = _text_depth(text)
        if depth <= limit:  # only when the caller's own stack is nearly exhausted
            raise
        raise JsonTooDeepError(field, depth, limit) from None
    check_json_depth(value, field, limit=limit)
    return value
