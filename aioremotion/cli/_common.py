"""What every ``aioremotion`` subcommand shares: exit codes, the client (AWS or the local
emulator), input props, JSON output and downloading outputs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import anyio

from .. import environment
from ..errors import InvalidOptionsError, RemotionError
from ..protocol.constants import DEFAULT_REMOTION_VERSION
from ..protocol.nesting import JsonTooDeepError, parse_json

if TYPE_CHECKING:
    from ..client import RemotionLambda
    from ..emulator import RemotionEmulator

__all__ = [
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_IO",
    "EXIT_OK",
    "EXIT_RENDER_FAILED",
    "EXIT_USAGE",
    "CliError",
    "Target",
    "add_target_arguments",
    "download",
    "emit_json",
    "load_props",
    "open_target",
]

# The exit codes: every command returns one of these (EXIT_CODES describes them for the
# help text and the package docstring, which tests keep in step).
EXIT_OK = 0
#: A render ran and ended in error (its message and Remotion's explanation are on
#: stderr); for ``batch``, a job did not end done.
EXIT_RENDER_FAILED = 1
#: Bad usage or configuration, found before anything started: invalid options, a setting
#: missing or wrong (function name, region, credentials, Remotion version, bucket), an
#: extra not installed (the emulator's encoder, the web backend).
EXIT_USAGE = 2
#: A request to AWS, the network or a local file failed (throttled for good, no
#: connection, a lost answer, a failed download): the command could not finish, and a
#: render it started may still be running.
EXIT_IO = 3
#: Interrupted with Ctrl+C (a batch resumes when run again).
EXIT_INTERRUPTED = 130

EXIT_CODES: Final = (
    (EXIT_OK, "success"),
    (EXIT_RENDER_FAILED, "a render failed (batch: a job did not end done)"),
    (EXIT_USAGE, "bad usage or configuration: invalid options, a missing or wrong setting "
                 "(function name, region, credentials, Remotion version) or extra; nothing "
                 "started"),
    (EXIT_IO, "AWS, the network or a local file failed; a render may still be running"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl+C)"),
)

#: Stands in for the emulator's serve URL while options are checked before it starts.
LOCAL_SERVE_URL_PLACEHOLDER = "http://127.0.0.1/remotionlambda-placeholder/sites/x/index.html"


class CliError(RemotionError):
    """An error the command line reports as one message and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        self.code = code
        super().__init__(message)


def add_target_arguments(parser: argparse.ArgumentParser, *, local: bool = True,
                         real_default: bool = True) -> None:
    """``--function-name``, ``--region`` and (with ``local``) ``--local``, ``--real`` and
    ``--synthetic``: where renders run."""
    parser.add_argument("--function-name", default=None,
                        help="the deployed function (default: REMOTION_FUNCTION_NAME, else the "
                             "name Remotion's deploy gives)")
    parser.add_argument("--region", default=None,
                        help="AWS region (default: REMOTION_AWS_REGION / AWS_REGION)")
    parser.add_argument("--remotion-version", default=None, metavar="VERSION",
                        help="the deployed function's Remotion version (default: "
                             f"REMOTION_VERSION, else {DEFAULT_REMOTION_VERSION}; "
                             "`aioremotion info` prints it; `auto` asks the function)")
    if local:
        parser.add_argument("--local", action="store_true",
                            help="run on a local emulator started in-process (no AWS account)")
        real = parser.add_mutually_exclusive_group()
        real.add_argument("--real", dest="real", action="store_true", default=None,
                          help="with --local: draw and encode real media"
                               + (" (default)" if real_default else ""))
        real.add_argument("--synthetic", dest="real", action="store_false",
                          help="with --local: tiny synthetic outputs, instant renders"
                               + ("" if real_default else " (default)"))


def _real_rendering_possible() -> bool:
    if not all(importlib.util.find_spec(name) for name in ("PIL", "av")):
        return False
    from ..emulator.media import encoder_available

    return encoder_available()


@dataclass
class Target:
    """Where a command renders: the client, and the defaults that come with it."""

    client: RemotionLambda
    #: ``--serve-url``, else REMOTION_SERVE_URL, else (``--local``) the emulator's site.
    serve_url: str | None
    emulator: RemotionEmulator | None = None


def default_serve_url(args: argparse.Namespace) -> str | None:
    """The serve URL before the target is open (a placeholder for the local emulator's)."""
    explicit: str | None = getattr(args, "serve_url", None)
    if explicit:
        return explicit
    if getattr(args, "local", False):
        return LOCAL_SERVE_URL_PLACEHOLDER
    return environment.setting("serve_url")


@asynccontextmanager
async def open_target(args: argparse.Namespace, *, real_default: bool = True,
                      emulator_config: Mapping[str, Any] | None = None,
                      ) -> AsyncIterator[Target]:
    """A client on AWS (configured as ``RemotionLambda`` is: arguments, then environment),
    or with ``--local`` on an emulator started here and stopped on exit."""
    from ..client import RemotionLambda

    function_name: str | None = getattr(args, "function_name", None)
    region: str | None = getattr(args, "region", None)
    serve_url: str | None = getattr(args, "serve_url", None)
    flag_version: str | None = getattr(args, "remotion_version", None)
    if not getattr(args, "local", False):  # the client reads REMOTION_VERSION itself
        async with RemotionLambda(region=region, function_name=function_name,
                                  remotion_version=flag_version) as client:
            yield Target(client, serve_url or environment.setting("serve_url"))
        return

    try:
        from ..emulator import EmulatorConfig, RemotionEmulator
    except ImportError as exc:
        raise CliError(f"--local needs the emulator ({exc}): pip install "
                       "'aioremotion[emulator]'") from exc
    real: bool | None = getattr(args, "real", None)
    if real is None:
        real = real_default and _real_rendering_possible()
        if real_default and not real:
            print("note: the emulator extra's encoder is missing; rendering synthetic "
                  "outputs (pip install 'aioremotion[emulator]' for real ones)",
                  file=sys.stderr)
    config = EmulatorConfig(real_encoding=real, **dict(emulator_config or {}))
    async with RemotionEmulator(region=region or "us-east-1", config=config) as emulator:
        overrides = {"function_name": function_name} if function_name else {}
        # the emulator's client would use the emulator's version: an explicit one wins
        version = flag_version or environment.setting("remotion_version")
        if version:
            overrides["remotion_version"] = version
        async with emulator.client(**overrides) as client:
            yield Target(client, serve_url or emulator.serve_url, emulator)


def load_props(args: argparse.Namespace) -> Any:
    """The input props of ``--props JSON`` or ``--props-file FILE`` (``None`` if neither).

    Invalid JSON, and JSON nested deeper than
    :data:`~aioremotion.protocol.nesting.MAX_JSON_DEPTH` levels, raise
    :class:`InvalidOptionsError` naming ``input_props`` and the argument.
    """
    text: str | None = getattr(args, "props", None)
    source = "--props"
    path: str | None = getattr(args, "props_file", None)
    if path is not None:
        source = path
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidOptionsError(
                [("input_props", f"cannot read --props-file {path}: {exc.strerror or exc}")]
            ) from None
    if text is None:
        return None
    try:
        return parse_json(text, field="input_props")
    except JsonTooDeepError as exc:
        raise InvalidOptionsError(
            [("input_props", f"{source} is nested {exc.depth} levels deep; at most "
                             f"{exc.limit} are supported: flatten the props")]
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidOptionsError(
            [("input_props", f"{source} is not valid JSON: {exc}")]
        ) from None


def emit_json(value: Mapping[str, Any], stream: IO[str] | None = None) -> None:
    """One JSON Lines record on stdout (flushed, so a pipe sees it at once)."""
    out = stream or sys.stdout
    out.write(json.dumps(value, separators=(",", ":"), default=str) + "\n")
    out.flush()


def output_path(out: str | None, stem: str, key: str | None, fallback_ext: str) -> Path:
    """``--out``, else ``<stem>.<extension of the output's key>`` in the current folder
    (an absolute path)."""
    if out:
        return Path(out).absolute()
    suffix = Path(key).suffix if key else ""
    return Path(f"{stem}{suffix or '.' + fallback_ext}").absolute()


async def download(client: RemotionLambda, url: str, target: Path, *,
                   bucket_name: str | None = None, key: str | None = None,
                   private: bool = False) -> int:
    """Download an output to ``target`` (written next to it, then renamed into place);
    returns its size. A private output (``private``, or a public GET refused with 403)
    is fetched through a presigned URL when its bucket and key are known."""
    import aiohttp

    if private and bucket_name and key:
        url = await client.presign_url(bucket_name, key)
    partial = target.with_name(target.name + ".part")
    try:
        return await _fetch(client, url, target, partial, bucket_name, key, private)
    except (aiohttp.ClientError, TimeoutError) as exc:  # plain HTTP, not an AWS call
        # no query string in the message: a presigned URL's signature and token stay out
        raise CliError(f"Downloading {url.partition('?')[0]} failed: {type(exc).__name__}: "
                       f"{exc}", EXIT_IO) from exc
    finally:
        partial.unlink(missing_ok=True)  # (renamed into place when it succeeded)


async def _fetch(client: RemotionLambda, url: str, target: Path, partial: Path,
                 bucket_name: str | None, key: str | None, private: bool) -> int:
    import aiohttp

    async with aiohttp.ClientSession(raise_for_status=False) as http:
        response = await http.get(url)
        if response.status in (401, 403) and bucket_name and key and not private:
            response.release()
            response = await http.get(await client.presign_url(bucket_name, key))
        try:
            if response.status != 200:
                raise CliError(f"Downloading {url.partition('?')[0]} failed: HTTP "
                               f"{response.status} "
                               f"{response.reason or ''}".rstrip(), EXIT_IO)
            size = 0
            async with await anyio.open_file(partial, "wb") as file:
                async for chunk in response.content.iter_chunked(1 << 16):
                    await file.write(chunk)
                    size += len(chunk)
        finally:
            response.release()
    await anyio.Path(partial).replace(target)
    return size


def human_size(size: float) -> str:
    """``396092`` -> ``'396.1 kB'``."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover
