"""CrossbarParams: defaults inside the published ranges, validation names the field."""

import dataclasses

import pytest

from rramlab.sim.params import CrossbarParams


def test_defaults_match_reference_ranges():
    p = CrossbarParams()
    # Usable multilevel window 0.5-35 uS must lie inside the reachable range.
    assert p.g_floor_S < 0.5e-6 and p.g_ceiling_S > 35e-6
    assert 2.5 <= p.v_form_V <= 3.5
    assert 0.8 <= p.v_set_V <= 1.5
    assert 1.0 <= p.v_reset_V <= 1.8
    assert p.opamp_gbw_Hz == 16e6 and p.opamp_clamp_V == 0.4
    # LRS 5-20 kohm at compliance 50-200 uA.
    for i_cc in (50e-6, 200e-6):
        r_lrs = p.v_set_compliance_V / i_cc
        assert 5e3 <= r_lrs <= 20e3


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("v_set_V", -1.0, "v_set_V must be >= 0"),
        ("iv_v0_V", 0.0, "iv_v0_V must be > 0"),
        ("read_noise_rel", float("nan"), "read_noise_rel must be finite"),
        ("g_floor_S", 1.0, "g_pristine_S < g_floor_S < g_ceiling_S"),
        ("frac_stuck_low", 0.999, "must not exceed 1"),
        ("opamp_gain", "high", "opamp_gain must be a number"),
    ],
)
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises((ValueError, TypeError), match=message):
        CrossbarParams().replace(**{field: value})


def test_replace_rejects_unknown_fields_by_name():
    with pytest.raises(TypeError, match="v_sett_V"):
        CrossbarParams().replace(v_sett_V=1.0)


def test_ideal_turns_every_random_effect_off_and_keeps_physics():
    ideal = CrossbarParams.ideal()
    default = CrossbarParams()
    assert ideal.read_noise_rel == 0 and ideal.c2c_sigma_hrs == 0 and ideal.drift_nu == 0
    assert ideal.frac_stuck_low == ideal.frac_stuck_high == ideal.frac_unformable == 0
    assert ideal.v_set_V == default.v_set_V and ideal.iv_v0_V == default.iv_v0_V


def test_every_field_is_documented_beside_its_definition():
    import inspect

    import rramlab.sim.params as module

    lines = inspect.getsource(module.CrossbarParams).splitlines()
    for f in dataclasses.fields(CrossbarParams):
        line = next(ln for ln in lines if ln.strip().startswith(f"{f.name}:"))
        assert "#" in line, f"CrossbarParams.{f.name} has no comment saying what it is"


def test_aging_accelerates_with_temperature():
    p = CrossbarParams()
    assert p.aging_acceleration() == pytest.approx(1.0)
    hot = p.replace(temperature_K=358.15)
    assert hot.aging_acceleration() > 100  # 85 C vs 27 C at 1 eV
