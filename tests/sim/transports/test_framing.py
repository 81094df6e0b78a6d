"""MessageFramer, deliver and bench_lock: the byte-stream rules every transport shares."""

import threading

import pytest

from rramlab.sim.transport import OVERRUN, MessageFramer, bench_lock, deliver, drain


def test_lf_ends_a_message_and_a_partial_one_waits_for_its_terminator():
    framer = MessageFramer()
    assert framer.feed(b"*IDN?\n:SOUR:VOLT 1") == ["*IDN?"]
    assert framer.pending_bytes == len(":SOUR:VOLT 1")
    assert framer.feed(b".5\n") == [":SOUR:VOLT 1.5"]
    assert framer.pending_bytes == 0


def test_crlf_empty_lines_and_end_signal():
    framer = MessageFramer()
    assert framer.feed(b"A\r\n\r\n\n  \nB\n") == ["A", "B"]
    # END (GPIB EOI) on the last byte ends a message that has no LF.
    assert framer.feed(b"C;D", end=True) == ["C;D"]
    assert framer.feed(b"E") == [] and framer.feed(b"", end=True) == ["E"]


def test_non_ascii_bytes_become_replacement_characters_not_exceptions():
    (message,) = MessageFramer().feed(b"\xff\xfe*IDN?\x80\n")
    assert message == "\ufffd\ufffd*IDN?\ufffd"


def test_an_over_long_message_is_dropped_whole_and_the_stream_resyncs():
    framer = MessageFramer(max_bytes=10)
    assert framer.feed(b"OK\n0123456") == ["OK"]
    assert framer.feed(b"789ABCDEF") == [OVERRUN]  # 16 bytes > 10: dropped, reported once
    assert framer.feed(b"more garbage without end") == []
    assert framer.pending_bytes == 0  # discarded as it arrives: memory stays bounded
    assert framer.feed(b"tail\nNEXT?\n") == ["NEXT?"]  # nothing of the long line runs
    assert MessageFramer(max_bytes=10).feed(b"0123456789\n") == ["0123456789"]  # at the cap


def test_deliver_reports_overrun_through_the_hook_or_as_a_rejected_message(fakes):
    aware = fakes["OverrunAwareSMU"]()
    deliver(aware, OVERRUN)
    assert aware.overruns == 1 and aware.messages == []
    assert aware.errors == ['-363,"Input buffer overrun"']
    plain = fakes["FakeSMU"]()
    deliver(plain, OVERRUN)
    assert plain.messages == ["\ufffd"] and plain.errors == ['-113,"Undefined header"']


def test_drain_takes_every_queued_reply_in_order(fakes):
    smu = fakes["FakeSMU"]()
    smu.write("ECHO? a;ECHO? b")
    assert drain(smu) == ["a", "b"] and drain(smu) == []


def test_bench_lock_is_one_reentrant_lock_per_bench(fakes):
    one, two = fakes["FakeBench"](), fakes["FakeBench"]()
    assert bench_lock(one) is bench_lock(one)
    assert bench_lock(one) is not bench_lock(two)
    lock = bench_lock(one)
    with lock, lock:  # reentrant
        held = threading.Thread(target=lambda: results.append(lock.acquire(timeout=0.01)))
        results: list[bool] = []
        held.start()
        held.join()
    assert results == [False]


def test_bench_lock_works_for_benches_that_cannot_be_weak_keys():
    from types import SimpleNamespace

    odd = SimpleNamespace(smus={})  # unhashable and not weak-referenceable
    assert bench_lock(odd) is bench_lock(odd)
    assert bench_lock(odd) is not bench_lock(SimpleNamespace(smus={}))


def test_framer_rejects_a_zero_cap():
    with pytest.raises(ValueError, match="max_bytes"):
        MessageFramer(max_bytes=0)
