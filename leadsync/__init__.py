"""leadsync: leadership signals from Notion or Airtable into typed pandas frames.

Pull the tracking tables (``read_notion``, ``read_airtable``, or a nightly
``leadsync sync`` into a local store), score them with
:mod:`leadsync.analytics`, and push the monthly report back.
"""

from __future__ import annotations

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
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "UpstreamError",
    "Validated",
    "__version__",
    "build_frame",
    "empty_frame",
    "load_config",
]
