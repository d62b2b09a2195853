"""Phone policy: what a typed phone number means, and which numbers we accept.

One function, ``normalise_phone``, reads every phone number the server takes in
(registration fields, admin-created users, login identifiers): any national or
international format phonenumbers understands, with a default region for national
ones, becomes E.164 (``+4930123456``) — the only form stored, compared or sent to.

Refused, each with a message id for the field:

- ``form.too_long``: longer than ``MAX_INPUT`` characters, before any parsing (the
  parser's cost grows with its input, and no number needs more);
- ``phone.letters``: any letter. phonenumbers reads letters as keypad digits (a
  vanity number: ``+49 151 ABCDEFGH`` becomes ``+49 151 22233344``), so a typo or a
  name typed into the field would send a code to a stranger's number;
- ``phone.invalid``: not a number phonenumbers can parse and validate (too few or too
  many digits, unassigned ranges);
- ``phone.type_refused``: a number that is not a person's mobile or fixed line —
  premium-rate, shared-cost, toll-free, UAN, voicemail, pager, personal-number and
  VoIP ranges. Codes sent to premium or shared-cost ranges are the classic SMS
  pumping fraud (whoever owns the range is paid per message), and the others
  reach a service, not a person;
- ``phone.region_refused``: the number belongs to a region outside the pool's
  ``phone_regions`` (params: ``regions``, the allowed countries by their English names,
  from phonenumbers' own data: ``country_names``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder

from widget_server.messages import Msg, msg

#: Longest input read at all. "+44 (0) 20 7946 0958 ext. 1234" is 30 characters;
#: twice that leaves room for any spacing a person types.
MAX_INPUT = 64

_PERSONAL = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


class PhoneRefused(ValueError):
    """The typed number is not accepted; ``message`` says why, for the field."""

    def __init__(self, message: Msg) -> None:
        super().__init__(message.id)
        self.message = message


def normalise_phone(
    text: str, *, default_region: str | None = None, regions: Sequence[str] = ()
) -> str:
    """``text`` as E.164, or ``PhoneRefused``.

    ``default_region`` reads national formats ("030 123456" with "DE"); without it a
    number must start with ``+`` or an international prefix phonenumbers knows.
    ``regions``: ISO 3166 codes the number must belong to; empty allows any.
    """
    if len(text) > MAX_INPUT:
        raise PhoneRefused(msg("form.too_long", max=MAX_INPUT))
    digits = text.strip()
    if digits[:4].lower() == "tel:":  # an RFC 3966 URI, as a tel: link copies it
        digits = digits[4:]
    if any(ch.isalpha() for ch in digits):
        raise PhoneRefused(msg("phone.letters"))
    try:
        number = phonenumbers.parse(text.strip(), default_region)
    except phonenumbers.NumberParseException:
        raise PhoneRefused(msg("phone.invalid")) from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneRefused(msg("phone.invalid"))
    if phonenumbers.number_type(number) not in _PERSONAL:
        raise PhoneRefused(msg("phone.type_refused"))
    if regions and phonenumbers.region_code_for_number(number) not in regions:
        raise PhoneRefused(msg("phone.region_refused", regions=country_names(regions)))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def country_names(regions: Sequence[str]) -> str:
    """``"Germany, Switzerland"`` for ``("DE", "CH")``: what a person reads, not ISO codes."""
    return ", ".join(country_name(region) for region in regions)


@cache
def country_name(region: str) -> str:
    """The English name of an ISO 3166 region, from phonenumbers' geocoding data (its
    public API: the country of the region's example number); the code when it has none."""
    example = phonenumbers.example_number(region)
    name = geocoder.country_name_for_number(example, "en") if example is not None else ""
    return name or region


def default_region_for(field_region: object, regions: Sequence[str]) -> str | None:
    """The region national formats are read in: the field's ``x-default-region``, else
    the pool's only allowed region (a pool that allows only DE reads "030 …" as DE)."""
    if isinstance(field_region, str):
        return field_region
    return regions[0] if len(regions) == 1 else None


def masked(e164: str) -> str:
    """``+49 ••• ••56``: enough for the owner to recognise, little for anyone else —
    the country code and the last two digits."""
    try:
        country = str(phonenumbers.parse(e164).country_code)
    except phonenumbers.NumberParseException:
        country = ""
    return f"+{country} ••• ••{e164[-2:]}" if country else "•••"
