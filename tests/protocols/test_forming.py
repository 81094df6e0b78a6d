"""forming on the simulated bench: pristine cells form near the model's forming
voltage, escalation stops at the first compliance that forms, unformable cells are
reported, bad parameters and aborts are handled before/while anything is sent."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from rramlab.errors import LimitError
from rramlab.protocols import forming
from rramlab.protocols.base import Aborted, RunContext

V_KINETIC_V = 0.04  # the model's e-fold per 40 mV: thresholds shift with pulse width
T_REF_S = 1e-3


def outcome(data):
    """Per cell: formed or not, and the last row."""
    return data.groupby(["row", "col"]).tail(1).set_index(["row", "col"])


def test_pristine_cells_form_near_the_model_forming_voltage(station, run):
    cells = ((0, 0), (1, 2), (3, 1))
    array = station.bench.array
    assert (array.conductance_S[tuple(np.array(cells).T)] < 1e-8).all()  # pristine: ~nS
    params = forming.FormingParams(cells=cells)
    data = run(station, forming.SPEC, params)

    last = outcome(data)
    assert last.formed.all()
    assert (last.g_read_S > params.formed_threshold_S).all()
    for row, col in cells:
        assert array.conductance_S[row, col] > params.formed_threshold_S
        first = last.loc[(row, col)]
        # Formed at the first compliance level (10 uA gives ~10 uS > 5 uS)...
        assert first.i_compliance_A == params.compliance_start_A
        assert first.compliance_step == 0
        # ... at the cell's forming voltage, shifted for the width the SMU really held.
        v_form = array.population.v_form_V[row, col] - V_KINETIC_V * math.log(
            first.width_s / T_REF_S
        )
        assert abs(first.v_pulse_V - v_form) < 0.2, (row, col, first.v_pulse_V, v_form)
        # Only the forming pulse's read passes the threshold: the ramp stopped there.
        cell = data[(data.row == row) & (data.col == col)]
        assert cell.formed.sum() == 1 and cell.formed.iloc[-1]
    # Rows are per pulse, with the pulse count and the amplitude ramp in v_step_V steps.
    cell = data[(data.row == 0) & (data.col == 0)]
    assert list(cell.pulse) == list(range(1, len(cell) + 1))
    np.testing.assert_allclose(np.diff(cell.v_pulse_V), params.v_step_V)
    assert not station.smu.output_enabled


def test_escalation_stops_at_the_first_compliance_that_forms(station, run):
    # 1 uA forms a ~1 uS filament (below 5 uS), 10 uA sets it to ~10 uS: done there.
    params = forming.FormingParams(
        cells=((2, 2),), compliance_start_A=1e-6, compliance_factor=10.0, compliance_max_A=1e-4
    )
    assert params.compliances_A() == pytest.approx([1e-6, 1e-5, 1e-4])
    data = run(station, forming.SPEC, params)
    assert sorted(set(data.i_compliance_A)) == pytest.approx([1e-6, 1e-5])
    level0 = data[data.compliance_step == 0]
    assert len(level0) == len(params.amplitudes_V())  # the whole first ramp: not formed
    assert not level0.formed.any()
    last = data.iloc[-1]
    assert last.formed and last.compliance_step == 1
    assert last.g_read_S == pytest.approx(1e-5, rel=0.4)  # SET lands near I_cc / 1 V
    assert station.bench.array.formed[2, 2]


def test_unformable_cell_is_reported_not_formed_after_the_full_ramp(station, run, plant_defect):
    plant_defect(station, 0, 1, "unformable")
    params = forming.FormingParams(cells=((0, 1), (0, 2)), v_step_V=0.1, compliance_factor=4.0)
    data = run(station, forming.SPEC, params)
    bad = data[(data.row == 0) & (data.col == 1)]
    assert not bad.formed.any()
    assert len(bad) == len(params.amplitudes_V()) * len(params.compliances_A())
    assert bad.v_pulse_V.max() == pytest.approx(params.v_stop_V)
    assert bad.i_compliance_A.max() == pytest.approx(params.compliance_max_A)
    assert (bad.g_read_S < params.formed_threshold_S).all()
    assert outcome(data).loc[(0, 2)].formed  # the healthy neighbour formed


def test_forms_through_the_board(station, run):
    params = forming.FormingParams(cells=((1, 1),), via="board", width_s=100e-9)
    data = run(station, forming.SPEC, params)
    last = data.iloc[-1]
    assert last.formed and last.width_s == 100e-9
    # 100 ns pulses need ~0.37 V more than the 1 ms DC threshold.
    v_form = station.bench.array.population.v_form_V[1, 1] - V_KINETIC_V * math.log(1e-4)
    assert abs(last.v_pulse_V - v_form) < 0.2


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"v_stop_V": 6.0}, LimitError),  # beyond the station's 5 V
        ({"width_s": 1e-4}, LimitError),  # shorter than the 2450's 1 ms
        ({"cells": ((4, 0),)}, LimitError),  # outside the 4 x 4 array
        ({"compliance_max_A": 2e-3}, LimitError),  # beyond the station's 1 mA
        ({"via": "board", "width_s": 10e-9}, LimitError),  # shorter than the board's 50 ns
    ],
)
def test_bad_station_values_fail_before_anything_is_sent(station, nothing_sent, changes, error):
    params = forming.FormingParams(**changes)
    with nothing_sent(station), pytest.raises(error):
        params.check_station(station)


@pytest.mark.parametrize(
    "changes",
    [
        {"v_step_V": 0.0},
        {"v_stop_V": 1.0},  # below v_start_V
        {"compliance_factor": 1.0},
        {"compliance_max_A": 1e-6},  # below compliance_start_A
        {"cells": ((0, 0), (0, 0))},
        {"cells": ((0, -1),)},
        {"cells": ()},
        {"via": "probe"},
        {"formed_threshold_S": 0.0},
        {"v_read_V": 0.0},
        {"v_step_V": 1e-9},  # billions of pulses: refused, without building the ramp
        {"compliance_factor": 1.0 + 1e-9},
    ],
)
def test_bad_values_fail_when_made(changes):
    with pytest.raises(ValueError):
        forming.FormingParams(**changes)


def test_board_via_needs_a_board(smu_only_station, station, nothing_sent):
    with nothing_sent(station), pytest.raises(ValueError, match="no array board"):
        forming.FormingParams(via="board").check_station(smu_only_station)


def test_cells_from_text_and_lists():
    assert forming.FormingParams(cells="0,0; 1,2").cells == ((0, 0), (1, 2))
    from_cli = forming.FormingParams.from_mapping({"cells": "0,0; 1,2", "via": "board"})
    assert from_cli.cells == ((0, 0), (1, 2)) and from_cli.via == "board"
    assert forming.FormingParams(cells=[[3, 1]]).cells == ((3, 1),)
    from_numpy = forming.FormingParams(cells=np.argwhere(np.eye(2, dtype=bool))).cells
    assert from_numpy == ((0, 0), (1, 1)) and type(from_numpy[0][0]) is int


def test_abort_before_start_sends_no_pulse(station):
    ctx = RunContext(station)
    ctx.abort.set()
    with pytest.raises(Aborted):
        forming.SPEC.run(ctx, forming.FormingParams())
    assert ctx.dataframe().empty
    assert station.bench.array.max_voltage_seen_V.max() == 0
    assert not station.smu.output_enabled


def test_abort_while_running_stops_between_pulses_with_outputs_off(station):
    abort = threading.Event()
    seen = []

    def progress(fraction: float, what: str) -> None:
        seen.append(fraction)
        if len(seen) == 3:
            abort.set()

    ctx = RunContext(station, abort=abort, progress=progress)
    with pytest.raises(Aborted):
        forming.SPEC.run(ctx, forming.FormingParams(cells=((0, 0), (1, 1))))
    assert len(ctx.dataframe()) == 3
    assert not station.smu.output_enabled


def test_through_run_protocol(station, tmp_path):
    pytest.importorskip("rramlab.run_log")
    from rramlab.runner import run_protocol

    result = run_protocol(station, "forming", {"v_step_V": "0.1"}, out_dir=tmp_path)
    assert result.data.formed.iloc[-1]
    with pytest.raises(LimitError):
        run_protocol(station, "forming", {"v_stop_V": "9"}, out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
