import pytest
from pydantic import ValidationError

from app.tasks.envelope import TaskEnvelope


def test_envelope_round_trips_through_json() -> None:
    # GIVEN an envelope with arguments
    envelope = TaskEnvelope(
        task_id="abc", name="process_file", version=1, owner="alice", arguments={"a": 1}
    )
    # WHEN it is serialised and parsed back
    parsed = TaskEnvelope.model_validate_json(envelope.model_dump_json())
    # THEN nothing is lost
    assert parsed == envelope
    assert parsed.attempt == 1


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"task_id": "abc"}',
        '{"format": 2, "task_id": "a", "name": "n", "version": 1, "arguments": {}}',
        '{"task_id": "a b", "name": "n", "version": 1, "arguments": {}}',
        '{"task_id": "a", "name": "n", "version": 1}',
        '{"task_id": "a", "name": "n", "version": 1, "arguments": {}, "arguments_key": "k"}',
        '{"task_id": "a", "name": "n", "version": 1, "arguments": {}, "extra": 1}',
    ],
)
def test_malformed_envelopes_are_rejected(body: str) -> None:
    # GIVEN a body that is not a valid envelope WHEN parsed THEN validation fails
    with pytest.raises(ValidationError):
        TaskEnvelope.model_validate_json(body)
