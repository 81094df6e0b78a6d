"""A TSP instrument's message layer: program messages in, printed replies out.

:class:`TspSession` implements :class:`~rramlab.sim.message.MessageInstrument`. Each
message is one line: an IEEE 488.2 common command (``*IDN?``, ``*RST``, ``*CLS``,
``*OPC?``, ``*WAI``, ...), a ``loadscript``/``loadandrunscript`` ... ``endscript``
line, or a TSP chunk that is parsed and run at once. ``print`` output is queued for
``read``. Errors never escape: they go to ``errorqueue`` with 2600B codes, and the next
message is served as usual.

The personality (e.g. the Keithley 2636B) adds its objects to :attr:`globals`, its
reset to :attr:`reset_hooks`, and charges instrument time through ``on_statement``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable

from rramlab.clock import Clock
from rramlab.sim.tsp import errors as e
from rramlab.sim.tsp import nodes, stdlib
from rramlab.sim.tsp.interpreter import DEFAULT_MAX_STEPS, Interpreter
from rramlab.sim.tsp.objects import HostFunction, HostObject, setting_number
from rramlab.sim.tsp.output import FormatSettings, Printer
from rramlab.sim.tsp.parser import parse
from rramlab.sim.tsp.values import LuaTable

MAX_LINE_CHARS = 64 * 1024  # longer program messages are refused (-363)
MAX_SCRIPT_CHARS = 1 << 20  # a script being loaded
MAX_OUTPUT_MESSAGES = 10_000  # unread replies kept
MAX_OUTPUT_CHARS = 16 << 20  # and their total size
_SCRIPT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_REGISTER = re.compile(r"[0-9]{1,3}")  # an 8-bit register value (not isdigit(): "²")


class ScriptObject(HostObject):
    """A loaded script: ``name()`` or ``name.run()`` runs it."""

    callable = True

    def __init__(self, session: TspSession, name: str, source: str, chunk: nodes.Block):
        super().__init__(name or "script.anonymous")
        self.session = session
        self.chunk = chunk
        self.const("name", name)
        self.const("source", source)
        self.function("run", lambda args: self.run())
        self.function("save", lambda args: None)  # nonvolatile memory is not simulated

    def run(self) -> tuple[object, ...]:
        return tuple(self.session.interp.run_nested(self.chunk))

    def tsp_call(self, args: list[object]) -> list[object]:
        return list(self.run())


class TspSession:
    """Messages, scripts, output queue and error queue of one TSP instrument."""

    def __init__(
        self,
        name: str,
        identity: str,
        clock: Clock,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self.name = name
        self.identity = identity
        self.clock = clock
        self.errors = e.ErrorQueue()
        self.globals = LuaTable()
        self.interp = Interpreter(
            self.globals,
            max_steps=max_steps,
            on_statement=self._statement_done,
            on_command_error=self._command_error,
        )
        self.on_statement: Callable[[], None] | None = None
        self.reset_hooks: list[Callable[[], None]] = []
        self.prompts = 0
        self._output: deque[str] = deque()
        self._output_chars = 0
        self._script: list[str] | None = None  # lines of a script being loaded
        self._script_name = ""
        self._script_run = False
        self._script_chars = 0
        self._opc = False
        self._ese = 0
        self._sre = 0
        self.format = FormatSettings()
        self.printer = Printer(self.format, self.emit)
        self._install_globals()

    # ------------------------------------------------------------------ MessageInstrument
    def write(self, message: str) -> None:
        """Run one program message (several lines are taken one at a time)."""
        if isinstance(message, bytes | bytearray):  # a careless transport: keep serving
            message = bytes(message).decode("latin-1")
        for line in message.split("\n"):
            self._line(line.removesuffix("\r"))

    def read(self) -> str | None:
        if not self._output:
            return None
        text = self._output.popleft()
        self._output_chars -= len(text)
        return text

    def clear(self) -> None:
        """Device clear: empty the output queue and forget a half-loaded script."""
        self._output.clear()
        self._output_chars = 0
        self._script = None

    def input_overrun(self) -> None:
        """The transport dropped a message longer than its input buffer."""
        self.errors.push(e.INPUT_OVERRUN, "Input buffer overrun")

    # ------------------------------------------------------------------ for host objects
    def emit(self, text: str) -> None:
        """Queue one reply message."""
        if (
            len(self._output) >= MAX_OUTPUT_MESSAGES
            or self._output_chars + len(text) > MAX_OUTPUT_CHARS
        ):
            self.errors.push(e.QUEUE_OVERFLOW, "Queue overflow (output queue full)")
            return
        self._output.append(text)
        self._output_chars += len(text)

    def define(self, name: str, value: object) -> None:
        self.globals.set(name, value)

    def reset(self) -> None:
        """What ``reset()`` and ``*RST`` do: instrument defaults (the queues stay)."""
        self.format.reset()
        for hook in self.reset_hooks:
            hook()

    # ------------------------------------------------------------------ message handling
    def _line(self, line: str) -> None:
        if len(line) > MAX_LINE_CHARS:
            self.errors.push(e.INPUT_OVERRUN, "Input buffer overrun (line too long)")
            return
        if self._script is not None:
            self._script_line(line)
            return
        text = line.strip()
        if not text:
            return
        words = text.split()
        if words[0] in ("loadscript", "loadandrunscript") and len(words) <= 2:
            self._begin_script(words)
            return
        if not (text.startswith("*") and self._common_command(text)):
            self.run_chunk(line)
        self._prompt()

    def _prompt(self) -> None:
        """With ``localnode.prompts = 1`` every finished message is followed by a
        prompt: "TSP>", or "TSP?" while errors are queued."""
        if self.prompts:
            self.emit("TSP?" if len(self.errors) else "TSP>")

    def run_chunk(self, source: str) -> None:
        """Parse and run TSP source; every failure ends up in the error queue."""
        try:
            chunk = parse(source)
        except e.TspSyntaxError as err:
            self.errors.push(e.SYNTAX, f"TSP Syntax error at line {err.line}: {err.message}")
            return
        self._run(chunk)

    def _run(self, chunk: nodes.Block) -> None:
        try:
            try:
                self.interp.run(chunk)
            finally:
                self._statement_done()  # time of a statement that stopped on an error
        except e.TspRuntimeError as err:
            line = err.line if err.line is not None else 1
            self.errors.push(e.RUNTIME, f"TSP Runtime error at line {line}: {err.message}")
        except Exception as err:  # a host failure outside any statement: still no crash
            self.errors.push(e.RUNTIME, f"TSP Runtime error at line 1: simulator error: {err}")

    def _statement_done(self) -> None:
        if self.on_statement is not None:
            self.on_statement()

    def _command_error(self, err: e.TspCommandError) -> None:
        self.errors.push(err.code, err.message)

    # ------------------------------------------------------------------ scripts
    def _begin_script(self, words: list[str]) -> None:
        name = words[1] if len(words) == 2 else ""
        if name and not _SCRIPT_NAME.match(name):
            self.errors.push(e.SYNTAX, f"TSP Syntax error at line 1: bad script name `{name}'")
            return
        self._script = []
        self._script_name = name
        self._script_run = words[0] == "loadandrunscript"
        self._script_chars = 0

    def _script_line(self, line: str) -> None:
        assert self._script is not None
        if line.strip() == "endscript":
            self._end_script()
            return
        self._script_chars += len(line) + 1
        if self._script_chars > MAX_SCRIPT_CHARS:
            self._script = None
            self.errors.push(e.INPUT_OVERRUN, "Input buffer overrun (script too long)")
            return
        self._script.append(line)

    def _end_script(self) -> None:
        assert self._script is not None
        source = "\n".join(self._script)
        name, run = self._script_name, self._script_run
        self._script = None
        try:
            chunk = parse(source)
        except e.TspSyntaxError as err:
            self.errors.push(e.SYNTAX, f"TSP Syntax error at line {err.line}: {err.message}")
            self._prompt()
            return
        script = ScriptObject(self, name, source, chunk)
        if name:
            self.globals.set(name, script)
        if not name:
            self._scripts.const("anonymous", script)
        if run:
            self._run(chunk)
        self._prompt()

    # ------------------------------------------------------------------ common commands
    def _common_command(self, text: str) -> bool:
        """Handle an IEEE 488.2 common command; False if ``text`` is not one."""
        parts = text.split(None, 1)
        header = parts[0].upper()
        argument = parts[1].strip() if len(parts) > 1 else ""
        if header == "*IDN?":
            self.emit(self.identity)
        elif header == "*RST":
            self.reset()
        elif header == "*CLS":
            self.errors.clear()
            self._opc = False
        elif header == "*OPC?":
            self.emit("1")  # every operation of the simulator completes before the reply
        elif header == "*OPC":
            self._opc = True
        elif header in ("*WAI", "*TRG"):
            pass
        elif header == "*ESR?":
            self.emit(str(int(self._opc)))
            self._opc = False
        elif header == "*STB?":
            self.emit(str(self.status_byte()))
        elif header == "*TST?":
            self.emit("0")
        elif header == "*ESE?":
            self.emit(str(self._ese))
        elif header == "*SRE?":
            self.emit(str(self._sre))
        elif header in ("*ESE", "*SRE") and _REGISTER.fullmatch(argument) and int(argument) < 256:
            if header == "*ESE":
                self._ese = int(argument)
            else:
                self._sre = int(argument)
        else:
            return False
        return True

    def status_byte(self) -> int:
        """Status byte: EAV (4) while errors are queued, MAV (16) while output is."""
        return (4 if len(self.errors) else 0) | (16 if self._output else 0)

    # ------------------------------------------------------------------ globals
    def _install_globals(self) -> None:
        g = self.globals
        stdlib.install(g, self.interp, self.clock, self.printer.text)
        for fname, f in self.printer.functions().items():
            g.set(fname, f)
        g.set("format", self.format)
        queue = HostObject("errorqueue")
        queue.attr("count", lambda: float(len(self.errors)))
        queue.function("next", self._next_error)
        queue.function("clear", lambda args: self.errors.clear())
        g.set("errorqueue", queue)
        g.set("reset", HostFunction("reset", lambda args: self.reset()))
        g.set("waitcomplete", HostFunction("waitcomplete", lambda args: None))
        g.set("opc", HostFunction("opc", lambda args: self._set_opc()))
        self._scripts = HostObject("script")
        self._scripts.const("anonymous", None)
        g.set("script", self._scripts)
        self.localnode = HostObject("localnode")
        self.localnode.attr("prompts", lambda: float(self.prompts), self._set_prompts)
        g.set("localnode", self.localnode)

    def _next_error(self, args: list[object]) -> tuple[object, ...]:
        entry = self.errors.pop()
        return (float(entry.code), entry.message, float(entry.severity), float(entry.node))

    def _set_opc(self) -> None:
        self._opc = True

    def _set_prompts(self, value: object) -> None:
        x = setting_number(value, "localnode.prompts")
        if x not in (0.0, 1.0):
            raise e.out_of_range("localnode.prompts", value)
        self.prompts = int(x)
