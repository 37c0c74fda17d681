"""What the command line prints for an error, and the exit code it returns.

The library's messages are written for Python callers and name keyword arguments
(``function_name=...``, ``RemotionLambda(region='eu-west-1')``); at this boundary they
are translated, in one place (:data:`CLI_FLAGS`), into the flags that fix them
(``--function-name``, ``--region eu-west-1``), so that no message is written twice.

Example:
    >>> for_cli("pass the name (function_name=... or REMOTION_FUNCTION_NAME)")
    'pass the name (--function-name or REMOTION_FUNCTION_NAME)'
    >>> for_cli("Use a client for the bucket's region (RemotionLambda(region='eu-west-1'))")
    "Use a client for the bucket's region (--region eu-west-1)"
    >>> classify(VersionMismatchError("Version mismatch: ..."))[0]
    2
"""

from __future__ import annotations

import re
from typing import Final

from .. import environment
from ..errors import (
    AccessDeniedError,
    BucketNotFoundError,
    CredentialsError,
    FunctionInvocationError,
    FunctionNotFoundError,
    InvalidOptionsError,
    RemotionError,
    RemotionFunctionError,
    VersionMismatchError,
    WrongRegionError,
)
from ..events import RenderFailed
from ._common import (
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_RENDER_FAILED,
    EXIT_USAGE,
    CliError,
)

__all__ = ["CLI_FLAGS", "classify", "for_cli", "setting_hint"]

#: The flag that sets each client setting a library message may name (its environment
#: variables are :data:`aioremotion.environment.VARIABLES`').
CLI_FLAGS: Final = {
    "function_name": "--function-name",
    "region": "--region",
    "remotion_version": "--remotion-version",
    "serve_url": "--serve-url",
    "bucket_name": "--bucket",
}

#: ``RemotionLambda(name=value)``, ``name=...``, ``name='value'`` / ``name="value"``.
_WRAPPED = re.compile(r"RemotionLambda\((\w+)=([^()]*)\)")
_KEYWORD = re.compile(r"\b(\w+)=(\.\.\.|'[^']*'|\"[^\"]*\")")

#: Errors that a setting fixes, not a retry: the name, region, credentials, permissions.
_CONFIGURATION = (CredentialsError, VersionMismatchError, FunctionNotFoundError,
                  WrongRegionError, BucketNotFoundError, AccessDeniedError)


def _flag(name: str, value: str) -> str | None:
    flag = CLI_FLAGS.get(name)
    if flag is None:
        return None
    value = value.strip().strip("'\"")
    return flag if value in ("", "...") else f"{flag} {value}"


def for_cli(message: str) -> str:
    """``message`` with the Python keywords it names replaced by their flags."""
    def wrapped(match: re.Match[str]) -> str:
        return _flag(match[1], match[2]) or match[0]

    return _KEYWORD.sub(wrapped, _WRAPPED.sub(wrapped, message))


def setting_hint(name: str) -> str:
    """How to set ``name`` on the command line: its flag, or its environment variable.

    >>> setting_hint("remotion_version")
    '--remotion-version or REMOTION_VERSION'
    """
    variables = environment.VARIABLES.get(name, ())
    return f"{CLI_FLAGS[name]} or {variables[0]}" if variables else CLI_FLAGS[name]


def _hint(exc: BaseException, message: str) -> str:
    """What the command line adds to ``message`` (already translated), if it lacks it."""
    if isinstance(exc, CredentialsError) and "--local" not in message:
        return " (Or add --local to render on a local emulator, no AWS account needed.)"
    if isinstance(exc, VersionMismatchError) and CLI_FLAGS["remotion_version"] not in message:
        return (f" Pass the deployed function's version with "
                f"{setting_hint('remotion_version')} (`aioremotion info` prints it).")
    return ""


def classify(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and the message for an error the command reports without a
    traceback (None: not one; let it propagate)."""
    group = getattr(exc, "exceptions", None)
    if isinstance(group, (list, tuple)) and len(group) == 1:
        return classify(group[0])
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    if isinstance(exc, CliError):
        return exc.code, for_cli(str(exc))
    if isinstance(exc, InvalidOptionsError):
        return EXIT_USAGE, for_cli(str(exc))
    if isinstance(exc, _CONFIGURATION):
        message = for_cli(str(exc))
        return EXIT_USAGE, message + _hint(exc, message)
    if isinstance(exc, (RenderFailed, RemotionFunctionError, FunctionInvocationError)):
        return EXIT_RENDER_FAILED, for_cli(str(exc))  # the function ran it, and it failed
    if isinstance(exc, (RemotionError, OSError)):  # AWS, the network, a local file
        return EXIT_IO, f"{type(exc).__name__}: {for_cli(str(exc))}"
    return None
