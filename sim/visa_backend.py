"""The ``@rramsim`` pyvisa backend: the simulated bench's instruments as VISA resources.

``pyvisa.ResourceManager("<spec>@rramsim")`` imports :mod:`pyvisa_rramsim`, whose
``WRAPPER_CLASS`` is :class:`RramsimVisaLibrary`. The text before ``@`` says which bench
to serve, as comma-separated ``key=value`` pairs:

=============================  ===========================================================
``""`` (just ``@rramsim``)     the default bench, same as ``seed=0``
``seed=N``                     a bench built with :class:`SimulatedBench` ``(seed=N)``
``rows=R,cols=C``              its crossbar size (default 8 x 8); combine with ``seed``
``smus=2450+B2902A``           only these simulated SMUs (default: every model)
``bench=NAME``                 a bench object registered with :func:`register_bench`;
                               takes no other key
=============================  ===========================================================

Example: ``pyvisa.ResourceManager("seed=3,rows=16,cols=16@rramsim")``. A test or a
station that wants to inspect the very bench its instruments drive builds it itself::

    bench = SimulatedBench(seed=3)
    register_bench("mine", bench)
    smu = pyvisa.ResourceManager("bench=mine@rramsim").open_resource("GPIB0::18::INSTR")

Benches built from a spec are shared in the process: every ResourceManager with the
same spec (``@rramsim`` and ``seed=0@rramsim`` included) reaches the same instruments,
as two programs on one lab PC reach the same GPIB instrument. Instrument state (settings,
error queue, output queue, the cells it has programmed) is the instrument's, so it
persists across ``close()`` and reopening, as on real hardware; only session state
(timeout, termination character, half-read replies) belongs to a session. Several
sessions may open one instrument; they share its queues, and the bench's lock
(:func:`~rramlab.sim.transport.bench_lock`) serializes them.

Resource names (:data:`ADDRESSES`): the 2450 is ``GPIB0::18::INSTR`` and
``USB0::0x05E6::0x2450::04365704::INSTR``; the 2636B ``GPIB0::26::INSTR`` and
``USB0::0x05E6::0x2636::4308079::INSTR``; the B2902A ``GPIB0::23::INSTR`` and
``USB0::0x0957::0x8C18::MY51143745::INSTR``. Names are matched by value: hex IDs and
serials in any case, ``USB::`` for ``USB0::``, and ``USB0::...::0::INSTR`` (with the USB
interface number) all name the same instrument.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from pyvisa import constants, errors, highlevel, rname
from pyvisa.constants import StatusCode
from pyvisa.util import LibraryPath

from rramlab.sim.bench import SMU_MODELS, SimulatedBench
from rramlab.sim.message import MessageInstrument
from rramlab.sim.transport import bench_lock
from rramlab.sim.visa_sessions import SimulatedAddress, VisaSession, resource_key

__all__ = [
    "ADDRESSES",
    "BenchSpec",
    "RramsimVisaLibrary",
    "bench_for",
    "make_bench",
    "parse_library_path",
    "register_bench",
    "unregister_bench",
]

#: Bus addresses and USB IDs of each simulated SMU model (the real models' USB IDs).
ADDRESSES: dict[str, SimulatedAddress] = {
    "2450": SimulatedAddress(
        "2450", 18, 0x05E6, 0x2450, "04365704", "Keithley Instruments", "Model 2450"
    ),
    "2636B": SimulatedAddress(
        "2636B", 26, 0x05E6, 0x2636, "4308079", "Keithley Instruments", "Model 2636B"
    ),
    "B2902A": SimulatedAddress(
        "B2902A", 23, 0x0957, 0x8C18, "MY51143745", "Keysight Technologies", "B2902A"
    ),
}


class BenchLike(Protocol):
    """What the backend needs of a bench: its SMUs by model name."""

    smus: Mapping[str, MessageInstrument]


@dataclass(frozen=True)
class BenchSpec:
    """A parsed library path: which bench the backend serves."""

    seed: int = 0
    rows: int = 8
    cols: int = 8
    smus: tuple[str, ...] = SMU_MODELS
    bench: str | None = None  # name given to register_bench; excludes the other fields


def parse_library_path(path: str) -> BenchSpec:
    """Parse the text before ``@rramsim`` (see the module docstring for the syntax)."""
    values: dict[str, str] = {}
    for part in (p.strip() for p in str(path).split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise ValueError(f"@rramsim: expected key=value, got {part!r} in {path!r}")
        if key not in ("seed", "rows", "cols", "smus", "bench"):
            raise ValueError(
                f"@rramsim: unknown key {key!r} in {path!r}; keys: seed, rows, cols, smus, bench"
            )
        if key in values:
            raise ValueError(f"@rramsim: {key!r} given twice in {path!r}")
        values[key] = value
    if "bench" in values:
        if len(values) > 1:
            raise ValueError(f"@rramsim: bench= takes no other key, got {path!r}")
        return BenchSpec(bench=values["bench"])
    spec: dict[str, Any] = {}
    for key, low in (("seed", 0), ("rows", 1), ("cols", 1)):
        if key in values:
            try:
                spec[key] = int(values[key])
            except ValueError:
                msg = f"@rramsim: {key} must be an integer, got {values[key]!r}"
                raise ValueError(msg) from None
            if spec[key] < low:
                raise ValueError(f"@rramsim: {key} must be >= {low}, got {spec[key]}")
    if "smus" in values:
        by_upper = {m.upper(): m for m in SMU_MODELS}
        models = [m.strip().upper() for m in values["smus"].split("+")]
        unknown = [m for m in models if m not in by_upper]
        if unknown:
            raise ValueError(
                f"@rramsim: unknown SMU model(s) {unknown}; simulated: {', '.join(SMU_MODELS)}"
            )
        spec["smus"] = tuple(dict.fromkeys(by_upper[m] for m in models))
    return BenchSpec(**spec)


def make_bench(spec: BenchSpec | str) -> SimulatedBench:
    """A new bench as ``spec`` describes (same spec, same bench: same seed, same bytes)."""
    if isinstance(spec, str):
        spec = parse_library_path(spec)
    if spec.bench is not None:
        raise ValueError("bench= names a registered bench; it cannot be built")
    return SimulatedBench(seed=spec.seed, smu_models=spec.smus, rows=spec.rows, cols=spec.cols)


_registered: dict[str, BenchLike] = {}
_built: dict[BenchSpec, BenchLike] = {}  # benches built from a spec, shared in-process
_registry_lock = threading.Lock()


def register_bench(name: str, bench: BenchLike) -> None:
    """Make ``bench`` reachable as ``ResourceManager("bench=<name>@rramsim")``.

    Registering a name again replaces the bench for sessions opened afterwards.
    """
    name = str(name).strip()
    if not name or any(c in name for c in ",=@"):
        raise ValueError(f"bench name must be non-empty without ',', '=' or '@': {name!r}")
    if not isinstance(getattr(bench, "smus", None), Mapping):
        raise TypeError(f"a bench needs a mapping .smus of model -> instrument, got {bench!r}")
    with _registry_lock:
        _registered[name] = bench


def unregister_bench(name: str) -> None:
    """Forget a registered bench; sessions already open on it keep working."""
    with _registry_lock:
        _registered.pop(str(name).strip(), None)


def bench_for(spec: BenchSpec) -> BenchLike | None:
    """The bench a spec names: the registered one for ``bench=NAME`` (None if no such
    name), otherwise the process's shared bench built from the spec (built on first use).
    Every transport goes through here, so SMUs and the board of a spec share one bench."""
    with _registry_lock:
        if spec.bench is not None:
            return _registered.get(spec.bench)
        bench = _built.get(spec)
    if bench is None:
        # Built outside the registry lock (it takes a while); the first one stored wins.
        new = make_bench(spec)
        with _registry_lock:
            bench = _built.setdefault(spec, new)
    return bench


@dataclass(frozen=True)
class _Target:
    name: str
    address: SimulatedAddress
    instrument: MessageInstrument
    bench: BenchLike


def _targets(bench: BenchLike | None) -> dict[tuple[str | int, ...], _Target]:
    found: dict[tuple[str | int, ...], _Target] = {}
    if bench is None:
        return found
    for model, instrument in bench.smus.items():
        address = ADDRESSES.get(model)
        if address is None:  # a model this backend has no bus address for
            continue
        for name in address.resource_names:
            key = resource_key(rname.parse_resource_name(name))
            found[key] = _Target(name, address, instrument, bench)
    return found


class RramsimVisaLibrary(highlevel.VisaLibraryBase):
    """pyvisa backend serving a simulated bench in-process (see the module docstring)."""

    #: Session handles of this library (resource-manager sessions map to None).
    sessions: dict[int, VisaSession | None]

    @staticmethod
    def get_library_paths() -> Iterable[LibraryPath]:
        """``@rramsim`` alone means the default bench, ``seed=0``."""
        return (LibraryPath("seed=0", "rramsim default bench"),)

    @staticmethod
    def get_debug_info() -> dict[str, str]:
        """Shown by ``pyvisa-info``."""
        from rramlab import __version__

        return {"Version": __version__, "Library path syntax": "seed=N,rows=R,cols=C | bench=NAME"}

    def _init(self) -> None:
        self.spec = parse_library_path(self.library_path)
        if self.spec.bench is not None and bench_for(self.spec) is None:
            raise ValueError(
                f"@rramsim: no bench registered as {self.spec.bench!r}; "
                "call rramlab.sim.visa_backend.register_bench first"
            )
        self.sessions = {}
        self._handles = itertools.count(1001)

    @property
    def bench(self) -> BenchLike | None:
        """The bench this library serves (None if its registered name was withdrawn)."""
        return bench_for(self.spec)

    def _register(self, session: VisaSession | None) -> int:
        handle = next(self._handles)
        self.sessions[handle] = session
        return handle

    def _fail(self, session: Any, status: StatusCode) -> NoReturn:
        self.handle_return_value(session, status)  # records the status, raises VisaIOError
        raise errors.VisaIOError(status)  # not reached; tells type checkers so

    def _session(self, session: Any) -> VisaSession:
        sess = self.sessions.get(session)
        if sess is None:  # unknown handle, or a resource-manager session
            self._fail(session, StatusCode.error_invalid_object)
        return sess

    # -- resource manager --------------------------------------------------------------

    def open_default_resource_manager(self) -> tuple[Any, StatusCode]:
        """viOpenDefaultRM."""
        return self._register(None), self.handle_return_value(None, StatusCode.success)

    def list_resources(self, session: Any, query: str = "?*::INSTR") -> tuple[str, ...]:
        """Resource names of the bench's instruments matching ``query`` (VISA pattern)."""
        names = [t.name for t in _targets(self.bench).values()]
        return tuple(rname.filter(names, query))

    def open(
        self,
        session: Any,
        resource_name: str,
        access_mode: constants.AccessModes = constants.AccessModes.no_lock,
        open_timeout: Any = constants.VI_TMO_IMMEDIATE,
    ) -> tuple[Any, StatusCode]:
        """viOpen. Unknown names fail with VI_ERROR_RSRC_NFOUND. ``access_mode`` locks are
        not simulated yet: every open succeeds without a lock."""
        try:
            parsed = rname.parse_resource_name(resource_name)
        except rname.InvalidResourceName:
            self._fail(None, StatusCode.error_invalid_resource_name)
        target = _targets(self.bench).get(resource_key(parsed))
        if target is None:
            self._fail(None, StatusCode.error_resource_not_found)
        from rramlab import __version__

        sess = VisaSession(
            rm_session=int(session),
            parsed=parsed,
            address=target.address,
            instrument=target.instrument,
            lock=bench_lock(target.bench),
            impl_version=__version__,
        )
        return self._register(sess), self.handle_return_value(None, StatusCode.success)

    def close(self, session: Any) -> StatusCode:
        """viClose. The instrument keeps its state; only the session goes."""
        if session not in self.sessions:
            return self.handle_return_value(session, StatusCode.error_invalid_object)
        del self.sessions[session]
        return self.handle_return_value(session, StatusCode.success)

    # -- I/O ---------------------------------------------------------------------------

    def read(self, session: Any, count: int) -> tuple[bytes, StatusCode]:
        """viRead: see :meth:`VisaSession.read`; VI_ERROR_TMO raises VisaIOError."""
        data, status = self._session(session).read(count)
        return data, self.handle_return_value(session, status)

    def write(self, session: Any, data: bytes) -> tuple[int, StatusCode]:
        """viWrite: see :meth:`VisaSession.write`."""
        written, status = self._session(session).write(data)
        return written, self.handle_return_value(session, status)

    def clear(self, session: Any) -> StatusCode:
        """viClear: device clear of the instrument, seen by every session open on it."""
        sess = self._session(session)
        for other in list(self.sessions.values()):  # other threads may open sessions
            if other is not None and other.instrument is sess.instrument:
                other.discard_output()
        return self.handle_return_value(session, sess.clear())

    def flush(self, session: Any, mask: constants.BufferOperation) -> StatusCode:
        """viFlush."""
        return self.handle_return_value(session, self._session(session).flush(int(mask)))

    def read_stb(self, session: Any) -> tuple[int, StatusCode]:
        """viReadSTB (serial poll)."""
        stb, status = self._session(session).read_stb()
        return stb, self.handle_return_value(session, status)

    def assert_trigger(self, session: Any, protocol: constants.TriggerProtocol) -> StatusCode:
        """viAssertTrigger."""
        return self.handle_return_value(session, self._session(session).assert_trigger())

    def gpib_control_ren(self, session: Any, mode: constants.RENLineOperation) -> StatusCode:
        """viGpibControlREN: accepted; the simulated instruments have no front panel."""
        self._session(session)
        return self.handle_return_value(session, StatusCode.success)

    # -- attributes and events ---------------------------------------------------------

    def get_attribute(self, session: Any, attribute: Any) -> tuple[Any, StatusCode]:
        """viGetAttribute."""
        value, status = self._session(session).get_attribute(attribute)
        return value, self.handle_return_value(session, status)

    def set_attribute(self, session: Any, attribute: Any, attribute_state: Any) -> StatusCode:
        """viSetAttribute."""
        status = self._session(session).set_attribute(attribute, attribute_state)
        return self.handle_return_value(session, status)

    def disable_event(self, session: Any, event_type: Any, mechanism: Any) -> StatusCode:
        """Events are not simulated; pyvisa disables them on close, which is fine."""
        return StatusCode.success

    def discard_events(self, session: Any, event_type: Any, mechanism: Any) -> StatusCode:
        """Events are not simulated; nothing to discard."""
        return StatusCode.success
