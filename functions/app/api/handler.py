"""The API function's entry point (template.yaml: Handler app.api.handler.handler)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from app import aws
from app.api.main import app
from app.config import get_settings
from app.lambda_runtime.adapter import PostResponseHandler
from app.observability import logger

# Init runs on a whole vCPU (and, with SnapStart, once per version); an invoke gets its
# memory's share of one (512 MB: about 0.29). So the settings, the AWS clients, the OpenAPI
# schema and one request through the app (warm_path) are paid for here, not by the first client.
get_settings()
aws.create_clients()
app.openapi()
# After a SnapStart restore, each copy of the snapshot opens connections of its own.
adapter = PostResponseHandler(
    app,
    base_path=lambda: get_settings().api_base_path,
    warm_path="/health",
    after_restore=aws.renew_clients,
)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return adapter(event, context)
