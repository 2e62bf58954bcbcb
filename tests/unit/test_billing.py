"""Billed DynamoDB units from item sizes and AWS's index rules (bench.billing)."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.billing import (
    Index,
    Table,
    attribute_size,
    batch_get_read_units,
    item_size,
    query_read_units,
    write_cost,
)

# The listing index of the design before this one: owner and created time, projecting the
# attributes every status write changes.
OWNER_CREATED = Index(
    "owner-created", ("owner", "created_at"), "INCLUDE", ("status", "attempts", "progress")
)
OLD = Table(("task_id",), (OWNER_CREATED,))
KEYS_ONLY = Table(("task_id",), (Index("owner-created", ("owner", "created_at"), "KEYS_ONLY"),))
NEW = Table(("owner", "task_id"))


def record(**changes: Any) -> dict[str, Any]:
    item = {
        "owner": {"S": "alice"},
        "task_id": {"S": "0193a1b2c3d47000" + "8" * 16},
        "created_at": {"S": "2026-12-08T00:00:00.000000+00:00"},
        "status": {"S": "queued"},
        "attempts": {"N": "0"},
    }
    item.update(changes)
    return {name: value for name, value in item.items() if value is not None}


def test_sizes_follow_the_documented_rules() -> None:
    # strings: name and value as UTF-8; numbers: a byte per two significant digits, plus one
    assert attribute_size("status", {"S": "queued"}) == 6 + 6
    assert attribute_size("é", {"S": "ü"}) == 2 + 2
    assert attribute_size("n", {"N": "123"}) == 1 + 3
    assert attribute_size("n", {"N": "1000.00"}) == 1 + 2  # trailing zeros are trimmed
    assert attribute_size("b", {"BOOL": True}) == 1 + 1
    # maps and lists: 3 bytes, and a byte per element
    assert attribute_size("m", {"M": {"k": {"S": "v"}}}) == 1 + 3 + 1 + 2
    assert attribute_size("l", {"L": [{"S": "ab"}, {"N": "1"}]}) == 1 + 3 + (1 + 2) + (1 + 2)


def test_a_write_bills_a_unit_per_started_kilobyte_of_the_larger_image() -> None:
    small = {"k": {"S": "x" * 1022}}  # 1 + 1022 = 1,023 bytes
    assert item_size(small) == 1023
    assert write_cost(NEW, None, small).table == 1
    assert write_cost(NEW, None, {"k": {"S": "x" * 1024}}).table == 2  # 1,025 bytes
    # an update that shrinks an item bills its size before
    assert write_cost(NEW, {"k": {"S": "x" * 3000}}, small).table == 3


def test_with_no_index_every_status_write_is_the_record_alone() -> None:
    # GIVEN the queued record, then the claim, then the outcome
    queued = record()
    running = record(status={"S": "running"}, attempts={"N": "1"}, lease={"S": "l" * 32})
    succeeded = record(status={"S": "succeeded"}, attempts={"N": "1"}, lease=None)
    # THEN each write is one unit, with no index write
    for before, after in ((None, queued), (queued, running), (running, succeeded)):
        assert write_cost(NEW, before, after).total == 1


def test_an_index_projecting_changed_attributes_doubles_each_write() -> None:
    queued = record()
    running = record(status={"S": "running"}, attempts={"N": "1"})
    reported = record(
        status={"S": "running"}, attempts={"N": "1"}, progress={"M": {"f": {"N": "0.5"}}}
    )
    # a new item enters the index; a status or progress write updates its entry
    assert write_cost(OLD, None, queued).indexes == {"owner-created": 1}
    assert write_cost(OLD, queued, running).total == 2
    assert write_cost(OLD, running, reported).total == 2
    # an attribute it does not project leaves it alone
    assert write_cost(OLD, running, record(**running, lease={"S": "x"})).indexes == {
        "owner-created": 0
    }
    # a changed index key moves the entry: a delete and a put
    moved = record(created_at={"S": "2026-12-09T00:00:00.000000+00:00"})
    assert write_cost(OLD, queued, moved).indexes == {"owner-created": 2}
    # a delete (not TTL's) removes it
    assert write_cost(OLD, queued, None).indexes == {"owner-created": 1}


def test_a_keys_only_index_is_written_once_at_the_put() -> None:
    queued = record()
    running = record(status={"S": "running"}, attempts={"N": "1"})
    assert write_cost(KEYS_ONLY, None, queued).total == 2
    assert write_cost(KEYS_ONLY, queued, running).total == 1
    # an item without the index's keys is not in it at all (a sparse index)
    assert write_cost(KEYS_ONLY, None, record(owner=None)).indexes == {"owner-created": 0}


def test_a_query_rounds_once_a_batch_get_rounds_every_item() -> None:
    items = [{"k": {"S": "x" * 499}}] * 10  # 500 bytes each, 5,000 in all
    assert query_read_units(items) == 1.0  # 2 units of 4 KB, halved (eventually consistent)
    assert query_read_units(items, consistent=True) == 2
    assert batch_get_read_units(items) == 5.0  # 10 items, each rounded up to 4 KB, halved


def test_a_described_table_reads_its_indexes() -> None:
    table = Table.described(
        {
            "KeySchema": [{"AttributeName": "task_id", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "owner-created",
                    "KeySchema": [
                        {"AttributeName": "owner", "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status"]},
                }
            ],
        }
    )
    assert table == Table(
        ("task_id",), (Index("owner-created", ("owner", "created_at"), "INCLUDE", ("status",)),)
    )


values = st.one_of(
    st.builds(lambda text: {"S": text}, st.text(max_size=3000)),
    st.builds(
        lambda number: {"N": str(number)}, st.integers(min_value=-(10**30), max_value=10**30)
    ),
)
items = st.dictionaries(st.sampled_from(["status", "progress", "result", "lease"]), values)


@given(items, items)
# No per-example deadline: sizing 3,000-character items is slow on a loaded machine, and the
# property is about units, not speed (hypothesis' default 200 ms made it fail there).
@settings(deadline=None)
def test_any_write_bills_its_larger_image_and_at_most_two_entry_writes_per_index(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    old, new = record(**before), record(**after)
    cost = write_cost(OLD, old, new)
    assert cost.table == -(-max(item_size(old), item_size(new)) // 1024)
    # the index keys did not change, so the entry is rewritten once (at most the record's
    # units: it holds part of it) when something it projects changed, else not at all
    changed = any(old.get(name) != new.get(name) for name in ("status", "attempts", "progress"))
    assert (cost.indexes["owner-created"] > 0) == changed
    assert cost.indexes["owner-created"] <= cost.table
    # and without the index, only the table bills
    assert write_cost(NEW, old, new).total == cost.table
