"""Writing and describing ``leadsync.toml`` (``leadsync init``, ``leadsync check``).

The template's field names are the ones the seed's signal table uses
("Team Member", "Signal Type", "Evidence", "Date", "Impact", from
:mod:`leadsync.layout`) and that the emulator's sample workspace follows,
so a config written here works against the emulator as is and needs only
ids for a real workspace.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Literal

from leadsync.config import TOKEN_VARIABLES, Config
from leadsync.layout import LAYOUT, default_fields

__all__ = ["config_template", "describe_config", "render_config"]

Kind = Literal["notion", "airtable"]


def _s(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _inline(mapping: Mapping[str, str]) -> str:
    return "{ " + ", ".join(f"{k} = {_s(v)}" for k, v in mapping.items()) + " }"


def render_config(
    kind: str,
    sources: Mapping[str, Mapping[str, str]],
    *,
    base_url: str | None = None,
    store_path: str = "leadsync.db",
    comment_out: tuple[str, ...] = (),
    header: str = "",
    report: Mapping[str, str] | None = None,
) -> str:
    """``leadsync.toml`` text for ``sources`` (canonical table -> its location keys);
    ``report`` fills ``[report]`` (where ``--push`` writes)."""
    lines = [header.rstrip(), ""] if header else []
    lines += ["[workspace]", f"kind = {_s(kind)}"]
    if base_url:
        key = "notion_base_url" if kind == "notion" else "airtable_endpoint_url"
        lines.append(f"{key} = {_s(base_url)}")
    for item in LAYOUT:
        if item.table not in sources:
            continue
        prefix = "# " if item.table in comment_out else ""
        lines += ["", f"{prefix}[tables.{item.table}]"]
        for key, value in sources[item.table].items():
            lines.append(f"{prefix}{key} = {_s(value)}")
        lines.append(f"{prefix}fields = {_inline(default_fields(kind, item.table))}")  # type: ignore[arg-type]
    lines += ["", "[store]", f"path = {_s(store_path)}", ""]
    if report:
        lines += ["[report]", *(f"{k} = {_s(v)}" for k, v in report.items()), ""]
    return "\n".join(lines)


def config_template(kind: Kind) -> str:
    """A commented starting config for ``kind``; signals and members are required."""
    token = TOKEN_VARIABLES[kind]
    if kind == "notion":
        placeholder = {"notion_database": "PASTE-THE-DATABASE-URL-OR-ID"}
        where = "the database URL or id (Share -> Copy link)"
    else:
        placeholder = {"airtable_base": "appXXXXXXXXXXXXXX", "airtable_table": "tblXXXXXXXXXXXXXX"}
        where = "the base id (app…) and table id (tbl…) or name"
    header = "\n".join([
        "# leadsync configuration.",
        f"# The token is read from the environment: export {token}=...  (never put it here).",
        f"# For each table, paste {where}.",
        "# `fields` maps leadsync's column (left) to your property name or id (right).",
        "# signals and members are required; the others unlock milestones, check-ins,",
        "# rotation, promotion and project-lead (projects) analytics.",
    ])
    sources = {item.table: placeholder for item in LAYOUT}
    optional = tuple(item.table for item in LAYOUT if item.table not in ("signals", "members"))
    return render_config(kind, sources, header=header, comment_out=optional) + "\n".join([
        "",
        "[sync]",
        "full_every_days = 7      # re-list every id to catch deletions this often",
        "overlap_seconds = 120    # incremental pulls re-read this far back",
        "max_wait_seconds = 900   # longest Retry-After wait accepted before exit 75",
        "",
        "[scoring]",
        "impact_weights = { Low = 1, Medium = 3, High = 9 }",
        "half_life_days = 90",
        "",
        "# Where `leadsync report --push` and `leadsync packet --push` write:",
        "# [report]",
        *(["# notion_parent_page = \"PASTE-THE-PAGE-URL-OR-ID\"   # shared with the "
           "integration"] if kind == "notion" else
          ["# airtable_base = \"appXXXXXXXXXXXXXX\"   # default: the members table's base",
           "# airtable_table = \"Reports\"           # tables are created when missing",
           "# airtable_scores_table = \"Scores\"",
           "# airtable_packets_table = \"Packets\""]),
        "",
    ])


def describe_config(config: Config, env: Mapping[str, str] | None = None) -> str:
    """What the config says, for ``leadsync check`` (never shows a token)."""
    env = os.environ if env is None else env
    kind = config.workspace.kind
    variable = TOKEN_VARIABLES[kind]
    lines = [f"config: {config.source}", f"workspace: {kind}"]
    for name, table in config.tables.items():
        if kind == "notion":
            where = f"database {table.notion_database}"
            if table.notion_data_source:
                where += f" (data source {table.notion_data_source})"
        else:
            where = f"base {table.airtable_base}, table {table.airtable_table}"
        mapped = ", ".join(f"{k}<-{v!r}" for k, v in table.fields.items()) or "(default names)"
        lines.append(f"  {name}: {where}; {mapped}")
    lines.append(f"store: {config.store.path}")
    lines.append(f"token: {variable} is {'set' if env.get(variable, '').strip() else 'NOT set'}")
    return "\n".join(lines)
