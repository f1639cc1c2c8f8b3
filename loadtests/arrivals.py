"""Open-model arrivals for Locust.

Locust's shapes set a number of users; an influencer spike is a number of *arrivals* per second, and
those do not slow down when the shop does. So each process runs a scheduler greenlet that emits arrival
tickets on the plan's schedule (the integral of the planned rate: exactly the planned count per second,
no sampling noise) into a queue, and Locust users act as visitor slots: each takes the next ticket, plays
one fresh visitor's journey, and takes the next. The shape keeps enough idle slots for the planned rate
(Little's law, with headroom), so a ticket waits only when the generator itself is short; a ticket that
waited more than `MAX_TICKET_AGE_S` is dropped, and `started` vs `scheduled` per second is what the
verdict checks.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass

import gevent
from gevent.queue import Empty, Queue

from loadtests.collector import Collector
from loadtests.model import Timeline

TICK_S = 0.02
MAX_TICKET_AGE_S = 5.0


@dataclass(frozen=True)
class Ticket:
    kind: str
    scheduled_at: float  # time.monotonic()


class Arrivals:
    def __init__(
        self, timeline: Timeline, collector: Collector, share: float = 1.0, seed: int | None = None
    ) -> None:
        self.timeline = timeline
        self.collector = collector
        self.share = share
        self.queue: Queue[Ticket] = Queue()
        self.rng = random.Random(seed)
        self.started_mono: float | None = None
        self.started_wall: float = 0.0
        self._greenlet: gevent.Greenlet | None = None
        self.finished = False
        self._kinds = list(timeline.arrivals)
        self._cumulative_weights = [
            list(itertools.accumulate(timeline.arrivals[k][second] for k in self._kinds))
            for second in range(timeline.seconds)
        ]

    def start(self) -> None:
        if self._greenlet is not None:
            return
        self.started_mono = time.monotonic()
        self.started_wall = time.time()
        self._greenlet = gevent.spawn(self._run)

    def second_of(self, wall_time: float) -> int:
        return int(wall_time - self.started_wall)

    def elapsed(self) -> float:
        return 0.0 if self.started_mono is None else time.monotonic() - self.started_mono

    def _kind(self, second: int) -> str:
        weights = self._cumulative_weights[second]
        if weights[-1] <= 0:
            return self._kinds[0]
        return self.rng.choices(self._kinds, cum_weights=weights)[0]

    def _run(self) -> None:
        assert self.started_mono is not None
        emitted = 0
        prefix = [0.0]
        for value in self.timeline.totals:
            prefix.append(prefix[-1] + value * self.share)
        while True:
            now = time.monotonic()
            elapsed = now - self.started_mono
            second = min(int(elapsed), self.timeline.seconds - 1)
            whole = int(elapsed)
            due = (
                prefix[-1]
                if whole >= self.timeline.seconds
                else (prefix[whole] + (elapsed - whole) * (prefix[whole + 1] - prefix[whole]))
            )
            while emitted + 1 <= due + 1e-9:
                emitted += 1
                self.collector.scheduled[second] += 1
                self.queue.put(Ticket(self._kind(second), now))
            if elapsed >= self.timeline.seconds:
                self.finished = True
                return
            gevent.sleep(TICK_S)

    def take(self, timeout: float = 0.5) -> Ticket | None:
        """The next ticket still worth playing, or None when there is none for now."""
        while True:
            try:
                ticket: Ticket = self.queue.get(timeout=timeout)
            except Empty:
                return None
            if time.monotonic() - ticket.scheduled_at > MAX_TICKET_AGE_S:
                self.collector.dropped += 1
                continue
            self.collector.started[self.second_of(time.time())] += 1
            return ticket
