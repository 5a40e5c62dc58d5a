"""Settings of the SensorThings push, read from `KERBSIDE_PORTAL_*` environment variables.

`url` unset means the push is disabled. `url` is the service root including the version,
e.g. "https://iot.hamburg.de/v1.1".
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PortalSettings(BaseSettings):
    """Where the urban data platform is, how to log in, and how often and how much to push."""

    model_config = SettingsConfigDict(env_prefix="KERBSIDE_PORTAL_", extra="ignore")

    url: str | None = None
    """SensorThings service root with version, e.g. "http://127.0.0.1:8080/FROST/v1.1"."""
    auth: Literal["none", "basic", "bearer"] = "none"
    username: str | None = None
    password: str | None = None
    token: str | None = None
    interval_s: int = Field(default=60, ge=1)
    """How often the scheduler runs the push."""
    keepalive_min: int = Field(default=15, ge=1)
    """An unchanged zone's count is sent again after this long, so consumers see it is alive."""
    timeout_s: float = Field(default=10.0, gt=0)
    service_name: str = "HH_STA_Ladezonen"
    """Hamburg's `properties.serviceName` on each Datastream: the dataset the zones belong to."""
    layer_name: str = "Ladezonen_Verfuegbarkeit"
    """Hamburg's `properties.layerName` on each Datastream."""
    batch_size: int = Field(default=500, ge=1, le=10_000)
    """Observations per CreateObservations request (and per run's sending step)."""
    max_backoff_s: int = Field(default=600, ge=1)
    """Ceiling of the exponential backoff while the platform is down."""
    data_array: bool | None = None
    """DataArray extension: None → ask the server (conformance), False → single POSTs."""

    @property
    def enabled(self) -> bool:
        """Whether a platform is configured at all."""
        return bool(self.url)
