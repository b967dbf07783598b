"""A rate step of the pacer: the new rate starts at the switch; times of the old rate after it are void."""

from __future__ import annotations

import pytest

from bench.pacer import Pacer


class FakeSignal:
    def __init__(self) -> None:
        self.fired = False

    def set(self) -> None:
        self.fired = True

    def wait(self, timeout: float | None = None) -> bool:
        return self.fired


def test_a_rate_step_starts_at_the_switch_and_voids_the_old_times_after_it() -> None:
    pacer = Pacer(10.0, "constant", 0, new_signal=FakeSignal)
    pacer.start(100.0)
    old = [pacer.take() for _ in range(5)]  # 100.0, 100.1, ... 100.4: five users waiting
    assert old == pytest.approx([100.0, 100.1, 100.2, 100.3, 100.4])
    signal, generation = pacer.signal, pacer.generation
    pacer.set_rate(100.0, 100.25)
    assert signal is not None
    assert signal.fired
    assert pacer.signal is not signal
    assert pacer.generation == generation + 1
    # Times before the switch keep their place; those at or after it are void and taken again.
    assert [pacer.is_void(t, generation) for t in old] == [False, False, False, True, True]
    new = [pacer.take() for _ in range(3)]
    assert new == pytest.approx([100.25, 100.26, 100.27])  # the new rate from the switch, on time
    assert not pacer.is_void(new[0], pacer.generation)


def test_due_counts_each_segment_up_to_the_next_switch() -> None:
    pacer = Pacer(10.0, "constant", 0)
    pacer.start(0.0)
    pacer.set_rate(100.0, 1.0)
    pacer.set_rate(50.0, 2.0)
    # [0, 1): 10 at 10/s; [1, 2): 100 at 100/s; [2, 3): 50 at 50/s
    assert pacer.due(3.0) == 10 + 100 + 50
    assert pacer.due(1.5) == 10 + 50
    for _ in range(150):
        pacer.sent_one()
    pacer.stop(3.0)
    assert pacer.not_sent == 10


def test_the_same_rate_is_no_step_and_a_pacer_not_started_ignores_steps() -> None:
    pacer = Pacer(10.0, "poisson", 3)
    pacer.set_rate(20.0, 5.0)  # before start: nothing to switch
    assert pacer.rate_per_s == 10.0
    pacer.start(0.0)
    pacer.set_rate(10.0, 1.0)
    assert pacer.generation == 0
    pacer.set_rate(20.0, 1.0)
    assert (pacer.generation, pacer.rate_per_s) == (1, 20.0)


def test_a_waiting_user_is_woken_by_a_rate_step_and_takes_a_time_of_the_new_rate() -> None:
    """The greenlet side (bench.users): two users wait on a real Pacer with SendSignal; a rate step
    voids the time one of them waits for, which then takes the new rate's first time at once."""
    import time
    from types import SimpleNamespace

    import gevent

    from bench.users import SendSignal, _wait_for_a_send_time

    pacer = Pacer(2.0, "constant", 0, new_signal=SendSignal)  # sends at +0.0, +0.5, +1.0 ...
    pacer.start(time.perf_counter())
    first, second = SimpleNamespace(_state="running"), SimpleNamespace(_state="running")
    a = gevent.spawn(_wait_for_a_send_time, first, pacer)
    b = gevent.spawn(_wait_for_a_send_time, second, pacer)
    gevent.sleep(0.05)
    assert a.ready()  # its time (+0.0) had come
    assert not b.ready()  # waiting for +0.5
    assert second._state == "waiting"  # a run that stops now kills it at once: no request, no row
    switched = time.perf_counter()
    pacer.set_rate(100.0, switched)
    b.join(timeout=0.3)
    assert b.ready()
    woke = time.perf_counter()
    assert b.value == pytest.approx(switched, abs=1e-6)  # the new rate's first time, not the void +0.5
    assert woke - switched < 0.3  # one-sided: woken by the step, long before +0.5 (slack for a busy machine)
    assert second._state == "running"
    assert pacer.sent == 0  # sent_one is the caller's, once it sends
