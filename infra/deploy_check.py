"""``make deploy``'s checks, before anything is built or asked: credentials, region, parameters.

``sam deploy --guided`` asks every question before it finds out there are no credentials,
and CloudFormation only refuses a parameter set that cannot work once the change set is made.
This says so in a line, in a second, with no request sent anywhere: credentials are resolved
by botocore's credential chain (environment, shared files, SSO and assume-role profiles are
read, not called; only an EC2 or container role asks its local metadata endpoint), and the
parameters are checked against template.yaml's own constraints and Rules.

    python -m infra.deploy_check [--guided] [sam deploy options...]

The parameters are samconfig.toml's saved ``parameter_overrides`` with any
``--parameter-overrides`` given on the command line; with ``--guided`` SAM asks for them, so
only credentials and region are checked. Exit status 0 when all is well, 2 otherwise.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import botocore.session

from infra.local.template import TEMPLATE_PATH, Physical, Resolver, Template, load_template

# RFC 2606 and 6761 names: SES can never verify an identity there, so no email would leave.
_RESERVED_DOMAIN = re.compile(
    r"(^|\.)(example\.(com|net|org)|example|test|invalid|localhost)$", re.IGNORECASE
)


@dataclass(frozen=True)
class DeployOptions:
    """What the deploy's own options and samconfig.toml say about account, region, parameters."""

    guided: bool
    profile: str | None
    region: str | None
    overrides: dict[str, str]


def parse_overrides(text: str | Sequence[str]) -> dict[str, str]:
    """``Key=Value Key2="a b"`` (SAM's form, or a list of such items) as a mapping."""
    items = shlex.split(text) if isinstance(text, str) else [str(item) for item in text]
    overrides = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals:
            raise ValueError(f"parameter override {item!r} is not Name=Value")
        overrides[name] = value
    return overrides


def deploy_options(argv: Sequence[str], config: Mapping[str, Any]) -> DeployOptions:
    """The options of ``sam deploy argv`` with samconfig.toml's ``[default]`` sections under."""
    default = config.get("default", {})
    saved: dict[str, Any] = {
        **default.get("global", {}).get("parameters", {}),
        **default.get("deploy", {}).get("parameters", {}),
    }
    overrides = parse_overrides(saved.get("parameter_overrides") or "")
    guided = False
    profile, region = saved.get("profile"), saved.get("region")
    arguments = list(argv)
    while arguments:
        argument = arguments.pop(0)
        if argument in ("--guided", "-g"):
            guided = True
        elif argument == "--profile" and arguments:
            profile = arguments.pop(0)
        elif argument == "--region" and arguments:
            region = arguments.pop(0)
        elif argument == "--parameter-overrides":
            values = []
            while arguments and not arguments[0].startswith("--"):
                values.append(arguments.pop(0))
            overrides.update(parse_overrides(" ".join(shlex.quote(value) for value in values)))
    return DeployOptions(guided, profile, region, overrides)


def account_problems(options: DeployOptions) -> list[str]:
    """What stops a deploy from reaching an account: no credentials, no region."""
    try:
        session = botocore.session.Session(profile=options.profile)
        region = options.region or session.get_config_variable("region")
        credentials = session.get_credentials()
    except botocore.exceptions.ProfileNotFound as error:
        return [f"{error}: name one of ~/.aws/config's profiles (AWS_PROFILE or --profile)"]
    except botocore.exceptions.BotoCoreError as error:
        return [f"the AWS credentials cannot be read: {error}"]
    problems = []
    if credentials is None:
        problems.append(
            "no AWS credentials: configure some (`aws configure`, or `aws sso login` with "
            "AWS_PROFILE set; AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY also do)"
        )
    if not region:
        problems.append(
            "no AWS region: set AWS_DEFAULT_REGION (or `aws configure set region <region>`), "
            "or pass --region"
        )
    return problems


def parameter_problems(template: Template, overrides: Mapping[str, str]) -> list[str]:
    """Every reason CloudFormation would refuse these parameters, or the stack could not work."""
    specs: Mapping[str, Any] = template.get("Parameters") or {}
    problems = [
        f"{name} is not a parameter of template.yaml"
        for name in sorted(set(overrides) - set(specs))
    ]
    values = {
        name: str(overrides.get(name, spec.get("Default", "")))
        for name, spec in specs.items()
        if name in overrides or "Default" in spec
    }
    for name, value in values.items():
        problems += _constraint_problems(name, value, specs[name])
    if problems:
        return problems
    known = {name: value for name, value in overrides.items() if name in specs}
    resolver = Resolver(template, Physical(), known)
    for rule in (template.get("Rules") or {}).values():
        if "RuleCondition" in rule and not resolver.truth(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions") or []:
            if not resolver.truth(assertion["Assert"]):
                problems.append(assertion.get("AssertDescription", "a template Rule fails"))
    sender = values.get("SenderEmail", "")
    if _RESERVED_DOMAIN.search(sender.rpartition("@")[2]):
        problems.append(
            f"SenderEmail={sender} is at a reserved domain SES can never verify: give an "
            "address (or domain) verified in SES in the target account"
        )
    return problems


def _constraint_problems(name: str, value: str, spec: Mapping[str, Any]) -> list[str]:
    described = spec.get("ConstraintDescription")
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(item) for item in allowed]:
        return [f"{name}={value!r} is not one of {', '.join(str(item) for item in allowed)}"]
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        return [f"{name}={value!r} {described or f'does not match {pattern}'}"]
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return [f"{name}={value!r} is not a number"]
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            return [f"{name}={value} is outside {low if low is not None else '-'}..{high or '-'}"]
    return []


def problems(argv: Sequence[str], config_file: Path, template: Template) -> list[str]:
    """Everything that would stop ``sam deploy argv``, credentials and region first."""
    config = tomllib.loads(config_file.read_text()) if config_file.is_file() else {}
    try:
        options = deploy_options(argv, config)
    except ValueError as error:
        return [str(error)]
    found = account_problems(options)
    if not options.guided:
        found += parameter_problems(template, options.overrides)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    config_file = Path(os.environ.get("SAM_CONFIG_FILE", "samconfig.toml"))
    found = problems(arguments, config_file, load_template(TEMPLATE_PATH))
    for problem in found:
        sys.stderr.write(f"deploy: {problem}\n")
    if found:
        sys.stderr.write(
            "deploy: stopped before anything was asked or sent; fix the above and retry\n"
        )
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
