"""The sensor simulator: what it publishes parses, its traffic looks real, it reaches brokers."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from booking import sensor_registry
from booking.database import transaction
from booking.policy import Policy
from booking.tables import Bay, BayState, DeadLetter, Sensor
from sensors import codecs, envelopes
from sensors.envelopes import PayloadError
from sensors.ingest import Ingestor, Message
from sensors.settings import MqttSettings, parse_mqtt_url
from sensors.simulator import (
    BROKEN_VARIANTS,
    FORMATS,
    MqttPublisher,
    Network,
    Reading,
    SimConfig,
    SimMessage,
    SimSensor,
    Simulator,
    daily_curve,
    derived_dev_eui,
    enrol,
    parse_start,
    render,
)
from tests.factories import make_zone
from tests.sensors.conftest import BrokerUnderTest
from tests.sensors.mqtt_helpers import Subscriber

# Tuesday 1 December 2026, 09:00 UTC = 10:00 in Hamburg.
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WALL = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CODEC = {"native": "native", "chirpstack": "decoded", "tts": "decoded"}


def sensors(count: int = 8, prefix: str = "Z-1-s") -> list[SimSensor]:
    return [
        SimSensor(f"{prefix}{n}", "Z-1", str(n), derived_dev_eui(f"{prefix}{n}"))
        for n in range(1, count + 1)
    ]


def simulator(fmt: str = "native", *, bays: int = 8, **config: object) -> Simulator:
    """A simulator on a fixed clock, starting at a fixed simulated instant."""
    settings = SimConfig(fmt=fmt, start=START, **config)  # type: ignore[arg-type]
    return Simulator(sensors(bays), settings, clock=lambda: WALL)


def read(message: SimMessage, codec: str) -> tuple[envelopes.Uplink, codecs.Decoded]:
    """What the ingest makes of a message; PayloadError when it would dead-letter it."""
    uplink = envelopes.parse(message.topic, message.payload)
    return uplink, codecs.decode(uplink, codec)


# --- every message parses -------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_generated_message_parses_and_decodes(fmt: str) -> None:
    sim = simulator(fmt, broken_share=0.0)
    devices = {s.dev_eui if fmt != "native" else s.sensor_id: s.sensor_id for s in sim.sensors}
    kinds: Counter[str] = Counter()
    for message in sim.messages(3000):
        uplink, decoded = read(message, CODEC[fmt])
        assert devices[uplink.device] == message.sensor_id
        assert uplink.at.utcoffset() == timedelta(0)
        assert decoded.kind == message.kind
        kinds[decoded.kind] += 1
        if decoded.kind == "battery":
            assert decoded.battery is not None and 0 <= decoded.battery <= 100
            continue
        assert isinstance(decoded.occupied, bool)
        if fmt == "native":
            assert uplink.battery is not None and 0 <= uplink.battery <= 100
        else:
            # The Bosch frame says what the decoded object says, so a "bosch" codec works too.
            raw = codecs.decode(replace(uplink, decoded=None), "bosch")
            assert (raw.occupied, raw.kind) == (decoded.occupied, decoded.kind)
            assert uplink.f_port == (1 if decoded.kind == "status" else 2)
    assert kinds["status"] > kinds["heartbeat"] > 0
    # ChirpStack reports batteries in status events, one after each heartbeat.
    assert (kinds["battery"] == kinds["heartbeat"]) == (fmt == "chirpstack")


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_sensors_timestamps_strictly_increase(fmt: str) -> None:
    # Equal timestamps would be dropped as duplicates, earlier ones as late.
    sim = simulator(fmt, broken_share=0.0, speed=1_000_000.0)
    last: dict[str, datetime] = {}
    for message in sim.messages(2000):
        if message.kind == "battery":
            continue
        uplink, _ = read(message, CODEC[fmt])
        if message.sensor_id in last:
            assert uplink.at > last[message.sensor_id]
        last[message.sensor_id] = uplink.at


def test_native_time_carries_the_zone_offset() -> None:
    message = simulator("native", broken_share=0.0).messages(1)[0]
    assert b'+01:00"' in message.payload  # Hamburg in December


def test_heartbeats_repeat_the_current_state_and_batteries_drain() -> None:
    sim = simulator("native", broken_share=0.0, bays=40)
    state: dict[str, bool] = {}
    batteries: dict[str, list[float]] = defaultdict(list)
    for message in sim.messages(5000):
        uplink, decoded = read(message, "native")
        if decoded.kind == "heartbeat" and message.sensor_id in state:
            assert decoded.occupied == state[message.sensor_id]
        state[message.sensor_id] = bool(decoded.occupied)
        assert uplink.battery is not None
        batteries[message.sensor_id].append(uplink.battery)
    for series in batteries.values():
        assert series == sorted(series, reverse=True)
    assert 1 <= sum(series[0] < 15 for series in batteries.values()) <= 4
    assert sum(series[0] - series[-1] for series in batteries.values()) > 0


def test_same_seed_same_traffic_other_seed_other_traffic() -> None:
    first = simulator("chirpstack", seed=7).messages(500)
    assert simulator("chirpstack", seed=7).messages(500) == first
    assert simulator("chirpstack", seed=8).messages(500) != first


# --- broken payloads ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "variant"), [(fmt, v) for fmt in FORMATS for v in BROKEN_VARIANTS[fmt]]
)
@pytest.mark.parametrize("kind", ["status", "heartbeat"])
def test_every_corruption_is_dead_lettered(fmt: str, variant: str, kind: str) -> None:
    reading = Reading(sensors(1)[0], True, kind, 42.5, 17, WALL)  # type: ignore[arg-type]
    (message,) = render(reading, fmt, Network(), broken=variant)  # type: ignore[arg-type]
    assert message.broken == variant
    with pytest.raises(PayloadError):
        read(message, CODEC[fmt])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("share", "count", "low", "high"), [(0.005, 20_000, 0.003, 0.0075), (0.1, 8000, 0.085, 0.115)]
)
def test_broken_share_is_roughly_as_configured(
    fmt: str, share: float, count: int, low: float, high: float
) -> None:
    sim = simulator(fmt, broken_share=share, seed=3)
    messages = sim.messages(count)
    uplinks = [m for m in messages if m.kind != "battery"]
    broken = [m for m in uplinks if m.broken]
    assert low <= len(broken) / len(uplinks) <= high
    assert sim.stats.broken == len(broken)
    for message in messages:
        if message.broken:
            with pytest.raises(PayloadError):
                read(message, CODEC[fmt])
        else:
            read(message, CODEC[fmt])
    # More than one kind of breakage shows up in the dead letters.
    assert len({m.broken for m in broken}) >= 3


# --- the traffic model ----------------------------------------------------------------


def test_daily_curve_is_low_at_night_and_high_late_morning() -> None:
    assert daily_curve(3) < 0.2
    assert daily_curve(11) > 2.0
    assert daily_curve(11) > 10 * daily_curve(3)
    assert daily_curve(14.5) > daily_curve(12.75)  # a second, afternoon peak
    assert daily_curve(8) < daily_curve(11) and daily_curve(20) < daily_curve(17)


def test_arrivals_follow_the_curve_over_a_simulated_day() -> None:
    midnight = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # Tuesday 00:00 in Hamburg
    sim = Simulator(
        sensors(50),
        SimConfig(start=midnight, broken_share=0.0, rate=2.0),
        clock=lambda: WALL,
    )
    arrivals: Counter[int] = Counter()
    while sim.simulated_now < midnight + timedelta(days=1):
        (message,) = sim.messages(1)
        _, decoded = read(message, "native")
        if decoded.kind == "status" and decoded.occupied:
            arrivals[(sim.simulated_now + timedelta(hours=1)).hour] += 1
    assert sum(arrivals[h] for h in (10, 11)) > 5 * sum(arrivals[h] for h in (2, 3))


@pytest.mark.parametrize(("bays", "rate"), [(50, 2.0), (500, 20.0), (8, 0.2)])
def test_rate_is_met_over_a_working_day(bays: int, rate: float) -> None:
    midnight = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    sim = Simulator(
        sensors(bays), SimConfig(start=midnight, rate=rate, speed=60.0), clock=lambda: WALL
    )
    assert not sim.plan.saturated
    count = 0
    while sim.simulated_now < midnight + timedelta(days=1):
        sim.messages(1)
        count += 1
    assert count / (86_400 / 60) == pytest.approx(rate, rel=0.2)


def test_a_rate_beyond_the_bays_is_reported_and_capped() -> None:
    sim = simulator("native", bays=2, rate=50.0, speed=60.0)
    assert sim.plan.saturated
    assert sim.plan.capacity_rate < 50.0


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="format"):
        SimConfig(fmt="lorawan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        SimConfig(rate=0)
    with pytest.raises(ValueError, match="offset"):
        SimConfig(start=datetime(2026, 12, 1, 9, 0))
    with pytest.raises(ValueError, match="devEUI"):
        Simulator([SimSensor("s1", "Z-1", "1")], SimConfig(fmt="tts"))
    with pytest.raises(ValueError, match="no sensors"):
        Simulator([], SimConfig())


def test_start_is_read_as_local_time_unless_it_has_an_offset() -> None:
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # already 2 December in Hamburg

    def start(text: str) -> datetime:
        return parse_start(text, timezone="Europe/Berlin", now=late)

    assert start("10:00") == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert start("2026-12-03T11:00") == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert start("2026-12-03T11:00Z") == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO 8601"):
        start("tomorrow")


# --- running in real time -------------------------------------------------------------


def test_run_stops_at_max_messages_and_stamps_the_wall_clock() -> None:
    sent: list[tuple[str, bytes]] = []
    sim = Simulator(
        sensors(8),
        # The rate paces the wall clock: 1000 messages a second.
        SimConfig(start=START, rate=1000.0, speed=1_000_000.0, broken_share=0.0),
        publish=lambda topic, payload: sent.append((topic, payload)),
    )
    before = datetime.now(UTC)
    stats = sim.run(max_messages=25)
    after = datetime.now(UTC)
    assert stats.published == len(sent) == 25
    for topic, payload in sent:
        at = envelopes.parse(topic, payload).at
        # Millisecond precision, bumped per sensor to keep its timestamps strictly increasing.
        assert before - timedelta(milliseconds=1) <= at <= after + timedelta(seconds=1)


def test_run_stops_on_the_event_and_after_the_duration() -> None:
    sim = Simulator(sensors(8), SimConfig(start=START, speed=1.0), publish=lambda *_: None)
    begun = time.monotonic()
    sim.run(duration_s=0.3)
    assert 0.25 <= time.monotonic() - begun < 2.0
    threading.Timer(0.2, sim.stop).start()
    begun = time.monotonic()
    sim.run()
    assert time.monotonic() - begun < 2.0


# --- enrolment and the ingest ---------------------------------------------------------


def zones_with_and_without_sensors(engine: Engine) -> int:
    """Zone Z-1 with sensors on both bays, Z-2 with one bay and no sensor; Z-2's bay id."""
    with transaction(engine) as session:
        make_zone(session, "Z-1", bays=2, sensors=True)
        make_zone(session, "Z-2", bays=1)
        session.flush()
        bay = session.exec(select(Bay).where(Bay.zone_id == "Z-2")).one()
        assert bay.id is not None
        return bay.id


@pytest.mark.parametrize("fmt", ["chirpstack", "tts"])
def test_enrol_gives_lorawan_sensors_dev_euis(engine: Engine, fmt: str) -> None:
    bay_id = zones_with_and_without_sensors(engine)
    enrolled = enrol(engine, fmt=fmt, now=START)  # type: ignore[arg-type]
    assert set(enrolled) == {"Z-1-s1", "Z-1-s2", f"sim-{bay_id}"}
    assert enrolled["Z-1-s1"].dev_eui == derived_dev_eui("Z-1-s1")
    assert enrolled[f"sim-{bay_id}"].zone_id == "Z-2"
    with transaction(engine) as session:
        stored = {s.id: (s.codec, s.dev_eui) for s in session.exec(select(Sensor))}
        assert session.get(Bay, bay_id).sensor_id == f"sim-{bay_id}"  # type: ignore[union-attr]
    assert stored == {sid: ("decoded", s.dev_eui) for sid, s in enrolled.items()}
    # Enrolling again changes nothing; a sensor already read through the Bosch codec keeps it.
    with transaction(engine) as session:
        sensor_registry.register(
            session=session,
            sensor_id="Z-1-s2",
            zone_id="Z-1",
            bay_label="2",
            codec="bosch",
            dev_eui="70B3D5E75E00A1B2",
            now=START,
        )
    again = enrol(engine, fmt=fmt, now=START)  # type: ignore[arg-type]
    assert again["Z-1-s2"].dev_eui == "70b3d5e75e00a1b2"
    assert again["Z-1-s1"] == enrolled["Z-1-s1"]


def test_enrol_native_registers_only_bays_without_a_sensor(engine: Engine) -> None:
    bay_id = zones_with_and_without_sensors(engine)
    enrol(engine, fmt="chirpstack", now=START)
    enrolled = enrol(engine, fmt="native", now=START)
    assert set(enrolled) == {"Z-1-s1", "Z-1-s2", f"sim-{bay_id}"}
    with transaction(engine) as session:
        codecs_ = {s.id: s.codec for s in session.exec(select(Sensor))}
    # Switched back from the LoRaWAN run, so native messages decode again.
    assert codecs_ == dict.fromkeys(enrolled, "native")


def test_enrol_native_leaves_named_sensors_to_their_first_message(engine: Engine) -> None:
    bay_id = zones_with_and_without_sensors(engine)
    enrol(engine, fmt="native", now=START)
    with transaction(engine) as session:
        assert [s.id for s in session.exec(select(Sensor))] == [f"sim-{bay_id}"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_ingest_applies_what_the_simulator_sends(engine: Engine, fmt: str) -> None:
    zones_with_and_without_sensors(engine)
    enrolled = enrol(engine, fmt=fmt, now=START)  # type: ignore[arg-type]
    sim = Simulator(
        enrolled.values(),
        SimConfig(fmt=fmt, start=START, broken_share=0.05, seed=2),  # type: ignore[arg-type]
        clock=lambda: WALL,
    )
    messages = sim.messages(300)
    ingestor = Ingestor(engine, Policy(), lambda: WALL + timedelta(hours=1))
    result = ingestor.handle([Message(m.topic, m.payload, mid=n) for n, m in enumerate(messages)])
    broken = sum(m.broken is not None for m in messages)
    assert broken > 0
    assert result.dead_letters == broken
    assert result.readings + result.duplicates + result.late == len(messages) - broken
    assert result.duplicates == result.late == 0
    with transaction(engine) as session:
        states = {s.bay_id: s.state for s in session.exec(select(BayState))}
        reasons = {d.reason for d in session.exec(select(DeadLetter))}
    assert len(states) == 3 and set(states.values()) <= {"free", "occupied"}
    assert not any(reason.startswith("unknown sensor") for reason in reasons)


# --- a real broker --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_publishes_to_a_real_broker(broker: BrokerUnderTest, fmt: str) -> None:
    # Unique sensor ids and application names keep concurrent runs apart on a shared broker.
    tag = uuid.uuid4().hex[:12]
    bays = sensors(3, prefix=f"sim-test-{tag}-")
    network = Network(chirpstack_app_id=str(uuid.uuid4()), tts_app=f"kerbside-test-{tag}")
    topics = {
        "native": [f"kerbside/v1/sensors/{s.sensor_id}/state" for s in bays],
        "chirpstack": [f"application/{network.chirpstack_app_id}/device/+/event/+"],
        "tts": [f"v3/{network.tts_app}@{network.tts_tenant}/devices/+/up"],
    }[fmt]
    if broker.kind == "amqtt":
        host, port, _, _ = parse_mqtt_url(broker.publisher_url)
        # No URL: the embedded broker, which the publisher must speak 3.1.1 to, anonymously.
        settings = MqttSettings(url=None, embedded_host=host, embedded_port=port)
    else:
        settings = MqttSettings(url=broker.publisher_url, protocol="5")
    config = SimConfig(
        fmt=fmt,  # type: ignore[arg-type]
        start=START,
        speed=1_000_000.0,
        rate=100.0,
        broken_share=0.0,
        network=network,
    )
    with Subscriber(broker.url, topics, protocol=broker.protocol) as subscriber:
        with MqttPublisher.from_settings(settings) as publisher:
            sim = Simulator(bays, config, publish=publisher.publish)
            sim.run(max_messages=30)
        received = subscriber.wait_for(30, timeout_s=10)
    assert len(received) == 30
    for message in received:
        assert message.qos == 1
        read(SimMessage(message.topic, message.payload, "", "status"), CODEC[fmt])


def test_publisher_reports_a_broker_that_is_not_there() -> None:
    with pytest.raises(ConnectionError):
        MqttPublisher("127.0.0.1", 1, protocol="3.1.1").connect(timeout_s=2)
