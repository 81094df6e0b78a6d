"""The SourceMeter role checks every value before a driver hook (and so the wire) sees
it, and its output context manager always ends with the output off."""

import numpy as np
import pytest

from rramlab.drivers.source_meter import (
    Identity,
    InstrumentRanges,
    Measurement,
    PulseResult,
    SourceMeter,
    SweepResult,
)
from rramlab.errors import LimitError
from rramlab.limits import SafetyLimits

RANGES = InstrumentRanges(
    max_voltage_V=21.0,
    max_current_A=0.1,
    voltage_ranges_V=(0.2, 2.0, 20.0),
    current_ranges_A=(1e-6, 1e-3, 0.1),
    min_current_limit_A=1e-9,
    min_voltage_limit_V=0.02,
    nplc_range=(0.01, 10.0),
    min_pulse_width_s=100e-6,
)


class RecordingSmu(SourceMeter):
    """Records which hooks ran with which values."""

    ranges = RANGES

    def __init__(self, limits=None):
        super().__init__(
            limits=limits or SafetyLimits(max_voltage_V=5.0, max_current_A=1.0), name="fake SMU"
        )
        self.calls = []

    @property
    def identity(self):
        return Identity.parse("ACME,MODEL 1,123,1.0")

    def reset(self):
        self.calls.append(("reset",))

    def check_errors(self):
        pass

    def _source_voltage(self, level_V, current_limit_A, range_V):
        self.calls.append(("source_voltage", level_V, current_limit_A, range_V))

    def _source_current(self, level_A, voltage_limit_V, range_A):
        self.calls.append(("source_current", level_A, voltage_limit_V, range_A))

    def _configure_measurement(self, nplc, current_range_A):
        self.calls.append(("configure", nplc, current_range_A))

    def _enable_output(self, on):
        self.calls.append(("output", on))

    def _measure(self):
        return Measurement(1.0, 1e-6, False)

    def _sweep_voltage(self, levels_V, current_limit_A, delay_s):
        self.calls.append(("sweep", levels_V.tolist(), current_limit_A, delay_s))
        return SweepResult(levels_V, levels_V, levels_V * 1e-6)

    def _pulse_voltage(self, level_V, width_s, current_limit_A, base_V):
        self.calls.append(("pulse", level_V, width_s, current_limit_A, base_V))
        return PulseResult(level_V, width_s, 1e-6)


def test_valid_settings_reach_the_hooks_with_the_smallest_fitting_range():
    smu = RecordingSmu()
    smu.source_voltage(1.5, current_limit_A=1e-4)
    smu.source_current(-5e-4, voltage_limit_V=2.0)
    smu.configure_measurement(nplc=2, current_range_A=1e-3)
    assert smu.calls == [
        ("source_voltage", 1.5, 1e-4, 2.0),
        ("source_current", -5e-4, 2.0, 1e-3),
        ("configure", 2.0, 1e-3),
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.source_voltage(6.0, current_limit_A=1e-4), "safety limit max_voltage_V=5"),
        (lambda s: s.source_voltage(1.0, current_limit_A=0.5), "beyond fake SMU's 0.1 A"),
        (lambda s: s.source_voltage(1.0, current_limit_A=0.0), "below fake SMU's smallest"),
        (lambda s: s.source_voltage(1.0, current_limit_A=1e-4, range_V=5.0), "not one of"),
        (lambda s: s.source_voltage(1.0, current_limit_A=1e-4, range_V=0.2), "cannot hold"),
        (lambda s: s.configure_measurement(nplc=50), "nplc 50 is outside"),
        (lambda s: s.sweep_voltage([0, 1, 7], current_limit_A=1e-4), "sweep voltage 7"),
        (lambda s: s.sweep_voltage([0, 1], current_limit_A=1e-4, delay_s=-1), "delay_s"),
        (lambda s: s.pulse_voltage(1.0, 10e-6, current_limit_A=1e-4), "shortest is 0.0001"),
        (lambda s: s.pulse_voltage(1.0, 2.0, current_limit_A=1e-4), "max_pulse_width_s"),
        (lambda s: s.source_voltage(float("inf"), current_limit_A=1e-4), "must be finite"),
    ],
)
def test_bad_values_are_refused_before_any_hook_runs(call, message):
    smu = RecordingSmu()
    with pytest.raises(LimitError, match=message):
        call(smu)
    assert smu.calls == []


def test_non_numbers_are_type_errors():
    smu = RecordingSmu()
    with pytest.raises(TypeError, match="source voltage must be a number"):
        smu.source_voltage("1 V", current_limit_A=1e-4)
    assert smu.calls == []


def test_output_context_turns_the_output_off_even_when_the_body_fails():
    smu = RecordingSmu()
    with pytest.raises(RuntimeError), smu.output():
        assert smu.output_enabled
        raise RuntimeError("lost the probe")
    assert smu.calls == [("output", True), ("output", False)]
    assert not smu.output_enabled


def test_linear_sweep_is_a_list_sweep_of_evenly_spaced_levels():
    smu = RecordingSmu()
    result = smu.sweep_voltage_linear(0.0, 1.0, 5, current_limit_A=1e-4, delay_s=1e-3)
    assert smu.calls == [("sweep", [0.0, 0.25, 0.5, 0.75, 1.0], 1e-4, 1e-3)]
    np.testing.assert_allclose(result.current_A, np.linspace(0, 1, 5) * 1e-6)
    with pytest.raises(ValueError, match="points must be an integer >= 2"):
        smu.sweep_voltage_linear(0.0, 1.0, 1, current_limit_A=1e-4)


def test_identity_parsing_refuses_what_is_not_an_idn_string():
    ident = Identity.parse("KEITHLEY INSTRUMENTS,MODEL 2450,04365704,1.6.4c\n")
    assert ident.model == "MODEL 2450" and ident.firmware == "1.6.4c"
    with pytest.raises(ValueError, match="identification string"):
        Identity.parse("garbage")
