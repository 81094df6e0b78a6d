"""ROUTE: the board's switch matrix moves the bench's SMU probes."""

import numpy as np
import pytest

from rramlab.sim.bench import SimulatedBench


@pytest.fixture
def bench(fake_smus):
    return SimulatedBench(seed=2, smu_models=("2450", "B2902A"), rows=8, cols=8)


def test_route_moves_every_smu_probe_and_the_smu_then_measures_that_cell(bench, open_board):
    board = open_board(bench)
    board.form(8)
    board.ok("SEL 2 5")
    board.ok("PULSE -2.2 1e-3")  # make (2, 5) clearly different from (0, 0)
    probes = [p for group in bench.probes.values() for p in group]
    assert len(probes) == 4 and all((p.row, p.col) == (0, 0) for p in probes)
    assert board.ok("ROUTE?") == "OFF"

    board.ok("ROUTE 2 5")
    assert all((p.row, p.col) == (2, 5) and p.array is bench.array for p in probes)
    assert board.ok("ROUTE?") == "2 5"
    g = bench.array.conductance_S
    current = bench.smus["2450"].measure_current(0.2)
    assert current == pytest.approx(g[2, 5] * 0.2, rel=0.01)  # it relaxes a little
    assert abs(current - g[0, 0] * 0.2) > 10 * abs(current)  # not the old cell

    assert board.query("ROUTE 8 0")[0].startswith("ERR 102")
    assert board.query("ROUTE ON")[0].startswith("ERR 101")
    assert all((p.row, p.col) == (2, 5) for p in probes)  # refused: nothing moved
    board.ok("ROUTE OFF")
    assert board.ok("ROUTE?") == "OFF"
    assert abs(bench.smus["2450"].measure_current(0.2)) < 1e-12  # an open switch
    board.ok("*RST")
    assert all((p.row, p.col) == (0, 0) and p.array is bench.array for p in probes)
    assert bench.smus["2450"].measure_current(0.2) == pytest.approx(
        bench.array.conductance_S[0, 0] * 0.2, rel=0.01
    )


def test_route_on_another_tile_moves_the_probes_to_that_crossbar(bench, open_board):
    tile = bench.board.add_tile(4, 4)
    board = open_board(bench)
    board.ok(f"TILE {tile}")
    board.ok("ROUTE 3 1")
    second = bench.board.tiles[tile].array
    assert all(p.array is second and (p.row, p.col) == (3, 1) for p in bench.probes["2450"])
    g = second.conductance_S[3, 1]
    assert bench.smus["B2902A"].measure_current(0.2) == pytest.approx(g * 0.2, rel=0.01)
    assert np.isclose(second.clock.now(), bench.clock.now())
