"""Recursive-descent parser for the TSP (Lua) subset: source text in, syntax tree out.

Grammar and operator priorities follow Lua; errors carry Lua's wording ("unexpected
symbol near `*'", "`=' expected near `<eof>'", "`end' expected near ...") because
drivers match on what the 2600B reports. Nesting is limited (``MAX_DEPTH``) so a
hostile chunk cannot exhaust the Python stack.
"""

from __future__ import annotations

from rramlab.sim.tsp import nodes as n
from rramlab.sim.tsp.errors import TspSyntaxError
from rramlab.sim.tsp.lexer import Token, near, tokenize

MAX_DEPTH = 100  # nested blocks, parentheses and table constructors ("syntax levels")

# Binary operators: (left priority, right priority), as in Lua 5.1; a right priority
# below the left one makes the operator right-associative ("..", "^").
BINARY = {
    "or": (1, 1),
    "and": (2, 2),
    "<": (3, 3),
    ">": (3, 3),
    "<=": (3, 3),
    ">=": (3, 3),
    "~=": (3, 3),
    "==": (3, 3),
    "..": (5, 4),
    "+": (6, 6),
    "-": (6, 6),
    "*": (7, 7),
    "/": (7, 7),
    "%": (7, 7),
    "^": (10, 9),
}
UNARY_PRIORITY = 8
BLOCK_END = frozenset(("end", "else", "elseif", "until", "eof"))


def parse(source: str) -> n.Block:
    """The syntax tree of a chunk; raises TspSyntaxError."""
    return _Parser(tokenize(source)).chunk()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.vararg_ok = [True]  # the main chunk is a vararg function in Lua
        self.loops = [0]  # enclosing loops, per function being parsed (for `break`)

    # ------------------------------------------------------------------ helpers
    @property
    def tok(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind == "error":  # the lexer stopped here: its error comes now
            assert isinstance(tok.value, TspSyntaxError)
            raise tok.value
        return tok

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tok
        if tok.kind != "eof":
            self.i += 1
        return tok

    def check(self, kind: str) -> bool:
        return self.tok.kind == kind

    def accept(self, kind: str) -> bool:
        if self.tok.kind == kind:
            self.advance()
            return True
        return False

    def error(self, message: str, tok: Token | None = None) -> TspSyntaxError:
        tok = tok or self.tok
        return TspSyntaxError(f"{message} near {near(tok.text)}", tok.line)

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            raise self.error(f"{near(kind)} expected")
        return self.advance()

    def expect_match(self, kind: str, opener: str, line: int) -> None:
        """Like Lua's check_match: name the opener when it is on another line."""
        if self.tok.kind == kind:
            self.advance()
            return
        if line == self.tok.line:
            raise self.error(f"{near(kind)} expected")
        raise self.error(f"{near(kind)} expected (to close {near(opener)} at line {line})")

    def name(self) -> str:
        if self.tok.kind != "name":
            raise self.error("<name> expected")
        return str(self.advance().value)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("chunk has too many syntax levels")

    def leave(self) -> None:
        self.depth -= 1

    # ------------------------------------------------------------------ blocks
    def chunk(self) -> n.Block:
        block = self.block()
        if not self.check("eof"):
            raise self.error("`<eof>' expected")
        return block

    def block(self) -> n.Block:
        self.enter()
        stmts: list[n.Stmt] = []
        while self.tok.kind not in BLOCK_END:
            if self.check("return"):
                stmts.append(self.return_stmt())
                break  # return must be the last statement of a block
            if self.check("break"):
                if not self.loops[-1]:
                    raise self.error("no loop to break")
                stmts.append(n.Break(self.advance().line))
                self.accept(";")
                break
            stmts.append(self.statement())
            self.accept(";")
        self.leave()
        return n.Block(stmts)

    def loop_block(self) -> n.Block:
        self.loops[-1] += 1
        body = self.block()
        self.loops[-1] -= 1
        return body

    def return_stmt(self) -> n.Return:
        line = self.advance().line
        exprs: list[n.Expr] = []
        if self.tok.kind not in BLOCK_END and not self.check(";"):
            exprs = self.exprlist()
        self.accept(";")
        return n.Return(line, exprs)

    # ------------------------------------------------------------------ statements
    def statement(self) -> n.Stmt:
        tok = self.tok
        kind = tok.kind
        if kind == "if":
            return self.if_stmt()
        if kind == "while":
            self.advance()
            cond = self.expr()
            self.expect("do")
            body = self.loop_block()
            self.expect_match("end", "while", tok.line)
            return n.While(tok.line, cond, body)
        if kind == "do":
            self.advance()
            body = self.block()
            self.expect_match("end", "do", tok.line)
            return n.Do(tok.line, body)
        if kind == "for":
            return self.for_stmt()
        if kind == "repeat":
            self.advance()
            body = self.loop_block()
            self.expect_match("until", "repeat", tok.line)
            return n.Repeat(tok.line, body, self.expr())
        if kind == "function":
            return self.function_stmt()
        if kind == "local":
            self.advance()
            if self.accept("function"):
                name = self.name()
                return n.LocalFunction(tok.line, name, self.funcbody(tok.line, name, False))
            names = [self.name()]
            while self.accept(","):
                names.append(self.name())
            exprs = self.exprlist() if self.accept("=") else []
            return n.Local(tok.line, names, exprs)
        return self.expr_stmt()

    def if_stmt(self) -> n.If:
        line = self.advance().line
        branches = [(self.expr(), self._then_block())]
        orelse = None
        while True:
            if self.accept("elseif"):
                branches.append((self.expr(), self._then_block()))
            elif self.accept("else"):
                orelse = self.block()
                self.expect_match("end", "if", line)
                break
            else:
                self.expect_match("end", "if", line)
                break
        return n.If(line, branches, orelse)

    def _then_block(self) -> n.Block:
        self.expect("then")
        return self.block()

    def for_stmt(self) -> n.Stmt:
        line = self.advance().line
        first = self.name()
        if self.accept("="):
            start = self.expr()
            self.expect(",")
            stop = self.expr()
            step = self.expr() if self.accept(",") else None
            self.expect("do")
            body = self.loop_block()
            self.expect_match("end", "for", line)
            return n.NumericFor(line, first, start, stop, step, body)
        names = [first]
        while self.accept(","):
            names.append(self.name())
        if not self.check("in"):
            raise self.error("`=' or `in' expected")
        self.advance()
        exprs = self.exprlist()
        self.expect("do")
        body = self.loop_block()
        self.expect_match("end", "for", line)
        return n.GenericFor(line, names, exprs, body)

    def function_stmt(self) -> n.FunctionStmt:
        line = self.advance().line
        path = self.name()
        target: n.Expr = n.Name(line, path)
        is_method = False
        while self.check(".") or self.check(":"):
            is_method = self.advance().kind == ":"
            key = self.name()
            path += (":" if is_method else ".") + key
            target = n.Index(line, target, n.Const(line, key))
            if is_method:
                break
        return n.FunctionStmt(line, target, self.funcbody(line, path, is_method))

    def expr_stmt(self) -> n.Stmt:
        tok = self.tok
        first = self.suffixed_expr()
        if self.check("=") or self.check(","):
            targets = [first]
            while self.accept(","):
                targets.append(self.suffixed_expr())
            for target in targets:
                if not isinstance(target, (n.Name, n.Index)):
                    raise self.error("syntax error")
            self.expect("=")
            return n.Assign(tok.line, targets, self.exprlist())
        if isinstance(first, (n.Call, n.MethodCall)):
            return n.CallStmt(tok.line, first)
        raise self.error("`=' expected")

    # ------------------------------------------------------------------ functions
    def funcbody(self, line: int, name: str, is_method: bool) -> n.Function:
        self.enter()
        params = ["self"] if is_method else []
        is_vararg = False
        self.expect("(")
        if not self.check(")"):
            while True:
                if self.accept("..."):
                    is_vararg = True
                    break
                params.append(self.name())
                if not self.accept(","):
                    break
        self.expect(")")
        self.vararg_ok.append(is_vararg)
        self.loops.append(0)
        body = self.block()
        self.loops.pop()
        self.vararg_ok.pop()
        self.expect_match("end", "function", line)
        self.leave()
        return n.Function(line, params, is_vararg, body, name)

    # ------------------------------------------------------------------ expressions
    def exprlist(self) -> list[n.Expr]:
        exprs = [self.expr()]
        while self.accept(","):
            exprs.append(self.expr())
        return exprs

    def expr(self, limit: int = 0) -> n.Expr:
        self.enter()
        tok = self.tok
        if tok.kind in ("not", "-", "#"):
            self.advance()
            operand = self.expr(UNARY_PRIORITY)
            left: n.Expr = _fold_unary(tok, operand)
        else:
            left = self.simple_expr()
        while self.tok.kind in BINARY and BINARY[self.tok.kind][0] > limit:
            op = self.advance()
            right = self.expr(BINARY[op.kind][1])
            if op.kind == "and":
                left = n.And(op.line, left, right)
            elif op.kind == "or":
                left = n.Or(op.line, left, right)
            else:
                left = n.BinOp(op.line, op.kind, left, right)
        self.leave()
        return left

    def simple_expr(self) -> n.Expr:
        tok = self.tok
        kind = tok.kind
        if kind in ("number", "string"):
            self.advance()
            return n.Const(tok.line, tok.value)
        if kind == "nil":
            self.advance()
            return n.Const(tok.line, None)
        if kind == "true":
            self.advance()
            return n.Const(tok.line, True)
        if kind == "false":
            self.advance()
            return n.Const(tok.line, False)
        if kind == "...":
            if not self.vararg_ok[-1]:
                raise self.error("cannot use `...' outside a vararg function")
            self.advance()
            return n.Vararg(tok.line)
        if kind == "{":
            return self.table()
        if kind == "function":
            self.advance()
            return self.funcbody(tok.line, "anonymous", False)
        return self.suffixed_expr()

    def primary_expr(self) -> n.Expr:
        tok = self.tok
        if tok.kind == "name":
            self.advance()
            return n.Name(tok.line, str(tok.value))
        if tok.kind == "(":
            self.advance()
            inner = self.expr()
            self.expect_match(")", "(", tok.line)
            return n.Paren(tok.line, inner)
        raise self.error("unexpected symbol")

    def suffixed_expr(self) -> n.Expr:
        expr = self.primary_expr()
        while True:
            tok = self.tok
            kind = tok.kind
            if kind == ".":
                self.advance()
                expr = n.Index(tok.line, expr, n.Const(tok.line, self.name()))
            elif kind == "[":
                self.advance()
                key = self.expr()
                self.expect("]")
                expr = n.Index(tok.line, expr, key)
            elif kind == ":":
                self.advance()
                method = self.name()
                expr = n.MethodCall(tok.line, expr, method, self.call_args())
            elif kind in ("(", "string", "{"):
                expr = n.Call(tok.line, expr, self.call_args())
            else:
                return expr

    def call_args(self) -> list[n.Expr]:
        tok = self.tok
        if tok.kind == "string":
            self.advance()
            return [n.Const(tok.line, tok.value)]
        if tok.kind == "{":
            return [self.table()]
        if tok.kind != "(":
            raise self.error("function arguments expected")
        self.advance()
        if self.accept(")"):
            return []
        args = self.exprlist()
        self.expect_match(")", "(", tok.line)
        return args

    def table(self) -> n.Table:
        line = self.expect("{").line
        self.enter()
        items: list[tuple[n.Expr | None, n.Expr]] = []
        while not self.check("}"):
            if self.check("name") and self.peek().kind == "=":
                key = n.Const(self.tok.line, self.name())
                self.advance()  # "="
                items.append((key, self.expr()))
            elif self.check("["):
                self.advance()
                key_expr = self.expr()
                self.expect("]")
                self.expect("=")
                items.append((key_expr, self.expr()))
            else:
                items.append((None, self.expr()))
            if not (self.accept(",") or self.accept(";")):
                break
        self.expect_match("}", "{", line)
        self.leave()
        return n.Table(line, items)


def _fold_unary(tok: Token, operand: n.Expr) -> n.Expr:
    """``-<number>`` becomes a constant, so ``-1e-6`` costs nothing at run time."""
    if tok.kind == "-" and isinstance(operand, n.Const) and isinstance(operand.value, float):
        return n.Const(tok.line, -operand.value)
    return n.UnOp(tok.line, tok.kind, operand)
