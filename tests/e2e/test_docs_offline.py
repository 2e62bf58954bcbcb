"""``/docs`` of the local stack renders in a browser that reaches nothing but loopback.

FastAPI's own page loads Swagger UI from a CDN, so offline it was blank; the local stack
serves the assets itself (``infra/local/docs.py``). The screenshot is kept in the test's
temporary folder (``docs.png``) for a person to look at.
"""

from pathlib import Path

import pytest

from tests.e2e.chromium import chromium_for_tests, offline_chromium
from tests.local_stack_process import running_local_stack

TITLE = "FastAPI on Lambda with background work"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_for_tests()


@pytest.mark.timeout(600)  # under CI, the first run may install Chromium
def test_docs_show_every_route_without_internet_access(chromium: str, tmp_path: Path) -> None:
    # GIVEN the local stack, as `make run` starts it
    with running_local_stack(tmp_path) as stack:
        docs = f"{stack.api_url}/docs"
        # WHEN a browser that can reach only loopback opens /docs
        dom = offline_chromium(chromium, tmp_path / "profile", "--dump-dom", docs)
        screenshot = tmp_path / "docs.png"
        offline_chromium(chromium, tmp_path / "profile", f"--screenshot={screenshot}", docs)
    # THEN Swagger UI has rendered the API's title and its routes from /openapi.json
    assert f'<h1 class="title">{TITLE}' in dom
    for path in ("/send-notification/{email}", "/process/", "/tasks/{task_id}", "/health"):
        assert f'data-path="{path}"' in dom
    # AND the screenshot is a picture of it
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)
