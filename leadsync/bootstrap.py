"""``leadsync bootstrap``: the tracking tables in an empty workspace, and the config for them.

:func:`run_bootstrap` opens the workspace (:func:`leadsync.workspace.open_workspace`),
has it find or create every table of :data:`~leadsync.blueprint.BLUEPRINT` under
the parent (a Notion page, an Airtable base) with the relations between them
and the report target, fills empty tables with sample rows when given some,
and then writes ``leadsync.toml``: ``[tables.*]`` with the ids and the field
names it created, ``[report]`` with the report target.

The config is updated in place with tomlkit, so a file that ``leadsync
emulator serve --empty --write-config`` or a person wrote keeps its comments
and its other sections (``[store]``, ``[sync]``, ``[scoring]`` …); only
``[workspace] kind``, the ``[tables.*]`` bootstrap creates and the
``[report]`` keys it sets are written. A file that already maps tables
bootstrap did not write is left alone unless ``force``: bootstrap would
replace its mapping. Running it again finds every table by title/name and
creates nothing twice; the config it writes is the same.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomlkit
from pydantic import ValidationError

from leadsync.blueprint import BLUEPRINT, TablePlan
from leadsync.config import TOKEN_VARIABLES, LimitsConfig, WorkspaceConfig, parse_config
from leadsync.errors import ConfigError
from leadsync.secrets import Secret
from leadsync.setup import render_config
from leadsync.workspace import BuildResult, SampleRows, open_workspace

__all__ = ["MARKER", "BootstrapRun", "run_bootstrap", "write_bootstrap_config"]

Kind = Literal["notion", "airtable"]

#: The comment that marks the tables a bootstrap wrote (so a second run may rewrite them).
MARKER = "[tables.*] and [report] below were written by `leadsync bootstrap`."


@dataclass
class BootstrapRun:
    """What :func:`run_bootstrap` did: the workspace's side and the config written."""

    result: BuildResult
    config: Path

    def describe(self) -> str:
        created = [t.table for t in self.result.tables if t.created]
        found = [t.table for t in self.result.tables if not t.created]
        parts = []
        if created:
            parts.append(f"created {', '.join(created)}")
        if found:
            parts.append(f"found {', '.join(found)}")
        rows = sum(t.sample_rows for t in self.result.tables)
        if rows:
            parts.append(f"{rows} sample rows")
        return (f"bootstrapped {self.result.parent}: {'; '.join(parts)} "
                f"({self.result.requests} requests); wrote {self.config}. "
                "Next: `leadsync check`, then `leadsync sync`.")


def _existing(path: Path) -> tuple[str | None, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, {}
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from None


#: Per service: the [workspace] key of its URL, and the variable `leadsync emulator serve`
#: prints for it (the URL when the config gives none; the notebook readers use it too).
URL_KEYS: dict[Kind, tuple[str, str]] = {
    "notion": ("notion_base_url", "NOTION_BASE_URL"),
    "airtable": ("airtable_endpoint_url", "AIRTABLE_ENDPOINT_URL"),
}


def _workspace(kind: Kind, data: Mapping[str, Any], path: Path,
               env: Mapping[str, str]) -> WorkspaceConfig:
    section = dict(data.get("workspace") or {})
    section["kind"] = kind
    key, variable = URL_KEYS[kind]
    if not section.get(key) and env.get(variable, "").strip():
        section[key] = env[variable].strip()
    try:
        return WorkspaceConfig.model_validate(section)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"workspace.{where}: {first['msg'].lower()}", path=str(path)) from None


def _limits(data: Mapping[str, Any]) -> LimitsConfig:
    try:
        return LimitsConfig.model_validate(data.get("limits") or {})
    except ValidationError:
        return LimitsConfig()  # the config's own check reports it


def run_bootstrap(
    kind: Kind,
    parent: str,
    *,
    config_path: str | os.PathLike[str],
    sample: SampleRows | None = None,
    force: bool = False,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] | None = None,
    plans: Sequence[TablePlan] = BLUEPRINT,
) -> BootstrapRun:
    """Create (or find) the tracking tables under ``parent`` and write ``config_path``.

    ``parent`` is a Notion page URL or id (``kind="notion"``) or an Airtable base
    id or URL. The token comes from ``NOTION_TOKEN`` / ``AIRTABLE_TOKEN`` in
    ``env`` (default ``os.environ``); the service's URL from the existing
    config's ``[workspace]`` section, else ``NOTION_BASE_URL`` /
    ``AIRTABLE_ENDPOINT_URL`` in ``env`` (then written to the config), else
    the real service's. ``sample`` (canonical rows per
    table, member references as member keys) fills the tables that are empty.
    """
    path = Path(config_path)
    text, data = _existing(path)
    if data.get("tables") and MARKER not in (text or "") and not force:
        raise ConfigError(
            f"already maps {', '.join(data['tables'])}; bootstrap would replace that mapping "
            "with the tables it creates: pass --force, or --config a new file", path=str(path))
    environ = os.environ if env is None else env
    workspace = _workspace(kind, data, path, environ)
    variable = TOKEN_VARIABLES[kind]
    value = environ.get(variable, "").strip()
    if not value:
        raise ConfigError(f"{variable} is not set; export the {kind} token in the environment "
                          "(tokens never go in leadsync.toml)")
    sync = data.get("sync") or {}
    max_wait = float(sync.get("max_wait_seconds", 900.0)) if isinstance(sync, dict) else 900.0
    opened = open_workspace(workspace, Secret(value, variable), limits=_limits(data),
                            max_wait=max_wait)
    try:
        result = opened.build(parent, plans, sample=sample, echo=echo)
    finally:
        opened.close()
    write_bootstrap_config(path, text, workspace, result)
    return BootstrapRun(result, path)


def write_bootstrap_config(path: Path, text: str | None, workspace: WorkspaceConfig,
                           result: BuildResult) -> None:
    """``text`` (or a new config) with the tables and report target of ``result``,
    validated, then written atomically to ``path``."""
    if text is None or not text.strip():
        base_url = (workspace.notion_base_url if workspace.kind == "notion"
                    else workspace.airtable_endpoint_url)
        default = ("https://api.notion.com" if workspace.kind == "notion"
                   else "https://api.airtable.com")
        text = render_config(workspace.kind, {}, base_url=None if base_url == default
                             else base_url, header="# leadsync configuration.")
    document = tomlkit.parse(text)
    if MARKER not in text:
        document.add(tomlkit.nl())
        document.add(tomlkit.comment(MARKER))
    section = document.setdefault("workspace", tomlkit.table())
    section["kind"] = workspace.kind
    key = URL_KEYS[workspace.kind][0]
    url = getattr(workspace, key)
    if key not in section and url != WorkspaceConfig.model_fields[key].default:
        section[key] = url  # given by the environment: the sync needs it in the file
    tables = document.get("tables")
    if tables is None:
        tables = tomlkit.table(is_super_table=True)
        document["tables"] = tables
    for built in result.tables:
        entry = tomlkit.table()
        for key, value in built.location.items():
            entry[key] = value
        fields = tomlkit.inline_table()
        fields.update(built.fields)
        entry["fields"] = fields
        tables[built.table] = entry
    report = document.setdefault("report", tomlkit.table())
    for key, value in result.report.items():
        report[key] = value
    rendered = tomlkit.dumps(document)
    parse_config(tomllib.loads(rendered), source=str(path))  # what we write must load
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(rendered)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
