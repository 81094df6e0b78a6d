"""Protocol overhead: a protocol run (validation, access layer, row logging to Parquet,
progress, abort checks) against the bare driver calls it makes, in the same run.

1. ``pulse`` (200 SET/RESET-free pulses of one cell through the SMU, a read after
   each) vs the same driver calls written by hand.
2. ``read-map`` (a 16 x 16 board read, 20 times) vs ``ArrayBoard.read_tile`` by hand.
Both on the simulated bench through the real drivers and transports. Prints ratios;
asserts nothing.
"""

from __future__ import annotations

import tempfile
import time

from rramlab.runner import run_protocol
from rramlab.station import open_station

PULSES = 200


def bare_pulses(station) -> None:
    smu = station.smu
    station.connect_smu_to(0, 0)
    for _ in range(PULSES):
        smu.pulse_voltage(0.5, 1e-3, current_limit_A=100e-6)
        smu.source_voltage(0.2, current_limit_A=1e-3)
        with smu.output():
            smu.measure()


def main() -> None:
    with tempfile.TemporaryDirectory() as out, open_station(seed=8, rows=16, cols=16) as st:
        st.smu.configure_measurement(nplc=1.0)
        t0 = time.perf_counter()
        bare_pulses(st)
        bare = time.perf_counter() - t0
        params = {"count": PULSES, "v_pulse_V": 0.5, "width_s": 1e-3, "i_compliance_A": 100e-6}
        t0 = time.perf_counter()
        result = run_protocol(st, "pulse", params, out_dir=out)
        proto = time.perf_counter() - t0
        print(f"1. pulse: {PULSES} pulses + reads of one cell through the SMU")
        print(f"   bare driver calls  {bare * 1e3:7.0f} ms")
        print(
            f"   pulse protocol     {proto * 1e3:7.0f} ms   {proto / bare:.2f}x   "
            f"({len(result.data)} rows logged)"
        )

        repeats = 20
        t0 = time.perf_counter()
        for _ in range(repeats):
            st.board.read_tile()
        bare = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = run_protocol(st, "read-map", {"n_reads": repeats}, out_dir=out)
        proto = time.perf_counter() - t0
        print(f"2. read-map: {repeats} reads of a 16x16 tile through the board")
        print(f"   bare read_tile()   {bare * 1e3:7.0f} ms")
        print(
            f"   read-map protocol  {proto * 1e3:7.0f} ms   {proto / bare:.2f}x   "
            f"({len(result.data)} rows logged)"
        )


if __name__ == "__main__":
    main()
