"""The local stack's AWS state kept across restarts: moto's backends, saved on the way out.

moto (5.2.5) keeps everything in memory and has no persistence of its own. Its backends are
plain Python objects, so the stack pickles those of the services it uses (S3, SQS, DynamoDB,
EventBridge Scheduler, SES) into the state directory when it stops, once the functions have
stopped, and puts them back before it creates the template's resources at the next start.
Everything comes back as it was: uploads and results, task records, messages waiting,
delayed or in flight (their timers are wall-clock), schedules due a year ahead, the verified
sender. ``CLEAN=1`` starts empty instead (the state is saved again when it stops).

The file is this machine's own pickle, read only from the git-ignored state directory; a
snapshot that cannot be read (another moto version, say) is set aside and the stack starts
empty, saying so.
"""

from __future__ import annotations

import copyreg
import logging
import pickle
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# secretsmanager: the stack's cursor key, so a client's listing cursor outlives a restart.
SERVICES = ("s3", "sqs", "dynamodb", "scheduler", "ses", "secretsmanager")
# A BackendDict's own fields, made anew in every process.
_OWN_FIELDS = frozenset(
    {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}
)
STATE_FILE = "aws-state.pickle"

# SQS queues hold locks and conditions: a restored queue gets fresh ones (nothing holds them
# while the stack is stopped).
copyreg.pickle(type(threading.RLock()), lambda lock: (threading.RLock, ()))
copyreg.pickle(type(threading.Lock()), lambda lock: (threading.Lock, ()))


def state_file(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def save(state_dir: Path) -> Path:
    """Pickle moto's backends of SERVICES into ``state_dir`` (replacing the old file whole)."""
    from moto.backends import get_backend

    snapshot: dict[str, Any] = {}
    for service in SERVICES:
        backends = get_backend(service)  # type: ignore[call-overload]
        snapshot[service] = {
            "regions": {account: dict(regions.items()) for account, regions in backends.items()},
            # What a service keeps beside its backends (S3: which account owns each bucket).
            "shared": {
                name: value for name, value in vars(backends).items() if name not in _OWN_FIELDS
            },
        }
    path = state_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as output:
        pickle.dump(snapshot, output, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)
    return path


def restore(state_dir: Path) -> bool:
    """Put the saved backends back into moto; False when there is nothing (usable) to restore."""
    from moto.backends import get_backend

    path = state_file(state_dir)
    if not path.is_file():
        return False
    try:
        with path.open("rb") as source:
            snapshot = pickle.load(source)  # the stack's own file, see above
    except Exception as error:  # whatever makes it unreadable, the start is clean
        aside = path.with_suffix(".unreadable")
        path.replace(aside)
        logger.warning(
            "the saved state could not be read (%s): starting empty; it is in %s", error, aside
        )
        return False
    for service, saved in snapshot.items():
        backends = get_backend(service)
        for account, regions in saved["regions"].items():
            per_account = backends[account]
            for region, backend in regions.items():
                # dict's own setter: moto's creates a fresh backend for a region it lacks.
                dict.__setitem__(per_account, region, backend)
        for name, value in saved["shared"].items():
            setattr(backends, name, value)
    return True


def forget(state_dir: Path) -> None:
    """A clean start: the saved state is dropped (the stack saves anew when it stops)."""
    state_file(state_dir).unlink(missing_ok=True)


def summary(bucket: str, uploads_prefix: str, task_table: str, schedule_group: str) -> str:
    """What the stack holds now, in a few words: uploads, task records, schedules."""
    import boto3

    from app.tasks.schedules import SCHEDULE_PREFIX

    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    uploads = sum(
        page.get("KeyCount", 0)
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=uploads_prefix
        )
    )
    tasks = sum(
        page.get("Count", 0)
        for page in dynamodb.get_paginator("scan").paginate(TableName=task_table, Select="COUNT")
    )
    schedules = sum(
        len(page.get("Schedules", []))
        for page in boto3.client("scheduler")
        .get_paginator("list_schedules")
        .paginate(GroupName=schedule_group, NamePrefix=SCHEDULE_PREFIX)
    )
    return f"uploads: {uploads}, task records: {tasks}, tasks scheduled: {schedules}"
