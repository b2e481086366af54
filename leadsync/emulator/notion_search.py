"""``POST /v1/search``: pages and data sources by title, as Notion 2025-09-03 answers it.

The body (every key optional)::

    {"query": "Signals",
     "filter": {"property": "object", "value": "page" | "data_source"},
     "sort": {"direction": "ascending" | "descending", "timestamp": "last_edited_time"},
     "start_cursor": "<id>", "page_size": 100}

The answer is a list like a query's (``"type": "page_or_data_source"``) of
page objects and data source objects (``"database"`` is no longer a filter
value since 2025-09-03: a 400 ``validation_error`` says so).

Choices where Notion's behaviour is unpublished: ``query`` matches a title
containing it, ignoring case (Notion's own ranking is fuzzier); without
``sort`` results come most recently edited first (Notion says "by relevance");
the integration sees every object, as the emulator shares everything with
it; trashed objects are left out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from leadsync.emulator.notion_model import Env, Page, invalid, parse_id, short_json
from leadsync.emulator.notion_schema import data_source_object
from leadsync.emulator.notion_values import page_title

__all__ = ["SearchHost", "search"]


class SearchHost(Env, Protocol):
    """What the search needs from the service: the workspace and how a page is answered."""

    def page_object(self, page: Page, version: str = ...,
                    only: set[str] | None = None) -> dict[str, Any]: ...

_VALUES = ("page", "data_source")


def _title(items: list[dict[str, Any]]) -> str:
    return "".join(str(item.get("plain_text", "")) for item in items)


def _candidates(service: SearchHost, kinds: tuple[str, ...]
                ) -> list[tuple[str, str, str, dt.datetime, int]]:
    """(kind, id, title, last edited, creation order) of every live page and data source."""
    ws = service.ws
    found: list[tuple[str, str, str, dt.datetime, int]] = []
    if "page" in kinds:
        found += [("page", page.id, page_title(service, page), page.edited, page.seq)
                  for page in ws.pages.values() if not page.in_trash]
    if "data_source" in kinds:
        found += [("data_source", ds.id, _title(ds.title), ds.edited, n)
                  for n, ds in enumerate(ws.data_sources.values())
                  if not ds.in_trash and not ws.databases[ds.database_id].in_trash]
    return found


def _filter_kinds(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return _VALUES
    if not isinstance(raw, dict):
        raise invalid("body failed validation: body.filter should be an object, instead was "
                      f"`{short_json(raw)}`.")
    if raw.get("property") != "object":
        raise invalid("body failed validation: body.filter.property should be `\"object\"`, "
                      f"instead was `{short_json(raw.get('property'))}`.")
    value = raw.get("value")
    if value not in _VALUES:
        raise invalid("body failed validation: body.filter.value should be `\"page\"` or "
                      f"`\"data_source\"`, instead was `{short_json(value)}`.")
    return (str(value),)


def _descending(raw: Any) -> bool:
    if raw is None:
        return True
    if not isinstance(raw, dict):
        raise invalid("body failed validation: body.sort should be an object, instead was "
                      f"`{short_json(raw)}`.")
    if raw.get("timestamp") != "last_edited_time":
        raise invalid("body failed validation: body.sort.timestamp should be "
                      f"`\"last_edited_time\"`, instead was `{short_json(raw.get('timestamp'))}`.")
    direction = raw.get("direction")
    if direction not in ("ascending", "descending"):
        raise invalid("body failed validation: body.sort.direction should be `\"ascending\"` "
                      f"or `\"descending\"`, instead was `{short_json(direction)}`.")
    return bool(direction == "descending")


def search(service: SearchHost, body: dict[str, Any], version: str, size: int
           ) -> dict[str, Any]:
    """One page of ``size`` search results (the envelope without ``request_id``)."""
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise invalid("body failed validation: body.query should be a string, instead was "
                      f"`{short_json(query)}`.")
    kinds = _filter_kinds(body.get("filter"))
    descending = _descending(body.get("sort"))
    cursor = body.get("start_cursor")
    if cursor is not None:
        cursor = parse_id(cursor, "body.start_cursor")
    wanted = (query or "").strip().casefold()
    hits = [c for c in _candidates(service, kinds) if wanted in c[2].casefold()]
    # Most recent edit first (or last); equal times keep creation order.
    hits.sort(key=lambda c: (c[3], -c[4] if descending else c[4]), reverse=descending)
    order = [c[1] for c in hits]
    start = 0
    if cursor is not None:
        if cursor not in order:
            raise invalid(f"start_cursor provided is invalid: {cursor}")
        start = order.index(cursor)
    chosen = hits[start:start + size]
    next_cursor = order[start + size] if start + size < len(order) else None
    results: list[dict[str, Any]] = []
    for kind, object_id, _, _, _ in chosen:
        if kind == "page":
            results.append(service.page_object(service.ws.pages[object_id], version))
        else:
            results.append(data_source_object(service, service.ws.data_sources[object_id],
                                              version))
    return {"object": "list", "results": results, "next_cursor": next_cursor,
            "has_more": next_cursor is not None, "type": "page_or_data_source",
            "page_or_data_source": {}}
