"""2600B reading buffers: ``smua.nvbuffer1``, ``smua.nvbuffer2`` and ``smua.makebuffer(n)``.

A buffer stores readings with, when its ``collect...`` switches are on, the programmed
source value and a timestamp. Indexing the buffer (``buf[i]``) reads ``readings[i]``;
the subtables ``readings``, ``sourcevalues``, ``timestamps``, ``measureranges`` and
``measurefunctions`` read the columns. A measurement (or a sweep) is one storage
operation: with ``appendmode`` 0 it first empties the buffer, as the manual says.
"""

from __future__ import annotations

from rramlab.sim.tsp.errors import SETTINGS_CONFLICT, TspCommandError, out_of_range
from rramlab.sim.tsp.objects import HostObject, setting_number

DEDICATED_CAPACITY = 60_000  # readings a dedicated buffer holds (order of the 2600B's)


class BufferColumn(HostObject):
    """One subtable of a buffer: ``buf.readings[i]`` and friends (1-based)."""

    def __init__(self, buffer: ReadingBuffer, column: str) -> None:
        super().__init__(f"{buffer.path}.{column}")
        self.buffer = buffer
        self.column = column

    def values(self) -> list[object]:
        return self.buffer.column_values(self.column)

    def tsp_index(self, key: object) -> object:
        if isinstance(key, float) and key.is_integer():  # (inf and nan are not)
            values = self.values()
            i = int(key)
            return values[i - 1] if 1 <= i <= len(values) else None
        return super().tsp_index(key)

    def tsp_len(self) -> int:
        return self.buffer.n


class ReadingBuffer(HostObject):
    """A reading buffer of ``capacity`` readings."""

    def __init__(self, path: str, capacity: int = DEDICATED_CAPACITY) -> None:
        super().__init__(path)
        self.capacity = capacity
        self.appendmode = 0
        self.collectsourcevalues = 0
        self.collecttimestamps = 0
        self.timestampresolution = 1e-6
        self.fillcount = 0.0
        self.fillmode = 0.0
        self.clear()
        self.attr("n", lambda: float(self.n))
        self.attr("capacity", lambda: float(self.capacity))
        self.attr("basetimestamp", lambda: self.basetimestamp)
        self.attr("appendmode", lambda: float(self.appendmode), self._setter("appendmode"))
        self.attr(
            "collectsourcevalues",
            lambda: float(self.collectsourcevalues),
            self._setter("collectsourcevalues"),
        )
        self.attr(
            "collecttimestamps",
            lambda: float(self.collecttimestamps),
            self._setter("collecttimestamps"),
        )
        self.attr("timestampresolution", lambda: self.timestampresolution, self._set_resolution)
        self.attr("fillcount", lambda: self.fillcount, self._set_fill("fillcount"))
        self.attr("fillmode", lambda: self.fillmode, self._set_fill("fillmode"))
        for column in ("readings", "sourcevalues", "timestamps", "measureranges"):
            self.child(column, BufferColumn(self, column))
        self.child("measurefunctions", BufferColumn(self, "measurefunctions"))
        self.child("sourcefunctions", BufferColumn(self, "sourcefunctions"))
        self.function("clear", lambda args: self.clear())
        self.function("clearcache", lambda args: None)  # nothing is cached in the sim

    # ------------------------------------------------------------------ storage
    def clear(self) -> None:
        self.n = 0
        self.basetimestamp = 0.0
        self._rows: dict[str, list[object]] = {
            "readings": [],
            "sourcevalues": [],
            "timestamps": [],
            "measureranges": [],
            "measurefunctions": [],
            "sourcefunctions": [],
        }

    def begin(self) -> None:
        """Start a storage operation: without append mode the old readings go."""
        if not self.appendmode:
            self.clear()

    def store(
        self,
        reading: float,
        *,
        source_value: float,
        time_s: float,
        measure_range: float,
        measure_function: str,
        source_function: str,
    ) -> None:
        """Append one reading (silently dropped when the buffer is full, as a
        dedicated buffer in fill-once mode stops storing)."""
        if self.n >= self.capacity:
            return
        if self.n == 0:
            self.basetimestamp = time_s
        rows = self._rows
        rows["readings"].append(reading)
        rows["sourcevalues"].append(source_value if self.collectsourcevalues else None)
        rows["timestamps"].append(time_s - self.basetimestamp if self.collecttimestamps else None)
        rows["measureranges"].append(measure_range)
        rows["measurefunctions"].append(measure_function)
        rows["sourcefunctions"].append(source_function)
        self.n += 1

    def column_values(self, column: str) -> list[object]:
        return self._rows[column]

    def values(self) -> list[object]:
        """The default subtable (readings), e.g. for printbuffer(1, n, buf)."""
        return self._rows["readings"]

    # ------------------------------------------------------------------ TSP access
    def tsp_index(self, key: object) -> object:
        if isinstance(key, float):
            return self.get_child("readings").tsp_index(key)
        return super().tsp_index(key)

    def get_child(self, name: str) -> BufferColumn:
        column = self.tsp_get(name)
        assert isinstance(column, BufferColumn)
        return column

    def tsp_len(self) -> int:
        return self.n

    def _setter(self, name: str):
        def set_flag(value: object) -> None:
            x = setting_number(value, f"{self.path}.{name}")
            if x not in (0.0, 1.0):
                raise out_of_range(f"{self.path}.{name}", value)
            if self.n:  # the manual: only an empty buffer takes these settings
                raise TspCommandError(
                    SETTINGS_CONFLICT, f"Settings conflict ({self.path} is not empty)"
                )
            setattr(self, name, int(x))

        return set_flag

    def _set_resolution(self, value: object) -> None:
        x = setting_number(value, f"{self.path}.timestampresolution")
        if not 1e-6 <= x <= 1.0:
            raise out_of_range(f"{self.path}.timestampresolution", value)
        self.timestampresolution = x

    def _set_fill(self, name: str):
        def set_fill(value: object) -> None:
            setattr(self, name, setting_number(value, f"{self.path}.{name}"))

        return set_fill
