"""The one error tree of leadsync.

Every error leadsync raises on purpose derives from :class:`LeadsyncError`, and
also from the builtin it most resembles, so ``except KeyError`` style code keeps
working. Errors a scheduler may retry carry the :class:`Transient` marker.

::

    LeadsyncError
    ├── ConfigError (ValueError)                 bad leadsync.toml, missing token; exit 2
    ├── ConnectorError                            a workspace API said no
    │   ├── AuthError (PermissionError)           401/403: wrong or unshared token
    │   ├── NotFoundError (LookupError)           404: unknown database, table, page
    │   ├── RequestRejectedError (ValueError)     400/409/422 the request itself is wrong
    │   ├── QuotaExceededError                    Airtable monthly billing quota; never retried
    │   ├── RateLimitedError [Transient]          429 we could not wait out
    │   └── UpstreamError [Transient]             5xx, timeouts, connection resets
    ├── SchemaError (KeyError)                    a mapped property/field no longer exists
    ├── DataValidationError (ValueError)          rows that do not fit the canonical tables
    ├── StoreError                                the local store
    │   ├── StoreLockedError [Transient]          another sync holds the lock; exit 75
    │   └── StoreCorruptError                     not a leadsync store, or damaged
    └── ReportWriteError                          a report could not be written back

Messages never contain a token: connectors build them from the API's error body
and the request id, never from request headers, and :mod:`leadsync.secrets`
scrubs registered secrets from anything that is logged.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "ConnectorError",
    "DataValidationError",
    "LeadsyncError",
    "NotFoundError",
    "QuotaExceededError",
    "RateLimitedError",
    "ReportWriteError",
    "RequestRejectedError",
    "SchemaError",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "Transient",
    "UpstreamError",
    "exit_code_for",
    "is_transient",
]

#: Process exit codes of the ``leadsync`` command (ARCHITECTURE.md, "Commands").
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 75  # EX_TEMPFAIL: cron may retry


class LeadsyncError(Exception):
    """Root of every error leadsync raises on purpose."""


class Transient:
    """Marker mixin: the operation may succeed if retried later."""


class ConfigError(LeadsyncError, ValueError):
    """The configuration is wrong: names the key and the file where it can."""

    def __init__(self, message: str, *, key: str | None = None, path: str | None = None):
        where = ""
        if path and key:
            where = f"{path}: {key}: "
        elif path:
            where = f"{path}: "
        elif key:
            where = f"{key}: "
        super().__init__(f"{where}{message}")
        self.key = key
        self.path = path


class ConnectorError(LeadsyncError):
    """A workspace API refused a request or could not be reached.

    ``service`` is ``"notion"`` or ``"airtable"``; ``status`` the HTTP status
    (None when no answer came); ``code`` the API's error code;
    ``request_id`` the API's request id when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ):
        parts = [f"{service}: {message}"]
        details = []
        if status is not None:
            details.append(f"HTTP {status}")
        if code:
            details.append(code)
        if request_id:
            details.append(f"request id {request_id}")
        if details:
            parts.append(f"({', '.join(details)})")
        super().__init__(" ".join(parts))
        self.service = service
        self.status = status
        self.code = code
        self.request_id = request_id


class AuthError(ConnectorError, PermissionError):
    """The token is wrong, expired, or lacks access to the object."""


class NotFoundError(ConnectorError, LookupError):
    """The database, data source, base, table or record does not exist or is not shared."""


class RequestRejectedError(ConnectorError, ValueError):
    """The API rejected the request as invalid (400, 409, 422)."""


class QuotaExceededError(ConnectorError):
    """The account's API quota is spent (Airtable PUBLIC_API_BILLING_LIMIT_EXCEEDED).

    Not transient: retrying before the quota resets only burns more calls.
    """


class RateLimitedError(ConnectorError, Transient):
    """Rate limited for longer than the caller agreed to wait."""

    def __init__(
        self,
        message: str,
        *,
        service: str,
        retry_after: float | None = None,
        status: int | None = 429,
        code: str | None = None,
        request_id: str | None = None,
    ):
        super().__init__(
            message, service=service, status=status, code=code, request_id=request_id
        )
        self.retry_after = retry_after


class UpstreamError(ConnectorError, Transient):
    """5xx answers, timeouts and connection resets that outlasted the retries."""


class SchemaError(LeadsyncError, KeyError):
    """A mapped property or field is missing from the workspace schema."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class DataValidationError(LeadsyncError, ValueError):
    """Rows do not fit a canonical table and were not asked to be quarantined."""


class StoreError(LeadsyncError):
    """The local store could not be used."""


class StoreLockedError(StoreError, Transient):
    """Another process holds the store's sync lock."""


class StoreCorruptError(StoreError):
    """The store file is not a leadsync store or is damaged."""


class ReportWriteError(LeadsyncError):
    """A report or packet could not be written back to the workspace."""


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` is marked as worth retrying later."""
    return isinstance(exc, Transient)


def exit_code_for(exc: BaseException) -> int:
    """The ``leadsync`` exit code for an error: 2 config/usage, 75 transient, 1 otherwise."""
    if isinstance(exc, ConfigError):
        return EXIT_USAGE
    if is_transient(exc):
        return EXIT_TRANSIENT
    return EXIT_FAILED
