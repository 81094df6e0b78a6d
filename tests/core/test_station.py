"""The Station (rramlab/station.py): the default simulated station, its roles, and
closing: every output off and every instrument closed, whatever happened."""

from __future__ import annotations

import json
import logging

import pytest

import rramlab.sim.visa_backend as visa_backend
from rramlab.clock import VirtualClock
from rramlab.drivers.array_board import ArrayBoard
from rramlab.drivers.keithley2450 import Keithley2450
from rramlab.drivers.keithley2636b import Keithley2636B
from rramlab.drivers.keysight_b2900 import KeysightB2902A
from rramlab.drivers.source_meter import SourceMeter
from rramlab.errors import StationFileError
from rramlab.limits import SafetyLimits
from rramlab.station import DEFAULT_SIM_LIMITS, Station, open_simulated_station, open_station


def test_the_default_station_is_the_simulated_bench_with_every_role():
    with open_station() as station:
        assert isinstance(station.smu, Keithley2450)
        assert isinstance(station.board, ArrayBoard)
        assert isinstance(station.clock, VirtualClock) and station.clock is station.bench.clock
        assert station.limits == DEFAULT_SIM_LIMITS
        assert station.simulated and station.seed == 0
        assert station.array_shape == (16, 16)
        assert set(station.instruments) == {"smu", "board"}
        identities = station.identities()
        assert identities["smu"].startswith("KEITHLEY INSTRUMENTS MODEL 2450")
        assert identities["board"].startswith("RRAMLAB RRAMSIM")
        assert station.smu.name == "Keithley 2450" and station.board.name == "array board"
        description = json.loads(json.dumps(station.description))
        assert description == station.description
        assert description["simulation"]["seed"] == 0
        assert description["roles"] == {"smu": "smu", "board": "board"}
        assert description["limits"]["max_voltage_V"] == DEFAULT_SIM_LIMITS.max_voltage_V


def test_the_default_station_measures_the_cell_the_board_routes_to():
    with open_station(seed=1, rows=4, cols=4) as station:
        station.board.set_gate(1.2)
        station.board.pulse(3.5, 10e-6, 2, 3)  # form cell (2, 3) only
        station.smu.source_voltage(0.2, current_limit_A=1e-4)
        with station.smu.output():
            station.connect_smu_to(2, 3)
            formed = station.smu.measure().current_A
            station.connect_smu_to(0, 0)
            pristine = station.smu.measure().current_A
        assert station.bench.board.route == (0, 0, 0)
        assert formed > 100 * pristine  # a formed cell conducts; an unformed one barely


@pytest.mark.parametrize(
    ("smu", "driver", "channel"),
    [
        ("2450", Keithley2450, None),
        ("2636B", Keithley2636B, "smua"),
        ("B2902A", KeysightB2902A, "ch1"),
    ],
)
def test_the_default_station_takes_each_simulated_smu(smu, driver, channel):
    with open_station(smu=smu, seed=4, rows=8, cols=2) as station:
        instrument = station.instruments["smu"]
        assert isinstance(instrument, driver)
        expected = instrument if channel is None else getattr(instrument, channel)
        assert station.smu is expected and isinstance(station.smu, SourceMeter)
        assert set(station.bench.smus) == {smu}
        assert station.array_shape == (8, 2) and station.seed == 4
        station.smu.source_voltage(0.1, current_limit_A=1e-4)
        with station.smu.output():
            assert station.smu.measure().voltage_V == pytest.approx(0.1, abs=1e-3)


def test_open_simulated_station_takes_limits_and_a_name():
    limits = SafetyLimits(max_voltage_V=2.0, max_current_A=1e-4, max_pulse_width_s=0.01)
    settings = {"seed": 2, "rows": 4, "cols": 4, "smu": "2450"}
    with open_simulated_station(settings, limits=limits, name="tiny") as station:
        assert station.name == "tiny" and station.description["station"] == "tiny"
        assert station.limits == limits and station.smu.limits == limits
        assert station.board.limits == limits


def test_numpy_integers_are_accepted_as_settings():
    np = pytest.importorskip("numpy")
    with open_station(seed=np.int64(3), rows=np.int32(4)) as station:
        assert station.seed == 3 and station.array_shape == (4, 16)


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"sead": 1}, TypeError, "unknown simulation setting(s) ['sead']"),
        ({"smu": "2400"}, ValueError, "unknown simulated SMU '2400'"),
        ({"rows": 0}, StationFileError, "open_station(): simulation.rows: expected an integer"),
        ({"seed": -1}, StationFileError, "simulation.seed: expected an integer >= 0, got -1"),
        ({"seed": "3"}, StationFileError, "simulation.seed: expected an integer >= 0, got '3'"),
    ],
)
def test_bad_simulation_settings_are_refused_before_anything_opens(
    monkeypatch, settings, error, message
):
    registered = []
    monkeypatch.setattr(visa_backend, "register_bench", lambda *a: registered.append(a))
    with pytest.raises(error) as caught:
        open_station(**settings)
    assert message in str(caught.value)
    assert registered == []


def test_a_file_and_simulation_settings_do_not_mix(tmp_path):
    with pytest.raises(TypeError, match="come from the station file"):
        open_station(tmp_path / "station.yaml", seed=3)


def test_two_stations_are_two_benches():
    with open_station(seed=1) as first, open_station(seed=1) as second:
        assert first.bench is not second.bench
        assert first.bench_name != second.bench_name
        first.smu.source_voltage(0.1, current_limit_A=1e-4)
        first.smu.enable_output()
        assert first.bench.smus["2450"].channel.output_on
        assert not second.bench.smus["2450"].channel.output_on


def test_same_seed_same_bytes():
    readings = []
    for _ in range(2):
        with open_station(seed=7) as station:
            station.smu.source_voltage(0.2, current_limit_A=1e-4)
            with station.smu.output():
                readings.append([station.smu.measure() for _ in range(3)])
    assert readings[0] == readings[1]


@pytest.mark.parametrize("error", [ValueError("bad parameter"), KeyboardInterrupt()])
def test_an_exception_in_the_with_block_leaves_every_output_off(error):
    with pytest.raises(type(error)):
        with open_station(smu="2636B") as station:
            instrument = station.instruments["smu"]
            for channel in (instrument.smua, instrument.smub):
                channel.source_voltage(0.2, current_limit_A=1e-4)
                channel.enable_output()
            station.connect_smu_to(3, 3)
            simulated = station.bench.smus["2636B"].channels
            assert all(c.output_on for c in simulated)
            raise error
    assert not any(c.output_on for c in simulated)
    assert station.bench.board.route is None
    assert set(station.bench.board.lines) == {"ground"}
    assert not station.board.link.port.is_open
    with pytest.raises(Exception, match=r"[Ii]nvalid session|closed"):
        instrument.connection.resource.query("print(1)")
    spec = visa_backend.BenchSpec(bench=station.bench_name)
    assert visa_backend.bench_for(spec) is None  # unregistered


def test_close_is_idempotent_and_outputs_off_does_not_close():
    station = open_station()
    station.smu.source_voltage(0.1, current_limit_A=1e-4)
    station.smu.enable_output()
    station.all_outputs_off()
    assert not station.bench.smus["2450"].channel.output_on
    assert abs(station.smu.measure().voltage_V) < 1e-3  # still open, output off: no volts
    station.close()
    station.close()


class FakeInstrument:
    def __init__(self, log: list, name: str, *, fail: bool = False) -> None:
        self.log, self.name, self.fail = log, name, fail

    def close(self) -> None:
        self.log.append(self.name)
        if self.fail:
            raise OSError(f"{self.name} is gone")


def test_one_instrument_failing_to_close_does_not_keep_the_others_open(caplog):
    closed: list[str] = []
    station = Station(
        name="fake",
        limits=SafetyLimits(),
        clock=VirtualClock(),
        instruments={
            "a": FakeInstrument(closed, "a", fail=True),
            "b": FakeInstrument(closed, "b"),
        },
    )
    with caplog.at_level(logging.WARNING, logger="rramlab.station"):
        with station:
            pass
    assert closed == ["a", "b"]
    assert "closing a failed: a is gone" in caplog.text


def test_a_station_without_a_board_reaches_only_the_probed_device():
    station = Station(name="probe", limits=SafetyLimits(), clock=VirtualClock())
    assert station.array_shape == (1, 1) and not station.simulated
    station.connect_smu_to(0, 0)
    with pytest.raises(ValueError, match="station 'probe' has no array board"):
        station.connect_smu_to(1, 0)
