"""Station safety limits: values beyond them are refused with a message naming them."""

import pytest

from rramlab.errors import LimitError
from rramlab.limits import SafetyLimits


def test_values_within_limits_pass_through():
    limits = SafetyLimits(max_voltage_V=3.0, max_current_A=1e-3, max_pulse_width_s=1e-3)
    assert limits.check_voltage(-3.0) == -3.0
    assert limits.check_current(5e-4) == 5e-4
    assert limits.check_pulse_width(1e-6) == 1e-6


@pytest.mark.parametrize(
    ("method", "value", "message"),
    [
        ("check_voltage", 3.5, "voltage 3.5 V exceeds the station's safety limit max_voltage_V=3"),
        ("check_voltage", float("nan"), "voltage must be finite"),
        ("check_current", -2e-3, "max_current_A=0.001 A"),
        ("check_pulse_width", 2e-3, "max_pulse_width_s"),
        ("check_pulse_width", 0.0, "pulse width must be > 0"),
    ],
)
def test_values_beyond_limits_raise_limit_error(method, value, message):
    limits = SafetyLimits(max_voltage_V=3.0, max_current_A=1e-3, max_pulse_width_s=1e-3)
    with pytest.raises(LimitError, match=message):
        getattr(limits, method)(value)


def test_limit_error_is_a_value_error():
    with pytest.raises(ValueError):
        SafetyLimits().check_voltage(1e3)


@pytest.mark.parametrize("field", ["max_voltage_V", "max_current_A", "max_pulse_width_s"])
def test_limits_themselves_are_validated(field):
    with pytest.raises(ValueError, match=field):
        SafetyLimits(**{field: -1.0})
