"""`make deploy` stops in a line, before building or asking, when it cannot work.

No credentials, no region, or parameters that template.yaml (its constraints and Rules) or SES
would refuse. Nothing here may reach past loopback: the instance-metadata lookup of botocore's
credential chain is switched off, and every other connection attempt fails the test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra import deploy_check
from infra.local.template import load_template
from tests.local_stack_process import REPO_ROOT

TEMPLATE = load_template()
WORKING = (
    "SenderEmail=tasks@mycorp.io JwtIssuer=https://issuer.mycorp.io JwtAudience=tasks-app-client"
)


@pytest.fixture
def no_aws_account(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A user with no AWS configuration at all: no variables, no ~/.aws, no instance role."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every connection or name lookup beyond loopback is refused and recorded."""
    attempts: list[Any] = []
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not (isinstance(address, tuple) and address[0] in ("127.0.0.1", "::1")):
            attempts.append(address)
            raise OSError(f"test refused a connection to {address!r}")
        connect(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(host)
            raise socket.gaierror(f"test refused to look up {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    return attempts


@pytest.fixture
def an_account(monkeypatch: pytest.MonkeyPatch, no_aws_account: Path) -> None:
    """Credentials and a region in the environment, as after `aws configure export`."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


def config(tmp_path: Path, overrides: str | None) -> Path:
    """A samconfig.toml as a guided deploy saves it, with these parameter_overrides."""
    path = tmp_path / "samconfig.toml"
    saved = f"parameter_overrides = {overrides!r}\n" if overrides is not None else ""
    path.write_text(
        f'version = 0.1\n[default.deploy.parameters]\nstack_name = "s"\n{saved}'.replace("'", '"')
    )
    return path


def test_no_credentials_and_no_region_are_said_before_anything_is_asked(
    no_aws_account: Path, loopback_only: list[Any], tmp_path: Path
) -> None:
    # GIVEN a machine with no AWS configuration, and the repository's samconfig.toml (guided)
    # WHEN the checks run as `make deploy` runs them
    found = deploy_check.problems(["--guided"], REPO_ROOT / "samconfig.toml", TEMPLATE)
    # THEN they say there are no credentials and no region, in that order
    assert [problem.split(":")[0] for problem in found] == ["no AWS credentials", "no AWS region"]
    # AND nothing tried to reach any address beyond loopback
    assert loopback_only == []


def test_make_deploy_without_credentials_stops_in_a_second_before_building(
    no_aws_account: Path,
) -> None:
    # GIVEN a user's shell with no AWS configuration (instance metadata switched off)
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "VIRTUAL_ENV", "SAM_CONFIG_FILE")
    }
    # WHEN they run `make deploy`
    started = time.monotonic()
    result = subprocess.run(
        ["make", "-s", "deploy"],
        cwd=REPO_ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # THEN it stops with its reasons, before the build and before SAM asks anything
    assert result.returncode != 0
    own = [line for line in result.stderr.splitlines() if line.startswith("deploy:")]
    assert own[0].startswith("deploy: no AWS credentials")
    assert own[1].startswith("deploy: no AWS region")
    assert own[-1] == "deploy: stopped before anything was asked or sent; fix the above and retry"
    assert "Building" not in result.stdout + result.stderr
    assert "Stack Name" not in result.stdout
    # (a figure for the report, not a timing assertion)
    print(f"make deploy refused in {time.monotonic() - started:.2f} s")


def test_auth_on_without_issuer_and_audience_is_refused(an_account: None, tmp_path: Path) -> None:
    # GIVEN saved answers that keep AuthEnabled's default (true) but leave the JWT settings empty
    saved = config(tmp_path, "SenderEmail=tasks@mycorp.io")
    # WHEN the checks run
    found = deploy_check.problems([], saved, TEMPLATE)
    # THEN the template's own Rules are the reasons given
    assert found == [
        "JwtIssuer is required when AuthEnabled is true.",
        "JwtAudience is required when AuthEnabled is true.",
    ]
    # AND a command-line override completes them
    given = ["--parameter-overrides", "JwtIssuer=https://issuer.mycorp.io", "JwtAudience=app"]
    assert deploy_check.problems(given, saved, TEMPLATE) == []


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (f"{WORKING} EmailRecipients=domains", "EmailAllowedDomains is required when"),
        (WORKING.replace("mycorp.io", "example.org", 1), "reserved domain SES can never verify"),
        (f"{WORKING} MaxReceiveCount=2", "MaxReceiveCount=2 is outside 3..1000"),
        (f"{WORKING} QueueType=fifo", "QueueType='fifo' is not one of Standard, Fifo"),
        (WORKING.replace("https://", "http://"), "must be an https URL"),
        (f"{WORKING} JwtIsuer=x", "JwtIsuer is not a parameter of template.yaml"),
        ("AuthEnabled=false", "SenderEmail=noreply@example.com is at a reserved domain"),
    ],
)
def test_parameters_that_cannot_work_are_refused_with_their_reason(
    an_account: None, tmp_path: Path, overrides: str, reason: str
) -> None:
    # GIVEN saved parameters that CloudFormation, the template's Rules or SES would refuse
    # WHEN the checks run
    found = deploy_check.problems([], config(tmp_path, overrides), TEMPLATE)
    # THEN one of the reasons says which and why
    assert any(reason in problem for problem in found), found


def test_a_working_parameter_set_passes(an_account: None, tmp_path: Path) -> None:
    assert deploy_check.problems([], config(tmp_path, WORKING), TEMPLATE) == []
    dev = "AuthEnabled=false SenderEmail=dev@mycorp.io"
    assert deploy_check.problems([], config(tmp_path, dev), TEMPLATE) == []


@given(count=st.integers(-10, 2000), queue=st.sampled_from(["Standard", "Fifo"]))
@settings(max_examples=50, deadline=None)
def test_number_and_choice_parameters_follow_the_templates_bounds(count: int, queue: str) -> None:
    # GIVEN any MaxReceiveCount and QueueType, with otherwise working parameters
    overrides = deploy_check.parse_overrides(f"{WORKING} MaxReceiveCount={count} QueueType={queue}")
    # WHEN they are checked
    found = deploy_check.parameter_problems(TEMPLATE, overrides)
    # THEN exactly the counts outside the template's MinValue..MaxValue are refused
    assert (found != []) == (not 3 <= count <= 1000)


def test_a_region_given_to_sam_or_saved_in_samconfig_is_enough(
    no_aws_account: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN credentials in the environment but no region anywhere in it
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    saved = config(tmp_path, WORKING)
    # THEN the missing region is the one reason
    assert [p.split(":")[0] for p in deploy_check.problems([], saved, TEMPLATE)] == [
        "no AWS region"
    ]
    # AND --region on the command line, or region saved in samconfig.toml, answers it
    assert deploy_check.problems(["--region", "eu-west-1"], saved, TEMPLATE) == []
    saved.write_text(saved.read_text() + 'region = "eu-west-1"\n')
    assert deploy_check.problems([], saved, TEMPLATE) == []
