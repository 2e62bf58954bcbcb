"""A LambdaContext for calling handlers in-process, as Lambda would."""

import time
import uuid

from aws_lambda_powertools.utilities.typing import LambdaContext


class FakeContext(LambdaContext):
    """Powertools' LambdaContext with the values Lambda would fill in, and a real deadline."""

    def __init__(
        self,
        *,
        remaining_ms: int = 30_000,
        function_name: str = "test-function",
        memory_limit_in_mb: int = 512,
        aws_request_id: str | None = None,
    ) -> None:
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self._memory_limit_in_mb = memory_limit_in_mb
        self._aws_request_id = aws_request_id or str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = "2026/11/27/[$LATEST]0123456789abcdef"
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return max(int((self._deadline - time.monotonic()) * 1000), 0)
