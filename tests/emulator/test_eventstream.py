"""The event-stream encoder, checked against botocore's own decoder."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.eventstream import EventStream, EventStreamBuffer
from botocore.exceptions import EventStreamError
from botocore.parsers import EventStreamJSONParser

from aioremotion.emulator import eventstream
from aioremotion.emulator.eventstream import (
    encode_error_event,
    encode_exception_event,
    encode_invoke_complete,
    encode_message,
    encode_payload_chunk,
)


def decode(data: bytes, piece: int | None = None) -> list[Any]:
    """Decode messages with botocore, feeding ``piece`` bytes at a time."""
    buffer = EventStreamBuffer()
    messages = []
    step = piece or len(data) or 1
    for start in range(0, len(data), step):
        buffer.add_data(data[start : start + step])
        messages.extend(buffer)
    return messages


class _RawStream:
    """The minimal raw-stream interface botocore's EventStream reads."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self) -> Iterator[bytes]:
        yield self._data

    def close(self) -> None:
        pass


def parse_lambda_events(data: bytes) -> list[dict[str, Any]]:
    """Parse a body the way botocore parses InvokeWithResponseStream output."""
    model = botocore.session.get_session().get_service_model("lambda")
    output = model.operation_model("InvokeWithResponseStream").output_shape
    stream = EventStream(
        _RawStream(data),
        output.members["EventStream"],
        EventStreamJSONParser(),
        "InvokeWithResponseStream",
    )
    return list(stream)


def test_payload_chunk_round_trips_through_botocore() -> None:
    (message,) = decode(encode_payload_chunk(b"\x00frame-bytes\xff"))
    assert message.headers == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert message.payload == b"\x00frame-bytes\xff"
    assert message.to_response_dict()["status_code"] == 200


def test_prelude_and_crcs_follow_the_spec() -> None:
    data = encode_message({"a": "b"}, b"xyz")
    total, headers_length, prelude_crc = struct.unpack(">III", data[:12])
    assert total == len(data)
    assert headers_length == 1 + 1 + 1 + 2 + 1  # name len, name, type, u16 len, value
    assert prelude_crc == zlib.crc32(data[:8])
    assert data[12:18] == b"\x01a\x07\x00\x01b"
    assert data[18:21] == b"xyz"
    assert struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {}),
        (
            {"error_code": "Unhandled", "error_details": "boom"},
            {"ErrorCode": "Unhandled", "ErrorDetails": "boom"},
        ),
        (
            {"error_code": "E", "error_details": "d", "log_result": "bG9n"},
            {"ErrorCode": "E", "ErrorDetails": "d", "LogResult": "bG9n"},
        ),
    ],
)
def test_invoke_complete_omits_absent_keys(
    kwargs: dict[str, str], expected: dict[str, str]
) -> None:
    (message,) = decode(encode_invoke_complete(**kwargs))
    assert message.headers[":event-type"] == "InvokeComplete"
    assert message.headers[":content-type"] == "application/json"
    assert message.headers[":message-type"] == "event"
    assert json.loads(message.payload) == expected


def test_many_messages_decode_when_fed_byte_by_byte() -> None:
    chunks = [b"", b"a", b"b" * 1000, bytes(range(256))]
    data = b"".join(encode_payload_chunk(c) for c in chunks) + encode_invoke_complete()
    messages = decode(data, piece=1)
    assert [m.payload for m in messages[:-1]] == chunks
    assert json.loads(messages[-1].payload) == {}


def test_botocore_parses_lambda_events() -> None:
    data = (
        encode_payload_chunk(b"one")
        + encode_payload_chunk(b"two")
        + encode_invoke_complete(error_code="Unhandled", error_details="it broke")
    )
    assert parse_lambda_events(data) == [
        {"PayloadChunk": {"Payload": b"one"}},
        {"PayloadChunk": {"Payload": b"two"}},
        {"InvokeComplete": {"ErrorCode": "Unhandled", "ErrorDetails": "it broke"}},
    ]


def test_exception_and_error_events_raise_in_botocore() -> None:
    exception = encode_exception_event("ServiceException", "nope")
    (message,) = decode(exception)
    assert message.headers == {
        ":exception-type": "ServiceException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    assert json.loads(message.payload) == {"message": "nope"}
    with pytest.raises(EventStreamError):
        # Lambda's stream shape models no exceptions, so botocore leaves Code empty.
        parse_lambda_events(encode_payload_chunk(b"x") + exception)

    with pytest.raises(EventStreamError) as exc_info:
        parse_lambda_events(encode_error_event("InternalError", "bad"))
    assert exc_info.value.response["Error"] == {"Code": "InternalError", "Message": "bad"}


def test_header_value_types() -> None:
    headers: dict[str, eventstream.HeaderValue] = {
        "true": True,
        "false": False,
        "int32": -5,
        "int64": 2**40,
        "bytes": b"\x01\x02",
        "string": "héllo",
    }
    (message,) = decode(encode_message(headers, b""))
    assert message.headers == headers
    assert message.payload == b""


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"": "x"}, "must be 1..255"),
        ({"n" * 256: "x"}, "must be 1..255"),
        ({"v": "x" * (eventstream.MAX_HEADER_VALUE_LENGTH + 1)}, "the maximum is 32767"),
        ({"v": 2**63}, "does not fit in int64"),
    ],
)
def test_invalid_headers_are_rejected(headers: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        encode_message(headers)


def test_unsupported_header_type_is_rejected() -> None:
    with pytest.raises(TypeError):
        encode_message({"f": 1.5})  # type: ignore[dict-item]


def test_oversized_payload_is_rejected() -> None:
    with pytest.raises(ValueError, match="payload is"):
        encode_payload_chunk(bytes(eventstream.MAX_PAYLOAD_LENGTH + 1))
