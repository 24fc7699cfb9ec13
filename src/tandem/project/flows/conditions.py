"""The predicate language of flow conditions (branch ``if``, flow guards, rejections).

Reproduces the reference's predicate semantics, quirks included:

* ``and`` and ``or`` share one precedence level and group to the right, so ``a and b or c``
  means ``a and (b or c)``; ``not`` binds tighter than both.
* An identifier that cannot be resolved in the document is ``UNDEFINED``, which is neither
  ``null`` nor any other value: ``slots.unknown is null`` is false.
* An unquoted word is always an identifier, so ``slots.x = card`` compares with ``UNDEFINED``.
* Numbers are floats; equality is Python's ``==`` (``true = 1`` holds, ``"150" = 150`` does not).
* Any error while evaluating (ordering incompatible types, a bad regex, ...) makes the whole
  condition false, even under ``not``.

Keywords and constants are matched case-insensitively (``False`` is the constant false).
Parsed predicates are cached by text: conditions are parsed once and evaluated every turn.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2


class ConditionError(ValueError):
    """A condition could not be parsed, rendered or evaluated."""


class ConditionSyntaxError(ConditionError):
    """A condition is not valid predicate syntax; ``position`` is the offending offset."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.message = message
        self.text = text
        self.position = position
        super().__init__(f"{message} at position {position} of condition {text!r}")


class _Sentinel:
    """``UNDEFINED`` and ``EMPTY``: falsy values that only compare equal by the rules below."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return self._name


UNDEFINED: Any = _Sentinel("UNDEFINED")
EMPTY: Any = _Sentinel("EMPTY")

_CONSTANTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "undefined": UNDEFINED,
    "empty": EMPTY,
}
_KEYWORDS = frozenset({"and", "or", "not", "is", "contains", "matches"})


# -- tokens -------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op>==|!=|>=|<=|=|>|<)
  | (?P<punct>[(){}])
  | (?P<word>[\w\-.:;]+)
    """,
    re.VERBOSE,
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string, number, word, keyword, op, punct, end
    value: Any
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            if text[position] in "'\"":
                raise ConditionSyntaxError("unterminated string", text, position)
            raise ConditionSyntaxError(f"unexpected character {text[position]!r}", text, position)
        kind, raw = match.lastgroup or "", match.group()
        if kind == "string":
            tokens.append(_Token("string", raw[1:-1], position))
        elif kind in ("op", "punct"):
            tokens.append(_Token(kind, raw, position))
        elif kind == "word":
            lowered = raw.lower()
            if _NUMBER.fullmatch(raw):
                tokens.append(_Token("number", float(raw), position))
            elif lowered in _KEYWORDS:
                tokens.append(_Token("keyword", lowered, position))
            elif lowered in _CONSTANTS:
                tokens.append(_Token("constant", _CONSTANTS[lowered], position))
            else:
                tokens.append(_Token("word", raw, position))
        position = match.end()
    tokens.append(_Token("end", None, len(text)))
    return tokens


# -- comparison semantics -------------------------------------------------------------------------


def _equal(left: Any, right: Any) -> bool:
    if left is UNDEFINED or right is UNDEFINED:
        other = right if left is UNDEFINED else left
        return other is UNDEFINED or other is EMPTY
    if left is EMPTY or right is EMPTY:
        other = right if left is EMPTY else left
        return other is EMPTY or _has_zero_length(other)
    return bool(left == right)


def _has_zero_length(value: Any) -> bool:
    try:
        return len(value) == 0
    except TypeError:
        return False


def _ordering(compare: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    def apply(left: Any, right: Any) -> bool:
        if isinstance(left, _Sentinel) or isinstance(right, _Sentinel):
            return False
        return bool(compare(left, right))  # TypeError for incompatible types is intended

    return apply


def _contains(left: Any, right: Any) -> bool:
    if not hasattr(left, "__contains__") or isinstance(left, _Sentinel):
        return False
    return right in left


def _matches(left: Any, right: Any) -> bool:
    if not isinstance(left, str):
        return False
    if not isinstance(right, str):
        raise TypeError(f"'matches' needs a string pattern, got {right!r}")
    return re.search(right, left) is not None


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": _equal,
    "==": _equal,
    "is": _equal,
    "!=": lambda left, right: not _equal(left, right),
    "is not": lambda left, right: not _equal(left, right),
    ">": _ordering(operator.gt),
    ">=": _ordering(operator.ge),
    "<": _ordering(operator.lt),
    "<=": _ordering(operator.le),
    "contains": _contains,
    "matches": _matches,
}


# -- syntax tree ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any

    def evaluate(self, document: Mapping[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class _Name:
    name: str

    def evaluate(self, document: Mapping[str, Any]) -> Any:
        value: Any = document
        for part in self.name.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return UNDEFINED
            value = value[part]
        return value


@dataclass(frozen=True, slots=True)
class _Set:
    items: tuple[Any, ...]

    def evaluate(self, document: Mapping[str, Any]) -> Any:
        return frozenset(item.evaluate(document) for item in self.items)


@dataclass(frozen=True, slots=True)
class _Compare:
    op: str
    left: Any
    right: Any

    def evaluate(self, document: Mapping[str, Any]) -> bool:
        return _OPERATORS[self.op](self.left.evaluate(document), self.right.evaluate(document))


@dataclass(frozen=True, slots=True)
class _Not:
    operand: Any

    def evaluate(self, document: Mapping[str, Any]) -> bool:
        return not self.operand.evaluate(document)


@dataclass(frozen=True, slots=True)
class _Logic:
    op: str  # "and" / "or"; both short-circuit
    left: Any
    right: Any

    def evaluate(self, document: Mapping[str, Any]) -> bool:
        left = bool(self.left.evaluate(document))
        if self.op == "and":
            return left and bool(self.right.evaluate(document))
        return left or bool(self.right.evaluate(document))


# -- parser ---------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over::

    expression := unary [("and" | "or") expression]     # one level, right-associative
    unary      := "not" unary | "(" expression ")" | factor [operator factor]
    factor     := string | number | constant | identifier | "{" factor* "}"
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.names: list[str] = []

    def parse(self) -> Any:
        if self.tokens[0].kind == "end":
            raise ConditionSyntaxError("empty condition", self.text, 0)
        tree = self.expression()
        if self.peek.kind != "end":
            raise self.error("unexpected " + self.describe(self.peek))
        return tree

    @property
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, kind: str, value: Any = None) -> bool:
        token = self.peek
        return token.kind == kind and (value is None or token.value == value)

    def error(self, message: str) -> ConditionSyntaxError:
        return ConditionSyntaxError(message, self.text, self.peek.position)

    @staticmethod
    def describe(token: _Token) -> str:
        if token.kind == "end":
            return "end of condition"
        if token.kind == "string":
            return f"string {token.value!r}"
        return repr(token.value) if token.kind != "keyword" else f"'{token.value}'"

    def expression(self) -> Any:
        left = self.unary()
        if self.at("keyword", "and") or self.at("keyword", "or"):
            op = self.take().value
            return _Logic(op, left, self.expression())
        return left

    def unary(self) -> Any:
        if self.at("keyword", "not"):
            self.take()
            return _Not(self.unary())
        if self.at("punct", "("):
            self.take()
            inner = self.expression()
            if not self.at("punct", ")"):
                raise self.error("expected ')' but found " + self.describe(self.peek))
            self.take()
            return inner
        left = self.factor()
        op = self.comparison_operator()
        if op is None:
            return left
        right = self.factor()
        if op == "matches" and isinstance(right, _Literal):
            self.check_pattern(right)
        return _Compare(op, left, right)

    def comparison_operator(self) -> str | None:
        token = self.peek
        if token.kind == "op":
            self.take()
            return str(token.value)
        if token.kind == "keyword" and token.value in ("is", "contains", "matches"):
            self.take()
            if token.value == "is" and self.at("keyword", "not"):
                self.take()
                return "is not"
            return str(token.value)
        return None

    def factor(self) -> Any:
        token = self.peek
        if token.kind in ("string", "number", "constant"):
            self.take()
            return _Literal(token.value)
        if token.kind == "word":
            self.take()
            self.names.append(token.value)
            return _Name(token.value)
        if self.at("punct", "{"):
            self.take()
            items = []
            while not self.at("punct", "}"):
                if self.at("end"):
                    raise self.error("expected '}' to close the set")
                items.append(self.factor())
            self.take()
            return _Set(tuple(items))
        raise self.error("expected a value but found " + self.describe(token))

    def check_pattern(self, pattern: _Literal) -> None:
        position = self.tokens[self.index - 1].position
        if not isinstance(pattern.value, str):
            raise ConditionSyntaxError("'matches' needs a quoted pattern", self.text, position)
        try:
            re.compile(pattern.value)
        except re.error as exc:
            raise ConditionSyntaxError(f"invalid regex ({exc})", self.text, position) from None


# -- public API -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Predicate:
    """A parsed condition. Build with ``Predicate.parse``."""

    text: str
    variables: tuple[str, ...]  # identifiers used, e.g. ("slots.amount", "context.collect")
    _tree: Any

    @staticmethod
    def parse(text: str) -> Predicate:
        """Parse ``text`` (cached); raises ``ConditionSyntaxError``."""
        return _parse(text)

    def evaluate(self, document: Mapping[str, Any]) -> bool:
        """Truth of the condition for ``document``; any evaluation error counts as false."""
        try:
            return bool(self._tree.evaluate(document))
        except Exception:
            return False

    def evaluate_strict(self, document: Mapping[str, Any]) -> bool:
        """Like ``evaluate`` but raises ``ConditionError`` where ``evaluate`` says false.

        Slot rejections need the difference: an error there selects the internal-error
        response instead of the rejection's own.
        """
        try:
            return bool(self._tree.evaluate(document))
        except Exception as exc:
            raise ConditionError(f"cannot evaluate condition {self.text!r}: {exc}") from exc


@lru_cache(maxsize=4096)
def _parse(text: str) -> Predicate:
    parser = _Parser(text)
    tree = parser.parse()
    return Predicate(text, tuple(dict.fromkeys(parser.names)), tree)


def evaluate_condition(text: str, document: Mapping[str, Any]) -> bool:
    """Parse and evaluate; a condition that does not parse is false, like one that fails."""
    try:
        return _parse(text).evaluate(document)
    except ConditionSyntaxError:
        return False


_JINJA = jinja2.Environment(autoescape=False)
_JINJA_MARKERS = ("{{", "{%", "{#")


def has_template(text: str) -> bool:
    """Whether ``text`` needs Jinja rendering (syntax can only be checked after rendering)."""
    return any(marker in text for marker in _JINJA_MARKERS)


@lru_cache(maxsize=1024)
def _template(text: str) -> jinja2.Template:
    return _JINJA.from_string(text)


def render_condition(
    text: str, context: Mapping[str, Any], *, slots: Mapping[str, Any] | None = None
) -> str:
    """Jinja-render a condition with ``{"context": context}`` before parsing it.

    Branch conditions are rendered with the stack context; rejection conditions are rendered
    with ``slots={<collected slot>: <value>}`` (and an empty context). Missing names render as
    empty text, as in plain Jinja. Template errors raise ``ConditionError``.
    """
    if not has_template(text):
        return text
    variables: dict[str, Any] = {"context": context}
    if slots is not None:
        variables["slots"] = slots
    try:
        return _template(text).render(variables)
    except jinja2.TemplateError as exc:
        raise ConditionError(f"cannot render condition {text!r}: {exc}") from exc
