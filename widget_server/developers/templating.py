"""Fill a snippet's code template in one pass.

Templates mark values with ``@@NAME@@`` (a marker that no snippet language gives a
meaning, unlike ``{}``, ``${}`` or ``{{ }}``). Values are literals already escaped for
their language (``literals.py``); they are inserted once and never scanned again, so a
value that itself contains ``@@X@@`` stays text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_MARK = re.compile(r"@@([A-Z][A-Z0-9_]*)@@")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace every marker; a marker without a value or a value without a marker is a
    bug in the template, and raises ``KeyError``."""
    used = set(_MARK.findall(template))
    missing, unused = used - set(values), set(values) - used
    if missing or unused:
        raise KeyError(f"template markers missing {sorted(missing)}, unused {sorted(unused)}")
    return _MARK.sub(lambda m: values[m.group(1)], template)
