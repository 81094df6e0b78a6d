"""Array operations of the crossbar model: selection, MVM, passive-array sneak paths
and half-select disturb, wires, snapshots and reproducibility."""

import numpy as np
import pytest

from rramlab.sim.cell import iv_shape
from rramlab.sim.crossbar import Crossbar
from rramlab.sim.params import CrossbarParams

IDEAL = CrossbarParams.ideal()


def programmed(rows, cols, params=IDEAL, seed=0, access="1T1R", g_range=(1e-6, 30e-6)):
    """An array with every cell formed and SET to a random conductance in g_range.

    Programmed as a 1T1R array (cells isolated) and, for a passive array, moved into one
    with the same cells: programming a passive array disturbs its neighbours."""
    prep = Crossbar(rows, cols, params=params, seed=seed)
    targets = np.random.default_rng(seed).uniform(*g_range, size=(rows, cols))
    prep.pulse(3.5, 1e-3, compliance_A=50e-6)
    prep.pulse(-2.2, 1e-3)
    for r in range(rows):
        for c in range(cols):
            prep.pulse(1.5, 1e-3, rows=r, cols=c, compliance_A=targets[r, c])
    if access == "1T1R":
        return prep
    x = Crossbar(rows, cols, params=params, seed=seed, access=access)
    x.restore(prep.snapshot())
    return x


# --- selection ------------------------------------------------------------------------
def test_results_are_shaped_like_the_selection():
    x = programmed(4, 5)
    assert x.read().shape == (4, 5)
    assert x.read(rows=2).shape == (1, 5)
    assert x.read(cols=[4, 0]).shape == (4, 2)
    mask = np.zeros((4, 5), bool)
    mask[1, 3] = mask[3, 0] = True
    reads = x.read_conductance(mask=mask)
    assert reads.shape == (2,)
    np.testing.assert_allclose(reads, x.conductance_S[mask], rtol=1e-9)


def test_a_pulse_touches_only_the_selected_cells_in_1t1r():
    x = programmed(4, 4)
    before = x.conductance_S
    x.pulse(-2.0, 1e-3, rows=[1, 2], cols=[0, 3])
    changed = x.conductance_S != before
    expected = np.zeros((4, 4), bool)
    expected[np.ix_([1, 2], [0, 3])] = True
    np.testing.assert_array_equal(changed, expected)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"rows": 7}, IndexError, "rows index 7"),
        ({"cols": [0, 0]}, ValueError, "cols lists a line twice"),
        ({"rows": 0.5}, TypeError, "rows must hold integer"),
        ({"mask": np.ones((2, 2), bool)}, ValueError, "mask must be a bool array of shape"),
        ({"rows": 0, "mask": np.ones((4, 4), bool)}, ValueError, "either rows/cols or mask"),
        ({"scheme": "V/4"}, ValueError, "scheme must be one of"),
    ],
)
def test_bad_selections_are_refused_by_name(kwargs, error, message):
    x = Crossbar(4, 4, params=IDEAL, seed=0)
    with pytest.raises(error, match=message):
        x.pulse(1.0, 1e-6, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((float("nan"), 1e-6), {}, "v_V must be finite"),
        ((1.0, 0.0), {}, "width_s must be > 0"),
        ((1.0, 1e-6), {"compliance_A": -1e-6}, "compliance_A must be > 0"),
        ((100.0, 1e-6), {}, "beyond the model's"),
        (("1V", 1e-6), {}, "v_V must be a number"),
    ],
)
def test_bad_pulse_parameters_are_refused_before_anything_changes(args, kwargs, message):
    x = programmed(2, 2)
    before = x.snapshot()
    with pytest.raises((ValueError, TypeError), match=message):
        x.pulse(*args, **kwargs)
    np.testing.assert_array_equal(x.conductance_S, before.cells.g_S)


def test_gate_voltage_on_a_passive_array_is_refused():
    x = Crossbar(2, 2, params=IDEAL, access="passive", seed=0)
    with pytest.raises(ValueError, match="v_gate_V applies to 1T1R"):
        x.pulse(1.0, 1e-6, v_gate_V=1.0)


# --- MVM ------------------------------------------------------------------------------
def test_noise_free_mvm_equals_the_iv_shaped_dot_product():
    x = programmed(6, 5)
    v = np.random.default_rng(1).uniform(-0.2, 0.2, size=(3, 6))
    out = x.mvm(v, noise=False)
    np.testing.assert_allclose(out, iv_shape(v, IDEAL) @ x.conductance_S, rtol=1e-12)
    # At small inputs the array computes G^T v to the I-V nonlinearity (a few %).
    v_pos = np.abs(v)
    np.testing.assert_allclose(x.mvm(v_pos, noise=False), v_pos @ x.conductance_S, rtol=0.03)


def test_mvm_on_a_block_ignores_the_rest_of_the_array():
    x = programmed(6, 6)
    v = np.full(3, 0.1)
    out = x.mvm(v, rows=[0, 2, 4], cols=[1, 5], noise=False)
    expected = iv_shape(v, IDEAL) @ x.conductance_S[np.ix_([0, 2, 4], [1, 5])]
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_mvm_noise_has_the_spread_of_per_cell_read_noise():
    p = CrossbarParams.ideal(read_noise_rel=0.02)
    x = programmed(8, 4, params=p)
    v = np.linspace(0.05, 0.2, 8)
    outs = x.mvm(np.tile(v, (4000, 1)))
    from rramlab.sim.cell import read_noise_sigma

    sigma_cells = read_noise_sigma(x.conductance_S, p)
    expected = np.sqrt((iv_shape(v, p) ** 2) @ sigma_cells**2)
    np.testing.assert_allclose(outs.std(axis=0), expected, rtol=0.06)
    np.testing.assert_allclose(outs.mean(axis=0), iv_shape(v, p) @ x.conductance_S, rtol=2e-3)


def test_mvm_input_shape_is_checked():
    x = programmed(3, 3)
    with pytest.raises(ValueError, match=r"v_in_V must have shape \(3,\)"):
        x.mvm(np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        x.mvm(np.array([0.1, np.nan, 0.1]))


def test_wire_resistance_loses_current_in_mvm():
    ideal = programmed(16, 16, g_range=(20e-6, 30e-6))
    wired = Crossbar(16, 16, params=IDEAL.replace(r_wire_ohm=50.0), seed=0)
    wired.restore(ideal.snapshot())
    v = np.full(16, 0.2)
    i_ideal = ideal.mvm(v, noise=False)
    i_wired = wired.mvm(v, noise=False)
    assert np.all(i_wired < i_ideal)
    # The column farthest from the row drivers loses the most.
    loss = 1 - i_wired / i_ideal
    assert loss[-1] > loss[0]


def test_wire_resistance_weakens_pulses_on_cells_far_from_the_drivers():
    p = IDEAL.replace(r_wire_ohm=100.0)
    near_far = []
    for params in (IDEAL, p):
        x = programmed(8, 8, params=params, g_range=(100e-6, 100e-6))
        x.pulse(-1.4, 1e-3)
        g = x.conductance_S
        near_far.append((g[-1, 0], g[0, -1]))  # next to both drivers / farthest from both
    (ideal_near, ideal_far), (wired_near, wired_far) = near_far
    assert ideal_near == pytest.approx(ideal_far, rel=1e-9)
    assert wired_far > 1.2 * wired_near  # the far cell saw less voltage: reset less


# --- passive arrays -------------------------------------------------------------------
def _hrs_among_lrs(access):
    x = programmed(5, 5, access=access, g_range=(100e-6, 100e-6))
    prep = Crossbar(5, 5, params=IDEAL, seed=0)
    prep.restore(x.snapshot())
    prep.pulse(-2.2, 1e-3, rows=2, cols=2)
    x.restore(prep.snapshot())
    return x


@pytest.mark.parametrize("scheme", ["float", "V/2"])
def test_sneak_paths_make_an_hrs_cell_read_higher_in_a_passive_array(scheme):
    passive = _hrs_among_lrs("passive")
    one_t_one_r = _hrs_among_lrs("1T1R")
    g_cell = passive.conductance_S[2, 2]
    assert g_cell < 2e-6 and passive.conductance_S[0, 0] > 50e-6
    read_passive = passive.read_conductance(rows=2, cols=2, scheme=scheme)[0, 0]
    read_1t1r = one_t_one_r.read_conductance(rows=2, cols=2)[0, 0]
    assert read_1t1r == pytest.approx(one_t_one_r.conductance_S[2, 2], rel=1e-9)
    assert read_passive > 5 * read_1t1r


def test_grounded_unselected_lines_read_the_passive_cell_exactly_with_ideal_wires():
    passive = _hrs_among_lrs("passive")
    read = passive.read_conductance(rows=2, cols=2, scheme="ground")[0, 0]
    assert read == pytest.approx(passive.conductance_S[2, 2], rel=1e-9)


def test_half_select_disturb_in_passive_arrays_but_not_in_1t1r():
    def neighbours_change(access, scheme):
        x = programmed(3, 3, access=access, g_range=(2e-6, 2e-6))
        before = x.conductance_S
        for _ in range(50):  # hammer the centre cell with SET pulses at 2x the threshold
            x.pulse(2.0, 1e-3, rows=1, cols=1, compliance_A=20e-6, scheme=scheme)
        change = np.abs(np.log(x.conductance_S / before))
        change[1, 1] = 0
        return change

    half_selected = np.zeros((3, 3), bool)
    half_selected[1, :] = half_selected[:, 1] = True
    half_selected[1, 1] = False
    passive = neighbours_change("passive", "V/2")
    assert passive[half_selected].min() > 0.01  # V/2 = 1.0 V, at the SET threshold
    assert passive[~half_selected].max() == 0  # unselected cells see 0 V
    assert neighbours_change("1T1R", "V/2").max() == 0


# --- state, time, reproducibility ---------------------------------------------------------
def test_same_seed_same_numbers_different_seed_different():
    def run(seed):
        x = Crossbar(4, 4, seed=seed)
        x.pulse(3.4, 1e-5, v_gate_V=1.2)
        x.pulse(-1.5, 1e-3)
        x.clock.sleep(100.0)
        return np.concatenate([x.read().ravel(), x.mvm(np.full(4, 0.1))])

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_snapshot_and_restore_replay_exactly(tmp_path):
    x = Crossbar(4, 4, seed=3)
    x.pulse(3.4, 1e-5, v_gate_V=1.2)
    snap = x.snapshot()

    def later(array):
        array.pulse(-1.5, 1e-3, rows=[0, 1])
        array.clock.sleep(3600.0)
        return array.read()

    first = later(x)
    x.restore(snap)
    x.clock = type(x.clock)(start_s=snap.t_last_s)
    np.testing.assert_array_equal(later(x), first)

    path = tmp_path / "state.npz"
    snap.save(path)
    y = Crossbar(4, 4, seed=99)
    y.restore(type(snap).load(path))
    y.clock = type(y.clock)(start_s=snap.t_last_s)
    np.testing.assert_array_equal(later(y), first)


def test_restore_refuses_a_snapshot_of_another_shape():
    with pytest.raises(ValueError, match="snapshot is of a"):
        Crossbar(2, 2, seed=0).restore(Crossbar(3, 3, seed=0).snapshot())


def test_read_disturb_accumulates_over_many_reads_at_raised_voltage():
    x = programmed(1, 1, g_range=(5e-6, 5e-6))
    g0 = x.conductance_S[0, 0]
    for _ in range(2000):
        x.read(v_read_V=0.2)
    assert x.conductance_S[0, 0] == pytest.approx(g0, rel=1e-4)  # 0.2 V: harmless
    for _ in range(2000):
        x.read(v_read_V=0.7, width_s=1e-3)
    assert x.conductance_S[0, 0] > 1.05 * g0  # 0.7 V for 2 s in total: a visible SET drift
