"""``RemotionEmulator``: Remotion Lambda on 127.0.0.1, behind the real AWS HTTP APIs.

Lambda Invoke on its own aiohttp server, S3 through moto's server, a render bucket with a
deployed site, and the emulated functions. Any client (aioremotion, the official JS or
Python SDKs) reaches it through ``AWS_ENDPOINT_URL_LAMBDA`` / ``AWS_ENDPOINT_URL_S3``.

Example::

    from aioremotion.emulator import RemotionEmulator

    async with RemotionEmulator() as emulator:
        async with emulator.client() as remotion:
            render = await remotion.render_media(
                serve_url=emulator.serve_url, composition="HelloWorld", codec="h264")
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from ..protocol.constants import (
    DEFAULT_DISK_MB,
    DEFAULT_MEMORY_MB,
    DEFAULT_REMOTION_VERSION,
    DEFAULT_TIMEOUT_S,
)
from ..protocol.naming import make_bucket_name, speculate_function_name
from .config import EmulatorConfig
from .faults import Faults
from .functions import RemotionFunctions
from .lambda_api import LambdaApiServer
from .s3_server import S3Server

if TYPE_CHECKING:
    from ..client import RemotionLambda
    from .media import CompositionRegistry

ACCESS_KEY = "testing"
SECRET_KEY = "testing"


def require_real_encoding() -> None:
    """Raise :class:`~aioremotion.emulator.media.MediaDependencyError` (an ``ImportError``
    whose message names the ``emulator`` extra) unless real encoding can run here: the
    extra's packages (Pillow, PyAV) are installed and PyAV's H.264 encoder loads.

    :class:`RemotionEmulator` calls it on start when ``real_encoding`` is on, so a missing
    encoder fails there, not in every render.

    Example::

        try:
            require_real_encoding()
        except ImportError as exc:
            print(exc)  # ... pip install "aioremotion[emulator]"
    """
    from .media import MediaDependencyError, encoder_available
    from .media.deps import require_extra

    require_extra()
    if not encoder_available():
        raise MediaDependencyError(
            "real encoding in the emulator needs the emulator extra's PyAV with its H.264 "
            'encoder, which is installed but cannot be loaded here: pip install '
            '--force-reinstall "aioremotion[emulator]"'
        )


class _Tasks:
    """The emulator's background work (launches): cancelled and awaited on close."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, function: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.ensure_future(function())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def wait(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.wait()


class RemotionEmulator:
    """A local Remotion Lambda: start it with ``async with``.

    Args:
        region: the emulated region.
        remotion_version: the version of :attr:`function_name` (any well-formed function
            name works, each with the version its name says).
        config: speed, frame cost, real encoding, account concurrency (see
            :class:`EmulatorConfig`; synthetic outputs by default). With real encoding,
            starting raises :class:`~aioremotion.emulator.media.MediaDependencyError`
            if the ``emulator`` extra is missing (see :func:`require_real_encoding`).
        registry: the compositions of the deployed site (default: ``HelloWorld`` and
            ``Square``); register your own with ``registry.register(...)``.
        site_name: the name the site is deployed under.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        remotion_version: str = DEFAULT_REMOTION_VERSION,
        config: EmulatorConfig | None = None,
        registry: CompositionRegistry | None = None,
        site_name: str = "aioremotion-demo",
        memory_mb: int = DEFAULT_MEMORY_MB,
        disk_mb: int = DEFAULT_DISK_MB,
        timeout_s: int = DEFAULT_TIMEOUT_S,
        bucket_suffix: str | None = None,
    ) -> None:
        from .media import default_registry

        self.region = region
        self.remotion_version = remotion_version
        self.config = config or EmulatorConfig()
        self.registry = registry or default_registry()
        self.site_name = site_name
        self.bucket = make_bucket_name(region, bucket_suffix)
        self.function_name = speculate_function_name(
            version=remotion_version, memory_mb=memory_mb, disk_mb=disk_mb, timeout_s=timeout_s
        )
        self.faults = Faults()
        self._sites: dict[str, str] = {}
        self._tasks = _Tasks()
        self._stack: contextlib.AsyncExitStack | None = None
        self._s3_server: S3Server | None = None
        self._lambda_server: LambdaApiServer | None = None
        self.functions: RemotionFunctions | None = None
        self.s3: Any = None

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> RemotionEmulator:
        if self.config.real_encoding:
            require_real_encoding()
        # moto's server logs every request through werkzeug: keep the console for the user
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        stack = contextlib.AsyncExitStack()
        try:
            s3_server = S3Server(region=self.region)
            await s3_server.astart()
            stack.push_async_callback(s3_server.astop)
            self._s3_server = s3_server
            session = get_session()
            self.s3 = await stack.enter_async_context(session.create_client(
                "s3", region_name=self.region, endpoint_url=s3_server.endpoint_url,
                aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                config=AioConfig(s3={"addressing_style": "path"}, max_pool_connections=50),
            ))
            await self._create_bucket()
            await self.deploy_site(self.site_name)
            http = await stack.enter_async_context(aiohttp.ClientSession())
            stack.push_async_callback(self._tasks.aclose)
            self.functions = RemotionFunctions(
                s3=self.s3, s3_endpoint=s3_server.endpoint_url, region=self.region,
                bucket=self.bucket, registry=self.registry, sites={}, config=self.config,
                faults=self.faults, spawn=self._tasks.spawn, http=http,
            )
            self.functions.sites.update(self._sites)
            server = LambdaApiServer(self.functions, region=self.region)
            self._lambda_server = await stack.enter_async_context(server)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def start(self) -> RemotionEmulator:
        """Start the servers without ``async with`` (in a notebook cell); returns ``self``.

        Pair it with :meth:`aclose`.

        Example::

            emulator = await RemotionEmulator(config=EmulatorConfig(real_encoding=True)).start()
            ...
            await emulator.aclose()
        """
        return await self.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the servers and every render still running."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _create_bucket(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        await self.s3.create_bucket(**kwargs)

    async def deploy_site(self, name: str) -> str:
        """Deploy a site (``sites/<name>/index.html``) serving the registry's compositions;
        returns its serve URL."""
        html = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Remotion Bundle</title>"
            f"<script>window.remotion_version = '{self.remotion_version}';</script></head>"
            "<body><div id='video-container'></div><p>aioremotion emulator site</p></body></html>"
        )
        await self.s3.put_object(Bucket=self.bucket, Key=f"sites/{name}/index.html",
                                 Body=html.encode(), ContentType="text/html", ACL="public-read")
        self._sites = {**self._sites, name: self.site_url(name)}
        if self.functions is not None:
            self.functions.sites[name] = self.site_url(name)
        return self.site_url(name)

    # ------------------------------------------------------------ where things are

    @property
    def lambda_endpoint(self) -> str:
        if self._lambda_server is None:
            raise RuntimeError("the emulator is not running: use 'async with RemotionEmulator()'")
        return self._lambda_server.endpoint_url

    @property
    def s3_endpoint(self) -> str:
        if self._s3_server is None:
            raise RuntimeError("the emulator is not running: use 'async with RemotionEmulator()'")
        return self._s3_server.endpoint_url

    @property
    def server(self) -> LambdaApiServer:
        """The Lambda API server (its ``invocations`` record every call)."""
        if self._lambda_server is None:
            raise RuntimeError("the emulator is not running")
        return self._lambda_server

    def site_url(self, name: str | None = None) -> str:
        """The serve URL of a deployed site, at the emulator's S3 endpoint."""
        return f"{self.s3_endpoint}/{self.bucket}/sites/{name or self.site_name}/index.html"

    @property
    def serve_url(self) -> str:
        return self.site_url()

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point any Remotion Lambda client here."""
        return {
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_endpoint,
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": self.region,
            "REMOTION_FUNCTION_NAME": self.function_name,
            "REMOTION_SERVE_URL": self.serve_url,
            "REMOTION_BUCKET": self.bucket,
            "REMOTION_COMPOSITION": "HelloWorld",
        }

    def export_lines(self) -> list[str]:
        """``export KEY=VALUE`` lines for a shell's ``eval``."""
        return [f"export {key}={shlex.quote(value)}" for key, value in self.env.items()]

    def client(self, **kwargs: Any) -> RemotionLambda:
        """A :class:`~aioremotion.RemotionLambda` pointed at the emulator (use it with
        ``async with``); keyword arguments override the defaults."""
        from aiobotocore.session import AioSession

        from ..client import RemotionLambda

        session = AioSession()
        session.set_credentials(ACCESS_KEY, SECRET_KEY)
        options: dict[str, Any] = {
            "region": self.region,
            "function_name": self.function_name,
            "remotion_version": self.remotion_version,
            "session": session,
            "endpoint_urls": {"lambda": self.lambda_endpoint, "s3": self.s3_endpoint},
            "s3_addressing_style": "path",
        }
        options.update(kwargs)
        return RemotionLambda(**options)

    async def wait_for_stall(self, render_id: str) -> None:
        """Wait until the launch of render ``render_id`` hangs on an armed fault
        (:meth:`~aioremotion.emulator.Faults.crash_launch_before_metadata` or
        :meth:`~aioremotion.emulator.Faults.stall_launch`): from then on its progress.json
        does not change until the function times out.

        Raises:
            LookupError: no launch of that render is running.
            RuntimeError: the launch ended without hanging (no fault was armed for it).
        """
        if self.functions is None:
            raise RuntimeError("the emulator is not running")
        job = self.functions.launches.get(render_id)
        if job is None:
            raise LookupError(f"no launch of render {render_id!r} is running")
        async with anyio.create_task_group() as tg:

            async def first(event: anyio.Event) -> None:
                await event.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(first, job.stalled)
            tg.start_soon(first, job.ended)
        if not job.stalled.is_set():
            raise RuntimeError(f"the launch of render {render_id!r} ended without hanging")

    async def wait_for_renders(self) -> None:
        """Wait until every render started so far has ended (done, failed or timed out)."""
        await self._tasks.wait()

    @property
    def running_renders(self) -> int:
        return self._tasks.running
