"""Settings of the MQTT side, read from `KERBSIDE_MQTT_*` environment variables.

`url` unset means the all-in-one mode: the app starts an embedded amqtt broker on
`embedded_host:embedded_port` (see `sensors.broker`), never on 1883, so it cannot clash with
a system Mosquitto. Port 0 lets the OS pick a free port; the broker reports the bound one.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}


class MqttSettings(BaseSettings):
    """Where the broker is, who the ingest consumer is, and what it subscribes to."""

    model_config = SettingsConfigDict(env_prefix="KERBSIDE_MQTT_", extra="ignore")

    url: str | None = None
    """e.g. "mqtt://user:pass@127.0.0.1:1883"; None → start the embedded broker."""
    client_id: str = "kerbside-ingest"
    protocol: Literal["5", "3.1.1"] = "5"
    """MQTT version; the embedded amqtt broker speaks 3.1.1 only, so it is set for it."""
    session_expiry_s: int = 3600
    username: str | None = None
    """Wins over a user in `url`. With the embedded broker: the ingest user it accepts."""
    password: str | None = None
    """Wins over a password in `url`. With the embedded broker, None → generated at start."""
    embedded_host: str = "127.0.0.1"
    embedded_port: int = 18830
    shared_group: str | None = None
    """e.g. "kerbside" → subscribe to $share/kerbside/<topic> (Mosquitto; not amqtt)."""
    topics: list[str] = Field(
        default_factory=lambda: [
            "kerbside/v1/sensors/+/state",
            "application/+/device/+/event/up",
            "application/+/device/+/event/status",
            "v3/+/devices/+/up",
        ]
    )
    batch_size: int = 500
    batch_ms: int = 100
    sign_topic_prefix: str = "kerbside/v1/zones"

    def broker_address(self) -> tuple[str, int, str | None, str | None]:
        """(host, port, username, password) of the broker to connect to.

        From `url` when set (mqtt:// or tcp:// default to 1883, mqtts:// or ssl:// to 8883;
        user and password percent-decoded), else the embedded broker's host and port.
        `username`/`password` set explicitly win over those in the URL.
        """
        if self.url is None:
            return self.embedded_host, self.embedded_port, self.username, self.password
        return parse_mqtt_url(self.url, username=self.username, password=self.password)

    def subscriptions(self) -> list[str]:
        """The topic filters to subscribe to, in the shared group when one is set."""
        if self.shared_group:
            return [f"$share/{self.shared_group}/{topic}" for topic in self.topics]
        return list(self.topics)


def parse_mqtt_url(
    url: str, *, username: str | None = None, password: str | None = None
) -> tuple[str, int, str | None, str | None]:
    """(host, port, username, password) from an mqtt:// URL; explicit credentials win."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r} in {url!r}")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    user = username if username is not None else _unquoted(parts.username)
    secret = password if password is not None else _unquoted(parts.password)
    return host, port, user, secret


def _unquoted(value: str | None) -> str | None:
    return None if value is None else unquote(value)
