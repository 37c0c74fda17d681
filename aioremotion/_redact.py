r"""Keep secrets out of botocore's and aiobotocore's log records.

At DEBUG, botocore logs every request it makes: ``botocore.endpoint`` logs the parameters
(the Lambda ``Invoke`` body, which carries the webhook secret, the license key and the
``s3OutputProvider`` credentials) and the signed request (the ``X-Amz-Security-Token``
header); ``botocore.auth`` logs the canonical request (the session token again, URL-encoded
in a presigned URL's query). aioremotion therefore puts one :class:`RedactingFilter` on
the ``botocore*`` and ``aiobotocore*`` loggers (:func:`install`) and registers the secrets
it knows while they are in use:

* the credentials of a :class:`~aioremotion.RemotionLambda` (access key id, secret key,
  session token) from when it opens until it closes (:func:`credential_secrets`);
* the secrets of a payload (``webhook.secret``, ``licenseKey``/``apiKey``,
  ``s3OutputProvider.accessKeyId``/``secretAccessKey``) while its invoke is in flight
  (:func:`payload_secrets`).

Each secret is matched as is and in the forms it takes inside a log message: JSON-escaped
(the body), ``repr``-escaped as ``str`` and as UTF-8 ``bytes`` (botocore logs dicts and
bytes), and URL-encoded. The value that follows an ``X-Amz-Security-Token`` header or query
key is always redacted as well, so temporary credentials that botocore refreshes while a
client is open are covered too.

Cost: registering is a dictionary update under a lock; nothing is computed until the
filter runs, and logging only runs filters for records that are enabled (so, with botocore
below DEBUG, for its rare INFO/WARNING records only). A record that passes the filter has
its message replaced by the redacted text (``record.msg = text``, ``record.args = ()``);
exception text holding a secret is replaced by its redacted form in ``record.exc_text``.

Bound: registrations are reference-counted and end with their scope (the client's
lifetime, one invoke), so the registry holds the secrets of the open clients and of the
invokes in flight, never more; a secret is forgotten when its last user is done. (A
size-bounded cache could evict a secret still in use; ``str`` cannot be weakly referenced.)

Example:
    >>> import logging
    >>> install()
    >>> records = []
    >>> class Keep(logging.Handler):
    ...     def emit(self, record):
    ...         records.append(record.getMessage())
    >>> log = logging.getLogger("botocore.endpoint")
    >>> keep, level = Keep(), log.level
    >>> log.addHandler(keep); log.setLevel(logging.DEBUG)
    >>> with payload_secrets({"type": "start", "licenseKey": "my-license"}):
    ...     log.debug("params: %s", {"body": b'{"licenseKey":"my-license"}'})
    >>> log.debug("after: my-license")  # no longer registered
    >>> log.removeHandler(keep); log.setLevel(level)
    >>> print(*records, sep="\n")
    params: {'body': b'{"licenseKey":"***"}'}
    after: my-license
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

from aiobotocore.session import AioSession

__all__ = ["RedactingFilter", "Registration", "credential_secrets", "install",
           "payload_secrets", "redact", "register"]

#: What a secret is replaced with.
MASK = "***"

#: Loggers botocore/aiobotocore log on, created here so that the filter is on them even
#: when their module is imported after a client opened (the rest are found by name).
_KNOWN_LOGGERS = (
    "botocore", "botocore.endpoint", "botocore.auth", "botocore.parsers", "botocore.hooks",
    "botocore.httpsession", "botocore.awsrequest", "botocore.client", "botocore.credentials",
    "botocore.retryhandler", "botocore.utils", "botocore.httpchecksum",
    "botocore.retries.standard", "botocore.retries.adaptive",
    "aiobotocore", "aiobotocore.credentials", "aiobotocore.utils", "aiobotocore.regions",
    "aiobotocore.tokens", "aiobotocore.retries.adaptive",
)
_PREFIXES = ("botocore", "aiobotocore")

#: The value after an ``X-Amz-Security-Token`` header (``'X-Amz-Security-Token': b'…'``,
#: ``x-amz-security-token:…``) or query key (``X-Amz-Security-Token=…``).
_TOKEN_VALUE = re.compile(
    r"""(x-amz-security-token(?:['"]?\s*:\s*b?['"]|[:=]))[^'"\s&]+""", re.IGNORECASE
)


def _forms(secret: str) -> set[str]:
    """``secret`` as it may appear inside a log message."""
    json_forms = {json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]}
    forms = {secret, quote(secret, safe="-_.~"), *json_forms}
    for text in (secret, *json_forms):
        # repr in single-quote style (the string also holds both quote characters) ...
        as_str = repr(text + "'\"")[1:-4]
        as_bytes = repr(text.encode("utf-8", "backslashreplace") + b"'\"")[2:-4]
        # ... and in double-quote style (it holds a ' but no "): ' is then not escaped
        forms.update((as_str, as_bytes, as_str.replace("\\'", "'"),
                      as_bytes.replace("\\'", "'")))
    return {form for form in forms if form}


class _Registry:
    """Reference-counted secrets; the forms to redact are computed when first needed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._forms: tuple[str, ...] | None = ()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            for secret in secrets:
                count = self._counts.get(secret, 0)
                self._counts[secret] = count + 1
                if not count:
                    self._forms = None

    def remove(self, secrets: Iterable[str]) -> None:
        with self._lock:
            for secret in secrets:
                count = self._counts.get(secret, 0) - 1
                if count > 0:
                    self._counts[secret] = count
                else:
                    self._counts.pop(secret, None)
                    self._forms = None

    def __len__(self) -> int:
        return len(self._counts)

    def forms(self) -> tuple[str, ...]:
        """Every form of every registered secret, longest first."""
        forms = self._forms
        if forms is None:
            with self._lock:
                found: set[str] = set()
                for secret in self._counts:
                    found |= _forms(secret)
                forms = self._forms = tuple(sorted(found, key=len, reverse=True))
        return forms


_registry = _Registry()


class Registration:
    """The secrets registered by :func:`register`; :meth:`release` (or the end of a
    ``with`` block) unregisters them, once."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets: tuple[str, ...] | None = secrets
        _registry.add(secrets)

    def release(self) -> None:
        secrets, self._secrets = self._secrets, None
        if secrets:
            _registry.remove(secrets)

    def __enter__(self) -> Registration:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def __repr__(self) -> str:  # never the secrets themselves
        return f"Registration({len(self._secrets or ())} secrets)"


def register(*secrets: object) -> Registration:
    """Redact these values (non-empty strings; anything else is ignored) until released."""
    return Registration(tuple(s for s in secrets if isinstance(s, str) and s))


def payload_secrets(payload: Mapping[str, Any]) -> Registration:
    """Register the secrets of a Lambda payload: ``webhook.secret``,
    ``licenseKey``/``apiKey`` and the ``s3OutputProvider`` key id and secret (of
    ``outName`` or of a status payload)."""
    found: list[object] = [payload.get("licenseKey"), payload.get("apiKey")]
    webhook = payload.get("webhook")
    if isinstance(webhook, Mapping):
        found.append(webhook.get("secret"))
    out_name = payload.get("outName")
    for provider in (payload.get("s3OutputProvider"),
                     out_name.get("s3OutputProvider") if isinstance(out_name, Mapping) else None):
        if isinstance(provider, Mapping):
            found += [provider.get("accessKeyId"), provider.get("secretAccessKey")]
    return register(*found)


async def credential_secrets(session: AioSession) -> Registration:
    """Install the filter and register the session's current credentials (access key id,
    secret key, session token); nothing when it has none."""
    install()
    try:
        credentials = await session.get_credentials()
        frozen = await credentials.get_frozen_credentials() if credentials else None
    except Exception:  # no credentials: the calls themselves will say so
        frozen = None
    if frozen is None:
        return register()
    return register(frozen.access_key, frozen.secret_key, frozen.token)


def redact(text: str) -> str:
    """``text`` with every registered secret, and any security token value, masked."""
    for form in _registry.forms():
        if form in text:
            text = text.replace(form, MASK)
    return _TOKEN_VALUE.sub(lambda m: m.group(1) + MASK, text)


class RedactingFilter(logging.Filter):
    """Replaces a record's message (and exception text) by its redacted form; drops none."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string: keep what can be shown
            try:
                text = f"{record.msg} [log arguments dropped: they could not be formatted]"
            except Exception:
                text = "[unprintable log message]"
        record.msg, record.args = redact(text), ()
        if record.exc_info and record.exc_info[0] is not None:
            shown = record.exc_text or logging.Formatter().formatException(record.exc_info)
            hidden = redact(shown)
            if hidden != shown:  # the traceback would print the secret: keep only its text
                record.exc_text, record.exc_info = hidden, None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install() -> None:
    """Put the filter on every ``botocore*``/``aiobotocore*`` logger that exists now, and
    on the known ones (a logger filter does not see its children's records)."""
    names = set(_KNOWN_LOGGERS)
    names.update(name for name in list(logging.root.manager.loggerDict)
                 if name.partition(".")[0] in _PREFIXES)
    for name in names:
        logging.getLogger(name).addFilter(_FILTER)  # no-op when already there
