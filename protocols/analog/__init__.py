"""Analog matrix computing on RRAM arrays: MVM, LP-INV, bit-sliced HP-MVM, HP-INV
refinement, BlockAMC and MIMO detection (Zuo et al., Nature Electronics 2025).

The algorithms run on an :class:`AnalogEngine`: :class:`ExactEngine` (numpy) or
:class:`BoardEngine` (an array board through its driver). See docs/analog.md.

    engine = BoardEngine(station.board, clock=station.clock)
    result = hp_inv(engine, a, b, max_cycles=10)    # result.cycles: precision per cycle
"""

from rramlab.protocols.analog.board_config import BoardEngineConfig
from rramlab.protocols.analog.board_engine import BoardEngine
from rramlab.protocols.analog.engine import AnalogEngine, EngineStats
from rramlab.protocols.analog.errors import (
    AllocationError,
    CalibrationError,
    IntegerRecoveryError,
    MvmSaturatedError,
    NotConvergentError,
)
from rramlab.protocols.analog.exact_engine import ExactEngine
from rramlab.protocols.analog.hp_inv import HpInvResult, HpInvSolver, hp_inv
from rramlab.protocols.analog.hp_mvm import HighPrecisionMatrix
from rramlab.protocols.analog.lp_inv import low_precision_inverse
from rramlab.protocols.analog.mimo import zf_ber_sweep
from rramlab.protocols.analog.problems import random_problem

__all__ = [
    "AllocationError",
    "AnalogEngine",
    "BoardEngine",
    "BoardEngineConfig",
    "CalibrationError",
    "EngineStats",
    "ExactEngine",
    "HighPrecisionMatrix",
    "HpInvResult",
    "HpInvSolver",
    "IntegerRecoveryError",
    "MvmSaturatedError",
    "NotConvergentError",
    "hp_inv",
    "low_precision_inverse",
    "random_problem",
    "zf_ber_sweep",
]
