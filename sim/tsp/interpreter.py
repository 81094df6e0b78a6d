"""Evaluates TSP syntax trees: a small, guarded Lua interpreter.

Nothing here evaluates text as Python. Values are the Lua values of
:mod:`~rramlab.sim.tsp.values`; the instrument is reached only through host objects
and host functions (:mod:`~rramlab.sim.tsp.objects`), which expose what they register
by name and nothing else.

Guards, so a script cannot hang or exhaust the server that runs it:

- an instruction budget per run (``max_steps``): every statement, loop iteration and
  call costs a step, a host call ``HOST_CALL_STEPS``; running out is a run-time error;
- a call depth limit (``max_call_depth``), reported as Lua's "stack overflow";
- table and string size caps (:mod:`~rramlab.sim.tsp.values`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rramlab.sim.tsp import nodes as n
from rramlab.sim.tsp.errors import BudgetExceeded, TspCommandError, TspRuntimeError
from rramlab.sim.tsp.lexer import near
from rramlab.sim.tsp.objects import HostFunction, HostObject
from rramlab.sim.tsp.operators import arith, compare, lua_equal
from rramlab.sim.tsp.strlib import STRING_CHARS_PER_STEP  # concatenation costs by length
from rramlab.sim.tsp.values import (
    LuaFunction,
    LuaTable,
    check_string,
    number_to_string,
    to_number,
    truthy,
    type_name,
)

DEFAULT_MAX_STEPS = 1_000_000
HOST_CALL_STEPS = 10  # a host call does more work than a statement
# Each Lua call level takes ~10 Python frames; 64 levels stay well inside Python's
# default recursion limit of 1000 (a deeper recursion is reported as a stack overflow).
DEFAULT_MAX_CALL_DEPTH = 64


class HostIterator(HostFunction):
    """A host iterator function (``next``, the one ``ipairs`` returns) that a generic
    ``for`` can run natively: ``iterate(state, control)`` yields each step's values."""

    __slots__ = ("iterate",)

    def __init__(
        self,
        name: str,
        fn: Callable[[list[object]], object],
        iterate: Callable[[object, object], Iterator[list[object]]],
    ) -> None:
        super().__init__(name, fn)
        self.iterate = iterate


class Scope:
    """Local variables of one block; ``parent`` is the enclosing block."""

    __slots__ = ("parent", "vars")

    def __init__(self, parent: Scope | None) -> None:
        self.vars: dict[str, object] = {}
        self.parent = parent


class _Break(Exception):
    pass


class _Return(Exception):
    def __init__(self, values: list[object]) -> None:
        self.values = values


def _norm(value: object) -> object:
    """Host code may hand back Python ints; TSP numbers are floats."""
    if type(value) is int:
        return float(value)
    return value


class Interpreter:
    """Runs chunks against one global table.

    ``on_statement`` is called after every statement (the instrument charges the
    time of the commands the statement issued); ``on_command_error`` receives the
    :class:`TspCommandError` a statement raised, after which execution continues.
    """

    def __init__(
        self,
        globals_table: LuaTable,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        max_call_depth: int = DEFAULT_MAX_CALL_DEPTH,
        on_statement: Callable[[], None] | None = None,
        on_command_error: Callable[[TspCommandError], None] | None = None,
    ) -> None:
        self.globals = globals_table
        self.max_steps = max_steps
        self.max_call_depth = max_call_depth
        self.on_statement = on_statement
        self.on_command_error = on_command_error
        self.steps = 0
        self.depth = 0
        self._exec = {
            n.Local: self._exec_local,
            n.Assign: self._exec_assign,
            n.CallStmt: self._exec_call,
            n.Do: self._exec_do,
            n.While: self._exec_while,
            n.Repeat: self._exec_repeat,
            n.If: self._exec_if,
            n.NumericFor: self._exec_numeric_for,
            n.GenericFor: self._exec_generic_for,
            n.FunctionStmt: self._exec_function,
            n.LocalFunction: self._exec_local_function,
            n.Return: self._exec_return,
            n.Break: self._exec_break,
        }
        self._eval = {
            n.Const: self._eval_const,
            n.Name: self._eval_name,
            n.Index: self._eval_index,
            n.Call: self._eval_call_first,
            n.MethodCall: self._eval_call_first,
            n.Vararg: self._eval_vararg_first,
            n.Function: self._eval_function,
            n.BinOp: self._eval_binop,
            n.And: self._eval_and,
            n.Or: self._eval_or,
            n.UnOp: self._eval_unop,
            n.Paren: self._eval_paren,
            n.Table: self._eval_table,
        }

    # ------------------------------------------------------------------ entry points
    def run(self, chunk: n.Block, *, reset_budget: bool = True) -> list[object]:
        """Run a parsed chunk; returns what it returns. Raises TspRuntimeError (with
        ``line`` set) when it stops on a run-time error or the budget."""
        if reset_budget:
            self.steps = 0
        self.depth = 0
        try:
            self._exec_block(chunk, Scope(None))
        except _Return as r:
            return r.values
        except RecursionError:
            raise TspRuntimeError("stack overflow") from None
        return []

    def run_nested(self, chunk: n.Block) -> list[object]:
        """Run a chunk from inside a running one (a named script called by name):
        the budget and call depth carry on."""
        if self.depth >= self.max_call_depth:
            raise TspRuntimeError("stack overflow")
        self.depth += 1
        try:
            self._exec_block(chunk, Scope(None))
        except _Return as r:
            return r.values
        finally:
            self.depth -= 1
        return []

    def call(self, fn: object, args: list[object]) -> list[object]:
        """Call a TSP function value from host code (factory scripts, named scripts)."""
        return self._call_value(fn, args, "function")

    def charge(self, steps: int) -> None:
        """Spend ``steps`` of the budget (host work that loops internally)."""
        self.steps += steps
        if self.steps > self.max_steps:
            raise BudgetExceeded(
                f"instruction budget of {self.max_steps} steps exhausted "
                "(the simulator stops runaway scripts)"
            )

    # ------------------------------------------------------------------ statements
    def _exec_block(self, block: n.Block, scope: Scope) -> None:
        execs = self._exec
        hook = self.on_statement
        for stmt in block.stmts:
            try:
                self.steps += 1
                if self.steps > self.max_steps:
                    self.charge(0)
                execs[type(stmt)](stmt, scope)
                if hook is not None:
                    hook()  # the statement is done: the instrument charges its time
            except TspRuntimeError as e:
                if e.line is None:
                    e.line = stmt.line
                raise
            except TspCommandError as e:
                if self.on_command_error is None:
                    raise
                self.on_command_error(e)  # queued; the script goes on
                if hook is not None:
                    hook()
            except (_Break, _Return):
                if hook is not None:
                    hook()
                raise
            except RecursionError:
                raise TspRuntimeError("stack overflow", stmt.line) from None
            except Exception as e:  # host code refused (e.g. the model's voltage cap)
                raise TspRuntimeError(f"simulator error: {e}", stmt.line) from e

    def _exec_local(self, stmt: n.Local, scope: Scope) -> None:
        values = self._eval_list(stmt.exprs, scope)
        vars_ = scope.vars
        for i, name in enumerate(stmt.names):
            vars_[name] = values[i] if i < len(values) else None

    def _exec_assign(self, stmt: n.Assign, scope: Scope) -> None:
        targets = stmt.targets
        if len(targets) == 1 and len(stmt.exprs) == 1:
            target = targets[0]
            if isinstance(target, n.Name):
                self._assign_name(target.name, self._ev(stmt.exprs[0], scope), scope)
            else:
                obj = self._ev(target.obj, scope)
                key = self._ev(target.key, scope)
                self._set_index(obj, key, self._ev(stmt.exprs[0], scope), target, scope)
            return
        # Evaluate every target's table and key, then every value, then assign.
        places: list[tuple[object, object] | None] = []
        for target in targets:
            if isinstance(target, n.Name):
                places.append(None)
            else:
                places.append((self._ev(target.obj, scope), self._ev(target.key, scope)))
        values = self._eval_list(stmt.exprs, scope)
        for i, target in enumerate(targets):
            value = values[i] if i < len(values) else None
            place = places[i]
            if place is None:
                assert isinstance(target, n.Name)
                self._assign_name(target.name, value, scope)
            else:
                self._set_index(place[0], place[1], value, target, scope)

    def _exec_call(self, stmt: n.CallStmt, scope: Scope) -> None:
        self._eval_call(stmt.call, scope)

    def _exec_do(self, stmt: n.Do, scope: Scope) -> None:
        self._exec_block(stmt.body, Scope(scope))

    def _exec_while(self, stmt: n.While, scope: Scope) -> None:
        while truthy(self._ev(stmt.cond, scope)):
            self._tick()
            try:
                self._exec_block(stmt.body, Scope(scope))
            except _Break:
                break

    def _exec_repeat(self, stmt: n.Repeat, scope: Scope) -> None:
        while True:
            self._tick()
            inner = Scope(scope)  # `until` sees the body's locals
            try:
                self._exec_block(stmt.body, inner)
            except _Break:
                break
            if truthy(self._ev(stmt.cond, inner)):
                break

    def _exec_if(self, stmt: n.If, scope: Scope) -> None:
        for cond, block in stmt.branches:
            if truthy(self._ev(cond, scope)):
                self._exec_block(block, Scope(scope))
                return
        if stmt.orelse is not None:
            self._exec_block(stmt.orelse, Scope(scope))

    def _exec_numeric_for(self, stmt: n.NumericFor, scope: Scope) -> None:
        start = to_number(self._ev(stmt.start, scope))
        stop = to_number(self._ev(stmt.stop, scope))
        step = 1.0 if stmt.step is None else to_number(self._ev(stmt.step, scope))
        for value, what in ((start, "initial value"), (stop, "limit"), (step, "step")):
            if value is None:
                raise TspRuntimeError(f"`for' {what} must be a number")
        assert start is not None and stop is not None and step is not None
        i = start
        while (i <= stop) if step > 0 else (i >= stop):
            self._tick()
            inner = Scope(scope)  # a fresh variable per iteration, as closures expect
            inner.vars[stmt.var] = i
            try:
                self._exec_block(stmt.body, inner)
            except _Break:
                break
            i += step

    def _exec_generic_for(self, stmt: n.GenericFor, scope: Scope) -> None:
        values = self._eval_list(stmt.exprs, scope)
        f = values[0] if values else None
        state = values[1] if len(values) > 1 else None
        control = values[2] if len(values) > 2 else None
        if isinstance(f, HostIterator):
            steps: Iterator[list[object]] = f.iterate(state, control)
        else:
            steps = self._generic_steps(f, state, control)
        for step_values in steps:
            self._tick()
            inner = Scope(scope)
            for i, name in enumerate(stmt.names):
                inner.vars[name] = step_values[i] if i < len(step_values) else None
            try:
                self._exec_block(stmt.body, inner)
            except _Break:
                break

    def _generic_steps(self, f: object, state: object, control: object) -> Iterator[list[object]]:
        while True:
            out = self._call_value(f, [state, control], "`for' iterator")
            if not out or out[0] is None:
                return
            control = out[0]
            yield out

    def _exec_function(self, stmt: n.FunctionStmt, scope: Scope) -> None:
        closure = LuaFunction(stmt.func, scope)
        target = stmt.target
        if isinstance(target, n.Name):
            self._assign_name(target.name, closure, scope)
        else:
            assert isinstance(target, n.Index)
            obj = self._ev(target.obj, scope)
            self._set_index(obj, self._ev(target.key, scope), closure, target, scope)

    def _exec_local_function(self, stmt: n.LocalFunction, scope: Scope) -> None:
        scope.vars[stmt.name] = None  # visible inside its own body: recursion works
        scope.vars[stmt.name] = LuaFunction(stmt.func, scope)

    def _exec_return(self, stmt: n.Return, scope: Scope) -> None:
        raise _Return(self._eval_list(stmt.exprs, scope))

    def _exec_break(self, stmt: n.Break, scope: Scope) -> None:
        raise _Break()

    def _tick(self) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            self.charge(0)

    # ------------------------------------------------------------------ variables
    def _lookup(self, name: str, scope: Scope | None) -> object:
        while scope is not None:
            vars_ = scope.vars
            if name in vars_:
                return vars_[name]
            scope = scope.parent
        return self.globals.get(name)

    def _is_local(self, name: str, scope: Scope | None) -> bool:
        while scope is not None:
            if name in scope.vars:
                return True
            scope = scope.parent
        return False

    def _assign_name(self, name: str, value: object, scope: Scope | None) -> None:
        s = scope
        while s is not None:
            if name in s.vars:
                s.vars[name] = value
                return
            s = s.parent
        self.globals.set(name, value)

    def _describe(self, expr: n.Expr, scope: Scope) -> str:
        """How Lua names an operand in error messages: global `x', field `y', ..."""
        if isinstance(expr, n.Name):
            kind = "local" if self._is_local(expr.name, scope) else "global"
            return f"{kind} {near(expr.name)}"
        if isinstance(expr, n.Index) and isinstance(expr.key, n.Const):
            if isinstance(expr.key.value, str):
                return f"field {near(expr.key.value)}"
        if isinstance(expr, n.MethodCall):
            return f"method {near(expr.name)}"
        return ""

    def _operand_error(self, what: str, expr: n.Expr, value: object, scope: Scope) -> Exception:
        described = self._describe(expr, scope)
        if described:
            return TspRuntimeError(f"attempt to {what} {described} (a {type_name(value)} value)")
        return TspRuntimeError(f"attempt to {what} a {type_name(value)} value")

    # ------------------------------------------------------------------ tables
    def _get_index(self, obj: object, key: object, expr: n.Index, scope: Scope) -> object:
        if isinstance(obj, LuaTable):
            return obj.get(key)
        if isinstance(obj, HostObject):
            return _norm(obj.tsp_get(key))
        raise self._operand_error("index", expr.obj, obj, scope)

    def _set_index(
        self, obj: object, key: object, value: object, expr: n.Index, scope: Scope
    ) -> None:
        if isinstance(obj, LuaTable):
            obj.set(key, value)
        elif isinstance(obj, HostObject):
            obj.tsp_set(key, value)
        else:
            raise self._operand_error("index", expr.obj, obj, scope)

    # ------------------------------------------------------------------ calls
    def _call_value(self, fn: object, args: list[object], described: str) -> list[object]:
        if isinstance(fn, LuaFunction):
            return self._call_lua(fn, args)
        if isinstance(fn, HostFunction):
            self.charge(HOST_CALL_STEPS)
            return [_norm(v) for v in fn.call(args)]
        if isinstance(fn, HostObject) and fn.callable:  # e.g. a named script: `name()`
            self.charge(HOST_CALL_STEPS)
            return [_norm(v) for v in fn.tsp_call(args)]
        if described:
            raise TspRuntimeError(f"attempt to call {described} (a {type_name(fn)} value)")
        raise TspRuntimeError(f"attempt to call a {type_name(fn)} value")

    def _call_lua(self, fn: LuaFunction, args: list[object]) -> list[object]:
        self._tick()
        if self.depth >= self.max_call_depth:
            raise TspRuntimeError("stack overflow")
        self.depth += 1
        try:
            func = fn.func
            inner = Scope(fn.scope)  # type: ignore[arg-type]
            vars_ = inner.vars
            params = func.params
            for i, name in enumerate(params):
                vars_[name] = args[i] if i < len(args) else None
            if func.is_vararg:
                vars_["..."] = args[len(params) :]  # not a valid name: cannot clash
            try:
                self._exec_block(func.body, inner)
            except _Return as r:
                return r.values
            return []
        finally:
            self.depth -= 1

    def _eval_call(self, expr: n.Expr, scope: Scope) -> list[object]:
        if isinstance(expr, n.MethodCall):
            obj = self._ev(expr.obj, scope)
            if isinstance(obj, LuaTable):
                fn = obj.get(expr.name)
            elif isinstance(obj, HostObject):
                fn = obj.tsp_get(expr.name)
            else:
                raise self._operand_error("index", expr.obj, obj, scope)
            args = [obj, *self._eval_list(expr.args, scope)]
            return self._call_value(fn, args, f"method {near(expr.name)}")
        assert isinstance(expr, n.Call)
        fn = self._ev(expr.func, scope)
        args = self._eval_list(expr.args, scope)
        if isinstance(fn, (LuaFunction, HostFunction)):
            return self._call_value(fn, args, "")
        return self._call_value(fn, args, self._describe(expr.func, scope))

    # ------------------------------------------------------------------ expressions
    def _ev(self, expr: n.Expr, scope: Scope) -> object:
        return self._eval[type(expr)](expr, scope)

    def _eval_list(self, exprs: list[n.Expr], scope: Scope) -> list[object]:
        """Values of an expression list: each expression gives one value, except the
        last, which gives all of a call's results (or all varargs)."""
        if not exprs:
            return []
        values = [self._ev(e, scope) for e in exprs[:-1]]
        last = exprs[-1]
        if isinstance(last, (n.Call, n.MethodCall)):
            values.extend(self._eval_call(last, scope))
        elif isinstance(last, n.Vararg):
            values.extend(self._varargs(scope))
        else:
            values.append(self._ev(last, scope))
        return values

    def _eval_const(self, expr: n.Const, scope: Scope) -> object:
        return expr.value

    def _eval_name(self, expr: n.Name, scope: Scope) -> object:
        return self._lookup(expr.name, scope)

    def _eval_index(self, expr: n.Index, scope: Scope) -> object:
        obj = self._ev(expr.obj, scope)
        return self._get_index(obj, self._ev(expr.key, scope), expr, scope)

    def _eval_call_first(self, expr: n.Expr, scope: Scope) -> object:
        values = self._eval_call(expr, scope)
        return values[0] if values else None

    def _varargs(self, scope: Scope) -> list[object]:
        found = self._lookup("...", scope)
        return list(found) if isinstance(found, list) else []

    def _eval_vararg_first(self, expr: n.Vararg, scope: Scope) -> object:
        values = self._varargs(scope)
        return values[0] if values else None

    def _eval_function(self, expr: n.Function, scope: Scope) -> object:
        return LuaFunction(expr, scope)

    def _eval_paren(self, expr: n.Paren, scope: Scope) -> object:
        return self._ev(expr.expr, scope)

    def _eval_and(self, expr: n.And, scope: Scope) -> object:
        left = self._ev(expr.left, scope)
        return self._ev(expr.right, scope) if truthy(left) else left

    def _eval_or(self, expr: n.Or, scope: Scope) -> object:
        left = self._ev(expr.left, scope)
        return left if truthy(left) else self._ev(expr.right, scope)

    def _eval_unop(self, expr: n.UnOp, scope: Scope) -> object:
        value = self._ev(expr.operand, scope)
        op = expr.op
        if op == "not":
            return not truthy(value)
        if op == "-":
            x = to_number(value)
            if x is None:
                raise self._operand_error("perform arithmetic on", expr.operand, value, scope)
            return -x
        if isinstance(value, str):
            return float(len(value))
        if isinstance(value, LuaTable):
            return float(value.length())
        if isinstance(value, HostObject):
            return float(value.tsp_len())
        raise self._operand_error("get length of", expr.operand, value, scope)

    def _eval_binop(self, expr: n.BinOp, scope: Scope) -> object:
        a = self._ev(expr.left, scope)
        b = self._ev(expr.right, scope)
        op = expr.op
        if op == "..":
            return self._concat(a, b, expr, scope)
        if op == "==":
            return lua_equal(a, b)
        if op == "~=":
            return not lua_equal(a, b)
        if op in ("<", "<=", ">", ">="):
            return compare(op, a, b)
        x = a if type(a) is float else to_number(a)
        y = b if type(b) is float else to_number(b)
        if x is None:
            raise self._operand_error("perform arithmetic on", expr.left, a, scope)
        if y is None:
            raise self._operand_error("perform arithmetic on", expr.right, b, scope)
        return arith(op, x, y)

    def _concat(self, a: object, b: object, expr: n.BinOp, scope: Scope) -> str:
        parts = []
        for value, operand in ((a, expr.left), (b, expr.right)):
            if isinstance(value, str):
                parts.append(value)
            elif isinstance(value, float):
                parts.append(number_to_string(value))
            else:
                raise self._operand_error("concatenate", operand, value, scope)
        text = check_string(parts[0] + parts[1])
        self.charge(len(text) // STRING_CHARS_PER_STEP)
        return text

    def _eval_table(self, expr: n.Table, scope: Scope) -> LuaTable:
        table = LuaTable()
        position = 1
        last = len(expr.items) - 1
        for i, (key_expr, value_expr) in enumerate(expr.items):
            if key_expr is not None:
                table.set(self._ev(key_expr, scope), self._ev(value_expr, scope))
            elif i == last and isinstance(value_expr, (n.Call, n.MethodCall, n.Vararg)):
                for value in self._eval_list([value_expr], scope):
                    table.set(float(position), value)
                    position += 1
            else:
                table.set(float(position), self._ev(value_expr, scope))
                position += 1
        return table
