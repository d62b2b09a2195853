"""The snippets are kept in sync with the server: every URL a snippet uses is a route of
the app, every ``data-*`` attribute and mount option one embed.js reads, every iframe
query parameter one the widget page takes. A renamed route, attribute or parameter
fails here.

``data-color-scheme`` / ``data-locale`` (and their mount options and query parameters)
are being added to embed.js and the widget pages separately: they are listed in
``PENDING_*`` below, and a test fails as soon as the server reads them, so the list is
emptied then rather than forgotten.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.conftest import PARTNER, Harness
from widget_server.assets import asset_dir
from widget_server.developers import values as paths
from widget_server.developers.snippets import FLOWS, FRAMEWORKS, SnippetRequest, generate
from widget_server.settings import Settings
from widget_server.web.app import create_app

WIDGET_JS = (asset_dir("static") / "widget.js").read_text()
EMBED_JS = (asset_dir("static") / "embed.js").read_text()
BASE = "https://id.acme.example"

PENDING_ATTRIBUTES: set[str] = set()
PENDING_OPTIONS: set[str] = set()
#: The widget has one language so far: ``locale`` is passed on and not read yet.
PENDING_QUERY = {"locale"}
#: Read in the browser by widget.js (it marks <html> for the theme's CSS), not by a route.
READ_BY_WIDGET_JS = {"color_scheme"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    # Only the route table is read: no startup, no database.
    db = tmp_path_factory.mktemp("routes") / "w.db"
    return create_app(Settings(database_url=f"sqlite+aiosqlite:///{db}", secret_key="k",
                               public_url=BASE))


def full_request(framework: str, flow: str) -> SnippetRequest:
    return SnippetRequest(public_url=BASE, pool_id="partner-1", flow=flow, client_id="shop",
                          app_kind="confidential", color_scheme="dark", locale="de",
                          framework=framework)


def route_for(app: Litestar, path: str, method: str) -> HTTPRoute | None:
    for route in app.routes:
        pattern = re.sub(r"\\\{[a-z_]+:[a-z]+\\\}", "[^/]+", re.escape(route.path))
        if (isinstance(route, HTTPRoute) and re.fullmatch(pattern, path)
                and method in route.methods):
            return route
    return None


def query_names(route: HTTPRoute, method: str) -> set[str]:
    """The query parameters the route's handler for ``method`` declares."""
    [handler] = [h for h in route.route_handlers if method in h.http_methods]
    names = set()
    for name, field in handler.parsed_fn_signature.parameters.items():
        kwarg = field.kwarg_definition
        if type(kwarg).__name__ == "QueryParameter":
            names.add(getattr(kwarg, "name", None) or name)
    return names


def snippet_paths(code: str) -> set[str]:
    """Paths under our URL that a snippet's code names (query and fragment cut off)."""
    found = set()
    for url in re.findall(re.escape(BASE) + r"[^\s\"'`<>)]*", code):
        found.add(urlsplit(url.replace("&amp;", "&")).path or "/")
    return found


# --- routes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"),
    [
        (paths.EMBED_SCRIPT_PATH, "GET"),
        *[(paths.WIDGET_PATH.format(pool="partner-1", flow=flow), "GET") for flow in FLOWS],
        (paths.FRAME_CHECK_PATH.format(pool="partner-1"), "GET"),
        (paths.TOKEN_PATH, "POST"),
        (paths.DISCOVERY_PATH, "GET"),
        (paths.JWKS_PATH, "GET"),
    ],
)
def test_every_path_snippets_rely_on_is_a_route(app: Litestar, path: str, method: str) -> None:
    assert route_for(app, path, method) is not None, f"{method} {path} is not served"


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("flow", FLOWS)
def test_every_url_in_a_snippet_is_a_route(app: Litestar, framework: str, flow: str) -> None:
    snippet = generate(full_request(framework, flow))
    used = snippet_paths(snippet.code)
    if framework != "backend-node" and framework != "backend-go":
        assert used, "a snippet that names none of our URLs checks nothing"
    for path in used:
        method = "POST" if path == paths.TOKEN_PATH else "GET"
        assert route_for(app, path, method) is not None, f"{framework} uses {path}"


def test_embed_js_asks_the_frame_check_route(app: Litestar) -> None:
    # connect-src in every script snippet's CSP exists for this request.
    assert '"/frame-check?parent_origin="' in EMBED_JS
    assert route_for(app, paths.FRAME_CHECK_PATH.format(pool="p"), "GET") is not None


@pytest.mark.parametrize("flow", FLOWS)
def test_iframe_query_parameters_are_read_by_the_widget_page(app: Litestar, flow: str) -> None:
    src = re.search(r'src="([^"]+)"', generate(full_request("html-iframe", flow)).code)
    assert src is not None
    url = urlsplit(src.group(1).replace("&amp;", "&"))
    route = route_for(app, url.path, "GET")
    assert route is not None
    taken = query_names(route, "GET")
    assert set(parse_qs(url.query)) <= taken | PENDING_QUERY | READ_BY_WIDGET_JS
    assert not PENDING_QUERY & taken, "the widget reads them now: empty PENDING_QUERY"
    for name in READ_BY_WIDGET_JS:
        assert f'.get("{name}")' in WIDGET_JS


def test_client_id_is_sent_exactly_to_the_flows_that_read_it(app: Litestar) -> None:
    reading = set()
    for flow in FLOWS:
        route = route_for(app, paths.WIDGET_PATH.format(pool="p", flow=flow), "GET")
        assert route is not None
        if "client_id" in query_names(route, "GET"):
            reading.add(flow)
    assert reading == paths.CLIENT_ID_FLOWS | paths.APP_THEMED_FLOWS


# --- embed.js --------------------------------------------------------------------------


def embed_js_attributes() -> set[str]:
    """``data-*`` names embed.js reads from its script tag (``script.dataset.clientId``)."""
    camel = set(re.findall(r"script\.dataset\.([a-zA-Z]+)", EMBED_JS))
    return {re.sub(r"[A-Z]", lambda m: "-" + m.group(0).lower(), name) for name in camel}


def embed_js_options() -> set[str]:
    """Keys embed.js reads from ``mount(element, options)``."""
    return set(re.findall(r"\boptions\.([a-zA-Z]+)", EMBED_JS))


def test_embed_js_reads_what_the_parsers_find() -> None:
    # The two readers above must see the attributes and options embed.js has today.
    assert {"pool", "flow", "target", "client-id"} <= embed_js_attributes()
    assert {"pool", "flow", "clientId", "origin"} <= embed_js_options()


@pytest.mark.parametrize("flow", FLOWS)
def test_script_tag_attributes_are_read_by_embed_js(flow: str) -> None:
    code = generate(full_request("html-script", flow)).code
    used = set(re.findall(r" data-([a-z-]+)=", code))
    read = embed_js_attributes()
    assert used <= read | PENDING_ATTRIBUTES, used - read
    assert not PENDING_ATTRIBUTES & read, "embed.js reads them now: empty PENDING_ATTRIBUTES"


@pytest.mark.parametrize("framework", ["react", "nextjs", "vue", "svelte", "angular"])
def test_mount_options_are_read_by_embed_js(framework: str) -> None:
    code = generate(full_request(framework, "login")).code
    block = re.search(r"const WIDGET_OPTIONS[^=]*= \{\n(.*?)\n\s*\};", code, re.S)
    assert block is not None
    used = set(re.findall(r"^\s*([a-zA-Z]+):", block.group(1), re.M))
    read = embed_js_options()
    assert used <= read | PENDING_OPTIONS, used - read
    assert not PENDING_OPTIONS & read, "embed.js reads them now: empty PENDING_OPTIONS"
    assert "WidgetServer.mount(" in code and "window.WidgetServer = " in EMBED_JS


# --- against the running app -----------------------------------------------------------


async def test_the_served_urls_answer(harness: Harness) -> None:
    response = await harness.client.get(paths.EMBED_SCRIPT_PATH)
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    for flow in FLOWS:
        request = SnippetRequest(public_url="http://widget.test", pool_id="partner-1",
                                 flow=flow, framework="html-iframe")
        src = re.search(r'src="http://widget\.test([^"]+)"', generate(request).code)
        assert src is not None
        page = await harness.client.get(src.group(1), headers={"Referer": f"{PARTNER}/"})
        # Signed out, the account page is the widget's sign-in prompt, answered 401.
        assert page.status_code == (401 if flow == "account" else 200), flow
        assert f"frame-ancestors {PARTNER}" in page.headers["content-security-policy"]


async def test_discovery_names_the_paths_the_backends_rely_on(harness: Harness) -> None:
    discovery: dict[str, Any] = (await harness.client.get(paths.DISCOVERY_PATH)).json()
    issuer = harness.settings.public_url.rstrip("/")
    assert discovery["issuer"] == issuer
    assert discovery["token_endpoint"] == issuer + paths.TOKEN_PATH
    assert discovery["jwks_uri"] == issuer + paths.JWKS_PATH
    # The Go snippet pins ES256; the Node one relies on discovery listing it.
    assert discovery["id_token_signing_alg_values_supported"] == ["ES256"]
    assert "client_secret_basic" in discovery["token_endpoint_auth_methods_supported"]

