"""The API function's entry point (template.yaml: Handler app.api.handler.handler)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from app.api.main import app
from app.lambda_runtime.adapter import PostResponseHandler
from app.observability import logger

# Under SnapStart, one request through the app before the snapshot warms its code paths.
adapter = PostResponseHandler(app, warm_path="/health")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return adapter(event, context)
