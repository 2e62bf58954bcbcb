"""The builds every module here shares: one `scripts/sam-build` per architecture and session."""

from pathlib import Path

import pytest

from infra.local.template import load_template
from tests.sam_build.artifacts import HOST_ARCH, Architecture, runtime_of, runtime_python, sam_build


class Builds:
    """``scripts/sam-build`` per architecture, run at most once per session."""

    def __init__(self) -> None:
        self._folders: dict[Architecture, Path] = {}

    def __call__(self, arch: Architecture) -> Path:
        if arch not in self._folders:
            self._folders[arch] = sam_build(arch)
        return self._folders[arch]


@pytest.fixture(scope="session")
def builds() -> Builds:
    return Builds()


@pytest.fixture(scope="session")
def host_build(builds: Builds) -> Path:
    """The build for this machine's architecture (built now, or reused while up to date)."""
    return builds(HOST_ARCH)


@pytest.fixture(scope="session")
def lambda_python() -> Path:
    """The stand-in runtime: an interpreter whose site-packages hold only awslambdaric, boto3."""
    return runtime_python(runtime_of(load_template()))
