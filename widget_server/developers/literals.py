"""Values as literals of the language they land in, so no value can end the literal.

Every value a snippet carries (pool id, client id, locale, our URL) goes through exactly
one of these, chosen by where it lands:

=============  ===================  ==================================================
function       lands in             what cannot break out
=============  ===================  ==================================================
``html_attr``  an HTML attribute    ``"`` ``'`` ``<`` ``>`` ``&`` (entities)
``js_string``  JS/TS, also inside   quotes, backslashes, newlines, U+2028/U+2029, and
               ``<script>`` blocks  ``<`` ``>`` ``&`` (so ``</script>`` and ``<!--``
               of HTML, Vue, Svelte cannot end the block around it)
``py_string``  Python source        ``"…"`` with escapes, ASCII only
``go_string``  Go source            ``strconv.QuoteToASCII``'s escapes
``url_part``   a URL path segment   everything but unreserved characters is %-encoded
``url_query``  a URL query          ``urlencode``
=============  ===================  ==================================================

Values never land in comments: no escaping makes ``*/``, ``-->`` or a newline harmless
there, so comments hold only fixed text.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from urllib.parse import quote, urlencode

# Characters a JSON string may hold raw that still matter around it: inside an HTML
# <script> block "<" starts "</script>" or "<!--"; U+2028/U+2029 ended string literals
# before ES2019 and still end lines in some tools.
_JS_EXTRA = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)

# The escapes C-like languages share; each means the same in Python and Go.
_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def html_attr(value: str) -> str:
    """The value for inside a double-quoted attribute (quotes escaped too)."""
    return html.escape(value, quote=True)


def js_string(value: str) -> str:
    """A double-quoted JS (and TS) string literal, safe inside an HTML ``<script>``."""
    return json.dumps(value, ensure_ascii=True).translate(_JS_EXTRA)


def py_string(value: str) -> str:
    """A double-quoted Python string literal, ASCII only. Every escape it uses means the
    same in Python as in Go, so it is ``go_string`` but for lone surrogates, which
    Python strings may hold."""
    return _quote(value, keep_surrogates=True)


def go_string(value: str) -> str:
    """A Go interpreted string literal with ``strconv.QuoteToASCII``'s escapes. A lone
    surrogate has no Go escape (``\\ud800`` does not compile), so it becomes U+FFFD, as
    Go does with an invalid rune."""
    return _quote(value, keep_surrogates=False)


def _quote(value: str, *, keep_surrogates: bool) -> str:
    out = ['"']
    for char in value:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif 0xD800 <= code <= 0xDFFF and not keep_surrogates:
            out.append("\\ufffd")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def url_part(value: str) -> str:
    """One path segment: ``/``, ``?``, ``#`` and everything else but unreserved encoded."""
    return quote(value, safe="", errors="strict")


def url_query(params: Mapping[str, str]) -> str:
    """``?a=1&b=2`` of the params, or "" when there are none."""
    return "?" + urlencode(dict(params)) if params else ""
