"""``WebConfig``: the settings of the web backend (the Next.js template's ``config.mjs``).

The defaults are the template's: region ``us-east-1``, site ``my-next-app``, a function of
3009 MB memory, 10240 MB disk and a 240 s timeout, 10 frames per lambda, H.264, and a
``download`` disposition named ``video.mp4``.

Example:
    >>> config = WebConfig(site_name="my-site", composition="MyComp")
    >>> config.resolved_function_name
    'remotion-render-4-0-527-mem3009mb-disk10240mb-240sec'
    >>> config.resolved_serve_url
    'my-site'
    >>> WebConfig.from_env({"AWS_REGION": "eu-central-1", "REMOTION_RAM": "2048",
    ...                     "REMOTION_BUCKET": "remotionlambda-eucentral1-abcdefghij"}).region
    'eu-central-1'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import ConfigDict, Field, field_validator, model_validator

from .. import environment, hub_url
from ..errors import InvalidOptionsError
from ..function_versions import require_function_name_for_auto
from ..hub import OutcomeHub
from ..protocol.constants import (
    DEFAULT_REMOTION_VERSION,
    MINIMUM_FRAMES_PER_LAMBDA,
    Codec,
)
from ..protocol.naming import (
    check_bucket_name,
    check_function_name,
    check_region,
    check_serve_url,
    speculate_function_name,
)
from ..protocol.validated import ValidatedModel

__all__ = ["ENVIRONMENT", "TEMPLATE_DISK_MB", "TEMPLATE_RAM_MB", "TEMPLATE_TIMEOUT_S",
           "WebConfig"]

#: The Next.js template's function settings (``RAM``, ``DISK``, ``TIMEOUT`` in config.mjs).
TEMPLATE_RAM_MB = 3009
TEMPLATE_DISK_MB = 10240
TEMPLATE_TIMEOUT_S = 240

#: Which environment variables set which setting (the first one set wins). Values are
#: validated like arguments: numbers and booleans (``0``/``1``, ``true``/``false``,
#: ``yes``/``no``) from text, lists comma-separated.
ENVIRONMENT: Final[Mapping[str, tuple[str, ...]]] = {
    name: environment.VARIABLES[name] for name in (
        "region", "serve_url", "site_name", "function_name", "ram_mb", "disk_mb",
        "timeout_s", "remotion_version", "composition", "allowed_compositions",
        "frames_per_lambda", "bucket_name", "allowed_buckets", "webhook_secret",
        "webhook_url", "credential_guard", "max_body_bytes", "hub_url")
}

_POSITIVE_WHOLE = ("ram_mb", "disk_mb", "timeout_s", "max_body_bytes",
                   "webhook_replay_max_entries")


class WebConfig(ValidatedModel):
    """What the backend renders and how it protects itself.

    Rendering (what ``POST /api/lambda/render`` starts):
        region: the AWS region of the function and bucket.
        site_name: the deployed site (``SITE_NAME``); used when ``serve_url`` is not set.
        serve_url: the https:// URL (or name) of the deployed site; wins over ``site_name``.
        composition: the composition rendered when a request has no ``id`` (and the one the
            demo page asks for); ``None`` makes ``id`` required.
        allowed_compositions: when set, only these ids may be rendered (others get 400).
        ram_mb, disk_mb, timeout_s: the deployed function's settings, from which its name
            is speculated as Remotion's deploy names it.
        function_name: the function's name when it is not the speculated one.
        remotion_version: the version of the deployed function.
        codec, frames_per_lambda: passed to ``render_media`` (the template's h264 and 10).
        download_file_name: the output's ``Content-Disposition`` file name (the template's
            ``video.mp4``); ``None`` serves it to play in the browser.
        render_options: further ``render_media`` options (``{"privacy": "private"}``…).

    Safety:
        bucket_name: the render bucket; renders are forced into it and progress is only
            read from it. When neither this nor ``allowed_buckets`` is set, the region's
            ``remotionlambda-*`` bucket is discovered at startup (one ListBuckets call).
            Until it is found, progress for other buckets is refused without any AWS call
            (500 naming ``REMOTION_BUCKET`` when discovery failed, 400 when there is none).
        bucket_discovery_retry_s: the least time between two discovery attempts after one
            failed or found nothing (one ListBuckets call each).
        allowed_buckets: further buckets progress may be read from.
        credential_guard: refuse with the template's messages when no AWS keys are in the
            environment. ``None`` (default): on when the app creates its own client, off
            when one is injected (IAM roles, profiles).
        max_body_bytes: the largest request body accepted (413 above).
        progress_floor: the smallest progress reported (the template's 0.03).
        detailed_progress: add the camelCase extras of :class:`~aioremotion.events.Progress`
            (frames rendered, chunks, cost…) to progress replies; off = the template's
            shapes exactly.

    Webhooks:
        webhook_secret: the HMAC secret; required to accept webhooks.
        webhook_url: the public URL of the webhook route; when set, every render started
            by the app asks Remotion to call it (signed with ``webhook_secret``).
        hub_url: where verified webhooks meet the app's watches when no hub object is
            given: unset or ``memory://`` keeps them in this process; ``redis://…`` shares
            them between every worker and machine naming that Redis (``pip install
            "aioremotion[redis]"``; see :func:`aioremotion.hub_url.hub_from_url`).
        webhook_path: where the webhook route is mounted.
        webhook_replay_window_s, webhook_replay_max_entries: how long (and how many) a
            ``(renderId, type)`` pair is remembered to refuse replays.
        hub: the :class:`~aioremotion.hub.OutcomeHub` the webhook route publishes to and
            the app's watches wait on (a hub shared by several workers); ``None``: an
            in-process :class:`~aioremotion.hub.LocalHub` when ``webhook_secret`` is set.
            A hub given here is the caller's to close.
        demo_page: serve the demo page at ``/``.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    region: str = "us-east-1"
    site_name: str = "my-next-app"
    serve_url: str | None = None
    composition: str | None = None
    allowed_compositions: frozenset[str] | None = None
    ram_mb: int = TEMPLATE_RAM_MB
    disk_mb: int = TEMPLATE_DISK_MB
    timeout_s: int = TEMPLATE_TIMEOUT_S
    function_name: str | None = None
    remotion_version: str = DEFAULT_REMOTION_VERSION
    codec: Codec = "h264"
    frames_per_lambda: int | None = 10
    download_file_name: str | None = "video.mp4"
    render_options: Mapping[str, Any] = Field(default_factory=dict)
    bucket_name: str | None = None
    allowed_buckets: frozenset[str] = frozenset()
    bucket_discovery_retry_s: float = 30.0
    credential_guard: bool | None = None
    max_body_bytes: int = 256 * 1024
    progress_floor: float = 0.03
    detailed_progress: bool = False
    webhook_secret: str | None = Field(default=None, repr=False)
    webhook_url: str | None = None
    hub_url: str | None = Field(default=None, repr=False)  # may carry a password
    webhook_path: str = "/api/lambda/webhook"
    webhook_replay_window_s: float = 24 * 3600.0
    webhook_replay_max_entries: int = 10_000
    hub: OutcomeHub | None = Field(default=None, exclude=True, repr=False)
    demo_page: bool = True

    @field_validator("allowed_compositions", "allowed_buckets", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        """A comma-separated string (from the environment) is a list of names."""
        if isinstance(value, str):
            return frozenset(item.strip() for item in value.split(",") if item.strip())
        return value

    @model_validator(mode="after")
    def _check(self) -> WebConfig:
        problems: list[tuple[str, str]] = []

        def check(name: str, checker: Any, *args: Any) -> None:
            try:
                checker(*args)
            except InvalidOptionsError as exc:
                problems.extend((name, message) for _, message in exc.problems)

        check("region", check_region, self.region)
        check("serve_url", check_serve_url, self.resolved_serve_url)
        if self.function_name is not None:
            check("function_name", check_function_name, self.function_name)
        check("remotion_version", require_function_name_for_auto, self.remotion_version,
              self.function_name)
        if self.bucket_name is not None:
            check("bucket_name", check_bucket_name, self.bucket_name)
        for bucket in sorted(self.allowed_buckets):
            check("allowed_buckets", check_bucket_name, bucket)
        for name in _POSITIVE_WHOLE:
            value = getattr(self, name)
            if value <= 0:
                problems.append((name, f"must be a positive whole number; got {value!r}"))
        fpl = self.frames_per_lambda
        if fpl is not None and fpl < MINIMUM_FRAMES_PER_LAMBDA:
            problems.append(("frames_per_lambda", f"must be a whole number of at least "
                                                  f"{MINIMUM_FRAMES_PER_LAMBDA}; got {fpl!r}"))
        if self.composition is not None and not self.composition.strip():
            problems.append(("composition", "must be a composition id, or None"))
        if not 0 <= self.progress_floor <= 1:
            problems.append(("progress_floor", f"must be between 0 and 1; got "
                                               f"{self.progress_floor!r}"))
        if not self.webhook_path.startswith("/"):
            problems.append(("webhook_path", f"must start with '/'; got {self.webhook_path!r}"))
        if self.webhook_url is not None:
            if not self.webhook_url.startswith(("http://", "https://")):
                problems.append(("webhook_url", "must be an http(s) URL the function can "
                                                f"reach; got {self.webhook_url!r}"))
            if not self.webhook_secret:
                problems.append(("webhook_secret", "is required with webhook_url: the app "
                                                   "refuses unsigned webhooks"))
        check("hub_url", hub_url.check_hub_url, self.hub_url)
        if not self.bucket_discovery_retry_s > 0:
            problems.append(("bucket_discovery_retry_s", "must be positive"))
        if self.webhook_replay_window_s <= 0:
            problems.append(("webhook_replay_window_s", "must be positive"))
        if problems:
            raise InvalidOptionsError(problems)
        return self

    # ------------------------------------------------------------ derived values

    @property
    def resolved_serve_url(self) -> str:
        """``serve_url`` if set, else ``site_name``."""
        return self.serve_url or self.site_name

    @property
    def resolved_function_name(self) -> str:
        """``function_name`` if set, else the name Remotion's deploy gives a function of
        ``ram_mb``/``disk_mb``/``timeout_s`` (``speculateFunctionName``)."""
        return self.function_name or speculate_function_name(
            version=self.remotion_version, memory_mb=self.ram_mb, disk_mb=self.disk_mb,
            timeout_s=self.timeout_s,
        )

    @property
    def known_buckets(self) -> frozenset[str]:
        """The buckets named in the configuration (empty: discover the region's)."""
        named = {self.bucket_name} if self.bucket_name else set()
        return frozenset(named | set(self.allowed_buckets))

    def replace(self, **changes: Any) -> WebConfig:
        """A copy with some settings changed (validated again).

        >>> WebConfig().replace(composition="Square").composition
        'Square'
        """
        kept = {"hub": self.hub} if self.hub is not None else {}  # not dumped: an object
        return type(self).model_validate({**self.model_dump(exclude_unset=True), **kept,
                                          **changes})

    # ------------------------------------------------------------ environment

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> WebConfig:
        """Settings from the environment variables of :data:`ENVIRONMENT`; ``overrides``
        win over them. A problem with a value from the environment names its variable.

        ================================  ==========================================
        variable                          setting
        ================================  ==========================================
        REMOTION_AWS_REGION, AWS_REGION   region
        REMOTION_SERVE_URL                serve_url
        SITE_NAME, REMOTION_SITE_NAME     site_name
        REMOTION_FUNCTION_NAME            function_name (else speculated)
        REMOTION_RAM, REMOTION_DISK,      ram_mb, disk_mb, timeout_s
        REMOTION_TIMEOUT
        REMOTION_VERSION                  remotion_version
        REMOTION_COMPOSITION              composition
        REMOTION_COMPOSITIONS             allowed_compositions (comma-separated)
        REMOTION_FRAMES_PER_LAMBDA        frames_per_lambda
        REMOTION_BUCKET                   bucket_name
        REMOTION_ALLOWED_BUCKETS          allowed_buckets (comma-separated)
        REMOTION_WEBHOOK_SECRET           webhook_secret
        REMOTION_WEBHOOK_URL              webhook_url
        REMOTION_CREDENTIAL_GUARD         credential_guard (``0``/``1``)
        REMOTION_MAX_BODY_BYTES           max_body_bytes
        AIOREMOTION_HUB_URL               hub_url (``redis://…``: shared by workers)
        ================================  ==========================================

        Example::

            config = WebConfig.from_env(composition="MyComp")
        """
        values: dict[str, Any] = {}
        source: dict[str, str] = {}
        for setting in ENVIRONMENT:
            value = environment.setting(setting, environ)
            if value is not None:
                values[setting] = value
                source[setting] = environment.source(setting, environ) or setting
        try:
            return cls.model_validate({**values, **overrides})
        except InvalidOptionsError as exc:
            raise InvalidOptionsError([
                (field if field in overrides else source.get(field, field), message)
                for field, message in exc.problems]) from None
