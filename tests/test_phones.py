"""The phone policy (widget_server/phones.py), table-driven, and where it is applied:
registration form values (forms/reading.py) and admin-created users (users/inputs.py)."""

from __future__ import annotations

import time

import pytest

from widget_server.errors import InvalidInput
from widget_server.forms import read_step
from widget_server.phones import MAX_INPUT, PhoneRefused, country_names, masked, normalise_phone

ACCEPTED = [
    # (typed, default region, E.164)
    ("+49 30 123456", None, "+4930123456"),
    ("030 123456", "DE", "+4930123456"),
    ("+49 (0)30 123456", None, "+4930123456"),
    ("tel:+49-30-123456", None, "+4930123456"),
    ("0049 151 23456789", "DE", "+4915123456789"),
    ("0151/23456789", "DE", "+4915123456789"),
    ("(202) 555-0143", "US", "+12025550143"),
    ("+1 202.555.0143", None, "+12025550143"),
    ("00 44 20 7946 0958", "DE", "+442079460958"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("+33 6 12 34 56 78", None, "+33612345678"),
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("+81 90-1234-5678", None, "+819012345678"),
    ("+61 412 345 678", None, "+61412345678"),
    ("+91 98765 43210", None, "+919876543210"),
    ("+55 11 91234-5678", None, "+5511912345678"),
    ("+34 612 34 56 78", None, "+34612345678"),
    ("+39 312 345 6789", None, "+393123456789"),
    ("+86 138 0013 8000", None, "+8613800138000"),
    ("  +41 44 668 18 00  ", None, "+41446681800"),
    ("+٤٩ ٣٠ ١٢٣٤٥٦", None, "+4930123456"),  # Arabic-Indic digits, as phones type them
]

REFUSED = [
    # (typed, default region, message id)
    # Letters are refused, never read as keypad digits (vanity numbers, issue 17).
    ("abc", None, "phone.letters"),
    ("call me maybe", "DE", "phone.letters"),
    ("+49 151 ABCDEFGH", None, "phone.letters"),
    ("+49 151 2345678O", None, "phone.letters"),  # a letter O for a zero
    ("+44 20 7946 0958 ext. 1234", None, "phone.letters"),
    ("", "DE", "phone.invalid"),
    ("030 123456", None, "phone.invalid"),  # national format without a region
    ("+49 1", None, "phone.invalid"),
    ("+1 000 000 0000", None, "phone.invalid"),
    ("+44 7700 900123", None, "phone.invalid"),  # Ofcom drama range: not assigned
    ("+999 123456", None, "phone.invalid"),
    ("12" * 20, "DE", "phone.invalid"),
    ("+44 909 8790000", None, "phone.type_refused"),  # premium rate
    ("+1 900 555 0100", None, "phone.type_refused"),  # premium rate
    ("+49 900 1234567", None, "phone.type_refused"),  # premium rate
    ("+49 180 1 2345", None, "phone.type_refused"),  # shared cost
    ("+44 800 123 4567", None, "phone.type_refused"),  # toll free
    ("+1 800 FLOWERS", None, "phone.letters"),  # toll free, vanity letters
    ("+44 55 1234 5678", None, "phone.type_refused"),  # UAN
    ("+49 177 99 1234567", None, "phone.type_refused"),  # voicemail
    ("+44 76 4012 3456", None, "phone.type_refused"),  # pager
    ("+44 70 1234 5678", None, "phone.type_refused"),  # "personal number" redirect
    ("+44 56 1234 5678", None, "phone.type_refused"),  # VoIP
    ("1" * (MAX_INPUT + 1), None, "form.too_long"),
    ("9" * 10_000, "DE", "form.too_long"),
    ("+" + "4" * 10_000, None, "form.too_long"),
]


@pytest.mark.parametrize(("typed", "region", "e164"), ACCEPTED)
def test_numbers_in_every_format_become_e164(typed: str, region: str | None, e164: str) -> None:
    assert normalise_phone(typed, default_region=region) == e164


@pytest.mark.parametrize(("typed", "region", "message_id"), REFUSED)
def test_refused_numbers_say_why(typed: str, region: str | None, message_id: str) -> None:
    with pytest.raises(PhoneRefused) as refused:
        normalise_phone(typed, default_region=region)
    assert refused.value.message.id == message_id


@pytest.mark.parametrize(
    ("typed", "regions", "accepted"),
    [
        ("+49 151 23456789", ("DE", "AT", "CH"), True),
        ("+43 664 1234567", ("DE", "AT", "CH"), True),
        ("+33 6 12 34 56 78", ("DE", "AT", "CH"), False),
        ("+1 202 555 0143", ("CA",), False),  # +1 is shared; the region decides
        ("+1 613 555 0143", ("CA",), True),
    ],
)
def test_pool_regions_limit_where_numbers_come_from(
    typed: str, regions: tuple[str, ...], accepted: bool
) -> None:
    if accepted:
        assert normalise_phone(typed, regions=regions).startswith("+")
        return
    with pytest.raises(PhoneRefused) as refused:
        normalise_phone(typed, regions=regions)
    assert refused.value.message.id == "phone.region_refused"
    # Country names, not ISO codes (issue 17): what a person can read.
    names = {"DE": "Germany", "AT": "Austria", "CH": "Switzerland", "CA": "Canada"}
    assert refused.value.message.params == {"regions": ", ".join(names[r] for r in regions)}


def test_ten_thousand_digits_are_refused_without_parsing() -> None:
    started = time.perf_counter()
    for _ in range(1000):
        with pytest.raises(PhoneRefused):
            normalise_phone("9" * 10_000, default_region="DE")
    assert time.perf_counter() - started < 0.5


def test_masked_shows_country_code_and_last_two_digits() -> None:
    assert masked("+4915123456756") == "+49 ••• ••56"
    assert masked("+12025550143") == "+1 ••• ••43"


# --- where the policy is applied --------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email", "x-identifier": True},
        "mobile": {"type": "string", "format": "tel", "x-default-region": "DE"},
        "other": {"type": "string", "x-widget": "tel"},
    },
    "required": ["email"],
}


def _refusals(form: dict[str, list[str]], regions: tuple[str, ...] = ()) -> dict[str, str]:
    try:
        read_step(SCHEMA, "main", form, phone_regions=regions)
    except InvalidInput as exc:
        return {k: v[0].id for k, v in exc.messages.items()}
    return {}


def test_form_reading_uses_the_policy_with_field_region_and_pool_regions() -> None:
    values = read_step(
        SCHEMA, "main", {"email": ["a@b.de"], "mobile": ["0151 23456789"]}, phone_regions=("DE",)
    )
    assert values["mobile"] == "+4915123456789"
    # One allowed region reads national formats even without x-default-region.
    form = {"email": ["a@b.at"], "other": ["0664 1234567"]}
    values = read_step(SCHEMA, "main", form, phone_regions=("AT",))
    assert values["other"] == "+436641234567"
    assert _refusals({"email": ["a@b.de"], "mobile": ["+44 909 8790000"]}) == {
        "mobile": "phone.type_refused"
    }
    assert _refusals({"email": ["a@b.de"], "mobile": ["+33 6 12 34 56 78"]}, ("DE",)) == {
        "mobile": "phone.region_refused"
    }
    assert _refusals({"email": ["a@b.de"], "other": ["x" * 200]}) == {"other": "form.too_long"}


def test_a_tel_uri_is_read_but_letters_elsewhere_are_not() -> None:
    assert normalise_phone("TEL:+49 30 123456") == "+4930123456"
    with pytest.raises(PhoneRefused) as refused:
        normalise_phone("tel:+49 30 12345X")
    assert refused.value.message.id == "phone.letters"


def test_a_region_without_example_data_is_named_by_its_code() -> None:
    assert country_names(("DE", "XK")) == "Germany, XK"
