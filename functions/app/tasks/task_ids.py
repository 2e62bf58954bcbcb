"""Task ids that sort as their tasks were sent: the task table's sort key orders the listing.

A task id is 32 lowercase hex digits laid out as a UUIDv7 (RFC 9562): a 48-bit Unix time in
milliseconds, then 12 bits that count ids made within the same millisecond (RFC 9562's
"fixed-length dedicated counter", method 1), then random bits. So text order is time order,
and within one process strictly increasing; ids made in the same millisecond by different
processes sort among themselves at random, as their sends raced anyway.
"""

import secrets
import threading
import time

__all__ = ["new_task_id", "sent_at_millis"]

_COUNTER_BITS = 12
_lock = threading.Lock()
_last_millis = 0
_counter = 0


def new_task_id() -> str:
    """A fresh id, greater than every id this process made before."""
    global _last_millis, _counter
    with _lock:
        millis = time.time_ns() // 1_000_000
        if millis > _last_millis:
            _last_millis, _counter = millis, 0
        else:
            # The same millisecond (or a clock stepped back): count on; a full counter
            # borrows the next millisecond, so the order still holds.
            _counter += 1
            if _counter >= 1 << _COUNTER_BITS:
                _last_millis, _counter = _last_millis + 1, 0
        millis, counter = _last_millis, _counter
    value = (millis << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | secrets.randbits(62)
    return f"{value:032x}"


def sent_at_millis(task_id: str) -> int | None:
    """The send time a task id made by ``new_task_id`` carries; None for any other id."""
    if len(task_id) != 32 or task_id[12] != "7":
        return None
    try:
        return int(task_id[:12], 16)
    except ValueError:
        return None
