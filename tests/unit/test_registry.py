import pytest
from pydantic import BaseModel

from app.tasks.context import TaskContext
from app.tasks.registry import TaskRegistry, TaskResult, UnknownTaskError


class Greeting(BaseModel):
    name: str


def test_registered_task_is_found_by_name_and_version() -> None:
    # GIVEN a registry with one task
    registry = TaskRegistry()

    @registry.task("greet", version=2)
    def greet(arguments: Greeting) -> TaskResult:
        return {"text": f"hello {arguments.name}"}

    # WHEN it is looked up THEN it runs with its typed arguments
    definition = registry.get("greet", 2)
    assert definition.arguments is Greeting
    assert definition(Greeting(name="ada")) == {"text": "hello ada"}
    # AND another version is unknown, with a message naming it
    with pytest.raises(UnknownTaskError, match="'greet' version 1"):
        registry.get("greet", 1)


def test_a_task_must_take_one_model() -> None:
    registry = TaskRegistry()
    with pytest.raises(TypeError, match="one pydantic model argument"):

        @registry.task("bad")  # type: ignore[type-var]  # the mistake under test
        def bad(name: str) -> TaskResult:
            return {}


def test_a_second_parameter_must_be_the_task_context() -> None:
    registry = TaskRegistry()
    with pytest.raises(TypeError, match="optionally followed by a TaskContext"):

        @registry.task("bad")  # type: ignore[arg-type]  # the mistake under test
        def bad(arguments: Greeting, other: int) -> TaskResult:
            return {}


def test_a_task_that_takes_a_context_receives_it() -> None:
    # GIVEN a task that declares a TaskContext
    registry = TaskRegistry()

    @registry.task("whoami")
    def whoami(arguments: Greeting, context: TaskContext) -> TaskResult:
        return {"owner": context.owner, "attempt": context.attempt}

    # WHEN it runs with a context THEN it sees who it runs for and which attempt this is
    context = TaskContext(
        task_id="t1", owner="alice", attempt=2, correlation_id=None, remaining_millis=lambda: 1
    )
    assert registry.get("whoami", 1)(Greeting(name="x"), context) == {
        "owner": "alice",
        "attempt": 2,
    }


def test_a_name_cannot_be_registered_twice() -> None:
    registry = TaskRegistry()

    @registry.task("once")
    def first(arguments: Greeting) -> TaskResult:
        return {}

    with pytest.raises(ValueError, match="registered twice"):

        @registry.task("once")
        def second(arguments: Greeting) -> TaskResult:
            return {}
