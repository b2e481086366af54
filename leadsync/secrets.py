"""Tokens, kept out of logs, errors, reprs and reports.

A token read from the environment is wrapped in :class:`Secret`, whose ``repr``
and ``str`` never show it, and registered with :func:`register`.

A value that cannot travel in an HTTP header (a line break, a space, a
control character, anything outside printable ASCII: a token pasted with a
stray character) is refused when the :class:`Secret` is made, with a
:class:`~leadsync.errors.ConfigError` that says what is wrong and where, and
never shows the value. Sent as it is, it would fail inside the HTTP library
with an error that quotes the whole header, and look like a network failure
(retried, exit 75) that never clears.

Scrubbing happens where every log record passes, whoever handles it
    Registering the first secret installs a log-record factory
    (:func:`logging.setLogRecordFactory`, wrapping whatever factory was there)
    that replaces every registered value with ``****`` in the record's message,
    its formatted exception and its stack text, when the record is made. A
    filter on a logger would not do: Python applies a logger's filters only to
    records logged *on that logger*, not to those of its children
    (``leadsync.connectors.notion``, ``urllib3.connectionpool``), and a filter
    on a handler covers only that handler. So a notebook user's
    ``logging.basicConfig(level=logging.DEBUG)`` gets scrubbed lines too.
    :class:`ScrubFilter` remains for handlers (the CLI's carries one) as a second
    line of defence for records made elsewhere (``logging.makeLogRecord``).
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from typing import Any

from leadsync.errors import ConfigError

__all__ = [
    "ScrubFilter",
    "Secret",
    "check_token",
    "install_scrub_filter",
    "register",
    "scrub",
    "secret_from_env",
]

_lock = threading.Lock()
_known: set[str] = set()
_factory_installed = False

#: Loggers that can see request details (URLs, headers) and get the scrub filter.
SCRUBBED_LOGGERS = ("leadsync", "notion_client", "httpx", "httpcore", "urllib3", "pyairtable")


def _describe(char: str) -> str:
    if char in "\r\n\v\f\x85\u2028\u2029":
        return "a line break"
    if char == " ":
        return "a space"
    if char == "\t":
        return "a tab"
    if not char.isascii():
        return "a character that is not ASCII"
    return "a control character"


def check_token(value: str, name: str = "token") -> None:
    """Refuse a token that cannot be an HTTP header value, without showing it.

    A token is printable ASCII without spaces (Notion's ``ntn_…``/``secret_…``,
    Airtable's ``pat….…``). Raises :class:`~leadsync.errors.ConfigError` naming
    ``name`` (the environment variable), the kind of the first bad character and
    its position, never the value.
    """
    for position, char in enumerate(value, start=1):
        if not ("!" <= char <= "~"):
            raise ConfigError(
                f"{name} cannot be used: character {position} of {len(value)} is "
                f"{_describe(char)}, which an HTTP header cannot carry; copy the token "
                "again from the service and export it without quotes or line breaks"
            )


class Secret:
    """A token whose value is only reachable through :meth:`reveal`.

    Made from a value :func:`check_token` refuses, it raises
    :class:`~leadsync.errors.ConfigError` (the value is registered for scrubbing
    all the same).
    """

    __slots__ = ("_name", "_value")

    def __init__(self, value: str, name: str = "token"):
        self._value = value
        self._name = name
        register(value)
        check_token(value, name)

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
    """Remember ``value`` so :func:`scrub` hides it (values under 6 chars are ignored).

    The first registration installs the scrubbing log-record factory.
    """
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)
            # repr-escaped, as an exception text or a bytes repr quotes it
            escaped = value.encode("unicode_escape").decode("ascii")
            if escaped != value:
                _known.add(escaped)
        _install_record_factory()


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``****``."""
    with _lock:
        if not _known:
            return text
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, "****")
    return text


def secret_from_env(variable: str) -> Secret | None:
    """The environment variable as a :class:`Secret`, or None when unset or empty.

    Raises :class:`~leadsync.errors.ConfigError` when it is set to something
    that cannot be a token (:func:`check_token`).
    """
    value = os.environ.get(variable, "").strip()
    return Secret(value, variable) if value else None


def _scrub_record(record: logging.LogRecord) -> None:
    """Take every registered secret out of ``record`` (message, exception, stack)."""
    try:
        message = record.getMessage()
    except Exception:  # a broken call: logging would print msg and args raw
        message = f"{record.msg} {record.args!r}"
        record.msg, record.args = scrub(message), None
    else:
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        cleaned = scrub(text)
        if cleaned != text:
            record.exc_text = cleaned  # formatters use this instead of formatting again
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


def _install_record_factory() -> None:
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _known:
                _scrub_record(record)
            return record

        logging.setLogRecordFactory(scrubbing_factory)
        _factory_installed = True


class ScrubFilter(logging.Filter):
    """Rewrites log records so that no registered secret is emitted (for a handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub_record(record)
        return True


def install_scrub_filter() -> None:
    """Scrub every log record: the record factory, plus :class:`ScrubFilter` on the
    loggers that see request details (for records made without the factory)."""
    _install_record_factory()
    for name in SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in logger.filters):
            logger.addFilter(ScrubFilter())
