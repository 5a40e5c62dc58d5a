"""Settings the domain needs: where the data lives and which rules apply by default."""

from datetime import timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict

from booking.policy import Policy


class BookingSettings(BaseSettings):
    """Database and rule defaults, read from `KERBSIDE_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="KERBSIDE_", extra="ignore")

    database_url: str = "sqlite:///var/kerbside.db"
    db_pool_size: int = 20
    timezone: str = "Europe/Berlin"
    grace_min: int = 10
    early_arrival_min: int = 15
    max_live_bookings: int = 3
    stale_after_min: int = 15

    def stale_after(self) -> timedelta:
        """How old a zone's sensor data may be before live figures are withheld."""
        return timedelta(minutes=self.stale_after_min)

    def policy(self) -> Policy:
        """The booking policy these settings describe."""
        return Policy(
            grace=timedelta(minutes=self.grace_min),
            early_arrival=timedelta(minutes=self.early_arrival_min),
            max_live_bookings=self.max_live_bookings,
        )
