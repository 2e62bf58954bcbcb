"""Typed tasks: a function whose single argument is a pydantic model, registered by name."""

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, get_type_hints, overload

from pydantic import BaseModel

from app.tasks.context import TaskContext

TaskResult = dict[str, Any]
# A task takes its typed arguments, and optionally the context it runs in.
TaskFunction = Callable[[Any], TaskResult] | Callable[[Any, TaskContext], TaskResult]
# How long a task may take unless it says otherwise: the worker starts a record only while
# its invocation has this much time left (plus a margin to record the outcome).
DEFAULT_MAX_SECONDS = 10


class UnknownTaskError(LookupError):
    """A message names a task (or version) that this deployment does not have."""


class PermanentTaskError(Exception):
    """Raised by a task when retrying cannot help (the message goes straight to `dead`)."""


@dataclass(frozen=True)
class TaskDefinition[A: BaseModel]:
    name: str
    version: int
    arguments: type[A]
    run: TaskFunction
    takes_context: bool = False
    max_seconds: float = DEFAULT_MAX_SECONDS

    def __call__(self, arguments: A, context: TaskContext | None = None) -> TaskResult:
        if self.takes_context:
            if context is None:
                raise TypeError(f"task {self.name} needs a TaskContext")
            return self.run(arguments, context)  # type: ignore[call-arg]
        return self.run(arguments)  # type: ignore[call-arg]


class TaskRegistry:
    """Name → task. The API sends by definition, the worker looks up by name and version."""

    def __init__(self) -> None:
        self._tasks: dict[tuple[str, int], TaskDefinition[Any]] = {}

    def task(
        self, name: str, *, version: int = 1, max_seconds: float = DEFAULT_MAX_SECONDS
    ) -> "_Register":
        """Register ``func(arguments: SomeModel[, context: TaskContext]) -> dict`` as ``name``.

        ``max_seconds`` is how long one run may take: a batch starts the task only while its
        invocation has that much time left.
        """
        return _Register(self, name, version, max_seconds)

    def add(self, definition: TaskDefinition[Any]) -> None:
        key = (definition.name, definition.version)
        if key in self._tasks:
            raise ValueError(f"task {key[0]!r} version {key[1]} is registered twice")
        self._tasks[key] = definition

    def get(self, name: str, version: int) -> TaskDefinition[Any]:
        try:
            return self._tasks[name, version]
        except KeyError:
            raise UnknownTaskError(f"no task {name!r} version {version} is registered") from None

    def __iter__(self) -> Iterator[TaskDefinition[Any]]:
        return iter(self._tasks.values())


@dataclass(frozen=True)
class _Register:
    """The decorator ``TaskRegistry.task`` returns; typed so that a definition keeps its model."""

    registry: TaskRegistry
    name: str
    version: int
    max_seconds: float = DEFAULT_MAX_SECONDS

    @overload
    def __call__[A: BaseModel](self, func: Callable[[A], TaskResult]) -> TaskDefinition[A]: ...

    @overload
    def __call__[A: BaseModel](
        self, func: Callable[[A, TaskContext], TaskResult]
    ) -> TaskDefinition[A]: ...

    def __call__(self, func: TaskFunction) -> TaskDefinition[Any]:
        arguments, takes_context = _signature(func)
        definition = TaskDefinition(
            self.name, self.version, arguments, func, takes_context, self.max_seconds
        )
        self.registry.add(definition)
        return definition


def _signature(func: Callable[..., TaskResult]) -> tuple[type[Any], bool]:
    """The task's argument model, and whether it also takes a ``TaskContext``."""
    parameters = list(inspect.signature(func).parameters)
    hints = get_type_hints(func)
    model = hints.get(parameters[0]) if parameters else None
    takes_context = len(parameters) == 2 and hints.get(parameters[1]) is TaskContext
    if (
        not (isinstance(model, type) and issubclass(model, BaseModel))
        or len(parameters) > 2
        or (len(parameters) == 2 and not takes_context)
    ):
        raise TypeError(
            f"task {func.__name__} must take one pydantic model argument, "
            "optionally followed by a TaskContext"
        )
    return model, takes_context


registry = TaskRegistry()
task = registry.task
