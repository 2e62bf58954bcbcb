"""`make tasks` shows the running local stack's tasks, newest first, with their progress."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import TYPE_CHECKING

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer
from rich.console import Console

from app.tasks.lifecycle import TaskState
from app.tasks.progress import progress
from app.tasks.status import TaskStatusStore
from infra.local import tasks
from infra.local.resources import create_resources
from infra.local.template import load_template
from tests.local_stack_process import REPO_ROOT, free_port

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

WIDTH = 160


@dataclass
class LocalStack:
    store: TaskStatusStore
    dynamodb: DynamoDBClient


@pytest.fixture
def local_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    """moto's server on a free port holding the template's resources, as `make run` makes
    them; LOCAL_AWS_PORT names the port, and nothing else points at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        session = boto3.Session(region_name="us-east-1")
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        physical = create_resources(load_template(), session=session)
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        monkeypatch.delenv("TASK_TABLE_NAME", raising=False)
        monkeypatch.setenv("LOCAL_AWS_PORT", str(port))
        table = physical.ref("TaskTable")
        yield LocalStack(TaskStatusStore(client, table, timedelta(days=1)), client)
    finally:
        server.stop()


def output(argv: list[str]) -> tuple[int, str]:
    console = Console(file=io.StringIO(), width=WIDTH, color_system=None)
    code = tasks.main(argv, console)
    assert isinstance(console.file, io.StringIO)
    return code, console.file.getvalue()


def test_the_table_shows_every_owners_tasks_newest_first_with_progress(
    local_stack: LocalStack,
) -> None:
    # GIVEN tasks in different states, of two owners, sent one after the other
    store = local_stack.store
    store.create_queued("t1-succeeded", "process_file", None, owner="local")
    store.create_queued("t2-dead", "process_file", None, owner="alice")
    store.create_queued("t3-running", "resize_image", None, owner="local")
    store.create_queued("t4-queued", "process_file", None, owner="local")
    for task_id, owner in (
        ("t1-succeeded", "local"),
        ("t2-dead", "alice"),
        ("t3-running", "local"),
    ):
        store.claim(
            task_id,
            owner=owner,
            receive_count=1,
            max_receives=5,
            lease_token="lease",
            lease_seconds=600,
        )
    store.finish("t1-succeeded", "lease", TaskState.SUCCEEDED, owner="local")
    store.finish("t2-dead", "lease", TaskState.DEAD, error="boom", owner="alice")
    store.write_progress("t3-running", "lease", progress(0.42, "row 420 of 1000"), owner="local")
    # WHEN `make tasks` runs
    code, text = output([])
    # THEN it lists them newest first, each with its name, owner, state and attempts
    assert code == 0
    lines = [line for line in text.splitlines() if line.lstrip().startswith("t")]
    cells = [line.split()[:5] for line in lines]
    assert cells == [
        ["t4-queued", "process_file", "local", "queued", "0"],
        ["t3-running", "resize_image", "local", "running", "1"],
        ["t2-dead", "process_file", "alice", "dead", "1"],
        ["t1-succeeded", "process_file", "local", "succeeded", "1"],
    ]
    # AND the running task shows its progress as a bar, a percentage and its message
    running = lines[1]
    assert "42% row 420 of 1000" in running
    assert "━" in running
    # AND only the running one shows any progress
    assert all("%" not in line for line in lines if line is not running)
    # AND --rows keeps the newest
    _, text = output(["--rows", "2"])
    assert "t4-queued" in text
    assert "t3-running" in text
    assert "t2-dead" not in text


def test_watch_redraws_the_table(local_stack: LocalStack) -> None:
    # GIVEN one running task whose progress moves between two refreshes
    store = local_stack.store
    store.create_queued("w1", "process_file", None, owner="local")
    store.claim(
        "w1", owner="local", receive_count=1, max_receives=5, lease_token="l", lease_seconds=600
    )
    fractions = iter([0.1, 0.9])

    def fetch() -> list[tasks.TaskRow]:
        store.write_progress("w1", "l", progress(next(fractions)), owner="local")
        return tasks.recent_tasks(local_stack.dynamodb, store.table_name)

    console = Console(file=io.StringIO(), width=WIDTH, color_system=None, force_terminal=True)
    # WHEN it is watched for two rounds
    tasks.watch(fetch, console, interval=0.01, rounds=2)
    # THEN both states were drawn
    assert isinstance(console.file, io.StringIO)
    drawn = console.file.getvalue()
    assert "10%" in drawn
    assert "90%" in drawn


def test_no_local_stack_is_one_line_saying_what_to_do() -> None:
    # GIVEN nothing listening on the local stack's port
    port = str(free_port())
    environment = {k: v for k, v in os.environ.items() if k != "TASK_TABLE_NAME"}
    # WHEN `make tasks` runs
    result = subprocess.run(
        [sys.executable, "-m", "infra.local.tasks"],
        cwd=REPO_ROOT,
        env={
            **environment,
            "LOCAL_AWS_PORT": port,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)]),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # THEN one line names the address and the command that starts the stack
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert f"no local stack on 127.0.0.1:{port}" in line
    assert "make run" in line


def tasks_command(columns: int) -> subprocess.CompletedProcess[str]:
    """`make tasks` as a terminal ``columns`` wide runs it (rich reads COLUMNS)."""
    environment = {k: v for k, v in os.environ.items() if k != "TASK_TABLE_NAME"}
    return subprocess.run(
        [sys.executable, "-m", "infra.local.tasks"],
        cwd=REPO_ROOT,
        env={
            **environment,
            "COLUMNS": str(columns),
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)]),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_table_fits_an_80_column_terminal_and_a_wide_one_shows_every_column(
    local_stack: LocalStack,
) -> None:
    # GIVEN a running task with a progress message and a succeeded one of a long owner name
    store = local_stack.store
    running, done = "a" * 32, "b" * 32
    store.create_queued(running, "process_file", None, owner="local")
    store.create_queued(done, "process_file", None, owner="someone.with.a.long.name@example.com")
    for task_id, owner in ((running, "local"), (done, "someone.with.a.long.name@example.com")):
        store.claim(
            task_id, owner=owner, receive_count=1, max_receives=5, lease_token="l", lease_seconds=60
        )
    store.write_progress(running, "l", progress(0.5, "row 500 of 1000"), owner="local")
    store.finish(done, "l", TaskState.SUCCEEDED, owner="someone.with.a.long.name@example.com")
    # WHEN `make tasks` runs in an 80-column terminal
    narrow = tasks_command(80)
    # THEN no line is wider than the terminal and nothing is cut short
    assert narrow.returncode == 0, narrow.stderr
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80
    assert "…" not in narrow.stdout
    # AND each task's id, state, percentage and last update are there whole
    lines = narrow.stdout.splitlines()
    [running_line] = [line for line in lines if line.startswith(running)]
    [done_line] = [line for line in lines if line.startswith(done)]
    assert running_line.split()[1:4] == ["running", "1", "50%"]
    assert done_line.split()[1:3] == ["succeeded", "1"]
    assert re.search(r" \d\d:\d\d:\d\d$", done_line)
    # AND the title says which columns a wider terminal shows
    title = " ".join(" ".join(lines[:2]).split())
    assert "name, owner, created hidden: a wider terminal shows them" in title
    # WHEN it runs in a wide terminal
    wide = tasks_command(200)
    # THEN every column is there
    assert wide.returncode == 0, wide.stderr
    header = next(line for line in wide.stdout.splitlines() if line.startswith("id"))
    assert header.split() == [
        "id",
        "name",
        "owner",
        "status",
        "attempts",
        "progress",
        "created",
        "updated",
    ]
    assert "someone.with.a.long.name@example.com" in wide.stdout
    assert "hidden" not in wide.stdout


task_rows = st.builds(
    tasks.TaskRow,
    task_id=st.uuids().map(lambda value: value.hex),
    name=st.from_regex(r"[a-z_]{1,40}", fullmatch=True),
    owner=st.from_regex(r"[A-Za-z0-9@._-]{1,60}", fullmatch=True),
    status=st.sampled_from(sorted(tasks.STATE_STYLES)),
    attempts=st.integers(0, 99),
    created_at=st.just("2026-12-08T00:12:37+00:00"),
    updated_at=st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
    fraction=st.none() | st.floats(0, 1),
    message=st.none()
    | st.text(st.characters(codec="ascii", categories=["L", "N", "Zs"]), max_size=60),
)


@given(rows=st.lists(task_rows, max_size=5), width=st.integers(34, 220))
@settings(max_examples=60, deadline=None)
def test_any_tasks_in_any_terminal_are_drawn_without_a_cut_cell(
    rows: list[tasks.TaskRow], width: int
) -> None:
    # GIVEN any recent tasks and a terminal of any width an id fits in
    console = Console(file=io.StringIO(), width=width, color_system=None)
    # WHEN the table is drawn for it
    console.print(tasks.render(rows, width))
    # THEN no line overflows, nothing is cut short, every id and state is there whole
    assert isinstance(console.file, io.StringIO)
    drawn = console.file.getvalue()
    assert max(len(line) for line in drawn.splitlines()) <= width
    assert "…" not in drawn
    for row in rows:
        assert row.task_id in drawn
        assert row.status in drawn
