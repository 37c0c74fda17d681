"""``aioremotion serve`` (the web backend) and ``aioremotion emulator``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from contextlib import AsyncExitStack
from typing import Any

from .. import environment
from ._common import EXIT_OK, CliError

__all__ = ["add_parsers"]


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
    real = serve.add_mutually_exclusive_group()
    real.add_argument("--real", dest="real", action="store_true", default=True,
                      help="with the emulator: real H.264 (default)")
    real.add_argument("--synthetic", dest="real", action="store_false",
                      help="with the emulator: tiny synthetic outputs")
    serve.add_argument("--log-level", default="info",
                       choices=("critical", "error", "warning", "info", "debug"))
    serve.set_defaults(handler=serve_command)

    emulator = sub.add_parser(
        "emulator",
        help="serve a local Remotion Lambda (Lambda API + S3) until interrupted",
        description="Serve a local Remotion Lambda on 127.0.0.1 and print `export KEY=VALUE` "
                    "lines that point any Remotion Lambda client at it.",
    )
    emulator.add_argument("--region", default="us-east-1")
    emulator.add_argument("--real", action="store_true",
                          help="draw and encode real videos (needs aioremotion[emulator])")
    emulator.add_argument("--speed", type=float, default=1.0,
                          help="divide simulated render time by this factor")
    emulator.add_argument("--frame-cost-ms", type=float, default=0.0,
                          help="simulated time per frame per renderer")
    emulator.set_defaults(handler=emulator_command)


async def emulator_command(args: argparse.Namespace) -> int:
    """``aioremotion emulator``: serve until interrupted."""
    from ..emulator import EmulatorConfig, RemotionEmulator

    config = EmulatorConfig(real_encoding=args.real, speed=args.speed,
                            frame_cost_ms=args.frame_cost_ms)
    async with RemotionEmulator(region=args.region, config=config) as emulator:
        for line in emulator.export_lines():
            print(line)
        print("# aioremotion emulator running; press Ctrl+C to stop", file=sys.stderr)
        sys.stdout.flush()
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


async def serve_command(args: argparse.Namespace) -> int:
    """``aioremotion serve``: the web app under uvicorn."""
    try:
        import uvicorn

        from ..web import WebConfig, create_app
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
            from ..emulator import EmulatorConfig, RemotionEmulator

            emulator = await stack.enter_async_context(
                RemotionEmulator(config=EmulatorConfig(real_encoding=args.real)))
            client = await stack.enter_async_context(emulator.client())
            composition = environment.setting("composition") or "HelloWorld"
            config = WebConfig.from_env({**os.environ, **emulator.env},
                                        composition=composition)
            app = create_app(config, client=client)
            print(f"rendering on a local emulator (site {emulator.serve_url})",
                  file=sys.stderr)
        else:
            app = create_app()
        server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port,
                                               log_level=args.log_level))
        await server.serve()
    return EXIT_OK
