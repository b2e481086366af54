"""The emulated Notion API (version 2025-09-03): workspace state and routes.

Owned by the Notion emulator work; this skeleton fixes the interface the
server relies on.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Literal

from leadsync.emulator.core import Request, Response, Router, TokenBucket, retry_after_header

if TYPE_CHECKING:
    from leadsync.emulator.sample import SampleOrg
    from leadsync.emulator.server import Emulator

__all__ = ["NotionService"]


class NotionService:
    """Notion's REST API under ``/v1``."""

    name = "notion"
    prefix = "/v1"

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.router = Router()
        self.router.add("GET", "/v1/users", "notion.users.list", self._list_users)
        self.users: dict[str, dict[str, Any]] = {}

    # -- the server's interface -------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.bearer() != self.emulator.notion_token:
            return self._error(401, "unauthorized", "API token is invalid.")
        return None

    def rate_key(self, request: Request) -> str | None:
        return request.bearer()

    def limiter(self, key: str) -> TokenBucket | None:
        limits = self.emulator.limits
        return self.emulator.bucket("notion", key, limits.notion_rps, limits.notion_burst)

    def error(self, kind: Literal["rate_limited", "server_error", "not_found", "bad_json"],
              status: int, retry_after: float | None = None) -> Response:
        if kind == "rate_limited":
            response = self._error(
                429, "rate_limited",
                "You have been rate limited. Please try again in a few minutes.",
            )
            response.headers.update(retry_after_header(retry_after or 1.0))
            return response
        if kind == "not_found":
            return self._error(400, "invalid_request_url", "Invalid request URL.")
        if kind == "bad_json":
            return self._error(400, "invalid_json", "Error parsing JSON body.")
        codes = {500: "internal_server_error", 502: "bad_gateway", 503: "service_unavailable",
                 504: "gateway_timeout"}
        return self._error(status, codes.get(status, "internal_server_error"),
                           "Notion encountered an unexpected error.")

    def seed_sample(self, org: SampleOrg) -> None:
        raise NotImplementedError("the Notion sample seeding lands with the Notion emulator")

    # -- helpers ------------------------------------------------------------

    def _error(self, status: int, code: str, message: str) -> Response:
        return Response(status, {
            "object": "error", "status": status, "code": code, "message": message,
            "request_id": str(uuid.uuid4()),
        })

    def _list_users(self, request: Request) -> Response:
        users = list(self.users.values())
        return Response(200, {"object": "list", "results": users, "next_cursor": None,
                              "has_more": False, "type": "user", "user": {},
                              "request_id": str(uuid.uuid4())})
