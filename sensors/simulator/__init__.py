"""Sensor traffic simulator: realistic bay occupancy for the zones in the database, over MQTT.

Three formats, the three the ingest reads (see `sensors.envelopes`):

- ``native``: ``kerbside/v1/sensors/{sensor_id}/state`` with
  ``{"occupied", "ts", "battery", "kind"}``; ``ts`` in the zone's local time with its offset.
- ``chirpstack``: ChirpStack v4 JSON up events on
  ``application/{app_id}/device/{dev_eui}/event/up`` carrying a Bosch Parking Lot Sensor
  frame in ``data`` (fPort 1 status, fPort 2 heartbeat; byte 0 bit 0 = occupied) and the
  decoded ``object``; heartbeats are followed by a ``.../event/status`` event with the battery.
- ``tts``: The Things Stack v3 uplinks on ``v3/{app}@{tenant}/devices/{device_id}/up``
  with the same frame in ``frm_payload`` and ``decoded_payload``.

The traffic model runs on a simulated clock, ``speed`` times faster than the wall clock,
and is deterministic for a seed and a start instant. Per bay, vans arrive as a Poisson
process shaped by a daily curve in the zone's local time (quiet at night, peaks late
morning and early afternoon, quieter weekends) plus a share of parkers who never book and
come through the afternoon and evening; each stays 5-40 simulated minutes. The simulator
books nothing: it reports occupancy and the platform decides what it means. Every sensor
re-sends its state as a heartbeat, batteries drain slowly (a few start low), and about
0.5 % of uplinks are corrupted so dead-lettering shows.

Messages carry the wall clock at publish time, so the platform accepts them in order however
fast the simulated day runs. The flip side: at speed 60 a 20-minute stay lasts 20 wall-clock
seconds, so what the platform times in minutes (unreserved past its tolerance, overstays,
no-shows) only shows at low speeds.

`enrol` registers the database's sensors the way a format needs, `Simulator.messages` is the
pure generator the tests use, `Simulator.run` publishes through `MqttPublisher`.
"""

from sensors.simulator.clock import parse_start, utcnow
from sensors.simulator.config import Plan, SimConfig, SimStats
from sensors.simulator.corruption import BROKEN_VARIANTS
from sensors.simulator.curves import daily_curve, demand, unreserved_curve
from sensors.simulator.enrolment import enrol
from sensors.simulator.formats import render
from sensors.simulator.messages import (
    FORMATS,
    Format,
    Network,
    Reading,
    ReadingKind,
    SimMessage,
    SimSensor,
    bosch_frame,
    bosch_object,
    derived_dev_eui,
)
from sensors.simulator.publisher import MqttPublisher
from sensors.simulator.traffic import Simulator, log

__all__ = [
    "BROKEN_VARIANTS",
    "FORMATS",
    "Format",
    "MqttPublisher",
    "Network",
    "Plan",
    "Reading",
    "ReadingKind",
    "SimConfig",
    "SimMessage",
    "SimSensor",
    "SimStats",
    "Simulator",
    "bosch_frame",
    "bosch_object",
    "daily_curve",
    "demand",
    "derived_dev_eui",
    "enrol",
    "log",
    "parse_start",
    "render",
    "unreserved_curve",
    "utcnow",
]
