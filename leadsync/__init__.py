"""leadsync: leadership signals from Notion or Airtable into typed pandas frames.

Pull the tracking tables (``read_notion``, ``read_airtable`` for one typed
frame, ``iter_notion``, ``iter_airtable`` for typed frames page by page, or a
nightly ``leadsync sync`` into a local store), score them with
:mod:`leadsync.analytics`, and report on the month with :mod:`leadsync.reports`
(``leadsync.reports.build_report(frames, as_of=...)``).
"""

from __future__ import annotations

import importlib
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

# Imported on first use, so `import leadsync` loads no HTTP client.
_LAZY = {
    "read_notion": "leadsync.connectors.notion",
    "iter_notion": "leadsync.connectors.notion",
    "read_airtable": "leadsync.connectors.airtable",
    "iter_airtable": "leadsync.connectors.airtable",
    "concat_frames": "leadsync.sources",
    "analytics": "leadsync.analytics",
    "reports": "leadsync.reports",
    "open_store": "leadsync.store",
    "Store": "leadsync.store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'leadsync' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    value = loaded if module.endswith(name) else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
    "analytics",
    "build_frame",
    "concat_frames",
    "empty_frame",
    "iter_airtable",
    "iter_notion",
    "load_config",
    "open_store",
    "read_airtable",
    "read_notion",
    "reports",
]
