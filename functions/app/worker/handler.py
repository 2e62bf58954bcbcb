"""The worker function's entry point (template.yaml: Handler app.worker.handler.handler)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from app.observability import logger, metrics
from app.tasks.processor import processor_for
from app.worker.sources import refuse_unless_sqs
from app.worker.wiring import queue_url, task_runner

# Made in Init, on a whole vCPU, rather than by the first batch (see app.api.handler): the
# settings, the AWS clients and the task runner.
task_runner()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    refusal = refuse_unless_sqs(event)
    if refusal is not None:
        return refusal
    return process_partial_response(
        event=event,
        record_handler=task_runner(),
        processor=processor_for(queue_url()),
        context=context,
    )
