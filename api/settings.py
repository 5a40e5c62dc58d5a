"""Settings of the API process, read from `KERBSIDE_*` environment variables."""

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-development-only"
MIN_SECRET_LENGTH = 32


class SettingsError(RuntimeError):
    """Configuration that must not start, with the fix in the message."""


class ApiSettings(BaseSettings):
    """How the API listens, authenticates and logs."""

    model_config = SettingsConfigDict(env_prefix="KERBSIDE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    jwt_lifetime_min: int = 12 * 60
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    load_demo: bool = True
    feed_ttl_s: float = 5.0
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "© OpenStreetMap contributors"

    def check(self) -> None:
        """Refuse to start production with a missing, placeholder or short secret."""
        if self.env != "production":
            return
        secret = self.jwt_secret.get_secret_value()
        if secret == PLACEHOLDER_SECRET or len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                "KERBSIDE_JWT_SECRET must be set to a random string of at least "
                f"{MIN_SECRET_LENGTH} characters when KERBSIDE_ENV=production "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
            )
