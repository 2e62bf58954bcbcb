"""The API function's entry point (template.yaml: Handler app.api.handler.handler)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from app import aws
from app.api.main import app
from app.api.warm_up import warm_up
from app.config import get_settings
from app.lambda_runtime.adapter import PostResponseHandler
from app.observability import logger

# Init runs on a whole vCPU (and, with SnapStart, once per version); an invoke gets its
# memory's share of one (512 MB: about 0.29). So the settings, the AWS clients, the OpenAPI
# schema and one request through the app are paid for here, not by the first client.
get_settings()
for client in (aws.dynamodb, aws.sqs, aws.s3, aws.ses):
    client()
adapter = PostResponseHandler(app)
app.openapi()
warm_up(app)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return adapter(event, context)
