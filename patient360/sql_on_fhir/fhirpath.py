"""The SQL-on-FHIR FHIRPath subset: text -> a small AST (https://sql-on-fhir.org/ig/StructureDefinition-ViewDefinition.html).

Supported: member access, function calls (``where``, ``exists``, ``first``, ``ofType``, ...), indexers,
``%constant``, ``$this``, literals, ``and``/``or``, comparisons and arithmetic. Anything else is a
``FhirPathSyntaxError`` with the position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class FhirPathSyntaxError(ValueError):
    """The path is not in the supported FHIRPath subset."""


@dataclass(frozen=True)
class Literal:
    value: str | int | float | bool | None  # None: the empty collection ``{}``


@dataclass(frozen=True)
class Constant:
    name: str  # %name (``rowIndex`` included)


@dataclass(frozen=True)
class This:
    pass


@dataclass(frozen=True)
class Member:
    target: Node | None  # None: the current focus
    name: str


@dataclass(frozen=True)
class Call:
    target: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Index:
    target: Node
    index: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Negate:
    operand: Node


Node = Literal | Constant | This | Member | Call | Index | Binary | Negate

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>\d+(?:\.\d+)?)|(?P<const>%[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<this>\$this)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)|(?P<op><=|>=|!=|!~|[-+*/&=<>~().,\[\]{}|]))"
)
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# Binary operators by precedence, loosest first (FHIRPath spec §6 "Operator precedence").
_LEVELS: tuple[tuple[str, ...], ...] = (
    ("or", "xor"), ("and",), ("=", "!=", "~", "!~"), ("<", "<=", ">", ">="), ("|",), ("+", "-", "&"),
    ("*", "/", "div", "mod"),
)


def _unescape(quoted: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), quoted[1:-1])


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise FhirPathSyntaxError(f"unexpected character at position {position}: {text[position:position + 10]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            found = token[1] if token else "end of path"
            raise FhirPathSyntaxError(f"expected {value or 'more'}, found {found!r}")
        self.at += 1
        return token

    def binary(self, level: int = 0) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while (token := self.peek()) and token[0] in ("op", "ident") and token[1] in _LEVELS[level]:
            self.take()
            node = Binary(token[1], node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        if self.peek() == ("op", "-"):
            self.take()
            return Negate(self.postfix())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.term()
        while (token := self.peek()) and token[1] in (".", "["):
            self.take()
            if token[1] == "[":
                node = Index(node, self.binary())
                self.take("]")
            else:
                node = self.invocation(node)
        return node

    def term(self) -> Node:
        kind, value = self.take()
        if kind == "string":
            return Literal(_unescape(value))
        if kind == "number":
            return Literal(float(value) if "." in value else int(value))
        if kind == "const":
            return Constant(value[1:])
        if kind == "this":
            return This()
        if value == "(":
            node = self.binary()
            self.take(")")
            return node
        if value == "{":
            self.take("}")
            return Literal(None)
        if kind == "ident":
            if value in ("true", "false"):
                return Literal(value == "true")
            self.at -= 1
            return self.invocation(None)
        raise FhirPathSyntaxError(f"unexpected {value!r}")

    def invocation(self, target: Node | None) -> Node:
        kind, name = self.take()
        if kind != "ident":
            raise FhirPathSyntaxError(f"expected a name after '.', found {name!r}")
        name = name.strip("`")
        if self.peek() != ("op", "("):
            return Member(target, name)
        self.take("(")
        args: list[Node] = []
        while self.peek() != ("op", ")"):
            args.append(self.binary())
            if self.peek() == ("op", ","):
                self.take(",")
        self.take(")")
        return Call(target, name, tuple(args))


def parse(text: str) -> Node:
    """Parse one FHIRPath expression; raises ``FhirPathSyntaxError`` saying where it stopped."""
    if not isinstance(text, str) or not text.strip():
        raise FhirPathSyntaxError("a path must be a non-empty string")
    parser = _Parser(text)
    node = parser.binary()
    if parser.peek() is not None:
        raise FhirPathSyntaxError(f"unexpected {parser.peek()[1]!r} after a complete expression")  # type: ignore[index]
    return node
