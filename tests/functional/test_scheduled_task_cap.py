"""Each owner may have at most MAX_SCHEDULED_TASKS_PER_OWNER scheduled tasks outstanding.

Every task due beyond 900 s is an EventBridge Scheduler schedule, and an account holds a
bounded number of them: one owner must not be able to fill it. Through the API and worker
handlers on moto, with the local scheduler firing what is due.
"""

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from app import aws
from app.config import get_settings
from app.tasks.schedule_slots import COUNTER_LIFETIME, ScheduleSlots, counter_key
from tests.faults import AwsFaults, Fault
from tests.functional.callers import ALICE, BOB, call, uploads_of
from tests.functional.schedules import (
    KEY,
    accepted,
    cancel,
    fire_due,
    later,
    process,
    run_at,
    schedules_in_group,
    worker_takes_visible,
)
from tests.functional.stack import Stack

CAP = 2


@pytest.fixture
def capped(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("MAX_SCHEDULED_TASKS_PER_OWNER", str(CAP))
    get_settings.cache_clear()
    yield stack
    get_settings.cache_clear()


def in_an_hour(stack: Stack) -> dict[str, Any]:
    return process(stack, "delay_seconds=3600")


def task_records(stack: Stack) -> int:
    return len(stack.dynamodb.scan(TableName=stack.task_table)["Items"])


def outstanding(stack: Stack, owner: str = "local") -> int:
    item = stack.dynamodb.get_item(
        TableName=stack.env["QUOTA_TABLE_NAME"], Key={"id": {"S": counter_key(owner)}}
    ).get("Item")
    return int(item["outstanding"]["N"]) if item else 0


def test_at_the_cap_a_scheduled_task_is_a_429_and_nothing_is_written(capped: Stack) -> None:
    # GIVEN an owner with as many scheduled tasks as the cap allows
    for _ in range(CAP):
        accepted(in_an_hour(capped))
    # WHEN they ask for one more, alone or in a batch
    single = in_an_hour(capped)
    batch = capped.api(
        "process-batch",
        body=json.dumps({"file_paths": [KEY], "delay_seconds": 3600}),
    )
    # THEN each is a 429 saying how many are outstanding and what the cap is
    for response in (single, batch):
        assert response["statusCode"] == 429, response["body"]
        detail = json.loads(response["body"])["detail"]
        assert f"{CAP} of at most {CAP} are outstanding" in detail
    # AND no status record and no schedule was written for them
    assert task_records(capped) == CAP
    assert len(schedules_in_group(capped)) == CAP
    assert outstanding(capped) == CAP
    # AND a task due within 900 s (no schedule) is not capped
    assert process(capped, "delay_seconds=60")["statusCode"] == 202
    # AND the counter outlives any task it counts (a year ahead at most), then expires by TTL
    item = capped.dynamodb.get_item(
        TableName=capped.env["QUOTA_TABLE_NAME"], Key={"id": {"S": counter_key("local")}}
    )["Item"]
    expires_at = int(item["expires_at"]["N"])
    assert time.time() + 366 * 86400 < expires_at <= time.time() + COUNTER_LIFETIME.total_seconds()


def test_a_batch_larger_than_the_room_left_is_refused_whole(capped: Stack) -> None:
    accepted(in_an_hour(capped))
    # WHEN a batch asks for two more scheduled tasks with room for one
    response = capped.api(
        "process-batch",
        body=json.dumps({"file_paths": [KEY, KEY], "delay_seconds": 3600}),
    )
    # THEN none of it is accepted
    assert response["statusCode"] == 429, response["body"]
    assert "1 of at most 2 are outstanding and 2 more were asked for" in response["body"]
    assert task_records(capped) == 1
    assert outstanding(capped) == 1


def test_cancelling_a_scheduled_task_frees_its_slot(capped: Stack) -> None:
    task_ids = [accepted(in_an_hour(capped)) for _ in range(CAP)]
    assert in_an_hour(capped)["statusCode"] == 429
    # WHEN the owner cancels one
    assert cancel(capped, task_ids[0])["statusCode"] == 200
    # THEN there is room for another
    assert outstanding(capped) == CAP - 1
    accepted(in_an_hour(capped))
    # AND a cancel refused (already cancelled) frees nothing more
    assert cancel(capped, task_ids[0])["statusCode"] == 409
    assert outstanding(capped) == CAP


def test_a_worker_claiming_a_scheduled_task_frees_its_slot(capped: Stack) -> None:
    capped.upload(KEY, b"a,b\n1,2\n")
    when = later(20 * 60)
    first = accepted(process(capped, run_at(when)))
    accepted(in_an_hour(capped))
    assert in_an_hour(capped)["statusCode"] == 429
    # GIVEN a task queued for now, run by a worker: it held no slot and gives none back
    accepted(process(capped, "delay_seconds=0"))
    worker_takes_visible(capped)
    assert outstanding(capped) == CAP
    # WHEN the first one's schedule fires and a worker claims and runs it
    fire_due(when + timedelta(seconds=1))
    worker_takes_visible(capped)
    assert capped.task_status(first)["status"] == "succeeded"
    # THEN its slot is free again, for another task to take
    assert outstanding(capped) == CAP - 1
    accepted(in_an_hour(capped))
    assert outstanding(capped) == CAP


def test_a_cancelled_task_whose_schedule_fired_frees_its_slot_once(capped: Stack) -> None:
    when = later(20 * 60)
    task_id = accepted(process(capped, run_at(when)))
    fire_due(when + timedelta(seconds=1))
    # WHEN it is cancelled before a worker claims its message
    assert cancel(capped, task_id)["statusCode"] == 200
    worker_takes_visible(capped)
    # THEN its slot was given back by the cancel, and the worker's skip gives back nothing
    assert capped.task_status(task_id)["status"] == "cancelled"
    assert outstanding(capped) == 0


def test_a_schedule_the_scheduler_refuses_frees_its_slot(capped: Stack) -> None:
    accepted(in_an_hour(capped))
    # GIVEN a Scheduler that refuses the next schedule
    faults = AwsFaults(aws.scheduler())
    faults.add(Fault("CreateSchedule", code="ValidationException", status=400))
    try:
        refused = in_an_hour(capped)
    finally:
        faults.remove()
    assert refused["statusCode"] == 503, refused["body"]
    # THEN the refused task holds no slot: the owner can still schedule up to the cap
    assert outstanding(capped) == 1
    accepted(in_an_hour(capped))
    assert in_an_hour(capped)["statusCode"] == 429


def test_the_cap_is_per_owner(capped: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_ENABLED", "true")
    get_settings.cache_clear()

    def later_for(claims: dict[str, Any]) -> dict[str, Any]:
        key = quote(uploads_of(claims) + "r.csv", safe="")
        return call(
            capped,
            "http-api-v2",
            "POST",
            "/process/",
            query=f"file_path={key}&delay_seconds=3600",
            claims=claims,
        )

    # GIVEN Alice at the cap
    for _ in range(CAP):
        assert later_for(ALICE)["statusCode"] == 202
    assert later_for(ALICE)["statusCode"] == 429
    # WHEN Bob asks for a scheduled task
    answer = later_for(BOB)
    # THEN he has his own allowance
    assert answer["statusCode"] == 202, answer["body"]
    assert outstanding(capped, ALICE["sub"]) == CAP
    assert outstanding(capped, BOB["sub"]) == 1


def test_a_release_never_takes_the_count_below_zero(capped: Stack) -> None:
    slots = ScheduleSlots(capped.dynamodb, capped.env["QUOTA_TABLE_NAME"])
    # WHEN slots are given back that were never taken (a counter that expired, say)
    slots.release("local")
    slots.reserve("local", 1, CAP)
    slots.release("local", 2)
    # THEN the count stays where it was, and the failure is only logged
    assert outstanding(capped) == 1
    assert any("could not release" in line.get("message", "") for line in capped.logs)
