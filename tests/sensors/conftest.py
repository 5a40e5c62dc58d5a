"""MQTT brokers for the sensor tests: the real Mosquitto and the embedded amqtt broker.

- `mosquitto_url`: the Mosquitto at KERBSIDE_TEST_MQTT_URL (default mqtt://127.0.0.1:1883);
  skipped locally when unreachable, a failure when CI=true.
- `amqtt_url`: an `EmbeddedBroker` on a free port for the test, with the ingest user's
  credentials in the URL (what the consumer uses in the all-in-one mode).
- `broker_url` / `broker`: parametrised over both, for properties that must hold on both.
  `broker` also says which MQTT version the consumer must speak there and which URL a
  sensor publishes with (anonymous on amqtt).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sensors.broker import EmbeddedBroker
from tests.sensors.mqtt_helpers import V5, V311
from tests.services import reachable, require

MOSQUITTO_URL = os.environ.get("KERBSIDE_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
MOSQUITTO_HOW = (
    f"nothing listens at {MOSQUITTO_URL}; start one with `mosquitto -d` "
    "or set KERBSIDE_TEST_MQTT_URL"
)


@dataclass(frozen=True)
class BrokerUnderTest:
    kind: str
    """"mosquitto" or "amqtt"."""
    url: str
    """For the ingest-like subscriber (authenticated on amqtt)."""
    publisher_url: str
    """For sensors and simulators (anonymous on amqtt)."""
    protocol: int
    """The MQTT version the consumer speaks there: 5 on Mosquitto, 3.1.1 on amqtt."""


@pytest.fixture
def mosquitto_url() -> str:
    require("Mosquitto", reachable(MOSQUITTO_URL, 1883), MOSQUITTO_HOW)
    return MOSQUITTO_URL


@pytest.fixture
def embedded_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(port=0, session_expiry_s=120) as broker:
        yield broker


@pytest.fixture
def amqtt_url(embedded_broker: EmbeddedBroker) -> str:
    return embedded_broker.url


@pytest.fixture(params=["mosquitto", "amqtt"])
def broker_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def broker(broker_kind: str, request: pytest.FixtureRequest) -> BrokerUnderTest:
    if broker_kind == "mosquitto":
        url = request.getfixturevalue("mosquitto_url")
        return BrokerUnderTest("mosquitto", url, url, V5)
    embedded: EmbeddedBroker = request.getfixturevalue("embedded_broker")
    return BrokerUnderTest("amqtt", embedded.url, embedded.anonymous_url, V311)


@pytest.fixture
def broker_url(broker: BrokerUnderTest) -> str:
    return broker.url
