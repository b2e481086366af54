"""leadsync: leadership signals from Notion or Airtable into typed pandas frames.

Pull the tracking tables (``read_notion``, ``read_airtable``, or a nightly
``leadsync sync`` into a local store), score them with
:mod:`leadsync.analytics`, and push the monthly report back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leadsync.config import Config, load_config
from leadsync.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    DataValidationError,
    LeadsyncError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    ReportWriteError,
    RequestRejectedError,
    SchemaError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    UpstreamError,
)
from leadsync.tables import TABLES, MemberRef, Validated, build_frame, empty_frame

__version__ = "0.1.0"

if TYPE_CHECKING:
    from leadsync.store import Store, open_store


def __getattr__(name: str) -> Any:
    # The store pulls in the connector base and sqlite; import it when first used.
    if name in ("open_store", "Store"):
        from leadsync import store

        return getattr(store, name)
    raise AttributeError(f"module 'leadsync' has no attribute {name!r}")


__all__ = [
    "TABLES",
    "AuthError",
    "Config",
    "ConfigError",
    "ConnectorError",
    "DataValidationError",
    "LeadsyncError",
    "MemberRef",
    "NotFoundError",
    "QuotaExceededError",
    "RateLimitedError",
    "ReportWriteError",
    "RequestRejectedError",
    "SchemaError",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "UpstreamError",
    "Validated",
    "__version__",
    "build_frame",
    "empty_frame",
    "load_config",
    "open_store",
]
