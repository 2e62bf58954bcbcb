"""Batch processors for the worker: records side by side on a standard queue, groups in order
on a FIFO queue (Powertools' ``SqsFifoPartialProcessor``, which stops a group at its first
failure and reports the rest of that group as failed)."""

import threading
from contextvars import copy_context
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BasePartialBatchProcessor,
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
)


class ConcurrentBatchProcessor(BatchProcessor):
    """Powertools' ``BatchProcessor``, running each record of a batch in a thread of its own.

    A standard queue promises no order, so a batch of ten waits on its slowest record's few
    AWS round trips rather than on the sum of all of them. A thread per record (Lambda hands
    at most BatchSize, 10): a pool would let a thread that finished early take a second
    record, and that record would wait behind the first.
    """

    def __init__(self) -> None:
        # A batch whose every record failed is still a partial response, not an exception
        # that would skip each record's own backoff.
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def process(self) -> list[tuple]:  # type: ignore[type-arg]
        if len(self.records) <= 1:
            return super().process()
        results: list[Any] = [None] * len(self.records)

        def run(index: int, record: dict[str, Any]) -> None:
            results[index] = self._process_record(record)

        # Each record runs in a copy of this context, so log keys stay per record.
        threads = [
            threading.Thread(target=copy_context().run, args=(run, index, record))
            for index, record in enumerate(self.records)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results


def processor_for(queue_url: str) -> BasePartialBatchProcessor:
    """A new processor per invocation: it keeps per-batch state, and invocations may overlap."""
    if queue_url.endswith(".fifo"):
        fifo = SqsFifoPartialProcessor(skip_group_on_error=True)
        fifo.raise_on_entire_batch_failure = False
        return fifo
    return ConcurrentBatchProcessor()
