"""The official JS client (``@remotion/lambda-client``), pointed at ``aioremotion emulator``
only through the export lines it prints, renders a video that plays: ``renderMediaOnLambda``,
then ``getRenderProgress`` until done, then the output is downloaded and every frame
decoded.

The AWS SDK v3 inside the client reads ``AWS_ENDPOINT_URL_LAMBDA`` (and
``AWS_ENDPOINT_URL_S3``) from the environment, so no option of the client is needed;
neither call touches S3 from the client side (small input props travel in the payload,
progress comes from the status function), so path-style S3 addressing does not arise.

The package is installed once per version into ``~/.cache/aioremotion-tests`` (or
``$XDG_CACHE_HOME/aioremotion-tests``) with npm's configured registry; the test is skipped
when node or npm is missing, or when nothing is cached and the registry is unreachable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import aiohttp
import anyio
import pytest

from aioremotion.emulator.config import REAL_OUTPUTS

from .cli_process import decode_video, emulator_process

VERSION = "4.0.527"
PACKAGE = f"@remotion/lambda-client@{VERSION}"
NODE = shutil.which("node")
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are not on PATH (apt-get install nodejs npm)",
)

#: renderMediaOnLambda, then getRenderProgress until done (or a fatal error, or 120 s);
#: prints the final progress as one JSON line.
RENDER_SCRIPT = """
const {renderMediaOnLambda, getRenderProgress} = require('@remotion/lambda-client');

const main = async () => {
  const region = process.env.AWS_REGION;
  const functionName = process.env.REMOTION_FUNCTION_NAME;
  const {renderId, bucketName} = await renderMediaOnLambda({
    region, functionName, serveUrl: process.env.REMOTION_SERVE_URL,
    composition: process.env.REMOTION_COMPOSITION, codec: 'h264',
    inputProps: {title: 'From the JS client'}, privacy: 'public',
  });
  const deadline = Date.now() + 120000;
  let polls = 0;
  for (;;) {
    const progress = await getRenderProgress({renderId, bucketName, functionName, region});
    polls += 1;
    if (progress.done || progress.fatalErrorEncountered || Date.now() > deadline) {
      console.log(JSON.stringify({renderId, bucketName, polls, progress}));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
"""


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aioremotion-tests"


def _installed(folder: Path) -> bool:
    manifest = folder / "node_modules" / "@remotion" / "lambda-client" / "package.json"
    try:
        return bool(json.loads(manifest.read_text())["version"] == VERSION)
    except (OSError, ValueError, KeyError):
        return False


def install_lambda_client() -> Path:
    """The ``node_modules`` folder holding :data:`PACKAGE`, installed on first use (into a
    staging folder renamed into place, so an interrupted install is never reused)."""
    assert NPM is not None
    target = cache_folder() / f"remotion-lambda-client-{VERSION}"
    if _installed(target):
        return target / "node_modules"
    try:
        ping = subprocess.run([NPM, "ping", "--fetch-retries=0", "--fetch-timeout=20000"],
                              capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("the npm registry did not answer `npm ping` within 60 s")
    if ping.returncode != 0:
        first = next((line for line in ping.stderr.splitlines() if "error" in line),
                     f"exit status {ping.returncode}")
        pytest.skip(f"the npm registry is unreachable and {PACKAGE} is not cached "
                    f"(npm ping: {first.strip()})")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        done = subprocess.run(
            [NPM, "install", "--prefix", str(staging), "--no-save", "--no-audit", "--no-fund",
             "--loglevel=error", PACKAGE],
            capture_output=True, text=True, timeout=600, check=False,
        )
        assert done.returncode == 0, f"npm install {PACKAGE} failed: {done.stderr[-2000:]}"
        assert _installed(staging), f"npm install {PACKAGE} did not install it"
        try:
            staging.rename(target)
        except OSError:  # another run installed it meanwhile
            if not _installed(target):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / "node_modules"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    return install_lambda_client()


async def download(url: str, path: Path) -> Path:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200, url
        path.write_bytes(await response.read())
    return path


async def test_official_js_client_gets_a_playable_mp4(node_modules: Path,
                                                      tmp_path: Path) -> None:
    assert NODE is not None
    script = tmp_path / "render.cjs"
    script.write_text(RENDER_SCRIPT)
    async with emulator_process() as running:  # no flag: real H.264
        assert REAL_OUTPUTS in running.banner, running.banner
        env = {**os.environ, **running.env, "NODE_PATH": str(node_modules)}
        with anyio.fail_after(180):
            done = await anyio.run_process([NODE, str(script)], env=env, check=False)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        result = json.loads(done.stdout.decode().strip().splitlines()[-1])
        progress = result["progress"]
        assert progress["done"], progress.get("errors")
        assert progress["outputFile"].startswith(running.env["AWS_ENDPOINT_URL_S3"])
        video = await download(progress["outputFile"], tmp_path / "out.mp4")
    assert video.stat().st_size == progress["outputSizeInBytes"] > 10_000
    assert decode_video(video) == {"codec": "h264", "frames": 150, "width": 1280,
                                   "height": 720}
    costs = progress["costs"]
    assert costs["accruedSoFar"] > 0, costs  # the render's estimate, from its durations

