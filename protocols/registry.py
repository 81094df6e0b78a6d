"""The protocols by command-line name. Each lives in its own module, defining ``SPEC``;
modules are imported when first asked for, so listing names costs nothing."""

from __future__ import annotations

import importlib

from rramlab.protocols.base import ProtocolSpec

MODULES = {
    "forming": "rramlab.protocols.forming",
    "iv-sweep": "rramlab.protocols.iv_sweep",
    "pulse": "rramlab.protocols.pulse",
    "switch-seeker": "rramlab.protocols.switch_seeker",
    "write-verify": "rramlab.protocols.write_verify",
    "program-levels": "rramlab.protocols.program_levels",
    "read-map": "rramlab.protocols.read_map",
    "retention": "rramlab.protocols.retention",
    "endurance": "rramlab.protocols.endurance",
    "read-disturb": "rramlab.protocols.read_disturb",
    "variability": "rramlab.protocols.variability",
}


def names() -> list[str]:
    """Every protocol's command-line name."""
    return list(MODULES)


def get(name: str) -> ProtocolSpec:
    """The protocol called ``name`` (ValueError naming the known ones if none is)."""
    if name not in MODULES:
        raise ValueError(f"no protocol {name!r}; known protocols: {', '.join(MODULES)}")
    spec = importlib.import_module(MODULES[name]).SPEC
    if not isinstance(spec, ProtocolSpec) or spec.name != name:
        raise TypeError(f"{MODULES[name]}.SPEC is not the ProtocolSpec of {name!r}")
    return spec
