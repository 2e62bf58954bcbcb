"""GET /tasks through the API function on moto: own tasks only, newest first, in pages."""

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app import aws
from app.tasks.cursors import CursorSigner
from app.tasks.lifecycle import TaskState
from app.tasks.listing import MAX_QUERIES, PAGE_ITEMS
from app.tasks.progress import progress
from app.tasks.status import TaskStatusStore
from app.tasks.task_ids import new_task_id
from tests.functional.callers import ALICE, BOB, call
from tests.functional.stack import Stack


def listing(
    stack: Stack, claims: dict[str, Any] = ALICE, **query: Any
) -> tuple[int, dict[str, Any]]:
    """GET /tasks as ``claims``' owner: the status code and the body."""
    text = "&".join(f"{name}={value}" for name, value in query.items())
    response = call(stack, "http-api-v2", "GET", "/tasks", query=text, claims=claims)
    return response["statusCode"], json.loads(response["body"])


def every_page(stack: Stack, claims: dict[str, Any] = ALICE, **query: Any) -> list[list[str]]:
    """The task ids of each page, following next_cursor to the end."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        extra = {"cursor": cursor} if cursor else {}
        code, body = listing(stack, claims, **query, **extra)
        assert code == 200, body
        pages.append([task["task_id"] for task in body["tasks"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def create(
    stack: Stack, claims: dict[str, Any], count: int, name: str = "process_file"
) -> list[str]:
    """``count`` queued tasks of ``claims``' owner, oldest first (ids as the sender makes them)."""
    ids = [new_task_id() for _ in range(count)]
    for task_id in ids:
        stack.store.create_queued(task_id, name, None, owner=claims["sub"])
    return ids


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_of(**fields: Any) -> str:
    """A cursor written by hand: the fields a real one carries, with no valid signature."""
    return f"{b64(json.dumps(fields).encode())}.{b64(b'0' * 16)}"


def altered(cursor: str, **changes: str) -> str:
    """A real cursor with its fields changed and its signature kept."""
    payload, tag = cursor.split(".")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{b64(json.dumps({**fields, **changes}, separators=(',', ':')).encode())}.{tag}"


def a_second_later(task_id: str) -> str:
    """The task id with the send time it carries moved one second on."""
    return f"{int(task_id[:12], 16) + 1000:012x}{task_id[12:]}"


@pytest.fixture
def queries(stack_with_auth: Stack) -> Iterator[list[dict[str, Any]]]:
    """Every Query request the API sends to DynamoDB."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params)

    events = aws.dynamodb().meta.events
    events.register("provide-client-params.dynamodb.Query", record)
    yield seen
    events.unregister("provide-client-params.dynamodb.Query", record)


def test_a_caller_pages_through_their_own_tasks_newest_first(stack_with_auth: Stack) -> None:
    # GIVEN 25 tasks of Alice's and 3 of Bob's, created in turns
    alices = create(stack_with_auth, ALICE, 12)
    bobs = create(stack_with_auth, BOB, 3)
    alices += create(stack_with_auth, ALICE, 13)
    # WHEN Alice lists them ten at a time
    pages = every_page(stack_with_auth, limit=10)
    # THEN she gets her own 25 in three pages, newest first, and none of Bob's
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [task_id for page in pages for task_id in page] == alices[::-1]
    # AND Bob sees his own three
    assert every_page(stack_with_auth, BOB) == [bobs[::-1]]


def test_a_listed_task_says_its_state_progress_and_times(stack_with_auth: Stack) -> None:
    # GIVEN one of Alice's tasks running, with progress reported
    [task_id] = create(stack_with_auth, ALICE, 1)
    store = stack_with_auth.store
    store.claim(
        task_id,
        owner=ALICE["sub"],
        receive_count=1,
        max_receives=5,
        lease_token="lease-1",
        lease_seconds=60,
    )
    assert store.write_progress(task_id, "lease-1", progress(0.5, "half way"), owner=ALICE["sub"])
    # WHEN she lists her tasks
    code, body = listing(stack_with_auth)
    # THEN the task shows its state, attempts and progress, and its times
    assert code == 200
    [task] = body["tasks"]
    assert task["task_id"] == task_id
    assert task["name"] == "process_file"
    assert task["owner"] == ALICE["sub"]
    assert task["status"] == "running"
    assert task["attempts"] == 1
    assert task["progress"]["fraction"] == 0.5
    assert task["progress"]["message"] == "half way"
    assert task["created_at"] <= task["updated_at"]
    # AND nothing a listing does not need (errors and results are GET /tasks/{id}'s)
    assert "result" not in task
    assert "last_error" not in task


def finish(stack: Stack, task_id: str, state: TaskState, *, lease_seconds: float = 60) -> None:
    """Claim the task as a worker would, then record ``state`` (None: leave it running)."""
    stack.store.claim(
        task_id,
        owner=ALICE["sub"],
        receive_count=1,
        max_receives=5,
        lease_token="lease",
        lease_seconds=lease_seconds,
    )
    if state is not TaskState.RUNNING:
        assert stack.store.finish(
            task_id, "lease", state, error="boom", retry_in=10, owner=ALICE["sub"]
        )


def test_the_status_filter_keeps_one_state_as_clients_read_it(stack_with_auth: Stack) -> None:
    # GIVEN Alice's tasks in every state, one of them "running" for a worker that died
    queued, running, crashed, succeeded, failed, dead = create(stack_with_auth, ALICE, 6)
    finish(stack_with_auth, running, TaskState.RUNNING)
    finish(stack_with_auth, crashed, TaskState.RUNNING, lease_seconds=-1)
    finish(stack_with_auth, succeeded, TaskState.SUCCEEDED)
    finish(stack_with_auth, failed, TaskState.FAILED)
    finish(stack_with_auth, dead, TaskState.DEAD)
    # WHEN she lists each state THEN each lists its tasks; the crashed one reads failed
    expected = {
        "queued": [queued],
        "running": [running],
        "succeeded": [succeeded],
        "failed": [failed, crashed],
        "dead": [dead],
    }
    for state, ids in expected.items():
        code, body = listing(stack_with_auth, status=state)
        assert code == 200, body
        assert [(t["task_id"], t["status"]) for t in body["tasks"]] == [(i, state) for i in ids]


def test_a_scheduled_task_lists_as_queued_once_its_time_has_come(stack_with_auth: Stack) -> None:
    # GIVEN Alice's tasks due in an hour, due a second ago (its schedule has fired), due two
    # days ago but never delivered (the Scheduler gave up), and one she cancelled
    now = datetime.now(UTC)
    # (ids made in the order the tasks are sent, as the sender makes them)
    lost, later, due, cancelled = (new_task_id() for _ in range(4))
    stack_with_auth.store.create_queued(
        lost, "process_file", None, owner=ALICE["sub"], run_at=now - timedelta(days=2)
    )
    for task_id, run_at in ((later, now + timedelta(hours=1)), (due, now - timedelta(seconds=1))):
        stack_with_auth.store.create_queued(
            task_id, "process_file", None, owner=ALICE["sub"], run_at=run_at
        )
    stack_with_auth.store.create_queued(
        cancelled, "process_file", None, owner=ALICE["sub"], run_at=now + timedelta(hours=1)
    )
    assert stack_with_auth.store.cancel(cancelled, owner=ALICE["sub"]).cancelled
    # WHEN she lists each state
    expected = {"scheduled": [later], "queued": [due], "cancelled": [cancelled], "dead": [lost]}
    for state, ids in expected.items():
        code, body = listing(stack_with_auth, status=state)
        # THEN each state lists what GET /tasks/{id} would say: a due task reads queued
        assert code == 200, body
        assert [(t["task_id"], t["status"]) for t in body["tasks"]] == [(i, state) for i in ids]
    # AND the unfiltered listing reads them the same way, newest first, with their times
    code, body = listing(stack_with_auth)
    assert [datetime.fromisoformat(t["run_at"]) for t in body["tasks"][1:]] == [
        now - timedelta(seconds=1),
        now + timedelta(hours=1),
        now - timedelta(days=2),
    ]
    assert [(t["task_id"], t["status"]) for t in body["tasks"]] == [
        (cancelled, "cancelled"),
        (due, "queued"),
        (later, "scheduled"),
        (lost, "dead"),
    ]


def test_an_unknown_status_or_limit_is_a_422_that_says_what_is_allowed(
    stack_with_auth: Stack,
) -> None:
    # WHEN Alice asks for a state that does not exist
    code, body = listing(stack_with_auth, status="finished")
    # THEN the answer names the states there are
    assert code == 422
    assert "queued" in json.dumps(body)
    assert "succeeded" in json.dumps(body)
    # AND limits outside 1..100 are refused the same way
    for limit in (0, 101, "ten"):
        code, body = listing(stack_with_auth, limit=limit)
        assert code == 422, (limit, body)
        assert body["detail"][0]["loc"] == ["query", "limit"]


def test_expired_records_are_not_listed(stack_with_auth: Stack) -> None:
    # GIVEN a record past its expiry that TTL has not deleted yet (DynamoDB takes up to days)
    [kept] = create(stack_with_auth, ALICE, 1)
    expired = TaskStatusStore(
        stack_with_auth.dynamodb, stack_with_auth.task_table, timedelta(seconds=-1)
    )
    expired.create_queued("gone", "process_file", None, owner=ALICE["sub"])
    # WHEN Alice lists her tasks, whatever the filter
    # THEN only the live one is there
    assert every_page(stack_with_auth) == [[kept]]
    assert every_page(stack_with_auth, status="queued") == [[kept]]


def test_a_selective_filter_stops_at_its_bound_and_gives_a_cursor_to_go_on(
    stack_with_auth: Stack, queries: list[dict[str, Any]]
) -> None:
    # GIVEN one succeeded task of Alice's under more newer queued ones than a request reads
    [old] = create(stack_with_auth, ALICE, 1)
    finish(stack_with_auth, old, TaskState.SUCCEEDED)
    create(stack_with_auth, ALICE, MAX_QUERIES * PAGE_ITEMS + 5)
    # WHEN she asks for her succeeded tasks
    code, body = listing(stack_with_auth, status="succeeded", limit=1)
    # THEN the first request stopped at its bound: no task yet, and a cursor
    assert code == 200
    assert body["tasks"] == []
    assert body["next_cursor"] is not None
    assert len(queries) == MAX_QUERIES
    assert all(q["Limit"] == PAGE_ITEMS for q in queries)
    # AND the next page finds it
    code, body = listing(stack_with_auth, status="succeeded", limit=1, cursor=body["next_cursor"])
    assert [t["task_id"] for t in body["tasks"]] == [old]
    assert body["next_cursor"] is None


def test_another_callers_cursor_is_refused(stack_with_auth: Stack) -> None:
    # GIVEN a cursor from Bob's listing
    create(stack_with_auth, BOB, 3)
    code, body = listing(stack_with_auth, BOB, limit=1)
    bobs_cursor = body["next_cursor"]
    assert bobs_cursor
    # WHEN Alice sends it
    code, body = listing(stack_with_auth, cursor=bobs_cursor)
    # THEN it is a 400 that says whose listing it belongs to, and lists nothing
    assert code == 400, body
    assert body["detail"] == "cursor is from another caller's listing: list your own tasks"
    # AND Bob's cursor rewritten to name Alice (its signature kept) is no cursor at all
    code, body = listing(stack_with_auth, cursor=altered(bobs_cursor, o=ALICE["sub"]))
    assert code == 400, body
    assert body["detail"] == "cursor is not valid: pass back a next_cursor exactly as received"


def test_an_untouched_cursor_goes_on_and_an_altered_one_is_a_400(stack_with_auth: Stack) -> None:
    # GIVEN Alice's first page of two, and its cursor
    alices = create(stack_with_auth, ALICE, 4)
    code, body = listing(stack_with_auth, limit=2)
    cursor = body["next_cursor"]
    # WHEN she passes it back untouched THEN she gets the rest
    code, rest = listing(stack_with_auth, limit=2, cursor=cursor)
    assert code == 200
    assert [t["task_id"] for t in rest["tasks"]] == alices[1::-1]
    # WHEN it is altered but still well formed: its position a second later (it would list
    # tasks again), another task id of hers, or signed with another key
    last = body["tasks"][-1]["task_id"]
    other_key = CursorSigner(lambda: b"another stack's key")
    for wrong in (
        altered(cursor, t=a_second_later(last)),
        altered(cursor, t=alices[0]),
        other_key.sign({"o": ALICE["sub"], "t": last}),
    ):
        code, answer = listing(stack_with_auth, limit=2, cursor=wrong)
        # THEN each is a 400 that says to pass a cursor back as received, and lists nothing
        assert code == 400, (wrong, answer)
        assert answer["detail"] == (
            "cursor is not valid: pass back a next_cursor exactly as received"
        )


def test_a_cursor_altered_past_its_length_bound_is_a_400_too(stack_with_auth: Stack) -> None:
    # GIVEN Alice's cursor to her second page
    create(stack_with_auth, ALICE, 3)
    cursor = listing(stack_with_auth, limit=1)[1]["next_cursor"]
    # WHEN she sends it back with characters added, past the length any cursor has
    for wrong in (cursor + "A" * 400, cursor + "." + "A" * 400, "A" * 401):
        code, body = listing(stack_with_auth, limit=1, cursor=wrong)
        # THEN it is the same 400 as any other altered cursor, not a 422
        assert code == 400, body
        assert body["detail"] == "cursor is not valid: pass back a next_cursor exactly as received"


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",  # not base64url
        "eyJv",  # no signature
        "eyJv.",  # an empty signature
        f"{base64.urlsafe_b64encode(b'\xff\xfe').decode()}.AAAA",  # not UTF-8
        cursor_of(),  # no keys
        b64(b"[1,2]") + ".AAAA",  # not an object
        cursor_of(o=ALICE["sub"]),  # a key missing
        cursor_of(o=ALICE["sub"], t="x", x="y"),  # one too many
        cursor_of(o=ALICE["sub"], t={"S": "x"}),  # not a string
        cursor_of(o=ALICE["sub"], t="a b"),  # not a task id
        cursor_of(o=ALICE["sub"], t="zzz"),  # well formed, but not signed by the stack
        cursor_of(o=BOB["sub"], t="x"),  # naming another caller, not signed either
    ],
)
def test_a_garbled_or_hand_made_cursor_is_a_400(stack_with_auth: Stack, cursor: str) -> None:
    create(stack_with_auth, ALICE, 2)
    code, body = listing(stack_with_auth, cursor=cursor)
    assert code == 400, body
    assert body["detail"] == "cursor is not valid: pass back a next_cursor exactly as received"
