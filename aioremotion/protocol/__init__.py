"""The pure protocol core of Remotion Lambda: no I/O, no event loop.

Option models → payloads, input props, names/keys/URLs, reply parsing, progress.json →
RenderProgress and prices. Nothing here imports aiobotocore or anyio (a test checks it).
"""
