"""The lean signed S3 GET (``aioremotion.transport._s3_get``, behind the aiobotocore transport).

The signature is proven equal to botocore's own SigV4 signer; the reader is exercised
against moto's S3 server (a real loopback HTTP server) and a recording aiohttp server that
scripts S3's error answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiobotocore.session import get_session
from aiohttp import web
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import ClientError

from aioremotion.emulator.s3_server import S3Server
from aioremotion.errors import CredentialsMissingError
from aioremotion.transport._s3_get import (
    EMPTY_SHA256,
    S3ObjectReader,
    S3SigV4Signer,
    client_error_from_response,
    is_virtual_hostable,
    resolve_object_url,
    s3_uri_encode,
)

from .conftest import BUCKET, REGION

SIGNER = S3SigV4Signer()
FIXED = dt.datetime(2025, 3, 9, 23, 59, 58, tzinfo=dt.timezone.utc)

KEYS = [
    "renders/k1a2b3c4d5/progress.json",
    "a b/c d.json",
    "ünïcödé/ファイル 🎬.json",
    "special !'()*+,;=:@$&[]%#?^`{}|\\\"<>.json",
    "tilde~under_score-dash.dot/x",
    "plus+and%2Fencoded",
    "a//double/slash/",
    "/leading",
]


def botocore_authorization(
    url: str, region: str, creds: Credentials, monkeypatch: pytest.MonkeyPatch,
    when: dt.datetime = FIXED, method: str = "GET",
) -> dict[str, str]:
    """Sign ``url`` with botocore's S3 SigV4 signer at ``when``; the resulting headers."""
    naive = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: naive)
    request = AWSRequest(method=method, url=url)
    S3SigV4Auth(creds, "s3", region).add_auth(request)
    return dict(request.headers.items())


# --------------------------------------------------------------------------- the signer


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzE//session+token/=="])
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    ("region", "endpoint", "style"),
    [
        ("us-east-1", None, "auto"),
        ("eu-central-1", None, "path"),
        ("ap-southeast-2", None, "auto"),
        ("us-east-1", "http://127.0.0.1:5123", "path"),
        ("eu-west-1", "http://localhost:4566/prefix", "virtual"),
        ("us-west-2", "https://s3.example.com:8443", "path"),
    ],
)
def test_signature_equals_botocore(
    monkeypatch: pytest.MonkeyPatch, key: str, token: str | None, region: str,
    endpoint: str | None, style: str,
) -> None:
    location = resolve_object_url(
        BUCKET, key, region=region, endpoint_url=endpoint, addressing_style=style
    )
    ours = SIGNER.sign(
        method="GET", host=location.host, canonical_uri=location.canonical_uri, region=region,
        access_key="AKIDEXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token=token, now=FIXED,
    )
    theirs = botocore_authorization(
        location.url, region,
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
        monkeypatch,
    )
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"] == "20250309T235958Z"
    assert ours["X-Amz-Content-SHA256"] == theirs["X-Amz-Content-SHA256"] == EMPTY_SHA256
    assert ours.get("X-Amz-Security-Token") == theirs.get("X-Amz-Security-Token") == token


def test_head_signature_equals_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    location = resolve_object_url(BUCKET, "out/video.mp4", region="eu-west-2")
    ours = SIGNER.sign(
        method="HEAD", host=location.host, canonical_uri=location.canonical_uri,
        region="eu-west-2", access_key="AK", secret_key="SK", now=FIXED,
    )
    theirs = botocore_authorization(location.url, "eu-west-2", Credentials("AK", "SK"),
                                    monkeypatch, method="HEAD")
    assert ours["Authorization"] == theirs["Authorization"]


def test_now_accepts_epoch_naive_and_aware_datetimes() -> None:
    common: dict[str, Any] = dict(
        method="GET", host="h", canonical_uri="/b/k", region="us-east-1", access_key="AK",
        secret_key="SK",
    )
    aware = SIGNER.sign(**common, now=FIXED)
    assert SIGNER.sign(**common, now=FIXED.timestamp()) == aware
    assert SIGNER.sign(**common, now=FIXED.replace(tzinfo=None)) == aware
    other_zone = FIXED.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    assert SIGNER.sign(**common, now=other_zone) == aware
    # The date rolls over at UTC midnight: a second later is another day and scope.
    later = SIGNER.sign(**common, now=FIXED.timestamp() + 2)
    assert later["X-Amz-Date"] == "20250310T000000Z"
    assert "/20250310/us-east-1/s3/aws4_request" in later["Authorization"]


def test_signing_key_is_cached_per_secret_date_region() -> None:
    signer = S3SigV4Signer(max_cached_keys=2)
    first = signer.signing_key("SK", "20250309", "us-east-1")
    assert signer.signing_key("SK", "20250309", "us-east-1") is first
    assert signer.signing_key("SK2", "20250309", "us-east-1") != first
    assert signer.signing_key("SK", "20250310", "us-east-1") != first
    assert len(signer._keys) <= 2


def test_uri_encoding_follows_s3_rules() -> None:
    assert s3_uri_encode("a b/c~d-e_f.g") == "a%20b/c~d-e_f.g"
    assert s3_uri_encode("ü+=") == "%C3%BC%2B%3D"
    assert s3_uri_encode("a/b", keep_slash=False) == "a%2Fb"
    assert s3_uri_encode("already%20encoded") == "already%2520encoded"  # encoded once


# --------------------------------------------------------------------------- addressing


@pytest.mark.parametrize(
    ("bucket", "region", "style", "url"),
    [
        (BUCKET, "us-east-1", "auto",
         f"https://{BUCKET}.s3.us-east-1.amazonaws.com/renders/x/progress.json"),
        (BUCKET, "eu-west-1", "virtual",
         f"https://{BUCKET}.s3.eu-west-1.amazonaws.com/renders/x/progress.json"),
        (BUCKET, "eu-west-1", "path",
         f"https://s3.eu-west-1.amazonaws.com/{BUCKET}/renders/x/progress.json"),
        ("my.dotted.bucket", "ap-south-1", "auto",
         "https://s3.ap-south-1.amazonaws.com/my.dotted.bucket/renders/x/progress.json"),
        ("my.dotted.bucket", "ap-south-1", "virtual",
         "https://s3.ap-south-1.amazonaws.com/my.dotted.bucket/renders/x/progress.json"),
        ("Legacy_Bucket", "us-east-1", "auto",
         "https://s3.us-east-1.amazonaws.com/Legacy_Bucket/renders/x/progress.json"),
        ("bucket", "cn-north-1", "auto",
         "https://bucket.s3.cn-north-1.amazonaws.com.cn/renders/x/progress.json"),
        ("192.168.1.1", "us-east-1", "auto",
         "https://s3.us-east-1.amazonaws.com/192.168.1.1/renders/x/progress.json"),
    ],
)
def test_aws_urls(bucket: str, region: str, style: str, url: str) -> None:
    location = resolve_object_url(bucket, "renders/x/progress.json", region=region,
                                  addressing_style=style)
    assert location.url == url
    assert url == f"https://{location.host}{location.canonical_uri}"


@pytest.mark.parametrize(
    ("endpoint", "style", "url", "host"),
    [
        ("http://127.0.0.1:5000", "auto", f"http://127.0.0.1:5000/{BUCKET}/k%20y",
         "127.0.0.1:5000"),
        ("http://localhost:5000/", "auto", f"http://localhost:5000/{BUCKET}/k%20y",
         "localhost:5000"),
        ("http://localhost:5000", "virtual", f"http://{BUCKET}.localhost:5000/k%20y",
         f"{BUCKET}.localhost:5000"),
        ("http://127.0.0.1:5000", "virtual", f"http://127.0.0.1:5000/{BUCKET}/k%20y",
         "127.0.0.1:5000"),
        ("https://s3.example.com:443/base", "path",
         f"https://s3.example.com/base/{BUCKET}/k%20y", "s3.example.com"),
        ("http://[::1]:9000", "auto", f"http://[::1]:9000/{BUCKET}/k%20y", "[::1]:9000"),
    ],
)
def test_custom_endpoint_urls(endpoint: str, style: str, url: str, host: str) -> None:
    location = resolve_object_url(BUCKET, "k y", region="us-east-1", endpoint_url=endpoint,
                                  addressing_style=style)
    assert (location.url, location.host) == (url, host)


def test_urls_match_botocore_outside_us_east_1() -> None:
    """botocore's own endpoint resolution gives the same URLs (presigning resolves them)."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    cases = [(None, "auto"), (None, "path"), (None, "virtual"),
             ("http://127.0.0.1:5000", "auto"), ("http://localhost:5000", "virtual"),
             ("https://s3.example.com/p", "path")]
    for endpoint, style in cases:
        for bucket in (BUCKET, "my.bucket", "Upper_b"):
            client = session.create_client(
                "s3", region_name="eu-west-1", endpoint_url=endpoint,
                aws_access_key_id="AK", aws_secret_access_key="SK",
                config=Config(s3={"addressing_style": style}, signature_version="s3v4"),
            )
            presigned = client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": "a b/ü+?.json"}
            ).split("?")[0]
            ours = resolve_object_url(bucket, "a b/ü+?.json", region="eu-west-1",
                                      endpoint_url=endpoint, addressing_style=style)
            if endpoint is None and style == "auto":
                # botocore presigns on the legacy global host; requests use the regional one.
                presigned = presigned.replace(".s3.amazonaws.com", ".s3.eu-west-1.amazonaws.com")
            assert ours.url == presigned, (endpoint, style, bucket)


def test_bucket_names() -> None:
    assert is_virtual_hostable("abc")
    assert not is_virtual_hostable("ab")
    assert not is_virtual_hostable("a" * 64)
    assert not is_virtual_hostable("-abc")
    assert not is_virtual_hostable("abc-")
    assert not is_virtual_hostable("ABC")
    assert not is_virtual_hostable("a_b")
    assert not is_virtual_hostable("a.b.c")
    assert is_virtual_hostable("a.b.c", allow_dots=True)
    assert not is_virtual_hostable("a..b", allow_dots=True)
    assert not is_virtual_hostable("10.0.0.1", allow_dots=True)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="addressing_style"):
        resolve_object_url("b", "k", region="us-east-1", addressing_style="dns")
    with pytest.raises(ValueError, match="bucket"):
        resolve_object_url("", "k", region="us-east-1")
    with pytest.raises(ValueError, match="addressing_style"):
        S3ObjectReader(None, region="us-east-1", addressing_style="nope")


# --------------------------------------------------------------------------- errors


def test_client_error_from_xml_body() -> None:
    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
            b"<Message>The specified key does not exist.</Message><Key>k</Key>"
            b"<RequestId>RID</RequestId><HostId>HID</HostId></Error>")
    exc = client_error_from_response(404, {"X-Amz-Request-Id": "other"}, body)
    assert exc.response["Error"] == {
        "Code": "NoSuchKey", "Message": "The specified key does not exist.", "Key": "k",
    }
    meta = exc.response["ResponseMetadata"]
    assert (meta["HTTPStatusCode"], meta["RequestId"], meta["HostId"]) == (404, "RID", "HID")
    assert meta["HTTPHeaders"] == {"x-amz-request-id": "other"}
    assert exc.operation_name == "GetObject"
    assert "NoSuchKey" in str(exc)


@pytest.mark.parametrize("body", [b"", b"not xml", b"<broken", b"<Other/>"])
def test_client_error_without_xml(body: bytes) -> None:
    exc = client_error_from_response(404, {"x-amz-request-id": "R"}, body)
    assert exc.response["Error"] == {"Code": "404", "Message": "Not Found"}
    assert exc.response["ResponseMetadata"]["RequestId"] == "R"


# --------------------------------------------------------------------------- against moto


@pytest.fixture
async def reader(s3: S3Server) -> AsyncIterator[S3ObjectReader]:
    async with S3ObjectReader(get_session(), region=REGION, endpoint_url=s3.endpoint_url,
                              addressing_style="path") as opened:
        yield opened


async def test_get_and_conditional_get_on_moto(reader: S3ObjectReader, s3_sync: Any) -> None:
    s3_sync.create_bucket(Bucket=BUCKET)
    key = "renders/k1a2b3c4d5/progress.json"
    body = b'{"framesRendered": 42}'
    put = s3_sync.put_object(Bucket=BUCKET, Key=key, Body=body)
    status, etag, data = await reader.get(BUCKET, key)
    assert (status, etag, data) == (200, put["ETag"], body)
    assert await reader.get(BUCKET, key, if_none_match=etag) == (304, etag, b"")
    s3_sync.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    status, new_etag, data = await reader.get(BUCKET, key, if_none_match=etag)
    assert (status, data) == (200, b"{}") and new_etag != etag


async def test_awkward_keys_on_moto(reader: S3ObjectReader, s3_sync: Any) -> None:
    s3_sync.create_bucket(Bucket=BUCKET)
    for index, key in enumerate(["a b/c d.json", "ünï/ファイル.json", "p+q=r&s;t,(u)!*'.json"]):
        s3_sync.put_object(Bucket=BUCKET, Key=key, Body=str(index).encode())
        assert (await reader.get(BUCKET, key))[2] == str(index).encode(), key


async def test_missing_key_raises_like_aiobotocore(
    reader: S3ObjectReader, s3: S3Server, s3_sync: Any
) -> None:
    s3_sync.create_bucket(Bucket=BUCKET)
    with pytest.raises(ClientError) as ours:
        await reader.get(BUCKET, "renders/nope/progress.json")
    async with get_session().create_client("s3", **s3.client_kwargs()) as client:
        with pytest.raises(ClientError) as theirs:
            await client.get_object(Bucket=BUCKET, Key="renders/nope/progress.json")
    assert ours.value.response["Error"]["Code"] in ("NoSuchKey", "404")
    assert ours.value.response["Error"]["Code"] == theirs.value.response["Error"]["Code"]
    assert ours.value.response["Error"]["Message"] == theirs.value.response["Error"]["Message"]
    assert ours.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert ours.value.operation_name == theirs.value.operation_name == "GetObject"


async def test_missing_bucket_on_moto(reader: S3ObjectReader) -> None:
    with pytest.raises(ClientError) as raised:
        await reader.get("no-such-bucket-here", "k")
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


async def test_closed_reader_refuses(s3: S3Server) -> None:
    reader = S3ObjectReader(get_session(), region=REGION, endpoint_url=s3.endpoint_url)
    await reader.close()
    with pytest.raises(RuntimeError, match="closed"):
        await reader.get(BUCKET, "k")


# --------------------------------------------------------------------------- scripted server


@dataclass
class Script:
    """What the recording server answers, and what it saw."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"ETag": '"e1"'})
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Script, str]]:
    script = Script()

    async def handle(request: web.Request) -> web.Response:
        script.seen.append((request.method, request.raw_path, dict(request.headers)))
        return web.Response(status=script.status, body=script.body, headers=script.headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield script, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class FakeCredentials:
    """Refreshable credentials: every freeze may give new ones."""

    def __init__(self, *frozen: ReadOnlyCredentials) -> None:
        self.frozen = list(frozen)
        self.calls = 0

    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
        self.calls += 1
        return self.frozen[min(self.calls, len(self.frozen)) - 1]


class FakeSession:
    def __init__(self, credentials: FakeCredentials | None) -> None:
        self.credentials = credentials

    async def get_credentials(self) -> FakeCredentials | None:
        return self.credentials


async def test_wire_request_verifies_with_botocore(
    scripted: tuple[Script, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What reaches the server (Host, path, headers) re-signs to the same Authorization."""
    script, endpoint = scripted
    creds = FakeCredentials(ReadOnlyCredentials("AK1", "SK1", "TOKEN1"),
                            ReadOnlyCredentials("AK2", "SK2", None))
    reader = S3ObjectReader(FakeSession(creds), region="eu-west-1", endpoint_url=endpoint,
                            clock=FIXED.timestamp)
    async with reader:
        assert await reader.get(BUCKET, "ü b/progress.json", if_none_match='"e0"') == (
            200, '"e1"', b"{}")
        await reader.get(BUCKET, "ü b/progress.json")
    (method, path, headers), (_, _, headers2) = script.seen
    assert (method, path) == ("GET", f"/{BUCKET}/%C3%BC%20b/progress.json")
    assert headers["Host"] == endpoint.removeprefix("http://")
    assert headers["If-None-Match"] == '"e0"'
    assert headers["X-Amz-Security-Token"] == "TOKEN1"
    expected = botocore_authorization(f"{endpoint}{path}", "eu-west-1",
                                      Credentials("AK1", "SK1", "TOKEN1"), monkeypatch)
    assert headers["Authorization"] == expected["Authorization"]
    # Refreshed credentials are used for the next request.
    assert "Credential=AK2/" in headers2["Authorization"]
    assert "X-Amz-Security-Token" not in headers2
    assert "If-None-Match" not in headers2


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
         "AccessDenied"),
        (503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate."
              b"</Message></Error>", "SlowDown"),
        (404, b"", "404"),
        (500, b"oops", "500"),
        (301, b"<Error><Code>PermanentRedirect</Code><Message>Use the other endpoint"
              b"</Message><Endpoint>x.s3.amazonaws.com</Endpoint></Error>", "PermanentRedirect"),
    ],
)
async def test_error_statuses(
    scripted: tuple[Script, str], status: int, body: bytes, code: str
) -> None:
    script, endpoint = scripted
    script.status, script.body = status, body
    script.headers = {"x-amz-request-id": "REQ"}
    async with S3ObjectReader(get_session(), region=REGION, endpoint_url=endpoint) as reader:
        with pytest.raises(ClientError) as raised:
            await reader.get(BUCKET, "k")
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raised.value.response["ResponseMetadata"]["RequestId"] == "REQ"


async def test_no_credentials(scripted: tuple[Script, str]) -> None:
    _, endpoint = scripted
    async with S3ObjectReader(FakeSession(None), region=REGION, endpoint_url=endpoint) as reader:
        with pytest.raises(CredentialsMissingError):
            await reader.get(BUCKET, "k")


async def test_network_errors_propagate() -> None:
    reader = S3ObjectReader(get_session(), region=REGION, endpoint_url="http://127.0.0.1:9",
                            connect_timeout_s=2)
    async with reader:
        with pytest.raises((aiohttp.ClientError, OSError)):
            await reader.get(BUCKET, "k")


def _self_signed(tmp_path: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (and its key), as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return str(cert_file), str(key_file)


async def test_https_with_ca_bundle(tmp_path: Any) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers["Host"])
        return web.Response(body=b"ok", headers={"ETag": '"t"'})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        endpoint = f"https://127.0.0.1:{port}"
        async with S3ObjectReader(get_session(), region=REGION, endpoint_url=endpoint,
                                  ca_bundle=cert) as reader:
            assert await reader.get(BUCKET, "k") == (200, '"t"', b"ok")
        assert seen == [f"127.0.0.1:{port}"]
        async with S3ObjectReader(get_session(), region=REGION,
                                  endpoint_url=endpoint) as untrusting:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await untrusting.get(BUCKET, "k")
    finally:
        await runner.cleanup()
