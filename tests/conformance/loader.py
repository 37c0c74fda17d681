"""Load the conformance records captured from the official JS client.

They live in ``tests/conformance/records`` (copied, unchanged, from what the official
clients sent; see its README); ``AIOREMOTION_CONFORMANCE_DIR`` points the same tests at
another folder (say, cases captured from a newer Remotion).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path(__file__).resolve().parent / "records"


def conformance_dir() -> Path:
    override = os.environ.get("AIOREMOTION_CONFORMANCE_DIR")
    return Path(override) if override else DEFAULT_DIR


def load_cases(filename: str) -> list[dict[str, Any]]:
    path = conformance_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"conformance file {path} not found: set AIOREMOTION_CONFORMANCE_DIR to a folder "
            "of records (the repository keeps them in tests/conformance/records)"
        )
    cases = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(cases, list) or not cases:
        raise ValueError(f"{path} holds no cases")
    return cases


def decode_js_options(value: Any) -> Any:
    """Turn the recorded markers back into values: ``{"__date__": iso}`` is a JS Date
    (a Python datetime here), ``{"__repeat__": s, "times": n}`` is ``s * n``."""
    if isinstance(value, dict):
        if set(value) == {"__date__"}:
            return datetime.fromisoformat(value["__date__"].replace("Z", "+00:00"))
        if set(value) == {"__repeat__", "times"}:
            return value["__repeat__"] * value["times"]
        return {key: decode_js_options(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_js_options(item) for item in value]
    return value


def strip_js_stack_frames(stack: str) -> str:
    """A JS ``Error.stack`` is ``"<Name>: <message>"`` plus ``"\\n    at …"`` frames of the
    machine that ran it; only the part before the frames can be reproduced."""
    index = stack.find("\n    at ")
    return stack if index < 0 else stack[:index]
