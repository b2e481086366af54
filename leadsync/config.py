"""``leadsync.toml``: loading, validation, and tokens from the environment.

Secrets never live in the file: ``NOTION_TOKEN`` and ``AIRTABLE_TOKEN`` come
from the environment and are wrapped in :class:`~leadsync.secrets.Secret`.
Any unknown key, missing value or wrong type raises one
:class:`~leadsync.errors.ConfigError` that names every offending key and the
file.

Example::

    [workspace]
    kind = "notion"                       # or "airtable"

    [tables.signals]
    notion_database = "1f2e…"             # id or URL
    fields = { member_id = "Team Member", signal_type = "Signal Type", date = "Date" }

    [tables.members]
    notion_database = "9a8b…"
    fields = { name = "Name", timezone = "Time zone" }

    [store]
    path = "leadsync.db"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadsync.errors import ConfigError
from leadsync.secrets import Secret
from leadsync.tables import IMPACT_LEVELS, TABLES

__all__ = [
    "DEFAULT_PATH",
    "Config",
    "LimitsConfig",
    "ReportConfig",
    "ScoringConfig",
    "StoreConfig",
    "SyncConfig",
    "TableConfig",
    "WorkspaceConfig",
    "load_config",
    "parse_config",
]

DEFAULT_PATH = Path("leadsync.toml")
REQUIRED_TABLES = ("signals", "members")
TOKEN_VARIABLES = {"notion": "NOTION_TOKEN", "airtable": "AIRTABLE_TOKEN"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class WorkspaceConfig(_Section):
    """Which service holds the tables, and where its API lives."""

    kind: Literal["notion", "airtable"]
    #: Override for a proxy or the emulator (``leadsync emulator serve``).
    notion_base_url: str = "https://api.notion.com"
    airtable_endpoint_url: str = "https://api.airtable.com"


class TableConfig(_Section):
    """One canonical table's source and its field mapping."""

    notion_database: str | None = None
    notion_data_source: str | None = None
    airtable_base: str | None = None
    airtable_table: str | None = None
    #: canonical column -> workspace property/field name or id
    fields: dict[str, str] = Field(default_factory=dict)


class StoreConfig(_Section):
    path: str = "leadsync.db"


class SyncConfig(_Section):
    #: re-read every id to catch deletions and drift every this many days (0: every run)
    full_every_days: int = Field(default=7, ge=0)
    #: the incremental cursor is moved back this far to cover timestamp rounding
    overlap_seconds: int = Field(default=120, ge=0)
    #: the longest single Retry-After wait accepted before giving up (exit 75)
    max_wait_seconds: float = Field(default=900.0, gt=0)


class LimitsConfig(_Section):
    #: client-side request rate per Notion integration (Notion's average: 3/s)
    notion_rps: float = Field(default=3.0, gt=0)
    #: client-side request rate per Airtable base (Airtable's limit: 5/s)
    airtable_rps: float = Field(default=5.0, gt=0)


class ReportConfig(_Section):
    """Where ``--push`` writes reports and packets (``leadsync.reports.writers``)."""

    #: Notion: the page each month's report and each packet go under (URL or id).
    notion_parent_page: str | None = None
    #: Airtable: the base (default: the members table's) and the tables' names
    #: (created when missing): Reports, Scores, Packets.
    airtable_base: str | None = None
    airtable_table: str | None = None
    airtable_scores_table: str | None = None
    airtable_packets_table: str | None = None


class ScoringConfig(_Section):
    impact_weights: dict[str, float] = Field(
        default_factory=lambda: {"Low": 1.0, "Medium": 3.0, "High": 9.0}
    )
    half_life_days: float = Field(default=90.0, gt=0)

    @field_validator("impact_weights", mode="before")
    @classmethod
    def _weights(cls, value: object) -> object:
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(IMPACT_LEVELS))
            if unknown:
                raise ValueError(
                    f"unknown impact level(s) {', '.join(unknown)}; "
                    f"expected {', '.join(IMPACT_LEVELS)}"
                )
            return {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                    for k, v in value.items()}
        return value


class Config(_Section):
    """The whole of ``leadsync.toml``, validated."""

    workspace: WorkspaceConfig
    tables: dict[str, TableConfig]
    store: StoreConfig = Field(default_factory=StoreConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)

    #: where the config was read from (for messages); not a TOML key
    source: str = Field(default="<memory>", exclude=True)

    @model_validator(mode="after")
    def _tables(self) -> Config:
        problems: list[str] = []
        for name, table in self.tables.items():
            if name not in TABLES:
                problems.append(
                    f"tables.{name}: unknown table; the canonical tables are {', '.join(TABLES)}"
                )
                continue
            known = set(TABLES[name].column_names)
            for column in table.fields:
                if column not in known:
                    problems.append(
                        f"tables.{name}.fields.{column}: not a column of {name}; "
                        f"its columns are {', '.join(c.name for c in TABLES[name].columns)}"
                    )
            if self.workspace.kind == "notion" and not table.notion_database:
                problems.append(
                    f"tables.{name}.notion_database: missing (workspace.kind is notion)"
                )
            if self.workspace.kind == "airtable":
                for key in ("airtable_base", "airtable_table"):
                    if not getattr(table, key):
                        problems.append(
                            f"tables.{name}.{key}: missing (workspace.kind is airtable)"
                        )
        for name in REQUIRED_TABLES:
            if name not in self.tables:
                problems.append(f"tables.{name}: missing; leadsync needs signals and members "
                                "(`leadsync bootstrap` creates them in an empty workspace)")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def token(self, env: Mapping[str, str] | None = None) -> Secret:
        """The workspace token from the environment, or a :class:`ConfigError` saying which."""
        variable = TOKEN_VARIABLES[self.workspace.kind]
        value = (os.environ if env is None else env).get(variable, "").strip()
        if not value:
            raise ConfigError(
                f"{variable} is not set; export the {self.workspace.kind} token in the "
                "environment (tokens never go in leadsync.toml)"
            )
        return Secret(value, variable)


def _format_errors(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            lines.append(f"{loc}: unknown key")
        elif kind == "missing":
            lines.append(f"{loc}: missing value")
        elif kind == "value_error":
            message = str(err.get("ctx", {}).get("error", err["msg"]))
            lines.extend(message.splitlines() if not loc else [f"{loc}: {message}"])
        else:
            got = err.get("input")
            shown = f" (got {got!r})" if not isinstance(got, (dict, list)) else ""
            lines.append(f"{loc}: {err['msg'].lower()}{shown}")
    return lines


def parse_config(data: Mapping[str, Any], source: str = "<memory>") -> Config:
    """Validate an already-parsed TOML mapping."""
    if "source" in data:
        raise ConfigError("unknown key", key="source", path=source)
    try:
        return Config.model_validate({**data, "source": source})
    except ValidationError as exc:
        lines = _format_errors(exc)
        if len(lines) == 1:
            raise ConfigError(lines[0], path=source) from None
        raise ConfigError(
            f"{len(lines)} problems:\n" + "\n".join(f"  {line}" for line in lines), path=source
        ) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate ``leadsync.toml`` (or ``path``)."""
    file = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "no such file; run `leadsync init` to write one, or pass --config", path=str(file)
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(file)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(file)) from None
    return parse_config(data, source=str(file))
