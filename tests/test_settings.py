import pytest

from api.settings import PLACEHOLDER_SECRET, ApiSettings, SettingsError
from booking.settings import BookingSettings


def test_settings_come_from_kerbside_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERBSIDE_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("KERBSIDE_PORT", "9001")
    monkeypatch.setenv("KERBSIDE_TIMEZONE", "Europe/Madrid")
    assert BookingSettings().database_url == "sqlite:///elsewhere.db"
    assert BookingSettings().timezone == "Europe/Madrid"
    assert ApiSettings().port == 9001


def test_defaults_are_the_embedded_platform() -> None:
    assert BookingSettings().database_url == "sqlite:///var/kerbside.db"
    assert BookingSettings().timezone == "Europe/Berlin"
    assert (ApiSettings().host, ApiSettings().port) == ("127.0.0.1", 8000)


@pytest.mark.parametrize("secret", [None, PLACEHOLDER_SECRET, "short"])
def test_production_refuses_a_missing_or_weak_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    monkeypatch.setenv("KERBSIDE_ENV", "production")
    if secret is None:
        monkeypatch.delenv("KERBSIDE_JWT_SECRET", raising=False)
    else:
        monkeypatch.setenv("KERBSIDE_JWT_SECRET", secret)
    with pytest.raises(SettingsError, match="KERBSIDE_JWT_SECRET"):
        ApiSettings().check()


def test_production_starts_with_a_real_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERBSIDE_ENV", "production")
    monkeypatch.setenv("KERBSIDE_JWT_SECRET", "s" * 48)
    ApiSettings().check()
