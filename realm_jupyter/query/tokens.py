"""Tokens of the Realm Query Language, with their positions for error messages."""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from ..errors import QuerySyntaxError

__all__ = ["KEYWORDS", "Token", "TokenType", "tokenize"]


class TokenType(enum.Enum):
    IDENT = "identifier"
    AT_IDENT = "@-name"
    KEYWORD = "keyword"
    NUMBER = "number"
    STRING = "string"
    DATE = "date"
    OBJECT_ID = "oid(...)"
    UUID = "uuid(...)"
    ARG = "argument"
    OPERATOR = "operator"
    MODIFIER = "modifier"
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACE = "'{'"
    RBRACE = "'}'"
    COMMA = "','"
    DOT = "'.'"
    EOF = "end of query"


#: Words with a meaning in the language (matched case-insensitively).
KEYWORDS = frozenset({
    "AND", "OR", "NOT", "IN", "BETWEEN", "BEGINSWITH", "ENDSWITH", "CONTAINS", "LIKE",
    "ANY", "SOME", "ALL", "NONE", "TRUEPREDICATE", "FALSEPREDICATE", "SORT", "DISTINCT",
    "LIMIT", "ASC", "ASCENDING", "DESC", "DESCENDING", "NIL", "NULL", "TRUE", "FALSE",
    "SUBQUERY",
})


@dataclass(frozen=True)
class Token:
    type: TokenType
    text: str
    position: int
    value: Any = None

    def is_keyword(self, *words: str) -> bool:
        return self.type is TokenType.KEYWORD and self.value in words

    def describe(self) -> str:
        if self.type is TokenType.EOF:
            return "the end of the query"
        return repr(self.text)


# re.ASCII: ``\d`` is 0-9 only (Unicode digits such as "²" or "٣" are not numbers here).
_DATE = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"[@T](?P<h>\d{1,2}):(?P<mi>\d{1,2}):(?P<s>\d{1,2})(?::(?P<ns>\d{1,9}))?", re.ASCII)
_EPOCH = re.compile(r"T(?P<sec>-?\d+):(?P<ns>-?\d+)", re.ASCII)
_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?", re.ASCII)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARG = re.compile(r"\$(\d+)", re.ASCII)
_OID = re.compile(r"oid\(\s*([0-9a-fA-F]{24})\s*\)")
_UUID = re.compile(r"uuid\(\s*([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12})\s*\)")
_MODIFIER = re.compile(r"\[\s*([A-Za-z]+)\s*\]")
_DIGITS = frozenset("0123456789")
_OPERATORS = ("==", "!=", "<>", "<=", ">=", "&&", "||", "=", "<", ">", "!")
_PUNCT = {"(": TokenType.LPAREN, ")": TokenType.RPAREN, "{": TokenType.LBRACE,
          "}": TokenType.RBRACE, ",": TokenType.COMMA, ".": TokenType.DOT}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0",
            "\\": "\\", "'": "'", '"': '"', "/": "/"}


def tokenize(text: str) -> Iterator[Token]:
    """Split ``text`` into tokens, ending with an EOF token.

    Raises:
        QuerySyntaxError: a character that starts no token, or an unterminated string.
    """
    pos = 0
    length = len(text)
    while True:
        while pos < length and text[pos].isspace():
            pos += 1
        if pos >= length:
            yield Token(TokenType.EOF, "", length)
            return
        char = text[pos]
        token = _date(text, pos) or _special(text, pos)
        if token is None:
            if char in "'\"":
                token = _string(text, pos)
            elif _starts_number(text, pos):
                token = _number(text, pos)
            elif char == "$":
                arg = _ARG.match(text, pos)
                if arg is None:
                    raise QuerySyntaxError("expected an argument number after '$' (like $0)",
                                           query=text, position=pos)
                token = Token(TokenType.ARG, arg.group(), pos, int(arg.group(1)))
            elif char == "@":
                name = _IDENT.match(text, pos + 1)
                if name is None:
                    raise QuerySyntaxError("expected a name after '@' (like @count)",
                                           query=text, position=pos)
                token = Token(TokenType.AT_IDENT, "@" + name.group(), pos,
                              "@" + name.group().lower())
            elif char == "[":
                modifier = _MODIFIER.match(text, pos)
                if modifier is None:
                    raise QuerySyntaxError("expected a modifier like [c]", query=text, position=pos)
                token = Token(TokenType.MODIFIER, modifier.group(), pos, modifier.group(1).lower())
            elif char in _PUNCT:
                token = Token(_PUNCT[char], char, pos)
            elif (ident := _IDENT.match(text, pos)) is not None:
                word = ident.group()
                if word.upper() in KEYWORDS:
                    token = Token(TokenType.KEYWORD, word, pos, word.upper())
                else:
                    token = Token(TokenType.IDENT, word, pos, word)
            else:
                operator = next((op for op in _OPERATORS if text.startswith(op, pos)), None)
                if operator is None:
                    if char in "+-*/":
                        raise QuerySyntaxError(
                            f"arithmetic ({char!r}) is not supported in queries",
                            query=text, position=pos)
                    raise QuerySyntaxError(f"unexpected character {char!r}", query=text,
                                           position=pos)
                token = Token(TokenType.OPERATOR, operator, pos, operator)
        yield token
        pos = token.position + len(token.text)


def _starts_number(text: str, pos: int) -> bool:
    if text[pos] == "-":
        pos += 1
    if pos >= len(text):
        return False
    if text[pos] in _DIGITS:
        return True
    return text[pos] == "." and pos + 1 < len(text) and text[pos + 1] in _DIGITS


def _number(text: str, start: int) -> Token:
    sign = -1 if text[start] == "-" else 1
    match = _NUMBER.match(text, start + (1 if sign < 0 else 0))
    assert match is not None
    raw = match.group()
    try:
        number: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
    except ValueError:  # more digits than Python converts
        raise QuerySyntaxError("number too long", query=text, position=start) from None
    return Token(TokenType.NUMBER, text[start : match.end()], start, sign * number)


def _string(text: str, start: int) -> Token:
    quote = text[start]
    pos = start + 1
    chars: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == quote:
            return Token(TokenType.STRING, text[start : pos + 1], start, "".join(chars))
        if char == "\\":
            if pos + 1 >= len(text):
                break
            escape = text[pos + 1]
            if escape == "u":
                digits = text[pos + 2 : pos + 6]
                if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                    raise QuerySyntaxError("expected four hex digits after \\u", query=text,
                                           position=pos)
                chars.append(chr(int(digits, 16)))
                pos += 6
                continue
            if escape not in _ESCAPES:
                raise QuerySyntaxError(f"unknown escape \\{escape} in string", query=text,
                                       position=pos)
            chars.append(_ESCAPES[escape])
            pos += 2
            continue
        chars.append(char)
        pos += 1
    raise QuerySyntaxError("unterminated string: expected a closing " + quote, query=text,
                           position=start)


def _date(text: str, pos: int) -> Token | None:
    match = _DATE.match(text, pos)
    if match is not None:
        groups = match.groupdict()
        nanos = (groups["ns"] or "0")
        try:
            value = dt.datetime(int(groups["y"]), int(groups["mo"]), int(groups["d"]),
                                int(groups["h"]), int(groups["mi"]), int(groups["s"]),
                                int(nanos) // 1000, tzinfo=dt.UTC)
        except ValueError as error:
            raise QuerySyntaxError(f"invalid date: {error}", query=text, position=pos) from None
        return Token(TokenType.DATE, match.group(), pos, value)
    if text.startswith("T", pos):
        epoch = _EPOCH.match(text, pos)
        if epoch is not None and not _continues_ident(text, epoch.end()):
            seconds, nanos = int(epoch.group("sec")), int(epoch.group("ns"))
            try:
                value = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
                    seconds=seconds, microseconds=nanos // 1000)
            except OverflowError:
                raise QuerySyntaxError("date out of range", query=text, position=pos) from None
            return Token(TokenType.DATE, epoch.group(), pos, value)
    return None


def _continues_ident(text: str, pos: int) -> bool:
    return pos < len(text) and (text[pos] in _DIGITS or text[pos] == "_"
                                or ("a" <= text[pos].lower() <= "z"))


def _special(text: str, pos: int) -> Token | None:
    if text.startswith("oid(", pos):
        match = _OID.match(text, pos)
        if match is None:
            raise QuerySyntaxError("expected oid(<24 hex digits>)", query=text, position=pos)
        return Token(TokenType.OBJECT_ID, match.group(), pos, ObjectId(match.group(1)))
    if text.startswith("uuid(", pos):
        match = _UUID.match(text, pos)
        if match is None:
            raise QuerySyntaxError("expected uuid(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                                   query=text, position=pos)
        return Token(TokenType.UUID, match.group(), pos, uuid.UUID(match.group(1)))
    return None
