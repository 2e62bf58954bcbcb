"""A function of template.yaml under awslambdaric, its AWS resources in moto's server."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from moto.server import ThreadedMotoServer

from infra.local.resources import create_resources
from infra.local.template import (
    LOCAL_PARAMETERS,
    Physical,
    function_environment,
    function_settings,
    load_template,
)
from tests.runtime.emulator import REGION, LambdaEmulator
from tests.runtime.process import RuntimeProcess, run_function

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass
class TemplateFunction:
    emulator: LambdaEmulator
    process: RuntimeProcess
    endpoint: str  # moto's server, where the function's AWS calls go
    physical: Physical  # the template's resources, by logical id


@contextmanager
def template_function(function_id: str, **environment: str) -> Iterator[TemplateFunction]:
    """``function_id`` from template.yaml with its environment as a stack without an authorizer
    gets it (``environment`` added), over the template's tables, queues and bucket."""
    template = load_template()
    settings = function_settings(template, function_id)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        physical = create_resources(
            template,
            sqs=boto3.client("sqs", endpoint_url=endpoint, region_name=REGION),
            dynamodb=boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION),
            s3=boto3.client("s3", endpoint_url=endpoint, region_name=REGION),
            scheduler=boto3.client("scheduler", endpoint_url=endpoint, region_name=REGION),
        )
        env = {
            **function_environment(template, function_id, physical, LOCAL_PARAMETERS),
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": endpoint,
            **environment,
        }
        with run_function(
            settings.handler,
            env,
            function_timeout=settings.timeout_seconds,
            function_name=function_id,
        ) as (emulator, process):
            yield TemplateFunction(emulator, process, endpoint, physical)
    finally:
        server.stop()
