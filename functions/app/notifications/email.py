"""Email through Amazon SES, from the configured sender."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.notifications.addresses import mask
from app.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

SUBJECT = "Notification"


@dataclass(frozen=True)
class Mailer:
    """Sends plain-text emails from one verified SES identity."""

    ses: "SESClient"
    sender: str

    def send(self, email: str, message: str) -> None:
        """Send ``message`` to ``email``; SES errors propagate so the caller's log shows them."""
        response = self.ses.send_email(
            Source=self.sender,
            Destination={"ToAddresses": [email]},
            Message={"Subject": {"Data": SUBJECT}, "Body": {"Text": {"Data": message}}},
        )
        logger.info(
            "email sent", extra={"to": mask(email), "ses_message_id": response["MessageId"]}
        )
