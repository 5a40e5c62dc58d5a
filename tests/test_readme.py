"""The README stays true: every setting is in its configuration table."""

from pathlib import Path

import pytest

from api.settings import ApiSettings
from booking.impact import ImpactAssumptions
from booking.settings import BookingSettings
from opendata.settings import PortalSettings
from sensors.settings import MqttSettings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "settings", [ApiSettings, BookingSettings, MqttSettings, PortalSettings, ImpactAssumptions]
)
def test_every_setting_is_documented(settings: type) -> None:
    prefix = settings.model_config["env_prefix"]
    missing = [
        f"{prefix}{name.upper()}"
        for name in settings.model_fields
        if f"`{prefix}{name.upper()}`" not in README
    ]
    assert missing == []


def test_readme_names_the_two_commands() -> None:
    assert "make run" in README and "make test" in README
