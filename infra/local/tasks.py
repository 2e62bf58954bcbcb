"""``make tasks``: the local stack's recent tasks as a table; ``--watch`` keeps it current.

An operator's view of every owner's tasks, newest first: id, name, owner, state (as clients
read it: a ``running`` record whose worker died reads ``failed`` or ``dead``), attempts,
progress, created and updated times. ``--watch`` redraws it every second, with a progress bar
per running task, so a batch can be watched going through; Ctrl-C ends it.

It finds the task table as ``make redrive`` does: the one ``python -m infra.local`` created
from the template on 127.0.0.1:LOCAL_AWS_PORT (4566). With TASK_TABLE_NAME set, the
environment's AWS and that table are used instead. Every owner's tasks means a Scan, read up
to ``MAX_SCANNED`` records: right for a local stack, a cost to think about on a large
deployed table (clients list their own tasks with ``GET /tasks``, which queries an index).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from app.tasks.status import as_seen, item_values
from infra.local.redrive import local_environment

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_SCANNED = 10_000
DEFAULT_ROWS = 20
REFRESH_SECONDS = 1.0
BAR_WIDTH = 12
STATE_STYLES = {
    "queued": "cyan",
    "scheduled": "cyan",
    "running": "bold yellow",
    "succeeded": "green",
    "failed": "magenta",
    "dead": "bold red",
    "cancelled": "dim",
}


class StackNotFound(Exception):
    """No task table where one was expected, said in one line."""


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    name: str
    owner: str
    status: str
    attempts: int
    created_at: str
    updated_at: str
    fraction: float | None = None
    message: str | None = None


def recent_tasks(
    dynamodb: DynamoDBClient, table: str, *, rows: int = DEFAULT_ROWS, now: float | None = None
) -> list[TaskRow]:
    """The ``rows`` newest unexpired tasks of every owner, as clients would read them."""
    moment = time.time() if now is None else now
    found: list[TaskRow] = []
    for item in _scan(dynamodb, table):
        values = item_values(item)
        if int(values.get("expires_at", 0)) <= moment:
            continue  # past its expiry: gone to clients, whatever TTL has not deleted yet
        seen = as_seen(values, moment)
        progress = seen.get("progress") or {}
        found.append(
            TaskRow(
                task_id=str(seen["task_id"]),
                name=str(seen.get("name", "")),
                owner=str(seen.get("owner", "")),
                status=str(seen["status"]),
                attempts=int(seen.get("attempts", 0)),
                created_at=str(seen.get("created_at", "")),
                updated_at=str(seen.get("updated_at", "")),
                fraction=progress.get("fraction"),
                message=progress.get("message"),
            )
        )
    found.sort(key=lambda row: _instant(row.created_at), reverse=True)
    return found[:rows]


def render(tasks: list[TaskRow]) -> RenderableType:
    """The table, with a progress bar for each running task that reported progress."""
    table = Table(
        title=f"Recent tasks, newest first ({len(tasks)} shown; times UTC)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    # Ids stay whole (to paste into GET /tasks/{id}); a long owner or message folds, and the
    # bar keeps its width.
    table.add_column("id", no_wrap=True)
    table.add_column("name", min_width=12, overflow="fold")
    table.add_column("owner", min_width=12, overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("attempts", justify="right", no_wrap=True)
    table.add_column("progress", min_width=BAR_WIDTH + 6, overflow="fold")
    table.add_column("created", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    for row in tasks:
        table.add_row(
            row.task_id,
            row.name,
            row.owner,
            Text(row.status, style=STATE_STYLES.get(row.status, "")),
            str(row.attempts),
            _progress(row),
            _time(row.created_at),
            _time(row.updated_at),
        )
    if not tasks:
        return Group(table, Text("No tasks yet: send one (POST /process/...)."))
    return table


def watch(
    fetch: Callable[[], list[TaskRow]],
    console: Console,
    *,
    interval: float = REFRESH_SECONDS,
    rounds: int | None = None,
) -> None:
    """Redraw the table every ``interval`` seconds (``rounds`` times, or until Ctrl-C)."""
    with Live(render(fetch()), console=console, refresh_per_second=4) as live:
        done = 1
        while rounds is None or done < rounds:
            time.sleep(interval)
            live.update(render(fetch()))
            done += 1


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--watch", action="store_true", help="refresh every second (Ctrl-C)")
    parser.add_argument("--rows", type=_positive, default=DEFAULT_ROWS, help="tasks shown")
    arguments = parser.parse_args(argv)
    console = console or Console()
    try:
        table = _find_table()
        dynamodb = boto3.client("dynamodb")
        _check_table(dynamodb, table)

        def fetch() -> list[TaskRow]:
            return recent_tasks(dynamodb, table, rows=arguments.rows)

        if arguments.watch:
            watch(fetch, console)
        else:
            console.print(render(fetch()))
    except StackNotFound as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    except BotoCoreError as error:
        # Stopped while watched (or answering something else): one line, not a traceback.
        sys.stderr.write(f"error: the stack stopped answering ({type(error).__name__})\n")
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _find_table() -> str:
    """The task table's name, with the environment pointed at its stack."""
    if table := os.environ.get("TASK_TABLE_NAME"):
        return table
    port = os.environ.get("LOCAL_AWS_PORT", "4566")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    environment = local_environment(port)
    os.environ.update(environment)
    if not _listening(int(port)):
        raise StackNotFound(
            f"no local stack on 127.0.0.1:{port}: start it with `make run` (or set "
            "LOCAL_AWS_PORT); for a deployed stack, set TASK_TABLE_NAME"
        )
    return environment["TASK_TABLE_NAME"]


def _check_table(dynamodb: DynamoDBClient, table: str) -> None:
    try:
        dynamodb.describe_table(TableName=table)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        raise StackNotFound(
            f"no task table {table!r} there: is it `make run` that listens on that port?"
        ) from None
    except BotoCoreError as error:
        raise StackNotFound(f"the stack does not answer ({type(error).__name__})") from None


def _scan(dynamodb: DynamoDBClient, table: str) -> Iterator[dict[str, Any]]:
    scanned = 0
    parameters: dict[str, Any] = {"TableName": table}
    while scanned < MAX_SCANNED:
        page = dynamodb.scan(**parameters, Limit=min(1000, MAX_SCANNED - scanned))
        scanned += page.get("ScannedCount", 0)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        parameters["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _progress(row: TaskRow) -> RenderableType:
    if row.fraction is None:
        return ""
    label = Text(f"{row.fraction:>4.0%}" + (f" {row.message}" if row.message else ""))
    bar = ProgressBar(total=1.0, completed=row.fraction, width=BAR_WIDTH)
    grid = Table.grid(padding=(0, 1))
    grid.add_row(bar, label)
    return grid


def _instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _time(text: str) -> str:
    """UTC, to the second: what a person watching a batch needs (recent tasks are today's)."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC).strftime("%H:%M:%S")
    except ValueError:
        return text


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
