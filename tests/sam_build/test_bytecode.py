"""The bytecode `sam build` ships is valid on Lambda, whatever times SAM's zip gives the files.

SAM stamps every file of its zip 1980-01-01 (aws-lambda-builders#924), so timestamp-checked
bytecode would be stale on arrival and every cold start would compile every module again.
functions/Makefile compiles ``unchecked-hash`` bytecode instead, which Python uses without
looking at the source's time (or text).
"""

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

from infra.local.template import function_settings, load_template
from tests.runtime.process import run_function
from tests.sam_build.artifacts import (
    FAKE_CREDENTIALS,
    READ_ONLY_CODE,
    Architecture,
    function_ids,
    function_kind,
)
from tests.sam_build.conftest import Builds
from tests.sample_events import EVENTS_DIR

pytestmark = pytest.mark.timeout(900)

TEMPLATE = load_template()
FUNCTIONS = function_ids(TEMPLATE)
API_FUNCTION = next(f for f in FUNCTIONS if function_kind(TEMPLATE, f) == "api")
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z
HEALTH_ROUTE = Path("app", "api", "routes", "health.py")
# The flags word of a .pyc header (PEP 552): bit 0 hash-based, bit 1 checked against the source.
UNCHECKED_HASH = 0b01


def as_unzipped_by_lambda(built: Path, destination: Path) -> Path:
    """A copy of a built function with every file and folder dated 1980, as SAM's zip has it."""
    shutil.copytree(built, destination, symlinks=True)
    for directory, _, files in os.walk(destination):
        for name in files:
            os.utime(Path(directory, name), (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)
        os.utime(directory, (ZIP_EPOCH, ZIP_EPOCH))
    return destination


def get_health(folder: Path, python: Path) -> dict[str, str]:
    """``GET /health`` through the function in ``folder``, under awslambdaric."""
    settings = function_settings(TEMPLATE, API_FUNCTION)
    event = json.loads((EVENTS_DIR / API_FUNCTION / "health.json").read_text())
    with run_function(
        settings.handler,
        {**FAKE_CREDENTIALS, **READ_ONLY_CODE},
        function_name=API_FUNCTION,
        cwd=folder,
        pythonpath=[folder],
        python=python,
    ) as (emulator, _):
        result = emulator.invoke(event, timeout=30)
        result.wait_released(timeout=30)
    assert result.error is None, result.error
    assert result.payload["statusCode"] == 200, result.payload
    body: dict[str, str] = json.loads(result.payload["body"])
    return body


def test_the_built_bytecode_runs_after_every_time_is_reset_to_1980(
    host_build: Path, lambda_python: Path, tmp_path: Path
) -> None:
    # GIVEN the API function as Lambda unpacks SAM's zip: every file dated 1980-01-01
    folder = as_unzipped_by_lambda(host_build / API_FUNCTION, tmp_path / API_FUNCTION)
    # ... whose health route's source now says something else, without being compiled again
    source = folder / HEALTH_ROUTE
    original = source.read_text()
    assert '{"status": "ok"}' in original
    source.write_text(original.replace('{"status": "ok"}', '{"status": "edited"}'))
    os.utime(source, (ZIP_EPOCH, ZIP_EPOCH))

    # WHEN Lambda serves GET /health from it (the folder read-only: no bytecode written)
    answer = get_health(folder, lambda_python)

    # THEN the build's bytecode ran, not the edited source
    assert answer == {"status": "ok"}

    # GIVEN the same folder without that module's bytecode
    Path(importlib.util.cache_from_source(str(source))).unlink()
    # WHEN Lambda serves it, THEN the edit shows: the source was compiled this time
    assert get_health(folder, lambda_python) == {"status": "edited"}


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_every_module_of_the_build_carries_unchecked_hash_bytecode(
    builds: Builds, arch: Architecture
) -> None:
    build = builds(arch)
    for function_id in FUNCTIONS:
        folder = build / function_id
        # GIVEN every Python source of the built function, its dependencies' included
        sources = sorted(folder.rglob("*.py"))
        assert any(path.is_relative_to(folder / "app") for path in sources)
        assert any(path.is_relative_to(folder / "pydantic") for path in sources)
        problems = {}
        for path in sources:
            # THEN each has bytecode for the runtime's Python where the import system looks
            cached = Path(importlib.util.cache_from_source(str(path)))
            if not cached.is_file():
                problems[str(path.relative_to(folder))] = "no bytecode"
                continue
            header = cached.read_bytes()[:16]
            flags = int.from_bytes(header[4:8], "little")
            # ... hash-based and never checked against the source's time or text
            if header[:4] != importlib.util.MAGIC_NUMBER or flags != UNCHECKED_HASH:
                problems[str(path.relative_to(folder))] = f"magic {header[:4]!r}, flags {flags}"
            # ... and made from exactly the source shipped beside it
            elif header[8:16] != importlib.util.source_hash(path.read_bytes()):
                problems[str(path.relative_to(folder))] = "made from another source"
        examples = dict(list(problems.items())[:10])
        assert problems == {}, f"{arch} {function_id}: {len(problems)} bad, e.g. {examples}"
