"""The emulator's HTTP server: every service on one loopback port.

``Emulator`` owns the state (a Notion workspace and an Airtable account), the
clock, the limits, the fault plan and the stats, and serves them over real
HTTP so that the real ``notion-client`` (``base_url``) and ``pyairtable``
(``endpoint_url``) talk to it exactly as they would to the real APIs.

In a test::

    with Emulator(seed=1).start() as emu:
        client = notion_client.Client(auth=emu.notion_token, base_url=emu.url)

From a shell: ``leadsync emulator serve --port 8765``.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.server
import logging
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from leadsync.emulator.airtable import AirtableService
from leadsync.emulator.core import (
    Action,
    ApiError,
    Clock,
    FaultPlan,
    IdFactory,
    Limits,
    Request,
    Response,
    Service,
    Stats,
    TokenBucket,
)
from leadsync.emulator.notion import NotionService
from leadsync.emulator.notion_seed import seed_org
from leadsync.emulator.sample import SampleOrg

__all__ = ["Emulator"]

log = logging.getLogger("leadsync.emulator")

NOTION_TOKEN = "ntn_leadsync_emulator"  # accepted by the emulator only
AIRTABLE_TOKEN = "patLeadsyncEmulator.local"  # accepted by the emulator only


class _Reset(Exception):
    """Drop the connection without answering."""


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Emulator:
    """A stateful local stand-in for the Notion and Airtable REST APIs.

    ``seed`` fixes every id, every generated value and every fault draw, so two
    emulators built alike answer alike. ``limits`` scales the published limits
    (``Limits.unlimited()`` switches rate limits off). ``clock`` stamps
    created and edited times (a :class:`~leadsync.emulator.core.FrozenClock`
    lets a test edit "in the same minute"). ``sample`` seeds the sample
    organisation into both services: ``True`` for the default size, a
    :class:`~leadsync.emulator.sample.SampleOrg`, or ``False`` for empty
    workspaces; ``workspaces`` says which services get it.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        limits: Limits | None = None,
        clock: Clock | None = None,
        sample: Any = False,
        workspaces: tuple[str, ...] = ("notion", "airtable"),
        host: str = "127.0.0.1",
        port: int = 0,
        notion_token: str = NOTION_TOKEN,
        airtable_token: str = AIRTABLE_TOKEN,
    ):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the emulator only listens on loopback")
        self.seed = seed
        self.limits = limits or Limits()
        self.clock = clock or Clock()
        self.ids = IdFactory(seed)
        self.faults = FaultPlan(seed)
        self.stats = Stats()
        self.lock = threading.RLock()
        self.host = host
        self.port = port
        self.notion_token = notion_token
        self.airtable_token = airtable_token
        self._services: list[Service] = []
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._buckets_lock = threading.Lock()
        self._server: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None
        self._install_services()
        self.sample: Any = None
        if sample is not False and sample is not None:
            self.sample = self.seed_sample(sample, workspaces)

    # -- services ---------------------------------------------------------

    def _install_services(self) -> None:
        self.notion = NotionService(self)
        self.airtable = AirtableService(self)
        self._services = [self.notion, self.airtable]

    def seed_sample(self, sample: Any = True,
                    workspaces: tuple[str, ...] = ("notion", "airtable")) -> Any:
        """Load the sample organisation into the named workspaces; returns the SampleOrg."""
        org = sample if isinstance(sample, SampleOrg) else SampleOrg.generate(seed=self.seed)
        with self.lock:
            if "notion" in workspaces:
                seed_org(self.notion, org)
            if "airtable" in workspaces:
                self.airtable.seed_sample(org)
        return org

    def bucket(self, service: str, key: str, rate: float | None, burst: float,
               penalty: float = 0.0) -> TokenBucket | None:
        """The rate-limit bucket for ``(service, key)``; None when the rate is off."""
        if rate is None:
            return None
        with self._buckets_lock:
            bucket = self._buckets.get((service, key))
            if bucket is None or bucket.rate != rate:
                bucket = TokenBucket(rate, burst, penalty, monotonic=self.clock.monotonic)
                self._buckets[(service, key)] = bucket
            return bucket

    def config_toml(self, kind: str = "notion", store_path: str = "leadsync.db") -> str:
        """A ``leadsync.toml`` pointing at this emulator, for the workspace ``kind``.

        With the sample organisation seeded: every sample table, mapped. Without
        it: the ``[workspace]`` section only, which ``leadsync bootstrap`` completes
        once it has created the tables (under :attr:`NotionService.root_page_id`,
        or in the base :meth:`empty_base` made).
        """
        import tomlkit

        from leadsync.setup import render_config

        token = (f"NOTION_TOKEN={self.notion_token}" if kind == "notion"
                 else f"AIRTABLE_TOKEN={self.airtable_token}")
        if self.sample is None:
            where = (f"--notion {self.notion.root_page_id}" if kind == "notion"
                     else f"--airtable {self.empty_base()}")
            header = (f"# Written by leadsync for the emulator at {self.url} (empty workspaces).\n"
                      f"# export {token}\n"
                      f"# Then `leadsync bootstrap {where}` creates the tracking tables and\n"
                      "# completes this file.")
            text = render_config(kind, {}, base_url=self.url, store_path=store_path,
                                 header=header)
            # Both services answer here: bootstrap --airtable works from the same file.
            document = tomlkit.parse(text)
            workspace = document["workspace"]
            assert isinstance(workspace, tomlkit.items.Table)
            for key in ("notion_base_url", "airtable_endpoint_url"):
                workspace[key] = self.url
            return tomlkit.dumps(document)
        sources: dict[str, dict[str, str]]
        if kind == "notion":
            databases: dict[str, str] = getattr(self.notion, "sample_ids", {})
            sources = {t: {"notion_database": db} for t, db in databases.items()}
        else:
            base: str = getattr(self.airtable, "sample_base_id", "")
            tables: dict[str, str] = getattr(self.airtable, "sample_table_ids", {})
            sources = {t: {"airtable_base": base, "airtable_table": tbl}
                       for t, tbl in tables.items()}
        header = (f"# Written by leadsync for the emulator at {self.url}.\n"
                  f"# export {token}")
        report = ({"notion_parent_page": self.notion.root_page_id} if kind == "notion" else
                  {"airtable_base": getattr(self.airtable, "sample_base_id", "")})
        return render_config(kind, sources, base_url=self.url, store_path=store_path,
                             header=header, report=report)

    def empty_base(self, name: str = "Leadership") -> str:
        """The id of the Airtable base named ``name``, created empty if there is none
        (an Airtable account cannot make a base through the Web API without a
        workspace id, so ``emulator serve --empty`` makes one for ``bootstrap``)."""
        with self.lock:
            for base in self.airtable.bases.values():
                if base.name == name:
                    return str(base.id)
            return self.airtable.create_base(name)

    def reset_limits(self) -> None:
        """Forget every rate-limit bucket (a fresh second for everyone)."""
        with self._buckets_lock:
            self._buckets.clear()

    # -- serving ----------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for both clients: ``notion_client.Client(base_url=...)`` and
        ``pyairtable.Api(..., endpoint_url=...)``."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> Emulator:
        """Serve in a background thread; returns self (use as a context manager)."""
        if self._server is not None:
            return self
        handler = _make_handler(self)
        self._server = _ThreadingServer((self.host, self.port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="leadsync-emulator", daemon=True
        )
        self._thread.start()
        log.info("emulator listening on %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextmanager
    def paused_limits(self) -> Iterator[None]:
        """Temporarily switch rate limits off (for test setup through the API)."""
        saved = (self.limits.notion_rps, self.limits.airtable_rps)
        self.limits.notion_rps = self.limits.airtable_rps = None
        try:
            yield
        finally:
            self.limits.notion_rps, self.limits.airtable_rps = saved
            self.reset_limits()

    # -- one request --------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (raises ``_Reset`` to drop the connection)."""
        service = next(
            (s for s in self._services if request.raw_path.startswith(s.prefix + "/")), None
        )
        if service is None:
            return Response(404, {"error": "NOT_FOUND"})
        try:
            matched = service.router.match(request.method, request.raw_path)
        except LookupError:
            matched = None
        if matched is None:
            response = service.error("not_found", 404)
            self.stats.record(service.name, f"{service.name}.unknown", response.status)
            return response
        handler, params, route = matched
        request.params = params
        request.route = route

        denied = service.authenticate(request)
        if denied is not None:
            self.stats.record(service.name, route, denied.status)
            return denied

        key = service.rate_key(request)
        if key is not None:
            bucket = service.limiter(key)
            wait = bucket.take() if bucket is not None else None
            if wait is not None:
                response = service.error(
                    "rate_limited", 429, retry_after=self.limits.retry_after(wait)
                )
                self.stats.record(service.name, route, 429)
                return response

        for action in self.faults.decide(route, "before"):
            early = self._apply(service, action)
            if early is not None:
                self.stats.record(service.name, route, early.status)
                return early

        try:
            with self.lock:
                response = handler(request)
        except ApiError as exc:
            response = exc.response
        except Exception:  # an emulator bug must answer 500, not hang the client
            log.exception("emulator handler %s failed", route)
            response = service.error("server_error", 500)

        for action in self.faults.decide(route, "after"):
            late = self._apply(service, action)
            if late is not None:
                response = late
        self.stats.record(service.name, route, response.status)
        return response

    def _apply(self, service: Service, action: Action) -> Response | None:
        fault = action.fault
        self.stats.fault(action.kind)
        if action.kind == "slow":
            time.sleep(fault.delay)
            return None
        if action.kind == "reset":
            raise _Reset()
        if action.kind == "storm":
            return service.error("rate_limited", 429, retry_after=fault.retry_after)
        if action.kind == "error":
            return service.error("server_error", fault.status)
        return None


def _make_handler(emulator: Emulator) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "leadsync-emulator"
        sys_version = ""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                target=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                response = emulator.handle(request)
            except _Reset:
                self._reset()
                return
            payload = response.encode()
            self.send_response(response.status)
            headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _reset(self) -> None:
            # SO_LINGER with a zero timeout makes close() send a TCP RST.
            with contextlib.suppress(OSError):
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.close()

        def finish(self) -> None:
            # After a deliberate reset the socket is gone; flushing it would fail.
            with contextlib.suppress(OSError):
                super().finish()

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def date_time_string(self, timestamp: float | None = None) -> str:
            # The Date header follows the emulator's clock, as record times do.
            if timestamp is not None:
                return super().date_time_string(timestamp)
            return email.utils.format_datetime(emulator.clock.now(), usegmt=True)

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without TCP_NODELAY the
            # second waits for the client's delayed ACK (~40 ms a request).
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
