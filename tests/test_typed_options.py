"""Render options are typed for checkers: a misspelt keyword is a mypy error in user code,
and the keyword TypedDicts cannot drift from the option models."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aioremotion.protocol.option_kwargs import (
    CompositionsKwargs,
    RenderFramesKwargs,
    RenderMediaKwargs,
    RenderStillKwargs,
)
from aioremotion.protocol.options import (
    CompositionsOptions,
    RenderFramesOptions,
    RenderMediaOptions,
    RenderStillOptions,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("kwargs", "model"),
    [(RenderMediaKwargs, RenderMediaOptions), (RenderStillKwargs, RenderStillOptions),
     (CompositionsKwargs, CompositionsOptions), (RenderFramesKwargs, RenderFramesOptions)],
)
def test_the_keywords_are_the_model_fields(kwargs: type, model: type) -> None:
    keys = set(kwargs.__required_keys__) | set(kwargs.__optional_keys__)
    assert keys == set(model.model_fields)
    assert not kwargs.__required_keys__  # options may come positionally instead


USER_CODE = '''
from aioremotion import RemotionLambda


async def main(remotion: RemotionLambda) -> None:
    await remotion.render_media(serve_url="s", composition="c", codec="h264",
                                frames_per_lambda=20, input_props={"a": 1})
    await remotion.render_media({"serveUrl": "s"}, codec="h264", privacy="private")
    await remotion.render_still(serve_url="s", composition="c", frame=3, streamed=False)
    await remotion.get_compositions(serve_url="s", log_level="verbose")
    await remotion.render(serve_url="s", composition="c", codec="h264")
'''

MISTAKES = '''
from aioremotion import RemotionLambda


async def main(remotion: RemotionLambda) -> None:
    await remotion.render_media(serve_url="s", composition="c", codec="h264",
                                frames_per_lamda=20)
    await remotion.render_still(serve_url="s", composition="c", fram=3)
    await remotion.get_compositions(serve_ulr="s")
    await remotion.render_media(serve_url="s", composition="c", codec="avi")
'''


def mypy(tmp_path: Path, code: str) -> str:
    user = tmp_path / "user_code.py"
    user.write_text(code)
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--no-error-summary", str(user)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    return done.stdout + done.stderr


def test_mypy_accepts_well_spelt_options(tmp_path: Path) -> None:
    assert mypy(tmp_path, USER_CODE).strip() == ""


def test_mypy_flags_a_misspelt_option(tmp_path: Path) -> None:
    out = mypy(tmp_path, MISTAKES)
    for name, call in (("frames_per_lamda", "render_media"), ("fram", "render_still"),
                       ("serve_ulr", "get_compositions")):
        assert re.search(rf'Unexpected keyword argument "{name}" for "{call}"', out), out
    assert re.search(r'Argument "codec" to "render_media".*incompatible type "Literal\[.avi.\]"',
                     out), out


def test_the_package_re_exports_what_it_lazily_imports() -> None:
    import aioremotion

    assert sorted(aioremotion.__all__) == sorted([*aioremotion._EXPORTS, "__version__"])
    assert len(set(aioremotion.__all__)) == len(aioremotion.__all__)
