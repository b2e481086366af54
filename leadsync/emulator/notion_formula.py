"""A small Notion formula engine: parse once, infer the result type, evaluate per page.

It covers what realistic tracking tables use: ``prop("X")``, number,
string and boolean literals, ``+ - * / % ^``, comparisons, ``and``/``or``/
``not`` (also ``&&``, ``||``, ``!``), ``cond ? a : b``, method calls
(``prop("X").length()``) and the functions in :data:`FUNCTIONS`
(``if``, ``ifs``, ``empty``, ``length``, ``concat``, ``format``, ``contains``,
``round``, ``dateBetween``, ``now`` …).

Values while evaluating: numbers (int/float), strings, booleans, dates
(``datetime.date`` for date-only, aware ``datetime.datetime``), lists and
``None`` for an empty property. The result type is inferred statically from
the expression and the schema (like Notion, a formula has one type), so an
empty result still answers ``{"type": "number", "number": null}``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

__all__ = ["Formula", "FormulaError", "format_value", "result_json"]

Value = Any
PropLookup = Callable[[str], Value]
TypeLookup = Callable[[str], str]
Node = tuple[Any, ...]


class FormulaError(ValueError):
    """The expression does not parse, or names an unknown function."""


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
    | (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%^<>!(),.?:])
    )""", re.VERBOSE)


def _tokens(expression: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = expression.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FormulaError(f"unexpected character at {pos}: {text[pos:pos + 10]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    out.append(("end", ""))
    return out


class _Parser:
    def __init__(self, expression: str):
        self.tokens = _tokens(expression)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def accept(self, *values: str) -> str | None:
        kind, value = self.peek()
        if kind in ("op", "name") and value in values:
            self.i += 1
            return value
        return None

    def expect(self, value: str) -> None:
        if self.accept(value) is None:
            raise FormulaError(f"expected {value!r}, found {self.peek()[1]!r}")

    def parse(self) -> Node:
        node = self.expr()
        if self.peek()[0] != "end":
            raise FormulaError(f"unexpected {self.peek()[1]!r}")
        return node

    def expr(self) -> Node:
        cond = self.or_expr()
        if self.accept("?"):
            then = self.expr()
            self.expect(":")
            return ("call", "if", [cond, then, self.expr()])
        return cond

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.accept("or", "||"):
            node = ("call", "or", [node, self.and_expr()])
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.accept("and", "&&"):
            node = ("call", "and", [node, self.not_expr()])
        return node

    def not_expr(self) -> Node:
        if self.accept("not", "!"):
            return ("call", "not", [self.not_expr()])
        return self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        while (op := self.accept("==", "!=", "<", ">", "<=", ">=")) is not None:
            node = ("bin", op, node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while (op := self.accept("+", "-")) is not None:
            node = ("bin", op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.power()
        while (op := self.accept("*", "/", "%")) is not None:
            node = ("bin", op, node, self.power())
        return node

    def power(self) -> Node:
        node = self.unary()
        if self.accept("^"):
            return ("bin", "^", node, self.power())
        return node

    def unary(self) -> Node:
        if self.accept("-"):
            return ("neg", self.unary())
        if self.accept("+"):
            return self.unary()
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while self.accept("."):
            kind, name = self.take()
            if kind != "name":
                raise FormulaError(f"expected a method name after '.', found {name!r}")
            self.expect("(")
            node = ("call", name, [node, *self.arguments()])
        return node

    def arguments(self) -> list[Node]:
        args: list[Node] = []
        if self.accept(")"):
            return args
        while True:
            args.append(self.expr())
            if self.accept(")"):
                return args
            self.expect(",")

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            number = float(value)
            return ("lit", int(number) if number.is_integer() and "." not in value
                    and "e" not in value.lower() else number)
        if kind == "str":
            return ("lit", _unescape(value[1:-1]))
        if kind == "name":
            if value == "true":
                return ("lit", True)
            if value == "false":
                return ("lit", False)
            if self.accept("("):
                args = self.arguments()
                if value == "prop":
                    if len(args) != 1 or args[0][0] != "lit" or not isinstance(args[0][1], str):
                        raise FormulaError('prop() takes one property name, e.g. prop("Impact")')
                    return ("prop", args[0][1])
                if value not in FUNCTIONS and value not in _LAZY:
                    raise FormulaError(f"unknown function {value}()")
                return ("call", value, args)
            raise FormulaError(f"unknown name {value!r}")
        if kind == "op" and value == "(":
            node = self.expr()
            self.expect(")")
            return node
        raise FormulaError(f"unexpected {value or 'end of expression'!r}")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


# ---------------------------------------------------------------------------
# Values


def format_value(value: Value) -> str:
    """A value as Notion's ``format()`` shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def _is_empty(value: Value) -> bool:
    return value is None or value == "" or value == [] or value is False or (
        isinstance(value, int | float) and not isinstance(value, bool) and value == 0)


def _number(value: Value) -> float | int | None:
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else None
        except ValueError:
            return None
    return None


def _instant(value: Value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return None


def _comparable(value: Value) -> Value:
    if isinstance(value, dt.date):
        return _instant(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _binary(op: str, left: Value, right: Value) -> Value:
    if op == "==":
        return _comparable(left) == _comparable(right)
    if op == "!=":
        return _comparable(left) != _comparable(right)
    if op in ("<", ">", "<=", ">="):
        a, b = _comparable(left), _comparable(right)
        if a is None or b is None or type(a) is not type(b):
            return False
        result: bool = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return result
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return format_value(left) + format_value(right)
    if op == "+" and isinstance(left, list) and isinstance(right, list):
        return left + right
    a_num, b_num = _number(left), _number(right)
    if a_num is None or b_num is None:
        return None
    if op == "+":
        return a_num + b_num
    if op == "-":
        return a_num - b_num
    if op == "*":
        return a_num * b_num
    if op == "^":
        try:
            return a_num ** b_num
        except (OverflowError, ZeroDivisionError):
            return None
    if b_num == 0:
        return None
    return a_num / b_num if op == "/" else math.fmod(a_num, b_num)


_UNITS = {"years": 365.25 * 86400, "quarters": 91.3125 * 86400, "months": 30.4375 * 86400,
          "weeks": 7 * 86400, "days": 86400, "hours": 3600, "minutes": 60}


def _date_add(date: Value, amount: Value, unit: Value, sign: int = 1) -> Value:
    start, n = _instant(date), _number(amount)
    if start is None or n is None or unit not in _UNITS:
        return None
    if unit in ("years", "quarters", "months"):
        months = int(n) * {"years": 12, "quarters": 3, "months": 1}[unit] * sign
        year, month = divmod(start.month - 1 + months, 12)
        day = min(start.day, 28)
        moved = start.replace(year=start.year + year, month=month + 1, day=day)
    else:
        moved = start + dt.timedelta(seconds=n * _UNITS[unit] * sign)
    return moved.date() if isinstance(date, dt.date) and not isinstance(date,
                                                                      dt.datetime) else moved


def _date_between(a: Value, b: Value, unit: Value) -> Value:
    first, second = _instant(a), _instant(b)
    if first is None or second is None or unit not in _UNITS:
        return None
    return math.trunc((first - second).total_seconds() / _UNITS[unit])


def _contains(haystack: Value, needle: Value) -> bool:
    if isinstance(haystack, list):
        return any(format_value(v) == format_value(needle) for v in haystack)
    return format_value(needle) in format_value(haystack)


def _minmax(pick: Callable[..., Any], args: list[Value]) -> Value:
    flat = [v for a in args for v in (a if isinstance(a, list) else [a])]
    numbers = [n for n in (_number(v) for v in flat) if n is not None]
    return pick(numbers) if numbers else None


def _round(value: Value, places: Value = 0) -> Value:
    number, digits = _number(value), _number(places) or 0
    if number is None:
        return None
    scale = 10 ** int(digits)
    rounded = math.floor(number * scale + 0.5) / scale  # Notion rounds halves up
    return int(rounded) if digits == 0 else rounded


def _join(args: list[Value]) -> Value:
    if args and isinstance(args[0], list):
        sep = format_value(args[1]) if len(args) > 1 else ""
        return sep.join(format_value(v) for v in args[0])
    sep = format_value(args[0]) if args else ""
    return sep.join(format_value(v) for v in args[1:])


def _concat(args: list[Value]) -> Value:
    if args and all(isinstance(a, list) for a in args):
        return [v for a in args for v in a]
    return "".join(format_value(a) for a in args)


def _length(value: Value) -> Value:
    if isinstance(value, list | str):
        return len(value)
    return len(format_value(value))


def _num1(fn: Callable[[float], Any]) -> Callable[..., Value]:
    def apply(value: Value) -> Value:
        number = _number(value)
        return None if number is None else fn(number)
    return apply


def _test(value: Value, pattern: Value) -> bool:
    try:
        return re.search(format_value(pattern), format_value(value)) is not None
    except re.error:
        return False


def _replace(value: Value, pattern: Value, repl: Value, count: int) -> Value:
    try:
        return re.sub(format_value(pattern), format_value(repl), format_value(value), count=count)
    except re.error:
        return format_value(value)


def _substring(value: Value, start: Value, end: Value = None) -> Value:
    text = format_value(value)
    a = int(_number(start) or 0)
    b = int(n) if (n := _number(end)) is not None else len(text)
    return text[a:b]


def _sqrt(x: float) -> float | None:
    return math.sqrt(x) if x >= 0 else None


#: Eager functions: (implementation over evaluated arguments, static result type).
FUNCTIONS: dict[str, tuple[Callable[..., Value], str]] = {
    "empty": (lambda v=None: _is_empty(v), "boolean"),
    "length": (_length, "number"),
    "concat": (lambda *a: _concat(list(a)), "string"),
    "join": (lambda *a: _join(list(a)), "string"),
    "format": (format_value, "string"),
    "toNumber": (_number, "number"),
    "contains": (_contains, "boolean"),
    "test": (_test, "boolean"),
    "lower": (lambda v: format_value(v).lower(), "string"),
    "upper": (lambda v: format_value(v).upper(), "string"),
    "trim": (lambda v: format_value(v).strip(), "string"),
    "replace": (lambda v, p, r: _replace(v, p, r, 1), "string"),
    "replaceAll": (lambda v, p, r: _replace(v, p, r, 0), "string"),
    "substring": (_substring, "string"),
    "abs": (_num1(abs), "number"),
    "floor": (_num1(math.floor), "number"),
    "ceil": (_num1(math.ceil), "number"),
    "sqrt": (_num1(_sqrt), "number"),
    "round": (_round, "number"),
    "min": (lambda *a: _minmax(min, list(a)), "number"),
    "max": (lambda *a: _minmax(max, list(a)), "number"),
    "sum": (lambda *a: _minmax(sum, list(a)), "number"),
    "dateAdd": (_date_add, "date"),
    "dateSubtract": (lambda d, n, u: _date_add(d, n, u, -1), "date"),
    "dateBetween": (_date_between, "number"),
    "toString": (format_value, "string"),
}
#: Functions whose arguments are evaluated only as needed.
_LAZY = {"if": "?", "ifs": "?", "and": "boolean", "or": "boolean", "not": "boolean",
         "now": "date", "today": "date"}

Compiled = Callable[[PropLookup, dt.datetime], Value]


def _compile(node: Node) -> Compiled:
    kind = node[0]
    if kind == "lit":
        constant = node[1]
        return lambda p, now: constant
    if kind == "prop":
        name = node[1]
        return lambda p, now: p(name)
    if kind == "neg":
        inner = _compile(node[1])
        return lambda p, now: _binary("-", 0, inner(p, now))
    if kind == "bin":
        op, left, right = node[1], _compile(node[2]), _compile(node[3])
        return lambda p, now: _binary(op, left(p, now), right(p, now))
    name, args = node[1], [_compile(a) for a in node[2]]
    if name == "if":
        if len(args) != 3:
            raise FormulaError("if() takes a condition and two values")
        cond, then, other = args

        def if_(p: PropLookup, now: dt.datetime) -> Value:
            return then(p, now) if _truthy(cond(p, now)) else other(p, now)
        return if_
    if name == "ifs":
        if len(args) < 3 or len(args) % 2 == 0:
            raise FormulaError("ifs() takes condition/value pairs and a final value")

        def ifs(p: PropLookup, now: dt.datetime) -> Value:
            for n in range(0, len(args) - 1, 2):
                if _truthy(args[n](p, now)):
                    return args[n + 1](p, now)
            return args[-1](p, now)
        return ifs
    if name == "and":
        return lambda p, now: all(_truthy(a(p, now)) for a in args)
    if name == "or":
        return lambda p, now: any(_truthy(a(p, now)) for a in args)
    if name == "not":
        if len(args) != 1:
            raise FormulaError("not() takes one value")
        only = args[0]
        return lambda p, now: not _truthy(only(p, now))
    if name == "now":
        return lambda p, now: now
    if name == "today":
        return lambda p, now: now.date()
    fn = FUNCTIONS[name][0]

    def call(p: PropLookup, now: dt.datetime) -> Value:
        try:
            return fn(*(a(p, now) for a in args))
        except TypeError as exc:  # wrong number of arguments
            raise FormulaError(f"{name}(): {exc}") from None
    return call


def _truthy(value: Value) -> bool:
    return not _is_empty(value) if not isinstance(value, bool) else value


def _infer(node: Node, prop_type: TypeLookup) -> str:
    kind = node[0]
    if kind == "lit":
        value = node[1]
        if isinstance(value, bool):
            return "boolean"
        return "string" if isinstance(value, str) else "number"
    if kind == "prop":
        return prop_type(node[1])
    if kind == "neg":
        return "number"
    if kind == "bin":
        op = node[1]
        if op in ("==", "!=", "<", ">", "<=", ">="):
            return "boolean"
        left, right = _infer(node[2], prop_type), _infer(node[3], prop_type)
        if op == "+" and "string" in (left, right):
            return "string"
        return "number"
    name, args = node[1], node[2]
    if name in ("if", "ifs"):
        branches = [args[1], args[2]] if name == "if" else [*args[1::2], args[-1]]
        types = [_infer(b, prop_type) for b in branches]
        known = [t for t in types if t != "unknown"]
        return known[0] if known else "unknown"
    if name in _LAZY:
        return _LAZY[name]
    return FUNCTIONS[name][1]


class Formula:
    """A parsed expression: :meth:`result_type` and :meth:`evaluate`."""

    def __init__(self, expression: str):
        if not isinstance(expression, str) or not expression.strip():
            raise FormulaError("a formula needs an expression")
        self.expression = expression
        self._ast = _Parser(expression).parse()
        self._run = _compile(self._ast)
        self.props = sorted(_prop_names(self._ast))
        #: (data source version, result type): inferring once per schema change.
        self.cached_type: tuple[int, str] | None = None

    def result_type(self, prop_type: TypeLookup) -> str:
        """``number``, ``string``, ``boolean`` or ``date`` (lists show as strings)."""
        inferred = _infer(self._ast, prop_type)
        return inferred if inferred in ("number", "string", "boolean", "date") else "string"

    def evaluate(self, prop: PropLookup, now: dt.datetime) -> Value:
        return self._run(prop, now)


def _prop_names(node: Node) -> set[str]:
    if node[0] == "prop":
        return {node[1]}
    found: set[str] = set()
    for child in node[1:]:
        if isinstance(child, tuple):
            found |= _prop_names(child)
        elif isinstance(child, list):
            for item in child:
                found |= _prop_names(item)
    return found


def result_json(value: Value, result_type: str) -> dict[str, Any]:
    """The ``formula`` object of a property value: ``{"type": T, T: value}``."""
    out: Any
    if result_type == "number":
        number = _number(value) if not isinstance(value, bool) else int(value)
        if isinstance(number, float) and (math.isnan(number) or math.isinf(number)):
            number = None
        out = int(number) if isinstance(number, float) and number.is_integer() and abs(
            number) < 2**53 else number
    elif result_type == "boolean":
        out = _truthy(value) if value is not None else False
    elif result_type == "date":
        if isinstance(value, dt.datetime):
            out = {"start": value.isoformat(timespec="milliseconds"), "end": None,
                   "time_zone": None}
        elif isinstance(value, dt.date):
            out = {"start": value.isoformat(), "end": None, "time_zone": None}
        else:
            out = None
    else:
        out = None if value is None or value == "" else format_value(value)
    return {"type": result_type, result_type: out}
