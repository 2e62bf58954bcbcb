"""The seed's ``log.txt``, as structured audit entries (Lambda's disk is read-only but /tmp)."""

from aws_lambda_powertools import Logger

# A child logger: same handler and correlation keys as the app's, its own "audit" location.
audit_logger = Logger(child=True)


def write_log(message: str) -> None:
    """Record one audit entry."""
    audit_logger.info(message.rstrip("\n"), extra={"audit": True})
