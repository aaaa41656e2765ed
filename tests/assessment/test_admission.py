"""Admission control: a bounded number inside, the rest in arrival order for a short wait, then 503 busy with a place."""
import threading
import time

import pytest

from assessment.admission import AdmissionGate, Busy


def held(gate: AdmissionGate) -> tuple[threading.Event, threading.Thread]:
    """A thread inside the gate (it has entered when this returns) until the returned event is set."""
    release, entered = threading.Event(), threading.Event()

    def run() -> None:
        with gate.admit():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=run)
    thread.start()
    entered.wait(5)
    return release, thread


def test_requests_within_the_limit_go_straight_in() -> None:
    gate = AdmissionGate(2, max_wait=0.05)
    with gate.admit(), gate.admit():
        assert gate.active == 2
    assert gate.active == 0


def test_a_full_gate_answers_busy_with_the_place_after_the_wait() -> None:
    gate = AdmissionGate(1, max_wait=0.2, max_queue=8)
    release, holder = held(gate)
    t = time.monotonic()
    with pytest.raises(Busy) as exc, gate.admit():
        pass
    waited = time.monotonic() - t
    assert 0.15 <= waited < 2.0  # a short wait, then feedback; never a timeout
    assert exc.value.position == 1 and exc.value.retry_after >= 1
    assert gate.waiting == 0  # the refused request left the queue
    release.set()
    holder.join(5)
    with gate.admit():  # the slot was given back
        assert gate.active == 1


def test_the_queue_is_first_come_first_served() -> None:
    gate = AdmissionGate(1, max_wait=5.0, max_queue=8)
    release, holder = held(gate)
    order: list[int] = []
    lock = threading.Lock()

    def waiter(k: int) -> None:
        with gate.admit(), lock:
            order.append(k)

    waiters = []
    for k in range(5):
        thread = threading.Thread(target=waiter, args=(k,))
        thread.start()
        waiters.append(thread)
        deadline = time.monotonic() + 5
        while gate.waiting < k + 1 and time.monotonic() < deadline:  # queued in this order
            time.sleep(0.005)
    release.set()
    for thread in [holder, *waiters]:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_a_full_queue_refuses_at_once_and_retry_after_grows_with_the_place() -> None:
    gate = AdmissionGate(1, max_wait=5.0, max_queue=1)
    release, holder = held(gate)
    queued = threading.Thread(target=lambda: gate.admit().__enter__())
    queued.start()
    deadline = time.monotonic() + 5
    while gate.waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    t = time.monotonic()
    with pytest.raises(Busy) as exc, gate.admit():
        pass
    assert time.monotonic() - t < 0.5 and exc.value.position == 2
    assert gate.retry_after(1) <= gate.retry_after(400) <= gate.max_retry_after
    release.set()
    holder.join(5)
    queued.join(5)


def test_an_error_inside_gives_the_slot_back() -> None:
    gate = AdmissionGate(1, max_wait=0.05)
    with pytest.raises(RuntimeError), gate.admit():
        raise RuntimeError("boom")
    assert gate.active == 0
    with pytest.raises(ValueError):
        AdmissionGate(0)
