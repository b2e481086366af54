"""The emulator's machinery: requests, routes, clock, rate limits and faults.

This module knows nothing about Notion or Airtable. A :class:`Service` (see
:mod:`leadsync.emulator.notion` and :mod:`leadsync.emulator.airtable`)
registers routes on a :class:`Router`, says how to authenticate a request,
which rate-limit bucket it draws from, and how its errors look; the
:class:`~leadsync.emulator.server.Emulator` serves every service on one
loopback port. A service sees the emulator as a :class:`Host` only (its
state, clock, limits and faults), so the server imports the services and no
service imports the server.

Time has one seam, :class:`Clock`: the wall clock that stamps created and
edited times (:meth:`Clock.now`) and the monotonic clock the rate-limit
buckets refill by (:meth:`Clock.monotonic`). A :class:`FrozenClock` moves
both only when told, so a test of a rate limit does not depend on how fast
the machine runs.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import math
import random
import re
import string
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "ApiError",
    "Clock",
    "Fault",
    "FaultPlan",
    "FrozenClock",
    "Host",
    "IdFactory",
    "InvalidUnicode",
    "Limits",
    "Request",
    "Response",
    "Router",
    "Service",
    "Stats",
    "TokenBucket",
    "check_unicode",
]


# ---------------------------------------------------------------------------
# Requests and responses


@dataclass
class Request:
    """One HTTP request as a service handler sees it."""

    method: str
    target: str  # the raw request target: path plus query string
    headers: Mapping[str, str]  # lower-cased names
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern
    route: str = ""  # the matched route's name, e.g. "notion.data_sources.query"

    @property
    def raw_path(self) -> str:
        return urlsplit(self.target).path

    @property
    def path(self) -> str:
        """The path with percent-escapes decoded."""
        return unquote(self.raw_path)

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters (``a[]=1&a[]=2`` keeps both values under ``a[]``)."""
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        """The JSON body; ``{}`` when empty; ValueError when it is not JSON.

        :class:`InvalidUnicode` (a ValueError) when it is not valid Unicode: bytes
        that are not UTF-8, or a ``\\ud800`` escape with no partner (a lone
        surrogate). The real APIs refuse those with a 400; stored, they would
        break every later answer that carries them.
        """
        if not self.body:
            return {}
        try:
            value = json.loads(self.body)
        except UnicodeDecodeError as exc:
            raise InvalidUnicode(str(exc)) from None
        check_unicode(value)
        return value

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return None


@dataclass
class Response:
    """What a handler returns: a JSON-able body (or bytes) with status and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()


class InvalidUnicode(ValueError):
    """A request body that is not valid Unicode (see :meth:`Request.json`)."""


def check_unicode(value: Any) -> None:
    """Raise :class:`InvalidUnicode` when a parsed JSON value holds a lone surrogate."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidUnicode("a lone surrogate (\\ud800-\\udfff without its pair)") from None


class ApiError(Exception):
    """Raised by a handler to answer with an error body of its service's shape."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None):
        super().__init__(f"HTTP {status}")
        self.response = Response(status, body, dict(headers or {}))


Handler = Callable[[Request], Response]


class Router:
    """Routes ``(method, path pattern)`` to handlers; ``{name}`` matches one path segment."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []

    def add(self, method: str, pattern: str, name: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/"))
        self._routes.append((method.upper(), re.compile(f"^{regex}/?$"), name, handler))

    def route(self, method: str, pattern: str, name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, pattern, name, handler)
            return handler
        return register

    def match(self, method: str, raw_path: str) -> tuple[Handler, dict[str, str], str] | None:
        """The handler, its path parameters (percent-decoded) and the route name."""
        path_allowed = False
        for verb, regex, name, handler in self._routes:
            m = regex.match(raw_path)
            if m:
                path_allowed = True
                if verb == method.upper():
                    return handler, {k: unquote(v) for k, v in m.groupdict().items()}, name
        if path_allowed:
            raise LookupError("method not allowed")
        return None

    @property
    def names(self) -> list[str]:
        return [name for _, _, name, _ in self._routes]


class Service(Protocol):
    """What the server needs from an emulated API."""

    name: str  # "notion" or "airtable"
    prefix: str  # "/v1" or "/v0"
    router: Router

    def authenticate(self, request: Request) -> Response | None:
        """An error response when the request's credentials are wrong, else None."""

    def rate_key(self, request: Request) -> str | None:
        """The rate-limit bucket this request draws from (None: not limited)."""

    def error(self, kind: Literal["rate_limited", "server_error", "not_found", "bad_json"],
              status: int, retry_after: float | None = None) -> Response:
        """An error response in the service's own shape."""

    def limiter(self, key: str) -> TokenBucket | None:
        """The bucket for ``key`` (None when this service is not rate limited)."""


class Host(Protocol):
    """What a service sees of the emulator that serves it (the server implements it)."""

    #: the seed every id, value and fault draw follows
    seed: int
    limits: Limits
    clock: Clock
    ids: IdFactory
    faults: FaultPlan
    stats: Stats
    #: held while a handler reads or changes state (a ``threading.RLock``)
    @property
    def lock(self) -> AbstractContextManager[Any]: ...
    notion_token: str
    airtable_token: str

    @property
    def url(self) -> str:
        """The base URL the services are served on."""
        ...

    def bucket(self, service: str, key: str, rate: float | None, burst: float,
               penalty: float = 0.0) -> TokenBucket | None:
        """The rate-limit bucket for ``(service, key)``; None when the rate is off."""
        ...


# ---------------------------------------------------------------------------
# Clock


class Clock:
    """The emulator's clocks: wall time (UTC) and monotonic seconds; tests swap in a
    :class:`FrozenClock`."""

    def now(self) -> dt.datetime:
        """The wall time that stamps created and edited times, Date headers, offsets."""
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: what rate-limit buckets refill by."""
        return time.monotonic()


class FrozenClock(Clock):
    """A clock that only moves when told to.

    Rate limits refill by it too, so a test of a limit is exact whatever the
    machine's speed: a burst spent stays spent until the test advances the
    clock. ``pacing=time.monotonic`` keeps the dates frozen but lets the rate
    limits refill in real time, for a test or a benchmark that sends requests
    for a while at the published rates (a client waiting out a 429 waits real
    seconds, which a frozen bucket would never give back).
    """

    def __init__(self, start: dt.datetime | str = "2026-11-01T09:00:00Z", *,
                 pacing: Callable[[], float] | None = None):
        if isinstance(start, str):
            start = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = self._origin = start.astimezone(dt.UTC)
        self._pacing = pacing
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = when.astimezone(dt.UTC)

    def advance(self, seconds: float = 0.0, **delta: float) -> dt.datetime:
        with self._lock:
            self._now += dt.timedelta(seconds=seconds, **delta)
            return self._now

    def sleep(self, seconds: float) -> None:
        """Advance by ``seconds``, rounded up to the microsecond (the clock's grain): what
        a client's wait becomes in frozen time, so a wait always covers what it waited for."""
        self.advance(seconds=math.ceil(max(0.0, seconds) * 1_000_000) / 1_000_000)

    def monotonic(self) -> float:
        """Seconds since the clock's start (rate-limit buckets refill only when it moves),
        or the ``pacing`` clock when one was given."""
        if self._pacing is not None:
            return self._pacing()
        with self._lock:
            return (self._now - self._origin).total_seconds()


# ---------------------------------------------------------------------------
# Ids


_ALNUM = string.ascii_letters + string.digits


class IdFactory:
    """Deterministic ids in each service's format, from one seeded generator."""

    def __init__(self, seed: int | str = 0):
        self._rng = random.Random(f"ids:{seed}")
        self._lock = threading.Lock()

    def uuid(self) -> str:
        """A version-4 UUID, dashed, as Notion returns ids."""
        with self._lock:
            bits = self._rng.getrandbits(128)
        return str(uuid.UUID(int=bits, version=4))

    def airtable(self, prefix: str) -> str:
        """``prefix`` plus 14 letters and digits: ``app…``, ``tbl…``, ``fld…``, ``rec…``."""
        if len(prefix) != 3:
            raise ValueError("Airtable id prefixes have three letters")
        with self._lock:
            return prefix + "".join(self._rng.choices(_ALNUM, k=14))


# ---------------------------------------------------------------------------
# Rate limits


class TokenBucket:
    """``rate`` tokens a second, holding at most ``capacity``; thread-safe.

    ``penalty`` seconds (Airtable) lock the bucket after a request is refused:
    every request in that window is refused too. ``monotonic`` is the clock it
    refills by: the emulator gives its :meth:`Clock.monotonic`.
    """

    def __init__(self, rate: float, capacity: float, penalty: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic):
        if rate <= 0 or capacity < 1:
            raise ValueError("a bucket needs a positive rate and room for one request")
        self.rate = rate
        self.capacity = capacity
        self.penalty = penalty
        self._monotonic = monotonic
        self._tokens = capacity
        self._stamp = monotonic()
        self._locked_until = 0.0
        self._lock = threading.Lock()

    def take(self) -> float | None:
        """None when the request may go; otherwise the seconds until it could."""
        with self._lock:
            now = self._monotonic()
            if now < self._locked_until:
                return self._locked_until - now
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1 - 1e-9:  # float dust must not refuse a due request
                self._tokens -= 1
                return None
            if self.penalty > 0:
                self._locked_until = now + self.penalty
                return self.penalty
            return (1 - self._tokens) / self.rate


@dataclass
class Limits:
    """Every limit the emulator enforces, so tests and benchmarks can scale them.

    The defaults are the published ones (``../shared/reference``). A rate of
    ``None`` switches that service's rate limit off.
    """

    #: Notion: average requests per second per integration, and the burst allowed
    #: (notion-api.md 3.1: "an average of three requests per second. Some bursts beyond
    #: the average rate are allowed", with no number published; 10 is this model's).
    notion_rps: float | None = 3.0
    notion_burst: float = 10.0
    #: Airtable: requests per second per base, at most that many at once (airtable-api.md
    #: 2: "5 requests per second per base"); a refused request locks the base this long
    #: ("wait 30 seconds before subsequent requests will succeed").
    airtable_rps: float | None = 5.0
    airtable_burst: float = 5.0
    airtable_penalty_seconds: float = 30.0
    #: Notion: largest page_size, results one query can return, references shown per property.
    notion_page_size: int = 100
    notion_query_cap: int = 10_000
    notion_reference_cap: int = 25
    notion_append_max: int = 100
    notion_text_max: int = 2000
    notion_array_max: int = 100
    #: Airtable: largest pageSize, records per write, URL length, idle life of a list offset.
    airtable_page_size: int = 100
    airtable_batch_max: int = 10
    airtable_url_max: int = 16_000
    airtable_offset_ttl_seconds: float = 300.0
    #: Retry-After is whole seconds (at least 1) like the real APIs; True sends the
    #: exact wait, for runs whose limits are scaled below a second.
    fractional_retry_after: bool = False

    def retry_after(self, wait: float) -> float:
        """The Retry-After value for a computed wait."""
        return wait if self.fractional_retry_after else float(max(1, math.ceil(wait)))

    @classmethod
    def unlimited(cls) -> Limits:
        """The published size limits, but no rate limits."""
        return cls(notion_rps=None, airtable_rps=None)


# ---------------------------------------------------------------------------
# Faults

FaultKind = Literal["error", "reset", "slow", "storm", "expire_offset"]


@dataclass
class Fault:
    """A fault injected on the routes matching ``route`` (a glob on route names).

    - ``error``: answer ``status`` (5xx) in the service's error shape;
    - ``reset``: drop the connection without an answer (a TCP reset);
    - ``slow``: wait ``delay`` seconds before answering;
    - ``storm``: answer the next ``length`` matching requests with 429 and
      ``Retry-After: retry_after``;
    - ``expire_offset``: (Airtable) treat the request's list offset as expired.

    ``rate`` is the chance per matching request; ``phase="after"`` lets the
    handler run first (a write is committed, then the answer is lost).
    ``limit`` caps how often it fires.
    """

    kind: FaultKind
    route: str = "*"
    rate: float = 1.0
    status: int = 503
    delay: float = 0.0
    length: int = 5
    retry_after: float = 1.0
    phase: Literal["before", "after"] = "before"
    limit: int | None = None
    fired: int = field(default=0, compare=False)

    def matches(self, route: str) -> bool:
        return fnmatch.fnmatchcase(route, self.route)


@dataclass
class Action:
    """What the fault plan decided for one request."""

    kind: FaultKind
    fault: Fault


class FaultPlan:
    """The faults in force, drawn from one seeded generator so runs repeat."""

    def __init__(self, seed: int | str = 0):
        self._rng = random.Random(f"faults:{seed}")
        self._faults: list[Fault] = []
        self._storms: dict[int, int] = {}
        self._lock = threading.Lock()

    def add(self, fault: Fault | None = None, /, **kwargs: Any) -> Fault:
        """Add a fault (or build one from keyword arguments) and return it."""
        fault = fault or Fault(**kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._storms.clear()

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def decide(self, route: str, phase: Literal["before", "after"]) -> list[Action]:
        """The generic faults (error, reset, slow, storm) that fire for one request.

        Storms, slow answers and ``phase="before"`` errors and resets fire before
        the handler runs; ``phase="after"`` errors and resets after it.
        """
        actions: list[Action] = []
        with self._lock:
            for fault in self._faults:
                if fault.kind == "expire_offset" or not fault.matches(route):
                    continue
                fires_after = fault.kind in ("error", "reset") and fault.phase == "after"
                if fires_after != (phase == "after"):
                    continue
                if fault.kind == "storm" and self._storms.get(id(fault), 0) > 0:
                    self._storms[id(fault)] -= 1
                    actions.append(Action("storm", fault))
                elif self._fires(fault):
                    if fault.kind == "storm":
                        self._storms[id(fault)] = fault.length - 1
                    actions.append(Action(fault.kind, fault))
        return actions

    def should(self, kind: FaultKind, route: str) -> bool:
        """For a service-specific fault (``expire_offset``): does one fire now?"""
        with self._lock:
            return any(
                self._fires(f) for f in self._faults if f.kind == kind and f.matches(route)
            )

    def _fires(self, fault: Fault) -> bool:
        if fault.limit is not None and fault.fired >= fault.limit:
            return False
        if fault.rate < 1.0 and self._rng.random() >= fault.rate:
            return False
        fault.fired += 1
        return True


# ---------------------------------------------------------------------------
# Stats


class Stats:
    """What the emulator served: counts per route and status, and 429s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()

    def record(self, service: str, route: str, status: int) -> None:
        with self._lock:
            self.requests[route] += 1
            self.statuses[(route, status)] += 1
            if status == 429:
                self.rate_limited[service] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def total(self, prefix: str = "") -> int:
        with self._lock:
            return sum(n for route, n in self.requests.items() if route.startswith(prefix))

    def count(self, route_glob: str, status: int | None = None) -> int:
        with self._lock:
            return sum(
                n for (route, st), n in self.statuses.items()
                if fnmatch.fnmatchcase(route, route_glob) and (status is None or st == status)
            )

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.statuses.clear()
            self.rate_limited.clear()
            self.faults.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "rate_limited": dict(self.rate_limited),
                "faults": dict(self.faults),
            }


def retry_after_header(seconds: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds when whole, else as a decimal (scaled runs)."""
    if seconds == int(seconds):
        return {"Retry-After": str(int(seconds))}
    return {"Retry-After": f"{max(seconds, 0.001):.3f}"}


def iter_chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
