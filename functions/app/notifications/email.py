"""Email through Amazon SES, from the configured sender."""

from app import aws
from app.config import get_settings
from app.observability import logger

SUBJECT = "Notification"


def send_email(email: str, message: str) -> None:
    """Send ``message`` to ``email``; SES errors propagate so the caller's log shows them."""
    response = aws.ses().send_email(
        Source=get_settings().sender_email,
        Destination={"ToAddresses": [email]},
        Message={"Subject": {"Data": SUBJECT}, "Body": {"Text": {"Data": message}}},
    )
    logger.info("email sent", extra={"ses_message_id": response["MessageId"]})
