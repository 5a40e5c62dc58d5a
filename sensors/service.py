"""The ingest side as one service: embedded broker (if no broker is configured), consumer, signs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from booking.policy import Policy
from sensors import simulator
from sensors.broker import EmbeddedBroker
from sensors.consumer import Consumer
from sensors.ingest import BatchResult, Ingestor
from sensors.settings import MqttSettings
from sensors.signs import SignPublisher

log = logging.getLogger("kerbside.ingest")
SIGN_REFRESH_S = 15.0


class IngestService:
    """Start and stop everything the MQTT side needs, in this process."""

    def __init__(
        self,
        engine: Engine,
        settings: MqttSettings,
        *,
        policy: Policy,
        clock: Callable[[], datetime],
        signs: bool = True,
    ) -> None:
        self.engine, self.settings, self.policy, self.clock = engine, settings, policy, clock
        self.broker: EmbeddedBroker | None = None
        self.consumer: Consumer | None = None
        self.signs: SignPublisher | None = None
        self._with_signs = signs
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self) -> None:
        """Broker (embedded when no URL is set), consumer, and the sign publisher."""
        settings = self.settings
        if settings.url is None:
            self.broker = EmbeddedBroker.from_settings(settings)
            host, port = self.broker.start()
            # The consumer authenticates: amqtt keeps persistent sessions only for known users.
            settings = settings.model_copy(
                update={
                    "embedded_host": host,
                    "embedded_port": port,
                    "username": self.broker.username,
                    "password": self.broker.password,
                    "protocol": "3.1.1",
                    "shared_group": None,
                }
            )
            self.settings = settings
            log.info("embedded MQTT broker on %s:%d", host, port)
        ingestor = Ingestor(self.engine, self.policy, self.clock)
        self.consumer = Consumer(settings, ingestor, on_batch=self._after_batch)
        self.consumer.start()
        if self._with_signs:
            self.signs = SignPublisher(
                self.engine,
                self.consumer.client,
                prefix=settings.sign_topic_prefix,
                policy=self.policy,
                clock=self.clock,
            )
            self._ticker = threading.Thread(target=self._tick, name="kerbside-signs", daemon=True)
            self._ticker.start()

    def stop(self) -> None:
        """Stop in reverse order; messages not yet committed stay with the broker."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=10)
        if self.consumer is not None:
            self.consumer.stop()
        if self.broker is not None:
            self.broker.stop()

    def _after_batch(self, result: BatchResult) -> None:
        if self.signs is not None and result.changed_zones:
            self.signs.refresh(result.changed_zones)

    def _tick(self) -> None:
        # Bookings made over REST and the passing of time change signs too.
        assert self.consumer is not None
        self.consumer.wait_connected(timeout=30)
        while not self._stop.is_set():
            try:
                if self.signs is not None:
                    self.signs.refresh()
            except Exception:
                log.exception("sign refresh failed")
            self._stop.wait(SIGN_REFRESH_S)


class SimulatorService:
    """Simulated sensor traffic beside the all-in-one platform (`kerbside run --simulate`)."""

    def __init__(self, engine: Engine, ingest: IngestService, config: simulator.SimConfig) -> None:
        self.engine, self.ingest, self.config = engine, ingest, config
        self._simulator: simulator.Simulator | None = None
        self._publisher: simulator.MqttPublisher | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Enrol the bays' sensors and publish to the broker the ingest listens on."""
        sensors = simulator.enrol(self.engine, fmt=self.config.fmt)
        if not sensors:
            log.warning("no bays to simulate")
            return
        # Started after the ingest, so the embedded broker's port is known.
        self._publisher = simulator.MqttPublisher.from_settings(self.ingest.settings).connect()
        self._simulator = simulator.Simulator(sensors.values(), self.config)
        self._simulator.publish = self._publisher.publish
        self._thread = threading.Thread(
            target=self._simulator.run, name="kerbside-sim", daemon=True
        )
        self._thread.start()
        log.info("simulating %d sensors (%s)", len(sensors), self.config.fmt)

    def stop(self) -> None:
        """Stop publishing."""
        if self._simulator is not None:
            self._simulator.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._publisher is not None:
            self._publisher.close()
