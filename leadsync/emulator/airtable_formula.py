"""Airtable's formula language: a small parser, compiler and evaluator.

One engine serves ``filterByFormula``, formula fields and rollup aggregations
(which see the looked-up values as ``values``). A formula is parsed once,
compiled into nested closures, and evaluated per record against a
:class:`Scope` that supplies field values and record metadata.

The language (Airtable's formula field reference, kept to what leadsync and
``pyairtable.formulas`` emit plus the common functions):

- field references ``{Name}`` or ``{fldXXXXXXXXXXXXXX}``; ``\\}`` escapes a brace;
- string literals in ``'…'`` or ``"…"`` with backslash escapes (``\\'``,
  ``\\"``, ``\\\\``, ``\\n``, ``\\t``), numbers, ``TRUE``/``FALSE``;
- operators, loosest first: ``= != < > <= >=``, ``&``, ``+ -``, ``* /``,
  unary ``-``; parentheses;
- the functions in :data:`FUNCTIONS` (names are case-insensitive).

Values are ``None`` (blank), ``str``, ``int``/``float`` (NaN and infinities
included), ``bool``, aware UTC ``datetime`` and ``list``. An error anywhere
makes the whole result :data:`ERROR` (Airtable's ``#ERROR!``). A record
passes a filter when the result is truthy: not 0, false, "", NaN, [], blank
or an error.

Semantics chosen where Airtable's are unpublished (documented deviations):
blank equals ``""``, ``0`` and false in ``=``; a number compared with a
string compares numerically when the string is a number; a date compared
with a string parses the string; naive date strings are UTC; ``FIND`` and
``SEARCH`` are case-sensitive; ``DATETIME_DIFF`` truncates toward zero.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "ERROR",
    "FUNCTIONS",
    "CompiledFormula",
    "ErrorValue",
    "FormulaSyntaxError",
    "Scope",
    "compile_formula",
    "format_number",
    "parse_datetime",
    "to_text",
    "truthy",
]

UTC = dt.UTC


class FormulaSyntaxError(ValueError):
    """The formula cannot be compiled; the message is the API's explanation."""


@dataclass(frozen=True)
class ErrorValue:
    """Airtable's ``#ERROR!``: the result of a formula that failed."""

    code: str = "#ERROR!"


ERROR = ErrorValue()


class _EvalError(Exception):
    """Raised inside evaluation; the compiled formula turns it into :data:`ERROR`."""


class Scope(Protocol):
    """What a formula can see of the record it is evaluated on."""

    def field(self, field_id: str) -> Any:
        """The formula value of a field (see the module docstring for value types)."""

    def record_id(self) -> str: ...

    def created_time(self) -> dt.datetime: ...

    def last_modified_time(self, field_ids: tuple[str, ...]) -> dt.datetime | None:
        """The last user edit of any (or of the given) non-computed fields."""

    def now(self) -> dt.datetime: ...

    def values(self) -> list[Any]:
        """A rollup's looked-up values (only rollup formulas may use ``values``)."""


# ---------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # num, str, field, ident, op, (, ), ",", end
    text: str
    value: Any
    start: int
    end: int


_OPERATORS = ("!=", "<=", ">=", "=", "<", ">", "&", "+", "-", "*", "/")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if c == "{":
            i += 1
            name: list[str] = []
            while i < n and source[i] != "}":
                if source[i] == "\\" and i + 1 < n and source[i + 1] == "}":
                    name.append("}")
                    i += 2
                    continue
                name.append(source[i])
                i += 1
            if i >= n:
                raise FormulaSyntaxError("Invalid formula. Please check your formula text.")
            i += 1
            tokens.append(_Token("field", source[start:i], "".join(name), start, i))
        elif c in "'\"":
            i += 1
            chars: list[str] = []
            while i < n and source[i] != c:
                if source[i] == "\\" and i + 1 < n:
                    chars.append(_ESCAPES.get(source[i + 1], source[i + 1]))
                    i += 2
                    continue
                chars.append(source[i])
                i += 1
            if i >= n:
                raise FormulaSyntaxError("Invalid formula. Please check your formula text.")
            i += 1
            tokens.append(_Token("str", source[start:i], "".join(chars), start, i))
        elif c.isdigit() or (c == "." and i + 1 < n and source[i + 1].isdigit()):
            m = _NUMBER.match(source, i)
            assert m is not None
            i = m.end()
            text = m.group(0)
            number: float | int = float(text) if any(x in text for x in ".eE") else int(text)
            tokens.append(_Token("num", text, number, start, i))
        elif c.isalpha() or c == "_":
            m = _IDENT.match(source, i)
            assert m is not None
            i = m.end()
            tokens.append(_Token("ident", m.group(0), m.group(0), start, i))
        elif c in "(),":
            i += 1
            tokens.append(_Token(c, c, c, start, i))
        else:
            for op in _OPERATORS:
                if source.startswith(op, i):
                    i += len(op)
                    tokens.append(_Token("op", op, op, start, i))
                    break
            else:
                raise FormulaSyntaxError("Invalid formula. Please check your formula text.")
    tokens.append(_Token("end", "", None, n, n))
    return tokens


# ---------------------------------------------------------------------------
# Syntax tree


@dataclass
class _Node:
    kind: str  # lit, field, call, binop, neg, values
    value: Any = None  # literal value, field id, function name or operator
    args: list[_Node] = field(default_factory=list)


_COMPARISONS = ("=", "!=", "<", ">", "<=", ">=")


class _Parser:
    def __init__(self, tokens: list[_Token], resolve: Callable[[str], str | None],
                 allow_values: bool):
        self.tokens = tokens
        self.pos = 0
        self.resolve = resolve
        self.allow_values = allow_values
        self.unknown_fields: list[str] = []
        self.unknown_functions: list[str] = []
        self.field_spans: list[tuple[int, int, str]] = []  # for rewriting refs as ids

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, kind: str) -> _Token:
        if self.peek().kind != kind:
            raise FormulaSyntaxError("Invalid formula. Please check your formula text.")
        return self.take()

    def parse(self) -> _Node:
        node = self.comparison()
        if self.peek().kind != "end":
            raise FormulaSyntaxError("Invalid formula. Please check your formula text.")
        return node

    def comparison(self) -> _Node:
        node = self.concat()
        while self.peek().kind == "op" and self.peek().value in _COMPARISONS:
            op = self.take().value
            node = _Node("binop", op, [node, self.concat()])
        return node

    def concat(self) -> _Node:
        node = self.additive()
        while self.peek().kind == "op" and self.peek().value == "&":
            self.take()
            node = _Node("binop", "&", [node, self.additive()])
        return node

    def additive(self) -> _Node:
        node = self.term()
        while self.peek().kind == "op" and self.peek().value in ("+", "-"):
            op = self.take().value
            node = _Node("binop", op, [node, self.term()])
        return node

    def term(self) -> _Node:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().value in ("*", "/"):
            op = self.take().value
            node = _Node("binop", op, [node, self.unary()])
        return node

    def unary(self) -> _Node:
        if self.peek().kind == "op" and self.peek().value in ("-", "+"):
            op = self.take().value
            operand = self.unary()
            return _Node("neg", None, [operand]) if op == "-" else operand
        return self.primary()

    def primary(self) -> _Node:
        token = self.take()
        if token.kind in ("num", "str"):
            return _Node("lit", token.value)
        if token.kind == "field":
            field_id = self.resolve(token.value)
            if field_id is None:
                self.unknown_fields.append(token.value)
                field_id = ""
            self.field_spans.append((token.start, token.end, field_id))
            return _Node("field", field_id)
        if token.kind == "(":
            node = self.comparison()
            self.expect(")")
            return node
        if token.kind == "ident":
            name = token.value.upper()
            if self.peek().kind == "(":
                self.take()
                args: list[_Node] = []
                if self.peek().kind != ")":
                    args.append(self.comparison())
                    while self.peek().kind == ",":
                        self.take()
                        args.append(self.comparison())
                self.expect(")")
                spec = FUNCTIONS.get(name)
                if spec is None:
                    self.unknown_functions.append(token.value)
                elif not (spec.min_args <= len(args)
                          and (spec.max_args is None or len(args) <= spec.max_args)):
                    raise FormulaSyntaxError(
                        f"Invalid formula. Wrong number of arguments to {name}()."
                    )
                if name == "LAST_MODIFIED_TIME" and any(a.kind != "field" for a in args):
                    raise FormulaSyntaxError(
                        "Invalid formula. LAST_MODIFIED_TIME() takes field references."
                    )
                return _Node("call", name, args)
            if name in ("TRUE", "FALSE"):
                return _Node("lit", name == "TRUE")
            if token.value == "values" and self.allow_values:
                return _Node("values")
        raise FormulaSyntaxError("Invalid formula. Please check your formula text.")


# ---------------------------------------------------------------------------
# Value conversions


def truthy(value: Any) -> bool:
    """Airtable truthiness: not 0, false, "", NaN, [], blank or an error."""
    if value is None or isinstance(value, ErrorValue):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0 and not math.isnan(value)
    if isinstance(value, (str, list)):
        return len(value) > 0
    return True


def format_number(value: float | int) -> str:
    """Numbers as Airtable writes them in text: ``3``, ``2.5``, ``NaN``."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    return str(value)


def iso(value: dt.datetime) -> str:
    """``2021-12-02T19:30:00.000Z``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return format_number(value)
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, list):
        return ", ".join(to_text(v) for v in value if v is not None)
    if isinstance(value, ErrorValue):
        raise _EvalError()
    return str(value)


_NUMERIC_TEXT = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _as_number(value: Any) -> float | int | None:
    """The number a value stands for, or None when it is not numeric."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        if _NUMERIC_TEXT.match(value):
            number = float(value)
            return int(number) if number.is_integer() and "." not in value else number
        return None
    if isinstance(value, list):
        items = [v for v in value if v is not None]
        if len(items) == 1:
            return _as_number(items[0])
        return 0 if not items else None
    return None


def _number(value: Any) -> float | int:
    number = _as_number(value)
    if number is None:
        raise _EvalError()
    return number


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_datetime(text: str, assume: dt.tzinfo = UTC) -> dt.datetime | None:
    """An ISO 8601 date or date-time; naive values are taken in ``assume``."""
    text = text.strip()
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)  # also takes "Z" and a space before the time
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=assume)
    return value.astimezone(UTC)


def _as_datetime(value: Any) -> dt.datetime | None:
    """A date for a value; None for blank; error when it is not a date."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise _EvalError()
        return parsed
    if isinstance(value, list):
        items = [v for v in value if v is not None]
        if len(items) == 1:
            return _as_datetime(items[0])
    raise _EvalError()


def _scalar(value: Any) -> Any:
    """Arrays take part in comparisons as their text."""
    if isinstance(value, list):
        return to_text(value)
    return value


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value is False or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


def _equal(a: Any, b: Any) -> bool:
    a, b = _scalar(a), _scalar(b)
    if a is None or b is None:
        return _is_blank(a) and _is_blank(b)
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        try:
            da, db = _as_datetime(a), _as_datetime(b)
        except _EvalError:
            return False
        return da == db
    if isinstance(a, (int, float)) or isinstance(b, (int, float)):
        na, nb = _as_number(a), _as_number(b)
        if na is not None and nb is not None:
            return na == nb
        return to_text(a) == to_text(b)
    return bool(a == b)


def _compare(a: Any, b: Any) -> int:
    """-1, 0 or 1; blank sorts as 0 / the empty string."""
    a, b = _scalar(a), _scalar(b)
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        da, db = _as_datetime(a), _as_datetime(b)
        if da is None or db is None:
            raise _EvalError()
        return (da > db) - (da < db)
    na, nb = _as_number(a), _as_number(b)
    if na is not None and nb is not None and not (isinstance(a, str) and isinstance(b, str)):
        if (isinstance(na, float) and math.isnan(na)) or (isinstance(nb, float) and math.isnan(nb)):
            raise _EvalError()
        return (na > nb) - (na < nb)
    ta, tb = to_text(a), to_text(b)
    return (ta > tb) - (ta < tb)


def _flatten(args: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for arg in args:
        if isinstance(arg, list):
            out.extend(_flatten(arg))
        else:
            out.append(arg)
    return out


# ---------------------------------------------------------------------------
# Date helpers


_UNITS = {
    "milliseconds": "ms", "millisecond": "ms", "ms": "ms",
    "seconds": "s", "second": "s", "s": "s",
    "minutes": "m", "minute": "m", "m": "m",
    "hours": "h", "hour": "h", "h": "h",
    "days": "d", "day": "d", "d": "d",
    "weeks": "w", "week": "w", "w": "w",
    "months": "M", "month": "M", "M": "M",
    "quarters": "Q", "quarter": "Q", "Q": "Q",
    "years": "y", "year": "y", "y": "y",
}
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _unit(value: Any, default: str = "s") -> str:
    if value is None:
        return default
    text = to_text(value).strip()
    unit = _UNITS.get(text) or _UNITS.get(text.lower())
    if unit is None:
        raise _EvalError()
    return unit


def _add_months(value: dt.datetime, months: int) -> dt.datetime:
    index = value.year * 12 + value.month - 1 + months
    year, month = divmod(index, 12)
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def _month_diff(a: dt.datetime, b: dt.datetime) -> int:
    months = (a.year - b.year) * 12 + (a.month - b.month)
    anchor = _add_months(b, months)
    if months > 0 and anchor > a:
        months -= 1
    elif months < 0 and anchor < a:
        months += 1
    return months


def _truncate(value: dt.datetime, unit: str) -> dt.datetime:
    if unit == "y":
        return value.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "Q":
        return value.replace(month=(value.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0,
                             second=0, microsecond=0)
    if unit == "M":
        return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "w":
        day = value.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - dt.timedelta(days=(day.weekday() + 1) % 7)  # weeks start on Sunday
    if unit == "d":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "h":
        return value.replace(minute=0, second=0, microsecond=0)
    if unit == "m":
        return value.replace(second=0, microsecond=0)
    if unit == "s":
        return value.replace(microsecond=0)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


_FORMAT_TOKENS = re.compile(
    r"\[[^\]]*\]|YYYY|YY|MMMM|MMM|MM|M|DD|Do|D|dddd|ddd|HH|H|hh|h|mm|m|ss|s|SSS|A|a|ZZ|Z|X|x"
)


def _format_datetime(value: dt.datetime, fmt: str) -> str:
    def token(m: re.Match[str]) -> str:
        t = m.group(0)
        hour12 = value.hour % 12 or 12
        table: dict[str, str] = {
            "YYYY": f"{value.year:04d}", "YY": f"{value.year % 100:02d}",
            "MMMM": calendar.month_name[value.month], "MMM": calendar.month_abbr[value.month],
            "MM": f"{value.month:02d}", "M": str(value.month),
            "DD": f"{value.day:02d}", "D": str(value.day),
            "Do": f"{value.day}{_ordinal(value.day)}",
            "dddd": calendar.day_name[value.weekday()], "ddd": calendar.day_abbr[value.weekday()],
            "HH": f"{value.hour:02d}", "H": str(value.hour),
            "hh": f"{hour12:02d}", "h": str(hour12),
            "mm": f"{value.minute:02d}", "m": str(value.minute),
            "ss": f"{value.second:02d}", "s": str(value.second),
            "SSS": f"{value.microsecond // 1000:03d}",
            "A": "AM" if value.hour < 12 else "PM", "a": "am" if value.hour < 12 else "pm",
            "Z": "+00:00", "ZZ": "+0000",
            "X": str(int(value.timestamp())), "x": str(int(value.timestamp() * 1000)),
        }
        if t.startswith("["):
            return t[1:-1]
        return table[t]
    return _FORMAT_TOKENS.sub(token, fmt)


def _ordinal(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


_PARSE_TOKENS = {
    "YYYY": r"(?P<Y>\d{4})", "YY": r"(?P<y>\d{2})", "MM": r"(?P<M>\d{1,2})",
    "M": r"(?P<M>\d{1,2})", "DD": r"(?P<D>\d{1,2})", "D": r"(?P<D>\d{1,2})",
    "HH": r"(?P<H>\d{1,2})", "H": r"(?P<H>\d{1,2})", "hh": r"(?P<h>\d{1,2})",
    "h": r"(?P<h>\d{1,2})", "mm": r"(?P<m>\d{1,2})", "m": r"(?P<m>\d{1,2})",
    "ss": r"(?P<s>\d{1,2})", "s": r"(?P<s>\d{1,2})", "SSS": r"(?P<S>\d{1,3})",
    "A": r"(?P<A>[AaPp][Mm])", "a": r"(?P<A>[AaPp][Mm])",
    "Z": r"(?P<Z>Z|[+-]\d{2}:?\d{2})", "ZZ": r"(?P<Z>Z|[+-]\d{2}:?\d{2})",
    "X": r"(?P<X>\d+)", "x": r"(?P<x>\d+)",
}
_PARSE_SPLIT = re.compile(r"\[[^\]]*\]|YYYY|YY|MM|M|DD|D|HH|H|hh|h|mm|m|ss|s|SSS|A|a|ZZ|Z|X|x")


def _parse_with_format(text: str, fmt: str) -> dt.datetime:
    """A date parsed with a moment.js format (the common tokens only)."""
    pattern, pos = [], 0
    for m in _PARSE_SPLIT.finditer(fmt):
        pattern.append(re.escape(fmt[pos:m.start()]))
        t = m.group(0)
        pattern.append(re.escape(t[1:-1]) if t.startswith("[") else _PARSE_TOKENS[t])
        pos = m.end()
    pattern.append(re.escape(fmt[pos:]))
    try:
        found = re.fullmatch("".join(pattern), text.strip())
    except re.error as exc:  # a format repeating a token
        raise _EvalError() from exc
    if found is None:
        raise _EvalError()
    parts = {k: v for k, v in found.groupdict().items() if v is not None}
    if "X" in parts:
        return dt.datetime.fromtimestamp(int(parts["X"]), UTC)
    if "x" in parts:
        return dt.datetime.fromtimestamp(int(parts["x"]) / 1000, UTC)
    year = int(parts["Y"]) if "Y" in parts else 2000 + int(parts.get("y", "0"))
    hour = int(parts.get("H", "0"))
    if "h" in parts:
        hour = int(parts["h"]) % 12 + (12 if parts.get("A", "am").lower() == "pm" else 0)
    tz: dt.tzinfo = UTC
    if parts.get("Z") and parts["Z"] != "Z":
        z = parts["Z"].replace(":", "")
        sign = -1 if z[0] == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=int(z[1:3]), minutes=int(z[3:5])))
    try:
        value = dt.datetime(year, int(parts.get("M", "1")), int(parts.get("D", "1")), hour,
                            int(parts.get("m", "0")), int(parts.get("s", "0")),
                            int(parts.get("S", "0").ljust(3, "0")) * 1000, tzinfo=tz)
    except ValueError as exc:
        raise _EvalError() from exc
    return value.astimezone(UTC)


# ---------------------------------------------------------------------------
# Functions

Thunk = Callable[[], Any]


@dataclass(frozen=True)
class _Function:
    min_args: int
    max_args: int | None
    impl: Callable[..., Any]
    lazy: bool = False  # impl(scope, thunks) instead of impl(scope, values)
    result: str = "text"  # text, number, date, boolean, array, arg0, arg1 (for type inference)


def _f_if(scope: Scope, args: list[Thunk]) -> Any:
    if truthy(args[0]()):
        return args[1]()
    return args[2]() if len(args) > 2 else None


def _f_switch(scope: Scope, args: list[Thunk]) -> Any:
    subject = args[0]()
    rest = args[1:]
    for i in range(0, len(rest) - 1, 2):
        if _equal(subject, rest[i]()):
            return rest[i + 1]()
    return rest[-1]() if len(rest) % 2 == 1 else None


def _f_iserror(scope: Scope, args: list[Thunk]) -> Any:
    try:
        return isinstance(args[0](), ErrorValue)
    except _EvalError:
        return True


def _f_error(scope: Scope, args: list[Any]) -> Any:
    raise _EvalError()


def _f_and(scope: Scope, args: list[Any]) -> Any:
    return all(truthy(v) for v in _flatten(args))


def _f_or(scope: Scope, args: list[Any]) -> Any:
    return any(truthy(v) for v in _flatten(args))


def _f_xor(scope: Scope, args: list[Any]) -> Any:
    return sum(1 for v in _flatten(args) if truthy(v)) % 2 == 1


def _f_not(scope: Scope, args: list[Any]) -> Any:
    return not truthy(args[0])


def _dates2(args: list[Any]) -> tuple[dt.datetime, dt.datetime] | None:
    a, b = _as_datetime(args[0]), _as_datetime(args[1])
    if a is None or b is None:
        return None
    return a, b


def _f_is_after(scope: Scope, args: list[Any]) -> Any:
    pair = _dates2(args)
    return pair is not None and pair[0] > pair[1]


def _f_is_before(scope: Scope, args: list[Any]) -> Any:
    pair = _dates2(args)
    return pair is not None and pair[0] < pair[1]


def _f_is_same(scope: Scope, args: list[Any]) -> Any:
    pair = _dates2(args)
    if pair is None:
        return False
    if len(args) < 3 or args[2] is None:
        return pair[0] == pair[1]
    unit = _unit(args[2])
    return _truncate(pair[0], unit) == _truncate(pair[1], unit)


def _f_datetime_parse(scope: Scope, args: list[Any]) -> Any:
    value = args[0]
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000, UTC)
    text = to_text(value)
    if len(args) > 1 and args[1]:
        return _parse_with_format(text, to_text(args[1]))
    parsed = parse_datetime(text)
    if parsed is None:
        raise _EvalError()
    return parsed


def _f_datetime_diff(scope: Scope, args: list[Any]) -> Any:
    pair = _dates2(args)
    if pair is None:
        return None
    a, b = pair
    unit = _unit(args[2] if len(args) > 2 else None)
    if unit in ("M", "Q", "y"):
        months = _month_diff(a, b)
        return int(months / {"M": 1, "Q": 3, "y": 12}[unit])
    return int((a - b).total_seconds() / _SECONDS[unit])


def _f_dateadd(scope: Scope, args: list[Any]) -> Any:
    value = _as_datetime(args[0])
    if value is None:
        return None
    count = _number(args[1])
    unit = _unit(args[2])
    if unit in ("M", "Q", "y"):
        return _add_months(value, int(count) * {"M": 1, "Q": 3, "y": 12}[unit])
    return value + dt.timedelta(seconds=count * _SECONDS[unit])


def _f_datetime_format(scope: Scope, args: list[Any]) -> Any:
    value = _as_datetime(args[0])
    if value is None:
        return None
    fmt = to_text(args[1]) if len(args) > 1 and args[1] else "YYYY-MM-DDTHH:mm:ss.SSS[Z]"
    return _format_datetime(value, fmt)


def _date_part(part: str) -> Callable[[Scope, list[Any]], Any]:
    def impl(scope: Scope, args: list[Any]) -> Any:
        value = _as_datetime(args[0])
        if value is None:
            return None
        if part == "weekday":
            return (value.weekday() + 1) % 7
        return getattr(value, part)
    return impl


def _f_last_modified(scope: Scope, args: list[Any]) -> Any:
    # Its arguments are field references, not values: _compile handles the call itself.
    raise AssertionError("LAST_MODIFIED_TIME is compiled specially")  # pragma: no cover


def _f_find(scope: Scope, args: list[Any]) -> Any:
    needle, hay = to_text(args[0]), to_text(args[1])
    start = max(int(_number(args[2])) - 1, 0) if len(args) > 2 and args[2] is not None else 0
    return hay.find(needle, start) + 1


def _f_search(scope: Scope, args: list[Any]) -> Any:
    found = _f_find(scope, args)
    return found if found else None


def _f_mid(scope: Scope, args: list[Any]) -> Any:
    text = to_text(args[0])
    start = max(int(_number(args[1])) - 1, 0)
    return text[start:start + max(int(_number(args[2])), 0)]


def _f_substitute(scope: Scope, args: list[Any]) -> Any:
    text, old, new = to_text(args[0]), to_text(args[1]), to_text(args[2])
    if not old:
        return text
    if len(args) > 3 and args[3] is not None:
        index = int(_number(args[3]))
        parts = text.split(old)
        if index < 1 or index >= len(parts):
            return text
        return old.join(parts[:index]) + new + old.join(parts[index:])
    return text.replace(old, new)


def _f_value(scope: Scope, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = re.sub(r"[^0-9.eE+-]", "", to_text(value))
    if not text:
        return None
    try:
        number = float(text)
    except ValueError as exc:
        raise _EvalError() from exc
    return int(number) if number.is_integer() else number


def _numbers(args: list[Any]) -> list[float | int]:
    out: list[float | int] = []
    for v in _flatten(args):
        if isinstance(v, bool) or v is None or isinstance(v, (str, dt.datetime)):
            continue
        if isinstance(v, ErrorValue):
            raise _EvalError()
        if isinstance(v, (int, float)):
            out.append(v)
    return out


def _f_sum(scope: Scope, args: list[Any]) -> Any:
    return sum(_numbers(args))


def _f_average(scope: Scope, args: list[Any]) -> Any:
    numbers = _numbers(args)
    return sum(numbers) / len(numbers) if numbers else math.nan


def _f_max(scope: Scope, args: list[Any]) -> Any:
    numbers = _numbers(args)
    return max(numbers) if numbers else 0


def _f_min(scope: Scope, args: list[Any]) -> Any:
    numbers = _numbers(args)
    return min(numbers) if numbers else 0


def _f_round(mode: str) -> Callable[[Scope, list[Any]], Any]:
    def impl(scope: Scope, args: list[Any]) -> Any:
        number = _number(args[0])
        places = int(_number(args[1])) if len(args) > 1 else 0
        factor = 10 ** places
        scaled = number * factor
        if mode == "round":
            result = math.floor(abs(scaled) + 0.5) * (1 if scaled >= 0 else -1)
        elif mode == "up":
            result = math.ceil(abs(scaled)) * (1 if scaled >= 0 else -1)
        else:
            result = math.floor(abs(scaled)) * (1 if scaled >= 0 else -1)
        value = result / factor
        return int(value) if places <= 0 else value
    return impl


def _f_mod(scope: Scope, args: list[Any]) -> Any:
    divisor = _number(args[1])
    if divisor == 0:
        raise _EvalError()
    return math.fmod(_number(args[0]), divisor)


def _f_arrayjoin(scope: Scope, args: list[Any]) -> Any:
    separator = to_text(args[1]) if len(args) > 1 else ", "
    items = args[0] if isinstance(args[0], list) else [args[0]]
    return separator.join(to_text(v) for v in _flatten(items) if v is not None)


def _f_arrayunique(scope: Scope, args: list[Any]) -> Any:
    out: list[Any] = []
    for v in _flatten([args[0]]):
        if v not in out:
            out.append(v)
    return out


def _f_arraycompact(scope: Scope, args: list[Any]) -> Any:
    return [v for v in _flatten([args[0]]) if v is not None and v != ""]


def _f_regex(kind: str) -> Callable[[Scope, list[Any]], Any]:
    def impl(scope: Scope, args: list[Any]) -> Any:
        text, pattern = to_text(args[0]), to_text(args[1])
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise _EvalError() from exc
        if kind == "match":
            return regex.search(text) is not None
        if kind == "extract":
            m = regex.search(text)
            return m.group(0) if m else None
        return regex.sub(to_text(args[2]), text)
    return impl


def _text1(fn: Callable[[str], Any]) -> Callable[[Scope, list[Any]], Any]:
    return lambda scope, args: fn(to_text(args[0]))


def _const(value: Any) -> Callable[[Scope, list[Any]], Any]:
    return lambda scope, args: value


FUNCTIONS: dict[str, _Function] = {
    # logic
    "IF": _Function(2, 3, _f_if, lazy=True, result="arg1"),
    "SWITCH": _Function(2, None, _f_switch, lazy=True, result="arg2"),
    "AND": _Function(1, None, _f_and, result="boolean"),
    "OR": _Function(1, None, _f_or, result="boolean"),
    "XOR": _Function(1, None, _f_xor, result="boolean"),
    "NOT": _Function(1, 1, _f_not, result="boolean"),
    "TRUE": _Function(0, 0, _const(True), result="boolean"),
    "FALSE": _Function(0, 0, _const(False), result="boolean"),
    "BLANK": _Function(0, 0, _const(None), result="text"),
    "ERROR": _Function(0, 0, _f_error),
    "ISERROR": _Function(1, 1, _f_iserror, lazy=True, result="boolean"),
    # record metadata
    "RECORD_ID": _Function(0, 0, lambda scope, args: scope.record_id()),
    "CREATED_TIME": _Function(0, 0, lambda scope, args: scope.created_time(), result="date"),
    "LAST_MODIFIED_TIME": _Function(0, None, _f_last_modified, result="date"),
    "NOW": _Function(0, 0, lambda scope, args: scope.now(), result="date"),
    "TODAY": _Function(0, 0, lambda scope, args: _truncate(scope.now(), "d"), result="date"),
    # dates
    "IS_AFTER": _Function(2, 2, _f_is_after, result="boolean"),
    "IS_BEFORE": _Function(2, 2, _f_is_before, result="boolean"),
    "IS_SAME": _Function(2, 3, _f_is_same, result="boolean"),
    "DATETIME_PARSE": _Function(1, 3, _f_datetime_parse, result="date"),
    "DATETIME_DIFF": _Function(2, 3, _f_datetime_diff, result="number"),
    "DATEADD": _Function(3, 3, _f_dateadd, result="date"),
    "DATETIME_FORMAT": _Function(1, 2, _f_datetime_format),
    "YEAR": _Function(1, 1, _date_part("year"), result="number"),
    "MONTH": _Function(1, 1, _date_part("month"), result="number"),
    "DAY": _Function(1, 1, _date_part("day"), result="number"),
    "HOUR": _Function(1, 1, _date_part("hour"), result="number"),
    "MINUTE": _Function(1, 1, _date_part("minute"), result="number"),
    "SECOND": _Function(1, 1, _date_part("second"), result="number"),
    "WEEKDAY": _Function(1, 1, _date_part("weekday"), result="number"),
    # text
    "FIND": _Function(2, 3, _f_find, result="number"),
    "SEARCH": _Function(2, 3, _f_search, result="number"),
    "LEN": _Function(1, 1, _text1(len), result="number"),
    "LOWER": _Function(1, 1, _text1(str.lower)),
    "UPPER": _Function(1, 1, _text1(str.upper)),
    "TRIM": _Function(1, 1, _text1(str.strip)),
    "CONCATENATE": _Function(1, None, lambda scope, args: "".join(to_text(a) for a in args)),
    "LEFT": _Function(2, 2, lambda scope, args: to_text(args[0])[:max(int(_number(args[1])), 0)]),
    "RIGHT": _Function(2, 2, lambda scope, args: (
        to_text(args[0])[-int(_number(args[1])):] if int(_number(args[1])) > 0 else "")),
    "MID": _Function(3, 3, _f_mid),
    "SUBSTITUTE": _Function(3, 4, _f_substitute),
    "VALUE": _Function(1, 1, _f_value, result="number"),
    "REGEX_MATCH": _Function(2, 2, _f_regex("match"), result="boolean"),
    "REGEX_EXTRACT": _Function(2, 2, _f_regex("extract")),
    "REGEX_REPLACE": _Function(3, 3, _f_regex("replace")),
    # numbers and aggregates (rollups use them on ``values``)
    "SUM": _Function(1, None, _f_sum, result="number"),
    "AVERAGE": _Function(1, None, _f_average, result="number"),
    "MAX": _Function(1, None, _f_max, result="number"),
    "MIN": _Function(1, None, _f_min, result="number"),
    "COUNT": _Function(1, None, lambda scope, args: len(_numbers(args)), result="number"),
    "COUNTA": _Function(1, None, lambda scope, args: sum(
        1 for v in _flatten(args) if v is not None and v != ""), result="number"),
    "COUNTALL": _Function(1, None, lambda scope, args: len(_flatten(args)), result="number"),
    "ROUND": _Function(1, 2, _f_round("round"), result="number"),
    "ROUNDUP": _Function(1, 2, _f_round("up"), result="number"),
    "ROUNDDOWN": _Function(1, 2, _f_round("down"), result="number"),
    "INT": _Function(1, 1, lambda scope, args: math.floor(_number(args[0])), result="number"),
    "ABS": _Function(1, 1, lambda scope, args: abs(_number(args[0])), result="number"),
    "MOD": _Function(2, 2, _f_mod, result="number"),
    # arrays
    "ARRAYJOIN": _Function(1, 2, _f_arrayjoin),
    "ARRAYUNIQUE": _Function(1, 1, _f_arrayunique, result="array"),
    "ARRAYCOMPACT": _Function(1, 1, _f_arraycompact, result="array"),
    "ARRAYFLATTEN": _Function(1, 1, lambda scope, args: _flatten([args[0]]), result="array"),
}


# ---------------------------------------------------------------------------
# Compilation

Compiled = Callable[[Scope], Any]


def _arith(op: str, a: Any, b: Any) -> Any:
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        raise _EvalError()
    x, y = _number(a), _number(b)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0:
        return math.nan if x == 0 else math.copysign(math.inf, x)
    return x / y


def _binop(op: str) -> Callable[[Any, Any], Any]:
    if op == "=":
        return _equal
    if op == "!=":
        return lambda a, b: not _equal(a, b)
    if op == "<":
        return lambda a, b: _compare(a, b) < 0
    if op == ">":
        return lambda a, b: _compare(a, b) > 0
    if op == "<=":
        return lambda a, b: _compare(a, b) <= 0
    if op == ">=":
        return lambda a, b: _compare(a, b) >= 0
    if op == "&":
        return lambda a, b: to_text(a) + to_text(b)
    return lambda a, b: _arith(op, a, b)


def _compile(node: _Node) -> Compiled:
    kind = node.kind
    if kind == "lit":
        value = node.value
        return lambda scope: value
    if kind == "values":
        return lambda scope: scope.values()
    if kind == "field":
        field_id: str = node.value

        def get(scope: Scope) -> Any:
            value = scope.field(field_id)
            if isinstance(value, ErrorValue):
                raise _EvalError()
            return value
        return get
    if kind == "neg":
        operand = _compile(node.args[0])
        return lambda scope: -_number(operand(scope))
    if kind == "binop":
        left, right = _compile(node.args[0]), _compile(node.args[1])
        fn = _binop(node.value)
        return lambda scope: fn(left(scope), right(scope))
    # a call
    name: str = node.value
    if name == "LAST_MODIFIED_TIME":
        ids = tuple(a.value for a in node.args)
        return lambda scope: scope.last_modified_time(ids)
    spec = FUNCTIONS[name]
    args = [_compile(a) for a in node.args]
    impl = spec.impl
    if spec.lazy:
        def lazy(scope: Scope) -> Any:
            return impl(scope, [(lambda a=a: a(scope)) for a in args])
        return lazy
    return lambda scope: impl(scope, [a(scope) for a in args])


def _infer(node: _Node, field_kind: Callable[[str], str]) -> str:
    """The kind of value a formula produces: text, number, date, boolean or array."""
    if node.kind == "lit":
        value = node.value
        if isinstance(value, bool):
            return "boolean"
        return "number" if isinstance(value, (int, float)) else "text"
    if node.kind == "field":
        return field_kind(node.value)
    if node.kind == "values":
        return "array"
    if node.kind == "neg":
        return "number"
    if node.kind == "binop":
        if node.value in _COMPARISONS:
            return "boolean"
        return "text" if node.value == "&" else "number"
    spec = FUNCTIONS[node.value]
    if spec.result.startswith("arg"):
        index = int(spec.result[3:])
        if index < len(node.args):
            return _infer(node.args[index], field_kind)
        return "text"
    return spec.result


@dataclass
class CompiledFormula:
    """A formula ready to evaluate; ``source_with_ids`` names fields by id."""

    source: str
    source_with_ids: str
    field_ids: tuple[str, ...]
    _root: _Node
    _run: Compiled

    def evaluate(self, scope: Scope) -> Any:
        """The result, or :data:`ERROR` when evaluation failed."""
        try:
            return self._run(scope)
        except (_EvalError, ArithmeticError, ValueError, TypeError, RecursionError):
            return ERROR

    def matches(self, scope: Scope) -> bool:
        """Whether a record passes this formula as a filter."""
        return truthy(self.evaluate(scope))

    def result_kind(self, field_kind: Callable[[str], str]) -> str:
        return _infer(self._root, field_kind)


def compile_formula(source: str, resolve: Callable[[str], str | None], *,
                    allow_values: bool = False) -> CompiledFormula:
    """Parse and compile a formula; raise :class:`FormulaSyntaxError` when it is invalid.

    ``resolve`` maps a field name or id (as written between braces) to a field
    id, or None when the table has no such field.
    """
    if not source.strip():
        raise FormulaSyntaxError("Invalid formula. Please check your formula text.")
    parser = _Parser(_tokenize(source), resolve, allow_values)
    root = parser.parse()
    if parser.unknown_fields:
        names = ", ".join(dict.fromkeys(parser.unknown_fields))
        raise FormulaSyntaxError(f"Unknown field names: {names}")
    if parser.unknown_functions:
        names = ", ".join(dict.fromkeys(parser.unknown_functions))
        raise FormulaSyntaxError(f"Unknown function names: {names}")
    pieces, pos = [], 0
    for start, end, field_id in parser.field_spans:
        pieces.append(source[pos:start])
        pieces.append("{" + field_id + "}")
        pos = end
    pieces.append(source[pos:])
    ids = tuple(dict.fromkeys(f for _, _, f in parser.field_spans))
    return CompiledFormula(source, "".join(pieces), ids, root, _compile(root))
