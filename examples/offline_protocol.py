"""The protocol core needs no AWS: build the exact payload the official JS client would
send, and compute a render's progress from a progress.json, all offline.

Run: python examples/offline_protocol.py
"""

from __future__ import annotations

import json

from aioremotion.protocol.options import RenderMediaOptions
from aioremotion.protocol.payloads import build_start_payload
from aioremotion.protocol.pricing import estimate_price
from aioremotion.protocol.progress import (
    ProgressContext,
    RenderProgress,
    compute_render_progress,
)
from aioremotion.protocol.props import plan_input_props

# Options as a JavaScript project writes them (camelCase) validate unchanged.
options = RenderMediaOptions.model_validate(
    {"serveUrl": "my-site", "composition": "HelloWorld", "codec": "h264",
     "inputProps": {"title": "Hello"}, "framesPerLambda": 20}
)
props = plan_input_props(options.input_props_json, kind="media",
                         env_variables=options.env_variables)
payload = build_start_payload(options, version="4.0.527", props=props, bucket_name=None)
print("start payload has", len(payload), "keys; everyNthFrame =", payload["everyNthFrame"])

# A render in flight: 60 frames in 3 chunks, 2 renderers invoked, 25 frames rendered.
progress_json = {
    "framesRendered": 25, "framesEncoded": 18, "lambdasInvoked": 2,
    "serveUrlOpened": 1_760_000_000_900, "compositionValidated": 1_760_000_001_400,
    "timeoutTimestamp": 1_760_000_119_000, "functionLaunched": 1_760_000_000_000,
    "renderMetadata": {
        "type": "video", "startedDate": 1_760_000_001_500, "totalChunks": 3,
        "estimatedRenderLambdaInvokations": 3, "codec": "h264", "frameRange": [0, 59],
        "everyNthFrame": 1, "framesPerLambda": 20, "muted": False,
        "rendererFunctionName": "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec",
    },
}
ctx = ProgressContext.for_function(
    "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec", region="us-east-1",
    render_id="k1a2b3c4d5", bucket_name="remotionlambda-useast1-abcdefghij",
)
progress = compute_render_progress(progress_json, ctx, now_ms=1_760_000_008_000)
assert isinstance(progress, RenderProgress)  # (an OutputHeadRequest once all chunks are in)
print(json.dumps({"overallProgress": round(progress.overall_progress, 4),
                  "costs": progress.costs.display_cost}))
print("1,000 such renders cost about $",
      round(1000 * estimate_price(region="us-east-1", memory_mb=2048, disk_mb=10240,
                                  lambdas_invoked=4, duration_ms=24_150), 2))
