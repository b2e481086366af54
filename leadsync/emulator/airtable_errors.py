"""Airtable's error answers: one exception carrying status, type and message.

Every layer of the Airtable emulator raises :class:`AirtableError`; the HTTP
layer turns it into ``{"error": {"type": ..., "message": ...}}`` (or the bare
``{"error": "NOT_FOUND"}`` string form). The types, statuses and messages
follow the recorded payloads in ``tests/fixtures/airtable`` where one exists;
where none exists, the message wording is the one seen in public reports
(quoted in each constructor's docstring) or, failing that, our own.
"""

from __future__ import annotations

from typing import Any

from leadsync.emulator.core import Response

__all__ = [
    "GENERIC_422",
    "AirtableError",
    "bad_request",
    "base_not_found",
    "computed_field",
    "invalid_value",
    "not_found",
    "record_not_found",
    "table_not_found",
    "unknown_field",
]

#: The message Airtable sends with INVALID_REQUEST_UNKNOWN (fixture; pyairtable #410).
GENERIC_422 = "Invalid request: parameter validation failed. Check your request data."


class AirtableError(Exception):
    """An error answer. ``message=None`` omits the message; ``bare`` uses the string form."""

    def __init__(self, status: int, type_: str, message: str | None = None, *,
                 bare: bool = False, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {type_}: {message}")
        self.status = status
        self.type = type_
        self.message = message
        self.bare = bare
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        if self.bare:
            return {"error": self.type}
        error: dict[str, Any] = {"type": self.type}
        if self.message is not None:
            error["message"] = self.message
        return {"error": error}

    def response(self) -> Response:
        return Response(self.status, self.body(), dict(self.headers))


def not_found() -> AirtableError:
    """``404 {"error": "NOT_FOUND"}``: a path that names nothing (fixture, string form)."""
    return AirtableError(404, "NOT_FOUND", bare=True)


def base_not_found() -> AirtableError:
    """403 for a well-formed base id the token cannot see (fixture)."""
    return AirtableError(
        403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
        "Invalid permissions, or the requested model was not found. Check that both your "
        "user and your token have the required permissions, and that the model names "
        "and/or ids are correct.",
    )


def table_not_found(table: str, base_id: str) -> AirtableError:
    """404 TABLE_NOT_FOUND (fixture wording)."""
    return AirtableError(404, "TABLE_NOT_FOUND",
                         f"Could not find table {table} in application {base_id}")


def record_not_found() -> AirtableError:
    """404 MODEL_ID_NOT_FOUND "Record not found" (fixture)."""
    return AirtableError(404, "MODEL_ID_NOT_FOUND", "Record not found")


def bad_request(detail: str | None = None) -> AirtableError:
    """422 INVALID_REQUEST_UNKNOWN with the documented message (plus our detail)."""
    message = GENERIC_422 if not detail else f"{GENERIC_422} {detail}"
    return AirtableError(422, "INVALID_REQUEST_UNKNOWN", message)


def unknown_field(name: str) -> AirtableError:
    """422 UNKNOWN_FIELD_NAME ``Unknown field name: "X"`` (reference §2)."""
    return AirtableError(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')


def computed_field(name: str) -> AirtableError:
    """422 INVALID_VALUE_FOR_COLUMN for a write to a computed field (fixture wording)."""
    return AirtableError(422, "INVALID_VALUE_FOR_COLUMN",
                         f'Field "{name}" cannot accept a value because the field is computed')


def invalid_value(name: str) -> AirtableError:
    """422 INVALID_VALUE_FOR_COLUMN ``Field "X" cannot accept the provided value``.

    The wording is the one public client code matches on (e.g. for a full
    timestamp written to a date-only field).
    """
    return AirtableError(422, "INVALID_VALUE_FOR_COLUMN",
                         f'Field "{name}" cannot accept the provided value')
