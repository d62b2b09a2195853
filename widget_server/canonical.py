"""The one reading of an email address that names an account.

Registration, login, recovery, an administrator's new user, an address added in the
account portal, the portal's administrators and the admin search all go through
``canonical_email`` (``search_term`` for a part of an address), so the same typed text
always means the same account, or the same refusal. The rules, in order:

1. **Controls refused.** A C0/C1 control, a format character (zero-width joiner, bidi
   override, …) or an unpaired surrogate is never part of a real address: ``form.invalid``.
2. **Unicode compatibility folded (NFKC).** Full-width letters (U+FF01 to U+FF5E),
   ligatures and the like become their plain forms, so they name the same account as the
   plain spelling instead of a second account that could never sign in.
3. **Syntax and IDN** by email-validator (RFC 5321/6531; internationalised domains through
   ``idna``, UTS #46): its normalised form, the domain in Unicode (``münchen.de`` and
   ``xn--mnchen-3ya.de`` are one domain). Unreadable: ``form.email_invalid``.
4. **Case folded** to lower case, whole address, for the account's key (the address
   row, lookups, throttles). RFC 5321 lets a server treat the local part
   case-sensitively, but no mailbox provider people use does, and two accounts for
   ``Jane@`` and ``jane@`` would be the same person twice. The payload keeps the case
   the person typed (``email_address``), for display only.
5. **Mixed-script look-alikes refused** (Unicode TS #39 "mixed-script confusables"):
   a local part or a domain label that mixes scripts *and* holds a character confusable
   with another script (Cyrillic U+0430 inside ``paypal``) is ``identifier.confusable``.
   A label written wholly in one script (Cyrillic, Han, …) is fine. The decision is
   confusable-homoglyphs' (the Unicode consortium's confusables and scripts data), not a
   table of ours.

Phone numbers have their own one function, ``phones.normalise_phone``.
"""

from __future__ import annotations

import unicodedata

from confusable_homoglyphs import confusables
from email_validator import EmailNotValidError, validate_email

from widget_server.messages import Msg, msg

#: Longest address read at all (RFC 5321's path limit, with room for spacing).
MAX_EMAIL = 320

#: Unicode general categories no address holds: controls, format characters (bidi
#: overrides, zero-width joiners), surrogates, private use, unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


class IdentifierRefused(ValueError):
    """The typed identifier cannot name an account; ``message`` says why, for the field."""

    def __init__(self, message: Msg) -> None:
        super().__init__(message.id)
        self.message = message


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control, format, surrogate, private-use or unassigned
    code point (rule 1): the check passwords share."""
    return any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in text)


def canonical_email(text: str) -> str:
    """``text`` as the account's address (the rules above), or ``IdentifierRefused``."""
    return account_key(email_address(text))


def account_key(address: str) -> str:
    """Rule 4 alone, for an address ``email_address`` already read."""
    # Lower case can leave a string that is not NFKC (rare, e.g. "İ"); fold once more.
    return unicodedata.normalize("NFKC", address.lower())


def email_address(text: str) -> str:
    """``text`` after rules 1, 2, 3 and 5, its case as typed: what a payload shows. Its
    ``canonical_email`` is the same address in lower case."""
    text = text.strip()
    if len(text) > MAX_EMAIL:
        raise IdentifierRefused(msg("form.too_long", max=MAX_EMAIL))
    if has_control(text):
        raise IdentifierRefused(msg("form.invalid"))
    folded = unicodedata.normalize("NFKC", text)
    try:
        normalised = validate_email(folded, check_deliverability=False).normalized
    except EmailNotValidError:
        raise IdentifierRefused(msg("form.email_invalid")) from None
    local, _, domain = normalised.rpartition("@")
    if any(_confusable(part) for part in (local, *domain.split("."))):
        raise IdentifierRefused(msg("identifier.confusable"))
    return normalised


def search_term(text: str) -> str:
    """A part of an address typed into a search, folded like an address (rules 2 and 4)
    so it finds what ``canonical_email`` stored."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text.strip()).lower())


def _confusable(part: str) -> bool:
    if part.isascii():
        return False  # one script (or none): nothing to mix
    return bool(confusables.is_dangerous(part))
