"""Batch processors for the worker: records side by side on a standard queue, groups in order
on a FIFO queue (Powertools' ``SqsFifoPartialProcessor``, which stops a group at its first
failure and reports the rest of that group as failed)."""

from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context

from aws_lambda_powertools.utilities.batch import (
    BasePartialBatchProcessor,
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
)

# Lambda hands the worker at most BatchSize (10) records; each waits mostly on AWS calls.
MAX_THREADS = 10


class ConcurrentBatchProcessor(BatchProcessor):
    """Powertools' ``BatchProcessor``, running the records of a batch in threads.

    A standard queue promises no order, so a batch of ten waits on its slowest record's few
    AWS round trips rather than on the sum of all of them.
    """

    def __init__(self, max_threads: int = MAX_THREADS) -> None:
        # A batch whose every record failed is still a partial response, not an exception
        # that would skip each record's own backoff.
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._max_threads = max_threads

    def process(self) -> list[tuple]:  # type: ignore[type-arg]
        if len(self.records) <= 1:
            return super().process()
        with ThreadPoolExecutor(min(len(self.records), self._max_threads)) as pool:
            # Each record runs in a copy of this context, so log keys stay per record.
            futures = [
                pool.submit(copy_context().run, self._process_record, record)
                for record in self.records
            ]
            return [future.result() for future in futures]


def processor_for(queue_url: str) -> BasePartialBatchProcessor:
    """A new processor per invocation: it keeps per-batch state, and invocations may overlap."""
    if queue_url.endswith(".fifo"):
        fifo = SqsFifoPartialProcessor(skip_group_on_error=True)
        fifo.raise_on_entire_batch_failure = False
        return fifo
    return ConcurrentBatchProcessor()
