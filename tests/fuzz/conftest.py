"""The functional tests' moto stack, with SQS's message rules that moto does not enforce.

Real SQS refuses a message whose body or string attribute holds a character outside its
allowed set, an empty value, more than ten attributes or a badly formed attribute name;
moto accepts them all. Fuzzed input reaches SendMessage(Batch), so the fuzz stack refuses
what SQS would, the way SQS would: a ClientError from the call.
"""

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, settings

from tests.functional.conftest import stack
from tests.functional.stack import Stack

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["fuzz_settings", "fuzz_stack", "generated_cases", "stack"]

# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"(?!(?i:aws|amazon)\.)(?!\.)(?!.*\.\.)[A-Za-z0-9_.-]{1,256}(?<!\.)")
MAX_ATTRIBUTES = 10
# A message's body and attributes (each one's name, type and value) together, since 2025.
MAX_MESSAGE_BYTES = 1024 * 1024


def sqs_text_problem(text: str) -> str | None:
    if not text:
        return "must not be empty"
    found = _NOT_SQS_TEXT.search(text)
    return f"holds {found.group()!r}, which SQS does not allow" if found else None


def message_problem(message: dict[str, Any]) -> str | None:
    """Why SQS would refuse this SendMessage or batch entry, or None."""
    problems = [sqs_text_problem(message.get("MessageBody", ""))]
    attributes: dict[str, Any] = message.get("MessageAttributes") or {}
    if len(attributes) > MAX_ATTRIBUTES:
        problems.append(f"{len(attributes)} message attributes, more than {MAX_ATTRIBUTES}")
    for name, value in attributes.items():
        if not _ATTRIBUTE_NAME.fullmatch(name):
            problems.append(f"attribute name {name!r} is invalid")
        if "StringValue" in value:
            problem = sqs_text_problem(value["StringValue"])
            problems.append(f"attribute {name!r} {problem}" if problem else None)
    size = len(message.get("MessageBody", "").encode()) + sum(
        len(f"{name}{value.get('DataType', '')}{value.get('StringValue', '')}".encode())
        for name, value in attributes.items()
    )
    if size > MAX_MESSAGE_BYTES:
        problems.append(f"the message is {size} bytes, more than {MAX_MESSAGE_BYTES}")
    found = [problem for problem in problems if problem]
    return "; ".join(found) or None


def refuse_what_sqs_refuses(client: "SQSClient") -> None:
    """Make ``client``'s sends fail as SQS's would, for messages SQS cannot hold."""

    def check(params: dict[str, Any], model: Any, **_: Any) -> None:
        messages = params.get("Entries") or [params]
        for message in messages:
            problem = message_problem(message)
            if problem:
                raise ClientError(
                    {"Error": {"Code": "InvalidParameterValue", "Message": problem}},
                    model.name,
                )

    for operation in ("SendMessage", "SendMessageBatch"):
        client.meta.events.register(f"before-parameter-build.sqs.{operation}", check)


def fuzz_settings(max_examples: int) -> settings:
    """Every fuzz run's Hypothesis settings: a fixed seed, no example database, no deadline.

    A run's examples share the test's moto stack (a function-scoped fixture) on purpose.
    """
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# Generated cases per fuzz run, that is requests sent or batches handled, for the summary.
generated_cases: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if generated_cases:
        terminalreporter.section("fuzz: generated cases")
        for run, count in sorted(generated_cases.items()):
            terminalreporter.write_line(f"{count:5d}  {run}")
        api = sum(count for run, count in generated_cases.items() if run.startswith("API "))
        if api:
            terminalreporter.write_line(f"{api:5d}  API requests in all")


@pytest.fixture
def fuzz_stack(stack: Stack) -> Stack:
    """The moto stack; its SQS client (the one the app uses too) holds to SQS's rules."""
    refuse_what_sqs_refuses(stack.sqs)
    return stack
