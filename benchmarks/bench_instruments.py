"""Simulated SMUs through their transports, and what the drivers cost on top.

1. Queries per second (``:READ?`` on the simulated 2450, a measurement with the
   physics of the probed cell) through the in-process pyvisa backend and through the
   TCP server with pyvisa-py.
2. The driver's own overhead: ``Keithley2450.measure()`` against the bare ``query()``
   calls it makes, on the same resource.
3. A 1000-point I-V sweep done instrument-side (one list sweep, one data transfer)
   against the same sweep done point by point (set level, measure) by the driver, in
   wall time and in instrument (bench) time.
Prints ratios measured in this run; asserts nothing.
"""

from __future__ import annotations

import numpy as np
import pyvisa
from timing import best_time

from rramlab.drivers.keithley2450 import Keithley2450
from rramlab.limits import SafetyLimits
from rramlab.sim.bench import SimulatedBench
from rramlab.sim.tcp_server import InstrumentServer
from rramlab.sim.transport import bench_lock
from rramlab.sim.visa_backend import register_bench

LIMITS = SafetyLimits(max_voltage_V=2.0, max_current_A=1e-3)
QUERIES = 500


def prepared_bench() -> SimulatedBench:
    bench = SimulatedBench(seed=0, smu_models=("2450",))
    bench.array.pulse(3.5, 1e-3, rows=0, cols=0, compliance_A=50e-6)
    bench.array.pulse(-2.0, 1e-3, rows=0, cols=0)
    return bench


def configure(resource) -> None:
    for command in (
        ":SOUR:FUNC VOLT",
        ":SOUR:VOLT:ILIM 1e-4",
        ":SOUR:VOLT 0.2",
        ':SENS:FUNC "CURR"',
        ":SENS:CURR:NPLC 0.01",
        ":OUTP ON",
    ):
        resource.write(command)


def queries_per_second(resource) -> float:
    def run():
        for _ in range(QUERIES):
            resource.query(":READ?")

    return QUERIES / best_time(run, repeats=3)


def main() -> None:
    bench = prepared_bench()
    register_bench("bench-instruments", bench)
    rm_sim = pyvisa.ResourceManager("bench=bench-instruments@rramsim")
    local = rm_sim.open_resource("GPIB0::18::INSTR", read_termination="\n")
    configure(local)
    in_process = queries_per_second(local)

    server = InstrumentServer(bench.smus["2450"], lock=bench_lock(bench))
    server.start()
    try:
        rm_py = pyvisa.ResourceManager("@py")
        remote = rm_py.open_resource(
            server.resource_name, read_termination="\n", write_termination="\n"
        )
        over_tcp = queries_per_second(remote)
        remote.close()
    finally:
        server.stop()

    print("1. Simulated Keithley 2450, :READ? at 0.01 NPLC (a full measurement each)")
    print(f"   in-process pyvisa backend   {in_process:8.0f} queries/s")
    print(
        f"   TCP server via pyvisa-py    {over_tcp:8.0f} queries/s   "
        f"({in_process / over_tcp:.1f}x slower than in-process)"
    )

    smu = Keithley2450(local, limits=LIMITS)
    smu.source_voltage(0.2, current_limit_A=1e-4)
    smu.configure_measurement(nplc=0.01)
    smu.enable_output()
    bare = best_time(
        lambda: (
            local.query(':READ? "defbuffer1", READ, SOUR'),
            local.query(":SOUR:VOLT:ILIM:TRIP?"),
        ),
        repeats=200,
    )
    driver = best_time(smu.measure, repeats=200)
    print("2. Driver overhead: Keithley2450.measure() vs the two bare queries it sends")
    print(f"   bare query() calls   {bare * 1e6:7.0f} us")
    print(f"   driver measure()     {driver * 1e6:7.0f} us   {driver / bare:.2f}x")

    levels = np.linspace(-0.5, 0.5, 1000)
    messages = {"n": 0}
    write = local.write

    def counting_write(message, *args, **kwargs):
        messages["n"] += 1
        return write(message, *args, **kwargs)

    local.write = counting_write  # queries go through write too

    def timed(run):
        messages["n"] = 0
        t0 = bench.clock.now()
        wall = best_time(run, repeats=1)  # runs twice: warm-up and timed
        return wall, (bench.clock.now() - t0) / 2, messages["n"] // 2

    side = timed(lambda: smu.sweep_voltage(levels, current_limit_A=1e-4))

    def point_by_point():
        for v in levels:
            smu.source_voltage(float(v), current_limit_A=1e-4)
            smu.measure()

    by_point = timed(point_by_point)
    smu.disable_output()
    print("3. 1000-point I-V sweep, instrument-side list sweep vs point by point")
    for label, (wall, bench_s, count) in (("instrument-side", side), ("point by point", by_point)):
        print(
            f"   {label:16s} wall {wall * 1e3:7.0f} ms   messages {count:5d}   "
            f"instrument time {bench_s:5.2f} s"
        )
    print(
        f"   ratio (point by point / instrument-side): wall {by_point[0] / side[0]:.1f}x, "
        f"messages {by_point[2] / side[2]:.0f}x"
    )
    print("   (instrument time is the simulated 2450's own: the list sweep applies its 1 ms")
    print("    auto source delay per point; bus latency per message, ~1 ms on USB/GPIB, is")
    print("    not in it, so on a real bench point by point also loses there)")


if __name__ == "__main__":
    main()
