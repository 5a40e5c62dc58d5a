"""Settings the domain needs: where the data lives and which rules apply by default."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class BookingSettings(BaseSettings):
    """Database and rule defaults, read from `KERBSIDE_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="KERBSIDE_", extra="ignore")

    database_url: str = "sqlite:///var/kerbside.db"
    db_pool_size: int = 20
    timezone: str = "Europe/Berlin"
