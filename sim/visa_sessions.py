"""One VISA session of the ``@rramsim`` backend: bytes to and from one simulated instrument.

A :class:`VisaSession` is what ``viOpen`` returns a handle to. It keeps what belongs to
the session (its VISA attributes: timeout, termination character, END handling; a
half-written message; the unread rest of a reply) and nothing of the instrument: the
instrument's settings, queues and the cells it has programmed live on the bench, so
they outlive the session, as a real instrument outlives a closed VISA session.

Injected faults (:mod:`rramlab.sim.faults`) act here as on a real bus: a lost or
truncated reply makes ``viRead`` time out, a late one arrives after real (wall-clock)
time and, if the session's timeout is shorter, after that read has timed out; a hang
with a duration holds ``viWrite`` (VI_ERROR_TMO if it outlasts the timeout: the message
is not taken), one without swallows what is written until ``viClear``; a lost link
fails every call with VI_ERROR_CONN_LOST until the session is closed and the resource
opened again.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from pyvisa import attributes, constants, rname
from pyvisa.constants import BufferOperation, ResourceAttribute, StatusCode

from rramlab.sim import faults
from rramlab.sim.message import MessageInstrument
from rramlab.sim.transport import DelayLine, MessageFramer, deliver_fated, message_fate

#: IEEE 488.2 status byte: Message AVailable (bit 4), set while a reply waits.
STB_MAV = 0x10

# The instrument's own reply terminator. SCPI and TSP instruments end every reply with
# LF (and assert END on GPIB/USB), whatever the host's read_termination is.
_REPLY_END = b"\n"

_ATTR = ResourceAttribute
# Writable in VISA but fixed here: changing them would address another instrument.
_FIXED = frozenset({_ATTR.gpib_primary_address, _ATTR.gpib_secondary_address})
_READ_BUFFER_BITS = (
    BufferOperation.discard_read_buffer
    | BufferOperation.discard_read_buffer_no_io
    | BufferOperation.discard_receive_buffer
    | BufferOperation.discard_receive_buffer2
)
_WRITE_DISCARD_BITS = BufferOperation.discard_write_buffer | BufferOperation.discard_transmit_buffer
_WRITE_FLUSH_BITS = BufferOperation.flush_write_buffer | BufferOperation.flush_transmit_buffer


@dataclass(frozen=True)
class SimulatedAddress:
    """Where a simulated instrument appears on the buses, and its USB descriptor.

    ``usb_vendor_id``/``usb_product_id`` are the real model's (USB-IF IDs), so resource
    names look like the ones a lab already has in its scripts.
    """

    model: str
    gpib_address: int
    usb_vendor_id: int
    usb_product_id: int
    serial: str
    vendor: str
    model_name: str

    @property
    def resource_names(self) -> tuple[str, ...]:
        """The VISA resource names this instrument answers to (GPIB first)."""
        usb = f"USB0::0x{self.usb_vendor_id:04X}::0x{self.usb_product_id:04X}::{self.serial}"
        return (f"GPIB0::{self.gpib_address}::INSTR", f"{usb}::INSTR")


def resource_key(parsed: rname.ResourceName) -> tuple[str | int, ...]:
    """A parsed resource name reduced to compare as VISA does: case-insensitive, numbers
    by value (``0x05e6`` is ``0x05E6``, ``USB::`` is ``USB0::``, the USB interface number
    defaults to 0)."""

    def norm(token: str) -> str | int:
        token = token.strip().lower()
        if token.startswith("0x"):
            try:
                return int(token, 16)
            except ValueError:
                return token
        return int(token) if token.isdigit() else token

    return tuple(norm(t) for t in str(parsed).split("::"))


def _version_code(version: str) -> int:
    """A ``major.minor.patch`` string as a VISA ``ViVersion``: major in bits 31-20,
    minor in 19-8, sub-minor in 7-0 (VI_ATTR_RSRC_SPEC_VERSION 3.0 is 0x00300000)."""
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:3]]
    major, minor, patch = [*parts, 0, 0, 0][:3]
    return (major & 0xFFF) << 20 | (minor & 0xFFF) << 8 | (patch & 0xFF)


class VisaSession:
    """A VISA session on one simulated instrument.

    ``lock`` is the bench's lock (:func:`rramlab.sim.transport.bench_lock`): it is held
    around every call into the instrument, so sessions in several threads, and other
    transports to the same bench, never run instrument code at once.
    """

    def __init__(
        self,
        *,
        rm_session: int,
        parsed: rname.ResourceName,
        address: SimulatedAddress,
        instrument: MessageInstrument,
        lock: threading.RLock,
        impl_version: str,
    ) -> None:
        self.instrument = instrument
        self.address = address
        self._lock = lock
        self._framer = MessageFramer()
        self._pending = bytearray()  # the unread rest of the reply being read
        self._pending_end = True  # it ends with END (False: its tail was lost)
        self._in_flight = DelayLine()  # replies delayed by an injected latency
        self._link = faults.link_opened(instrument)  # lost when a fault drops the link
        interface = constants.InterfaceType(parsed.interface_type_const)
        applicable = (
            attributes.AttributesPerResource[(interface, "INSTR")]
            | attributes.AttributesPerResource[attributes.AllSessionTypes]
        )
        self._supported = frozenset(a.attribute_id for a in applicable)
        self._writable = frozenset(a.attribute_id for a in applicable if a.write) - _FIXED
        self._attrs: dict[int, Any] = {
            a.attribute_id: a.default
            for a in applicable
            if a.default is not attributes.NotAvailable
        }
        self._attrs.update(
            {
                _ATTR.resource_manager_session: rm_session,
                _ATTR.interface_type: interface,
                _ATTR.interface_number: int(parsed.board),
                _ATTR.interface_instrument_name: f"{interface.name.upper()}{parsed.board}",
                _ATTR.resource_class: "INSTR",
                _ATTR.resource_name: str(parsed),
                _ATTR.resource_manufacturer_name: "rramlab simulated bench",
                _ATTR.resource_manufacturer_id: 0,
                _ATTR.resource_impl_version: _version_code(impl_version),
                _ATTR.resource_lock_state: constants.AccessModes.no_lock,
                _ATTR.read_buffer_size: 4096,
                _ATTR.write_buffer_size: 4096,
            }
        )
        if interface == constants.InterfaceType.gpib:
            self._attrs.update(
                {
                    _ATTR.gpib_primary_address: address.gpib_address,
                    _ATTR.gpib_secondary_address: constants.VI_NO_SEC_ADDR,
                    _ATTR.gpib_ren_state: constants.LineState.asserted,
                }
            )
        elif interface == constants.InterfaceType.usb:
            self._attrs.update(
                {
                    _ATTR.manufacturer_id: address.usb_vendor_id,
                    _ATTR.manufacturer_name: address.vendor,
                    _ATTR.model_code: address.usb_product_id,
                    _ATTR.model_name: address.model_name,
                    _ATTR.usb_serial_number: address.serial,
                    _ATTR.usb_interface_number: 0,
                    _ATTR.usb_protocol: 1,  # USB488
                    _ATTR.usb_max_interrupt_size: 2,
                    _ATTR.is_4882_compliant: True,
                }
            )

    # -- I/O ---------------------------------------------------------------------------

    def write(self, data: bytes) -> tuple[int, StatusCode]:
        """Send ``data``; every message it completes goes to the instrument.

        With VI_ATTR_SEND_END_EN (the default) the last byte carries END, which ends a
        message just as LF does, so a write without a terminator is still delivered.
        """
        if self.link_lost:
            return 0, StatusCode.error_connection_lost
        items = self._framer.feed(bytes(data), end=bool(self._attrs[_ATTR.send_end_enabled]))
        for item in items:
            fate = message_fate(self.instrument, item, max_wait_s=self._timeout_s())
            if fate is None:  # a hang held the instrument's input past the timeout
                return 0, StatusCode.error_timeout
            if fate.disconnect:
                return 0, StatusCode.error_connection_lost
            with self._lock:
                deliver_fated(self.instrument, item, fate)
        return len(data), StatusCode.success

    @property
    def link_lost(self) -> bool:
        """An injected fault dropped the link since this session was opened."""
        return not faults.link_alive(self.instrument, self._link)

    def read(self, count: int) -> tuple[bytes, StatusCode]:
        """Up to ``count`` bytes of the next reply.

        Stops after the termination character when VI_ATTR_TERMCHAR_EN is set
        (VI_SUCCESS_TERM_CHAR), at the end of the reply (VI_SUCCESS, END seen) or after
        ``count`` bytes (VI_SUCCESS_MAX_CNT). With no reply queued it fails at once with
        VI_ERROR_TMO: the bench is virtual, nothing would arrive by waiting (unless an
        injected latency holds a reply in flight: then it waits, in real time, up to the
        session's timeout).
        """
        if self.link_lost:
            return b"", StatusCode.error_connection_lost
        if not self._pending and not self._fetch_reply(wait=True):
            return b"", StatusCode.error_timeout
        limit = min(max(int(count), 0), len(self._pending))
        status = StatusCode.success_max_count_read
        if self._attrs[_ATTR.termchar_enabled]:
            at = self._pending.find(bytes([self._attrs[_ATTR.termchar] & 0xFF]), 0, limit)
            if at >= 0:
                limit, status = at + 1, StatusCode.success_termination_character_read
        chunk = bytes(self._pending[:limit])
        del self._pending[:limit]
        if not self._pending and status == StatusCode.success_max_count_read:
            if self._pending_end:  # else the reply's tail was lost: the read goes on
                status = StatusCode.success
        return chunk, status

    def _fetch_reply(self, *, wait: bool = False) -> bool:
        """Take the next reply into the session's buffer; with ``wait``, wait for one an
        injected latency holds in flight, at most the session's timeout."""
        while True:
            arrived = self._in_flight.take()
            if arrived:
                self._pending += arrived
                self._pending_end = arrived.endswith(_REPLY_END)
                return True
            if self._pull_reply():
                continue
            left = self._in_flight.wait_s()
            if left is None or not wait:
                return False
            timeout = self._timeout_s()
            if left > timeout:
                time.sleep(timeout)
                return False
            time.sleep(left)

    def _pull_reply(self) -> bool:
        """Move the instrument's next reply, through its faults, into flight; False
        when it has none (or hangs)."""
        with self._lock:
            if faults.is_hung(self.instrument):
                return False
            reply = self.instrument.read()
            if reply is None:
                return False
            data = reply.encode("utf-8", errors="replace") + _REPLY_END
            sent, delay = faults.on_reply(self.instrument, data)
        if sent is not None:
            self._in_flight.put(sent, delay)
        return True

    def _timeout_s(self) -> float:
        value = self._attrs.get(_ATTR.timeout_value, constants.VI_TMO_INFINITE)
        return math.inf if value == constants.VI_TMO_INFINITE else float(value) / 1000.0

    def discard_output(self) -> None:
        """Drop the unread rest of a reply and what is in flight (another session
        cleared the device)."""
        self._pending.clear()
        self._in_flight.clear()

    def clear(self) -> StatusCode:
        """Device clear (viClear): the instrument empties its queues; so does the session.
        It also ends an injected hang that has no duration."""
        if self.link_lost:
            return StatusCode.error_connection_lost
        self._framer.reset()
        self._pending.clear()
        self._in_flight.clear()
        with self._lock:
            faults.device_clear(self.instrument)
            self.instrument.clear()
        return StatusCode.success

    def flush(self, mask: int) -> StatusCode:
        """viFlush: discard the read and/or write buffers named by ``mask``."""
        known = _READ_BUFFER_BITS | _WRITE_DISCARD_BITS | _WRITE_FLUSH_BITS
        if mask == 0 or mask & ~known:
            return StatusCode.error_invalid_mask
        if mask & _READ_BUFFER_BITS:
            self._pending.clear()
        if mask & _WRITE_DISCARD_BITS:
            self._framer.reset()
        # Flushing the write buffer has nothing to do: bytes reach the device at once.
        return StatusCode.success

    def read_stb(self) -> tuple[int, StatusCode]:
        """Serial poll. The instrument's ``status_byte()`` when it has one; else only MAV,
        found by taking the next reply into this session (it is the next one read)."""
        if self.link_lost:
            return 0, StatusCode.error_connection_lost
        hook = getattr(self.instrument, "status_byte", None)
        if callable(hook):
            with self._lock:
                stb = int(hook()) & 0xFF
            return stb | (STB_MAV if self._pending else 0), StatusCode.success
        has_reply = bool(self._pending) or self._fetch_reply()
        return (STB_MAV if has_reply else 0), StatusCode.success

    def assert_trigger(self) -> StatusCode:
        """GPIB Group Execute Trigger / USBTMC TRIGGER: the instrument's ``trigger()``
        when it has one, else ``*TRG`` (IEEE 488.2 says the two are equivalent)."""
        if self.link_lost:
            return StatusCode.error_connection_lost
        with self._lock:
            hook = getattr(self.instrument, "trigger", None)
            if callable(hook):
                hook()
            else:
                self.instrument.write("*TRG")
        return StatusCode.success

    # -- attributes --------------------------------------------------------------------

    def get_attribute(self, attribute: int) -> tuple[Any, StatusCode]:
        """The attribute's value, or VI_ERROR_NSUP_ATTR."""
        if attribute not in self._attrs:
            return 0, StatusCode.error_nonsupported_attribute
        return self._attrs[attribute], StatusCode.success

    def set_attribute(self, attribute: int, value: Any) -> StatusCode:
        """Set a writable attribute (pyvisa has already range-checked ``value``)."""
        if attribute not in self._supported:
            return StatusCode.error_nonsupported_attribute
        if attribute not in self._writable:
            return StatusCode.error_attribute_read_only
        self._attrs[attribute] = value
        return StatusCode.success
