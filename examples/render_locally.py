"""Render a real video on the local emulator, with a live progress bar; no AWS needed.

Run: python examples/render_locally.py ["Your title"]
Writes hello-world.mp4 (H.264, 1280x720, 5 s) into the current folder.
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp
import anyio

from aioremotion.emulator import EmulatorConfig, RemotionEmulator


def bar(fraction: float, width: int = 40) -> str:
    filled = round(fraction * width)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {fraction:6.1%}"


async def main(title: str) -> None:
    started = time.monotonic()
    config = EmulatorConfig(real_encoding=True, frame_cost_ms=20, invoke_latency_ms=150)
    async with RemotionEmulator(config=config) as emulator, emulator.client() as remotion:
        render = await remotion.render_media(
            serve_url=emulator.serve_url,
            composition="HelloWorld",
            codec="h264",
            input_props={"title": title},
            frames_per_lambda=30,
        )
        print(f"render {render.render_id} started on {render.function_name}")
        while True:
            progress = await remotion.get_progress(render)
            print("\r" + bar(progress.overall_progress), end="", flush=True)
            if progress.done or progress.fatal_error_encountered:
                break
            await asyncio.sleep(0.25)
        print()
        if not progress.done:
            raise SystemExit(f"render failed: {progress.errors[0].message}")
        assert progress.output_file is not None
        target = anyio.Path("hello-world.mp4")
        async with aiohttp.ClientSession() as http, http.get(progress.output_file) as response:
            response.raise_for_status()
            await target.write_bytes(await response.read())
    size = (await target.stat()).st_size
    print(f"wrote {await target.resolve()} ({size:,} bytes, "
          f"{progress.chunks} chunks, est. cost {progress.costs.display_cost}) "
          f"in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "Hello from aioremotion"))
