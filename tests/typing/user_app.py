from __future__ import annotations

import asyncio

from aioremotion import (
    Batch,
    Done,
    JobResult,
    RemotionLambda,
    RenderHandle,
    StartOutcomeUnknownError,
    render_many,
    wait,
    watch,
)


async def main() -> None:
    async with RemotionLambda(region="us-east-1") as remotion:
        handle: RenderHandle = await remotion.render_media(
            serve_url="my-site", composition="HelloWorld", codec="h264")
        async for event in watch(remotion, handle):
            print(event.type)
        done: Done = await wait(remotion, handle)
        print(done.url, done.size)
        results: list[JobResult] = await render_many(
            remotion, [{"serve_url": "s", "composition": "c", "codec": "h264"}])
        for result in results:
            if (finished := result.done) is not None:
                print(finished.url)
        async with Batch(remotion) as batch:
            batch.submit({"serve_url": "s", "composition": "c", "codec": "h264"}, key="a")
        try:
            await remotion.render_media(serve_url="s", composition="c", codec="h264")
        except StartOutcomeUnknownError as exc:
            print(exc.function_name)


asyncio.run(main())
