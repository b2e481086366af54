"""Tokens, kept out of logs, errors, reprs and reports.

A token read from the environment is wrapped in :class:`Secret`, whose ``repr``
and ``str`` never show it, and registered with :func:`register`; the
:class:`ScrubFilter` installed on leadsync's and the HTTP libraries' loggers
replaces any registered value that still reaches a log record.
"""

from __future__ import annotations

import logging
import os
import threading

__all__ = ["ScrubFilter", "Secret", "register", "scrub", "secret_from_env"]

_lock = threading.Lock()
_known: set[str] = set()

#: Loggers that can see request details (URLs, headers) and get the scrub filter.
SCRUBBED_LOGGERS = ("leadsync", "notion_client", "httpx", "httpcore", "urllib3", "pyairtable")


class Secret:
    """A token whose value is only reachable through :meth:`reveal`."""

    __slots__ = ("_name", "_value")

    def __init__(self, value: str, name: str = "token"):
        self._value = value
        self._name = name
        register(value)

    def reveal(self) -> str:
        """The raw value, for the one place that sends it (an Authorization header)."""
        return self._value

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"Secret({self._name}=****)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled")


def register(value: str) -> None:
    """Remember ``value`` so :func:`scrub` hides it (values under 6 chars are ignored)."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``****``."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, "****")
    return text


def secret_from_env(variable: str) -> Secret | None:
    """The environment variable as a :class:`Secret`, or None when unset or empty."""
    value = os.environ.get(variable, "").strip()
    return Secret(value, variable) if value else None


class ScrubFilter(logging.Filter):
    """Rewrites log records so that no registered secret is emitted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def install_scrub_filter() -> None:
    """Attach :class:`ScrubFilter` to every logger that can see request details."""
    for name in SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in logger.filters):
            logger.addFilter(ScrubFilter())
