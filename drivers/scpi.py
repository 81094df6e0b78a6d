"""VISA plumbing shared by the SMU drivers (SCPI and TSP alike), one job per module;
this module gathers their public names, so ``from rramlab.drivers.scpi import ...``
keeps working:

=====================================  ================================================
:mod:`rramlab.drivers.visa_connection`  :class:`Connection`: one open resource; writes,
                                        checked settings, queries, timeouts, resync
                                        and retries of idempotent queries
:mod:`rramlab.drivers.idempotent`       which queries may be sent again
                                        (:data:`IDEMPOTENT_QUERIES`)
:mod:`rramlab.drivers.scpi_replies`     numbers on the wire (:func:`fmt`) and replies
                                        parsed back (:func:`parse_numbers`, ...)
:mod:`rramlab.drivers.scpi_errors`      the SCPI error queue (:func:`read_scpi_errors`)
:mod:`rramlab.drivers.source_restore`   the user's source put back after sweeps and
                                        pulses (:func:`put_source_back`)
:mod:`rramlab.drivers.visa_source_meter` the channels' base (:class:`VisaSourceMeter`),
                                        two-channel instruments, confirmed resets
=====================================  ================================================
"""

from __future__ import annotations

from rramlab.drivers.idempotent import IDEMPOTENT_QUERIES, QUERY_RETRIES, is_idempotent
from rramlab.drivers.scpi_errors import (
    MAX_ERRORS_PER_CHECK,
    ErrorReader,
    parse_scpi_error,
    read_scpi_errors,
)
from rramlab.drivers.scpi_replies import fmt, fmt_list, parse_flag, parse_numbers
from rramlab.drivers.source_restore import (
    SourceSetting,
    order_source_commands,
    put_source_back,
    run_then_restore,
    with_restore,
)
from rramlab.drivers.visa_connection import DEFAULT_TIMEOUT_S, RESYNC_WAIT_S, Connection
from rramlab.drivers.visa_source_meter import (
    InstrumentChannel,
    MultiChannelInstrument,
    VisaSourceMeter,
    confirmed_reset,
    output_state_query,
)

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "IDEMPOTENT_QUERIES",
    "MAX_ERRORS_PER_CHECK",
    "QUERY_RETRIES",
    "RESYNC_WAIT_S",
    "Connection",
    "ErrorReader",
    "InstrumentChannel",
    "MultiChannelInstrument",
    "SourceSetting",
    "VisaSourceMeter",
    "confirmed_reset",
    "fmt",
    "fmt_list",
    "is_idempotent",
    "order_source_commands",
    "output_state_query",
    "parse_flag",
    "parse_numbers",
    "parse_scpi_error",
    "put_source_back",
    "read_scpi_errors",
    "run_then_restore",
    "with_restore",
]
