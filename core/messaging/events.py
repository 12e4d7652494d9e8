"""Events on the broker. They carry identifiers only: never a code, never a password."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.platform.errors import InvalidRequest


def blank_to_none(value: str | None) -> str | None:
    """A request's Username or Email, trimmed; a blank one counts as absent, as in OrderCloud."""
    if value is None:
        return None
    return value.strip() or None


class OtpRequested(BaseModel):
    """A validated OTP request, published by the api after checking ClientID and senders.

    ``v`` is the schema version: consumers accept the versions they know and reject the
    rest loudly, so a newer api never silently feeds an older worker.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    request_id: str = Field(min_length=1, max_length=64)
    client_id: str = Field(min_length=1, max_length=255)
    username: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=255)
    requested_at: datetime
    client_ip: str | None = Field(default=None, max_length=64)

    def to_message(self) -> dict[str, Any]:
        """The JSON-safe dict that travels as the actor's single argument."""
        return self.model_dump(mode="json")

    @classmethod
    def from_message(cls, payload: object) -> OtpRequested:
        try:
            return cls.model_validate(payload)
        except ValidationError as error:
            raise InvalidRequest("malformed OtpRequested event", data=str(error)) from None
