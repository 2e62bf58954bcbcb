"""Email addresses a client may give: checked and normalised by email-validator."""

from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, WithJsonSchema


def normalise_email(value: str) -> str:
    """The address in normal form; a ValueError that says why when it is not one."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(f"value is not a valid email address: {error}") from None


EmailAddress = Annotated[
    str,
    AfterValidator(normalise_email),
    WithJsonSchema({"type": "string", "format": "email"}),
]
