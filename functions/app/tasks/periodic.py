"""Periodic tasks: declared next to the task, fired by EventBridge Scheduler into the task queue.

``@periodic("rate(1 hour)")`` (or a ``cron(...)`` expression) above ``@task(...)`` declares a
schedule; template.yaml holds one ``AWS::Scheduler::Schedule`` per declaration (printed by
``python -m app.tasks.periodic_template``; a test fails when the two disagree). A schedule
delivers a *firing*, not an envelope: no API wrote a status record for it, and the task id
must be the same for every delivery of one firing, so the worker builds the envelope itself
(``accept``) from the firing's scheduled time, for the reserved ``SYSTEM_OWNER``, and only
for a firing that matches a declaration of this deployment (task, version and arguments).
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Literal, Protocol, overload

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from app.tasks import schedule_expression
from app.tasks.envelope import TaskEnvelope
from app.tasks.registry import TaskDefinition

# Owns every periodic run. A caller's owner is a token's ``sub`` that must match
# app.api.identity's pattern (no ":") or the local owner, so no caller can ever be it.
SYSTEM_OWNER = "system:periodic"
# The envelope's task id is periodic-<key>-<YYYYMMDDTHHMMSSZ>: at most 64 characters. The
# worker may create status records only under this prefix (template.yaml, WorkerRole).
TASK_ID_PREFIX = "periodic-"
MAX_KEY_LENGTH = 38
_KEY = re.compile(rf"^[a-z0-9](?:[a-z0-9-]{{0,{MAX_KEY_LENGTH - 2}}}[a-z0-9])?$")
# EventBridge Scheduler puts these in a target's Input when it fires (its context attributes).
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
EXECUTION_ID = "<aws.scheduler.execution-id>"


@dataclass(frozen=True)
class PeriodicTask:
    """One declaration: which task runs, with which arguments, on which schedule."""

    key: str
    expression: str
    task: str
    version: int
    arguments: dict[str, Any]

    @property
    def logical_id(self) -> str:
        """The template resource: ``expired-results`` -> ``PeriodicExpiredResultsSchedule``."""
        return "Periodic" + "".join(part.capitalize() for part in self.key.split("-")) + "Schedule"

    @property
    def schedule_name(self) -> str:
        """The template schedule's explicit Name: never ``task-...``, the API's schedules."""
        return f"{TASK_ID_PREFIX}{self.key}"

    def input(self) -> dict[str, Any]:
        """The schedule's Input (the message body), with the context attributes to fill in."""
        return {
            "format": 1,
            "periodic": self.key,
            "name": self.task,
            "version": self.version,
            "arguments": self.arguments,
            "scheduled_time": SCHEDULED_TIME,
            "execution_id": EXECUTION_ID,
        }

    def task_id(self, firing: "PeriodicFiring") -> str:
        """The same for every delivery of one firing, so a duplicate runs at most once."""
        when = firing.scheduled_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return f"{TASK_ID_PREFIX}{self.key}-{when}"


class PeriodicFiring(BaseModel):
    """What a schedule delivers to the task queue, once EventBridge filled in its attributes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1]
    periodic: str = Field(pattern=_KEY.pattern)
    name: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=1)
    arguments: dict[str, Any]
    scheduled_time: AwareDatetime
    execution_id: str | None = Field(default=None, max_length=200)


@dataclass(frozen=True)
class Refused:
    """A firing that no declaration of this deployment matches: never run it."""

    reason: str


def parse_firing(body: str) -> PeriodicFiring | None:
    """The firing a message body holds, or None when it is not one."""
    try:
        return PeriodicFiring.model_validate_json(body)
    except ValidationError:
        return None


def accept(firing: PeriodicFiring, declared: PeriodicTask | None) -> TaskEnvelope | Refused:
    """The envelope a firing stands for, or why it must not run (pure)."""
    if declared is None:
        return Refused(f"no periodic task {firing.periodic!r} is declared in this deployment")
    if (firing.name, firing.version) != (declared.task, declared.version):
        return Refused(
            f"periodic task {declared.key!r} runs {declared.task} version {declared.version}, "
            f"not {firing.name} version {firing.version}"
        )
    if firing.arguments != declared.arguments:
        return Refused(f"the arguments differ from periodic task {declared.key!r}'s declaration")
    task_id = declared.task_id(firing)
    return TaskEnvelope(
        task_id=task_id,
        name=declared.task,
        version=declared.version,
        owner=SYSTEM_OWNER,
        arguments=declared.arguments,
        correlation_id=firing.execution_id or task_id,
        enqueued_at=firing.scheduled_time,
    )


class PeriodicSchedules:
    """Key -> declaration, for the worker (to accept firings) and the template printer."""

    def __init__(self) -> None:
        self._declared: dict[str, PeriodicTask] = {}

    def add(self, declaration: PeriodicTask) -> None:
        if declaration.key in self._declared:
            raise ValueError(
                f"periodic task {declaration.key!r} is declared twice: give one a key=..."
            )
        self._declared[declaration.key] = declaration

    def get(self, key: str) -> PeriodicTask | None:
        return self._declared.get(key)

    def __iter__(self) -> Iterator[PeriodicTask]:
        return iter(sorted(self._declared.values(), key=lambda declared: declared.key))

    @overload
    def periodic[A: BaseModel](
        self, expression: str, *, arguments: A, key: str | None = None
    ) -> Callable[[TaskDefinition[A]], TaskDefinition[A]]: ...

    @overload
    def periodic(
        self, expression: str, *, arguments: None = None, key: str | None = None
    ) -> "_Declare": ...

    def periodic(
        self, expression: str, *, arguments: BaseModel | None = None, key: str | None = None
    ) -> Callable[[TaskDefinition[Any]], TaskDefinition[Any]]:
        """Run the task below on ``expression`` (UTC), with ``arguments`` (its model's
        defaults if None); ``key`` names the schedule (the task's name by default)."""
        schedule_expression.validate(expression)

        def declare(definition: TaskDefinition[Any]) -> TaskDefinition[Any]:
            if not isinstance(definition, TaskDefinition):
                raise TypeError("@periodic(...) goes above @task(...), which it schedules")
            name = key or definition.name.replace("_", "-")
            if not _KEY.match(name):
                raise ValueError(
                    f"periodic key {name!r} must be 1-{MAX_KEY_LENGTH} lower-case letters, "
                    "digits and inner hyphens: pass key=..."
                )
            if arguments is not None and not isinstance(arguments, definition.arguments):
                raise TypeError(
                    f"task {definition.name} takes {definition.arguments.__name__}, "
                    f"not {type(arguments).__name__}"
                )
            try:
                chosen = arguments if arguments is not None else definition.arguments()
            except ValidationError as error:
                raise TypeError(
                    f"{definition.arguments.__name__} has required fields: "
                    f"pass @periodic(..., arguments=...) ({error.error_count()} missing)"
                ) from None
            self.add(
                PeriodicTask(
                    name,
                    expression,
                    definition.name,
                    definition.version,
                    chosen.model_dump(mode="json"),
                )
            )
            return definition

        return declare


class _Declare(Protocol):
    """What ``@periodic(expression)`` returns: it keeps the task's own argument model."""

    def __call__[A: BaseModel](self, definition: TaskDefinition[A], /) -> TaskDefinition[A]: ...


schedules = PeriodicSchedules()
periodic = schedules.periodic
