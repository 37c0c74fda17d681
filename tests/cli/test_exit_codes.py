"""Exit codes (one each for success, a failed render, bad usage or configuration, AWS or
the network, an interrupt), and errors that name the command line's flags."""

from __future__ import annotations

import socket

import pytest

import aioremotion.cli
from aioremotion.cli import build_parser
from aioremotion.cli._common import (
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_OK,
    EXIT_RENDER_FAILED,
    EXIT_USAGE,
)
from aioremotion.cli._errors import CLI_FLAGS, classify, for_cli
from aioremotion.errors import (
    AccessDeniedError,
    ConcurrencyLimitError,
    CredentialsMissingError,
    FunctionNotFoundError,
    InvalidOptionsError,
    RemotionFunctionError,
    StartOutcomeUnknownError,
    VersionMismatchError,
    WrongRegionError,
)
from aioremotion.events import Failed, RenderFailed

from .test_cli import cli

# ---------------------------------------------------------------- the codes


def test_the_codes_are_distinct_and_documented_in_one_table() -> None:
    codes = [code for code, _ in EXIT_CODES]
    assert codes == [EXIT_OK, EXIT_RENDER_FAILED, EXIT_USAGE, EXIT_IO, EXIT_INTERRUPTED]
    assert codes == [0, 1, 2, 3, 130] and len(set(codes)) == len(codes)
    epilog = build_parser().epilog or ""
    doc = aioremotion.cli.__doc__ or ""
    for code, meaning in EXIT_CODES:
        assert f"  {code:<4} {meaning.split()[0]}" in epilog
        assert f"* {code}: " in doc


async def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await cli(capsys, "--help")
    assert code == 0
    tail = out[out.index("exit codes:"):]
    for number in ("0", "1", "2", "3", "130"):
        assert f"\n  {number} " in tail


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RenderFailed(Failed(message="boom")), EXIT_RENDER_FAILED),
        (RemotionFunctionError("Composition X not found"), EXIT_RENDER_FAILED),
        (InvalidOptionsError([("codec", "bad")]), EXIT_USAGE),
        (CredentialsMissingError(), EXIT_USAGE),
        (VersionMismatchError("Version mismatch: ..."), EXIT_USAGE),
        (FunctionNotFoundError("fn", region="us-east-1"), EXIT_USAGE),
        (WrongRegionError("b", region="us-east-1", bucket_region="eu-west-1"), EXIT_USAGE),
        (AccessDeniedError("denied"), EXIT_USAGE),
        (ConcurrencyLimitError("throttled"), EXIT_IO),
        (StartOutcomeUnknownError("lost", function_name="fn", payload_type="start"), EXIT_IO),
        (PermissionError("cannot write out.mp4"), EXIT_IO),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
    ],
)
def test_each_error_has_its_code(error: BaseException, code: int) -> None:
    known = classify(error)
    assert known is not None and known[0] == code
    group = Exception("a task group's error")  # an ExceptionGroup of one, as on 3.10
    group.exceptions = (error,)  # type: ignore[attr-defined]
    assert classify(group) == known
    assert classify(ValueError("a bug")) is None  # not ours: a traceback


async def test_a_version_mismatch_exits_2_naming_the_flag(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await cli(capsys, "render", "HelloWorld", "--local", "--synthetic",
                               "--remotion-version", "4.0.1")
    assert (code, out) == (EXIT_USAGE, "")
    assert "Version mismatch" in err and err.count("--remotion-version") == 1
    assert "aioremotion info" in err and "remotion_version=" not in err


async def test_a_missing_region_exits_2_naming_the_flag(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await cli(capsys, "info")
    assert (code, out) == (EXIT_USAGE, "")
    assert "--region" in err and "AWS_REGION" in err and "region=" not in err


async def test_aws_out_of_reach_exits_3(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name, value in {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL_LAMBDA": closed,
                        "AWS_ENDPOINT_URL_S3": closed}.items():
        monkeypatch.setenv(name, value)
    code, out, err = await cli(capsys, "info")
    assert (code, out) == (EXIT_IO, "")
    assert err.startswith("error: RequestNotSentError: Could not connect")


# ---------------------------------------------------------------- flags, not keywords


def test_library_messages_name_the_flags_on_the_command_line() -> None:
    not_found = classify(FunctionNotFoundError("remotion-render-x", region="us-east-1"))
    assert not_found is not None
    assert "--function-name or REMOTION_FUNCTION_NAME" in not_found[1]
    assert "--region or AWS_REGION" in not_found[1]
    wrong = classify(WrongRegionError("b", region="us-east-1", bucket_region="eu-west-1"))
    assert wrong is not None and "--region eu-west-1" in wrong[1]
    for _, message in (not_found, wrong):
        assert "=" not in message and "RemotionLambda(" not in message
    credentials = classify(CredentialsMissingError())
    assert credentials is not None and "--local" in credentials[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pass function_name=... or set it", "pass --function-name or set it"),
        ("RemotionLambda(remotion_version='4.0.1')", "--remotion-version 4.0.1"),
        ('serve_url="my-site" is not deployed', "--serve-url my-site is not deployed"),
        ("the bucket_name=... you passed", "the --bucket you passed"),
        # names without a flag, and URLs with query strings, are left alone
        ("codec='h264' ?region=us-east-1", "codec='h264' ?region=us-east-1"),
    ],
)
def test_for_cli_translates_keywords_it_knows(text: str, expected: str) -> None:
    assert for_cli(text) == expected


def test_every_flag_in_the_table_exists_on_render() -> None:
    render = build_parser()._subparsers._group_actions[0].choices["render"]  # type: ignore[union-attr]
    options = {flag for action in render._actions for flag in action.option_strings}
    assert set(CLI_FLAGS.values()) - {"--bucket"} <= options
