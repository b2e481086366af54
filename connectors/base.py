"""What both connectors share: records, the source contract, pacing, retries, progress.

A connector turns one workspace table into :class:`Record` values (canonical
column names, Python values, member references as
:class:`~leadsync.tables.MemberRef`), through three seams:

- :class:`RateLimiter` paces requests below the service's published rate, so a
  normal pull meets no 429 at all;
- :func:`retrying` retries what is worth retrying (429 after its
  ``Retry-After``, 5xx, timeouts, resets) and nothing else, with tenacity;
- :class:`Progress` shows a bar on a terminal or in a notebook and plain log
  lines in cron;
- :class:`SchemaCache` lets the sources of one run share a schema read (an
  Airtable base's schema serves every table of the base).

:class:`TableSource` is the contract the sync job (``leadsync.sync``) relies
on; :func:`records_to_frame` makes a canonical frame of records, merging the
connector's decode problems into the quarantine.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import random
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, TypeVar

import pandas as pd
import tenacity

from leadsync.errors import RateLimitedError, SchemaError, UpstreamError
from leadsync.tables import QUARANTINE_COLUMNS, MemberIndex, Validated, build_frame

__all__ = [
    "Cursor",
    "FieldRef",
    "Progress",
    "PullStats",
    "RateLimiter",
    "Record",
    "RetryPolicy",
    "SchemaCache",
    "ServerClock",
    "TableSource",
    "WriteResult",
    "interactive",
    "parse_retry_after",
    "records_to_frame",
    "resolve_fields",
    "retrying",
    "shared_limiter",
]

log = logging.getLogger("leadsync.connectors")

T = TypeVar("T")


# ---------------------------------------------------------------------------
# Records and the source contract


@dataclass(frozen=True)
class Record:
    """One workspace row decoded to canonical columns.

    ``values`` maps canonical column names to Python values (member columns
    hold :class:`~leadsync.tables.MemberRef`). ``problem`` is set when the row
    could not be decoded at all; such a row is quarantined with that reason.
    """

    source_id: str
    created_time: dt.datetime | None
    last_edited_time: dt.datetime | None
    values: Mapping[str, Any]
    problem: str | None = None

    def row(self) -> dict[str, Any]:
        """The values plus ``source_id``, ``created_time`` and ``last_edited_time``."""
        return {
            **self.values,
            "source_id": self.source_id,
            "created_time": self.created_time,
            "last_edited_time": self.last_edited_time,
        }


@dataclass(frozen=True)
class Cursor:
    """Where an incremental pull starts: rows edited at or after ``since - lag``.

    Both services round edit times (Notion to the minute, Airtable to the
    second), so a cursor is moved back by ``lag`` and the overlap is
    de-duplicated by row id.
    """

    since: dt.datetime | None = None
    lag: dt.timedelta = dt.timedelta(minutes=2)

    @property
    def query_from(self) -> dt.datetime | None:
        return None if self.since is None else self.since - self.lag

    def advanced(self, records: Iterable[Record]) -> Cursor:
        """The cursor after ``records``: the newest edit time the server reported."""
        newest = self.since
        for record in records:
            if record.last_edited_time is not None and (
                newest is None or record.last_edited_time > newest
            ):
                newest = record.last_edited_time
        return Cursor(newest, self.lag)


@dataclass
class PullStats:
    """What a pull cost: requests sent, 429s met, retries, rows, seconds."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    rows: int = 0
    seconds: float = 0.0
    waited_seconds: float = 0.0

    def add(self, other: PullStats) -> None:
        for name in ("requests", "rate_limited", "retries", "rows", "seconds",
                     "waited_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class WriteResult:
    """What a write did: ids created and updated, rows left alone, rows refused with why."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[Mapping[str, Any], str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


class TableSource(Protocol):
    """One workspace table as the sync job sees it."""

    service: str
    table: str
    stats: PullStats

    def fetch(self, cursor: Cursor | None = None) -> Iterator[Record]:
        """Every row edited at or after ``cursor.query_from`` (all rows without a cursor),
        complete (long relations expanded), each id once."""
        ...

    def list_ids(self) -> set[str]:
        """The ids of every live row, fetched as cheaply as the API allows."""
        ...


def records_to_frame(
    table: str,
    records: Iterable[Record],
    *,
    members: pd.DataFrame | MemberIndex | None = None,
) -> Validated:
    """A canonical frame of ``records``; undecodable records join the quarantine."""
    good: list[dict[str, Any]] = []
    broken: list[Record] = []
    for record in records:
        if record.problem:
            broken.append(record)
        else:
            good.append(record.row())
    result = build_frame(table, good, members=members)
    if not broken:
        return result
    extra = pd.DataFrame(
        {
            "table": pd.Series([table] * len(broken), dtype="string"),
            "source_id": pd.Series([r.source_id for r in broken], dtype="string"),
            "reason": pd.Series([r.problem for r in broken], dtype="string"),
            "record": pd.Series([repr(dict(r.values)) for r in broken], dtype="string"),
        }
    )
    quarantine = pd.concat([result.quarantine, extra], ignore_index=True)[list(QUARANTINE_COLUMNS)]
    return Validated(result.frame, quarantine)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date).

    ``None`` when absent or unreadable; never negative. A date without a
    zone is read as UTC, as HTTP dates are.
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


class ServerClock:
    """The server's own time, read from the ``Date`` header of its answers.

    A connector notes every answer's ``Date``; :meth:`watch` collects those
    that arrive while a block runs. The earliest one of a pull is its
    *watermark*: every row edited after it will come back from a pull starting
    there, whether or not any row read carries a newer edit time.
    """

    def __init__(self) -> None:
        self._watchers: list[list[dt.datetime]] = []
        self._lock = threading.Lock()

    def note(self, date_header: str | None) -> None:
        if not date_header:
            return
        try:
            when = email.utils.parsedate_to_datetime(date_header)
        except (TypeError, ValueError):
            return
        if when.tzinfo is None:
            return
        with self._lock:
            for seen in self._watchers:
                seen.append(when.astimezone(dt.UTC))

    #: How far a watermark stays behind the earliest ``Date``: covers the
    #: moment between the server filtering a query and dating its answer, and
    #: a little skew between the service's machines.
    MARGIN = dt.timedelta(seconds=60)

    @classmethod
    def watermark(cls, seen: Sequence[dt.datetime]) -> dt.datetime | None:
        """The time a cursor may move to after a pull whose answers were dated ``seen``.

        The earliest ``Date``, floored to the minute (Notion stores edit times
        rounded down to the minute, so an edit a few seconds after the answer
        shows an earlier time) and less :attr:`MARGIN`. Safe with a cursor lag
        of zero; ``None`` when no answer carried a ``Date``.
        """
        if not seen:
            return None
        return min(seen).replace(second=0, microsecond=0) - cls.MARGIN

    @contextmanager
    def watch(self) -> Iterator[list[dt.datetime]]:
        """The ``Date`` of every answer noted inside the block."""
        seen: list[dt.datetime] = []
        with self._lock:
            self._watchers.append(seen)
        try:
            yield seen
        finally:
            with self._lock:
                self._watchers.remove(seen)


# ---------------------------------------------------------------------------
# Field mapping


@dataclass(frozen=True)
class FieldRef:
    """A property (Notion) or field (Airtable) as the schema names it."""

    id: str
    name: str
    type: str


def resolve_fields(
    mapping: Mapping[str, str],
    available: Sequence[FieldRef],
    *,
    where: str,
) -> dict[str, FieldRef]:
    """Canonical column -> the workspace field it maps to, matched by id, then by name.

    Matching ids first is what keeps a sync working after a rename: once a
    mapping has been resolved, callers keep the ids. A mapped field that does
    not exist raises :class:`~leadsync.errors.SchemaError` naming every field
    that does. ``where`` names the table for the message.
    """
    by_id = {f.id: f for f in available}
    by_name = {f.name: f for f in available}
    by_folded: dict[str, list[FieldRef]] = {}
    for f in available:
        by_folded.setdefault(f.name.casefold(), []).append(f)
    resolved: dict[str, FieldRef] = {}
    missing: list[str] = []
    for column, wanted in mapping.items():
        found = by_id.get(wanted) or by_name.get(wanted)
        if found is None:
            folded = by_folded.get(wanted.casefold(), [])
            found = folded[0] if len(folded) == 1 else None
        if found is None:
            missing.append(f"{column} -> {wanted!r}")
        else:
            resolved[column] = found
    if missing:
        names = ", ".join(f"{f.name!r} ({f.type})" for f in available)
        raise SchemaError(
            f"{where}: mapped field(s) not found: {'; '.join(missing)}. "
            f"The fields that exist are: {names}"
        )
    return resolved


class SchemaCache:
    """Schemas read during one run, shared by the sources that need the same one.

    ``get(key, read)`` calls ``read()`` the first time a key is asked for and
    returns that answer afterwards; ``refresh(key, read)`` reads again (the
    API said the schema changed) and the new answer serves later callers too.
    Its lifetime is its owner's: the sync makes one per run, a source without
    one makes its own. It is never process-global, so a long-lived notebook
    sees a rename on its next call instead of a schema from hours ago.
    """

    def __init__(self) -> None:
        self._schemas: dict[Hashable, Any] = {}

    def get(self, key: Hashable, read: Callable[[], T]) -> T:
        if key not in self._schemas:
            self._schemas[key] = read()
        found: T = self._schemas[key]
        return found

    def refresh(self, key: Hashable, read: Callable[[], T]) -> T:
        self._schemas.pop(key, None)
        return self.get(key, read)

    def __contains__(self, key: object) -> bool:
        return key in self._schemas


# ---------------------------------------------------------------------------
# Pacing


class RateLimiter:
    """A blocking token bucket: ``acquire()`` returns when a request may go.

    ``rate`` is requests per second and ``burst`` how many may go back to back.
    After a 429, :meth:`hold` makes every caller wait out the server's
    ``Retry-After`` together. Thread-safe.
    """

    def __init__(self, rate: float, burst: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._held_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                hold = self._held_until - now
                if hold <= 0:
                    self._tokens = min(self.burst,
                                       self._tokens + (now - self._stamp) * self.rate)
                    self._stamp = now
                    if self._tokens >= 1 - 1e-9:  # float dust must not stall a due call
                        self._tokens = max(0.0, self._tokens - 1)
                        self.waited += waited
                        return waited
                    pause = (1 - self._tokens) / self.rate
                else:
                    pause = hold
            self._sleep(pause)
            waited += pause

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the server said so); the bucket restarts empty."""
        with self._lock:
            until = self._clock() + seconds
            if until > self._held_until:
                self._held_until = until
            self._tokens = 0.0
            self._stamp = self._held_until


_shared: dict[tuple[str, float], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(scope: str, rps: float) -> RateLimiter:
    """The one limiter of this process for ``scope``, created on first use.

    A service's rate limit applies to a scope (a Notion integration token, an
    Airtable base), not to a client: every source and writer in the process
    that talks to the same scope must draw from the same bucket, or several
    tables pulled one after the other would together exceed it. Callers
    build ``scope`` without secrets (e.g. a hash of the token).
    """
    key = (scope, rps)
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = _shared[key] = RateLimiter(rps)
        return limiter


# ---------------------------------------------------------------------------
# Retries


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again.

    - 429: wait the server's ``Retry-After`` (``default_rate_wait`` when it sent
      none), unless one wait would exceed ``max_wait`` or the 429s of one call
      would add up past ``max_rate_limited_total``: then give up with
      :class:`~leadsync.errors.RateLimitedError` (transient: cron may retry).
    - 5xx, timeouts, resets (:class:`~leadsync.errors.UpstreamError`):
      exponential backoff with full jitter from ``backoff_initial`` to
      ``backoff_max``, at most ``max_attempts`` tries in all.
    - Anything else: no retry.
    """

    max_attempts: int = 6
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 900.0
    max_rate_limited_total: float = 3600.0
    default_rate_wait: float = 1.0


class _Stop(tenacity.stop.stop_base):
    def __init__(self, policy: RetryPolicy, state: dict[str, float]):
        self.policy = policy
        self.state = state

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimitedError):
            wait = exc.retry_after if exc.retry_after is not None else \
                self.policy.default_rate_wait
            return (wait > self.policy.max_wait
                    or self.state["rate_waited"] + wait > self.policy.max_rate_limited_total)
        return retry_state.attempt_number >= self.policy.max_attempts


def retrying(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    limiter: RateLimiter | None = None,
    stats: PullStats | None = None,
    what: str = "request",
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call`` (which raises leadsync errors) under ``policy``.

    Each attempt first takes a token from ``limiter``. A 429 holds the
    limiter for its ``Retry-After`` so no other request goes meanwhile. On
    giving up, the last error is raised as is; a 429 that asked for more than
    ``policy.max_wait`` says so.
    """
    state = {"rate_waited": 0.0}
    jitter = rng or random.Random()

    def wait(retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimitedError):
            seconds = exc.retry_after if exc.retry_after is not None else \
                policy.default_rate_wait
            state["rate_waited"] += seconds
            if limiter is not None:
                limiter.hold(seconds)
                return 0.0  # the limiter does the waiting, for every caller
            return seconds
        return jitter.uniform(0, backoff_ceiling(retry_state.attempt_number, policy))

    def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if stats is not None:
            stats.retries += 1
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        if isinstance(exc, RateLimitedError) and limiter is not None:
            delay = exc.retry_after if exc.retry_after is not None else policy.default_rate_wait
        message = str(exc) if what in str(exc) else f"{what}: {exc}"
        log.warning("%s; retrying in %.1fs (attempt %d)", message, delay,
                    retry_state.attempt_number + 1)

    def attempt() -> T:
        if limiter is not None:
            waited = limiter.acquire()
            if stats is not None:
                stats.waited_seconds += waited
        if stats is not None:
            stats.requests += 1
        try:
            return call()
        except RateLimitedError:
            if stats is not None:
                stats.rate_limited += 1
            raise

    retryer = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type((RateLimitedError, UpstreamError)),
        stop=_Stop(policy, state),
        wait=wait,
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    try:
        return retryer(attempt)
    except RateLimitedError as exc:
        asked = exc.retry_after
        if asked is not None and asked > policy.max_wait:
            raise RateLimitedError(
                f"{what}: the API asked to wait {asked:.0f}s, more than the "
                f"{policy.max_wait:.0f}s this run accepts; try again later",
                service=exc.service, retry_after=asked, status=exc.status, code=exc.code,
                request_id=exc.request_id,
            ) from exc
        raise


# ---------------------------------------------------------------------------
# Progress


class Progress:
    """Progress of a long pull: a bar on a terminal or in a notebook, log lines in cron.

    ``show=None`` decides from where the process runs; ``True``/``False`` force it.
    Use as a context manager and call :meth:`update` with the rows just done. A
    pull that hands rows to its caller one at a time wraps each hand-over in
    :meth:`paused`, so the seconds it reports are its own, not the caller's.
    """

    LOG_EVERY_SECONDS = 10.0

    def __init__(self, what: str, *, total: int | None = None, unit: str = "rows",
                 show: bool | None = None, logger: logging.Logger | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.what = what
        self.total = total
        self.unit = unit
        self.done = 0
        #: Seconds spent inside :meth:`paused` blocks.
        self.idle_seconds = 0.0
        self._clock = clock
        self._log = logger or log
        self._bar: Any = None
        self._started = clock()
        self._last_log = self._started
        drawn = interactive() if show is None else show
        if drawn:
            if "ipykernel" in sys.modules:
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm
            self._bar = tqdm(total=total, desc=what, unit=f" {unit}", leave=False,
                             file=sys.stderr, dynamic_ncols=True)

    def update(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
            return
        now = self._clock()
        if now - self._last_log >= self.LOG_EVERY_SECONDS:
            self._last_log = now
            self._log.info("%s: %d %s so far%s", self.what, self.done, self.unit,
                           f" of {self.total}" if self.total else "")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """A stretch that is not the pull's work (its caller busy with a row)."""
        began = self._clock()
        try:
            yield
        finally:
            self.idle_seconds += self._clock() - began

    @property
    def seconds(self) -> float:
        """Seconds since the start, less the paused ones."""
        return self._clock() - self._started - self.idle_seconds

    def close(self) -> None:
        elapsed = self.seconds
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._log.info("%s: %d %s in %.1fs", self.what, self.done, self.unit, elapsed)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def interactive() -> bool:
    """Whether progress bars should draw: a notebook, or stderr is a terminal."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def backoff_ceiling(attempt: int, policy: RetryPolicy) -> float:
    """The largest backoff before retry ``attempt`` (for docs and tests)."""
    return min(policy.backoff_max, policy.backoff_initial * math.pow(2, attempt - 1))
