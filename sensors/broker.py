"""Embedded MQTT broker (amqtt 0.12) for the all-in-one mode (`kerbside run` without a broker URL).

`EmbeddedBroker` runs an amqtt broker on its own asyncio loop in a background thread, on
127.0.0.1:18830 by default (never 1883, so it cannot clash with a system Mosquitto; port 0
picks a free port and `start()` reports it). Production uses Mosquitto; this broker lives
and dies with the all-in-one process.

Configuration handed to `amqtt.broker.Broker` (the 0.12 dict/`BrokerConfig` keys):

- ``listeners: {"default": {"type": "tcp", "bind": "HOST:PORT"}}`` — one TCP listener.
- ``plugins: {"sensors.broker.KerbsideAuthPlugin": {"users": {...}, "allow_anonymous": ...}}``
  — replaces amqtt's default plugin set (event/packet loggers, `$SYS` publisher, and
  `AnonymousAuthPlugin`). Listing plugins here is the 0.12 way; the old `auth:` /
  `topic-check:` sections and entry-point loading are deprecated.
- ``session_expiry_interval`` — seconds a disconnected persistent session is kept
  (the ingest's `session_expiry_s`; amqtt speaks MQTT 3.1.1, so this is broker-wide).

Who may connect (decided here):

- The ingest consumer connects **with** the username/password of the settings (the password
  is generated at start when none is configured; `url` carries both). amqtt keeps a
  persistent session — subscriptions and QoS 1/2 messages queued while the client is away —
  only for sessions whose `is_anonymous` is False, and amqtt's own `AnonymousAuthPlugin`
  marks *every* session anonymous when `allow_anonymous` is on (even ones with a username),
  so it cannot be used: `KerbsideAuthPlugin` checks the users itself and marks only
  clients without a username anonymous.
- Sensors, the simulator and sign displays may connect **anonymously** (no username;
  `anonymous_url`) while `allow_anonymous` is on (the default: the broker listens on
  loopback in a developer's process). They publish and subscribe normally but get no
  persistent session. Further named users can be passed as `extra_users`. A username
  with a wrong password, or an unknown username, is refused (CONNACK "not authorised").

What holds on amqtt 0.12 (checked in its source and in tests/sensors/test_brokers.py):

- MQTT 3.1.1 only: a CONNECT with protocol level 5 is answered "unacceptable protocol
  version". The ingest client must use MQTTv311 with `clean_session=False` against this
  broker (there is no CONNECT SessionExpiryInterval; `session_expiry_interval` above
  stands in for it). `PROTOCOL_LEVEL` says so in code.
- Persistent sessions for authenticated clients: QoS 1 messages published while the
  ingest client is disconnected are queued (in memory, unbounded — no
  `max_queued_messages`) and delivered when it reconnects with the same client id. They
  arrive with the RETAIN flag set (amqtt replays them through its retained path), so the
  consumer must not give the retain flag a meaning.
- Retained messages: stored per topic (an empty payload clears), sent to later
  subscribers. In memory only.
- QoS 1 delivery: the subscription's QoS is used for delivery (a QoS 0 publish reaches a
  QoS 1 subscriber as QoS 1).

What does not hold on amqtt 0.12:

- No shared subscriptions: `$share/<group>/<filter>` is granted but taken as a literal
  filter that no topic matches, so it receives nothing. Run one consumer, without
  `shared_group`.
- Unacknowledged messages are not redelivered: amqtt waits 5 s for a PUBACK and then,
  or as soon as the client disconnects, drops the message from its in-flight state
  (`ProtocolHandler._handle_qos1_message_flow`), so a message received but not acked
  when the consumer's connection drops is lost. Mosquitto redelivers it. In the
  all-in-one mode broker and consumer share one process and a loopback connection, so
  the window is a connection drop mid-batch; a process crash loses the broker's memory anyway.
- Sessions, queued and retained messages live in memory only: they are lost when the
  process exits (fine: the broker lives and dies with the all-in-one process).
- A client that (re)connects is also sent the retained messages matching *any* client's
  subscriptions (amqtt replays retained messages for all subscription filters on connect),
  so a consumer must ignore topics it did not subscribe to.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin

if TYPE_CHECKING:
    from amqtt.session import Session

    from sensors.settings import MqttSettings

logger = logging.getLogger(__name__)

PROTOCOL_LEVEL = 4
"""MQTT protocol level amqtt accepts: 4 = MQTT 3.1.1 (paho `mqtt.MQTTv311`); 5 is refused."""
DEFAULT_INGEST_USER = "kerbside-ingest"


class KerbsideAuthPlugin(BaseAuthPlugin):
    """Named users by password; clients without a username are anonymous (if allowed).

    Only non-anonymous sessions get amqtt's persistent-session behaviour (offline queue).
    """

    @dataclass
    class Config:
        users: dict[str, str] = field(default_factory=dict)
        allow_anonymous: bool = True

    async def authenticate(self, *, session: Session) -> bool:
        config: KerbsideAuthPlugin.Config = self.config
        if not session.username:
            session.is_anonymous = True
            return config.allow_anonymous
        expected = config.users.get(session.username)
        given = session.password or ""
        accepted = expected is not None and hmac.compare_digest(expected.encode(), given.encode())
        session.is_anonymous = not accepted
        return accepted


class EmbeddedBroker:
    """amqtt on a background thread: `start()` → bound (host, port), `stop()`; a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 18830,
        *,
        username: str = DEFAULT_INGEST_USER,
        password: str | None = None,
        extra_users: dict[str, str] | None = None,
        allow_anonymous: bool = True,
        session_expiry_s: int | None = 3600,
        startup_timeout_s: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(24)
        self.users = {**(extra_users or {}), username: self.password}
        self.allow_anonymous = allow_anonymous
        self.session_expiry_s = session_expiry_s
        self.startup_timeout_s = startup_timeout_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._bound: tuple[str, int] | None = None

    @classmethod
    def from_settings(cls, settings: MqttSettings) -> EmbeddedBroker:
        """The embedded broker the settings describe (used when `settings.url` is None)."""
        return cls(
            settings.embedded_host,
            settings.embedded_port,
            username=settings.username or DEFAULT_INGEST_USER,
            password=settings.password,
            session_expiry_s=settings.session_expiry_s,
        )

    # -- addresses -------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); only after `start()`."""
        if self._bound is None:
            raise RuntimeError("the embedded broker is not running")
        return self._bound

    @property
    def url(self) -> str:
        """mqtt:// URL with the ingest user's credentials (for the consumer)."""
        host, port = self.address
        return (
            f"mqtt://{quote(self.username, safe='')}:{quote(self.password, safe='')}@{host}:{port}"
        )

    @property
    def anonymous_url(self) -> str:
        """mqtt:// URL without credentials (for sensors, simulator, sign displays)."""
        host, port = self.address
        return f"mqtt://{host}:{port}"

    def config(self) -> dict[str, Any]:
        """The amqtt 0.12 broker configuration (see the module docstring)."""
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "session_expiry_interval": self.session_expiry_s,
            "plugins": {
                f"{__name__}.KerbsideAuthPlugin": {
                    "users": dict(self.users),
                    "allow_anonymous": self.allow_anonymous,
                },
            },
        }

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> tuple[str, int]:
        """Start the broker; return once it accepts connections, with the bound (host, port)."""
        if self._thread is not None:
            raise RuntimeError("the embedded broker was already started")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="kerbside-amqtt", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.startup_timeout_s):
            self.stop()
            raise TimeoutError(f"amqtt did not start within {self.startup_timeout_s} s")
        if self._error is not None:
            error = self._error
            self._thread.join(self.startup_timeout_s)
            self._thread = None
            raise RuntimeError(
                f"the embedded MQTT broker could not listen on {self.host}:{self.port}: {error}"
            ) from error
        host, port = self.address
        logger.info("embedded MQTT broker (amqtt) listening on %s:%s", host, port)
        return host, port

    def stop(self, timeout_s: float = 10.0) -> None:
        """Shut the broker down (disconnects clients) and wait for its thread; idempotent."""
        thread, loop, stop_requested = self._thread, self._loop, self._stop_requested
        if thread is None:
            return
        if loop is not None and stop_requested is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(stop_requested.set)
        thread.join(timeout_s)
        if thread.is_alive():
            logger.warning("embedded MQTT broker did not stop within %s s", timeout_s)
        self._thread = None
        self._loop = None
        self._stop_requested = None
        self._bound = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(), or logged after it
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                logger.exception("embedded MQTT broker stopped with an error")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        broker = Broker(self.config())
        await broker.start()
        try:
            server = broker._servers["default"].instance  # amqtt keeps no public handle
            bound = server.sockets[0].getsockname()
            self._bound = (bound[0], bound[1])
            self._ready.set()
            await self._stop_requested.wait()
        finally:
            await broker.shutdown()
