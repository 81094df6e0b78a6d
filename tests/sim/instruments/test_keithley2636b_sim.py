"""The simulated Keithley 2636B, driven by plain TSP typed from the 2600B manual (no
rramlab driver): what it measures follows the probed cell's physics, and its errors,
timing and identity are the instrument's."""

import numpy as np
import pytest

from rramlab.clock import VirtualClock
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.cell import cell_current
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.instruments.keithley2636b import IDENTITY, SPEC_2636B, Keithley2636BSim
from rramlab.sim.message import MessageInstrument
from rramlab.sim.params import CrossbarParams
from rramlab.sim.probe import CellProbe

IDEAL = CrossbarParams.ideal()
COMMAND_S = SPEC_2636B.command_time_s


class Bench:
    """A 1x2 crossbar: smua probes cell (0, 0), formed and partly reset; smub probes
    cell (0, 1), left pristine."""

    def __init__(self, params: CrossbarParams = IDEAL, seed: int = 0) -> None:
        self.clock = VirtualClock()
        self.array = Crossbar(1, 2, params=params, clock=self.clock, seed=seed)
        self.array.pulse(3.5, 1e-3, rows=0, cols=0, compliance_A=50e-6)  # form
        self.array.pulse(-1.4, 1e-3, rows=0, cols=0)  # part-way RESET: a mid state
        probes = [CellProbe(self.array, 0, 0), CellProbe(self.array, 0, 1)]
        self.smu = Keithley2636BSim(probes, self.clock, np.random.default_rng(seed))

    def send(self, *messages: str) -> list[str]:
        for message in messages:
            self.smu.write(message)
        return list(iter(self.smu.read, None))

    def numbers(self, message: str) -> list[float]:
        (reply,) = self.send(message)
        return [float(x) for x in reply.replace(",", "\t").split("\t") if x.strip()]

    def g(self, col: int = 0) -> float:
        return float(self.array.conductance_S[0, col])

    def i(self, v: float, col: int = 0) -> float:
        """The cell's current (A) at ``v`` volts, from the model."""
        return float(cell_current(self.g(col), v, self.array.params))

    def errors(self) -> list[int]:
        return [e.code for e in self.smu.session.errors.entries()]


VOLTAGE_SOURCE = (
    "smua.source.func = smua.OUTPUT_DCVOLTS",
    "smua.source.limiti = 1e-3",
    "smua.source.levelv = 0.2",
    "smua.measure.nplc = 1",
    "smua.source.output = smua.OUTPUT_ON",
)


@pytest.fixture
def bench() -> Bench:
    return Bench()


def test_is_a_message_instrument_with_the_2636b_identity(bench):
    assert isinstance(bench.smu, MessageInstrument)
    assert bench.send("*IDN?") == ["Keithley Instruments Inc., Model 2636B, 4308079, 3.2.2"]
    assert bench.send(
        "print(localnode.model)",
        "print(localnode.serialno, localnode.revision)",
        "print(localnode.linefreq)",
    ) == ["2636B", "4308079\t3.2.2", "5.00000e+01"]
    assert IDENTITY == bench.send("*IDN?")[0]


def test_the_bench_builds_a_2636b():
    bench = SimulatedBench(smu_models=("2636B",), rows=2, cols=2)
    smu = bench.smus["2636B"]
    smu.write("print(localnode.model)")
    assert smu.read() == "2636B"


def test_measure_i_reads_the_cells_conductance_times_voltage(bench):
    bench.send(*VOLTAGE_SOURCE)
    g = bench.g()
    assert 1e-6 < g < 100e-6  # formed: a conducting mid state
    (current,) = bench.numbers("print(smua.measure.i())")
    assert current == pytest.approx(float(cell_current(g, 0.2, IDEAL)), rel=1e-3)
    assert current == pytest.approx(g * 0.2, rel=1e-3)  # g is defined at the 0.2 V read
    i, v = bench.numbers("print(smua.measure.iv())")
    assert v == pytest.approx(0.2, abs=1e-4)
    assert i == pytest.approx(current, rel=1e-3)
    (r,) = bench.numbers("print(smua.measure.r())")
    assert r == pytest.approx(1 / g, rel=2e-3)
    assert bench.send("print(smua.source.compliance)") == ["false"]
    assert bench.errors() == []


def test_measurement_matches_a_noisy_realistic_array_within_read_noise():
    bench = Bench(params=CrossbarParams(), seed=3)
    bench.send(*VOLTAGE_SOURCE)
    g_read = float(bench.array.read_conductance(rows=0, cols=0)[0, 0])
    (current,) = bench.numbers("print(smua.measure.i())")
    assert current / 0.2 == pytest.approx(g_read, rel=0.1)


def test_output_off_measures_nothing_and_smub_is_independent(bench):
    bench.send(*VOLTAGE_SOURCE)
    (i_b,) = bench.numbers("print(smub.measure.i())")  # smub: output off, pristine cell
    assert abs(i_b) < 1e-12
    bench.send(
        "smub.source.levelv = 2",
        "smub.source.limiti = 1e-6",
        "smub.source.output = smub.OUTPUT_ON",
    )
    (i_b,) = bench.numbers("print(smub.measure.i())")
    assert i_b == pytest.approx(bench.i(2.0, col=1), rel=1e-2)  # nanosiemens: pristine
    assert bench.numbers("print(smua.source.levelv, smub.source.levelv)") == [0.2, 2.0]
    (i_a,) = bench.numbers("print(smua.measure.i())")
    assert i_a == pytest.approx(bench.i(0.2), rel=1e-3)
    bench.send("smua.source.output = smua.OUTPUT_OFF")
    assert bench.send("print(smua.source.output, smub.source.output)") == [
        "0.00000e+00\t1.00000e+00"
    ]


def test_compliance_clamps_the_current_and_is_reported(bench):
    bench.send(*VOLTAGE_SOURCE)
    bench.send("smua.source.limiti = 1e-7", "smua.source.levelv = 0.5")
    assert bench.i(0.5) > 1e-6  # unclamped, the cell would carry much more
    (current,) = bench.numbers("print(smua.measure.i())")
    assert current == pytest.approx(1e-7, rel=1e-3)
    assert bench.send("print(smua.source.compliance)") == ["true"]
    (condition,) = bench.numbers("print(status.measurement.instrument.smua.condition)")
    assert int(condition) & 2  # ILMT
    (condition_b,) = bench.numbers("print(status.measurement.instrument.smub.condition)")
    assert not int(condition_b) & 2
    bench.send("smua.source.limiti = 1e-3")
    assert bench.send("print(smua.source.compliance)") == ["false"]


def test_current_source_with_voltage_limit(bench):
    bench.send(
        "smua.source.func = smua.OUTPUT_DCAMPS",
        "smua.source.leveli = 1e-6",
        "smua.source.limitv = 1",
        "smua.source.output = smua.OUTPUT_ON",
    )
    i, v = bench.numbers("print(smua.measure.iv())")
    assert i == pytest.approx(1e-6, rel=1e-3)
    assert bench.i(v) == pytest.approx(1e-6, rel=1e-2)  # the voltage that drives 1 uA


def test_sweep_v_lin_measure_i_stores_the_cells_iv_in_nvbuffer1(bench):
    g = bench.g()
    bench.send("smua.source.limiti = 1e-3", "SweepVLinMeasureI(smua, -0.4, 0.4, 1e-3, 9)")
    readings_and_sources = bench.numbers(
        "printbuffer(1, smua.nvbuffer1.n, smua.nvbuffer1.readings, smua.nvbuffer1.sourcevalues)"
    )
    readings, sources = readings_and_sources[0::2], readings_and_sources[1::2]
    assert sources == pytest.approx(np.linspace(-0.4, 0.4, 9))
    expected = cell_current(g, np.array(sources), IDEAL)
    assert readings == pytest.approx(expected, rel=1e-3, abs=1e-12)
    # The sinh I-V: the chord conductance at 0.4 V exceeds the one at 0.1 V.
    assert readings[-1] / 0.4 > 1.05 * readings[5] / 0.1
    assert bench.numbers("print(smua.nvbuffer1.n)") == [9.0]
    assert bench.send("print(smua.source.output)") == ["0.00000e+00"]  # restored
    timestamps = bench.numbers("printbuffer(1, 9, smua.nvbuffer1.timestamps)")
    assert timestamps[0] == 0.0 and np.all(np.diff(timestamps) > 1e-3)  # settle + measure
    assert bench.errors() == []


def test_sweep_v_list_measure_i(bench):
    g = bench.g()
    bench.send("SweepVListMeasureI(smua, {0.3, -0.1, 0.2, 0.05}, 0, 3)")
    readings = bench.numbers("printbuffer(1, smua.nvbuffer1.n, smua.nvbuffer1)")
    assert readings == pytest.approx(cell_current(g, np.array([0.3, -0.1, 0.2]), IDEAL), rel=1e-3)


def test_list_sweep_through_the_trigger_model(bench):
    g = bench.g()
    levels = [0.05, 0.1, 0.15, 0.2]
    bench.send(
        "smua.reset()",
        "smua.source.func = smua.OUTPUT_DCVOLTS",
        "smua.source.limiti = 1e-3",
        "smua.nvbuffer1.clear() smua.nvbuffer2.clear()",
        "smua.trigger.source.listv({0.05, 0.1, 0.15, 0.2})",
        "smua.trigger.source.action = smua.ENABLE",
        "smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2)",
        "smua.trigger.measure.action = smua.ENABLE",
        "smua.trigger.count = 4",
        "smua.source.output = smua.OUTPUT_ON",
        "smua.trigger.initiate()",
        "waitcomplete()",
    )
    data = bench.numbers("printbuffer(1, 4, smua.nvbuffer1.readings, smua.nvbuffer2.readings)")
    currents, voltages = data[0::2], data[1::2]
    assert voltages == pytest.approx(levels, abs=1e-4)
    assert currents == pytest.approx(cell_current(g, np.array(levels), IDEAL), rel=1e-3)
    # End of sweep: back to the idle (programmed) level, 0 V.
    assert bench.numbers("print(smua.measure.v())")[0] == pytest.approx(0.0, abs=1e-4)
    assert bench.errors() == []


def test_pulse_train_through_the_trigger_model_uses_its_timers(bench):
    bench.send(
        "smua.source.limiti = 1e-3",
        "smua.source.output = smua.OUTPUT_ON",
        "smua.trigger.source.linearv(0.2, 0.2, 5)",
        "smua.trigger.source.action = smua.ENABLE",
        "smua.trigger.measure.i(smua.nvbuffer1)",
        "smua.trigger.measure.action = smua.ENABLE",
        "smua.measure.nplc = 0.01",
        "smua.trigger.endpulse.action = smua.SOURCE_IDLE",
        "trigger.timer[1].delay = 0.01",  # period
        "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID",
        "trigger.timer[2].delay = 0.002",  # width
        "smua.trigger.endpulse.stimulus = trigger.timer[2].EVENT_ID",
        "smua.trigger.count = 5",
    )
    start = bench.clock.now()
    bench.send("smua.trigger.initiate()")
    assert bench.clock.now() - start == pytest.approx(5 * 0.01 + COMMAND_S, rel=1e-6)
    readings = bench.numbers("printbuffer(1, 5, smua.nvbuffer1)")
    assert readings == pytest.approx([bench.i(0.2)] * 5, rel=1e-3)


def test_pulse_v_measure_i_factory_function(bench):
    bench.send("smua.source.limiti = 1e-3", "smua.measure.nplc = 0.01")  # 0.2 ms reading
    start = bench.clock.now()
    bench.send("PulseVMeasureI(smua, 0, 0.2, 1e-3, 4e-3, 3)")
    assert bench.clock.now() - start == pytest.approx(3 * 5e-3 + COMMAND_S, rel=1e-9)
    readings = bench.numbers("printbuffer(1, smua.nvbuffer1.n, smua.nvbuffer1)")
    assert readings == pytest.approx([bench.i(0.2)] * 3, rel=1e-3)
    # A reading longer than ton stretches the pulse: the measurement ends it.
    bench.send("smua.measure.nplc = 1")
    start = bench.clock.now()
    bench.send("PulseVMeasureI(smua, 0, 0.2, 1e-3, 4e-3, 1)")
    busy = 1 / 50 + SPEC_2636B.measure_overhead_s
    assert bench.clock.now() - start == pytest.approx(busy + 4e-3 + COMMAND_S, rel=1e-9)


def test_reading_buffers_count_append_mode_and_collected_columns(bench):
    bench.send(*VOLTAGE_SOURCE)
    buf = "smua.nvbuffer1"
    bench.send(f"{buf}.clear() {buf}.collectsourcevalues = 1 {buf}.collecttimestamps = 1")
    bench.send("smua.measure.count = 3 smua.measure.interval = 0.1")
    start = bench.clock.now()
    bench.send(f"smua.measure.i({buf})")
    busy = 1 / 50 + SPEC_2636B.measure_overhead_s
    assert bench.clock.now() - start == pytest.approx(2 * 0.1 + busy + COMMAND_S, rel=1e-9)
    assert bench.numbers(f"print({buf}.n, #{buf})") == [3.0, 3.0]
    bench.send("smua.source.levelv = 0.1")
    bench.send(f"smua.measure.i({buf})")  # append mode off: a new storage replaces
    assert bench.numbers(f"print({buf}.n)") == [3.0]
    reading, via_index, source, stamp = bench.numbers(
        f"print({buf}.readings[2], {buf}[2], {buf}.sourcevalues[2], {buf}.timestamps[2])"
    )
    assert reading == via_index == pytest.approx(bench.i(0.1), rel=1e-3)
    assert source == 0.1 and stamp == pytest.approx(0.1, rel=1e-9)
    bench.send(f"{buf}.appendmode = 1")  # only an empty buffer takes it
    assert bench.errors() == [-221]
    bench.send(f"{buf}.clear() {buf}.appendmode = 1 smua.measure.i({buf}) smua.measure.i({buf})")
    assert bench.numbers(f"print({buf}.n)") == [6.0]
    bench.send("smua.measure.count = 1")
    bench.send("smua.nvbuffer2.clear() smua.measure.i(smua.nvbuffer2)")
    assert bench.send("print(smua.nvbuffer2.sourcevalues[1], smua.nvbuffer2.readings[9])") == [
        "nil\tnil"  # source values were not collected; index 9 holds nothing
    ]


# --- errors ---------------------------------------------------------------------------
def test_out_of_range_settings_queue_222_and_change_nothing(bench):
    bench.send(*VOLTAGE_SOURCE)
    bench.send(
        "smua.source.levelv = 500",
        "smua.source.limiti = 10",
        "smua.measure.nplc = 100",
        "smua.source.func = 7",
        "smua.source.rangev = 1000",
    )
    assert bench.errors() == [-222] * 5
    assert bench.numbers(
        "print(smua.source.levelv, smua.source.limiti, smua.measure.nplc, smua.source.func)"
    ) == [0.2, 1e-3, 1.0, 1.0]
    bench.send("errorqueue.clear()")
    bench.send("smua.source.levelv = 500 smua.source.levelv = 0.3")  # the chunk goes on
    assert bench.errors() == [-222]
    assert bench.numbers("print(smua.source.levelv)") == [0.3]


def test_fixed_source_range_limits_the_level(bench):
    bench.send("smua.source.rangev = 1", "smua.source.levelv = 5")
    assert bench.errors() == [-222]
    assert bench.numbers("print(smua.source.rangev, smua.source.autorangev)") == [2.0, 0.0]
    bench.send("smua.source.autorangev = smua.AUTORANGE_ON", "smua.source.levelv = 5")
    assert bench.numbers("print(smua.source.levelv, smua.source.rangev)") == [5.0, 20.0]


def test_errorqueue_next_format_and_runtime_errors(bench):
    bench.send("smua.source.levelv = 500", "smua.source.foo = 1", "smua.measure.q()")
    assert bench.send("print(errorqueue.count)") == ["3.00000e+00"]
    first, second, third = (bench.send("print(errorqueue.next())")[0] for _ in range(3))
    code, message, severity, node = first.split("\t")
    assert (float(code), float(severity), float(node)) == (-222, 20, 1)
    assert message.startswith("Parameter data out of range")
    assert second.split("\t")[:2] == [
        "-2.86000e+02",
        "TSP Runtime error at line 1: cannot create member `foo' in smua.source",
    ]
    assert second.split("\t")[0] == third.split("\t")[0]  # q() is a nil field: -286
    assert bench.send("print(errorqueue.next())") == [
        "0.00000e+00\tQueue Is Empty\t0.00000e+00\t1.00000e+00"
    ]


def test_overflow_on_a_fixed_range_reads_9_91e37(bench):
    bench.send(*VOLTAGE_SOURCE)
    bench.send("smua.measure.rangei = 1e-9")
    (current,) = bench.numbers("print(smua.measure.i())")
    assert current == pytest.approx(9.91e37)


def test_binary_data_formats_are_refused_not_faked(bench):
    bench.send("format.data = format.REAL32")
    assert bench.errors() == [-221]
    assert bench.send("print(format.data)") == ["1.00000e+00"]


def test_reset_turns_the_output_off_and_restores_defaults(bench):
    bench.send(*VOLTAGE_SOURCE, "smua.measure.nplc = 5", "reset()")
    assert bench.numbers(
        "print(smua.source.output, smua.source.levelv, smua.measure.nplc, smua.source.limiti)"
    ) == [0.0, 0.0, 1.0, 0.1]


# --- timing ---------------------------------------------------------------------------
def test_nplc_sets_the_integration_time_on_the_bench_clock(bench):
    bench.send(*VOLTAGE_SOURCE)
    durations = {}
    for nplc in (0.01, 1, 10):
        bench.send(f"smua.measure.nplc = {nplc}")
        start = bench.clock.now()
        bench.send("x = smua.measure.i()")
        durations[nplc] = bench.clock.now() - start
    overhead = SPEC_2636B.measure_overhead_s + COMMAND_S
    for nplc, seconds in durations.items():
        assert seconds == pytest.approx(nplc / 50 + overhead, rel=1e-6)


def test_a_statement_costs_the_command_time_and_delay_holds_the_pulse(bench):
    bench.send(*VOLTAGE_SOURCE)
    start = bench.clock.now()
    bench.send("x = 1 y = 2")  # touches no channel: no time
    assert bench.clock.now() == start
    bench.send("smua.source.levelv = 0.3 delay(0.25) smua.source.levelv = 0.2")
    assert bench.clock.now() - start == pytest.approx(0.25 + 2 * COMMAND_S, rel=1e-9)
    bench.send("timer.reset() delay(1.5) print(timer.measure.t())")
    assert bench.numbers("print(timer.measure.t())") == pytest.approx([1.5], rel=1e-9)


def test_delay_holds_the_bias_so_a_longer_pulse_sets_the_cell_further():
    """Just below the SET threshold, progress grows with the time at the level."""
    changes = []
    for width in (1e-4, 1e-1):
        bench = Bench()
        bench.array.pulse(-2.0, 1e-3, rows=0, cols=0)  # deep RESET
        g0 = bench.g()
        bench.send(
            "smua.source.limiti = 1e-4",
            "smua.source.output = smua.OUTPUT_ON",
            f"smua.source.levelv = 0.9 delay({width}) smua.source.levelv = 0",
        )
        changes.append(bench.g() / g0)
    assert changes[0] < changes[1]
    assert changes[1] > 1.05


def test_a_script_pulse_sets_a_reset_cell_under_compliance():
    bench = Bench()
    bench.array.pulse(-2.0, 1e-3, rows=0, cols=0)
    g_before = bench.g()
    bench.send(
        "loadandrunscript",
        "smua.source.limiti = 50e-6",
        "smua.source.output = smua.OUTPUT_ON",
        "smua.source.levelv = 1.8",
        "delay(1e-3)",
        "smua.source.levelv = 0",
        "smua.source.output = smua.OUTPUT_OFF",
        "endscript",
    )
    assert bench.errors() == []
    g_after = bench.g()
    assert g_after > 10 * g_before
    # A compliance-limited SET lands near I_cc / v_set_compliance.
    assert g_after == pytest.approx(50e-6 / IDEAL.v_set_compliance_V, rel=0.3)
