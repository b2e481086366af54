"""What both connectors share at the HTTP edge: pacing, retries, the server's clock.

A connector turns one workspace table into :class:`~leadsync.records.Record`
values and implements the :class:`~leadsync.sources.Source` contract; both
live in the core. What its requests need is here:

- :class:`Limiters` owns the :class:`RateLimiter` of each rate-limit scope (a
  Notion integration, an Airtable base): every client of the process that
  talks to the same scope draws from the same bucket, so a normal pull meets
  no 429 at all. A caller can inject its own owner (a test, a notebook that
  wants its own pacing) and a test can :meth:`~Limiters.reset` it. A bucket
  lets a small burst go back to back (:func:`client_burst`: each connector's
  ``BURST``, kept well inside what its service publishes) and then the
  average rate;
- :func:`retrying` retries what is worth retrying (429 after its
  ``Retry-After``, 5xx, timeouts, resets) and nothing else, with tenacity;
- :class:`ServerClock` reads the server's time from its answers (the
  watermark a cursor may move to);
- :func:`prefetched` runs a listing a page ahead in a worker thread, so the
  next answer is on its way while the last one is decoded;
- :class:`WriteResult` is what a write did.

HTTP failures become leadsync errors in one place, :mod:`~leadsync.connectors.errors`.

The core types this module used to hold (``Record``, ``Cursor``,
``PullStats``, ``records_to_frame``, ``FieldRef``, ``resolve_fields``,
``SchemaCache``, ``Progress``, ``interactive`` and ``TableSource``, now
:class:`~leadsync.sources.Source`) are still importable from here, as aliases
of :mod:`leadsync.records`, :mod:`leadsync.sources` and :mod:`leadsync.progress`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import tenacity

from leadsync.errors import RateLimitedError, UpstreamError
from leadsync.progress import Progress, interactive
from leadsync.records import Cursor, PullStats, Record, records_to_frame
from leadsync.sources import FieldRef, SchemaCache, TableSource, resolve_fields

__all__ = [
    "DEFAULT_LIMITERS",
    "Cursor",
    "FieldRef",
    "Limiters",
    "Progress",
    "PullStats",
    "RateLimiter",
    "Record",
    "RetryPolicy",
    "SchemaCache",
    "ServerClock",
    "TableSource",
    "WriteResult",
    "client_burst",
    "interactive",
    "parse_retry_after",
    "prefetched",
    "records_to_frame",
    "resolve_fields",
    "retrying",
    "shared_limiter",
]

log = logging.getLogger("leadsync.connectors")

T = TypeVar("T")


# ---------------------------------------------------------------------------
# Writes


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


class Limiters:
    """The rate limiters of one owner (by default the process), one per scope and rate.

    A service's rate limit applies to a scope (a Notion integration token, an
    Airtable base), not to a client: every source and writer that talks to
    the same scope must draw from the same bucket, or several tables pulled
    one after the other would together exceed it. Connectors take a
    ``limiters`` argument and use :data:`DEFAULT_LIMITERS` without one, so
    everything in a process shares pacing unless told otherwise. Callers
    build ``scope`` without secrets (e.g. a hash of the token).

    ``clock`` and ``sleep`` are the time the owner's clients live in: every
    limiter made paces by them, and the connectors' retries back off with
    ``sleep`` unless given their own. A test gives a fake pair (a
    :class:`~leadsync.testing.ManualClock`, or one that moves the emulator's
    frozen clock) and nothing waits in real time.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.clock = clock
        self.sleep = sleep
        self._limiters: dict[tuple[str, float, float], RateLimiter] = {}
        self._lock = threading.Lock()

    def get(self, scope: str, rps: float, burst: float = 1.0) -> RateLimiter:
        """The one limiter for ``scope`` at ``rps`` requests a second, ``burst`` of them
        back to back, made on first use."""
        key = (scope, rps, burst)
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                limiter = self._limiters[key] = RateLimiter(rps, burst, clock=self.clock,
                                                            sleep=self.sleep)
            return limiter

    def reset(self) -> None:
        """Forget every limiter: the next request of each scope starts a fresh bucket."""
        with self._lock:
            self._limiters.clear()


#: The owner every connector uses unless given another: one limiter per scope a process.
DEFAULT_LIMITERS = Limiters()


def shared_limiter(scope: str, rps: float, burst: float = 1.0) -> RateLimiter:
    """``DEFAULT_LIMITERS.get(scope, rps, burst)`` (the name this had before :class:`Limiters`)."""
    return DEFAULT_LIMITERS.get(scope, rps, burst)


def client_burst(allowed: float, rps: float) -> float:
    """The burst a client's limiter gets: the service's ``allowed`` one, but never more
    than one second's worth of the rate the client was told to keep (at least 1).

    A user who lowers the rate (an integration shared with other tools) lowers the
    burst with it; an unpaced benchmark's huge rate does not raise it.
    """
    return max(1.0, min(allowed, rps))


# ---------------------------------------------------------------------------
# Overlap


class _Done:
    """The worker's last word: the listing ended (``error`` None) or failed."""

    def __init__(self, error: BaseException | None = None):
        self.error = error


def prefetched(items: Iterable[T], *, ahead: int = 1,
               name: str = "leadsync-prefetch") -> Iterator[T]:
    """``items``, produced by a worker thread up to ``ahead`` items in advance.

    A listing's next page is requested while the caller still works on the
    last one: the HTTP exchange (which waits on the network or the rate
    limiter, without the GIL) overlaps the decoding. Everything ``items``
    does (requests, retries, pacing, schema checks) runs in the worker, one
    request at a time as before; an exception it raises is raised here, where
    the item it would have produced is asked for. A caller that stops early
    (closes this generator) makes the worker stop after the item it is on.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=max(1, ahead))
    stop = threading.Event()
    iterator = iter(items)

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in iterator:
                if not put(item):
                    break
        except BaseException as exc:  # handed to the caller, who raises it
            put(_Done(exc))
            return
        finally:
            if stop.is_set():
                close = getattr(iterator, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:  # the caller has gone; nothing to report to
                        log.debug("closing an abandoned listing failed", exc_info=True)
        put(_Done())

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()


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


def backoff_ceiling(attempt: int, policy: RetryPolicy) -> float:
    """The largest backoff before retry ``attempt`` (for docs and tests)."""
    return min(policy.backoff_max, policy.backoff_initial * math.pow(2, attempt - 1))
