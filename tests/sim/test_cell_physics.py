"""Cell physics of the crossbar model: forming, SET, RESET, incremental pulses, noise,
defects, relaxation, drift and wear. Each test states a physical fact."""

import numpy as np
import pytest

from rramlab.sim.cell import iv_shape, transistor_current_limit
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.params import CrossbarParams

IDEAL = CrossbarParams.ideal()


def formed_array(rows=1, cols=1, params=IDEAL, seed=0, **kw) -> Crossbar:
    """An array whose cells were formed with a 50 uA limit, then fully reset."""
    x = Crossbar(rows, cols, params=params, seed=seed, **kw)
    for v in np.arange(2.0, 4.0, 0.1):
        x.pulse(v, 1e-3, compliance_A=50e-6)
    x.pulse(-2.0, 1e-3)
    return x


# --- I-V -----------------------------------------------------------------------------
def test_iv_is_odd_sinh_and_equals_g_at_the_read_reference():
    p = CrossbarParams()
    v = np.linspace(-1.5, 1.5, 31)
    shape = iv_shape(v, p)
    np.testing.assert_allclose(shape, -iv_shape(-v, p))
    assert iv_shape(p.v_read_ref_V, p) == pytest.approx(p.v_read_ref_V)
    # Superlinear: the chord conductance rises with |V|.
    chord = shape[v > 0] / v[v > 0]
    assert np.all(np.diff(chord) > 0)
    assert iv_shape(1.0, p) / 1.0 > 1.5 * iv_shape(0.1, p) / 0.1


def test_read_returns_g_times_v_for_a_noise_free_cell():
    x = formed_array()
    g = x.conductance_S[0, 0]
    i = x.read(v_read_V=0.2)
    assert i[0, 0] == pytest.approx(g * 0.2, rel=1e-6)


# --- forming -------------------------------------------------------------------------
def test_pristine_cell_conducts_nanosiemens_and_does_not_form_below_threshold():
    x = Crossbar(1, 1, params=IDEAL, seed=0)
    assert x.read_conductance()[0, 0] < 5e-9
    for _ in range(10):
        x.pulse(IDEAL.v_form_V - 0.5, 1e-3, compliance_A=100e-6)
    assert not x.formed[0, 0]
    assert x.conductance_S[0, 0] < 5e-9


def test_pristine_cell_forms_above_threshold_and_then_conducts():
    x = Crossbar(1, 1, params=IDEAL, seed=0)
    x.pulse(IDEAL.v_form_V + 0.2, 1e-3, compliance_A=100e-6)
    assert x.formed[0, 0]
    assert x.read_conductance()[0, 0] > 10e-6


def test_forming_threshold_varies_from_cell_to_cell_and_ramps_find_it():
    p = CrossbarParams.ideal(v_form_sigma_V=0.15)
    x = Crossbar(8, 8, params=p, seed=3)
    formed_at = np.full(x.shape, np.nan)
    for v in np.arange(2.4, 3.8, 0.02):
        x.pulse(v, 1e-3, compliance_A=50e-6)
        newly = x.formed & np.isnan(formed_at)
        formed_at[newly] = v
    assert not np.isnan(formed_at).any()
    assert np.std(formed_at) > 0.08  # cells differ
    # Each cell forms close to its own sampled threshold (kinetics shift all alike).
    corr = np.corrcoef(formed_at.ravel(), x.population.v_form_V.ravel())[0, 1]
    assert corr > 0.95


def test_shorter_pulses_need_more_voltage_to_form():
    def forming_voltage(width_s):
        x = Crossbar(1, 1, params=IDEAL, seed=0)
        for v in np.arange(2.0, 5.0, 0.01):
            x.pulse(v, width_s, compliance_A=50e-6)
            if x.formed[0, 0]:
                return v
        raise AssertionError("never formed")

    assert forming_voltage(100e-9) > forming_voltage(1e-3) + 0.3


def test_forming_without_current_limit_breaks_the_cell_down():
    x = Crossbar(1, 1, params=IDEAL, access="passive", seed=0)
    x.pulse(3.5, 1e-3)  # no compliance: nothing stops the filament
    assert x.stuck[0, 0]
    assert x.conductance_S[0, 0] == pytest.approx(IDEAL.g_breakdown_S)
    x.pulse(-2.5, 1e-3)
    assert x.conductance_S[0, 0] == pytest.approx(IDEAL.g_breakdown_S)


# --- SET -----------------------------------------------------------------------------
@pytest.mark.parametrize("i_cc_A", [5e-6, 10e-6, 20e-6, 40e-6, 80e-6])
def test_set_conductance_tracks_compliance(i_cc_A):
    x = formed_array()
    x.pulse(1.5, 1e-3, compliance_A=i_cc_A)
    assert x.conductance_S[0, 0] == pytest.approx(i_cc_A / IDEAL.v_set_compliance_V, rel=1e-6)


def test_set_compliance_from_the_1t1r_gate_voltage():
    x = formed_array()
    for v_gate in (0.8, 1.0, 1.2):
        x.pulse(-2.0, 1e-3)
        x.pulse(1.5, 1e-3, v_gate_V=v_gate)
        expected = transistor_current_limit(v_gate, IDEAL) / IDEAL.v_set_compliance_V
        assert x.conductance_S[0, 0] == pytest.approx(expected, rel=1e-6)


def test_a_gate_below_the_transistor_threshold_isolates_the_cell():
    x = formed_array()
    g = x.conductance_S[0, 0]
    i = x.pulse(2.0, 1e-3, v_gate_V=IDEAL.transistor_vth_V - 0.1)
    assert i[0, 0] == 0.0
    assert x.conductance_S[0, 0] == g
    pristine = Crossbar(1, 1, params=IDEAL, seed=0)
    pristine.pulse(4.0, 1e-3, v_gate_V=0.0)
    assert not pristine.formed[0, 0]


def test_set_is_abrupt_above_threshold():
    x = formed_array()
    g0 = x.conductance_S[0, 0]
    x.pulse(IDEAL.v_set_V - 0.3, 1e-3, compliance_A=50e-6)
    small = x.conductance_S[0, 0]
    x.pulse(IDEAL.v_set_V + 0.3, 1e-3, compliance_A=50e-6)
    assert small - g0 < 0.02 * (50e-6 - g0)  # 0.3 V below: barely moves
    assert x.conductance_S[0, 0] == pytest.approx(50e-6, rel=1e-3)  # above: all the way


def test_compliance_caps_the_measured_current_during_set():
    x = formed_array()
    i = x.pulse(1.5, 1e-3, compliance_A=30e-6)
    assert abs(i[0, 0]) <= 30e-6 * (1 + 1e-12)
    assert abs(i[0, 0]) == pytest.approx(30e-6, rel=1e-6)


# --- RESET ---------------------------------------------------------------------------
def test_reset_conductance_falls_with_amplitude():
    levels = []
    for amplitude in (1.2, 1.3, 1.4, 1.5, 1.6):
        x = formed_array()
        x.pulse(1.5, 1e-3, compliance_A=100e-6)
        x.pulse(-amplitude, 1e-3)
        levels.append(x.conductance_S[0, 0])
    assert np.all(np.diff(levels) < 0)
    assert levels[0] / levels[-1] > 10


def test_reset_deepens_with_pulse_width():
    levels = []
    for width in (1e-7, 1e-6, 1e-5, 1e-4):
        x = formed_array()
        x.pulse(1.5, 1e-3, compliance_A=100e-6)
        x.pulse(-1.6, width)
        levels.append(x.conductance_S[0, 0])
    assert np.all(np.diff(levels) < 0)


# --- incremental pulses ----------------------------------------------------------------
def test_identical_set_pulses_give_shrinking_steps_soft_bound():
    x = formed_array()
    g = [x.conductance_S[0, 0]]
    for _ in range(30):
        x.pulse(1.1, 1e-6, compliance_A=40e-6)
        g.append(x.conductance_S[0, 0])
    steps = np.diff(g)
    assert np.all(steps > 0)
    assert np.all(np.diff(steps) < 0)  # each step smaller than the last
    assert g[-1] < 40e-6  # approaches, never passes, the compliance-limited state


def test_identical_reset_pulses_give_shrinking_decrements():
    x = formed_array()
    x.pulse(1.5, 1e-3, compliance_A=40e-6)
    ln_g = [np.log(x.conductance_S[0, 0])]
    for _ in range(20):
        x.pulse(-1.5, 1e-6)
        ln_g.append(np.log(x.conductance_S[0, 0]))
    steps = -np.diff(ln_g)
    assert np.all(steps > 0)
    assert np.all(np.diff(steps) < 0)
    assert steps[0] < 0.9 * (ln_g[0] - ln_g[-1])  # gradual: not all in the first pulse


def test_potentiation_and_depression_are_asymmetric():
    """From the same mid-window state, pulses of equal width and a common overdrive move
    ln g by very different amounts up (abrupt SET) and down (gradual RESET)."""

    def first_step(v):
        x = formed_array()
        x.pulse(1.5, 1e-3, compliance_A=10e-6)
        before = np.log(x.conductance_S[0, 0])
        x.pulse(v, 1e-6, compliance_A=100e-6)
        return abs(np.log(x.conductance_S[0, 0]) - before)

    up = first_step(IDEAL.v_set_V + 0.45)
    down = first_step(-(IDEAL.v_reset_V + 0.45))
    assert up > 2 * down or down > 2 * up


# --- noise and variation ---------------------------------------------------------------
def test_read_noise_spread_matches_the_parameter():
    p = CrossbarParams.ideal(read_noise_rel=0.01)
    x = formed_array(params=p)
    x.pulse(1.5, 1e-3, compliance_A=10e-6)
    g = x.conductance_S[0, 0]
    reads = np.array([x.read_conductance()[0, 0] for _ in range(3000)])
    expected = 0.01 * (1 + np.sqrt(p.read_noise_knee_S / g))
    assert np.std(reads) / g == pytest.approx(expected, rel=0.08)
    assert np.mean(reads) == pytest.approx(g, rel=0.005)


def test_read_noise_is_relatively_larger_at_low_conductance():
    p = CrossbarParams.ideal(read_noise_rel=0.01)
    spreads = []
    for i_cc in (1e-6, 30e-6):
        x = formed_array(params=p)
        x.pulse(-2.2, 1e-3)
        x.pulse(1.5, 1e-3, compliance_A=i_cc)
        g = x.conductance_S[0, 0]
        reads = np.array([x.read_conductance()[0, 0] for _ in range(1000)])
        spreads.append(np.std(reads) / g)
    assert spreads[0] > 2 * spreads[1]


def test_cycle_to_cycle_spread_is_wider_in_hrs_than_lrs():
    p = CrossbarParams.ideal(c2c_sigma_hrs=0.3, c2c_sigma_lrs=0.07)
    x = formed_array(params=p)
    hrs, lrs = [], []
    for _ in range(300):
        x.pulse(1.5, 1e-3, compliance_A=150e-6)
        lrs.append(x.conductance_S[0, 0])
        x.pulse(-1.5, 1e-3)
        hrs.append(x.conductance_S[0, 0])
    assert np.std(np.log(hrs)) > 2 * np.std(np.log(lrs))
    assert 0.03 < np.std(np.log(lrs)) < 0.12


def test_device_to_device_spread_of_thresholds_and_rates():
    p = CrossbarParams()
    x = Crossbar(32, 32, params=p, seed=1)
    assert np.std(x.population.v_set_V) == pytest.approx(p.v_set_sigma_V, rel=0.15)
    assert np.std(np.log(x.population.rate)) == pytest.approx(p.kinetic_sigma_log, rel=0.15)


# --- defects -------------------------------------------------------------------------
def test_stuck_cells_never_move():
    p = CrossbarParams(frac_stuck_low=0.3, frac_stuck_high=0.3, frac_unformable=0.2)
    x = Crossbar(10, 10, params=p, seed=4)
    stuck = x.stuck.copy()
    unformable = x.population.defect == 3
    g_stuck = x.conductance_S[stuck]
    for v in np.arange(2.0, 4.5, 0.25):
        x.pulse(v, 1e-3, compliance_A=100e-6)
    x.pulse(-2.0, 1e-3)
    x.pulse(1.5, 1e-3, compliance_A=50e-6)
    x.clock.sleep(86400)
    x.read()
    np.testing.assert_array_equal(x.conductance_S[stuck], g_stuck)
    assert not x.formed[unformable].any()
    assert x.formed[~stuck & ~unformable].all()
    assert abs((x.defects == "stuck low").mean() - 0.3) < 0.12


# --- time ----------------------------------------------------------------------------
def test_relaxation_spread_grows_over_a_day_as_measured():
    p = CrossbarParams.ideal(relax_sigma_day_S=3e-6)
    x = formed_array(20, 20, params=p)
    x.pulse(1.5, 1e-3, compliance_A=20e-6)  # mid-range: 20 uS of a 40 uS scale
    g0 = x.conductance_S
    x.clock.sleep(1.0)
    x.read()
    spread_1s = np.std(x.conductance_S - g0)
    x.clock.sleep(86400 - 1.0)
    x.read()
    spread_day = np.std(x.conductance_S - g0)
    assert spread_day == pytest.approx(3e-6, rel=0.15)
    assert spread_1s < 0.4 * spread_day


def test_retention_drift_follows_log_time_and_speeds_up_when_hot():
    p = CrossbarParams.ideal(drift_nu=0.01)
    x = formed_array(4, 4, params=p)
    x.pulse(1.5, 1e-3, compliance_A=30e-6)
    g0 = x.conductance_S
    x.clock.sleep(1e4)
    x.read()
    loss = np.log(g0 / x.conductance_S)
    np.testing.assert_allclose(loss, 0.01 * np.log1p(1e4), rtol=1e-6)

    hot = formed_array(4, 4, params=p.replace(temperature_K=358.15))
    hot.pulse(1.5, 1e-3, compliance_A=30e-6)
    g0 = hot.conductance_S
    hot.clock.sleep(1e4)
    hot.read()
    assert np.all(np.log(g0 / hot.conductance_S) > 1.5 * loss)


def test_aging_does_not_depend_on_how_often_the_array_is_read():
    p = CrossbarParams.ideal(drift_nu=0.01)
    a, b = formed_array(params=p), formed_array(params=p)
    for x in (a, b):
        x.pulse(1.5, 1e-3, compliance_A=30e-6)
    a.clock.sleep(1000.0)
    a.read()
    for _ in range(10):
        b.clock.sleep(100.0)
        b.read()
    assert a.conductance_S[0, 0] == pytest.approx(b.conductance_S[0, 0], rel=1e-6)


# --- wear ----------------------------------------------------------------------------
def test_endurance_window_shrinks_then_cell_fails_stuck():
    p = CrossbarParams.ideal(endurance_cycles=100.0)
    x = formed_array(params=p)
    ratios = []
    for _ in range(150):
        x.pulse(1.6, 1e-3, compliance_A=200e-6)
        on = x.conductance_S[0, 0]
        x.pulse(-2.4, 1e-3)
        ratios.append(on / x.conductance_S[0, 0])
        if x.stuck[0, 0]:
            break
    assert x.stuck[0, 0]
    assert 50 <= x.cycles[0, 0] <= 150
    assert ratios[-2] < 0.7 * ratios[0]  # the on/off window shrank before failing
    g_failed = x.conductance_S[0, 0]
    x.pulse(1.6, 1e-3, compliance_A=200e-6)
    assert x.conductance_S[0, 0] == g_failed


# --- safety record -------------------------------------------------------------------
def test_safety_record_keeps_the_largest_voltage_and_current_seen():
    x = Crossbar(1, 2, params=IDEAL, seed=0)
    x.pulse(2.0, 1e-3, cols=0, compliance_A=50e-6)
    x.pulse(-1.0, 1e-3, cols=0)
    assert x.max_voltage_seen_V[0, 0] == pytest.approx(2.0)
    assert x.max_voltage_seen_V[0, 1] == 0.0  # never selected
    x.pulse(3.5, 1e-3, cols=0, compliance_A=50e-6)  # forms; then the limiter takes over
    assert x.formed[0, 0]
    assert x.max_voltage_seen_V[0, 0] == pytest.approx(3.5)
    assert x.max_current_seen_A[0, 0] == pytest.approx(50e-6)
    x.pulse(3.5, 1e-3, cols=0, compliance_A=50e-6)  # a formed cell: the limiter takes most
    assert x.max_voltage_seen_V[0, 0] == pytest.approx(3.5)
    assert x.max_current_seen_A[0, 0] == pytest.approx(50e-6)
