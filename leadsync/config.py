"""``leadsync.toml``: loading, validation, and tokens from the environment.

Secrets never live in the file: ``NOTION_TOKEN`` and ``AIRTABLE_TOKEN`` come
from the environment and are wrapped in :class:`~leadsync.secrets.Secret`
(which refuses a value that cannot be sent as a header, without echoing it).
Any unknown key, missing value or wrong type raises one
:class:`~leadsync.errors.ConfigError` that names every offending key and the
file.

Everything is checked when the file is loaded, so ``check`` and ``sync``
refuse the same things before any request: ids have their service's form
(a Notion id or a ``https://`` URL holding one, an Airtable ``app…`` base
id), service URLs are ``http(s)://host`` without credentials, numbers are
finite and within sane bounds, the store path and mapped names are non-empty
text without control characters. A file that is not UTF-8, not TOML, nested
too deeply or larger than :data:`MAX_CONFIG_BYTES` is one error too. Values
and keys are quoted and shortened in messages, so every problem is one line.

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

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

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
    "location_problem",
    "parse_config",
]

DEFAULT_PATH = Path("leadsync.toml")
REQUIRED_TABLES = ("signals", "members")
TOKEN_VARIABLES = {"notion": "NOTION_TOKEN", "airtable": "AIRTABLE_TOKEN"}
#: A leadsync.toml is a few kilobytes; a bigger file is refused unread.
MAX_CONFIG_BYTES = 1 << 20
#: Validation context key: keep workspace locations (database, data source, base, parent
#: page) as written, for ``leadsync check`` to name a placeholder or a malformed id as one
#: of its findings with its fix, beside the others, instead of refusing the file at load.
AS_WRITTEN = "locations_as_written"

_NOTION_ID = re.compile(
    r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_NOTION_ID_IN_PATH = re.compile(
    r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_AIRTABLE_BASE = re.compile(r"^app[A-Za-z0-9]{14}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def shown(value: object, limit: int = 60) -> str:
    """``value`` for a one-line message: its repr (escapes included), shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 6] + "…" + text[-5:]


def _key(part: object) -> str:
    """One part of a key path as TOML spells it: bare, or quoted with escapes."""
    text = str(part)
    if _PLAIN_KEY.match(text):
        return text
    quoted = json.dumps(text)
    return quoted if len(quoted) <= 60 else quoted[:54] + "…" + quoted[-5:]


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty")
    if _CONTROL.search(value):
        raise ValueError(f"holds a control character or line break (got {shown(value)})")
    return value


def _as_written(info: ValidationInfo) -> bool:
    """Whether the caller asked to keep workspace locations as written (``leadsync check``)."""
    return isinstance(info.context, dict) and bool(info.context.get(AS_WRITTEN))


def _notion_ref(value: str, info: ValidationInfo) -> str:
    """A Notion id (dashed or not) or an http(s) URL whose path holds one."""
    _text(value)
    if _as_written(info):
        return value
    try:
        _strict_notion_ref(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; paste the database's link (Share -> Copy link) or its "
                         "32-character id") from None
    return value


def _strict_notion_ref(value: str) -> None:
    text = value.strip()
    if _NOTION_ID.match(text):
        return
    parts = urlsplit(text) if "://" in text else None
    if parts and parts.scheme in ("http", "https") and parts.hostname \
            and _NOTION_ID_IN_PATH.search(parts.path):
        return
    raise ValueError(f"not a Notion id or a Notion URL holding one (got {shown(value)})")


def _notion_id(value: str, info: ValidationInfo) -> str:
    _text(value)
    if _as_written(info):
        return value
    _strict_notion_id(value)
    return value


def _strict_notion_id(value: str) -> None:
    if not _NOTION_ID.match(value.strip()):
        raise ValueError(f"not a Notion id (32 hexadecimal characters, dashes allowed; "
                         f"got {shown(value)})")


def _airtable_base(value: str, info: ValidationInfo) -> str:
    _text(value)
    if _as_written(info):
        return value.strip()
    _strict_airtable_base(value)
    return value.strip()


def _strict_airtable_base(value: str) -> None:
    if not _AIRTABLE_BASE.match(value.strip()):
        raise ValueError(f"not an Airtable base id ('app' and 14 letters or digits, as in "
                         f"https://airtable.com/appXXXXXXXXXXXXXX/…; got {shown(value)})")


_LOCATION_CHECKS = {
    "notion_ref": _strict_notion_ref,
    "notion_id": _strict_notion_id,
    "airtable_base": _strict_airtable_base,
}


def location_problem(kind: Literal["notion_ref", "notion_id", "airtable_base"],
                     value: str) -> str | None:
    """Why a workspace location would be refused at load, or None when it would load.

    ``notion_ref`` is a database or page (an id or a URL holding one), ``notion_id`` a
    data source id, ``airtable_base`` a base id. ``leadsync check`` loads the config with
    ``locations_as_written`` and names each such problem as one of its findings.
    """
    try:
        _text(value)
        _LOCATION_CHECKS[kind](value)
    except ValueError as exc:
        return str(exc)
    return None


def _service_url(value: str) -> str:
    _text(value)
    try:
        parts = urlsplit(value.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname \
            or not port_ok or " " in value.strip():
        raise ValueError(f"not an http(s) URL (got {shown(value)}); for example "
                         "https://api.notion.com or http://127.0.0.1:8765")
    if parts.username is not None or parts.password is not None:
        raise ValueError("holds credentials; tokens come from the environment, never from "
                         "leadsync.toml")
    return value.strip()


def _store_path(value: str) -> str:
    _text(value)
    if value.startswith("~"):
        try:
            Path(value).expanduser()
        except RuntimeError as exc:  # "~someone" with no such user, or no home directory
            raise ValueError(f"{exc} (got {shown(value)})") from None
    return value


Text = Annotated[str, AfterValidator(_text)]
StorePath = Annotated[str, AfterValidator(_store_path)]
NotionRef = Annotated[str, AfterValidator(_notion_ref)]
NotionId = Annotated[str, AfterValidator(_notion_id)]
AirtableBase = Annotated[str, AfterValidator(_airtable_base)]
ServiceUrl = Annotated[str, AfterValidator(_service_url)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class WorkspaceConfig(_Section):
    """Which service holds the tables, and where its API lives."""

    kind: Literal["notion", "airtable"]
    #: Override for a proxy or the emulator (``leadsync emulator serve``).
    notion_base_url: ServiceUrl = "https://api.notion.com"
    airtable_endpoint_url: ServiceUrl = "https://api.airtable.com"


class TableConfig(_Section):
    """One canonical table's source and its field mapping."""

    notion_database: NotionRef | None = None
    notion_data_source: NotionId | None = None
    airtable_base: AirtableBase | None = None
    #: a table id (``tbl…``) or name
    airtable_table: Text | None = None
    #: canonical column -> workspace property/field name or id
    fields: dict[str, Text] = Field(default_factory=dict)


class StoreConfig(_Section):
    #: the SQLite file, relative to the config file's folder (``~`` is expanded)
    path: StorePath = "leadsync.db"


class SyncConfig(_Section):
    #: re-read every id to catch deletions and drift every this many days (0: every run)
    full_every_days: int = Field(default=7, ge=0, le=3650)
    #: the incremental cursor is moved back this far to cover timestamp rounding
    overlap_seconds: int = Field(default=120, ge=0, le=7 * 86400)
    #: the longest single Retry-After wait accepted before giving up (exit 75)
    max_wait_seconds: float = Field(default=900.0, gt=0, le=86400)


class LimitsConfig(_Section):
    #: client-side request rate per Notion integration (Notion's average: 3/s)
    notion_rps: float = Field(default=3.0, gt=0, le=10_000)
    #: client-side request rate per Airtable base (Airtable's limit: 5/s)
    airtable_rps: float = Field(default=5.0, gt=0, le=10_000)


class ReportConfig(_Section):
    """Where ``--push`` writes reports and packets (``leadsync.reports.writers``)."""

    #: Notion: the page each month's report and each packet go under (URL or id).
    notion_parent_page: NotionRef | None = None
    #: Airtable: the base (default: the members table's) and the tables' names
    #: (created when missing): Reports, Scores, Packets.
    airtable_base: AirtableBase | None = None
    airtable_table: Text | None = None
    airtable_scores_table: Text | None = None
    airtable_packets_table: Text | None = None


class ScoringConfig(_Section):
    impact_weights: dict[str, Annotated[float, Field(ge=0, le=1e6)]] = Field(
        default_factory=lambda: {"Low": 1.0, "Medium": 3.0, "High": 9.0}
    )
    half_life_days: float = Field(default=90.0, gt=0, le=36500)

    @field_validator("impact_weights", mode="before")
    @classmethod
    def _weights(cls, value: object) -> object:
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(IMPACT_LEVELS))
            if unknown:
                raise ValueError(
                    f"unknown impact level(s) {', '.join(_key(u) for u in unknown)}; "
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
                    f"tables.{_key(name)}: unknown table; the canonical tables are "
                    f"{', '.join(TABLES)}"
                )
                continue
            known = set(TABLES[name].column_names)
            for column in table.fields:
                if column not in known:
                    problems.append(
                        f"tables.{name}.fields.{_key(column)}: not a column of {name}; "
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
        return Secret(value, variable)  # a ConfigError when it cannot be a header value


def _format_errors(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors():
        loc = ".".join(_key(p) for p in err["loc"])
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
            detail = f" (got {shown(got)})" if not isinstance(got, (dict, list)) else ""
            lines.append(f"{loc}: {err['msg'].lower()}{detail}")
    return lines


def parse_config(data: Mapping[str, Any], source: str = "<memory>", *,
                 locations_as_written: bool = False) -> Config:
    """Validate an already-parsed TOML mapping.

    ``locations_as_written`` keeps the workspace locations (database and data source ids,
    Airtable base, report parent page) unchecked beyond being non-empty text; only
    ``leadsync check`` asks for it, to report a malformed one as a finding.
    """
    if "source" in data:
        raise ConfigError("unknown key", key="source", path=source)
    try:
        return Config.model_validate({**data, "source": source},
                                     context={AS_WRITTEN: locations_as_written})
    except ValidationError as exc:
        lines = _format_errors(exc)
        if len(lines) == 1:
            raise ConfigError(lines[0], path=source) from None
        raise ConfigError(
            f"{len(lines)} problems:\n" + "\n".join(f"  {line}" for line in lines), path=source
        ) from None


def load_config(path: str | os.PathLike[str] | None = None, *,
                locations_as_written: bool = False) -> Config:
    """Read and validate ``leadsync.toml`` (or ``path``); see `parse_config`."""
    file = Path(path) if path is not None else DEFAULT_PATH
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            "no such file; run `leadsync init` to write one, or pass --config", path=str(file)
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(file)) from None
    except ValueError as exc:  # a path with a NUL byte
        raise ConfigError(f"cannot read: {exc}", path=shown(str(file))) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {MAX_CONFIG_BYTES >> 20} MiB; not a leadsync.toml",
                          path=str(file))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text (byte {raw[exc.start]:#04x} on line {line}); "
                          "save the file as UTF-8", path=str(file)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(file)) from None
    except ValueError as exc:  # a number of more than sys.get_int_max_str_digits() digits
        raise ConfigError(f"not valid TOML: {str(exc).split(';')[0]}", path=str(file)) from None
    except RecursionError:
        raise ConfigError("not valid TOML: arrays or tables nested too deeply",
                          path=str(file)) from None
    return parse_config(data, source=str(file), locations_as_written=locations_as_written)
