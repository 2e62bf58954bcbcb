"""Which Lambda the handler runs on, from the variables Lambda sets."""

import pytest

from app.lambda_runtime import platform
from app.lambda_runtime.platform import Platform


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, Platform.OFF_LAMBDA),
        ({"AWS_LAMBDA_MAX_CONCURRENCY": "4"}, Platform.OFF_LAMBDA),
        ({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, Platform.STANDARD),
        (
            {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "AWS_LAMBDA_MAX_CONCURRENCY": "4"},
            Platform.MANAGED_INSTANCES,
        ),
    ],
)
def test_the_platform_follows_lambdas_variables(
    environ: dict[str, str], expected: Platform
) -> None:
    assert platform.detect(environ) is expected


def test_snapstart_is_the_snap_start_initialization_type() -> None:
    assert platform.is_snapstart({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"})
    assert not platform.is_snapstart({"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"})
    assert not platform.is_snapstart({})
