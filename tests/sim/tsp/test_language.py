"""The Lua subset of the TSP interpreter: each test runs TSP source on a bare session
and checks what it prints (tostring keeps numbers exact, print shows 2600B format)."""

import pytest

from rramlab.clock import VirtualClock
from rramlab.sim.tsp.session import TspSession


def run(*messages: str) -> list[str]:
    """Run messages on a fresh session; return the replies (failing on any error)."""
    session = TspSession("test", "TEST,IDN", VirtualClock())
    for message in messages:
        session.write(message)
    assert session.errors.entries() == []
    return [r for r in iter(session.read, None)]


def value(expression: str) -> str:
    """``tostring`` of a TSP expression (Lua's %.14g for numbers)."""
    (reply,) = run(f"print(tostring({expression}))")
    return reply


# --- expressions --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("2 ^ 3 ^ 2", "512"),  # right-associative
        ("-2 ^ 2", "-4"),  # ^ binds tighter than unary minus
        ("7 % 3", "1"),
        ("-7 % 3", "2"),  # Lua's floored modulo
        ("7 / 2", "3.5"),
        ("1e-3 * 1e3", "1"),
        ("0x10 + 1", "17"),
        ("2.5e2", "250"),
        ("'10' + 5", "15"),  # numeric strings coerce in arithmetic
        ("1 / 0", "inf"),
        ("-1 / 0", "-inf"),
        ("1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 4", "false"),
        ("1 == 1 and 'a' ~= 'b' and 1 ~= '1'", "true"),  # no coercion in ==
        ("nil or false", "false"),
        ("nil and 1", "nil"),
        ("false or 'x'", "x"),
        ("1 and 2", "2"),
        ("not nil", "true"),
        ("not 0", "false"),  # 0 is true in Lua
        ("'a' < 'b'", "true"),
        ("#'hello'", "5"),
        ("#{1, 2, 3}", "3"),
    ],
)
def test_expressions_follow_lua_precedence_and_semantics(expression, expected):
    assert value(expression) == expected


def test_strings_escapes_and_concatenation():
    assert run(r'print("a\tb" .. "\n" == "a\tb\n", "x" .. 1 .. 2.5, #"\65\066")') == [
        "true\tx12.5\t2.00000e+00"
    ]
    assert value("'say \"hi\"'") == 'say "hi"'
    assert value("[[a [long] string]]") == "a [long] string"


def test_string_library():
    assert run(
        "print(string.format('%5.2f|%d|%s|%x|%e', 3.14159, 42, 'x', 255, 1e-6))",
        "print(string.sub('hello', 2, -2), string.upper('ab'), string.rep('ab', 3))",
        "print(string.len('abc'), string.find('hello', 'll'))",
    ) == [
        " 3.14|42|x|ff|1.000000e-06",
        "ell\tAB\tababab",
        "3.00000e+00\t3.00000e+00\t4.00000e+00",
    ]


def test_math_library():
    assert run("print(math.abs(-2), math.floor(2.7), math.max(1, 5, 3), math.min(4, 2))") == [
        "2.00000e+00\t2.00000e+00\t5.00000e+00\t2.00000e+00"
    ]
    assert value("math.sqrt(16)") == "4"
    assert value("math.sqrt(-1) ~= math.sqrt(-1)") == "true"  # nan, no exception


# --- tables ---------------------------------------------------------------------------
def test_tables_constructors_indexing_and_length():
    assert run(
        "t = {10, 20, 30; x = 'a', ['y z'] = 'b', [5] = 50}",
        "print(t[1], t[3], t.x, t['y z'], t[5], #t)",
        "t[4] = 40 t.x = nil print(#t, t.x)",
        "u = {} for i = 1, 100 do u[#u + 1] = i * i end print(#u, u[100])",
        "nested = {a = {b = {c = 'deep'}}} print(nested.a.b.c, nested['a'].b['c'])",
    ) == [
        "1.00000e+01\t3.00000e+01\ta\tb\t5.00000e+01\t3.00000e+00",
        "5.00000e+00\tnil",
        "1.00000e+02\t1.00000e+04",
        "deep\tdeep",
    ]


def test_booleans_and_numbers_are_distinct_table_keys():
    assert run("t = {} t[true] = 'T' t[1] = 'one' print(t[true], t[1], t['1'])") == ["T\tone\tnil"]


def test_table_library_and_iteration():
    assert run(
        "t = {} table.insert(t, 'a') table.insert(t, 'c') table.insert(t, 2, 'b')",
        "print(table.concat(t, ','), table.getn(t), table.remove(t), #t)",
        "s = 0 for i, v in ipairs({5, 6, 7}) do s = s + i * v end print(s)",
        "n = 0 for k, v in pairs({a = 1, b = 2, 3}) do n = n + v end print(n)",
        "print(unpack({1, 2}))",
    ) == [
        "a,b,c\t3.00000e+00\tc\t2.00000e+00",
        "3.80000e+01",  # 1*5 + 2*6 + 3*7
        "6.00000e+00",
        "1.00000e+00\t2.00000e+00",
    ]


# --- statements ---------------------------------------------------------------------
def test_multiple_assignment_evaluates_before_assigning():
    assert run("a, b, c = 1, 2 print(a, b, c)", "a, b = b, a print(a, b)") == [
        "1.00000e+00\t2.00000e+00\tnil",
        "2.00000e+00\t1.00000e+00",
    ]


def test_locals_shadow_globals_and_end_with_their_block():
    assert run(
        "x = 'global' do local x = 'inner' print(x) end print(x)",
        "local y = 1 if true then local y = 2 end print(y)",
    ) == ["inner", "global", "1.00000e+00"]


def test_if_elseif_else():
    src = (
        "function sign(x) if x > 0 then return 1 elseif x < 0 then return -1 else return 0 end end"
    )
    assert run(src, "print(sign(5), sign(-2), sign(0))") == [
        "1.00000e+00\t-1.00000e+00\t0.00000e+00"
    ]


def test_loops_numeric_for_while_repeat_and_break():
    assert run(
        "s = 0 for i = 1, 10 do s = s + i end print(s)",
        "s = 0 for i = 10, 1, -2 do s = s + i end print(s)",  # 10 8 6 4 2
        "n = 0 while n < 5 do n = n + 1 end print(n)",
        "n = 0 repeat local m = n + 1 n = m until m >= 3 print(n)",  # until sees locals
        "for i = 1, 100 do if i == 4 then break end last = i end print(last)",
        "for i = 1, 0 do never = true end print(never)",
    ) == ["5.50000e+01", "3.00000e+01", "5.00000e+00", "3.00000e+00", "3.00000e+00", "nil"]


def test_functions_closures_varargs_and_multiple_returns():
    assert run(
        "function add(a, b) return a + b end print(add(2, 3))",
        "local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end"
        " print(fib(15))",
        "function counter() local c = 0 return function() c = c + 1 return c end end"
        " k = counter() k() print(k())",
        "function two() return 1, 2 end t = {two(), two()} print(#t, (two()))",
        "function count(...) return select('#', ...) end print(count(1, nil, 3))",
        "fs = {} for i = 1, 3 do fs[i] = function() return i end end print(fs[1](), fs[3]())",
        "obj = {n = 5} function obj:get(k) return self.n * k end print(obj:get(2))",
    ) == [
        "5.00000e+00",
        "6.10000e+02",
        "2.00000e+00",
        "3.00000e+00\t1.00000e+00",
        "3.00000e+00",
        "1.00000e+00\t3.00000e+00",
        "1.00000e+01",
    ]


def test_comments_and_separators():
    assert run(
        "x = 1 -- a line comment",
        "--[[ a block comment ]] y = 2; z = 3",
        "print(x, y, z) -- done",
    ) == ["1.00000e+00\t2.00000e+00\t3.00000e+00"]


def test_pcall_catches_runtime_errors():
    assert run("ok, msg = pcall(function() error('boom') end) print(ok, msg)") == ["false\tboom"]
    assert run("print(pcall(function(a) return a * 2 end, 21))") == ["true\t4.20000e+01"]


# --- print formatting ---------------------------------------------------------------
def test_print_formats_numbers_like_the_2600b():
    assert run("print(1e-6, 1, -2.5, 0)") == ["1.00000e-06\t1.00000e+00\t-2.50000e+00\t0.00000e+00"]
    assert run("print('text', nil, true, false)") == ["text\tnil\ttrue\tfalse"]
    assert run("format.asciiprecision = 3 print(3.14159)", "print(format.asciiprecision)") == [
        "3.14e+00",
        "3.00e+00",
    ]
    assert run("print()") == [""]
    table_line = run("t = {} print(t, t)")[0].split("\t")
    assert table_line[0] == table_line[1] and table_line[0].startswith("table: 0x")


def test_printnumber_and_printbuffer_of_tables_use_comma_space():
    assert run("printnumber(1, 2.5)", "printbuffer(1, 3, {1, 2, 3, 4}, {5, 6, 7, 8})") == [
        "1.00000e+00, 2.50000e+00",
        "1.00000e+00, 5.00000e+00, 2.00000e+00, 6.00000e+00, 3.00000e+00, 7.00000e+00",
    ]
    # Indices are clamped to the data: printbuffer(0, 99, t) prints what is there.
    assert run("printbuffer(0, 99, {1, 2})") == ["1.00000e+00, 2.00000e+00"]
