"""Reading a runtime's output: its structured records survive other threads' writes."""

import json

from tests.runtime.process import json_logs


def test_records_are_found_even_when_another_thread_s_output_shares_their_line() -> None:
    # GIVEN output where a JSON record follows a traceback's last line without a newline, and
    # another is followed by stray text, between plain lines and a non-record JSON value
    first = {"level": "ERROR", "message": "post-response work cancelled", "request_id": "r1"}
    second = {"level": "INFO", "message": "done", "detail": {"nested": "{not a record}"}}
    output = "\n".join(
        [
            "START RequestId: r1",
            "Traceback (most recent call last):",
            "asyncio.exceptions.CancelledError" + json.dumps(first),
            json.dumps(second) + " [ERROR] something else",
            '{"just": "data"}',
            "{ not json at all",
        ]
    )

    # WHEN the records are parsed
    records = json_logs(output)

    # THEN both records are there, whole and in order, and nothing else
    assert records == [first, second]
