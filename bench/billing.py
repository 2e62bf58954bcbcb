"""What DynamoDB bills for a write or a read, from item sizes and the index rules AWS documents.

moto answers every request but counts no capacity, so the cost bench (bench.task_costs) and
its tests compute it here, from the item as it was before a write and as it is after:

* An item's size is the sum of its attributes' sizes: each attribute's name (UTF-8 bytes)
  plus its value: a string's UTF-8 bytes, binary's bytes, a number's 1 byte per two
  significant digits plus 1, 1 byte for a boolean or null, and for a list or map 3 bytes plus
  1 byte per element plus the elements (a map's keys count as names). ("Item sizes and
  formats", Amazon DynamoDB Developer Guide.)
* A write bills one write unit per 1 KB (1,024 bytes, rounded up) of the larger of the item
  before and after it; a delete, the item deleted. TTL's own deletes are free.
* A global secondary index adds writes of its entry (its keys, the table's keys and what it
  projects): one when an item enters the index (a new item with the index's keys), leaves it
  (a key removed, or the item deleted), or changes a projected attribute; two (a delete and
  a put) when an index key's value changes; none when nothing it holds changed. ("Global
  secondary indexes: provisioned throughput considerations".)
* A read bills one read unit per 4 KB: a Query on the summed size of the items it reads
  (before any filter), rounded up once per request; BatchGetItem and GetItem per item, each
  rounded up. Eventually consistent reads cost half.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "Index",
    "Table",
    "WriteCost",
    "attribute_size",
    "batch_get_read_units",
    "item_size",
    "query_read_units",
    "write_cost",
]

Item = Mapping[str, Mapping[str, Any]]  # a DynamoDB item as the API has it: {"name": {"S": ..}}
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


@dataclass(frozen=True)
class Index:
    """A global secondary index: its keys and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: Literal["ALL", "KEYS_ONLY", "INCLUDE"] = "ALL"
    attributes: tuple[str, ...] = ()  # INCLUDE's non-key attributes

    def entry(self, item: Item | None, table_keys: Sequence[str]) -> dict[str, Any] | None:
        """The index's entry for ``item``: None when the item is not in the index."""
        if item is None or not all(key in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = {*self.keys, *table_keys, *self.attributes}
        return {name: value for name, value in item.items() if name in names}


@dataclass(frozen=True)
class Table:
    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = field(default_factory=tuple)

    @classmethod
    def described(cls, description: Mapping[str, Any]) -> "Table":
        """From DescribeTable's ``Table`` (or a template's table properties)."""
        indexes = tuple(
            Index(
                index["IndexName"],
                tuple(key["AttributeName"] for key in index["KeySchema"]),
                index["Projection"]["ProjectionType"],
                tuple(index["Projection"].get("NonKeyAttributes", ())),
            )
            for index in description.get("GlobalSecondaryIndexes") or ()
        )
        return cls(tuple(key["AttributeName"] for key in description["KeySchema"]), indexes)


@dataclass(frozen=True)
class WriteCost:
    """A write's units: the table's, and each index's (by name)."""

    table: int
    indexes: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.table + sum(self.indexes.values())


def attribute_size(name: str, value: Mapping[str, Any]) -> int:
    return len(name.encode()) + _value_size(value)


def item_size(item: Item) -> int:
    return sum(attribute_size(name, value) for name, value in item.items())


def write_cost(table: Table, before: Item | None, after: Item | None) -> WriteCost:
    """The units of one successful write that turned ``before`` into ``after`` (None: no
    item: a put of a new item, or a delete)."""
    sizes = [item_size(item) for item in (before, after) if item is not None]
    units = {index.name: _index_writes(index, table.keys, before, after) for index in table.indexes}
    return WriteCost(_units(max(sizes, default=0), WRITE_UNIT_BYTES), units)


def query_read_units(items: Iterable[Item], *, consistent: bool = False) -> float:
    """One Query request's read units for the items it read (an index's entries, or whole
    records on the table)."""
    units = _units(sum(item_size(item) for item in items), READ_UNIT_BYTES)
    return units if consistent else units / 2


def batch_get_read_units(items: Iterable[Item], *, consistent: bool = False) -> float:
    units = sum(_units(item_size(item), READ_UNIT_BYTES) for item in items)
    return units if consistent else units / 2


def _index_writes(
    index: Index, table_keys: Sequence[str], before: Item | None, after: Item | None
) -> int:
    old, new = index.entry(before, table_keys), index.entry(after, table_keys)
    if old is None and new is None:
        return 0
    entry_size = max(item_size(entry) for entry in (old, new) if entry is not None)
    units = _units(entry_size, WRITE_UNIT_BYTES)
    if old is None or new is None:
        return units  # put into the index, or deleted from it
    if any(old.get(key) != new.get(key) for key in index.keys):
        return 2 * units  # the entry moves: a delete and a put
    return units if old != new else 0


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit)) if size else 0


def _value_size(value: Mapping[str, Any]) -> int:
    [(kind, content)] = value.items()
    match kind:
        case "S":
            return len(str(content).encode())
        case "B":
            return len(content)
        case "N":
            return _number_size(str(content))
        case "BOOL" | "NULL":
            return 1
        case "SS":
            return sum(len(str(text).encode()) for text in content)
        case "NS":
            return sum(_number_size(str(number)) for number in content)
        case "BS":
            return sum(len(blob) for blob in content)
        case "L":
            return 3 + sum(1 + _value_size(element) for element in content)
        case "M":
            return 3 + sum(1 + attribute_size(key, element) for key, element in content.items())
    raise ValueError(f"not a DynamoDB value type: {kind}")


def _number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits
    significant = len(digits) or 1
    return math.ceil(significant / 2) + 1
