"""Email addresses a client may give: checked and normalised by email-validator."""

from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema


def normalise_email(value: str) -> str:
    """The address in normal form; a ValueError that says why when it is not one."""
    # Imported on first use: it is a tenth of the API's cold start, and only the
    # notification routes need it (pydantic's EmailStr would import it at startup).
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(f"value is not a valid email address: {error}") from None


EmailAddress = Annotated[
    str,
    AfterValidator(normalise_email),
    WithJsonSchema({"type": "string", "format": "email"}),
]
