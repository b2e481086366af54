"""Python values to Notion property payloads, within Notion's limits (pure).

:func:`encode_property` builds the request value for one writable property
type; what :func:`~leadsync.connectors.notion_decode.decode_property` returns
for a type encodes back to the same value (the round trip the tests check).

Limits (``../shared/reference/notion-api.md`` §3.2) are checked here, before
anything is sent, and a value over them raises
:class:`~leadsync.errors.DataValidationError` naming the property:

- text longer than :data:`TEXT_ITEM_MAX` characters is **split** into several
  rich text items (Notion counts UTF-16 code units, as JavaScript does; a
  character is never cut in half); more than :data:`ARRAY_MAX` items is refused;
- arrays (multi_select, people, relation, files) over :data:`ARRAY_MAX` are refused;
- URLs over :data:`URL_MAX`, emails and phone numbers over :data:`EMAIL_MAX` /
  :data:`PHONE_MAX` are refused; select names may not contain commas;
- read-only types (formula, rollup, created/edited time and by, unique_id,
  button …) are refused: Notion computes them.

``None`` (and pandas' missing values) clear the property.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

from leadsync.errors import DataValidationError
from leadsync.tables import MemberRef

from .base import FieldRef
from .notion_decode import DateRange

__all__ = [
    "ARRAY_MAX",
    "EMAIL_MAX",
    "PHONE_MAX",
    "TEXT_ITEM_MAX",
    "URL_MAX",
    "WRITABLE_TYPES",
    "encode_properties",
    "encode_property",
    "plain_value",
    "split_text",
]

#: Characters (UTF-16 code units) in one rich text item's ``text.content``.
TEXT_ITEM_MAX = 2000
#: Elements in any array of a request: rich text items, options, people, relations, files.
ARRAY_MAX = 100
#: Characters in a URL (a ``url`` property, a link, an external file).
URL_MAX = 2000
#: Characters in an ``email`` property.
EMAIL_MAX = 200
#: Characters in a ``phone_number`` property.
PHONE_MAX = 200

#: Property types a page create/update may set.
WRITABLE_TYPES = frozenset({
    "title", "rich_text", "number", "select", "multi_select", "status", "date", "people",
    "relation", "checkbox", "url", "email", "phone_number", "files",
})


def _refuse(name: str, why: str) -> DataValidationError:
    return DataValidationError(f"property {name!r}: {why}")


def plain_value(value: Any) -> Any:
    """``value`` without pandas/numpy wrappers: NA/NaN/NaT -> None, Timestamp -> datetime,
    numpy scalars -> Python scalars, arrays -> tuples."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    module = type(value).__module__
    if module.startswith(("pandas", "numpy")):
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.to_pydatetime()
        if hasattr(value, "tolist"):
            value = value.tolist()
            return tuple(value) if isinstance(value, list) else plain_value(value)
        if hasattr(value, "item"):
            return plain_value(value.item())
    return value


def _utf16_len(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def split_text(text: str, limit: int = TEXT_ITEM_MAX) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` UTF-16 code units, never inside a
    character; prefers to cut after a newline or space in the last tenth of a piece."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        units = 0
        end = start
        while end < len(text) and units + _utf16_len(text[end]) <= limit:
            units += _utf16_len(text[end])
            end += 1
        if end < len(text):
            window = text[start:end]
            cut = max(window.rfind("\n"), window.rfind(" "))
            if cut >= len(window) * 9 // 10:
                end = start + cut + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def _text_items(name: str, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    text = value if isinstance(value, str) else str(value)
    if not text:
        return []
    pieces = split_text(text)
    if len(pieces) > ARRAY_MAX:
        raise _refuse(name, f"text of {len(text)} characters needs {len(pieces)} rich text items "
                            f"of {TEXT_ITEM_MAX}; Notion takes at most {ARRAY_MAX}")
    return [{"type": "text", "text": {"content": piece}} for piece in pieces]


def _items(name: str, value: Any) -> list[Any]:
    value = plain_value(value)
    if value is None:
        return []
    items = [value] if isinstance(value, str | MemberRef) or not isinstance(value, Iterable) \
        else [plain_value(v) for v in value]
    items = [v for v in items if v is not None and v != ""]
    if len(items) > ARRAY_MAX:
        raise _refuse(name, f"{len(items)} items; Notion takes at most {ARRAY_MAX} in one value")
    return items


def _iso(name: str, value: Any) -> str:
    value = plain_value(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise _refuse(name, f"{value!r} has no time zone; pass an aware datetime "
                                "(or a date for an all-day value)")
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise _refuse(name, f"{value!r} is not a date")


def _option(name: str, value: Any) -> dict[str, str]:
    text = str(value)
    if "," in text:
        raise _refuse(name, f"option {text!r} contains a comma; Notion does not allow that")
    return {"name": text}


def _id_of(value: Any) -> str:
    if isinstance(value, MemberRef):
        return value.key
    if isinstance(value, Mapping) and "id" in value:
        return str(value["id"])
    return str(value)


def _check_length(name: str, text: str, limit: int, what: str) -> str:
    if len(text) > limit:
        raise _refuse(name, f"{what} of {len(text)} characters; Notion takes at most {limit}")
    return text


def encode_property(ptype: str, value: Any, *, name: str = "?") -> dict[str, Any]:
    """The request value ``{ptype: …}`` setting a property of type ``ptype`` to ``value``."""
    value = plain_value(value)
    if ptype not in WRITABLE_TYPES:
        raise _refuse(name, f"{ptype} properties are read-only in the Notion API; "
                            "leadsync cannot write them")
    if ptype in ("title", "rich_text"):
        return {ptype: _text_items(name, value)}
    if ptype == "number":
        if value is None:
            return {"number": None}
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise _refuse(name, f"{value!r} is not a number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise _refuse(name, f"{value!r} is not a finite number")
        return {"number": value}
    if ptype == "checkbox":
        return {"checkbox": bool(value)}
    if ptype in ("select", "status"):
        return {ptype: None if value is None or value == "" else _option(name, value)}
    if ptype == "multi_select":
        return {"multi_select": [_option(name, v) for v in _items(name, value)]}
    if ptype == "date":
        if value is None or value == "":
            return {"date": None}
        if isinstance(value, DateRange):
            return {"date": {"start": _iso(name, value.start),
                             "end": None if value.end is None else _iso(name, value.end)}}
        return {"date": {"start": _iso(name, value), "end": None}}
    if ptype == "people":
        return {"people": [{"object": "user", "id": _id_of(v)}
                           for v in _items(name, value)]}
    if ptype == "relation":
        return {"relation": [{"id": _id_of(v)} for v in _items(name, value)]}
    if ptype == "files":
        files = []
        for url in _items(name, value):
            link = _check_length(name, str(url), URL_MAX, "a file URL")
            label = link.rstrip("/").rsplit("/", 1)[-1][:100] or "file"
            files.append({"name": label, "type": "external", "external": {"url": link}})
        return {"files": files}
    text = None if value is None or value == "" else str(value)
    limit, what = {"url": (URL_MAX, "a URL"), "email": (EMAIL_MAX, "an email"),
                   "phone_number": (PHONE_MAX, "a phone number")}[ptype]
    return {ptype: None if text is None else _check_length(name, text, limit, what)}


def encode_properties(values: Mapping[FieldRef, Any]) -> dict[str, dict[str, Any]]:
    """``{property id: request value}`` for a page create or update.

    Every value over a limit is reported at once in one
    :class:`~leadsync.errors.DataValidationError`.
    """
    out: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for ref, value in values.items():
        try:
            out[ref.id] = encode_property(ref.type, value, name=ref.name)
        except DataValidationError as exc:
            problems.append(str(exc))
    if problems:
        raise DataValidationError("; ".join(problems))
    return out
