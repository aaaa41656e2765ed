"""Admission control for a synchronized start: a short fair queue instead of timeouts.

When whole classes sign in and start at once, more requests arrive than a worker
serves. Rather than letting them wait in socket queues until the client times out,
each worker admits a bounded number of sign-in/start/attempt requests at a time and
queues the rest first come, first served for at most `max_wait` seconds. A request
still queued then is answered at once with 503 `busy`, its place in the queue and a
`Retry-After` estimated from the recent service time, so no student waits more than a
few seconds without feedback; the player shows "please wait" with the place and
retries after Retry-After plus jitter (so the retries do not arrive as one wave).
Answer saves and heartbeats are never queued here: they are cheap, and refusing them
would only delay delivery.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["AdmissionGate", "Busy"]


class Busy(Exception):
    """The queue did not reach this request within the wait: its 1-based place and the seconds to retry after."""

    def __init__(self, position: int, retry_after: int) -> None:
        super().__init__(f"busy: place {position} in the queue, retry after {retry_after} s")
        self.position = position
        self.retry_after = retry_after


class AdmissionGate:
    """At most `limit` requests inside at once; the rest wait in arrival order, at most `max_wait` seconds.

    A queue longer than `max_queue` refuses new arrivals at once (with their place), so
    waiting requests never hold all of a worker's threads.
    """

    def __init__(self, limit: int, *, max_wait: float = 2.0, max_queue: int = 64, max_retry_after: int = 15) -> None:
        if limit < 1:
            raise ValueError(f"admission limit must be at least 1; got {limit}")
        self.limit = limit
        self.max_wait = max_wait
        self.max_queue = max_queue
        self.max_retry_after = max_retry_after
        self._active = 0
        self._queue: deque[object] = deque()
        self._cond = threading.Condition()
        self._service = 0.05  # seconds per admitted request (moving average)

    @property
    def active(self) -> int:
        return self._active

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def retry_after(self, position: int) -> int:
        """Seconds until a request at `position` would likely be served (at least 1)."""
        seconds = math.ceil(position * self._service / self.limit)
        return max(1, min(self.max_retry_after, seconds))

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place while the block runs; raise Busy when the queue does not reach us within max_wait."""
        with self._cond:
            if self._active < self.limit and not self._queue:
                self._active += 1
            else:
                self._wait_turn()
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - started
            with self._cond:
                self._active -= 1
                self._service += 0.1 * (elapsed - self._service)
                self._cond.notify_all()

    def _wait_turn(self) -> None:
        # called holding the condition
        if len(self._queue) >= self.max_queue:
            position = len(self._queue) + 1
            raise Busy(position, self.retry_after(position))
        me = object()
        self._queue.append(me)
        deadline = time.monotonic() + self.max_wait
        while not (self._queue[0] is me and self._active < self.limit):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                position = self._queue.index(me) + 1
                self._queue.remove(me)
                self._cond.notify_all()  # the next in line may be free to go now
                raise Busy(position, self.retry_after(position))
            self._cond.wait(remaining)
        self._queue.popleft()
        self._active += 1
        self._cond.notify_all()
