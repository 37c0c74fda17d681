"""Tests of aioremotion.protocol.replies: Invoke replies, stream framing, still streams, 429s."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioremotion.errors import (
    FunctionInvocationError,
    InvalidReplyError,
    RemotionFunctionError,
    VersionMismatchError,
)
from aioremotion.protocol.replies import (
    BINARY_STREAM_MESSAGE_TYPES,
    STREAM_MAGIC,
    STREAM_MESSAGE_TYPES,
    StillStreamResult,
    StreamMessage,
    StreamMessageParser,
    concurrency_limit_message,
    encode_stream_message,
    interpret_still_stream,
    is_retryable_stream_error,
    is_throttle_error,
    parse_invoke_reply,
    parse_stream_messages,
    stream_error_from_invoke_complete,
)

FN = "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec"
VERSION_MISMATCH = (
    "Version mismatch: When calling renderMediaOnLambda(), you passed "
    f"{FN} as the function, which has the version 4.0.527, but the @remotion/lambda package "
    "you used to invoke the function has version 4.0.500. Deploy a new function and use it "
    "to call getRenderProgress(). See: https://www.remotion.dev/docs/lambda/upgrading"
)
STILL_RESULT: dict[str, Any] = {
    "type": "success",
    "output": "https://s3.us-east-1.amazonaws.com/remotionlambda-useast1-abcdefghij/renders/"
    "abcdefghij/out.png",
    "size": 1234,
    "sizeInBytes": 1234,
    "bucketName": "remotionlambda-useast1-abcdefghij",
    "estimatedPrice": {"accruedSoFar": 0.0001, "currency": "USD"},
    "renderId": "abcdefghij",
    "outKey": "renders/abcdefghij/out.png",
    "receivedArtifacts": [],
}


def reply(payload: bytes, *, function_error: str | None = None, status: int = 200) -> Any:
    return parse_invoke_reply(
        payload,
        function_error=function_error,
        status_code=status,
        function_name=FN,
        routine="status",
    )


def still_stream(*, error: str | None = None) -> bytes:
    parts = [
        encode_stream_message("lambda-invoked", {"attempt": 1}),
        encode_stream_message("render-id-determined", {"renderId": "abcdefghij"}),
    ]
    if error is None:
        parts.append(encode_stream_message("still-rendered", STILL_RESULT))
    else:
        parts.append(
            encode_stream_message(
                "error-occurred", {"error": error, "shouldRetry": False, "errorInfo": {}}
            )
        )
    return b"".join(parts)


# ---------------------------------------------------------------- parse_invoke_reply


class TestInvokeReplySuccess:
    def test_success_object_is_returned_as_is(self) -> None:
        body = {"type": "success", "bucketName": "remotionlambda-useast1-x", "renderId": "r1"}
        assert reply(json.dumps(body).encode()) == body

    def test_object_without_type_is_returned(self) -> None:
        assert reply(b'{"overallProgress": 0.5}') == {"overallProgress": 0.5}

    def test_surrounding_whitespace(self) -> None:
        assert reply(b'\n  {"type":"success"}\n') == {"type": "success"}

    def test_unicode(self) -> None:
        body = {"type": "success", "title": "Grüße 🎬"}
        assert reply(json.dumps(body, ensure_ascii=False).encode()) == body


class TestInvokeReplyEmpty:
    @pytest.mark.parametrize("payload", [b"", b"  \n"])
    def test_empty_payload(self, payload: bytes) -> None:
        with pytest.raises(InvalidReplyError) as info:
            reply(payload, status=200)
        message = str(info.value)
        assert message.startswith("Lambda function returned no payload (status 200)")
        assert FN in message
        assert "status call" in message
        assert "logs" in message

    def test_status_code_is_reported(self) -> None:
        with pytest.raises(InvalidReplyError, match=r"no payload \(status 202\)"):
            reply(b"", status=202)


class TestInvokeReplyFunctionError:
    def test_standard_error_body(self) -> None:
        body = {
            "errorType": "Error",
            "errorMessage": "No render with ID abc found",
            "trace": ["Error: No render with ID abc found", "    at getProgress (index.js:1)"],
        }
        with pytest.raises(FunctionInvocationError) as info:
            reply(json.dumps(body).encode(), function_error="Unhandled")
        exc = info.value
        assert not isinstance(exc, RemotionFunctionError)
        assert exc.error_type == "Error"
        assert exc.function_name == FN
        assert exc.details == body
        assert FN in str(exc)
        assert "No render with ID abc found" in str(exc)
        assert "status" in str(exc)

    def test_version_mismatch_in_error_message(self) -> None:
        body = {
            "errorType": "Error",
            "errorMessage": VERSION_MISMATCH,
            "trace": ["Error: " + VERSION_MISMATCH, "    at x"],
        }
        with pytest.raises(VersionMismatchError) as info:
            reply(json.dumps(body).encode(), function_error="Unhandled")
        assert info.value.message == VERSION_MISMATCH
        assert info.value.function_name == FN
        assert info.value.stack == "Error: " + VERSION_MISMATCH + "\n    at x"

    def test_error_type_defaults_to_function_error(self) -> None:
        with pytest.raises(FunctionInvocationError) as info:
            reply(b'{"errorMessage":"boom"}', function_error="Unhandled")
        assert info.value.error_type == "Unhandled"
        assert "boom" in str(info.value)

    @pytest.mark.parametrize("payload", [b"", b"Task timed out", b'["not", "an", "object"]'])
    def test_non_standard_body(self, payload: bytes) -> None:
        with pytest.raises(FunctionInvocationError) as info:
            reply(payload, function_error="Unhandled")
        assert info.value.error_type == "Unhandled"
        assert FN in str(info.value)
        assert "Unhandled" in str(info.value)
        if payload:
            assert payload.decode() in str(info.value)

    def test_function_error_wins_over_type_success(self) -> None:
        with pytest.raises(FunctionInvocationError):
            reply(b'{"type":"success"}', function_error="Unhandled")

    def test_standard_body_inside_log_noise(self) -> None:
        payload = b'noise {"errorType":"TypeError","errorMessage":"x is undefined"} noise'
        with pytest.raises(FunctionInvocationError) as info:
            reply(payload, function_error="Unhandled")
        assert info.value.error_type == "TypeError"
        assert "x is undefined" in str(info.value)


class TestInvokeReplyInvalid:
    def test_not_json(self) -> None:
        with pytest.raises(InvalidReplyError) as info:
            reply(b"Internal Server Error")
        assert str(info.value).startswith('Invalid JSON: "Internal Server Error"')
        assert FN in str(info.value)

    def test_long_text_is_cut_to_200_characters(self) -> None:
        text = "x" * 150 + "y" * 150
        with pytest.raises(InvalidReplyError) as info:
            reply(text.encode())
        assert str(info.value).startswith(f'Invalid JSON: "{text[:200]}"')
        assert "y" * 51 not in str(info.value)

    def test_unbalanced_braces(self) -> None:
        with pytest.raises(InvalidReplyError, match="Invalid JSON"):
            reply(b'{"type": "success", ')

    def test_binary_garbage(self) -> None:
        with pytest.raises(InvalidReplyError, match="Invalid JSON"):
            reply(b"\xff\xfe\x00garbage")

    @pytest.mark.parametrize("payload", [b"[1, 2]", b'"text"', b"42", b"null", b"true"])
    def test_json_that_is_not_an_object(self, payload: bytes) -> None:
        with pytest.raises(InvalidReplyError, match="not an object"):
            reply(payload)


class TestInvokeReplyLenient:
    def test_last_top_level_object_wins(self) -> None:
        payload = b'{"type":"success","n":1}{"type":"success","n":2}\n'
        assert reply(payload) == {"type": "success", "n": 2}

    def test_log_lines_around_the_object(self) -> None:
        payload = b'START RequestId: 1\n{"type":"success","n":1}\nEND RequestId: 1\n'
        assert reply(payload) == {"type": "success", "n": 1}

    def test_nested_objects_do_not_count(self) -> None:
        payload = b'prefix {"type":"success","inner":{"deep":{"x":1}}} suffix'
        assert reply(payload) == {"type": "success", "inner": {"deep": {"x": 1}}}

    def test_braces_inside_strings(self) -> None:
        payload = b'junk {"type":"success","text":"}{ \\" }"} more junk }'
        assert reply(payload) == {"type": "success", "text": '}{ " }'}

    def test_unbalanced_brace_before_an_object(self) -> None:
        payload = b'{ broken {"type":"success","n":3}'
        assert reply(payload) == {"type": "success", "n": 3}

    def test_lenient_object_is_still_checked_for_errors(self) -> None:
        with pytest.raises(RemotionFunctionError, match="Boom"):
            reply(b'log\n{"type":"error","message":"Boom","stack":"Error: Boom"}\n')

    def test_framed_still_stream(self) -> None:
        assert reply(still_stream()) == STILL_RESULT

    def test_framed_still_stream_with_leading_noise(self) -> None:
        assert reply(b"noise" + still_stream()) == STILL_RESULT

    def test_framed_still_stream_with_cut_off_tail(self) -> None:
        tail = encode_stream_message("frames-rendered", {"rendered": 1, "encoded": 1})[:-3]
        assert reply(still_stream() + tail) == STILL_RESULT

    def test_framed_error(self) -> None:
        with pytest.raises(RemotionFunctionError, match="Error: boom"):
            reply(still_stream(error="Error: boom\n    at x"))

    def test_framed_version_mismatch(self) -> None:
        with pytest.raises(VersionMismatchError):
            reply(still_stream(error="Error: " + VERSION_MISMATCH + "\n    at x"))

    def test_framed_without_still_rendered(self) -> None:
        payload = encode_stream_message("render-id-determined", {"renderId": "abcdefghij"})
        with pytest.raises(InvalidReplyError, match="Expected response to be streamed"):
            reply(payload)

    def test_broken_framing_falls_back_to_last_object(self) -> None:
        payload = b'remotion_buffer:x:1:0:{"type":"success","n":4}'
        assert reply(payload) == {"type": "success", "n": 4}


class TestLenientScanLimits:
    def test_large_object_after_noise(self) -> None:
        body = {"type": "success", "text": "}{" * 5000, "pad": " " * 3000}
        assert reply(b"noise " + json.dumps(body).encode() + b" noise") == body

    def test_large_whitespace_inside_the_object(self) -> None:
        payload = b"noise {" + b" " * 5000 + b'"type" : "success" }'
        assert reply(payload) == {"type": "success"}

    def test_every_cut_position_of_the_first_window(self) -> None:
        # The scanner decodes growing windows; whatever token the first window cuts
        # (a number, a literal, an escape, a string), the object must still be found.
        for pad in range(960, 1030):
            text = (
                '{"pad":"' + "a" * pad + '","n":-12345.5e3,"t":true,"f":false,"z":null,'
                '"u":"\\u00e9 \\" \\\\","l":[1, 2, {"k": "v"}]}'
            )
            expected = json.loads(text)
            assert reply(b"log " + text.encode() + b" end") == expected, pad

    @pytest.mark.parametrize("payload", [b"[" * 100_000, b'{"a":' * 50_000, b"{" * 100_000])
    def test_deep_nesting_is_invalid_not_a_crash(self, payload: bytes) -> None:
        with pytest.raises(InvalidReplyError, match="Invalid JSON"):
            reply(payload)

    def test_deeply_nested_noise_before_an_object(self) -> None:
        payload = b'{"a":' * 800 + b' {"type":"success"}'
        assert reply(payload) == {"type": "success"}

    def test_many_open_braces_before_an_object(self) -> None:
        assert reply(b"{" * 200_000 + b'{"type":"success"}') == {"type": "success"}

    def test_hostile_noise_gives_up_quickly(self) -> None:
        # 30,000 places that look like the start of an object but are not: the scan stops
        # after its limit of failed attempts instead of running for minutes.
        with pytest.raises(InvalidReplyError, match="Invalid JSON"):
            reply(b'{"{"' * 30_000 + b'{"type":"success"}')


class TestInvokeReplyErrorObjects:
    def test_type_error(self) -> None:
        payload = b'{"type":"error","message":"Bucket not found","stack":"Error: Bucket..."}'
        with pytest.raises(RemotionFunctionError) as info:
            reply(payload)
        exc = info.value
        assert type(exc) is RemotionFunctionError
        assert exc.message == "Bucket not found"
        assert str(exc) == "Bucket not found"
        assert exc.stack == "Error: Bucket..."
        assert exc.function_name == FN

    def test_type_error_version_mismatch(self) -> None:
        payload = json.dumps({"type": "error", "message": VERSION_MISMATCH, "stack": "s"})
        with pytest.raises(VersionMismatchError) as info:
            reply(payload.encode())
        assert isinstance(info.value, RemotionFunctionError)
        assert info.value.message == VERSION_MISMATCH

    def test_type_error_without_message_or_stack(self) -> None:
        with pytest.raises(RemotionFunctionError) as info:
            reply(b'{"type":"error"}')
        assert "without a message" in str(info.value)
        assert info.value.stack is None

    def test_error_message_body_without_function_error(self) -> None:
        with pytest.raises(FunctionInvocationError) as info:
            reply(b'{"errorType":"Runtime.ExitError","errorMessage":"exited with signal"}')
        assert info.value.error_type == "Runtime.ExitError"
        assert "exited with signal" in str(info.value)
        assert FN in str(info.value)

    def test_error_message_body_version_mismatch(self) -> None:
        body = {"errorType": "Error", "errorMessage": VERSION_MISMATCH}
        with pytest.raises(VersionMismatchError):
            reply(json.dumps(body).encode())

    def test_routine_appears_in_messages(self) -> None:
        with pytest.raises(FunctionInvocationError, match="compositions call"):
            parse_invoke_reply(
                b'{"errorMessage":"x"}',
                function_error="Unhandled",
                status_code=200,
                function_name=FN,
                routine="compositions",
            )


# ---------------------------------------------------------------- framing


def sample_messages() -> list[tuple[str, bytes | dict[str, Any]]]:
    return [
        ("lambda-invoked", {"attempt": 1}),
        ("render-id-determined", {"renderId": "abcdefghij"}),
        ("frames-rendered", {"rendered": 3, "encoded": 2}),
        ("video-chunk-rendered", b"\x00\x01" + STREAM_MAGIC + b"3:25:0:" + b"\xff" * 40),
        ("audio-chunk-rendered", b""),
        ("chunk-complete", {"rendered": 1234, "start": 1000}),
        (
            "artifact-emitted",
            {"artifact": {"filename": "a.txt", "stringContent": "remotion_buffer:"}},
        ),
        ("error-occurred", {"error": "Error: x", "shouldRetry": True, "errorInfo": {}}),
        ("still-rendered", STILL_RESULT),
    ]


def encode_all(items: list[tuple[str, bytes | dict[str, Any]]]) -> bytes:
    return b"".join(encode_stream_message(name, body) for name, body in items)


def expected_messages(items: list[tuple[str, bytes | dict[str, Any]]]) -> list[StreamMessage]:
    result = []
    for name, body in items:
        data = (
            json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            if isinstance(body, dict)
            else body
        )
        type_id = next(k for k, v in STREAM_MESSAGE_TYPES.items() if v == name)
        result.append(StreamMessage(type_id, name, 0, data))
    return result


def random_chunks(data: bytes, rng: random.Random) -> list[bytes]:
    chunks = []
    pos = 0
    while pos < len(data):
        size = rng.choice([1, 1, 2, 3, 5, 8, 16, 17, 50, 200])
        chunks.append(data[pos : pos + size])
        pos += size
    return chunks


def feed_chunks(chunks: list[bytes]) -> tuple[list[StreamMessage], StreamMessageParser]:
    parser = StreamMessageParser()
    messages: list[StreamMessage] = []
    for chunk in chunks:
        messages.extend(parser.feed(chunk))
    parser.close()
    return messages, parser


class TestFraming:
    def test_protocol_example(self) -> None:
        body = b'{"renderId":"abcdefghij"}'
        assert len(body) == 25
        frame = b"remotion_buffer:3:%d:0:%s" % (len(body), body)
        assert frame == b'remotion_buffer:3:25:0:{"renderId":"abcdefghij"}'
        messages = StreamMessageParser().feed(frame)
        assert messages == [StreamMessage(3, "render-id-determined", 0, body)]
        assert messages[0].json() == {"renderId": "abcdefghij"}
        assert encode_stream_message("render-id-determined", {"renderId": "abcdefghij"}) == frame

    def test_all_in_one_chunk(self) -> None:
        items = sample_messages()
        messages, parser = feed_chunks([encode_all(items)])
        assert messages == expected_messages(items)
        assert parser.skipped_bytes == 0

    def test_byte_by_byte(self) -> None:
        items = sample_messages()
        data = encode_all(items)
        messages, _ = feed_chunks([data[i : i + 1] for i in range(len(data))])
        assert messages == expected_messages(items)

    def test_random_splits_over_many_seeds(self) -> None:
        items = sample_messages()
        data = encode_all(items)
        expected = expected_messages(items)
        for seed in range(300):
            rng = random.Random(seed)
            messages, _ = feed_chunks(random_chunks(data, rng))
            assert messages == expected, f"seed {seed}"

    def test_messages_arrive_as_soon_as_complete(self) -> None:
        first = encode_stream_message("render-id-determined", {"renderId": "r"})
        second = encode_stream_message("still-rendered", {"type": "success"})
        parser = StreamMessageParser()
        assert [m.type for m in parser.feed(first + second[:20])] == ["render-id-determined"]
        assert parser.has_partial_message
        assert [m.type for m in parser.feed(second[20:])] == ["still-rendered"]
        assert not parser.has_partial_message
        assert parser.buffered_bytes == 0

    def test_garbage_before_and_between_messages(self) -> None:
        items = sample_messages()[:3]
        frames = [encode_stream_message(name, body) for name, body in items]
        garbage = [b"HTTP noise ", b"remotion_buf", b"r"]
        data = garbage[0] + frames[0] + garbage[1] + frames[1] + garbage[2] + frames[2]
        for seed in range(100):
            messages, parser = feed_chunks(random_chunks(data, random.Random(seed)))
            assert messages == expected_messages(items)
            assert parser.skipped_bytes == sum(len(g) for g in garbage)

    def test_garbage_only(self) -> None:
        messages, parser = feed_chunks([b"no messages here, just remotion_buf"])
        assert messages == []
        assert parser.skipped_bytes == len(b"no messages here, just remotion_buf")

    def test_binary_body_containing_the_magic(self) -> None:
        body = STREAM_MAGIC + b"9:999:0:" + STREAM_MAGIC + b"\x00" + STREAM_MAGIC[:5]
        frame = encode_stream_message("video-chunk-rendered", body)
        after = encode_stream_message("chunk-complete", {"rendered": 1, "start": 0})
        for seed in range(50):
            messages, parser = feed_chunks(random_chunks(frame + after, random.Random(seed)))
            assert [m.body for m in messages] == [body, b'{"rendered":1,"start":0}']
            assert messages[0].type == "video-chunk-rendered"
            assert parser.skipped_bytes == 0

    def test_length_field_wins_over_json_shape(self) -> None:
        frame = b'remotion_buffer:6:2:0:{}{"extra":1}'
        parser = StreamMessageParser()
        messages = parser.feed(frame)
        assert [m.body for m in messages] == [b"{}"]
        parser.close()
        assert parser.skipped_bytes == len(b'{"extra":1}')

    def test_status_is_kept(self) -> None:
        messages = StreamMessageParser().feed(b"remotion_buffer:2:2:1:{}")
        assert messages[0].status == 1
        assert messages[0].type == "error-occurred"

    def test_empty_body(self) -> None:
        messages = StreamMessageParser().feed(b"remotion_buffer:5:0:0:")
        assert messages == [StreamMessage(5, "audio-chunk-rendered", 0, b"")]

    @pytest.mark.parametrize("type_id", [b"0", b"10", b"99"])
    def test_unknown_type_id(self, type_id: bytes) -> None:
        parser = StreamMessageParser()
        with pytest.raises(InvalidReplyError, match="Unknown response-stream message type id"):
            parser.feed(b"remotion_buffer:" + type_id + b":2:0:{}")

    def test_unknown_type_id_split(self) -> None:
        parser = StreamMessageParser()
        parser.feed(b"remotion_buffer:1")
        with pytest.raises(InvalidReplyError, match="type id 12"):
            parser.feed(b"2:")

    @pytest.mark.parametrize(
        "frame",
        [
            b"remotion_buffer:x:1:0:{",
            b"remotion_buffer:3::0:",
            b"remotion_buffer:3:-1:0:",
            b"remotion_buffer:3:2: 0:{}",
        ],
    )
    def test_malformed_header(self, frame: bytes) -> None:
        with pytest.raises(InvalidReplyError, match="Malformed"):
            StreamMessageParser().feed(frame)

    def test_overlong_field(self) -> None:
        with pytest.raises(InvalidReplyError, match="longer than"):
            StreamMessageParser().feed(b"remotion_buffer:3:" + b"1" * 25)

    def test_failure_is_sticky(self) -> None:
        parser = StreamMessageParser()
        with pytest.raises(InvalidReplyError):
            parser.feed(b"remotion_buffer:0:0:0:")
        with pytest.raises(InvalidReplyError):
            parser.feed(encode_stream_message("lambda-invoked", {"attempt": 1}))

    def test_close_inside_body(self) -> None:
        parser = StreamMessageParser()
        parser.feed(b'remotion_buffer:3:25:0:{"renderId"')
        assert parser.has_partial_message
        with pytest.raises(InvalidReplyError, match="11 of 25 body bytes"):
            parser.close()

    def test_close_inside_header(self) -> None:
        parser = StreamMessageParser()
        parser.feed(b"remotion_buffer:3:2")
        assert parser.has_partial_message
        with pytest.raises(InvalidReplyError, match="inside a message header"):
            parser.close()

    def test_close_after_partial_magic_is_garbage(self) -> None:
        parser = StreamMessageParser()
        parser.feed(encode_stream_message("lambda-invoked", {"attempt": 1}) + b"remotion_")
        assert not parser.has_partial_message
        parser.close()
        assert parser.skipped_bytes == len(b"remotion_")
        parser.close()  # closing twice is fine

    def test_feed_after_close(self) -> None:
        parser = StreamMessageParser()
        parser.close()
        with pytest.raises(RuntimeError):
            parser.feed(b"")

    def test_parse_stream_messages(self) -> None:
        items = sample_messages()
        assert parse_stream_messages(encode_all(items)) == expected_messages(items)
        with pytest.raises(InvalidReplyError):
            parse_stream_messages(encode_all(items)[:-1])


class TestStreamMessage:
    def test_json_of_binary_type(self) -> None:
        message = StreamMessage(4, "video-chunk-rendered", 0, b"{}")
        assert not message.is_json
        with pytest.raises(InvalidReplyError, match="binary"):
            message.json()

    def test_bad_json(self) -> None:
        message = StreamMessage(1, "frames-rendered", 0, b"{not json")
        with pytest.raises(InvalidReplyError, match="Invalid JSON in a frames-rendered message"):
            message.json()

    def test_frozen(self) -> None:
        message = StreamMessage(1, "frames-rendered", 0, b"{}")
        with pytest.raises(AttributeError):
            message.status = 1  # type: ignore[misc]


class TestEncode:
    def test_length_is_in_utf8_bytes(self) -> None:
        frame = encode_stream_message("still-rendered", {"t": "é🎬"})
        body = '{"t":"é🎬"}'.encode()
        assert frame == b"remotion_buffer:6:%d:0:%s" % (len(body), body)
        assert len(body) != len('{"t":"é🎬"}')
        assert parse_stream_messages(frame)[0].json() == {"t": "é🎬"}

    def test_bytes_body_for_json_type(self) -> None:
        assert encode_stream_message("frames-rendered", b"{}") == b"remotion_buffer:1:2:0:{}"

    def test_status(self) -> None:
        frame = encode_stream_message("error-occurred", {"error": "x"}, status=1)
        assert frame.startswith(b"remotion_buffer:2:13:1:")

    def test_unknown_type(self) -> None:
        with pytest.raises(ValueError, match="Unknown stream message type"):
            encode_stream_message("still-done", {})

    def test_dict_body_for_binary_type(self) -> None:
        with pytest.raises(ValueError, match="bytes body"):
            encode_stream_message("video-chunk-rendered", {"a": 1})

    def test_negative_status(self) -> None:
        with pytest.raises(ValueError, match="status"):
            encode_stream_message("frames-rendered", b"{}", status=-1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
message_items = st.one_of(
    st.tuples(st.sampled_from(sorted(BINARY_STREAM_MESSAGE_TYPES)), st.binary(max_size=80)),
    st.tuples(
        st.sampled_from(sorted(set(STREAM_MESSAGE_TYPES.values()) - BINARY_STREAM_MESSAGE_TYPES)),
        st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    ),
    # Bodies built to look like frames themselves.
    st.tuples(
        st.just("video-chunk-rendered"),
        st.lists(st.sampled_from([STREAM_MAGIC, b"3:", b"25:", b"0:", b"x", b"\x00"])).map(
            b"".join
        ),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(message_items, max_size=8),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_roundtrip_property(items: list[tuple[str, Any]], seed: int) -> None:
    data = encode_all(items)
    messages, parser = feed_chunks(random_chunks(data, random.Random(seed)))
    assert messages == expected_messages(items)
    assert parser.skipped_bytes == 0
    for message, (_, body) in zip(messages, items, strict=True):
        if isinstance(body, dict):
            assert message.json() == body
        else:
            assert message.body == body


# ---------------------------------------------------------------- still streams


class TestStillStream:
    def test_success(self) -> None:
        assert interpret_still_stream(parse_stream_messages(still_stream()), function_name=FN) == (
            STILL_RESULT
        )

    def test_incremental(self) -> None:
        result = StillStreamResult(function_name=FN)
        messages = parse_stream_messages(still_stream())
        result.add(messages[0])
        assert result.render_id is None
        result.add(messages[1])
        assert result.render_id == "abcdefghij"
        assert not result.done
        result.add(messages[2])
        assert result.done
        assert result.finish() == STILL_RESULT

    def test_render_id_from_still_body_when_not_announced(self) -> None:
        messages = parse_stream_messages(encode_stream_message("still-rendered", STILL_RESULT))
        result = StillStreamResult(function_name=FN)
        for message in messages:
            result.add(message)
        assert result.render_id == "abcdefghij"
        assert result.finish() == STILL_RESULT

    def test_other_messages_are_ignored(self) -> None:
        data = (
            encode_stream_message("render-id-determined", {"renderId": "abcdefghij"})
            + encode_stream_message("frames-rendered", {"rendered": 1, "encoded": 1})
            + encode_stream_message("artifact-emitted", {"artifact": {"filename": "a"}})
            + encode_stream_message("video-chunk-rendered", b"\x00")
            + encode_stream_message("still-rendered", STILL_RESULT)
            + encode_stream_message("error-occurred", {"error": "late"})
        )
        assert interpret_still_stream(parse_stream_messages(data), function_name=FN) == (
            STILL_RESULT
        )

    def test_error_occurred(self) -> None:
        error = "Error: Could not find composition Foo\n    at render (index.js:1:1)"
        with pytest.raises(RemotionFunctionError) as info:
            interpret_still_stream(
                parse_stream_messages(still_stream(error=error)), function_name=FN
            )
        assert type(info.value) is RemotionFunctionError
        assert info.value.message == error
        assert str(info.value) == error
        assert info.value.function_name == FN

    @pytest.mark.parametrize(
        "error",
        [VERSION_MISMATCH, "Error: " + VERSION_MISMATCH + "\n    at checkVersionMismatch"],
    )
    def test_error_occurred_version_mismatch(self, error: str) -> None:
        with pytest.raises(VersionMismatchError) as info:
            interpret_still_stream(
                parse_stream_messages(still_stream(error=error)), function_name=FN
            )
        assert info.value.message == error

    def test_version_mismatch_only_in_the_first_line(self) -> None:
        error = "Error: something else\n    at Version mismatch handler"
        with pytest.raises(RemotionFunctionError) as info:
            interpret_still_stream(
                parse_stream_messages(still_stream(error=error)), function_name=FN
            )
        assert not isinstance(info.value, VersionMismatchError)

    def test_error_occurred_raises_immediately_on_add(self) -> None:
        result = StillStreamResult(function_name=FN)
        message = StreamMessage(2, "error-occurred", 0, b'{"error":"Error: boom"}')
        with pytest.raises(RemotionFunctionError, match="boom"):
            result.add(message)

    def test_error_occurred_with_non_json_body(self) -> None:
        result = StillStreamResult(function_name=FN)
        with pytest.raises(RemotionFunctionError, match="plain text failure"):
            result.add(StreamMessage(2, "error-occurred", 0, b"plain text failure"))

    def test_error_occurred_without_error_field(self) -> None:
        result = StillStreamResult(function_name=FN)
        with pytest.raises(RemotionFunctionError, match="shouldRetry"):
            result.add(StreamMessage(2, "error-occurred", 0, b'{"shouldRetry":false}'))

    def test_no_still_rendered(self) -> None:
        data = encode_stream_message("render-id-determined", {"renderId": "abcdefghij"})
        with pytest.raises(InvalidReplyError) as info:
            interpret_still_stream(parse_stream_messages(data), function_name=FN)
        message = str(info.value)
        assert message.startswith("Expected response to be streamed")
        assert "abcdefghij" in message
        assert "render-id-determined" in message
        assert FN in message

    def test_empty_stream(self) -> None:
        with pytest.raises(InvalidReplyError, match="no messages"):
            interpret_still_stream([], function_name=FN)

    def test_still_rendered_type_error(self) -> None:
        data = encode_stream_message(
            "still-rendered", {"type": "error", "message": VERSION_MISMATCH, "stack": "s"}
        )
        with pytest.raises(VersionMismatchError):
            interpret_still_stream(parse_stream_messages(data), function_name=FN)

    def test_still_rendered_not_an_object(self) -> None:
        data = encode_stream_message("still-rendered", b"[1]")
        with pytest.raises(InvalidReplyError, match="not a JSON object"):
            interpret_still_stream(parse_stream_messages(data), function_name=FN)


class TestInvokeComplete:
    @pytest.mark.parametrize("code", [None, ""])
    def test_no_error(self, code: str | None) -> None:
        assert stream_error_from_invoke_complete(code, "details", FN) is None

    def test_unhandled(self) -> None:
        exc = stream_error_from_invoke_complete("Unhandled", "Error: x", FN)
        assert isinstance(exc, FunctionInvocationError)
        assert str(exc).startswith(f"Lambda function {FN} failed with an unhandled error: Error: x")
        assert exc.error_type == "Unhandled"
        assert exc.function_name == FN
        assert exc.details == "Error: x"
        assert f"/aws/lambda/{FN}" in str(exc)

    def test_other_code(self) -> None:
        exc = stream_error_from_invoke_complete("Runtime.TruncatedResponse", "too large", FN)
        assert isinstance(exc, FunctionInvocationError)
        assert str(exc).startswith(
            f"Lambda function {FN} failed with error code Runtime.TruncatedResponse: too large"
        )
        assert is_retryable_stream_error(str(exc))

    def test_missing_details(self) -> None:
        exc = stream_error_from_invoke_complete("Sandbox.Timedout", None, FN)
        assert "(no details)" in str(exc)
        assert not is_retryable_stream_error(str(exc))

    def test_region_gives_a_console_link(self) -> None:
        exc = stream_error_from_invoke_complete("Unhandled", "x", FN, region="eu-central-1")
        assert "https://eu-central-1.console.aws.amazon.com/cloudwatch/" in str(exc)
        assert FN in str(exc)

    def test_unhandled_version_mismatch(self) -> None:
        exc = stream_error_from_invoke_complete("Unhandled", VERSION_MISMATCH, FN)
        assert isinstance(exc, VersionMismatchError)


@pytest.mark.parametrize(
    ("message", "retryable"),
    [
        ("AWS did not invoke Lambda in 30000ms", True),
        ("Error: AWS did not invoke Lambda in 30000ms", True),
        ("Runtime.TruncatedResponse", True),
        ("Error: aborted", True),
        ("The request was aborted", True),
        ("Cannot parse Lambda response as JSON", True),
        ("Version mismatch: ...", False),
        ("Error: Could not find composition", False),
        ("TooManyRequestsException: Rate Exceeded. (request aborted)", False),
        ("", False),
    ],
)
def test_is_retryable_stream_error(message: str, retryable: bool) -> None:
    assert is_retryable_stream_error(message) is retryable


# ---------------------------------------------------------------- throttling


@pytest.mark.parametrize(
    ("code", "message", "throttled"),
    [
        ("TooManyRequestsException", "Rate Exceeded.", True),
        ("TooManyRequestsException", None, True),
        (None, "ConcurrentInvocationLimitExceeded", True),
        ("ReservedFunctionConcurrentInvocationLimitExceeded", None, True),
        (None, "rate exceeded", True),
        (None, "RATE EXCEEDED", True),
        (None, "An error occurred (TooManyRequestsException) when calling Invoke", True),
        ("ResourceNotFoundException", "Function not found", False),
        ("ServiceException", None, False),
        (None, None, False),
        ("", "", False),
    ],
)
def test_is_throttle_error(code: str | None, message: str | None, throttled: bool) -> None:
    assert is_throttle_error(code, message) is throttled


class TestConcurrencyLimitMessage:
    def test_text(self) -> None:
        text = concurrency_limit_message("Rate Exceeded.", 4)
        assert text.startswith("AWS Concurrency limit reached (Original Error: Rate Exceeded.).")
        assert (
            "See https://www.remotion.dev/docs/lambda/troubleshooting/rate-limit for tips to fix "
            "this." in text
        )
        assert "4 times" in text
        assert "nothing was started" in text

    def test_single_attempt(self) -> None:
        text = concurrency_limit_message("x", 1)
        assert "tried once" in text
        assert "1 times" not in text
