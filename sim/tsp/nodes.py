"""The syntax tree the TSP parser builds and the interpreter walks.

Plain slotted dataclasses, one per construct of the supported Lua subset. Every node
keeps the source ``line`` it started on, for "TSP Runtime error at line N" messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


# ---------------------------------------------------------------------- expressions
@dataclass(slots=True)
class Expr:
    line: int


@dataclass(slots=True)
class Const(Expr):
    """nil, true, false, a number or a string."""

    value: object


@dataclass(slots=True)
class Vararg(Expr):
    """``...`` inside a vararg function."""


@dataclass(slots=True)
class Name(Expr):
    name: str


@dataclass(slots=True)
class Index(Expr):
    """``obj[key]``; ``obj.name`` is an Index with a constant string key."""

    obj: Expr
    key: Expr


@dataclass(slots=True)
class Call(Expr):
    func: Expr
    args: list[Expr]


@dataclass(slots=True)
class MethodCall(Expr):
    """``obj:name(args)``: ``obj.name(obj, args)`` with obj evaluated once."""

    obj: Expr
    name: str
    args: list[Expr]


@dataclass(slots=True)
class Function(Expr):
    params: list[str]
    is_vararg: bool
    body: Block
    name: str = "?"


@dataclass(slots=True)
class BinOp(Expr):
    """Arithmetic, comparison or concatenation (``op`` is the Lua symbol)."""

    op: str
    left: Expr
    right: Expr


@dataclass(slots=True)
class And(Expr):
    left: Expr
    right: Expr


@dataclass(slots=True)
class Or(Expr):
    left: Expr
    right: Expr


@dataclass(slots=True)
class UnOp(Expr):
    """``-x``, ``not x`` or ``#x``."""

    op: str
    operand: Expr


@dataclass(slots=True)
class Paren(Expr):
    """``(expr)``: cuts a multi-valued expression to its first value."""

    expr: Expr


@dataclass(slots=True)
class Table(Expr):
    """A table constructor: positional items and keyed items, in source order."""

    items: list[tuple[Expr | None, Expr]]  # (None, value) for positional items


# ---------------------------------------------------------------------- statements
@dataclass(slots=True)
class Stmt:
    line: int


@dataclass(slots=True)
class Block:
    stmts: list[Stmt] = field(default_factory=list)


@dataclass(slots=True)
class Local(Stmt):
    names: list[str]
    exprs: list[Expr]


@dataclass(slots=True)
class Assign(Stmt):
    targets: list[Expr]  # Name or Index
    exprs: list[Expr]


@dataclass(slots=True)
class CallStmt(Stmt):
    call: Expr  # Call or MethodCall


@dataclass(slots=True)
class Do(Stmt):
    body: Block


@dataclass(slots=True)
class While(Stmt):
    cond: Expr
    body: Block


@dataclass(slots=True)
class Repeat(Stmt):
    body: Block
    cond: Expr


@dataclass(slots=True)
class If(Stmt):
    branches: list[tuple[Expr, Block]]
    orelse: Block | None


@dataclass(slots=True)
class NumericFor(Stmt):
    var: str
    start: Expr
    stop: Expr
    step: Expr | None
    body: Block


@dataclass(slots=True)
class GenericFor(Stmt):
    names: list[str]
    exprs: list[Expr]
    body: Block


@dataclass(slots=True)
class FunctionStmt(Stmt):
    """``function a.b.c:m(...)``: assigns to ``target``; a method gains ``self``."""

    target: Expr
    func: Function


@dataclass(slots=True)
class LocalFunction(Stmt):
    name: str
    func: Function


@dataclass(slots=True)
class Return(Stmt):
    exprs: list[Expr]


@dataclass(slots=True)
class Break(Stmt):
    pass
