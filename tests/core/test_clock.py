"""The bench's clocks: virtual time moves only when told, wall time really passes."""

import pytest

from rramlab import Clock, VirtualClock, WallClock


def test_virtual_clock_moves_only_when_told():
    clock = VirtualClock(start_s=5.0)
    assert clock.now() == 5.0
    clock.sleep(1e4)
    clock.advance(0.5)
    assert clock.now() == pytest.approx(10005.5)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_clocks_refuse_bad_durations(bad):
    with pytest.raises(ValueError, match="duration"):
        VirtualClock().sleep(bad)
    with pytest.raises(ValueError, match="duration"):
        WallClock().sleep(bad)


def test_wall_clock_is_monotonic_and_sleeps():
    clock = WallClock()
    t0 = clock.now()
    clock.sleep(0.01)
    assert clock.now() - t0 >= 0.01


def test_both_satisfy_the_clock_protocol():
    assert isinstance(VirtualClock(), Clock)
    assert isinstance(WallClock(), Clock)
