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
import io
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class Layout:
    """Which columns a table shows, for a terminal of some width."""

    owner: bool = True
    created: bool = True
    bar: bool = True
    attempts_header: str = "attempts"
    progress_header: str = "progress"
    name: bool = True


# Percentages without bars, under shorter headers.
_BARLESS = Layout(
    created=False, owner=False, bar=False, attempts_header="tries", progress_header="done"
)

# Widest first; the first whose narrowest rendering fits the terminal is drawn, so no column is
# ever cut: the owner and created time go first, then the bar (the percentage stays), then the
# name. Ids always stay whole, to paste into GET /tasks/{id}.
LAYOUTS = (
    Layout(),
    Layout(created=False),
    Layout(created=False, owner=False),
    _BARLESS,
    replace(_BARLESS, name=False),
)


def render(tasks: list[TaskRow], width: int | None = None) -> RenderableType:
    """The table in the widest layout that fits ``width`` columns (all of them if None)."""
    table: RenderableType | None = None
    for layout in LAYOUTS:
        candidate = _table(tasks, layout)
        if width is None or _whole(candidate, tasks, width):
            table = candidate
            break
    if not tasks:
        return Group(table or Text(TITLE), Text("No tasks yet: send one (POST /process/...)."))
    return table or _stacked(tasks)


TITLE = "Recent tasks, newest first"


def _whole(table: Table, tasks: list[TaskRow], width: int) -> bool:
    """Whether ``table``, drawn ``width`` columns wide, shows every header and the cells that
    never fold (ids, states, times) whole: rich shortens a column that does not fit."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None).print(table)
    drawn = buffer.getvalue()
    cells = [str(column.header) for column in table.columns]
    for row in tasks:
        cells += [row.task_id, row.status, _time(row.updated_at)]
    return "…" not in drawn and all(cell in drawn for cell in cells)


def _stacked(tasks: list[TaskRow]) -> RenderableType:
    """Narrower than any table: a task to a paragraph, its id on a line of its own."""
    paragraphs: list[RenderableType] = [Text(f"{TITLE} ({len(tasks)} shown; times UTC)")]
    for row in tasks:
        details = [row.status, f"{row.attempts} tries", f"updated {_time(row.updated_at)}"]
        if row.fraction is not None:
            details.append(f"{row.fraction:.0%}" + (f" {row.message}" if row.message else ""))
        paragraphs.append(Text(row.task_id, style=STATE_STYLES.get(row.status, "")))
        paragraphs.append(Text("  " + ", ".join(details)))
    return Group(*paragraphs)


def _table(tasks: list[TaskRow], layout: Layout) -> Table:
    shown = {"name": layout.name, "owner": layout.owner, "created": layout.created}
    hidden = [column for column, visible in shown.items() if not visible]
    note = f"; {', '.join(hidden)} hidden: a wider terminal shows them" if hidden else ""
    table = Table(
        title=f"{TITLE} ({len(tasks)} shown; times UTC{note})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1, 0, 0),
    )
    # Ids and states stay whole; a long name, owner or message folds, and the bar keeps its
    # width.
    table.add_column("id", no_wrap=True)
    if layout.name:
        table.add_column("name", min_width=12, overflow="fold")
    if layout.owner:
        table.add_column("owner", min_width=12, overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column(layout.attempts_header, justify="right", no_wrap=True)
    table.add_column(
        layout.progress_header, min_width=BAR_WIDTH + 6 if layout.bar else 4, overflow="fold"
    )
    if layout.created:
        table.add_column("created", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    for row in tasks:
        cells: list[RenderableType] = [row.task_id]
        if layout.name:
            cells.append(row.name)
        if layout.owner:
            cells.append(row.owner)
        cells += [
            Text(row.status, style=STATE_STYLES.get(row.status, "")),
            str(row.attempts),
            _progress(row, bar=layout.bar),
        ]
        if layout.created:
            cells.append(_time(row.created_at))
        cells.append(_time(row.updated_at))
        table.add_row(*cells)
    return table


def watch(
    fetch: Callable[[], list[TaskRow]],
    console: Console,
    *,
    interval: float = REFRESH_SECONDS,
    rounds: int | None = None,
) -> None:
    """Redraw the table every ``interval`` seconds (``rounds`` times, or until Ctrl-C)."""
    with Live(render(fetch(), console.width), console=console, refresh_per_second=4) as live:
        done = 1
        while rounds is None or done < rounds:
            time.sleep(interval)
            live.update(render(fetch(), console.width))
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
            console.print(render(fetch(), console.width))
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


def _progress(row: TaskRow, *, bar: bool = True) -> RenderableType:
    if row.fraction is None:
        return ""
    label = Text(f"{row.fraction:>4.0%}" + (f" {row.message}" if row.message else ""))
    if not bar:
        return label
    grid = Table.grid(padding=(0, 1))
    grid.add_row(ProgressBar(total=1.0, completed=row.fraction, width=BAR_WIDTH), label)
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
