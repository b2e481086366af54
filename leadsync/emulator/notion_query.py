"""Querying a data source: filters, sorts, the cached result order, and paging through it.

A query's full result order is computed once per *(data source, filter,
sorts, data version)* and kept (:class:`QueryCache`), so paging to the end
of a 100,000-row data source costs one filter-and-sort plus a slice per
page. A cursor is the id of the next page (as Notion's are); a cursor whose
page left the results after an edit resumes at the next page that is still
there.

Timestamps: ``created_time``/``last_edited_time`` filters compare the
minute-rounded times the API shows (``after: <a time you were shown>``
excludes that whole minute, ``on_or_after`` includes it), while timestamp
sorts use the exact times, ties kept in creation order. With no sorts,
results come in creation order. A date-only filter value compares calendar
days (UTC); a datetime compares instants (a date-only property value counts
as midnight UTC). Text ``equals`` is exact; ``contains``, ``starts_with`` and
``ends_with`` ignore case.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from leadsync.emulator.notion_model import (
    DataSource,
    Env,
    Page,
    PropertySchema,
    floor_minute,
    invalid,
    parse_id,
    short_json,
)
from leadsync.emulator.notion_values import (
    DateValue,
    formula_eval,
    parse_iso,
    plain_text,
    rollup_value,
)

__all__ = ["QueryCache", "QuerySpec", "compile_query", "slice_order"]

Predicate = Callable[[Page], bool]
SortKey = Callable[[Page], Any]

#: Compound filters nest at most this deep (Notion: two levels).
MAX_FILTER_DEPTH = 2
#: Relative date conditions and how far back (negative) or ahead they reach, in days.
_RELATIVE = {"past_week": -7, "past_month": -30, "past_year": -365, "next_week": 7,
             "next_month": 30, "next_year": 365, "this_week": 0}


def _fail(message: str) -> Exception:
    return invalid(f"body failed validation: {message}")


# ---------------------------------------------------------------------------
# Filters


class _FilterCompiler:
    def __init__(self, env: Env, ds: DataSource):
        self.env = env
        self.ds = ds
        self.uses_now = False  # relative dates or formulas: the result depends on the clock

    def compile(self, raw: Any, path: str, depth: int) -> Predicate:
        if not isinstance(raw, dict):
            raise _fail(f"{path} should be an object, instead was `{short_json(raw)}`.")
        for key in ("and", "or"):
            if key in raw:
                if depth >= MAX_FILTER_DEPTH:
                    raise _fail(f"{path}.{key} should be not present, instead was "
                                f"`{short_json(raw[key])}`. Compound filters nest at most "
                                f"{MAX_FILTER_DEPTH} levels deep.")
                items = raw[key]
                if not isinstance(items, list):
                    raise _fail(f"{path}.{key} should be an array, instead was "
                                f"`{short_json(items)}`.")
                if len(items) > self.env.limits.notion_array_max:
                    raise _fail(f"{path}.{key}.length should be ≤ "
                                f"`{self.env.limits.notion_array_max}`, instead was "
                                f"`{len(items)}`.")
                parts = [self.compile(item, f"{path}.{key}[{n}]", depth + 1)
                         for n, item in enumerate(items)]
                if key == "and":
                    return lambda page: all(p(page) for p in parts)
                return lambda page: any(p(page) for p in parts)
        if "timestamp" in raw:
            which = raw["timestamp"]
            if which not in ("created_time", "last_edited_time"):
                raise _fail(f"{path}.timestamp should be `\"created_time\"` or "
                            f"`\"last_edited_time\"`, instead was `{short_json(which)}`.")
            return self._timestamp(which, raw.get(which), f"{path}.{which}")
        if "property" in raw:
            return self._property(raw, path)
        raise _fail(f"{path} should be defined with `property`, `timestamp`, `and` or `or`, "
                    f"instead was `{short_json(raw)}`.")

    def _timestamp(self, which: str, condition: Any, path: str) -> Predicate:
        def instant(page: Page) -> DateValue:
            return DateValue(floor_minute(page.created if which == "created_time"
                                          else page.edited))
        return self._date(instant, condition, path)

    def _property(self, raw: dict[str, Any], path: str) -> Predicate:
        name = raw["property"]
        prop = self.ds.lookup(name) if isinstance(name, str) else None
        if prop is None:
            raise invalid(f"Could not find property with name or id: {name}")
        keys = [k for k in raw if k not in ("property", "type")]
        if len(keys) != 1:
            raise _fail(f"{path} should have exactly one condition for property "
                        f"{prop.name!r}, instead had `{short_json(keys)}`.")
        key = keys[0]
        if key != prop.type:
            raise invalid(f"database property {prop.type} does not match filter {key}")
        return self._condition(prop, raw[key], f"{path}.{key}")

    def _condition(self, prop: PropertySchema, condition: Any, path: str) -> Predicate:
        kind = prop.type
        pid = prop.id
        if kind in ("title", "rich_text"):
            return _text(lambda page: plain_text(page.values.get(pid, "")), condition, path)
        if kind in ("url", "email", "phone_number"):
            return _text(lambda page: page.values.get(pid) or "", condition, path)
        if kind in ("number", "unique_id"):
            return _number(lambda page: page.values.get(pid), condition, path)
        if kind == "checkbox":
            return _checkbox(lambda page: bool(page.values.get(pid, False)), condition, path)
        if kind in ("select", "status"):
            return _select(prop, condition, path)
        if kind == "multi_select":
            names = prop.option_by_name

            def option_ids(page: Page) -> tuple[str, ...]:
                return tuple(page.values.get(pid, ()))
            return _contains(option_ids, condition, path,
                             lambda v: names[v]["id"] if v in names else f"?{v}")
        if kind in ("people", "relation"):
            return _contains(lambda page: tuple(page.values.get(pid, ())), condition, path,
                             lambda v: parse_id(v, f"{path}.contains"))
        if kind in ("created_by", "last_edited_by"):
            def author(page: Page) -> tuple[str, ...]:
                return (page.created_by if kind == "created_by" else page.edited_by,)
            return _contains(author, condition, path, lambda v: parse_id(v, f"{path}.contains"))
        if kind == "files":
            return _contains(lambda page: tuple(page.values.get(pid, ())), condition, path,
                             lambda v: v)
        if kind == "date":
            return self._date(lambda page: page.values.get(pid), condition, path)
        if kind in ("created_time", "last_edited_time"):
            return self._timestamp(kind, condition, path)
        if kind == "formula":
            return self._formula(prop, condition, path)
        raise invalid(f"Filtering on {kind} properties ({prop.name!r}) is not supported.")

    def _formula(self, prop: PropertySchema, condition: Any, path: str) -> Predicate:
        if not isinstance(condition, dict) or len(condition) != 1:
            raise _fail(f"{path} should have one of `string`, `number`, `checkbox`, `date`, "
                        f"instead was `{short_json(condition)}`.")
        (kind, inner), = condition.items()
        env, ds = self.env, self.ds
        self.uses_now = True

        def value(page: Page) -> Any:
            return formula_eval(env, page, ds, prop, set())
        inner_path = f"{path}.{kind}"
        if kind == "string":
            return _text(lambda page: str(value(page) or ""), inner, inner_path)
        if kind == "number":
            return _number(value, inner, inner_path)
        if kind == "checkbox":
            return _checkbox(lambda page: bool(value(page)), inner, inner_path)
        if kind == "date":
            def as_date(page: Page) -> DateValue | None:
                v = value(page)
                return DateValue(v) if isinstance(v, dt.date) else None
            return self._date(as_date, inner, inner_path)
        raise _fail(f"{path}.{kind} is not a formula filter; use string, number, checkbox "
                    "or date.")

    def _date(self, get: Callable[[Page], DateValue | None], condition: Any,
              path: str) -> Predicate:
        op, arg = _one_condition(condition, path)
        if op in ("is_empty", "is_not_empty"):
            _require_true(arg, f"{path}.{op}")
            want_empty = op == "is_empty"
            return lambda page: (get(page) is None) == want_empty
        if op in _RELATIVE:
            if arg != {}:
                raise _fail(f"{path}.{op} should be an empty object, instead was "
                            f"`{short_json(arg)}`.")
            self.uses_now = True
            low, high = _relative_window(op, self.env.now())

            def within(page: Page) -> bool:
                value = get(page)
                return value is not None and low <= value.key <= high
            return within
        if op not in ("equals", "before", "after", "on_or_before", "on_or_after"):
            raise _fail(f"{path}.{op} is not a date filter condition.")
        when = parse_iso(arg, f"{path}.{op}")
        compare = _COMPARE[op]
        if isinstance(when, dt.datetime):
            target = when.timestamp()

            def by_instant(page: Page) -> bool:
                value = get(page)
                return value is not None and compare(value.key, target)
            return by_instant
        day = when

        def by_day(page: Page) -> bool:
            value = get(page)
            return value is not None and compare(value.day, day)
        return by_day


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda a, b: a == b,
    "before": lambda a, b: a < b,
    "after": lambda a, b: a > b,
    "on_or_before": lambda a, b: a <= b,
    "on_or_after": lambda a, b: a >= b,
}


def _relative_window(op: str, now: dt.datetime) -> tuple[float, float]:
    if op == "this_week":
        monday = dt.datetime.combine(now.date() - dt.timedelta(days=now.weekday()),
                                     dt.time(), dt.UTC)
        return monday.timestamp(), (monday + dt.timedelta(days=7)).timestamp() - 1e-6
    days = _RELATIVE[op]
    other = now + dt.timedelta(days=days)
    low, high = sorted((now.timestamp(), other.timestamp()))
    return low, high


def _one_condition(condition: Any, path: str) -> tuple[str, Any]:
    if not isinstance(condition, dict) or len(condition) != 1:
        raise _fail(f"{path} should have exactly one condition, instead was "
                    f"`{short_json(condition)}`.")
    (op, arg), = condition.items()
    return str(op), arg


def _require_true(arg: Any, path: str) -> None:
    if arg is not True:
        raise _fail(f"{path} should be `true`, instead was `{short_json(arg)}`.")


def _text(get: Callable[[Page], str], condition: Any, path: str) -> Predicate:
    op, arg = _one_condition(condition, path)
    if op in ("is_empty", "is_not_empty"):
        _require_true(arg, f"{path}.{op}")
        want_empty = op == "is_empty"
        return lambda page: (get(page) == "") == want_empty
    if not isinstance(arg, str):
        raise _fail(f"{path}.{op} should be a string, instead was `{short_json(arg)}`.")
    needle = arg.casefold()
    tests: dict[str, Predicate] = {
        "equals": lambda page: get(page) == arg,
        "does_not_equal": lambda page: get(page) != arg,
        "contains": lambda page: needle in get(page).casefold(),
        "does_not_contain": lambda page: needle not in get(page).casefold(),
        "starts_with": lambda page: get(page).casefold().startswith(needle),
        "ends_with": lambda page: get(page).casefold().endswith(needle),
    }
    if op not in tests:
        raise _fail(f"{path}.{op} is not a text filter condition.")
    return tests[op]


def _number(get: Callable[[Page], Any], condition: Any, path: str) -> Predicate:
    op, arg = _one_condition(condition, path)
    if op in ("is_empty", "is_not_empty"):
        _require_true(arg, f"{path}.{op}")
        want_empty = op == "is_empty"
        return lambda page: (get(page) is None) == want_empty
    if isinstance(arg, bool) or not isinstance(arg, int | float):
        raise _fail(f"{path}.{op} should be a number, instead was `{short_json(arg)}`.")
    compare: dict[str, Callable[[Any], bool]] = {
        "equals": lambda v: v == arg,
        "does_not_equal": lambda v: v != arg,
        "greater_than": lambda v: v is not None and v > arg,
        "less_than": lambda v: v is not None and v < arg,
        "greater_than_or_equal_to": lambda v: v is not None and v >= arg,
        "less_than_or_equal_to": lambda v: v is not None and v <= arg,
    }
    if op not in compare:
        raise _fail(f"{path}.{op} is not a number filter condition.")
    test = compare[op]
    return lambda page: test(get(page))


def _checkbox(get: Callable[[Page], bool], condition: Any, path: str) -> Predicate:
    op, arg = _one_condition(condition, path)
    if op not in ("equals", "does_not_equal") or not isinstance(arg, bool):
        raise _fail(f"{path}.{op} should be `equals` or `does_not_equal` with a boolean, "
                    f"instead was `{short_json(arg)}`.")
    want = arg if op == "equals" else not arg
    return lambda page: get(page) == want


def _select(prop: PropertySchema, condition: Any, path: str) -> Predicate:
    op, arg = _one_condition(condition, path)
    pid = prop.id
    if op in ("is_empty", "is_not_empty"):
        _require_true(arg, f"{path}.{op}")
        want_empty = op == "is_empty"
        return lambda page: (page.values.get(pid) is None) == want_empty
    if op not in ("equals", "does_not_equal"):
        raise _fail(f"{path}.{op} is not a {prop.type} filter condition.")
    if not isinstance(arg, str):
        raise _fail(f"{path}.{op} should be a string, instead was `{short_json(arg)}`.")
    option = prop.option_by_name.get(arg)
    if option is None and prop.type == "status":
        raise invalid(f"Invalid status filter option {arg!r} for property {prop.name!r}.")
    wanted = option["id"] if option else None
    if op == "equals":
        return lambda page: wanted is not None and page.values.get(pid) == wanted
    return lambda page: page.values.get(pid) != wanted


def _contains(get: Callable[[Page], tuple[Any, ...]], condition: Any, path: str,
              normalise: Callable[[Any], Any]) -> Predicate:
    op, arg = _one_condition(condition, path)
    if op in ("is_empty", "is_not_empty"):
        _require_true(arg, f"{path}.{op}")
        want_empty = op == "is_empty"
        return lambda page: (len(get(page)) == 0) == want_empty
    if op not in ("contains", "does_not_contain"):
        raise _fail(f"{path}.{op} is not a valid condition here; use contains, "
                    "does_not_contain, is_empty or is_not_empty.")
    if not isinstance(arg, str):
        raise _fail(f"{path}.{op} should be a string, instead was `{short_json(arg)}`.")
    wanted = normalise(arg)
    if op == "contains":
        return lambda page: wanted in get(page)
    return lambda page: wanted not in get(page)


# ---------------------------------------------------------------------------
# Sorts


def _sort_value(env: Env, ds: DataSource, prop: PropertySchema) -> SortKey:
    """page -> (empty?, comparable value) for one property."""
    pid, kind = prop.id, prop.type
    if kind in ("title", "rich_text"):
        def text(page: Page) -> tuple[bool, Any]:
            value = plain_text(page.values.get(pid, ""))
            return value == "", value.casefold()
        return text
    if kind in ("url", "email", "phone_number"):
        return lambda page: (not page.values.get(pid), (page.values.get(pid) or "").casefold())
    if kind in ("number", "unique_id"):
        return lambda page: (page.values.get(pid) is None, page.values.get(pid) or 0)
    if kind in ("select", "status"):
        return lambda page: (page.values.get(pid) is None,
                             prop.option_rank(page.values.get(pid) or ""))
    if kind == "multi_select":
        return lambda page: (not page.values.get(pid),
                             [prop.option_rank(o) for o in page.values.get(pid, ())])
    if kind == "date":
        return lambda page: (page.values.get(pid) is None,
                             page.values[pid].key if page.values.get(pid) else 0)
    if kind == "checkbox":
        return lambda page: (False, bool(page.values.get(pid, False)))
    if kind in ("created_time", "last_edited_time"):
        return _timestamp_sort(kind)
    if kind in ("people", "created_by", "last_edited_by"):
        users = env.ws.users

        def person(page: Page) -> tuple[bool, Any]:
            ids = (page.values.get(pid, ()) if kind == "people" else
                   (page.created_by if kind == "created_by" else page.edited_by,))
            names = [users[u].name.casefold() for u in ids if u in users]
            return not names, names
        return person
    if kind == "relation":
        return lambda page: (not page.values.get(pid), len(page.values.get(pid, ())))
    if kind == "formula":
        def formula(page: Page) -> tuple[bool, Any]:
            return _comparable(formula_eval(env, page, ds, prop, set()))
        return formula
    if kind == "rollup":
        def rollup(page: Page) -> tuple[bool, Any]:
            rolled = rollup_value(env, page, ds, prop)
            return _comparable(rolled.get(rolled["type"]))
        return rollup
    return lambda page: (True, 0)


def _comparable(value: Any) -> tuple[bool, Any]:
    if value is None or value == "" or value == []:
        return True, (0, 0)
    if isinstance(value, bool):
        return False, (0, int(value))
    if isinstance(value, int | float):
        return False, (1, value)
    if isinstance(value, dt.date):
        return False, (2, DateValue(value).key)
    if isinstance(value, dict) and "start" in value:
        return False, (2, value["start"])
    return False, (3, str(value).casefold())


def _timestamp_sort(which: str) -> SortKey:
    if which == "created_time":
        return lambda page: (False, page.created)
    return lambda page: (False, page.edited)


def _compile_sorts(env: Env, ds: DataSource, raw: Any) -> list[tuple[SortKey, bool]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail(f"body.sorts should be an array, instead was `{short_json(raw)}`.")
    if len(raw) > env.limits.notion_array_max:
        raise _fail(f"body.sorts.length should be ≤ `{env.limits.notion_array_max}`, "
                    f"instead was `{len(raw)}`.")
    out: list[tuple[SortKey, bool]] = []
    for n, item in enumerate(raw):
        path = f"body.sorts[{n}]"
        if not isinstance(item, dict):
            raise _fail(f"{path} should be an object, instead was `{short_json(item)}`.")
        direction = item.get("direction")
        if direction not in ("ascending", "descending"):
            raise _fail(f"{path}.direction should be `\"ascending\"` or `\"descending\"`, "
                        f"instead was `{short_json(direction)}`.")
        if "property" in item:
            prop = ds.lookup(item["property"]) if isinstance(item["property"], str) else None
            if prop is None:
                raise invalid(f"Could not find sort property with name or id: "
                              f"{item['property']}")
            key = _sort_value(env, ds, prop)
        elif item.get("timestamp") in ("created_time", "last_edited_time"):
            key = _timestamp_sort(item["timestamp"])
        else:
            raise _fail(f"{path} should have `property` or `timestamp` (created_time or "
                        f"last_edited_time), instead was `{short_json(item)}`.")
        out.append((key, direction == "descending"))
    return out


# ---------------------------------------------------------------------------
# Query spec, cache and paging


class QuerySpec:
    """A compiled query: which pages match, in which order, and the cache signature."""

    def __init__(self, predicate: Predicate | None, sorts: list[tuple[SortKey, bool]],
                 in_trash: bool, signature: str, uses_now: bool):
        self.predicate = predicate
        self.sorts = sorts
        self.in_trash = in_trash
        self.signature = signature
        self.uses_now = uses_now

    def run(self, env: Env, ds: DataSource) -> list[str]:
        """The ids of every matching page, in result order."""
        trashed = self.in_trash
        pages = [p for p in env.ws.ds_pages(ds) if p.in_trash == trashed]
        if self.predicate is not None:
            predicate = self.predicate
            pages = [p for p in pages if predicate(p)]
        for key, descending in reversed(self.sorts):
            if descending:  # empties last in both directions
                pages.sort(key=lambda p, k=key: _desc(k(p)), reverse=True)  # type: ignore[misc]
            else:
                pages.sort(key=key)
        return [p.id for p in pages]


def _desc(key: tuple[bool, Any]) -> tuple[bool, Any]:
    empty, value = key
    return (not empty, value if not empty else 0)


def compile_query(env: Env, ds: DataSource, body: dict[str, Any]) -> QuerySpec:
    """Validate a query body's ``filter``, ``sorts`` and ``in_trash``/``archived``."""
    compiler = _FilterCompiler(env, ds)
    predicate: Predicate | None = None
    if "filter" in body:
        raw_filter = body["filter"]
        if raw_filter is None:
            raise _fail("body.filter should be an object or `undefined`, instead was `null`.")
        if raw_filter != {}:
            predicate = compiler.compile(raw_filter, "body.filter", 0)
    if "sorts" in body and body["sorts"] is None:
        raise _fail("body.sorts should be an array or `undefined`, instead was `null`.")
    sorts = _compile_sorts(env, ds, body.get("sorts"))
    in_trash = body.get("in_trash", body.get("archived", False))
    if not isinstance(in_trash, bool):
        raise _fail(f"body.in_trash should be a boolean, instead was `{short_json(in_trash)}`.")
    signature = json.dumps([body.get("filter"), body.get("sorts"), in_trash],
                           sort_keys=True, default=str)
    # Formulas (now()) and rollups in a filter or sort make the order depend on the clock.
    uses_now = compiler.uses_now or any(
        f'"{p.name}"' in signature or f'"{p.id}"' in signature
        for p in ds.properties.values() if p.type in ("formula", "rollup"))
    return QuerySpec(predicate, sorts, in_trash, signature, uses_now)


class _Entry:
    __slots__ = ("key", "order", "positions", "previous")

    def __init__(self, key: tuple[Any, ...], order: list[str], previous: _Entry | None):
        self.key = key
        self.order = order
        self.positions: dict[str, int] | None = None
        self.previous = previous

    def size(self) -> int:
        """Page ids held, this generation and the one kept for cursors."""
        return len(self.order) + (len(self.previous.order) if self.previous else 0)

    def position(self, page_id: str) -> int | None:
        if self.positions is None:
            self.positions = {page_id: n for n, page_id in enumerate(self.order)}
        return self.positions.get(page_id)


class QueryCache:
    """Result orders of recent queries, keyed by data source and query signature.

    Least recently used orders go first once more than ``size`` queries or
    more than ``max_ids`` page ids in all are kept (a 100,000-row order with
    its position index takes a few MB).
    """

    def __init__(self, size: int = 32, max_ids: int = 1_000_000):
        self.size = size
        self.max_ids = max_ids
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self.computed = 0  # how many orders were computed (for tests and benchmarks)

    def order(self, env: Env, ds: DataSource, spec: QuerySpec) -> _Entry:
        key = _version_key(env, ds, spec)
        slot = (ds.id, spec.signature)
        entry = self._entries.get(slot)
        if entry is None or entry.key != key:
            previous = entry
            if previous is not None:
                previous.previous = None  # keep one generation back, not a chain
            entry = _Entry(key, spec.run(env, ds), previous)
            self.computed += 1
            self._entries[slot] = entry
        self._entries.move_to_end(slot)
        while len(self._entries) > 1 and (
                len(self._entries) > self.size
                or sum(e.size() for e in self._entries.values()) > self.max_ids):
            self._entries.popitem(last=False)
        return entry

    def clear(self) -> None:
        self._entries.clear()


def _version_key(env: Env, ds: DataSource, spec: QuerySpec) -> tuple[Any, ...]:
    """What the result order depends on: this data source, those it relates to, the clock."""
    related = sorted({p.config.get("data_source_id", "") for p in ds.properties.values()
                      if p.type == "relation"})
    versions = tuple(env.ws.data_sources[r].version for r in related
                     if r in env.ws.data_sources)
    minute = floor_minute(env.now()).timestamp() if spec.uses_now else 0
    return (ds.version, versions, minute, len(env.ws.users))


def slice_order(entry: _Entry, start_cursor: str | None, page_size: int,
                cap: int) -> tuple[list[str], str | None, bool]:
    """One page of results: ``(ids, next_cursor, incomplete)``.

    ``incomplete`` is True when the query stopped at ``cap`` results with
    more left (Notion's ``query_result_limit_reached``).
    """
    order = entry.order
    start = 0 if start_cursor is None else _resume(entry, start_cursor)
    total = len(order)
    end = min(start + page_size, total, cap) if start < cap else start
    ids = order[start:end]
    if end < total and end < cap:
        return ids, order[end], False
    return ids, None, total > cap and end >= cap


def _resume(entry: _Entry, cursor: str) -> int:
    found = entry.position(cursor)
    if found is not None:
        return found
    previous = entry.previous
    back = previous.position(cursor) if previous is not None else None
    if previous is None or back is None:
        raise invalid(f"start_cursor provided is invalid: {cursor}")
    for candidate in previous.order[back:]:
        moved = entry.position(candidate)
        if moved is not None:
            return moved
    return len(entry.order)


