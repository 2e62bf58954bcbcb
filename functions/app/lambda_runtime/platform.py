"""Which Lambda the process runs on, read once from the variables Lambda sets.

* Standard Lambda freezes the environment once the runtime and every extension wait in
  ``/next``: an internal extension must hold each invoke open for work after the response.
* Lambda Managed Instances (``AWS_LAMBDA_MAX_CONCURRENCY`` set) never freezes, runs several
  invokes at once (one per runtime worker process for Python) and refuses event subscriptions
  from internal extensions: work after the response simply carries on in the process.
* SnapStart (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``) runs Init once, snapshots it and
  resumes copies of it later; runtime hooks run before the snapshot and after each restore.
"""

import enum
import os
from collections.abc import Mapping


class Platform(enum.Enum):
    OFF_LAMBDA = "off-lambda"  # no Runtime API: unit tests, scripts, uvicorn
    STANDARD = "standard"
    MANAGED_INSTANCES = "managed-instances"


def detect(environ: Mapping[str, str] = os.environ) -> Platform:
    if not environ.get("AWS_LAMBDA_RUNTIME_API"):
        return Platform.OFF_LAMBDA
    if environ.get("AWS_LAMBDA_MAX_CONCURRENCY"):
        return Platform.MANAGED_INSTANCES
    return Platform.STANDARD


def is_snapstart(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start"


def runtime_api(environ: Mapping[str, str] = os.environ) -> str:
    return environ["AWS_LAMBDA_RUNTIME_API"]
