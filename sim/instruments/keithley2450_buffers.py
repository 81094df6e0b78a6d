"""Readings and reading buffers of the simulated Keithley 2450: ``:READ?``, ``:MEASure?``,
``:FETCh?`` with their buffer elements, and the ``:TRACe`` subsystem (make, delete,
points, actual, clear, fill mode, data, trigger, statistics).

:class:`Keithley2450Buffers` is mixed into
:class:`~rramlab.sim.instruments.keithley2450.Keithley2450Sim`; it uses the instrument's
``tree``, ``channel``, source and sense settings (``source_function``, ``level``,
``readback``, ``sense_function``, ``count``, ``_sync``) and owns ``buffers`` and
``last``.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rramlab.sim.instruments.keithley2450_spec import FUNCTIONS
from rramlab.sim.scpi import Call, Choice, Numeric, ScpiError, Text
from rramlab.sim.smu_channel import Reading

UNITS = {"VOLT": "Volt DC", "CURR": "Amp DC"}
ELEMENTS = Choice(
    (
        "READing",
        "SOURce",
        "RELative",
        "SEConds",
        "FRACtional",
        "TSTamp",
        "DATE",
        "TIME",
        "STATus",
        "SOURSTATus",
        "UNIT",
        "SOURUNIT",
    )
)
MAX_ARGS = 2 + len(ELEMENTS.options)
DEFAULT_BUFFERS = ("defbuffer1", "defbuffer2")
DEFAULT_BUFFER_SIZE = 100_000
# Source status bits of a buffer entry (SOURSTATus).
SRC_READBACK, SRC_LIMITED, SRC_OUTPUT_ON = 0x02, 0x08, 0x20
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # bench time 0 in buffer time stamps


@dataclass(frozen=True)
class BufferEntry:
    reading: float  # of the sense function (A or V)
    source: float  # read back or programmed source level
    time_s: float  # bench time at the end of the reading
    source_status: int
    function: str  # sense function, "CURR" or "VOLT"
    source_function: str


class ReadingBuffer:
    """A 2450 reading buffer: ``capacity`` entries, filled continuously (oldest dropped)
    or once (full buffer ignores new readings)."""

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.fill_once = False
        self.resize(capacity)

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: deque[BufferEntry] = deque(maxlen=capacity)

    def add(self, entry: BufferEntry) -> None:
        if not (self.fill_once and len(self.entries) == self.capacity):
            self.entries.append(entry)

    def clear(self) -> None:
        self.entries.clear()

    def readings(self) -> list[float]:
        return [e.reading for e in self.entries]


class Keithley2450Buffers:
    """The 2450's readings and reading buffers (a mixin of ``Keithley2450Sim``)."""

    buffers: dict[str, ReadingBuffer]
    last: Reading | None

    # ------------------------------------------------------------------ readings
    def _register_readings(self) -> None:
        tree = self.tree
        tree.add(":READ", query=lambda call: self._read(call, None), query_args=(0, MAX_ARGS))
        tree.add(":MEASure", query=lambda call: self._read(call, None), query_args=(0, MAX_ARGS))
        for f, name in FUNCTIONS.items():
            tree.add(
                f":MEASure:{name}[:DC]",
                query=lambda call, f=f: self._read(call, f),
                query_args=(0, MAX_ARGS),
            )
        tree.add(":FETCh", query=self._fetch, query_args=(0, MAX_ARGS))

    def _read(self, call: Call, function: str | None) -> str:
        buffer, elements = self._buffer_and_elements(call, 0)
        if function is not None:
            self.sense_function = function
        entry = None
        for _ in range(self.count):
            entry = self.take_reading(buffer)
        assert entry is not None
        return self._format(call, [entry], elements, buffer)

    def _fetch(self, call: Call) -> str:
        buffer, elements = self._buffer_and_elements(call, 0)
        if not buffer.entries:
            raise ScpiError(-230, f"{buffer.name} is empty")
        return self._format(call, [buffer.entries[-1]], elements, buffer)

    def take_reading(self, buffer: ReadingBuffer) -> BufferEntry:
        """Measure once with the present settings and store the reading in ``buffer``."""
        self._sync()
        reading = self.channel.measure()
        self.last = reading
        f = self.source_function
        if self.readback[f]:
            source = reading.voltage_V if f == "VOLT" else reading.current_A
        else:
            source = self.level[f]
        status = (
            (SRC_READBACK if self.readback[f] else 0)
            | (SRC_LIMITED if reading.tripped else 0)
            | (SRC_OUTPUT_ON if self.channel.output_on else 0)
        )
        value = reading.current_A if self.sense_function == "CURR" else reading.voltage_V
        entry = BufferEntry(value, source, reading.time_s, status, self.sense_function, f)
        buffer.add(entry)
        return entry

    def _buffer(self, name: str) -> ReadingBuffer:
        if name not in self.buffers:
            raise ScpiError(-224, f"no reading buffer {name!r}")
        return self.buffers[name]

    def _buffer_and_elements(self, call: Call, index: int) -> tuple[ReadingBuffer, list[str]]:
        buffer = self._buffer(call.arg(index, Text(), "defbuffer1"))
        elements = [call.arg(i, ELEMENTS) for i in range(index + 1, len(call.params))]
        return buffer, elements or ["READ"]

    def _format(
        self, call: Call, entries: list[BufferEntry], elements: list[str], buffer: ReadingBuffer
    ) -> str:
        first = buffer.entries[0].time_s if buffer.entries else 0.0
        return ",".join(
            self._element(call, entry, element, first) for entry in entries for element in elements
        )

    @staticmethod
    def _element(call: Call, e: BufferEntry, element: str, first_time_s: float) -> str:
        style = call.style
        stamp = EPOCH + timedelta(seconds=e.time_s)
        seconds = (EPOCH - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() + e.time_s
        fraction = seconds - math.floor(seconds)
        if element == "READ":
            return style.nr3(e.reading)
        if element == "SOUR":
            return style.nr3(e.source)
        if element == "REL":
            return style.nr3(e.time_s - first_time_s)
        if element == "SEC":
            return style.nr1(math.floor(seconds))
        if element == "FRAC":
            return style.nr3(fraction)
        nanoseconds = f".{min(int(fraction * 1e9), 999_999_999):09d}"
        if element == "TST":
            return stamp.strftime("%m/%d/%Y %H:%M:%S") + nanoseconds
        if element == "DATE":
            return stamp.strftime("%m/%d/%Y")
        if element == "TIME":
            return stamp.strftime("%H:%M:%S") + nanoseconds
        if element == "STAT":
            return style.nr1(0)
        if element == "SOURSTAT":
            return style.nr1(e.source_status)
        if element == "UNIT":
            return UNITS[e.function]
        return UNITS[e.source_function]  # SOURUNIT

    # ------------------------------------------------------------------ buffers
    def _register_buffers(self) -> None:
        tree = self.tree
        size = Numeric(1, 5_000_000, DEFAULT_BUFFER_SIZE, integer=True)

        def make(call: Call) -> None:
            name, capacity = call.arg(0, Text(31)), int(call.arg(1, size))
            call.arg(2, Choice(("STANdard", "FULL", "COMPact", "WRITable", "FULLWRITable")), "")
            if not name or name in self.buffers:
                raise ScpiError(-221, f"buffer {name!r} exists or is unnamed")
            self.buffers[name] = ReadingBuffer(name, capacity)

        def delete(call: Call) -> None:
            name = self._buffer(call.arg(0, Text())).name
            if name in DEFAULT_BUFFERS:
                raise ScpiError(-221, "default buffers cannot be deleted")
            del self.buffers[name]

        def points(call: Call) -> None:
            capacity = int(call.arg(0, size))
            self._buffer(call.arg(1, Text(), "defbuffer1")).resize(capacity)  # clears it

        def named(call: Call, index: int = 0) -> ReadingBuffer:
            return self._buffer(call.arg(index, Text(), "defbuffer1"))

        tree.add(":TRACe:MAKE", command=make, args=(2, 3))
        tree.add(":TRACe:DELete", command=delete, args=(1, 1))
        tree.add(
            ":TRACe:POINts",
            command=points,
            query=lambda call: call.style.nr1(named(call).capacity),
            args=(1, 2),
            query_args=(0, 1),
        )
        tree.add(
            ":TRACe:ACTual",
            query=lambda call: call.style.nr1(len(named(call).entries)),
            query_args=(0, 1),
        )
        tree.add(
            ":TRACe:ACTual:STARt",
            query=lambda call: call.style.nr1(1 if named(call).entries else 0),
            query_args=(0, 1),
        )
        tree.add(
            ":TRACe:ACTual:END",
            query=lambda call: call.style.nr1(len(named(call).entries)),
            query_args=(0, 1),
        )
        tree.add(":TRACe:CLEar", command=lambda call: named(call).clear(), args=(0, 1))
        tree.add(
            ":TRACe:FILL:MODE",
            command=lambda call: setattr(
                named(call, 1), "fill_once", call.arg(0, Choice(("CONTinuous", "ONCE"))) == "ONCE"
            ),
            query=lambda call: "ONCE" if named(call).fill_once else "CONT",
            args=(1, 2),
            query_args=(0, 1),
        )
        tree.add(":TRACe:DATA", query=self._trace_data, query_args=(2, MAX_ARGS + 1))
        tree.add(
            ":TRACe:TRIGger",
            command=lambda call: self._trace_trigger(named(call)),
            args=(0, 1),
        )
        for mnemonic, statistic in (
            ("AVERage", statistics.fmean),
            ("MINimum", min),
            ("MAXimum", max),
            ("PK2Pk", lambda x: max(x) - min(x)),
            ("STDDev", lambda x: statistics.stdev(x) if len(x) > 1 else 0.0),
        ):
            tree.add(
                f":TRACe:STATistics:{mnemonic}",
                query=lambda call, fn=statistic: self._statistic(call, named(call), fn),
                query_args=(0, 1),
            )

    def _trace_trigger(self, buffer: ReadingBuffer) -> None:
        for _ in range(self.count):
            self.take_reading(buffer)

    def _trace_data(self, call: Call) -> str:
        start = int(call.arg(0, Numeric(1, 1e9, 1, integer=True)))
        end = int(call.arg(1, Numeric(1, 1e9, 1, integer=True)))
        buffer, elements = self._buffer_and_elements(call, 2)
        if not start <= end <= len(buffer.entries):
            raise ScpiError(-222, f"{start}..{end} outside 1..{len(buffer.entries)}")
        entries = list(buffer.entries)[start - 1 : end]
        return self._format(call, entries, elements, buffer)

    @staticmethod
    def _statistic(call: Call, buffer: ReadingBuffer, fn) -> str:
        values = buffer.readings()
        if not values:
            raise ScpiError(-230, f"{buffer.name} is empty")
        return call.style.nr3(float(fn(values)))
