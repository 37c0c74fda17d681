"""Input props: JSON text exactly as JavaScript writes it, and inline vs S3 upload.

Remotion serialises props with ``JSON.stringify`` (compact, non-ASCII kept as is) where a
``Date`` becomes ``"remotion-date:<ISO>"``. The text is sent inline when small enough, else
uploaded to ``input-props/<hash>.json`` in the render bucket (docs/PROTOCOL.md section 6).

Example:
    >>> from datetime import datetime, timezone
    >>> serialize_input_props({"at": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc),
    ...                        "ratio": 1.0, "name": "Zoë"})
    '{"at":"remotion-date:2026-01-02T03:04:05.678Z","ratio":1,"name":"Zoë"}'
    >>> plan_input_props('{"title":"Hi"}', kind="media", env_variables={})
    InlineProps(text='{"title":"Hi"}')
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import InvalidOptionsError
from .constants import MEDIA_PROPS_LIMIT, STILL_PROPS_LIMIT
from .naming import random_hash
from .nesting import MAX_JSON_DEPTH, JsonTooDeepError

PropsKind = Literal["media", "still", "compositions"]


def js_number(value: float) -> str:
    """A float the way JavaScript's ``String(number)`` writes it (``1.0`` -> ``1``,
    ``1e-07`` -> ``1e-7``, ``1e+21`` -> ``1e+21``, ``1e16`` -> ``10000000000000000``)."""
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    exp = int(exponent)
    if -7 < exp < 21:
        # Python switched to exponent notation where JavaScript does not.
        return format(Decimal(text), "f")
    return f"{mantissa}e{'+' if exp > 0 else '-'}{abs(exp)}"


def _js_iso(moment: datetime) -> str:
    """``Date.prototype.toISOString``: UTC, milliseconds, ``Z``. Naive datetimes are UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _unwrap(value: Any) -> Any:
    """A pydantic model or dataclass as the mapping of its fields; anything else as is."""
    while True:
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="python", by_alias=True)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            # Not dataclasses.asdict: it recurses (two frames per level of nesting).
            value = {field.name: getattr(value, field.name)
                     for field in dataclasses.fields(value)}
        else:
            return value


def _resolve(path: str | Callable[[], str]) -> str:
    return path if isinstance(path, str) else path()


def _open(value: Any, path: str | Callable[[], str]
          ) -> tuple[Any, Iterator[tuple[Any, Any]] | None]:
    """``value`` converted, Remotion-style, or an empty container and its items to convert.
    ``path`` (or a function giving it, called only for an error) names ``value``."""
    if value is None or isinstance(value, (bool, str, int)):
        return value, None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidOptionsError(
                [(_resolve(path), f"{value!r} cannot be sent: JSON has no NaN or Infinity "
                        "(JavaScript would silently turn it into null); use null or a number")]
            )
        return value, None
    if isinstance(value, datetime):
        return "remotion-date:" + _js_iso(value), None
    if isinstance(value, date):
        return "remotion-date:" + _js_iso(datetime(value.year, value.month, value.day)), None
    if isinstance(value, Mapping):
        return {}, iter(value.items())
    if isinstance(value, (list, tuple)):
        return [], enumerate(value)
    raise InvalidOptionsError(
        [(_resolve(path), f"a {type(value).__name__} cannot be sent as input props: use "
                          "JSON values (dict, list, str, int, float, bool, None), datetimes, "
                          "dataclasses or pydantic models")]
    )


def _to_js_value(value: Any, path: str) -> tuple[Any, int]:
    """Convert ``value`` into plain JSON types, Remotion-style, or raise with its path.

    Returns the plain value and its depth (:func:`~aioremotion.protocol.nesting.json_depth`).
    Iterative, so no depth makes it recurse; a value containing itself is refused.
    """
    root, items = _open(_unwrap(value), path)
    if items is None:
        return root, 0
    # One frame per open container: its converted copy, its items, its own path segment
    # (".key" or "[i]"; the full path is joined only for an error, so memory stays linear
    # in the depth) and the id of the original (which its parent keeps alive meanwhile).
    stack: list[tuple[Any, Iterator[tuple[Any, Any]], str, int]] = [
        (root, items, path, id(value))]
    open_ids = {id(value)}
    deepest = 1

    def where(segment: str) -> str:
        return "".join(frame[2] for frame in stack) + segment

    while stack:
        out, items, _, _ = stack[-1]
        for key, item in items:
            if isinstance(out, dict):
                if not isinstance(key, str):
                    raise InvalidOptionsError(
                        [(where(f"[{key!r}]"), "keys of input props must be strings")]
                    )
                segment = f".{key}"
            else:
                segment = f"[{key}]"
            converted, children = _open(_unwrap(item), partial(where, segment))
            if isinstance(out, dict):
                out[key] = converted
            else:
                out.append(converted)
            if children is not None:
                if id(item) in open_ids:
                    raise InvalidOptionsError(
                        [(where(segment), "contains itself (a circular reference), which "
                                          "JSON cannot hold")]
                    )
                open_ids.add(id(item))
                stack.append((converted, children, segment, id(item)))
                deepest = max(deepest, len(stack))
                break
        else:
            open_ids.discard(stack.pop()[3])
    return root, deepest


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _js_string(value: str) -> str:
    text = _ENCODER.encode(value)
    # JSON.stringify escapes lone surrogates (which cannot be encoded as UTF-8).
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _js_scalar(value: Any) -> str | None:
    """The JSON text of a number, string, boolean or null (``None`` for anything else)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _js_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return js_number(value) if math.isfinite(value) else "null"
    return None


def js_json_dumps(value: Any) -> str:
    """``JSON.stringify(value)`` for plain JSON values: compact, non-ASCII kept as is,
    numbers written as JavaScript writes them.

    Iterative, so any depth is written (a value containing itself raises ``ValueError``,
    anything but JSON values ``TypeError``).

    >>> js_json_dumps({"a": [1, 2.0, 0.5, None, True], "b": "Zoë"})
    '{"a":[1,2,0.5,null,true],"b":"Zoë"}'
    >>> js_json_dumps([[]] * 2 + [{}])
    '[[],[],{}]'
    """
    scalar = _js_scalar(value)
    if scalar is not None:
        return scalar
    if not isinstance(value, (Mapping, list, tuple)):
        raise TypeError(f"{type(value).__name__} is not a JSON value")
    parts: list[str] = []
    # One frame per open container: its items, whether it is an object, its closing bracket
    # and its id (to refuse a container nested in itself). Every item is followed by a
    # comma; the closing bracket replaces the last one.
    stack: list[tuple[Iterator[Any], bool, str, int]] = []
    open_ids: set[int] = set()
    container: Any = value
    while True:
        if container is not None:
            if id(container) in open_ids:
                raise ValueError("Circular reference detected: the value contains itself")
            open_ids.add(id(container))
            if isinstance(container, Mapping):
                parts.append("{")
                stack.append((iter(container.items()), True, "}", id(container)))
            else:
                parts.append("[")
                stack.append((iter(container), False, "]", id(container)))
            container = None
        items, is_object, closing, ident = stack[-1]
        for item in items:
            if is_object:
                key, item = item
                parts.append(_js_string(str(key)) + ":")
            scalar = _js_scalar(item)
            if scalar is not None:
                parts.append(scalar)
                parts.append(",")
            elif isinstance(item, (Mapping, list, tuple)):
                container = item
                break
            else:
                raise TypeError(f"{type(item).__name__} is not a JSON value")
        else:
            stack.pop()
            open_ids.discard(ident)
            if parts[-1] == ",":
                parts[-1] = closing
            else:
                parts.append(closing)
            if not stack:
                return "".join(parts)
            parts.append(",")


def serialize_input_props(props: Any) -> str:
    """Input props as the JSON text Remotion sends (``{}`` when ``props`` is ``None``).

    Raises :class:`InvalidOptionsError` naming the offending path for values JSON cannot hold,
    and :class:`~aioremotion.protocol.nesting.JsonTooDeepError` for props nested deeper than
    :data:`~aioremotion.protocol.nesting.MAX_JSON_DEPTH` levels (the props object counts).

    >>> serialize_input_props({"deep": [[[]]]})
    '{"deep":[[[]]]}'
    >>> serialize_input_props({"pair": (1, 2.5), "on": date(2026, 1, 2)})
    '{"pair":[1,2.5],"on":"remotion-date:2026-01-02T00:00:00.000Z"}'
    """
    if props is None:
        return "{}"
    plain, depth = _to_js_value(props, "input_props")
    if not isinstance(plain, dict):
        raise InvalidOptionsError(
            [("input_props", f"must be an object (a dict or model); got {type(props).__name__}")]
        )
    if depth > MAX_JSON_DEPTH:
        raise JsonTooDeepError("input_props", depth, MAX_JSON_DEPTH)
    return js_json_dumps(plain)


@dataclasses.dataclass(frozen=True)
class InlineProps:
    """Props small enough to travel inside the payload."""

    text: str

    def to_payload(self) -> dict[str, Any]:
        return {"type": "payload", "payload": self.text}


@dataclasses.dataclass(frozen=True)
class UploadedProps:
    """Props that must be uploaded to ``input-props/<hash>.json`` in ``bucket_name`` first.

    ``bucket_name`` is ``None`` until the caller knows the render bucket; the payload then
    carries it both here and as the top-level ``bucketName``.
    """

    text: str
    hash: str

    def to_payload(self, bucket_name: str) -> dict[str, Any]:
        return {"type": "bucket-url", "hash": self.hash, "bucketName": bucket_name}

    @property
    def key(self) -> str:
        return f"input-props/{self.hash}.json"


def props_limit(kind: PropsKind) -> int:
    """How many bytes of props (plus env variables) may be sent inline."""
    return STILL_PROPS_LIMIT if kind == "still" else MEDIA_PROPS_LIMIT


def plan_input_props(
    text: str,
    *,
    kind: PropsKind,
    env_variables: Mapping[str, str] | None,
    props_hash: str | None = None,
) -> InlineProps | UploadedProps:
    """Decide whether serialised props go inline or to S3.

    Sizes are measured in UTF-8 bytes of the props plus the JSON of ``env_variables`` (more
    conservative than JavaScript's UTF-16 count, so whatever JS sends inline fits here too
    unless it is mostly non-ASCII). ``props_hash`` defaults to a fresh random 10-character
    hash, as in the JS client: content hashes would let concurrent renders race on the file
    the function deletes when it finishes.
    """
    used = len(text.encode()) + len(js_json_dumps(dict(env_variables or {})).encode())
    if used > props_limit(kind):
        return UploadedProps(text=text, hash=props_hash or random_hash())
    return InlineProps(text=text)
