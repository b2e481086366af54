"""Links from a report to the rows it counts: each signal's page or record in the workspace.

Pure: a config in, a function ``(table, source_id) -> URL or None`` out
(:data:`leadsync.reports.model.RowLink`), which :func:`~leadsync.reports.build_report`
takes as ``row_url``. A Notion row is a page, reachable at
``https://www.notion.so/<page id without dashes>`` for whoever may read it;
an Airtable record at ``https://airtable.com/<base>/<table>/<record>`` when
the config names the table by id (``tbl…``).
"""

from __future__ import annotations

import re

from leadsync.reports.model import RowLink

from leadsync.config import Config

__all__ = ["row_links"]

_NOTION_ID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
                        re.IGNORECASE)
_AIRTABLE_ID = re.compile(r"^(app|tbl|rec)[A-Za-z0-9]{14}$")


def row_links(config: Config) -> RowLink:
    """The function linking a row of ``config``'s tables to the workspace (None if it cannot)."""
    if config.workspace.kind == "notion":
        def notion(table: str, source_id: str) -> str | None:
            if table not in config.tables or not _NOTION_ID.match(source_id):
                return None
            return f"https://www.notion.so/{source_id.replace('-', '').lower()}"
        return notion

    def airtable(table: str, source_id: str) -> str | None:
        section = config.tables.get(table)
        if section is None or not section.airtable_base or not section.airtable_table:
            return None
        parts = (section.airtable_base, section.airtable_table, source_id)
        if not all(_AIRTABLE_ID.match(p) for p in parts):
            return None
        return "https://airtable.com/" + "/".join(parts)
    return airtable
