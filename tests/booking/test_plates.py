import pytest

from booking.plates import PlateError, display, normalise


@pytest.mark.parametrize(
    "written", ["HH-AB 123", "hh ab123", " hh-ab-123 ", "HH.AB.123", "hhab123"]
)
def test_spellings_of_one_plate_are_one_plate(written: str) -> None:
    assert normalise(written) == "HHAB123"


@pytest.mark.parametrize("written", ["", "-", "A", "HH AB 123 456 789 0", "HH/AB 1", "💥"])
def test_non_plates_are_refused(written: str) -> None:
    with pytest.raises(PlateError):
        normalise(written)


def test_umlauts_are_kept() -> None:
    assert normalise("Lö-X 1") == "LÖX1"


def test_display_tidies_without_losing_the_writing() -> None:
    assert display("  hh-ab   123 ") == "HH-AB 123"
