"""Email addresses a client may give: checked and normalised by email-validator."""

import re
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, WithJsonSchema

# A bracketed domain that is no IP address gets Python's ipaddress error, which quotes the
# whole bracket ("Expected 4 octets in '1111...'"): the 422 echoes the input already, within
# its 200 characters, so the quote goes.
_QUOTED_LITERAL = re.compile(r" in '[^']*'")


def normalise_email(value: str) -> str:
    """The address as SES can send to it; a ValueError that says why when it cannot.

    SES takes ASCII local parts only (no SMTPUTF8), and internationalised domains as punycode.
    """
    try:
        validated = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        reason = _QUOTED_LITERAL.sub("", str(error))
        raise ValueError(f"value is not an email address SES can send to: {reason}") from None
    return validated.ascii_email or validated.normalized


def mask(email: str) -> str:
    """``jane@example.com`` as ``j***@example.com``: enough to tell addresses apart in a log."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


EmailAddress = Annotated[
    str,
    AfterValidator(normalise_email),
    WithJsonSchema({"type": "string", "format": "email"}),
]
