"""One process per instrument: a cross-process advisory lock per instrument resource.

Two processes driving one SMU interleave their commands, read each other's replies and
fight over its output: nothing good, and nothing either of them notices. So a driver
takes a lock when it opens an instrument (:func:`acquire`), and a second process that
opens the same one gets :class:`InstrumentInUseError` naming the resource and the
process that holds it, before a byte reaches the instrument.

Design:

- One lock file per instrument in a per-user runtime folder (``$RRAMLAB_LOCK_DIR``, else
  ``$XDG_RUNTIME_DIR/rramlab/locks``, else ``<temp>/rramlab-<user>/locks``), named
  after a normalised resource key (:func:`resource_key`): the same instrument reached
  through different spellings shares one lock (``gpib::18`` and ``GPIB0::18::INSTR``;
  ``TCPIP0::127.0.0.1::5026::SOCKET`` and ``socket://localhost:5026``;
  ``ASRL/dev/ttyACM0::INSTR``, ``/dev/ttyACM0`` and a ``/dev/serial/by-id`` link to it).
- The lock is ``fcntl.flock`` (POSIX) or ``msvcrt.locking`` (Windows) on that file,
  never blocking: held while the file is open, so the operating system releases it when
  the process ends, however it ends (crash, ``kill -9``, power loss of the PC). A
  holder deletes its lock file when it releases it, while still holding it; an opener
  that locked a file deleted meanwhile sees it is no longer the one at the path and
  tries the new one (the usual flock-and-check-inode dance), so no two processes ever
  hold the same instrument. A crashed holder's file stays and is simply reused.
- Held per process: the same process may open an instrument again (a reconnect after a
  lost link, a second driver object) and the lock is released when the last holder
  closes (:meth:`InstrumentLock.release`, also on garbage collection).
- The holder writes who it is (pid, command line, since when) into the file, for the
  message the next opener gets.
- In-process simulated instruments (the ``@rramsim`` and ``@sim`` pyvisa backends, the
  ``rramsim://`` and ``loop://`` serial URLs) are not locked: each process has its own.
  ``rramlab sim serve``'s TCP instruments are locked like real ones.
- ``RRAMLAB_INSTRUMENT_LOCKS=0`` turns locking off (a lab that knows what it does).

Limits: the lock is advisory (a program that does not use rramlab is not stopped) and
per user (two users on one PC do not see each other's locks); VISA's own exclusive lock
(``resource.lock_excl()``, where the VISA library supports it) covers those cases.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from rramlab.errors import InstrumentError

__all__ = [
    "InstrumentInUseError",
    "InstrumentLock",
    "acquire",
    "lock_dir",
    "lock_port",
    "lock_visa_resource",
    "resource_key",
]

#: pyvisa backends (their library's module) whose instruments live in this process
_IN_PROCESS_VISA = ("pyvisa_sim", "pyvisa_rramsim", "rramlab.sim")
#: pyserial URL schemes whose ports live in this process
_IN_PROCESS_URLS = ("rramsim://", "loop://")
_LOOPBACK_NAMES = {"localhost": "127.0.0.1"}


class InstrumentInUseError(InstrumentError):
    """Another process has the instrument open. ``resource`` is the resource as given,
    ``holder`` what the holding process wrote about itself (``pid``, ``argv``,
    ``since``; empty if it could not be read)."""

    def __init__(self, resource: str, holder: dict[str, Any], *, instrument: str = "") -> None:
        self.resource = resource
        self.holder = holder
        pid = holder.get("pid")
        who = f"process {pid}" if pid else "another process"
        if pid == os.getpid():
            who = f"this process ({pid}) through another file descriptor"
        detail = []
        if holder.get("argv"):
            detail.append(f"running {holder['argv']!r}")
        if holder.get("since"):
            detail.append(f"since {holder['since']}")
        tail = f" ({', '.join(detail)})" if detail else ""
        super().__init__(
            f"{resource} is in use by {who}{tail}; close it there first",
            instrument=instrument,
        )


# ------------------------------------------------------------------------ resource keys
def resource_key(resource: str) -> str:
    """The instrument a VISA resource string or pyserial URL/port names, as a key that
    equal instruments share (see the module docs)."""
    text = resource.strip()
    lowered = text.lower()
    for scheme in ("socket://", "rfc2217://"):
        if lowered.startswith(scheme):
            host, _, port = text[len(scheme) :].split("?", 1)[0].rstrip("/").rpartition(":")
            return _tcp_key(host, port)
    for scheme in ("spy://", "alt://"):  # wrappers around another port
        if lowered.startswith(scheme):
            return resource_key(text[len(scheme) :].split("?", 1)[0])
    if "::" in text:
        return _visa_key(text)
    return _serial_key(text)


def _tcp_key(host: str, port: str) -> str:
    host = host.strip("[]").lower()
    return f"tcp:{_LOOPBACK_NAMES.get(host, host)}:{port.strip()}"


def _serial_key(port: str) -> str:
    if port.startswith("/") or port.startswith("."):
        try:
            port = os.path.realpath(port)  # a /dev/serial/by-id link and its target
        except OSError:
            pass
        return f"serial:{port}"
    return f"serial:{port.upper()}"  # COM3, com3


def _visa_key(resource: str) -> str:
    parts = resource.split("::")
    head = parts[0].upper()
    if head.startswith("ASRL"):
        board = parts[0][4:]
        if board.startswith("/") or board.startswith("."):
            return _serial_key(board)
        return f"serial:ASRL{board.upper()}"
    if head.startswith("TCPIP") and len(parts) == 4 and parts[3].upper() == "SOCKET":
        return _tcp_key(parts[1], parts[2])
    try:
        from pyvisa import rname

        canonical = str(rname.parse_resource_name(resource))
    except Exception:  # not a resource pyvisa parses: use it as written
        canonical = resource
    parts = [p.upper() for p in canonical.split("::")]
    if parts[0].startswith("TCPIP") and len(parts) > 1:  # host names: lower case
        host = parts[1].lower()
        parts[1] = _LOOPBACK_NAMES.get(host, host)
    return "visa:" + "::".join(parts)


# ------------------------------------------------------------------------ where locks live
def lock_dir() -> Path:
    """The folder of the lock files (created, private to the user, on first use)."""
    configured = os.environ.get("RRAMLAB_LOCK_DIR")
    if configured:
        folder = Path(configured)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        folder = Path(os.environ["XDG_RUNTIME_DIR"]) / "rramlab" / "locks"
    elif sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        folder = Path(os.environ["LOCALAPPDATA"]) / "rramlab" / "locks"
    else:
        user = _user()
        folder = Path(tempfile.gettempdir()) / f"rramlab-{user}" / "locks"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _user() -> str:
    try:
        return str(os.getuid())  # type: ignore[attr-defined]
    except AttributeError:
        return re.sub(r"\W", "_", os.environ.get("USERNAME", "user"))


def _lock_path(key: str) -> Path:
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", key)[-60:].strip("_")
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return lock_dir() / f"{readable}-{digest}.lock"


# ------------------------------------------------------------------------ the locks
class _Held:
    """A lock file this process holds, and how many handles use it."""

    def __init__(self, file: Any, path: Path) -> None:
        self.file = file
        self.path = path
        self.count = 0
        self.pid = os.getpid()


_held: dict[str, _Held] = {}
_guard = threading.Lock()


class InstrumentLock:
    """A handle on an instrument's lock; :meth:`release` (or garbage collection) gives
    it back. The lock file is released when the process's last handle on it is."""

    def __init__(self, key: str, resource: str) -> None:
        self.key = key
        self.resource = resource
        self._released = False

    @property
    def path(self) -> Path:
        return _held[self.key].path

    def release(self) -> None:
        """Give the handle back; safe to call twice."""
        if self._released:
            return
        self._released = True
        with _guard:
            held = _held.get(self.key)
            if held is None or held.pid != os.getpid():
                return
            held.count -= 1
            if held.count <= 0:
                del _held[self.key]
                _unlock(held.file, held.path)

    def __enter__(self) -> InstrumentLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "released" if self._released else "held"
        return f"InstrumentLock({self.key!r}, {state})"


def acquire(resource: str, *, instrument: str = "") -> InstrumentLock:
    """Lock the instrument ``resource`` names (a VISA resource string or a pyserial
    URL/port) for this process; :class:`InstrumentInUseError` if another process holds
    it. Does not wait."""
    key = resource_key(resource)
    with _guard:
        held = _held.get(key)
        if held is not None and held.pid != os.getpid():  # inherited through fork()
            del _held[key]
            held = None
        if held is None:
            path = _lock_path(key)
            held = _held[key] = _Held(_lock_file(path, resource, instrument), path)
            _write_holder(held.file, key)
        held.count += 1
    return InstrumentLock(key, resource)


def _lock_file(path: Path, resource: str, instrument: str) -> Any:
    """The lock file at ``path``, open and locked; InstrumentInUseError if another
    process has it locked. A holder deletes its file when it releases it (while still
    holding it), so a file locked here must still be the one at ``path``; if it was
    deleted meanwhile, the new one is tried."""
    for _ in range(10):
        file = open(path, "a+b")  # kept open: the open file is the lock
        try:
            if not _try_lock(file):
                raise InstrumentInUseError(resource, _read_holder(path), instrument=instrument)
            if _same_file(file, path):
                return file
        except BaseException:
            file.close()
            raise
        file.close()  # locked a file its holder had just deleted: take the new one
    raise InstrumentError(f"cannot lock {path} (it keeps being replaced)", instrument=instrument)


def _same_file(file: Any, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(file.fileno()), os.stat(path))
    except OSError:
        return False


def lock_visa_resource(
    resource: str, resource_manager: Any, *, instrument: str = ""
) -> InstrumentLock | None:
    """:func:`acquire` for a VISA resource opened with ``resource_manager``; None (no
    lock) for in-process simulated backends, or when locking is turned off."""
    library = type(getattr(resource_manager, "visalib", None)).__module__ or ""
    if not _enabled() or library.startswith(_IN_PROCESS_VISA):
        return None
    return acquire(resource, instrument=instrument)


def lock_port(url: str, *, instrument: str = "") -> InstrumentLock | None:
    """:func:`acquire` for a pyserial URL or port; None for in-process ports
    (``rramsim://``, ``loop://``) or when locking is turned off."""
    if not _enabled() or url.strip().lower().startswith(_IN_PROCESS_URLS):
        return None
    return acquire(url, instrument=instrument)


def release(lock: InstrumentLock | None) -> None:
    """Release ``lock`` if there is one (what drivers call when they close)."""
    if lock is not None:
        lock.release()


def _enabled() -> bool:
    return os.environ.get("RRAMLAB_INSTRUMENT_LOCKS", "1").strip().lower() not in (
        "0",
        "no",
        "off",
        "false",
    )


# ------------------------------------------------------------------------ OS specifics
# Windows locks byte 0 (mandatory there: the holder's details start at byte 1, where the
# next opener can read them); POSIX locks the whole file (advisory).
_INFO_OFFSET = 1 if sys.platform == "win32" else 0


def _try_lock(file: Any) -> bool:
    if sys.platform == "win32":
        import msvcrt

        file.seek(0)
        try:
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    return True


def _unlock(file: Any, path: Path) -> None:
    """Delete the lock file (POSIX: while still holding it, see :func:`_lock_file`),
    then unlock and close it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            file.seek(0)
            msvcrt.locking(file.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            if _same_file(file, path):
                path.unlink()
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
    except OSError:
        pass
    finally:
        file.close()


def _write_holder(file: Any, key: str) -> None:
    info = {
        "pid": os.getpid(),
        "argv": " ".join(sys.argv)[:200],
        "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "key": key,
    }
    try:
        file.seek(_INFO_OFFSET)
        file.truncate()
        file.write(json.dumps(info).encode())
        file.flush()
    except OSError:
        pass  # the lock holds without the details


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()[_INFO_OFFSET:]
        info = json.loads(raw.decode() or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}
