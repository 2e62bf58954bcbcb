"""A LambdaContext for calling handlers in-process, as Lambda would."""

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class FakeContext:
    remaining_ms: int = 30_000
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/27/[$LATEST]0123456789abcdef"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    _start: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(int(self.remaining_ms - (time.monotonic() - self._start) * 1000), 0)
