"""Typed tasks: a function whose single argument is a pydantic model, registered by name."""

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel

TaskResult = dict[str, Any]


class UnknownTaskError(LookupError):
    """A message names a task (or version) that this deployment does not have."""


class PermanentTaskError(Exception):
    """Raised by a task when retrying cannot help (the message goes straight to `dead`)."""


@dataclass(frozen=True)
class TaskDefinition[A: BaseModel]:
    name: str
    version: int
    arguments: type[A]
    run: Callable[[A], TaskResult]

    def __call__(self, arguments: A) -> TaskResult:
        return self.run(arguments)


class TaskRegistry:
    """Name → task. The API sends by definition, the worker looks up by name and version."""

    def __init__(self) -> None:
        self._tasks: dict[tuple[str, int], TaskDefinition[Any]] = {}

    def task[A: BaseModel](
        self, name: str, *, version: int = 1
    ) -> Callable[[Callable[[A], TaskResult]], TaskDefinition[A]]:
        """Register ``func(arguments: SomeModel) -> dict`` as task ``name``."""

        def register(func: Callable[[A], TaskResult]) -> TaskDefinition[A]:
            definition = TaskDefinition(name, version, _argument_model(func), func)
            if (name, version) in self._tasks:
                raise ValueError(f"task {name!r} version {version} is registered twice")
            self._tasks[name, version] = definition
            return definition

        return register

    def get(self, name: str, version: int) -> TaskDefinition[Any]:
        try:
            return self._tasks[name, version]
        except KeyError:
            raise UnknownTaskError(f"no task {name!r} version {version} is registered") from None

    def __iter__(self) -> Iterator[TaskDefinition[Any]]:
        return iter(self._tasks.values())


def _argument_model(func: Callable[..., TaskResult]) -> type[Any]:
    parameters = list(inspect.signature(func).parameters)
    hints = get_type_hints(func)
    if len(parameters) != 1 or not (
        isinstance(hints.get(parameters[0]), type) and issubclass(hints[parameters[0]], BaseModel)
    ):
        raise TypeError(f"task {func.__name__} must take exactly one pydantic model argument")
    return hints[parameters[0]]  # type: ignore[no-any-return]


registry = TaskRegistry()
task = registry.task
