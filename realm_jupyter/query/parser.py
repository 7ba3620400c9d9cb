"""Recursive-descent parser: tokens → AST, with Realm's precedence.

Precedence from loosest to tightest: ``OR``/``||``, ``AND``/``&&``, ``NOT``/``!``,
comparisons. Every error names what was expected and where.
"""

from __future__ import annotations

from ..errors import QuerySyntaxError
from .ast import (
    Aggregate,
    AggregateOp,
    And,
    Arg,
    Between,
    CompareOp,
    Comparison,
    Constant,
    Distinct,
    Expr,
    Limit,
    ListLiteral,
    Literal,
    LiteralKind,
    Modifier,
    Not,
    Or,
    Path,
    Predicate,
    Quantifier,
    Sort,
    SortKey,
)
from .tokens import Token, TokenType, tokenize

__all__ = ["parse_text"]

_SYMBOL_OPS = {"==": CompareOp.EQ, "=": CompareOp.EQ, "!=": CompareOp.NE, "<>": CompareOp.NE,
               "<": CompareOp.LT, "<=": CompareOp.LE, ">": CompareOp.GT, ">=": CompareOp.GE}
_WORD_OPS = {"BEGINSWITH": CompareOp.BEGINSWITH, "ENDSWITH": CompareOp.ENDSWITH,
             "CONTAINS": CompareOp.CONTAINS, "LIKE": CompareOp.LIKE, "IN": CompareOp.IN}
_QUANTIFIERS = {"ANY": Quantifier.ANY, "SOME": Quantifier.ANY, "ALL": Quantifier.ALL,
                "NONE": Quantifier.NONE}
_LITERAL_KEYWORDS = {"TRUE": (True, LiteralKind.BOOL), "FALSE": (False, LiteralKind.BOOL),
                     "NIL": (None, LiteralKind.NULL), "NULL": (None, LiteralKind.NULL)}
_UNSUPPORTED_AT = {"@links": "backlinks (@links)", "@type": "@type", "@keys": "@keys",
                   "@values": "@values"}
MAX_LIMIT = 2**63 - 1
#: How deeply parentheses and NOTs may nest (deeper text would exhaust Python's stack).
MAX_DEPTH = 100


def parse_text(text: str) -> tuple[Predicate, tuple[Modifier, ...]]:
    """Parse ``text`` into a predicate and its ``SORT``/``DISTINCT``/``LIMIT`` suffixes.

    Raises:
        QuerySyntaxError: the text is not a query.
    """
    if not isinstance(text, str):
        raise QuerySyntaxError(f"a query must be a string, not {type(text).__name__}")
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        # Tokens are read as the grammar asks for them, so the first error in reading
        # order is the one reported (``SUBQUERY(x, $x, ...)`` names SUBQUERY, not ``$x``).
        self.stream = tokenize(text)
        self.tokens: list[Token] = [next(self.stream)]
        self.index = 0
        self.depth = 0

    # ------------------------------------------------------------------ helpers

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def at(self, kind: TokenType) -> bool:
        """Is the current token of ``kind``? (A method, so checks do not narrow types.)"""
        return self.current.type is kind

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the query nests parentheses and NOT more than {MAX_DEPTH} "
                             "levels deep", token)

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.type is not TokenType.EOF:
            self.index += 1
            if self.index == len(self.tokens):
                self.tokens.append(next(self.stream))
        return token

    def error(self, message: str, at: Token | int | None = None) -> QuerySyntaxError:
        """A syntax error at a token (default: the current one) or a text offset."""
        position = at if isinstance(at, int) else (at or self.current).position
        return QuerySyntaxError(message, query=self.text, position=position)

    def expect(self, kind: TokenType, what: str) -> Token:
        if not self.at(kind):
            raise self.error(f"expected {what} but found {self.current.describe()}")
        return self.advance()

    def at_keyword(self, *words: str) -> bool:
        return self.current.is_keyword(*words)

    # ------------------------------------------------------------------ grammar

    def parse(self) -> tuple[Predicate, tuple[Modifier, ...]]:
        if self.at(TokenType.EOF):
            raise self.error("expected a query but found nothing "
                             "(use TRUEPREDICATE for all objects)")
        predicate = self.parse_or()
        modifiers: list[Modifier] = []
        while self.at_keyword("SORT", "DISTINCT", "LIMIT"):
            modifiers.append(self.parse_modifier())
        if not self.at(TokenType.EOF):
            if self.at(TokenType.RPAREN):
                raise self.error("unbalanced ')': no '(' to close")
            raise self.error("expected AND, OR or the end of the query but found "
                             f"{self.current.describe()}")
        return predicate, tuple(modifiers)

    def parse_or(self) -> Predicate:
        start = self.current.position
        operands = [self.parse_and()]
        while self.at_keyword("OR") or (self.current.type is TokenType.OPERATOR
                                        and self.current.text == "||"):
            self.advance()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands), position=start)

    def parse_and(self) -> Predicate:
        start = self.current.position
        operands = [self.parse_not()]
        while self.at_keyword("AND") or (self.current.type is TokenType.OPERATOR
                                         and self.current.text == "&&"):
            self.advance()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands), position=start)

    def parse_not(self) -> Predicate:
        token = self.current
        if token.is_keyword("NOT") or (token.type is TokenType.OPERATOR and token.text == "!"):
            self.advance()
            self.enter(token)
            operand = self.parse_not()
            self.depth -= 1
            return Not(operand, position=token.position)
        return self.parse_atom()

    def parse_atom(self) -> Predicate:
        token = self.current
        if token.type is TokenType.LPAREN:
            self.advance()
            self.enter(token)
            if self.at(TokenType.RPAREN):
                raise self.error("expected a condition inside '( )'")
            inner = self.parse_or()
            if not self.at(TokenType.RPAREN):
                raise self.error(f"expected ')' to close the '(' at column "
                                 f"{token.position + 1} but found {self.current.describe()}")
            self.advance()
            self.depth -= 1
            return inner
        if token.is_keyword("TRUEPREDICATE", "FALSEPREDICATE"):
            self.advance()
            return Constant(token.value == "TRUEPREDICATE", position=token.position)
        if token.is_keyword("SUBQUERY"):
            raise self.error("SUBQUERY is not supported")
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        start = self.current
        quantifier = None
        if start.type is TokenType.KEYWORD and start.value in _QUANTIFIERS:
            self.advance()
            quantifier = _QUANTIFIERS[start.value]
        left = self.parse_value("a property or value")
        token = self.current
        if token.is_keyword("BETWEEN"):
            self.advance()
            bounds = self.parse_value("'{low, high}' after BETWEEN")
            if not isinstance(bounds, ListLiteral) or len(bounds.items) != 2:
                raise self.error("BETWEEN needs exactly two values: BETWEEN {low, high}", token)
            return Between(left, bounds.items[0], bounds.items[1], quantifier,
                           position=start.position)
        op = self.parse_operator()
        case_insensitive = False
        if self.current.type is TokenType.MODIFIER:
            modifier = self.advance()
            if modifier.value != "c":
                raise self.error(f"unsupported modifier {modifier.text}: only [c] "
                                 "(case-insensitive) is supported", modifier)
            if op.is_ordering:
                raise self.error(f"[c] cannot be used with {op.value}", modifier)
            case_insensitive = True
        right = self.parse_value(f"a value after {token.text!r}")
        return Comparison(op, left, right, case_insensitive, quantifier, position=start.position)

    def parse_operator(self) -> CompareOp:
        token = self.current
        if token.type is TokenType.OPERATOR and token.text in _SYMBOL_OPS:
            self.advance()
            return _SYMBOL_OPS[token.text]
        if token.type is TokenType.KEYWORD and token.value in _WORD_OPS:
            self.advance()
            return _WORD_OPS[token.value]
        raise self.error("expected a comparison operator (==, !=, <, <=, >, >=, BEGINSWITH, "
                         f"ENDSWITH, CONTAINS, LIKE, IN, BETWEEN) but found {token.describe()}")

    def parse_value(self, what: str) -> Expr:
        token = self.current
        kind = token.type
        if kind is TokenType.IDENT:
            return self.parse_path()
        if kind is TokenType.NUMBER:
            self.advance()
            if token.value != token.value or abs(token.value) == float("inf"):
                raise self.error("number out of range", token)
            if isinstance(token.value, int) and not -(2**63) <= token.value < 2**63:
                raise self.error("integer out of the 64-bit range", token)
            literal_kind = LiteralKind.INT if isinstance(token.value, int) else LiteralKind.FLOAT
            return Literal(token.value, literal_kind, position=token.position)
        if kind is TokenType.STRING:
            self.advance()
            return Literal(token.value, LiteralKind.STRING, position=token.position)
        if kind is TokenType.DATE:
            self.advance()
            return Literal(token.value, LiteralKind.DATE, position=token.position)
        if kind is TokenType.OBJECT_ID:
            self.advance()
            return Literal(token.value, LiteralKind.OBJECT_ID, position=token.position)
        if kind is TokenType.UUID:
            self.advance()
            return Literal(token.value, LiteralKind.UUID, position=token.position)
        if kind is TokenType.ARG:
            self.advance()
            return Arg(token.value, position=token.position)
        if kind is TokenType.KEYWORD and token.value in _LITERAL_KEYWORDS:
            self.advance()
            value, literal_kind = _LITERAL_KEYWORDS[token.value]
            return Literal(value, literal_kind, position=token.position)
        if kind is TokenType.LBRACE:
            return self.parse_list()
        if kind is TokenType.KEYWORD:
            raise self.error(f"expected {what} but found the keyword {token.text!r} "
                             "(reserved words cannot name properties)")
        raise self.error(f"expected {what} but found {token.describe()}")

    def parse_list(self) -> ListLiteral:
        start = self.advance()
        items: list[Expr] = []
        if self.at(TokenType.RBRACE):
            self.advance()
            return ListLiteral((), position=start.position)
        while True:
            item = self.parse_value("a value in the list")
            if isinstance(item, ListLiteral):
                raise self.error("lists cannot be nested", item.position)
            items.append(item)
            if self.at(TokenType.COMMA):
                self.advance()
                continue
            if self.at(TokenType.RBRACE):
                self.advance()
                return ListLiteral(tuple(items), position=start.position)
            raise self.error("expected ',' or '}' in the list but found "
                             f"{self.current.describe()}")

    def parse_path(self) -> Path | Aggregate:
        first = self.advance()
        parts = [first.value]
        while self.current.type is TokenType.DOT:
            self.advance()
            token = self.current
            if token.type is TokenType.IDENT:
                parts.append(self.advance().value)
                continue
            if token.type is TokenType.AT_IDENT:
                return self.parse_aggregate(Path(tuple(parts), position=first.position))
            raise self.error(f"expected a property name after '.' but found {token.describe()}")
        return Path(tuple(parts), position=first.position)

    def parse_aggregate(self, path: Path) -> Aggregate:
        token = self.advance()
        if token.value in _UNSUPPORTED_AT:
            raise self.error(f"{_UNSUPPORTED_AT[token.value]} is not supported", token)
        try:
            op = AggregateOp(token.value)
        except ValueError:
            raise self.error(f"unknown aggregate {token.text} (expected @count, @size, @sum, "
                             "@avg, @min or @max)", token) from None
        field = None
        if op in (AggregateOp.SUM, AggregateOp.AVG, AggregateOp.MIN, AggregateOp.MAX) \
                and self.current.type is TokenType.DOT:
            self.advance()
            field = self.expect(TokenType.IDENT, f"a property name after {token.text}.").value
        if self.current.type is TokenType.DOT:
            raise self.error(f"nothing can follow {token.text}")
        return Aggregate(path, op, field, position=path.position)

    # ------------------------------------------------------------------ suffixes

    def parse_modifier(self) -> Modifier:
        token = self.advance()
        self.expect(TokenType.LPAREN, f"'(' after {token.value}")
        modifier: Modifier
        if token.value == "LIMIT":
            count = self.expect(TokenType.NUMBER, "a whole number in LIMIT(...)")
            if not isinstance(count.value, int) or not 0 <= count.value <= MAX_LIMIT:
                raise self.error("LIMIT needs a non-negative whole number", count)
            modifier = Limit(count.value, position=token.position)
        elif token.value == "SORT":
            keys = [self.parse_sort_key()]
            while self.current.type is TokenType.COMMA:
                self.advance()
                keys.append(self.parse_sort_key())
            modifier = Sort(tuple(keys), position=token.position)
        else:
            paths = [self.parse_plain_path("a property in DISTINCT(...)")]
            while self.current.type is TokenType.COMMA:
                self.advance()
                paths.append(self.parse_plain_path("a property in DISTINCT(...)"))
            modifier = Distinct(tuple(paths), position=token.position)
        self.expect(TokenType.RPAREN, f"')' to close {token.value}(")
        return modifier

    def parse_plain_path(self, what: str) -> Path:
        if self.current.type is not TokenType.IDENT:
            raise self.error(f"expected {what} but found {self.current.describe()}")
        path = self.parse_path()
        if not isinstance(path, Path):
            raise self.error("aggregates cannot be used here", path.position)
        return path

    def parse_sort_key(self) -> SortKey:
        path = self.parse_plain_path("a property in SORT(...)")
        ascending = True
        if self.at_keyword("ASC", "ASCENDING", "DESC", "DESCENDING"):
            ascending = self.advance().value in ("ASC", "ASCENDING")
        return SortKey(path, ascending, position=path.position)
