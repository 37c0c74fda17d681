"""The npm, Node and emulator parts of the capture tool."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aioremotion.emulator import RemotionEmulator
from aioremotion.testing import FaultyProxy

from .records import make_record, pick_invocation, upload_entry

PACKAGE = "@remotion/lambda-client"
DRIVER = Path(__file__).resolve().parent / "driver.cjs"
#: the bucket the records force (``forceBucketName``, status cases)
BUCKET_SUFFIX = "abcdefghij"
CASE_TIMEOUT_S = 60.0


class CaptureError(RuntimeError):
    pass


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aioremotion-capture"


def installed_version(folder: Path) -> str | None:
    manifest = folder / "node_modules" / "@remotion" / "lambda-client" / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def install(version: str, cache: Path | None = None) -> Path:
    """``node_modules`` holding ``@remotion/lambda-client@version`` (its releases bundle
    their AWS SDK: no peer package is needed from 4.0.403 on), installed on first use
    into a staging folder renamed into place."""
    npm = shutil.which("npm")
    if npm is None:
        raise CaptureError("npm is not on PATH (apt-get install nodejs npm)")
    target = (cache or cache_folder()) / f"lambda-client-{version}"
    if installed_version(target) == version:
        return target / "node_modules"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(staging), "--no-save", "--no-audit", "--no-fund",
             "--loglevel=error", f"{PACKAGE}@{version}"],
            capture_output=True, text=True, timeout=600, check=False,
        )
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if "error" in line][:3]
            raise CaptureError(f"npm install {PACKAGE}@{version} failed: "
                               + (" / ".join(lines) or done.stderr[-500:])
                               + f" (releases: npm view {PACKAGE} versions --json)")
        if installed_version(staging) != version:
            raise CaptureError(f"npm install did not install {PACKAGE}@{version}")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / "node_modules"


@dataclass
class CaseResult:
    record: dict[str, Any]
    client_error: str | None
    """What the client raised after (or instead of) its call, if anything."""

    @property
    def captured(self) -> bool:
        return self.record["payload"] is not None


async def _run_node(node: str, job: dict[str, Any], env: dict[str, str],
                    scratch: Path) -> str | None:
    job_file = scratch / f"{job['name']}.json"
    job_file.write_text(json.dumps(job))
    process = await asyncio.create_subprocess_exec(
        node, str(DRIVER), str(job_file), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), CASE_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return f"no answer within {CASE_TIMEOUT_S:.0f} s"
    lines = stdout.decode().strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        return f"node exited {process.returncode}: {stderr.decode()[-500:].strip()}"
    error = result.get("error")
    return str(error) if error else None


async def capture(version: str, jobs: list[dict[str, Any]], node_modules: Path) -> list[CaseResult]:
    """Run each job in its own Node process against a fresh emulator of ``version``
    (its S3 behind a recording proxy); one record per job, in the jobs' order."""
    node = shutil.which("node")
    if node is None:
        raise CaptureError("node is not on PATH (apt-get install nodejs npm)")
    results = []
    async with RemotionEmulator(remotion_version=version, bucket_suffix=BUCKET_SUFFIX) as emu, \
            FaultyProxy(emu.s3_endpoint) as s3_proxy:
        env = {**os.environ, **emu.env, "AWS_ENDPOINT_URL_S3": s3_proxy.endpoint_url,
               "NODE_PATH": str(node_modules)}
        invocations = emu.server.invocations
        with tempfile.TemporaryDirectory(prefix="aioremotion-capture-") as scratch:
            for job in jobs:
                invocations.clear()
                s3_proxy.clear_requests()
                error = await _run_node(node, job, env, Path(scratch))
                payload = pick_invocation(job["api"], [inv.payload for inv in invocations])
                uploads = []
                for request in list(s3_proxy.requests):
                    if request.method != "PUT":
                        continue
                    bucket, _, key = request.path.lstrip("/").partition("/")
                    body = await emu.s3.get_object(Bucket=bucket, Key=key)
                    async with body["Body"] as stream:
                        uploads.append(upload_entry(request.path, await stream.read()))
                results.append(CaseResult(make_record(job, version, payload, uploads), error))
    return results
