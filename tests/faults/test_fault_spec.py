"""Fault rules: their text form, and what an injector does with them (no transport)."""

import numpy as np
import pytest

from rramlab.sim.bench import SimulatedBench
from rramlab.sim.fault_spec import FaultSpec, parse_fault, read_fault_file
from rramlab.sim.faults import FaultInjector, clear_faults, inject, inject_bench, injector_for


def test_text_form_round_trips():
    target, spec = parse_fault(" 2450 : latency=0.01, drop=0.01,garble=0.02,seed=7 ")
    assert target == "2450"
    assert spec == FaultSpec(latency_s=0.01, drop=0.01, garble=0.02, seed=7)
    assert FaultSpec.from_text(spec.to_text()) == spec
    assert spec.to_text() == "seed=7,latency=0.01,drop=0.01,garble=0.02"
    assert FaultSpec().to_text() == "none"
    _, stuck = parse_fault("board:hang=1,hang_s=0.5,match=READ ROW,limit=2,stuck=true")
    assert (stuck.hang_s, stuck.match, stuck.limit, stuck.stuck) == (0.5, "READ ROW", 2, True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("drop=0.1", "expected TARGET:key=value"),
        ("2450:drop", "expected key=value"),
        ("2450:dorp=0.1", "unknown key 'dorp'"),
        ("2450:drop=1.5", "drop is a probability in 0..1"),
        ("2450:drop=nan", "drop is a probability in 0..1"),
        ("2450:latency=-1", "latency is seconds >= 0"),
        ("2450:seed=x", "seed must be an integer"),
        ("2450:drop=0.1,drop=0.2", "given twice"),
        ("2450:stuck=maybe", "stuck is 0/1"),
        ("2450:limit=-1", "limit is an integer >= 0"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(text, message):
    with pytest.raises(ValueError, match=message):
        parse_fault(text)


def test_fault_files_hold_one_rule_per_line(tmp_path):
    path = tmp_path / "faults.txt"
    path.write_text("# a flaky bench\n\n2450:drop=0.01  # the SMU\nboard:garble=0.1,seed=2\n")
    assert read_fault_file(path) == [
        ("2450", FaultSpec(drop=0.01)),
        ("board", FaultSpec(garble=0.1, seed=2)),
    ]
    path.write_text("2450:drop=0.01\nboard:nope=1\n")
    with pytest.raises(ValueError, match=r"faults.txt: line 2: .*unknown key 'nope'"):
        read_fault_file(path)


def run(injector: FaultInjector, n: int = 400) -> list[tuple[bool, bytes | None, float]]:
    """Feed ``n`` query messages and one reply each; what came of each."""
    out = []
    for i in range(n):
        fate = injector.message(f"READ? {i}")
        data, delay = injector.reply(f"{i * 1.5:.6e}\n".encode())
        out.append((fate.deliver, data, delay))
    return out


def make(*specs: str, name: str = "Keithley 2450") -> FaultInjector:
    injector = FaultInjector(name)
    for spec in specs:
        injector.add(FaultSpec.from_text(spec))
    return injector


def test_same_seed_same_faults_other_seed_other_faults():
    rule = "drop=0.1,truncate=0.1,garble=0.1,late=0.05,late_s=0.5,error=0.05,jitter=0.001"
    a, b = make(rule + ",seed=4"), make(rule + ",seed=4")
    assert run(a) == run(b)
    assert a.events == b.events and len(a.events) > 50
    c = make(rule + ",seed=5")
    run(c)
    assert c.events != a.events
    other = make(rule + ",seed=4", name="Keithley 2636B")  # each instrument its own draws
    run(other)
    assert other.events != a.events


def test_rates_match_the_probabilities():
    injector = make("drop=0.2,garble=0.1,seed=1")
    outcomes = run(injector, 4000)
    dropped = sum(data is None for _, data, _ in outcomes) / 4000
    assert dropped == pytest.approx(0.2, abs=0.03)
    # garble is drawn independently but drop takes precedence: 0.8 * 0.1
    assert injector.counts["garble"] / 4000 == pytest.approx(0.08, abs=0.02)


def test_each_reply_fault_does_what_it_says():
    reply = b"1.234560e-06,2.000000e-01\n"
    (_, data, _), *_ = run(make("drop=1"), 1)
    assert data is None
    injector = make("truncate=1")
    injector.message("X?")
    cut, _ = injector.reply(reply)
    assert len(cut) < len(reply) and reply.startswith(cut) and not cut.endswith(b"\n")
    injector = make("garble=1,garble_bytes=3")
    injector.message("X?")
    noisy, _ = injector.reply(reply)
    assert len(noisy) == len(reply) and noisy.endswith(b"\n") and noisy.count(b"\n") == 1
    assert any(b >= 0x80 for b in noisy)
    with pytest.raises(UnicodeDecodeError):
        noisy.decode("ascii")
    injector = make("late=1,late_s=0.7,latency=0.1")
    injector.message("X?")
    assert injector.reply(reply) == (reply, pytest.approx(0.8))
    assert injector.reply(reply) == (reply, pytest.approx(0.1))  # later replies: latency only


def test_match_skip_and_limit_pick_the_messages():
    injector = make("drop=1,match=idn,skip=1,limit=2")
    fates = []
    for text in ["*IDN?", "X?", "*IDN?", "*idn?", "*IDN?"]:
        injector.message(text)
        fates.append(injector.reply(b"r\n")[0] is None)
    assert fates == [False, False, True, True, False]
    assert [(e.index, e.kind, e.message) for e in injector.events] == [
        (2, "drop", "*IDN?"),
        (3, "drop", "*idn?"),
    ]


def test_a_hang_swallows_until_cleared_and_a_timed_hang_holds():
    injector = make("hang=1,limit=1")
    assert not injector.message("A").deliver
    assert injector.hung and not injector.message("B").deliver
    injector.device_clear()
    assert injector.message("C").deliver and injector.counts["swallowed"] == 2
    timed = make("hang=1,hang_s=0.2,limit=1")
    first = timed.message("A")
    assert first.deliver and first.wait_s == pytest.approx(0.2)
    assert 0 < timed.message("B").wait_s <= 0.2 and not timed.hung


def test_disconnect_and_error_fates():
    injector = make("disconnect=1,limit=1")
    assert injector.message("A").disconnect and injector.epoch == 1
    assert not injector.message("B").disconnect
    assert make("error=1").message("A").error == (-300, "Device-specific error")
    assert make("error=1,code=-222").message("A").error == (-222, "Data out of range")
    board = FaultInjector("board", board=True)
    board.add(FaultSpec(error=1))
    assert board.message("READ").error == (400, "hardware fault (injected)")


def test_inject_bench_finds_targets_and_stuck_outputs_stick():
    bench = SimulatedBench(seed=0, smu_models=("2450", "B2902A"), rows=2, cols=2)
    done = inject_bench(bench, "smu:latency=0.001", "board:drop=0.5", "b2902a:stuck=1")
    assert set(done) == {"2450", "B2902A", "board"}
    assert injector_for(bench.board).board and not injector_for(bench.smus["2450"]).board
    channels = [s.channel for s in bench.smus["B2902A"].states]
    assert all(c.stuck_on for c in channels)
    channels[0].set_output(True)
    channels[0].set_output(False)
    assert channels[0].output_on
    clear_faults(bench.smus["B2902A"])
    assert not channels[0].stuck_on and channels[0].output_on  # on until turned off
    with pytest.raises(ValueError, match="no instrument '2636B'"):
        inject_bench(bench, "2636B:drop=1")
    with pytest.raises(TypeError, match="no output to stick"):
        inject(bench.board, "stuck=1")


def test_draws_do_not_depend_on_outcomes():
    """A rule draws the same numbers per message whatever happened, so adding a rule
    with a match elsewhere does not shift another rule's faults."""
    a = make("drop=0.3,seed=2")
    b = make("drop=0.3,seed=2", "garble=1,match=never")
    assert run(a) == run(b)
    assert np.array_equal([e.index for e in a.events], [e.index for e in b.events])


@pytest.mark.parametrize(
    ("command", "repeated"),
    [
        ("*IDN?", True),
        (":OUTP1?", True),
        (":SOUR:VOLT:ILIM:TRIP?", True),
        (':TRAC:DATA? 1, 5, "defbuffer1", READ, SOUR', True),
        (":FETC:ARR? (@1)", True),
        (":SYST:ERR:COUN?", True),
        ("print(errorqueue.count)", True),
        ("print(smub.source.output)", True),
        (':READ? "defbuffer1", READ, SOUR', False),  # a new measurement
        (":MEAS? (@1)", False),
        ("print(smua.measure.iv())", False),
        ("SYST:ERR?", False),  # destructive: a lost reply takes its error with it
        ("print(errorqueue.next())", False),
        ("*OPC?", False),
        (":OUTP ON", False),
        ("*IDN?;:OUTP ON", False),
    ],
)
def test_only_queries_that_change_nothing_are_repeated(command, repeated):
    from rramlab.drivers.scpi import is_idempotent

    assert is_idempotent(command) is repeated
