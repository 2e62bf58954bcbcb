"""Fixtures for the infrastructure tests: the template, and moto in-process."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from infra.local.__main__ import reaches_real_aws
from infra.local.template import load_template

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, and nothing that could send a request to a real AWS endpoint."""
    for name in list(os.environ):
        if name == "AWS_ENDPOINT_URL" or reaches_real_aws(name):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture(scope="session")
def pristine_template() -> dict[str, Any]:
    return load_template()


@pytest.fixture
def template(pristine_template: dict[str, Any]) -> dict[str, Any]:
    """A copy of template.yaml that a test may adjust."""
    return copy.deepcopy(pristine_template)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto in-process, fresh for each test."""
    with mock_aws():
        yield
