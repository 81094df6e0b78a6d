"""Station files (docs/station-file.md): checked before anything is opened, with errors
naming the file and the field; opened through the real drivers, on the simulated bench
when the file says so; every output off and every instrument closed on the way out."""

from __future__ import annotations

import copy
import json
import re
import time
import tomllib
from pathlib import Path

import pytest
import yaml

import rramlab.drivers
import rramlab.sim.visa_backend as visa_backend
from rramlab.clock import VirtualClock, WallClock
from rramlab.drivers.array_board import ArrayBoard
from rramlab.drivers.keithley2450 import Keithley2450
from rramlab.drivers.source_meter import SourceMeter
from rramlab.errors import InstrumentError, StationFileError
from rramlab.station import open_station
from rramlab.station_schema import load_station_file, parse_station

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.*"))
RECORDED = Path(rramlab.drivers.__file__).parent / "recorded"
LIMITS = {"max_voltage_V": 4.0, "max_current_A": 1e-3, "max_pulse_width_s": 0.1}


def write(tmp_path: Path, data: dict, name: str = "station.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sim_channels(bench, model: str) -> list:
    """The simulated channels (with ``output_on``) of a bench's SMU ``model``."""
    smu = bench.smus[model]
    if hasattr(smu, "channels"):  # 2636B
        return list(smu.channels)
    if hasattr(smu, "states"):  # B2902A
        return [state.channel for state in smu.states]
    return [smu.channel]  # 2450


def sim_station(driver: str, resource: str, smu_role: str, *, board: bool = True) -> dict:
    instruments = {"smu1": {"driver": driver, "resource": resource, "backend": "@rramsim"}}
    roles = {"smu": smu_role}
    if board:
        instruments["board"] = {"driver": "array_board", "resource": "rramsim://"}
        roles["board"] = "board"
    return {
        "station": "sim",
        "limits": LIMITS,
        "simulation": {"seed": 5, "rows": 8, "cols": 8},
        "instruments": instruments,
        "roles": roles,
    }


# ------------------------------------------------------------------ examples


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_file_is_a_valid_station(path):
    spec = load_station_file(path)
    assert spec.smu.instrument in spec.instruments
    json.dumps(spec.description())  # JSON-safe run metadata


def test_the_stations_in_the_format_document_are_valid_and_alike(tmp_path):
    text = (ROOT / "docs" / "station-file.md").read_text()
    blocks = re.findall(r"```(yaml|toml)\n(.*?)```", text, flags=re.S)
    descriptions = []
    for language, block in blocks:
        if "[roles]" not in block and "roles:" not in block:
            continue  # a fragment
        path = tmp_path / f"station.{language}"
        path.write_text(block)
        description = load_station_file(path).description()
        description.pop("file")
        descriptions.append(description)
    assert len(descriptions) == 2 and descriptions[0] == descriptions[1]


def test_the_examples_cover_yaml_toml_a_board_and_a_probe_station():
    specs = {p.name: load_station_file(p) for p in EXAMPLES}
    assert {p.suffix for p in EXAMPLES} >= {".yaml", ".toml"}
    assert any(s.board is None for s in specs.values())
    assert any(s.simulation is not None for s in specs.values())


def test_the_simulated_example_opens_and_measures():
    with open_station(ROOT / "docs" / "examples" / "simulated.yaml") as station:
        assert station.simulated and station.seed == 3
        assert isinstance(station.clock, VirtualClock) and station.clock is station.bench.clock
        assert station.smu is station.instruments["k2636"].smua
        assert station.array_shape == (16, 16)
        station.smu.source_voltage(0.2, current_limit_A=1e-4)
        station.smu.enable_output()
        reading = station.smu.measure()
        assert reading.voltage_V == pytest.approx(0.2, abs=1e-3)
        assert 0 < reading.current_A < 1e-6  # a pristine (unformed) cell barely conducts
        assert json.loads(json.dumps(station.description)) == station.description
        assert station.description["roles"] == {"smu": "k2636.smua", "board": "board"}
        assert station.description["wiring"] == {"board_smu": "k2636.smua"}
        assert station.description["file"] == str(ROOT / "docs" / "examples" / "simulated.yaml")


# ------------------------------------------------------------------ every driver on the sim


@pytest.mark.parametrize(
    ("driver", "resource", "role", "model", "index"),
    [
        ("keithley2450", "GPIB0::18::INSTR", "smu1", "2450", 0),
        ("keithley2450", "USB0::0x05E6::0x2450::04365704::INSTR", "smu1", "2450", 0),
        ("keithley2636b", "GPIB0::26::INSTR", "smu1.smua", "2636B", 0),
        ("keithley2636b", "GPIB0::26::INSTR", "smu1.smub", "2636B", 1),
        ("keysight_b2902a", "GPIB0::23::INSTR", "smu1.ch1", "B2902A", 0),
        ("keysight_b2902a", "GPIB0::23::INSTR", "smu1.ch2", "B2902A", 1),
    ],
)
def test_each_driver_and_channel_opens_on_the_simulated_bench(
    tmp_path, driver, resource, role, model, index
):
    path = write(tmp_path, sim_station(driver, resource, role))
    with open_station(path) as station:
        assert set(station.bench.smus) == {model}  # the bench has what the file needs
        assert isinstance(station.smu, SourceMeter)
        station.smu.source_voltage(0.2, current_limit_A=1e-4)
        station.smu.enable_output()
        reading = station.smu.measure()
        assert reading.voltage_V == pytest.approx(0.2, abs=1e-3)
        assert 0 < reading.current_A < 1e-6
        # the role's channel is the one sourcing on the bench, and only it
        on = [channel.output_on for channel in sim_channels(station.bench, model)]
        assert on == [i == index for i in range(len(on))]
        assert station.board.identity.model.upper().startswith("RRAMSIM")
    assert not any(channel.output_on for channel in sim_channels(station.bench, model))


def test_the_board_routes_the_smu_to_the_cell_protocols_ask_for(tmp_path):
    path = write(tmp_path, sim_station("keithley2636b", "GPIB0::26::INSTR", "smu1.smub"))
    with open_station(path) as station:
        station.connect_smu_to(2, 5)
        assert station.bench.board.route == (0, 2, 5)
        assert station.description["wiring"] == {"board_smu": "smu1.smub"}  # the default


def test_a_probe_station_has_no_board_and_one_cell(tmp_path):
    path = write(tmp_path, sim_station("keithley2450", "GPIB0::18::INSTR", "smu1", board=False))
    with open_station(path) as station:
        assert station.board is None
        assert station.array_shape == (1, 1)
        assert list(station.instruments) == ["smu1"]
        station.connect_smu_to(0, 0)
        with pytest.raises(ValueError, match=r"no array board.*not \(0, 1\)"):
            station.connect_smu_to(0, 1)
        station.smu.source_voltage(0.2, current_limit_A=1e-4)
        with station.smu.output():
            reading = station.smu.measure()  # the probed device, an unformed cell
        assert reading.voltage_V == pytest.approx(0.2, abs=1e-3)
        assert 0 < reading.current_A < 1e-6
        assert station.description["roles"]["board"] is None
        assert station.description["wiring"] == {}


def test_simulation_settings_reach_the_bench(tmp_path):
    data = sim_station("keithley2450", "GPIB0::18::INSTR", "smu1")
    data["simulation"] = {
        "seed": 9,
        "rows": 4,
        "cols": 6,
        "access": "passive",
        "ideal": True,
        "params": {"r_wire_ohm": 1.73, "temperature_K": 358},
    }
    with open_station(write(tmp_path, data)) as station:
        assert station.seed == 9 and station.bench.seed == 9
        assert station.array_shape == (4, 6)
        array = station.bench.array
        assert array.access == "passive"
        assert array.params.r_wire_ohm == 1.73 and array.params.temperature_K == 358
        assert array.params.read_noise_rel == 0.0  # ideal
        assert station.description["simulation"]["params"] == {
            "r_wire_ohm": 1.73,
            "temperature_K": 358.0,
        }


def test_same_seed_same_readings(tmp_path):
    path = write(tmp_path, sim_station("keysight_b2902a", "GPIB0::23::INSTR", "smu1.ch1"))
    readings = []
    for _ in range(2):
        with open_station(path) as station:
            station.smu.source_voltage(0.2, current_limit_A=1e-4)
            station.smu.enable_output()
            readings.append(station.smu.measure())
    assert readings[0] == readings[1]


def test_yaml_and_toml_describe_the_same_station(tmp_path):
    data = sim_station("keithley2636b", "GPIB0::26::INSTR", "smu1.smua")
    data["instruments"]["smu1"]["options"] = {"timeout_s": 5, "name": "left 2636B"}
    toml = """
station = "sim"
[limits]
max_voltage_V = 4.0
max_current_A = 1e-3
max_pulse_width_s = 0.1
[simulation]
seed = 5
rows = 8
cols = 8
[instruments.smu1]
driver = "keithley2636b"
resource = "GPIB0::26::INSTR"
backend = "@rramsim"
options = { timeout_s = 5, name = "left 2636B" }
[instruments.board]
driver = "array_board"
resource = "rramsim://"
[roles]
smu = "smu1.smua"
board = "board"
"""
    (tmp_path / "station.toml").write_text(toml)
    from_yaml = load_station_file(write(tmp_path, data)).description()
    from_toml = load_station_file(tmp_path / "station.toml").description()
    assert from_yaml.pop("file") != from_toml.pop("file")
    assert from_yaml == from_toml
    with open_station(tmp_path / "station.toml") as station:
        assert station.smu.name == "left 2636B smua"
        assert station.instruments["smu1"].connection.resource.timeout == 5000


def test_a_station_without_simulation_uses_the_wall_clock(tmp_path):
    data = {
        "limits": LIMITS,
        "instruments": {
            "k2450": {
                "driver": "keithley2450",
                "resource": "GPIB0::18::INSTR",
                "backend": f"{RECORDED / 'keithley2450.yaml'}@sim",  # pyvisa-sim recording
            }
        },
        "roles": {"smu": "k2450"},
    }
    with open_station(write(tmp_path, data, "bench-7.yaml")) as station:
        assert isinstance(station.clock, WallClock)
        assert station.seed is None and station.bench is None and not station.simulated
        assert station.name == "bench-7"  # the file name when the file gives none
        assert isinstance(station.smu, Keithley2450)
        assert station.description["simulation"] is None
        assert station.identities()["k2450"].startswith("KEITHLEY INSTRUMENTS MODEL 2450")


# ------------------------------------------------------------------ closing


def two_channel_station(tmp_path) -> Path:
    data = sim_station("keithley2636b", "GPIB0::26::INSTR", "smu1.smua")
    return write(tmp_path, data)


@pytest.mark.parametrize("error", [RuntimeError("protocol failed"), KeyboardInterrupt()])
def test_leaving_with_an_error_turns_every_output_off_and_closes(tmp_path, error):
    with pytest.raises(type(error)):
        with open_station(two_channel_station(tmp_path)) as station:
            k2636 = station.instruments["smu1"]
            for channel in (k2636.smua, k2636.smub):
                channel.source_voltage(0.1, current_limit_A=1e-4)
                channel.enable_output()
            station.connect_smu_to(1, 1)
            channels = sim_channels(station.bench, "2636B")
            assert all(c.output_on for c in channels)
            raise error
    assert not any(c.output_on for c in channels)
    assert station.bench.board.route is None  # the board's SMU switch is open
    assert not station.board.link.port.is_open
    with pytest.raises(Exception, match=r"[Ii]nvalid session|closed"):
        k2636.connection.resource.query("print(1)")
    assert visa_backend.bench_for(visa_backend.BenchSpec(bench=station.bench_name)) is None
    station.close()  # a second close does nothing


def test_2450_output_is_off_on_the_wire_after_close(tmp_path):
    path = write(tmp_path, sim_station("keithley2450", "GPIB0::18::INSTR", "smu1"))
    with open_station(path) as station:
        import pyvisa

        spy = pyvisa.ResourceManager(f"bench={station.bench_name}@rramsim")
        probe = spy.open_resource("GPIB0::18::INSTR", read_termination="\n")
        station.smu.source_voltage(0.1, current_limit_A=1e-4)
        station.smu.enable_output()
        assert probe.query(":OUTP?") == "1"
    assert probe.query(":OUTP?") == "0"
    probe.close()


# ------------------------------------------------------------------ failing to open


@pytest.fixture
def opened(monkeypatch):
    """Record the benches registered and the 2450s and boards opened, with every 2450
    switching its output on as it opens (an instrument found sourcing)."""
    record = {"benches": [], "smus": [], "boards": []}
    register = visa_backend.register_bench

    def spy_register(name, bench):
        record["benches"].append(bench)
        register(name, bench)

    class Live2450(Keithley2450):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            record["smus"].append(self)
            self.source_voltage(0.1, current_limit_A=1e-4)
            self.enable_output()

    class Board(ArrayBoard):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            record["boards"].append(self)

    monkeypatch.setattr(visa_backend, "register_bench", spy_register)
    monkeypatch.setattr("rramlab.drivers.keithley2450.Keithley2450", Live2450)
    monkeypatch.setattr("rramlab.drivers.array_board.ArrayBoard", Board)
    return record


def test_an_instrument_that_fails_to_open_closes_the_others(tmp_path, opened):
    data = sim_station("keithley2450", "GPIB0::18::INSTR", "smu1")
    data["instruments"]["k2636"] = {
        "driver": "keithley2636b",
        "resource": "GPIB0::99::INSTR",  # nothing there
        "backend": "@rramsim",
    }
    with pytest.raises(InstrumentError, match="GPIB0::99::INSTR") as caught:
        open_station(write(tmp_path, data))
    assert any("instruments.k2636" in note for note in caught.value.__notes__)
    (bench,) = opened["benches"]
    (smu,) = opened["smus"]
    (board,) = opened["boards"]
    assert not sim_channels(bench, "2450")[0].output_on  # turned off before closing
    with pytest.raises(Exception, match=r"[Ii]nvalid session|closed"):
        smu.connection.resource.query("*IDN?")
    assert not board.link.port.is_open
    assert bench.board.route is None


def test_a_malformed_file_opens_nothing(tmp_path, opened):
    data = sim_station("keithley2450", "GPIB0::18::INSTR", "smu1")
    data["roles"]["smu"] = "smu2"
    with pytest.raises(StationFileError, match=r"roles\.smu"):
        open_station(write(tmp_path, data))
    assert opened == {"benches": [], "smus": [], "boards": []}


def test_a_board_that_fails_to_open_closes_the_smu(tmp_path, opened):
    data = {
        "limits": LIMITS,
        "instruments": {
            "k2450": {
                "driver": "keithley2450",
                "resource": "GPIB0::18::INSTR",
                "backend": f"{RECORDED / 'keithley2450.yaml'}@sim",
            },
            "board": {"driver": "array_board", "resource": str(tmp_path / "no-such-port")},
        },
        "roles": {"smu": "k2450", "board": "board"},
    }
    with pytest.raises(Exception, match="no-such-port") as caught:
        open_station(write(tmp_path, data))
    assert any("instruments.board" in note for note in caught.value.__notes__)
    (smu,) = opened["smus"]
    assert opened["boards"] == []
    with pytest.raises(Exception, match=r"[Ii]nvalid session|closed"):
        smu.connection.resource.query("*IDN?")


# ------------------------------------------------------------------ malformed files

BASE = {
    "station": "bench",
    "limits": dict(LIMITS),
    "instruments": {
        "k2636": {
            "driver": "keithley2636b",
            "resource": "GPIB0::26::INSTR",
            "backend": "@py",
            "options": {"timeout_s": 10},
        },
        "board": {"driver": "array_board", "resource": "/dev/ttyACM0"},
    },
    "roles": {"smu": "k2636.smua", "board": "board"},
    "wiring": {"board_smu": "k2636.smua"},
}
SIM = {
    **copy.deepcopy(BASE),
    "simulation": {"seed": 1},
    "instruments": {
        "k2636": {"driver": "keithley2636b", "resource": "GPIB0::26::INSTR", "backend": "@rramsim"},
        "board": {"driver": "array_board", "resource": "rramsim://"},
    },
}


def change(base: dict, edit: str, value=None, *, drop: bool = False) -> dict:
    """``base`` with the field at dotted path ``edit`` set to ``value`` (or removed)."""
    data = copy.deepcopy(base)
    *parents, last = edit.split("|") if "|" in edit else edit.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    if drop:
        del node[last]
    else:
        node[last] = value
    return data


CASES = [
    # top level
    (change(BASE, "limts", {}), "limts", "unknown field; expected one of station, limits"),
    (change(BASE, "limts", {}), "limts", "(did you mean 'limits'?)"),
    (change(BASE, "limits", drop=True), "limits", "missing: the station's safety limits"),
    (change(BASE, "instruments", drop=True), "instruments", "missing"),
    (change(BASE, "roles", drop=True), "roles", "missing"),
    (change(BASE, "station", ""), "station", "expected a non-empty text, got ''"),
    (change(BASE, "station", 7), "station", "expected a non-empty text, got 7"),
    # limits
    (change(BASE, "limits.max_voltage_V", -1), "limits.max_voltage_V", "> 0 (V), got -1"),
    (change(BASE, "limits.max_voltage_V", 0), "limits.max_voltage_V", "> 0 (V), got 0"),
    (change(BASE, "limits.max_current_A", float("inf")), "limits.max_current_A", "got inf"),
    (change(BASE, "limits.max_current_A", float("nan")), "limits.max_current_A", "got nan"),
    (change(BASE, "limits.max_current_A", True), "limits.max_current_A", "a number (A), got true"),
    (change(BASE, "limits.max_voltage_V", "4 V"), "limits.max_voltage_V", "got '4 V'"),
    (change(BASE, "limits.max_pulse_width_s", drop=True), "limits.max_pulse_width_s", "missing"),
    (change(BASE, "limits.max_volts", 1), "limits.max_volts", "(did you mean 'max_voltage_V'?)"),
    (change(BASE, "limits", [1, 2]), "limits", "expected a mapping of limits, got a list"),
    # instruments
    (change(BASE, "instruments", {}), "instruments", "at least one instrument"),
    (change(BASE, "instruments", ["k2636"]), "instruments", "got a list"),
    (
        change(BASE, "instruments.k2636.driver", "keithly2636b"),
        "instruments.k2636.driver",
        "expected one of keithley2450, keithley2636b, keysight_b2902a, array_board, "
        "got 'keithly2636b' (did you mean 'keithley2636b'?)",
    ),
    (change(BASE, "instruments.k2636.driver", None), "instruments.k2636.driver", "empty value"),
    (change(BASE, "instruments.k2636.driver", drop=True), "instruments.k2636.driver", "missing"),
    (
        change(BASE, "instruments.k2636.resource", drop=True),
        "instruments.k2636.resource",
        "missing",
    ),
    (change(BASE, "instruments.k2636.resource", 26), "instruments.k2636.resource", "got 26"),
    (change(BASE, "instruments.k2636.resource", "  "), "instruments.k2636.resource", "non-empty"),
    (change(BASE, "instruments.k2636.optoins", {}), "instruments.k2636.optoins", "'options'?"),
    (change(BASE, "instruments.k2636", "GPIB0::26"), "instruments.k2636", "got 'GPIB0::26'"),
    (change(BASE, "instruments.k2636.backend", ""), "instruments.k2636.backend", "non-empty"),
    (
        change(BASE, "instruments.board.backend", "@py"),
        "instruments.board.backend",
        "an array_board has no pyvisa backend",
    ),
    (
        change(BASE, "instruments.k2636.options.timeout_s", -1),
        "instruments.k2636.options.timeout_s",
        "expected a finite number > 0 (s), got -1",
    ),
    (
        change(BASE, "instruments.k2636.options.tile", 1),
        "instruments.k2636.options.tile",
        "unknown field; expected one of timeout_s, name",
    ),
    (
        change(BASE, "instruments.board.options", {"tile": -1}),
        "instruments.board.options.tile",
        "expected an integer >= 0, got -1",
    ),
    (change(BASE, "instruments.k2636.options", 10), "instruments.k2636.options", "got 10"),
    (
        change(BASE, "instruments|k.26", {"driver": "keithley2450", "resource": "x"}),
        "instruments.k.26",
        "an instrument name is letters",
    ),
    (
        change(
            BASE,
            "instruments.k2450",
            {"driver": "keithley2450", "resource": "GPIB0::26::INSTR", "backend": "@py"},
        ),
        "instruments.k2450.resource",
        "'GPIB0::26::INSTR' is already the resource of instruments.k2636",
    ),
    (
        change(BASE, "instruments.k2636.backend", "@rramsim"),
        "instruments.k2636.backend",
        "this reaches the simulator: add a simulation section",
    ),
    (
        change(BASE, "instruments.board.resource", "rramsim://"),
        "instruments.board.resource",
        "this reaches the simulator",
    ),
    # roles
    (change(BASE, "roles.smu", drop=True), "roles.smu", "missing: the SMU channel protocols use"),
    (change(BASE, "roles.bord", "board"), "roles.bord", "(did you mean 'board'?)"),
    (change(BASE, "roles.smu", "k26.smua"), "roles.smu", "no instrument 'k26' (did you mean"),
    (
        change(BASE, "roles.smu", "k2636"),
        "roles.smu",
        "a keithley2636b has two channels: write k2636.smua or k2636.smub, got 'k2636'",
    ),
    (
        change(BASE, "roles.smu", "k2636.smuc"),
        "roles.smu",
        "expected k2636.smua or k2636.smub, got 'k2636.smuc'",
    ),
    (change(BASE, "roles.smu", "board"), "roles.smu", "got 'board', an array_board"),
    (change(BASE, "roles.smu", 3), "roles.smu", "expected an SMU channel (k2636.smua, k2636.smub)"),
    (change(BASE, "roles.board", "k2636"), "roles.board", "got 'k2636', a keithley2636b"),
    (change(BASE, "roles.board", "bord"), "roles.board", "got 'bord' (did you mean 'board'?)"),
    (change(BASE, "roles.board", drop=True), "roles.board", "missing: instruments.board is an"),
    # wiring
    (
        change(BASE, "wiring.board_smu", "k2636.smub"),
        "wiring.board_smu",
        "wired to k2636.smub, but roles.smu is k2636.smua",
    ),
    (change(BASE, "wiring.board_smu", "k9"), "wiring.board_smu", "no instrument 'k9'"),
    (change(BASE, "wiring.gate", "k2636.smub"), "wiring.gate", "expected one of board_smu"),
    (change(BASE, "wiring", "k2636.smua"), "wiring", "expected a mapping of wiring"),
    (
        change(change(BASE, "roles.board", drop=True), "instruments.board", drop=True),
        "wiring.board_smu",
        "the station has no board",
    ),
    # simulation
    (change(SIM, "simulation.seed", -1), "simulation.seed", "expected an integer >= 0, got -1"),
    (change(SIM, "simulation.seed", 1.5), "simulation.seed", "got 1.5"),
    (change(SIM, "simulation.seed", True), "simulation.seed", "got true"),
    (change(SIM, "simulation.rows", 0), "simulation.rows", "expected an integer >= 1, got 0"),
    (change(SIM, "simulation.colums", 8), "simulation.colums", "(did you mean 'cols'?)"),
    (change(SIM, "simulation.access", "2T2R"), "simulation.access", "1T1R, passive, got '2T2R'"),
    (change(SIM, "simulation.ideal", "yes"), "simulation.ideal", "true or false, got 'yes'"),
    (
        change(SIM, "simulation.params", {"r_wires_ohm": 1}),
        "simulation.params.r_wires_ohm",
        "a field of rramlab.sim.params.CrossbarParams (did you mean 'r_wire_ohm'?)",
    ),
    (
        change(SIM, "simulation.params", {"v_set_V": -1}),
        "simulation.params.v_set_V",
        "expected a value >= 0, got -1.0",
    ),
    (change(SIM, "simulation.params", {"v_set_V": "1"}), "simulation.params.v_set_V", "number"),
    (change(SIM, "simulation", 3), "simulation", "expected a mapping of simulation settings"),
    (
        change(SIM, "instruments.k2636.backend", "@py"),
        "instruments.k2636.backend",
        "every SMU is simulated: expected '@rramsim', got '@py'",
    ),
    (
        change(SIM, "instruments.k2636.backend", drop=True),
        "instruments.k2636.backend",
        "expected '@rramsim', got an empty value",
    ),
    (
        change(SIM, "instruments.k2636.backend", "seed=3@rramsim"),
        "instruments.k2636.backend",
        "expected '@rramsim'",
    ),
    (
        change(SIM, "instruments.board.resource", "rramsim://?seed=3"),
        "instruments.board.resource",
        "expected 'rramsim://' (seed, rows, cols go in simulation)",
    ),
    (
        change(SIM, "instruments.k2636b", dict(SIM["instruments"]["k2636"])),
        "instruments.k2636b",
        "the simulated bench has one keithley2636b, already instruments.k2636",
    ),
]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [pytest.param(*case, id=f"{case[1]}-{i}") for i, case in enumerate(CASES)],
)
def test_malformed_station_files_name_the_file_field_and_expectation(
    tmp_path, monkeypatch, data, field, message
):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, data)
    with pytest.raises(StationFileError) as caught:
        load_station_file("station.yaml")
    error = caught.value
    assert error.path == "station.yaml"
    fields = {where: what for where, what in error.problems}
    assert field in fields, str(error)
    assert message in fields[field], str(error)
    assert f"station.yaml: {field}: {fields[field]}" in str(error).splitlines()


def test_the_valid_bases_of_the_malformed_cases_are_valid(tmp_path):
    assert load_station_file(write(tmp_path, BASE)).board == "board"
    assert load_station_file(write(tmp_path, SIM)).simulation.seed == 1


def test_a_station_file_error_is_a_value_error_listing_every_problem(tmp_path):
    data = change(BASE, "instruments.k2636.driver", "keithly2636b")
    data["limits"]["max_current_A"] = -1e-3
    data["roles"]["board"] = "bord"
    with pytest.raises(ValueError) as caught:
        load_station_file(write(tmp_path, data))
    assert len(str(caught.value).splitlines()) == 3
    assert [where for where, _ in caught.value.problems] == [
        "limits.max_current_A",
        "instruments.k2636.driver",
        "roles.board",
    ]  # roles.smu names the malformed k2636: reported once, at its driver


def test_the_documented_error_lines_are_what_the_checks_say(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    documented = (ROOT / "docs" / "station-file.md").read_text()
    block = re.search(r"```text\n(.*?)```", documented, flags=re.S).group(1).splitlines()
    first = change(BASE, "instruments.k2636.driver", "keithly2636b")
    first["instruments"]["k2636"]["optoins"] = first["instruments"]["k2636"].pop("options")
    first["limits"]["max_current_A"] = -1e-3
    second = change(BASE, "roles.smu", "k2636")
    second.pop("wiring")
    lines = []
    for data in (first, second):
        write(tmp_path, data)
        with pytest.raises(StationFileError) as caught:
            load_station_file("station.yaml")
        lines += str(caught.value).splitlines()
    for line in block[:4]:
        assert line in lines
    (tmp_path / "station.yaml").write_text("station: x\nlimits:\n  max_voltage_V: 4: 5\n")
    with pytest.raises(StationFileError, match=r"^station.yaml: line 3, column \d+: YAML syntax"):
        load_station_file("station.yaml")


# ------------------------------------------------------------------ syntax


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "s.yaml",
            "station: x\nlimits: {max_voltage_V: 1\n",
            "s.yaml: line 3, column 1: YAML syntax error: expected ',' or '}'",
        ),
        ("s.yaml", "station: x\nroles:\n  smu: a\n   bad: b\n", "s.yaml: line 4, column 7: YAML"),
        (
            "s.yaml",
            "station: x\nlimits: {}\nstation: y\n",
            "s.yaml: line 3, column 1: YAML syntax error: duplicate key 'station' "
            "(first at line 1)",
        ),
        ("s.yml", "a: !!python/object:os.system {}\n", "s.yml: line 1, column 4: YAML syntax"),
        (
            "s.toml",
            'station = "x"\n[limits]\nmax_voltage_V = \n',
            "s.toml: line 3, column 17: TOML",
        ),
        ("s.toml", "a = 1\na = 2\n", "s.toml: line 2, column 6: TOML syntax error"),
        ("s.json", "{}", "s.json: expected a .yaml, .yml or .toml station file, got '.json'"),
        ("s.yaml", "", "s.yaml: the file is empty"),
        ("s.yaml", "- station\n", "s.yaml: expected a mapping of station fields"),
        ("s.toml", "", "s.toml: limits: missing"),
        ("s.yaml", b"station: \xff\n", "s.yaml: not UTF-8 text"),
    ],
)
def test_syntax_errors_name_the_file_and_line(tmp_path, monkeypatch, name, text, message):
    monkeypatch.chdir(tmp_path)
    if isinstance(text, bytes):
        (tmp_path / name).write_bytes(text)
    else:
        (tmp_path / name).write_text(text)
    with pytest.raises(StationFileError) as caught:
        load_station_file(name)
    assert message in str(caught.value)


@pytest.mark.parametrize("open_", ["[", "{a: ", "[{b: "])
def test_deep_flow_nesting_is_refused_at_once(tmp_path, open_):
    """PyYAML's scanner takes time quadratic in the nesting of ``[``/``{`` (5,000
    levels: seconds, longer on a busy machine): refused before it starts, while a
    station file's own nesting, brackets in quotes and comments, still read."""
    path = tmp_path / "s.yaml"
    path.write_text("station: x\nlimits: " + open_ * 5000 + "\n")
    t0 = time.perf_counter()
    with pytest.raises(StationFileError, match="nested too deeply"):
        load_station_file(path)
    assert time.perf_counter() - t0 < 0.5
    path.write_text(
        yaml.safe_dump(BASE) + f"# {'[' * 500}\nnote: '{'{' * 500}'\nother: [[[1]], {{a: [2]}}]\n"
    )
    with pytest.raises(StationFileError) as caught:  # read, then checked field by field
        load_station_file(path)
    assert "nested too deeply" not in str(caught.value)


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_station(tmp_path / "nowhere.yaml")


def test_yaml_numbers_in_exponent_form_are_numbers(tmp_path):
    path = tmp_path / "s.yaml"
    text = yaml.safe_dump(BASE).replace("0.001", "1e-3")
    assert "1e-3" in text
    path.write_text(text)
    assert load_station_file(path).limits.max_current_A == 1e-3


def test_toml_station_files_are_checked_alike(tmp_path):
    (tmp_path / "s.toml").write_text(
        """
[limits]
max_voltage_V = 4.0
max_current_A = 1e-3
max_pulse_width_s = 0.1
[instruments.k2636]
driver = "keithly2636b"
resource = "GPIB0::26::INSTR"
[roles]
smu = "k2636.smua"
"""
    )
    with pytest.raises(
        StationFileError, match=r"s\.toml: instruments\.k2636\.driver: expected one"
    ):
        load_station_file(tmp_path / "s.toml")
    assert tomllib.loads((ROOT / "docs/examples/probe-station-2636b.toml").read_text())


def test_parse_station_takes_parsed_content():
    spec = parse_station(copy.deepcopy(BASE), source="inline")
    assert spec.source == "inline" and spec.file is None
    assert spec.description()["instruments"]["board"] == {
        "driver": "array_board",
        "resource": "/dev/ttyACM0",
        "backend": None,
        "options": {},
    }
    with pytest.raises(StationFileError, match=r"^inline: roles: missing"):
        parse_station({"limits": LIMITS, "instruments": BASE["instruments"]}, source="inline")
