"""A hostile API in front of the emulator: its listings answered with generated rows.

:class:`HostileProxy` listens on loopback and forwards every request to a real
:class:`~leadsync.emulator.Emulator` (so databases, data sources, base schemas,
ids and errors are the emulator's, true to the real APIs), except the row
listings, which it answers with whatever rows a test hands it:

- Notion: ``POST /v1/data_sources/{id}/query`` answers ``{"object": "list",
  "results": <pages>, "has_more": false, ...}``;
- Airtable: ``GET /v0/{base}/{table}`` and ``POST …/listRecords`` answer
  ``{"records": <records>}``.

So the real connectors, the real ``leadsync sync`` and the notebook readers
read generated pages and records over real HTTP, through every decoder.
"""

from __future__ import annotations

import http.server
import json
import re
import socketserver
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

__all__ = ["HostileProxy"]

_NOTION_QUERY = re.compile(r"^/v1/data_sources/([^/?]+)/query/?$")
_AIRTABLE_LIST = re.compile(r"^/v0/(app[A-Za-z0-9]+)/([^/?]+?)(/listRecords)?/?$")


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class HostileProxy:
    """Forwards to ``upstream``; answers the listings of the given tables with ``rows``."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        #: Notion data source id or Airtable table id -> the rows its listing answers
        self.rows: dict[str, list[Any]] = {}
        self.listings = 0
        self._client = httpx.Client(timeout=60)
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def serve(self, table_id: str, rows: list[Any]) -> None:
        self.rows[table_id] = rows

    def __enter__(self) -> HostileProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _listing(self, method: str, path: str) -> list[Any] | None:
        match = _NOTION_QUERY.match(path)
        if match and method == "POST":
            return self.rows.get(match.group(1))
        match = _AIRTABLE_LIST.match(path)
        if match and not path.startswith("/v0/meta/") and (
                method == "GET" or (method == "POST" and match.group(3))):
            return self.rows.get(match.group(2))
        return None

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding",
                                            "connection", "date", "server",
                                            "content-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                rows = proxy._listing(self.command, path)
                if rows is not None:
                    proxy.listings += 1
                    if path.startswith("/v1/"):
                        answer: dict[str, Any] = {
                            "object": "list", "results": rows, "next_cursor": None,
                            "has_more": False, "type": "page_or_data_source",
                            "page_or_data_source": {}, "request_id": str(uuid.uuid4())}
                    else:
                        answer = {"records": rows}
                    payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                    self._answer(200, payload, {"Content-Type": "application/json"})
                    return
                forwarded = proxy._client.request(
                    self.command, proxy.upstream + self.path, content=body,
                    headers={k: v for k, v in self.headers.items()
                             if k.lower() not in ("host", "content-length", "connection")})
                self._answer(forwarded.status_code, forwarded.content, forwarded.headers)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        return Handler
