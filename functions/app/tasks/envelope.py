"""The message that carries one task over SQS, validated on both sides."""

from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

PAYLOAD_PREFIX = "payloads/"
# What the worker reads of a claim-checked payload at most: the API's request bodies are far
# smaller, so anything larger was not written by the API.
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
# SQS's limit for one message, its body and attributes together: 1 MiB since August 2025
# (256 KiB before), as is Lambda's SQS event source's; both queues' MaximumMessageSize says
# so too (template.yaml).
SQS_MAX_MESSAGE_BYTES = 1024 * 1024


def payload_key(task_id: str) -> str:
    """The one S3 key a task's claim-checked arguments may live at."""
    return f"{PAYLOAD_PREFIX}{task_id}.json"


class TaskEnvelope(BaseModel):
    """One task, as it travels from the API to the worker (and to the dead-letter queue)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = 1
    task_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=1)
    # The caller who queued the task (the JWT ``sub``); the worker re-checks it against the
    # status record, so a forged message cannot act for another owner.
    owner: str = Field(min_length=1, max_length=256)
    arguments: dict[str, Any] | None = None
    # Claim check: arguments too large for SQS are stored in S3 under payload_key(task_id).
    arguments_key: str | None = None
    # Sends of this task so far: 1 on the first send, +1 at each redrive from the DLQ.
    attempt: int = Field(default=1, ge=1)
    correlation_id: str | None = Field(default=None, max_length=200)
    enqueued_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def message_body(self) -> str:
        """The envelope as JSON for SQS, in ASCII: arguments may hold characters that SQS
        refuses in a body (most control characters, U+FFFE, U+FFFF); as JSON escapes they pass."""
        return self.model_dump_json(ensure_ascii=True)

    @model_validator(mode="after")
    def _exactly_one_argument_source(self) -> Self:
        if (self.arguments is None) == (self.arguments_key is None):
            raise ValueError("an envelope carries either arguments or arguments_key, not both")
        # Else a forged message could make the worker read any object as arguments.
        if self.arguments_key is not None and self.arguments_key != payload_key(self.task_id):
            raise ValueError("arguments_key must be payloads/<task id>.json")
        return self
