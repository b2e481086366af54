"""The emulated Airtable Web API (v0): bases, tables, records, and routes.

Owned by the Airtable emulator work; this skeleton fixes the interface the
server relies on.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from leadsync.emulator.core import Request, Response, Router, TokenBucket, retry_after_header

if TYPE_CHECKING:
    from leadsync.emulator.sample import SampleOrg
    from leadsync.emulator.server import Emulator

__all__ = ["AirtableService"]

_BASE_IN_PATH = re.compile(r"^/v0/(?:meta/bases/)?(app[A-Za-z0-9]{14})(?:/|$)")


class AirtableService:
    """Airtable's REST API under ``/v0``."""

    name = "airtable"
    prefix = "/v0"

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.router = Router()

    def authenticate(self, request: Request) -> Response | None:
        if request.bearer() != self.emulator.airtable_token:
            return Response(401, {"error": {"type": "AUTHENTICATION_REQUIRED",
                                            "message": "Authentication required"}})
        return None

    def rate_key(self, request: Request) -> str | None:
        m = _BASE_IN_PATH.match(request.raw_path)
        return m.group(1) if m else None

    def limiter(self, key: str) -> TokenBucket | None:
        limits = self.emulator.limits
        return self.emulator.bucket("airtable", key, limits.airtable_rps, limits.airtable_burst,
                                    limits.airtable_penalty_seconds)

    def error(self, kind: Literal["rate_limited", "server_error", "not_found", "bad_json"],
              status: int, retry_after: float | None = None) -> Response:
        if kind == "rate_limited":
            body = {"error": {"type": "RATE_LIMIT_REACHED",
                              "message": "Rate limit exceeded. Please try again later"}}
            return Response(429, body, retry_after_header(retry_after or 30.0))
        if kind == "not_found":
            return Response(404, {"error": "NOT_FOUND"})
        if kind == "bad_json":
            return Response(422, {"error": {"type": "INVALID_REQUEST_BODY",
                                            "message": "Could not parse request body"}})
        return Response(status, {"error": {
            "type": "RETRIABLE_ERROR",
            "message": "Server encountered an error while processing your request, "
                       "and it is safe to retry the request",
        }})

    def seed_sample(self, org: SampleOrg) -> None:
        raise NotImplementedError("the Airtable sample seeding lands with the Airtable emulator")
