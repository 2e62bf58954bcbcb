"""The README's "Your own task" walk-through, run from its own code blocks (moto SQS, DynamoDB).

The blocks become the modules they name; the worker runs with a registry of their tasks only,
so a project that followed the walk-through (and has its own ``word_count``) still passes.
"""

import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from app.api.main import ROUTERS, create_app
from app.config import get_settings
from app.tasks import registry as registry_module
from app.worker import wiring
from infra.new_event import event_name, route_event
from tests.asgi import call
from tests.functional.stack import ROOT, Stack

README = ROOT / "README.md"


def walk_through() -> str:
    """The README's "Your own task" section."""
    text = README.read_text()
    start = text.index("\n## Your own task")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def code_blocks(section: str) -> dict[str, str]:
    """The section's Python blocks, by the file each names on its first line."""
    blocks = re.findall(r"```python\n# (\S+\.py)\n(.*?)```", section, flags=re.DOTALL)
    return {path: code for path, code in blocks}


def module_of(path: str, code: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The block as the module its path names (functions/app/x.py: app.x), importable."""
    name = Path(path).relative_to("functions").with_suffix("").as_posix().replace("/", ".")
    module = types.ModuleType(name)
    module.__file__ = str(ROOT / path)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(code, path, "exec"), module.__dict__)  # the README's own code, as a module
    return module


@pytest.fixture
def walk_through_app(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app with the walk-through's route, the worker with its task, TasksPerHour=2."""
    monkeypatch.setenv("TASKS_PER_HOUR", "2")
    tasks_only = registry_module.TaskRegistry()
    monkeypatch.setattr(registry_module, "task", tasks_only.task)
    monkeypatch.setattr(wiring, "registry", tasks_only)
    wiring.reset()
    blocks = code_blocks(walk_through())
    assert list(blocks) == ["functions/app/word_count.py", "functions/app/api/routes/word_count.py"]
    modules = [module_of(path, code, monkeypatch) for path, code in blocks.items()]
    yield create_app((*ROUTERS, modules[1].router))
    wiring.reset()
    get_settings.cache_clear()


def test_the_walk_through_task_and_route_run_as_the_readme_shows(
    stack: Stack, walk_through_app: Any
) -> None:
    section = walk_through()
    # GIVEN the request the README's curl sends, and the result it shows
    [sent] = re.findall(r"-d '(\{.*?\})'", section)
    [shown] = re.findall(r'"result":(\{[^}]*\})', section)
    # WHEN it is posted to the new route and the worker takes the queue
    answer = call(walk_through_app, "POST", "/word-count/", json=json.loads(sent))
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["task_id"]
    stack.run_worker(stack.queued_event())
    # THEN the task's status shows the result the README shows
    status = call(walk_through_app, "GET", answer.json()["status_url"]).json()
    assert status["name"] == "word_count"
    assert status["status"] == "succeeded", status
    assert status["result"] == json.loads(shown)
    assert task_id in answer.json()["status_url"]


def test_the_walk_through_route_is_bound_by_the_quota_without_a_line_for_it(
    stack: Stack, walk_through_app: Any
) -> None:
    # GIVEN TasksPerHour=2
    # WHEN the new route is called three times
    answers = [
        call(walk_through_app, "POST", "/word-count/", json={"text": f"text {n}"}) for n in range(3)
    ]
    # THEN the third is a 429 with Retry-After, and only two tasks are queued
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert "retry-after" in answers[2].headers
    assert len(stack.receive_messages()) == 2


def test_the_walk_through_names_every_file_and_the_event_command(walk_through_app: Any) -> None:
    section = walk_through()
    # GIVEN the steps the README gives besides its code blocks
    # THEN they name the catalog line, the ROUTERS line, and the event command and its file
    assert "`from app import word_count`" in section
    assert "`word_count.router`" in section
    assert "`ROUTERS` in `functions/app/api/main.py`" in section
    assert "`functions/app/catalog.py`" in section
    assert 'make event ROUTE="POST /word-count/"' in section
    assert f"infra/events/ApiFunction/{event_name('POST /word-count/')}.json" in section
    # AND the event that command writes is the route's, with the body the README says
    event = route_event(walk_through_app.openapi(), "POST /word-count/")
    assert event["rawPath"] == "/word-count/"
    assert f"(the body: `{event['body']}`)" in section
