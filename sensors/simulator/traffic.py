"""The traffic model: arrivals, stays and heartbeats per bay on a simulated clock."""

from __future__ import annotations

import heapq
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sensors.simulator.clock import _zone, utcnow
from sensors.simulator.config import Plan, SimConfig, SimStats
from sensors.simulator.corruption import BROKEN_VARIANTS
from sensors.simulator.curves import (
    _DAY_SAMPLES,
    _PEAK,
    _hour,
    daily_curve,
    demand,
    unreserved_curve,
)
from sensors.simulator.formats import render
from sensors.simulator.messages import Reading, ReadingKind, SimMessage, SimSensor

log = logging.getLogger("kerbside.simulator")

# Heartbeats never take more than this share of the target rate; the interval stretches.
_HEARTBEAT_SHARE = 0.25
# A bay is free at least this long (simulated seconds) between two vans, however busy.
_MIN_GAP_S = 30.0
# At mean demand a free bay waits at least mean dwell / this for its next van, so even a
# rate beyond what the bays can make leaves them free at night.
_MAX_BUSY = 1.5
_BATTERY_FLOOR = 1.0
_DRAIN_PER_UPLINK = 0.01
_DRAIN_PER_HOUR = 0.004
_PROGRESS_S = 60.0


@dataclass
class _Bay:
    """The live state of one simulated sensor and its bay."""

    sensor: SimSensor
    occupied: bool
    battery: float
    f_cnt: int
    temperature: int
    drained_to_s: float = 0.0
    last_at: datetime | None = None


_ARRIVE, _LEAVE, _HEARTBEAT = "arrive", "leave", "heartbeat"


class Simulator:
    """Sensor traffic for a set of bays; `messages` is pure, `run` publishes in real time."""

    def __init__(
        self,
        sensors: Iterable[SimSensor],
        config: SimConfig | None = None,
        *,
        publish: Callable[[str, bytes], object] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config or SimConfig()
        self.sensors = sorted(sensors, key=lambda s: s.sensor_id)
        if not self.sensors:
            raise ValueError("no sensors to simulate: are there zones with bays?")
        if self.config.fmt != "native" and any(not s.dev_eui for s in self.sensors):
            raise ValueError(f"{self.config.fmt} needs a devEUI for every sensor (see enrol)")
        self.publish = publish
        self.clock = clock
        self.stop_event = threading.Event()
        self.stats = SimStats()
        self.sim_start = self.config.start or clock()
        self._wall_origin = clock()
        self._rng = random.Random(self.config.seed)
        self.plan = self._plan()
        self._queue: list[tuple[float, int, int, str]] = []
        self._seq = 0
        self._now_s = 0.0
        self._pending: deque[SimMessage] = deque()
        # A few sensors start low (at least one), so battery warnings show from the start.
        share = self.config.low_battery_share
        low = max(1 if share > 0 else 0, round(len(self.sensors) * share))
        low_batteries = set(self._rng.sample(range(len(self.sensors)), low))
        self._bays = [
            self._initial(index, sensor, low=index in low_batteries)
            for index, sensor in enumerate(self.sensors)
        ]

    # -- planning ----------------------------------------------------------------------

    def _plan(self) -> Plan:
        """Turn the target rate into arrival and heartbeat rates for this many bays."""
        cfg = self.config
        bays = len(self.sensors)
        per_heartbeat = 2 if cfg.fmt == "chirpstack" else 1
        heartbeat_s = max(
            cfg.heartbeat_s, bays * cfg.speed * per_heartbeat / (_HEARTBEAT_SHARE * cfg.rate)
        )
        heartbeat_rate = bays * cfg.speed * per_heartbeat / heartbeat_s
        # Each visit makes two status messages.
        wanted = (cfg.rate - heartbeat_rate) / (2 * bays * cfg.speed)
        # However high the rate, bays stay free part of the day, or the curve would not show.
        most = _MAX_BUSY / self._mean_dwell()
        saturated = self._visits(most) < wanted
        low, high = 1e-12, most
        if not saturated:
            # Visits grow with the arrival rate, so bisect (in log space: it spans decades).
            for _ in range(60):
                middle = math.sqrt(low * high)
                low, high = (middle, high) if self._visits(middle) < wanted else (low, middle)
        capacity = 2 * bays * cfg.speed * self._visits(most) + heartbeat_rate
        return Plan(heartbeat_s, high * 3600, capacity, saturated)

    def _visits(self, arrivals_per_s: float) -> float:
        """Mean visits per simulated second at one bay over a working day, for a base rate.

        A bay's cycle is the dwell, the gap every bay keeps between two vans, and the wait
        for the next van, which the demand of the hour shortens or stretches.
        """
        busy = self._mean_dwell() + _MIN_GAP_S
        share = self.config.unreserved_share
        return sum(
            1 / (busy + 1 / (arrivals_per_s * ((1 - share) * d + share * u)))
            for d, u in _DAY_SAMPLES
        ) / len(_DAY_SAMPLES)

    def _mean_dwell(self) -> float:
        cfg = self.config
        return (cfg.dwell_min_s + cfg.dwell_mode_s + cfg.dwell_max_s) / 3

    def _arrival_rate(self, sensor: SimSensor, t: float) -> float:
        """Arrivals per simulated second at a free bay, at simulated offset t."""
        local = (self.sim_start + timedelta(seconds=t)).astimezone(_zone(sensor.timezone))
        return self.plan.arrivals_per_hour / 3600 * demand(local, self.config.unreserved_share)

    # -- state -------------------------------------------------------------------------

    def _initial(self, index: int, sensor: SimSensor, *, low: bool) -> _Bay:
        rng = self._rng
        bay = _Bay(
            sensor=sensor,
            occupied=False,
            battery=rng.uniform(6.0, 14.0) if low else rng.uniform(40.0, 100.0),
            f_cnt=rng.randint(1, 5000),
            temperature=rng.randint(2, 16),
        )
        # Start in the steady state: occupied with the share of time a bay is busy now.
        busy = self._arrival_rate(sensor, 0.0) * self._mean_dwell()
        if rng.random() < busy / (1 + busy):
            bay.occupied = True
            self._schedule(rng.uniform(0, self._dwell()), index, _LEAVE)
        else:
            self._schedule(self._next_arrival(sensor, 0.0), index, _ARRIVE)
        # Spread the first heartbeats over one period so they do not all come at once.
        self._schedule(rng.uniform(0, self.plan.heartbeat_s), index, _HEARTBEAT)
        return bay

    def _schedule(self, t: float, index: int, event: str) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, index, event))

    def _dwell(self) -> float:
        cfg = self.config
        return self._rng.triangular(cfg.dwell_min_s, cfg.dwell_max_s, cfg.dwell_mode_s)

    def _next_arrival(self, sensor: SimSensor, after: float) -> float:
        """The next arrival at a free bay: a Poisson process thinned by the demand curves."""
        share = self.config.unreserved_share
        peak_demand = (1 - share) * _PEAK[0] + share * _PEAK[1]
        peak = self.plan.arrivals_per_hour / 3600 * peak_demand
        t = after + _MIN_GAP_S
        while True:
            t += self._rng.expovariate(peak)
            if self._rng.random() * peak <= self._arrival_rate(sensor, t):
                return t

    def _is_unreserved(self, sensor: SimSensor, t: float) -> bool:
        """Whether the van that just arrived belongs to a parker who never books."""
        local = (self.sim_start + timedelta(seconds=t)).astimezone(_zone(sensor.timezone))
        share = self.config.unreserved_share
        theirs = share * unreserved_curve(_hour(local))
        total = theirs + (1 - share) * daily_curve(_hour(local))
        return self._rng.random() * total < theirs

    # -- stepping ----------------------------------------------------------------------

    @property
    def simulated_now(self) -> datetime:
        """The simulated instant of the last event."""
        return self.sim_start + timedelta(seconds=self._now_s)

    def _next_due(self) -> float:
        return self._now_s if self._pending else self._queue[0][0]

    def _next_message(self, stamp: Callable[[float], datetime]) -> SimMessage:
        """Advance the model until it has a message; stamp(t) gives its wall-clock time."""
        while not self._pending:
            self._pending.extend(self._step(stamp))
        return self._pending.popleft()

    def _step(self, stamp: Callable[[float], datetime]) -> list[SimMessage]:
        t, _, index, event = heapq.heappop(self._queue)
        self._now_s = t
        bay = self._bays[index]
        sensor = bay.sensor
        stats = self.stats
        if event == _HEARTBEAT:
            jitter = self._rng.uniform(0.98, 1.02)
            self._schedule(t + self.plan.heartbeat_s * jitter, index, _HEARTBEAT)
            kind: ReadingKind = "heartbeat"
        elif event == _ARRIVE:
            bay.occupied = True
            stats.arrivals += 1
            stats.unreserved_arrivals += self._is_unreserved(sensor, t)
            self._schedule(t + self._dwell(), index, _LEAVE)
            kind = "status"
        else:
            bay.occupied = False
            stats.departures += 1
            self._schedule(self._next_arrival(sensor, t), index, _ARRIVE)
            kind = "status"
        reading = self._reading(bay, kind, t, stamp(t))
        broken = None
        if self._rng.random() < self.config.broken_share:
            broken = self._rng.choice(BROKEN_VARIANTS[self.config.fmt])
        return render(reading, self.config.fmt, self.config.network, broken=broken)

    def _reading(self, bay: _Bay, kind: ReadingKind, t: float, at: datetime) -> Reading:
        # One sensor's timestamps strictly increase: equal ones would be dropped as duplicates.
        # Milliseconds, since the native format writes no finer (nor do many devices).
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        if bay.last_at is not None and at <= bay.last_at:
            at = bay.last_at + timedelta(milliseconds=1)
        bay.last_at = at
        hours = (t - bay.drained_to_s) / 3600
        bay.drained_to_s = t
        bay.battery = max(_BATTERY_FLOOR, bay.battery - _DRAIN_PER_UPLINK - _DRAIN_PER_HOUR * hours)
        bay.f_cnt += 1
        local = (self.sim_start + timedelta(seconds=t)).astimezone(_zone(bay.sensor.timezone))
        # Asphalt is a few degrees warmer in the afternoon.
        temperature = bay.temperature + round(3 * math.sin((local.hour - 9) / 24 * 2 * math.pi))
        return Reading(bay.sensor, bay.occupied, kind, bay.battery, bay.f_cnt, at, temperature)

    def _count(self, message: SimMessage) -> None:
        stats = self.stats
        stats.published += 1
        if message.broken is not None:
            stats.broken += 1
        elif message.kind == "status":
            stats.status += 1
        elif message.kind == "heartbeat":
            stats.heartbeat += 1
        else:
            stats.battery += 1

    # -- the two ways to drive it --------------------------------------------------------

    def messages(self, count: int) -> list[SimMessage]:
        """The next `count` messages, stamped as if published on schedule; no I/O, no waiting."""
        speed = self.config.speed

        def stamp(t: float) -> datetime:
            return self._wall_origin + timedelta(seconds=t / speed)

        produced = [self._next_message(stamp) for _ in range(count)]
        for message in produced:
            self._count(message)
        return produced

    def run(
        self,
        *,
        duration_s: float | None = None,
        max_messages: int | None = None,
        stop: threading.Event | None = None,
    ) -> SimStats:
        """Publish in real time until the duration or message count is reached, or stopped."""
        if self.publish is None:
            raise RuntimeError("the simulator was made without a publish function")
        stop = stop or self.stop_event
        speed = self.config.speed
        origin = time.monotonic()
        origin_s = self._next_due()
        deadline = None if duration_s is None else origin + duration_s
        sent = 0
        next_log = origin + _PROGRESS_S
        while not stop.is_set() and (max_messages is None or sent < max_messages):
            due = origin + (self._next_due() - origin_s) / speed
            if deadline is not None and due > deadline:
                stop.wait(max(0.0, deadline - time.monotonic()))
                break
            delay = due - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            message = self._next_message(lambda _t: self.clock())
            self.publish(message.topic, message.payload)
            self._count(message)
            sent += 1
            if time.monotonic() >= next_log:
                next_log += _PROGRESS_S
                log.info(
                    "simulator: %d published (%d broken), simulated %s",
                    self.stats.published,
                    self.stats.broken,
                    self.simulated_now.isoformat(timespec="minutes"),
                )
        return self.stats

    def stop(self) -> None:
        """Ask a running `run` to return (thread- and signal-safe)."""
        self.stop_event.set()
