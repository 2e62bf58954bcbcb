"""The one Logger and Metrics of the process (Powertools), configured by POWERTOOLS_* variables."""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()


def bind_correlation_id(correlation_id: str) -> None:
    """Tag every log line of the current request or record, background work included.

    The key lives in a ContextVar, so concurrent requests (uvicorn) and the tasks they start
    (asyncio tasks, anyio worker threads) each keep their own.
    """
    logger.thread_safe_append_keys(correlation_id=correlation_id)
