"""The one place an HTTP failure of either service becomes a leadsync error (pure).

Each connector takes apart its own client library's exception (notion-client's
``HTTPResponseError``, a ``requests`` response) into a status, the API's error
code and message, the ``Retry-After`` and the request id, and hands them to
:func:`classify_status`; a failure with no answer (a timeout, a reset, an
answer that is not JSON) goes to :func:`classify_transport`. Both return an
error of the tree in :mod:`leadsync.errors`:

=========================  ==============================================
answer                     error
=========================  ==============================================
429 (Airtable's billing    :class:`~leadsync.errors.QuotaExceededError`:
quota code)                never retried
429                        :class:`~leadsync.errors.RateLimitedError` with
                           its ``retry_after`` (transient)
401, 403                   :class:`~leadsync.errors.AuthError`, with what to check
404                        :class:`~leadsync.errors.NotFoundError`
other 4xx                  :class:`~leadsync.errors.RequestRejectedError`
5xx, anything else         :class:`~leadsync.errors.UpstreamError` (transient)
no answer in time, reset,  :class:`~leadsync.errors.UpstreamError` (transient)
not JSON
=========================  ==============================================

Messages are built from ``what`` (the call, e.g. ``GET /v0/app…/tbl…``), the
API's own message and the service's advice, and scrubbed of registered
secrets; never from request headers (which carry the token) or a URL's query.
"""

from __future__ import annotations

from typing import Literal

from leadsync.errors import (
    AuthError,
    ConnectorError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    RequestRejectedError,
    UpstreamError,
)
from leadsync.secrets import scrub

__all__ = ["QUOTA_CODES", "Service", "TransportFailure", "classify_status", "classify_transport"]

Service = Literal["notion", "airtable"]
TransportFailure = Literal["timeout", "connection", "bad_response", "unencodable"]

#: 429 codes that mean a quota is spent, not a rate exceeded: waiting does not help.
QUOTA_CODES = frozenset({"PUBLIC_API_BILLING_LIMIT_EXCEEDED"})

_NAMES = {"notion": "Notion", "airtable": "Airtable"}

#: What each service's answer means to the user, by kind of failure. ``{what}`` is
#: the call, ``{message}`` the API's message, ``{detail}`` ``": <message>"`` or nothing.
_WORDING: dict[str, dict[str, str]] = {
    "notion": {
        "rate_limited": "{what}: {message}",
        "unauthorized": "{what}: {message} (the Notion token is invalid or revoked; "
                        "check NOTION_TOKEN)",
        "forbidden": "{what}: {message} (the integration may not do this; check its "
                     "capabilities and that the page or database is shared with it)",
        "not_found": "{what}: {message} Share the database with the integration (in "
                     "Notion: ••• → Connections → add it) and check the id or URL.",
        "rejected": "{what}: {message}",
        "upstream": "{what}: {message}",
    },
    "airtable": {
        "rate_limited": "{what}: rate limited{detail}",
        "unauthorized": "{what}: the token was refused{detail}. Check AIRTABLE_TOKEN "
                        "(a personal access token)",
        "forbidden": "{what}: not allowed{detail}. The base or table may not exist, or the "
                     "token lacks access to this base or the scopes data.records:read, "
                     "data.records:write and schema.bases:read",
        "not_found": "{what}: not found{detail}",
        "rejected": "{what}: rejected{detail}",
        "upstream": "{what}: Airtable failed{detail}",
        "quota": "the workspace has used up its monthly Airtable API call quota ({what} "
                 "was refused). leadsync does not retry this: retrying only spends more "
                 "calls. Wait for the quota to reset at the start of the next billing "
                 "month, or move the base to a plan with a larger quota",
    },
}

_KINDS: dict[str, type[ConnectorError]] = {
    "quota": QuotaExceededError,
    "rate_limited": RateLimitedError,
    "unauthorized": AuthError,
    "forbidden": AuthError,
    "not_found": NotFoundError,
    "rejected": RequestRejectedError,
    "upstream": UpstreamError,
}


def _kind(status: int, code: str | None) -> str:
    if status == 429:
        return "quota" if code in QUOTA_CODES else "rate_limited"
    if status == 401:
        return "unauthorized"
    if status == 403:
        return "forbidden"
    if status == 404:
        return "not_found"
    if 400 <= status < 500:
        return "rejected"
    return "upstream"


def classify_status(
    service: Service,
    status: int,
    *,
    what: str,
    code: str | None = None,
    message: str | None = None,
    retry_after: float | None = None,
    request_id: str | None = None,
) -> ConnectorError:
    """The leadsync error for an HTTP error answer of ``service``.

    ``code`` and ``message`` are the API's (Notion's ``code``/``message``,
    Airtable's ``error.type``/``error.message``); ``retry_after`` the seconds
    a 429 asked to wait (parsed by the caller; Airtable's 30 s lock when it
    sent none); ``request_id`` Notion's, kept on the error for support.
    """
    kind = _kind(status, code)
    text = _WORDING[service][kind].format(
        what=what, message=message or f"HTTP {status}",
        detail=f": {message}" if message else "")
    error = _KINDS[kind]
    if kind == "quota":
        return QuotaExceededError(scrub(text), service=service, status=status, code=code)
    if kind == "rate_limited":
        return RateLimitedError(scrub(text), service=service, status=status, code=code,
                                retry_after=retry_after, request_id=request_id)
    return error(scrub(text), service=service, status=status, code=code,
                 request_id=request_id)


def classify_transport(service: Service, failure: TransportFailure, *, what: str,
                       detail: str = "") -> ConnectorError:
    """The leadsync error for a call that got no usable answer.

    ``timeout``, ``connection`` (refused, reset, dropped) and ``bad_response``
    (an answer that is not JSON) are transient; ``unencodable`` (the request
    body could not be encoded, e.g. a NaN) is the request's fault. ``detail``
    (an exception's class name) is added in brackets.
    """
    name = _NAMES[service]
    extra = f" ({detail})" if detail else ""
    if failure == "unencodable":
        return RequestRejectedError(
            scrub(f"{what}: the request body could not be encoded as JSON (NaN or a numpy "
                  f"value?){extra}"), service=service, code="unencodable")
    text = {
        "timeout": f"{what}: {name} did not answer in time",
        "connection": f"{what}: the connection to {name} failed or was reset{extra}",
        "bad_response": f"{what}: {name} sent an answer that is not JSON",
    }[failure]
    return UpstreamError(scrub(text), service=service, code=failure)
