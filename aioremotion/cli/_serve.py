"""``aioremotion serve`` (the web backend) and ``aioremotion emulator``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from .. import environment
from ._common import EXIT_OK, CliError

if TYPE_CHECKING:
    from ..emulator import EmulatorConfig, RemotionEmulator

__all__ = ["add_parsers", "banner", "local_app"]


def add_parsers(sub: Any) -> None:
    """Register ``serve`` and ``emulator``."""
    serve = sub.add_parser(
        "serve", help="run the web backend (the Next.js template's API and a demo page)",
        description="Serve aioremotion.web's app with uvicorn. With --local, or when no AWS "
                    "credentials are configured, an emulator is started in-process and the "
                    "app renders on it.")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--local", action="store_true",
                       help="render on a local emulator (the default without AWS credentials)")
    _add_output_flags(serve, "with the emulator: ")
    serve.add_argument("--log-level", default="info",
                       choices=("critical", "error", "warning", "info", "debug"))
    serve.set_defaults(handler=serve_command)

    emulator = sub.add_parser(
        "emulator",
        help="serve a local Remotion Lambda (Lambda API + S3) until interrupted",
        description="Serve a local Remotion Lambda on 127.0.0.1 and print `export KEY=VALUE` "
                    "lines that point any Remotion Lambda client at it. Renders are real "
                    "H.264 videos unless --synthetic is given; the banner on stderr says "
                    "which.",
    )
    emulator.add_argument("--region", default="us-east-1")
    _add_output_flags(emulator, "")
    emulator.add_argument("--speed", type=float, default=1.0,
                          help="divide simulated render time by this factor")
    emulator.add_argument("--frame-cost-ms", type=float, default=0.0,
                          help="simulated time per frame per renderer")
    emulator.set_defaults(handler=emulator_command)


def _add_output_flags(parser: argparse.ArgumentParser, prefix: str) -> None:
    """``--real`` (the default) and ``--synthetic``: what the emulator's renders produce."""
    real = parser.add_mutually_exclusive_group()
    real.add_argument("--real", dest="real", action="store_true", default=True,
                      help=f"{prefix}draw and encode real H.264 video (the default; needs "
                           "the emulator extra: pip install 'aioremotion[emulator]')")
    real.add_argument("--synthetic", dest="real", action="store_false",
                      help=f"{prefix}fast synthetic outputs for load tests: tiny files of "
                           "the right type that no player can play")


async def _start(stack: AsyncExitStack, emulator: RemotionEmulator) -> RemotionEmulator:
    """Start ``emulator`` on ``stack``; a missing encoder becomes an error message that
    says what to install (never a silent fall back to synthetic outputs)."""
    from ..emulator.media import MediaDependencyError

    try:
        return await stack.enter_async_context(emulator)
    except MediaDependencyError as exc:
        raise CliError(f"{exc} (or pass --synthetic for fast outputs that are not "
                       "playable)") from exc


def banner(config: EmulatorConfig) -> str:
    """The line ``aioremotion emulator`` prints to stderr once it serves: which outputs
    its renders produce.

    Example::

        >>> from aioremotion.emulator.config import EmulatorConfig
        >>> banner(EmulatorConfig(real_encoding=True))
        '# aioremotion emulator: real H.264 encoding (--synthetic for fast, unplayable outputs)'
    """
    hint = ("--synthetic for fast, unplayable outputs" if config.real_encoding
            else "drop --synthetic for real H.264")
    return f"# aioremotion emulator: {config.outputs} ({hint})"


async def emulator_command(args: argparse.Namespace) -> int:
    """``aioremotion emulator``: serve until interrupted. Prints ``export`` lines on
    stdout, then the banner (real or synthetic outputs) on stderr."""
    from ..emulator import EmulatorConfig, RemotionEmulator

    config = EmulatorConfig(real_encoding=args.real, speed=args.speed,
                            frame_cost_ms=args.frame_cost_ms)
    async with AsyncExitStack() as stack:
        emulator = await _start(stack, RemotionEmulator(region=args.region, config=config))
        for line in emulator.export_lines():
            print(line)
        sys.stdout.flush()
        print(banner(config), file=sys.stderr)
        print("# serving on 127.0.0.1; press Ctrl+C to stop", file=sys.stderr, flush=True)
        await asyncio.Event().wait()
    return EXIT_OK


async def _has_credentials() -> bool:
    from .._aws import ensure_credentials, make_session
    from ..errors import CredentialsMissingError

    try:
        await ensure_credentials(make_session())
    except CredentialsMissingError:
        return False
    return True


async def local_app(stack: AsyncExitStack, *, real: bool = True) -> tuple[Any, RemotionEmulator]:
    """What ``aioremotion serve --local`` serves: the web app on a local emulator (real
    H.264 unless ``real=False``), both closed with ``stack``; and the emulator.

    Example::

        async with AsyncExitStack() as stack:
            app, emulator = await local_app(stack)
            await uvicorn.Server(uvicorn.Config(app, port=8000)).serve()
    """
    from ..emulator import EmulatorConfig, RemotionEmulator
    from ..web import WebConfig, create_app

    emulator = await _start(stack, RemotionEmulator(config=EmulatorConfig(real_encoding=real)))
    client = await stack.enter_async_context(emulator.client())
    composition = environment.setting("composition") or "HelloWorld"
    config = WebConfig.from_env({**os.environ, **emulator.env}, composition=composition)
    return create_app(config, client=client), emulator


async def serve_command(args: argparse.Namespace) -> int:
    """``aioremotion serve``: the web app under uvicorn."""
    try:
        import uvicorn

        from ..web import create_app
    except ImportError as exc:
        raise CliError(f"serve needs the web extra ({exc}): pip install "
                       "'aioremotion[web]'") from exc
    async with AsyncExitStack() as stack:
        local = args.local
        if not local and not await _has_credentials():
            print("note: no AWS credentials found; rendering on a local emulator",
                  file=sys.stderr)
            local = True
        if local:
            app, emulator = await local_app(stack, real=args.real)
            print(f"rendering on a local emulator ({emulator.config.outputs}; site "
                  f"{emulator.serve_url})", file=sys.stderr)
        else:
            app = create_app()
        server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port,
                                               log_level=args.log_level))
        await server.serve()
    return EXIT_OK
