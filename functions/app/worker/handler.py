"""The worker function's entry point (template.yaml: Handler app.worker.handler.handler)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from app.observability import logger, metrics
from app.worker.wiring import idempotency_config, task_runner

# Made in Init, on a whole vCPU, rather than by the first batch (see app.api.handler): the
# settings, the AWS clients and the task runner.
task_runner()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config().register_lambda_context(context)
    # One processor per invocation: it keeps per-batch state, and invocations may overlap
    # (Lambda Managed Instances run several per process). A batch whose every record failed
    # is still a partial response, not an exception that would skip each record's backoff.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=task_runner(), processor=processor, context=context
    )
