"""Tokens of the TSP language (the Lua dialect of Keithley's Test Script Processor).

The lexer turns source text into :class:`Token` objects and reports malformed input as
:class:`~rramlab.sim.tsp.errors.TspSyntaxError` with Lua's wording ("unfinished string
near ...", "malformed number near ..."), which is what the 2600B puts in its error
queue. Numbers become Python floats: every TSP number is a double.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rramlab.sim.tsp.errors import TspSyntaxError

KEYWORDS = frozenset(
    "and break do else elseif end false for function if in local nil not or "
    "repeat return then true until while".split()
)

# Longest first, so ".." is not read as "." "." and "..." not as ".." ".".
SYMBOLS = (
    "...",
    "..",
    "==",
    "~=",
    "<=",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "#",
    "<",
    ">",
    "=",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ";",
    ":",
    ",",
    ".",
)

ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "\n": "\n",
}

EOF = "<eof>"


@dataclass(frozen=True, slots=True)
class Token:
    """One token. ``kind`` is "name", "number", "string", "eof", a keyword or a symbol
    (the keyword or symbol itself); ``text`` is how it appeared, for error messages."""

    kind: str
    value: object
    text: str
    line: int


def near(text: str) -> str:
    """Lua's quoting of a token in error messages: `text'."""
    return f"`{text}'"


def tokenize(source: str) -> list[Token]:
    """All tokens of ``source``, ending with an "eof" token. Malformed input ends the
    list with an "error" token carrying the TspSyntaxError: Lua reads tokens as it
    parses, so a parse error before that point must be the one reported."""
    lexer = _Lexer(source)
    try:
        return lexer.run()
    except TspSyntaxError as err:
        return [*lexer.tokens, Token("error", err, "", err.line), Token("eof", None, EOF, err.line)]


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.line = 1
        self.tokens: list[Token] = []

    def run(self) -> list[Token]:
        src = self.src
        n = len(src)
        while True:
            self._skip_space_and_comments()
            if self.pos >= n:
                self.tokens.append(Token("eof", None, EOF, self.line))
                return self.tokens
            c = src[self.pos]
            if c.isalpha() or c == "_":
                self._name()
            elif c.isdigit() or (c == "." and self.pos + 1 < n and src[self.pos + 1].isdigit()):
                self._number()
            elif c in "\"'":
                self._string(c)
            elif c == "[" and self._long_bracket_level() is not None:
                text = self._long_bracket()
                self.tokens.append(Token("string", text, text, self.line))
            else:
                self._symbol()

    # ------------------------------------------------------------------ pieces
    def _skip_space_and_comments(self) -> None:
        src = self.src
        n = len(src)
        while self.pos < n:
            c = src[self.pos]
            if c == "\n":
                self.line += 1
                self.pos += 1
            elif c.isspace():
                self.pos += 1
            elif src.startswith("--", self.pos):
                self.pos += 2
                if self.pos < n and src[self.pos] == "[" and self._long_bracket_level() is not None:
                    self._long_bracket()  # --[[ block comment ]]
                else:
                    end = src.find("\n", self.pos)
                    self.pos = n if end < 0 else end
            else:
                return

    def _name(self) -> None:
        src = self.src
        start = self.pos
        while self.pos < len(src) and (src[self.pos].isalnum() or src[self.pos] == "_"):
            self.pos += 1
        word = src[start : self.pos]
        if not word.isascii():
            raise TspSyntaxError(f"unexpected symbol near {near(word)}", self.line)
        kind = word if word in KEYWORDS else "name"
        self.tokens.append(Token(kind, word, word, self.line))

    def _number(self) -> None:
        src = self.src
        start = self.pos
        # Read what Lua reads as one numeral (digits, letters, dots, exponent signs),
        # then check it: "1e" or "3x" are malformed, not a number and a name.
        while self.pos < len(src):
            c = src[self.pos]
            if c.isalnum() or c in "._":
                self.pos += 1
            elif c in "+-" and src[self.pos - 1] in "eE" and not _is_hex(src[start : self.pos]):
                self.pos += 1
            else:
                break
        text = src[start : self.pos]
        value = parse_number(text)
        if value is None:
            raise TspSyntaxError(f"malformed number near {near(text)}", self.line)
        self.tokens.append(Token("number", value, text, self.line))

    def _string(self, quote: str) -> None:
        src = self.src
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(src) or src[self.pos] == "\n":
                raise TspSyntaxError(
                    f"unfinished string near {near(src[start : self.pos])}", self.line
                )
            c = src[self.pos]
            if c == quote:
                self.pos += 1
                break
            if c == "\\":
                self.pos += 1
                if self.pos >= len(src):
                    continue  # reported as unfinished on the next turn
                e = src[self.pos]
                if e in ESCAPES:
                    out.append(ESCAPES[e])
                    if e == "\n":
                        self.line += 1
                    self.pos += 1
                elif e.isdigit():
                    digits = e
                    self.pos += 1
                    while len(digits) < 3 and self.pos < len(src) and src[self.pos].isdigit():
                        digits += src[self.pos]
                        self.pos += 1
                    if int(digits) > 255:
                        raise TspSyntaxError(
                            f"escape sequence too large near {near(digits)}", self.line
                        )
                    out.append(chr(int(digits)))
                else:  # Lua 5.0 keeps an unknown escaped character as itself
                    out.append(e)
                    self.pos += 1
                continue
            out.append(c)
            self.pos += 1
        text = "".join(out)
        self.tokens.append(Token("string", text, src[start : self.pos], self.line))

    def _long_bracket_level(self) -> int | None:
        """Level of a long bracket ``[==[`` starting at pos, or None if there is none."""
        src = self.src
        p = self.pos + 1
        while p < len(src) and src[p] == "=":
            p += 1
        if p < len(src) and src[p] == "[":
            return p - self.pos - 1
        return None

    def _long_bracket(self) -> str:
        """Consume ``[[ ... ]]`` (any level) and return its content."""
        level = self._long_bracket_level() or 0
        src = self.src
        start_line = self.line
        self.pos += level + 2
        if src.startswith("\n", self.pos):  # a first newline is skipped, as in Lua
            self.pos += 1
            self.line += 1
        close = "]" + "=" * level + "]"
        end = src.find(close, self.pos)
        if end < 0:
            raise TspSyntaxError(f"unfinished long string near {near(EOF)}", start_line)
        text = src[self.pos : end]
        self.line += text.count("\n")
        self.pos = end + len(close)
        return text

    def _symbol(self) -> None:
        src = self.src
        for sym in SYMBOLS:
            if src.startswith(sym, self.pos):
                self.tokens.append(Token(sym, sym, sym, self.line))
                self.pos += len(sym)
                return
        raise TspSyntaxError(f"unexpected symbol near {near(src[self.pos])}", self.line)


def _is_hex(text: str) -> bool:
    return text[:2] in ("0x", "0X")


def parse_number(text: str) -> float | None:
    """A Lua numeral (decimal with optional exponent, or hex) as a float, else None."""
    text = text.strip()
    if not text or not text.isascii():
        return None
    body = text[1:] if text[0] in "+-" else text
    sign = -1.0 if text[0] == "-" else 1.0
    if _is_hex(body):
        digits = body[2:]
        if not digits or any(c not in "0123456789abcdefABCDEF" for c in digits):
            return None
        try:
            return sign * float(int(digits, 16))
        except OverflowError:  # beyond any double: Lua's strtod gives HUGE_VAL
            return sign * math.inf
    if not body or body[0] not in "0123456789.":
        return None  # refuses "inf", "nan" and friends, as Lua does
    if any(c not in "0123456789.eE+-" for c in body):
        return None
    try:
        return sign * float(body)
    except ValueError:
        return None
