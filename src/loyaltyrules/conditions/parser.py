"""Recursive-descent parser for the condition language (a CEL subset).

Precedence, lowest first: `?:`, `||`, `&&`, comparisons and `in` (not chained),
`+ -`, `* / %`, unary `! -`, then literals, fact paths, calls and parentheses.
"""

from __future__ import annotations

from .ast import (
    Binary,
    BoolLit,
    Call,
    DecimalLit,
    DurationLit,
    IntLit,
    ListLit,
    Node,
    NullLit,
    Path,
    StringLit,
    Ternary,
    Unary,
    depth,
)
from .errors import ExprError
from .lexer import Token, tokenize

MAX_DEPTH = 64
RELATIONS = {"==", "!=", "<", "<=", ">", ">=", "in"}
ADDITIVE = {"+", "-"}
MULTIPLICATIVE = {"*", "/", "%"}


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.nesting = 0

    # -- token helpers -------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.index]

    def _is(self, text: str) -> bool:
        tok = self.tok
        return tok.kind in ("op", "keyword") and tok.text == text

    def _advance(self) -> Token:
        tok = self.tok
        if tok.kind != "eof":
            self.index += 1
        return tok

    def _expect(self, text: str, what: str) -> Token:
        if not self._is(text):
            self._fail(f"expected {text!r} {what}")
        return self._advance()

    def _fail(self, message: str, suggestion: str | None = None) -> None:
        tok = self.tok
        found = "end of expression" if tok.kind == "eof" else repr(tok.text)
        end = tok.end if tok.kind == "eof" else max(tok.end, tok.start + 1)
        raise ExprError("expr.syntax", f"{message}, found {found}", tok.start, end, suggestion)

    def _enter(self, start: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise ExprError(
                "expr.too-deep",
                f"expression is nested more than {MAX_DEPTH} levels deep",
                start,
                start + 1,
                "split the condition into several conditions",
            )

    # -- grammar -------------------------------------------------------------
    def parse(self) -> Node:
        if self.tok.kind == "eof":
            raise ExprError("expr.syntax", "empty expression", 0, len(self.text))
        node = self._expr()
        if self.tok.kind != "eof":
            self._fail("unexpected text after the end of the expression")
        level, deepest = depth(node)
        if level > MAX_DEPTH:
            raise ExprError(
                "expr.too-deep",
                f"expression is nested more than {MAX_DEPTH} levels deep",
                deepest.start,
                deepest.end,
                "split the condition into several conditions",
            )
        return node

    def _expr(self) -> Node:
        self._enter(self.tok.start)
        test = self._or()
        if self._is("?"):
            self._advance()
            then = self._expr()
            self._expect(":", "in a conditional expression 'c ? a : b'")
            other = self._expr()
            test = Ternary(test, then, other, test.start, other.end)
        self.nesting -= 1
        return test

    def _or(self) -> Node:
        node = self._and()
        while self._is("||"):
            self._advance()
            right = self._and()
            node = Binary("||", node, right, node.start, right.end)
        return node

    def _and(self) -> Node:
        node = self._relation()
        while self._is("&&"):
            self._advance()
            right = self._relation()
            node = Binary("&&", node, right, node.start, right.end)
        return node

    def _relation(self) -> Node:
        node = self._additive()
        if self.tok.text in RELATIONS and self.tok.kind in ("op", "keyword"):
            op = self._advance().text
            right = self._additive()
            node = Binary(op, node, right, node.start, right.end)
            if self.tok.text in RELATIONS and self.tok.kind in ("op", "keyword"):
                self._fail("comparisons cannot be chained", "join two comparisons with '&&'")
        return node

    def _additive(self) -> Node:
        node = self._multiplicative()
        while self.tok.kind == "op" and self.tok.text in ADDITIVE:
            op = self._advance().text
            right = self._multiplicative()
            node = Binary(op, node, right, node.start, right.end)
        return node

    def _multiplicative(self) -> Node:
        node = self._unary()
        while self.tok.kind == "op" and self.tok.text in MULTIPLICATIVE:
            op = self._advance().text
            right = self._unary()
            node = Binary(op, node, right, node.start, right.end)
        return node

    def _unary(self) -> Node:
        if not (self._is("!") or self._is("-")):
            return self._postfix()
        tok = self._advance()
        self._enter(tok.start)
        operand = self._unary()
        self.nesting -= 1
        if tok.text == "-":
            folded = _negate_literal(operand, tok.start)
            if folded is not None:
                return folded
        return Unary(tok.text, operand, tok.start, operand.end)

    def _postfix(self) -> Node:
        node = self._primary()
        if self._is("("):
            self._fail(
                "only plain function names can be called",
                "write f(x) rather than x.f(); methods on values are not supported",
            )
        if self._is("["):
            self._fail("indexing is not supported")
        if self._is("."):
            self._fail("fields can only be read from fact paths such as customer.tier")
        return node

    def _primary(self) -> Node:
        tok = self.tok
        if tok.kind in ("int", "decimal", "string", "duration"):
            self._advance()
            return _literal(tok)
        if tok.kind == "keyword" and tok.text != "in":
            self._advance()
            if tok.text == "null":
                return NullLit(tok.start, tok.end)
            return BoolLit(tok.text == "true", tok.start, tok.end)
        if tok.kind == "ident":
            return self._path_or_call()
        if self._is("("):
            self._advance()
            node = self._expr()
            self._expect(")", "to close '('")
            return node
        if self._is("["):
            return self._list()
        self._fail("expected a value")
        raise AssertionError("unreachable")

    def _path_or_call(self) -> Node:
        first = self._advance()
        parts = [first.text]
        end = first.end
        while self._is("."):
            self._advance()
            if self.tok.kind != "ident":
                self._fail("expected a field name after '.'")
            name = self._advance()
            parts.append(name.text)
            end = name.end
        if self._is("(") and len(parts) == 1:
            return self._call(first)
        return Path(".".join(parts), first.start, end)

    def _call(self, name: Token) -> Node:
        self._advance()  # "("
        args: list[Node] = []
        if not self._is(")"):
            args.append(self._expr())
            while self._is(","):
                self._advance()
                args.append(self._expr())
        close = self._expect(")", f"to close the call of {name.text}()")
        return Call(name.text, tuple(args), name.start, close.end)

    def _list(self) -> Node:
        open_ = self._advance()
        items: list[Node] = []
        while not self._is("]"):
            items.append(self._expr())
            if not self._is(","):
                break
            self._advance()
        close = self._expect("]", "to close the list")
        return ListLit(tuple(items), open_.start, close.end)


def _literal(tok: Token) -> Node:
    value = tok.value
    if tok.kind == "string":
        assert isinstance(value, str)
        return StringLit(value, tok.start, tok.end)
    if tok.kind == "duration":
        assert isinstance(value, int)
        return DurationLit(value, tok.start, tok.end)
    if tok.kind == "decimal":
        return DecimalLit(tok.value, tok.start, tok.end)  # type: ignore[arg-type]
    assert isinstance(value, int)
    return IntLit(value, tok.start, tok.end)


def _negate_literal(node: Node, start: int) -> Node | None:
    """`-5`, `-2.5` and `-3d` are literals, so later stages see plain constants."""
    if isinstance(node, IntLit):
        return IntLit(-node.value, start, node.end)
    if isinstance(node, DecimalLit):
        return DecimalLit(-node.value, start, node.end)
    if isinstance(node, DurationLit):
        return DurationLit(-node.days, start, node.end)
    return None


def parse(text: str) -> Node:
    """Parse an expression; raises ExprError on the first syntax problem."""
    return Parser(text).parse()
