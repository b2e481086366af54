"""Page content: validating block payloads, storing them as a tree, answering block objects.

A page id is also a block id: listing a page's children lists its blocks and
the child pages and databases created under it (as ``child_page`` /
``child_database`` blocks). Appends take at most 100 children, nest at most
two levels below the request's top level, hold at most 1000 blocks in all,
and a table's rows go inside ``table.children`` with exactly
``table_width`` cells each.
"""

from __future__ import annotations

from typing import Any

from leadsync.emulator.notion_model import (
    Block,
    Env,
    NotionError,
    Page,
    invalid,
    minute_z,
    short_json,
)
from leadsync.emulator.notion_values import (
    parse_file,
    parse_rich_text,
    plain_text,
    plain_text_list,
    render_file,
    render_rich_text,
)

__all__ = [
    "BLOCK_TYPES", "append_blocks", "block_object", "child_ids", "page_parent",
    "takes_children", "validate_blocks",
]

#: Most blocks in one request, all levels together (reference §3.2).
MAX_BLOCKS_PER_REQUEST = 1000
#: Levels of children below the request's top-level blocks.
MAX_NESTING = 2

_TEXT_TYPES = ("paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item",
               "numbered_list_item", "quote", "toggle", "to_do", "callout")
_MEDIA_TYPES = ("image", "file", "pdf", "video", "audio")
#: Block types the emulator stores (``table_row`` only inside a table).
BLOCK_TYPES = frozenset(_TEXT_TYPES + _MEDIA_TYPES + (
    "code", "divider", "table", "table_row", "bookmark", "equation", "embed",
    "table_of_contents", "breadcrumb"))
#: Types that may have children (headings too, when toggleable: see takes_children).
_PARENT_TYPES = frozenset(("paragraph", "bulleted_list_item", "numbered_list_item", "quote",
                           "toggle", "to_do", "callout", "table"))


def takes_children(kind: str, data: dict[str, Any]) -> bool:
    """Can a block of this type hold children (headings only when toggleable)?"""
    if kind.startswith("heading"):
        return bool(data.get("is_toggleable"))
    return kind in _PARENT_TYPES


def _fail(message: str) -> NotionError:
    return invalid(f"body failed validation: {message}")


class _Pending:
    """A validated block waiting to be stored."""

    __slots__ = ("children", "data", "type")

    def __init__(self, block_type: str, data: dict[str, Any], children: list[_Pending]):
        self.type = block_type
        self.data = data
        self.children = children


def validate_blocks(env: Env, raw: Any, path: str,
                    parent_type: str | None = None) -> list[_Pending]:
    """Check a request's ``children`` array; raises a validation error naming the spot.

    ``parent_type`` is the type of the block they go under (None: a page).
    """
    counter = [0]
    blocks = _blocks(env, raw, path, 0, parent_type, counter)
    if counter[0] > MAX_BLOCKS_PER_REQUEST:
        raise _fail(f"{path} holds {counter[0]} blocks in all; a request may carry at most "
                    f"`{MAX_BLOCKS_PER_REQUEST}`.")
    return blocks


def _blocks(env: Env, raw: Any, path: str, depth: int, parent_type: str | None,
            counter: list[int]) -> list[_Pending]:
    if not isinstance(raw, list):
        raise _fail(f"{path} should be an array, instead was `{short_json(raw)}`.")
    limit = env.limits.notion_append_max
    if len(raw) > limit:
        raise _fail(f"{path}.length should be ≤ `{limit}`, instead was `{len(raw)}`.")
    counter[0] += len(raw)
    return [_block(env, item, f"{path}[{n}]", depth, parent_type, counter)
            for n, item in enumerate(raw)]


def _block(env: Env, raw: Any, path: str, depth: int, parent_type: str | None,
           counter: list[int]) -> _Pending:
    if not isinstance(raw, dict):
        raise _fail(f"{path} should be an object, instead was `{short_json(raw)}`.")
    kind = raw.get("type") or next((k for k in raw if k in BLOCK_TYPES), None)
    if kind not in BLOCK_TYPES or not isinstance(raw.get(kind), dict):
        raise _fail(f"{path}.type should be a supported block type, instead was "
                    f"`{short_json(raw.get('type', kind))}`.")
    if (kind == "table_row") != (parent_type == "table"):
        raise _fail(f"{path}: table_row blocks go inside a table's children, and a "
                    "table's children are table_row blocks.")
    body: dict[str, Any] = raw[kind]
    bpath = f"{path}.{kind}"
    data = _payload(env, kind, body, bpath)
    children_raw = body.get("children")
    children: list[_Pending] = []
    if children_raw is not None:
        if not takes_children(kind, data):
            raise _fail(f"{bpath}.children should be not present, instead was "
                        f"`{short_json(children_raw)}`.")
        if depth >= MAX_NESTING:
            raise _fail(f"{bpath}.children should be not present, instead was "
                        f"`{short_json(children_raw)}`. A request nests at most "
                        f"{MAX_NESTING} levels of children.")
        children = _blocks(env, children_raw, f"{bpath}.children", depth + 1, kind, counter)
    if kind == "table":
        if not children:
            raise _fail(f"{bpath}.children should be defined, instead was `undefined`.")
        width = data["table_width"]
        for n, row in enumerate(children):
            if len(row.data["cells"]) != width:
                raise _fail(f"{bpath}.children[{n}].table_row.cells.length should be "
                            f"`{width}` (table_width), instead was "
                            f"`{len(row.data['cells'])}`.")
    return _Pending(kind, data, children)


def _rich(env: Env, body: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
    raw = body.get(key, [])
    stored = parse_rich_text(env, raw, f"{path}.{key}")
    return render_rich_text(stored)


def _payload(env: Env, kind: str, body: dict[str, Any], path: str) -> dict[str, Any]:
    color = body.get("color", "default")
    if kind in _TEXT_TYPES:
        if "rich_text" not in body:
            raise _fail(f"{path}.rich_text should be defined, instead was `undefined`.")
        data: dict[str, Any] = {"rich_text": _rich(env, body, "rich_text", path)}
        if kind.startswith("heading"):
            data["is_toggleable"] = bool(body.get("is_toggleable", False))
        if kind == "to_do":
            data["checked"] = bool(body.get("checked", False))
        if kind == "callout":
            data["icon"] = body.get("icon") or {"type": "emoji", "emoji": "💡"}
        data["color"] = color
        return data
    if kind == "code":
        return {"caption": _rich(env, body, "caption", path),
                "rich_text": _rich(env, body, "rich_text", path),
                "language": str(body.get("language", "plain text"))}
    if kind in ("divider", "breadcrumb"):
        return {}
    if kind == "table_of_contents":
        return {"color": color}
    if kind == "equation":
        expression = body.get("expression")
        if not isinstance(expression, str):
            raise _fail(f"{path}.expression should be a string, instead was "
                        f"`{short_json(expression)}`.")
        return {"expression": expression}
    if kind in ("bookmark", "embed"):
        url = body.get("url")
        if not isinstance(url, str):
            raise _fail(f"{path}.url should be a string, instead was `{short_json(url)}`.")
        return {"caption": _rich(env, body, "caption", path), "url": url}
    if kind == "table":
        width = body.get("table_width")
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise _fail(f"{path}.table_width should be a positive integer, instead was "
                        f"`{short_json(width)}`.")
        return {"table_width": width,
                "has_column_header": bool(body.get("has_column_header", False)),
                "has_row_header": bool(body.get("has_row_header", False))}
    if kind == "table_row":
        cells = body.get("cells")
        if not isinstance(cells, list):
            raise _fail(f"{path}.cells should be an array, instead was `{short_json(cells)}`.")
        return {"cells": [render_rich_text(parse_rich_text(env, cell, f"{path}.cells[{n}]"))
                          for n, cell in enumerate(cells)]}
    # media: image, file, pdf, video, audio
    ref = parse_file(env, body, path, need_name=False)
    media: dict[str, Any] = {"caption": _rich(env, body, "caption", path), "ref": ref}
    if kind == "file":
        media["name"] = body.get("name") or ref[1]
    return media


def append_blocks(env: Env, parent: Page | Block, pending: list[_Pending],
                  after: str | None = None, author: str | None = None) -> list[Block]:
    """Store validated blocks under a page or block.

    ``after`` is the child to insert after; ``""`` inserts first; None appends.
    ``author`` is the user who creates them (default: the integration's bot).
    """
    now = env.now()
    parent_type = "page_id" if isinstance(parent, Page) else "block_id"
    made = [_store(env, item, parent_type, parent.id, now, author or env.bot_id)
            for item in pending]
    ids = [b.id for b in made]
    at = len(parent.children)
    if after == "":
        at = 0
    elif after is not None and after in parent.children:
        at = parent.children.index(after) + 1
    parent.children[at:at] = ids
    return made


def _store(env: Env, item: _Pending, parent_type: str, parent_id: str, now: Any,
           author: str) -> Block:
    block = Block(env.new_id(), item.type, item.data, parent_type, parent_id, now, author)
    env.ws.blocks[block.id] = block
    for child in item.children:
        block.children.append(_store(env, child, "block_id", block.id, now, author).id)
    return block


def child_ids(env: Env, children: list[str]) -> list[str]:
    """The live children (blocks, child pages, child databases) of a page or block."""
    ws = env.ws
    out = []
    for child_id in children:
        thing: Any = ws.blocks.get(child_id) or ws.pages.get(child_id) \
            or ws.databases.get(child_id)
        if thing is not None and not thing.in_trash:
            out.append(child_id)
    return out


def block_object(env: Env, block_id: str, version: str) -> dict[str, Any]:
    """The block object for a block, or a child_page/child_database block for those ids."""
    ws = env.ws
    block = ws.blocks.get(block_id)
    if block is not None:
        kind = block.type
        data = dict(block.data)
        if kind in _MEDIA_TYPES:
            ref = data.pop("ref")
            file_obj = render_file(env, ref)
            data = {"caption": data["caption"], "type": file_obj["type"],
                    file_obj["type"]: file_obj[file_obj["type"]],
                    **({"name": data["name"]} if "name" in data else {})}
        return _envelope(env, block.id, {"type": block.parent_type,
                                         block.parent_type: block.parent_id}, block.created,
                         block.edited, block.created_by, block.edited_by,
                         bool(child_ids(env, block.children)), block.in_trash, kind, data,
                         version)
    page = ws.pages.get(block_id)
    if page is not None:
        title = plain_text(page.values.get("title", "")) if page.ds_id is None else \
            _row_title(env, page)
        return _envelope(env, page.id, page_parent(env, page), page.created, page.edited,
                         page.created_by, page.edited_by, bool(child_ids(env, page.children)),
                         page.in_trash, "child_page", {"title": title}, version)
    db = ws.databases[block_id]
    return _envelope(env, db.id, {"type": "page_id", "page_id": db.parent_page_id},
                     db.created, db.edited,
                     db.created_by, db.edited_by, False, db.in_trash, "child_database",
                     {"title": plain_text_list(db.title)}, version)


def _row_title(env: Env, page: Page) -> str:
    ds = env.ws.data_sources[page.ds_id or ""]
    return plain_text(page.values.get(ds.title_property().id, ""))


def page_parent(env: Env, page: Page) -> dict[str, Any]:
    """A page's ``parent`` object (2025-09-03: rows name their data source and database)."""
    if page.ds_id is not None:
        return {"type": "data_source_id", "data_source_id": page.ds_id,
                "database_id": env.ws.data_sources[page.ds_id].database_id}
    if page.parent_type == "workspace":
        return {"type": "workspace", "workspace": True}
    return {"type": page.parent_type, page.parent_type: page.parent_id}


def _envelope(env: Env, object_id: str, parent: dict[str, Any], created: Any,
              edited: Any, created_by: str, edited_by: str, has_children: bool,
              in_trash: bool, kind: str, data: dict[str, Any],
              version: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "object": "block", "id": object_id, "parent": parent,
        "created_time": minute_z(created), "last_edited_time": minute_z(edited),
        "created_by": {"object": "user", "id": created_by},
        "last_edited_by": {"object": "user", "id": edited_by},
        "has_children": has_children,
    }
    if version < "2026-03-11":
        out["archived"] = in_trash
    out["in_trash"] = in_trash
    out["type"] = kind
    out[kind] = data
    return out
