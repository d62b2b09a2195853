"""Every snippet parses in its language, no request value breaks out of its literal, and
each framework's snippet has what makes it work (mount, listeners, cleanup, exchange).

Parsers: node for JS (modules and scripts), the stdlib for HTML and Python, gofmt for Go
when installed (else the structure and the literals, read by Python). JSX, Vue, Svelte
and Angular: see tests/developers/parsing.py for what is parsed and what is checked by
structure.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.developers.parsing import (
    GOFMT,
    Page,
    angular_constants,
    gofmt_clean,
    jsx_as_js,
    markup,
    needs_node,
    node_check,
    script_blocks,
)
from widget_server.developers.contract import dom_events
from widget_server.developers.literals import go_string, html_attr, js_string, py_string
from widget_server.developers.snippets import (
    FLOWS,
    FRAMEWORKS,
    Snippet,
    SnippetRequest,
    generate,
)

BASE = "https://id.acme.example"
FULL: dict[str, Any] = {
    "public_url": BASE,
    "pool_id": "partner-1",
    "client_id": "shop",
    "app_kind": "confidential",
    "color_scheme": "dark",
    "locale": "de-CH",
}
HOSTILE = ('q"uo\'te </script><!--<script> back\\slash \\" new\nline\r '
           "\u2028\u2029 ${x}`tick` */ --> @@POOL_ID@@ {{ y }} {z} \x00 😀 &amp;")
FRONTENDS = [f for f in FRAMEWORKS if not f.startswith("backend-")]
BACKENDS = [f for f in FRAMEWORKS if f.startswith("backend-")]


def make(framework: str, flow: str = "login", **values: Any) -> Snippet:
    return generate(SnippetRequest(**(FULL | values), flow=flow, framework=framework))


# --- (a) every snippet parses ----------------------------------------------------------


def check_parses(snippet: Snippet, tmp_path: Path) -> None:
    """Parse the snippet with the real parser of its language (see the module doc)."""
    code, framework = snippet.code, snippet.framework
    if framework == "html-script":
        page = Page(code)
        assert page.tags() == ["div", "script", "script"]
        node_check(page.elements[2].text, tmp_path, module=False)
    elif framework == "html-iframe":
        assert Page(code).tags() == ["style", "iframe"]
    elif framework in {"react", "nextjs"}:
        node_check(jsx_as_js(code), tmp_path, module=True)
    elif framework in {"vue", "svelte"}:
        blocks = script_blocks(code)
        assert len(blocks) == 2
        node_check("\n".join(blocks), tmp_path, module=True)
    elif framework == "angular":
        node_check(angular_constants(code), tmp_path, module=True)
    elif framework == "backend-python":
        compile(code, "widget_server_login.py", "exec")
    elif framework == "backend-node":
        node_check(code, tmp_path, module=True)
    elif framework == "backend-go" and GOFMT is not None:
        gofmt_clean(code, tmp_path)
    else:
        check_go_structure(code)


def check_go_structure(code: str) -> None:
    """Without gofmt: balanced braces and parentheses outside strings, one package clause,
    and the constants read back (Python reads Go's escapes alike)."""
    bare = re.sub(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|//[^\n]*', '""', code)
    assert bare.count("{") == bare.count("}") and bare.count("(") == bare.count(")")
    assert len(re.findall(r"^package \w+$", code, re.M)) == 1
    for name in ("issuer", "clientID"):
        match = re.search(rf'^\t{name}\s+= ("(?:[^"\\\n]|\\.)*")$', code, re.M)
        assert match is not None
        ast.literal_eval(match.group(1))


@needs_node
@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_snippet_parses(framework: str, flow: str, tmp_path: Path) -> None:
    check_parses(make(framework, flow), tmp_path)
    if framework not in BACKENDS:
        minimal = make(framework, flow, client_id=None, app_kind=None, color_scheme="auto",
                       locale=None)
        check_parses(minimal, tmp_path)


@needs_node
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_hostile_values_still_parse(framework: str, tmp_path: Path) -> None:
    snippet = make(framework, public_url="http://localhost:8000", pool_id=HOSTILE,
                   client_id=HOSTILE + "c", locale=HOSTILE + "l")
    check_parses(snippet, tmp_path)


def test_go_structure_check_without_gofmt() -> None:
    # The fallback the suite uses where gofmt is missing must pass real snippets too.
    check_go_structure(make("backend-go").code)
    check_go_structure(make("backend-go", client_id=HOSTILE).code)


# --- no breakout: a hostile value changes its literal and nothing else -----------------

ESCAPERS = {
    "html-script": html_attr,
    "react": js_string,
    "nextjs": js_string,
    "vue": js_string,
    "svelte": js_string,
    "angular": js_string,
    "backend-python": py_string,
    "backend-node": js_string,
    "backend-go": go_string,
}


def skeleton(snippet: Snippet, escape: Any, values: dict[str, str]) -> str:
    """The code with each value's literal replaced by a marker of its field."""
    code = snippet.code
    for field, value in sorted(values.items(), key=lambda kv: -len(kv[1])):
        literal = escape(value)
        if snippet.framework in {"backend-python", "backend-node", "backend-go"} and \
                field != "client_id":
            continue
        assert literal in code, (field, literal)
        code = code.replace(literal, f"⟪{field}⟫")
    return code


@pytest.mark.parametrize("framework", sorted(ESCAPERS))
def test_a_hostile_value_changes_only_its_own_literal(framework: str) -> None:
    benign = {"pool_id": "pool-b", "client_id": "client-b", "locale": "locale-b"}
    hostile = {"pool_id": HOSTILE + "p", "client_id": HOSTILE + "c", "locale": HOSTILE + "l"}
    escape = ESCAPERS[framework]
    plain = skeleton(make(framework, **benign), escape, benign)
    attacked = skeleton(make(framework, **hostile), escape, hostile)
    assert attacked == plain


def test_a_hostile_value_stays_inside_the_iframe_src() -> None:
    snippet = make("html-iframe", pool_id=HOSTILE, client_id=HOSTILE, locale=HOSTILE)
    page = Page(snippet.code)
    assert page.tags() == ["style", "iframe"]
    frame = page.elements[1]
    assert set(frame.attrs) == {"class", "src", "title"}
    url = urlsplit(frame.attrs["src"] or "")
    assert (url.scheme, url.netloc) == ("https", "id.acme.example")
    segments = url.path.split("/")
    assert len(segments) == 4 and segments[:2] == ["", "embed"] and segments[3] == "login"
    assert unquote(segments[2]) == HOSTILE
    assert parse_qs(url.query) == {"client_id": [HOSTILE], "color_scheme": ["dark"],
                                   "locale": [HOSTILE]}


def test_a_hostile_value_stays_inside_the_script_tag_attributes() -> None:
    snippet = make("html-script", pool_id=HOSTILE, client_id=HOSTILE + "c", locale=HOSTILE)
    page = Page(snippet.code)
    assert page.tags() == ["div", "script", "script"]
    loader = page.elements[1].attrs
    assert loader["data-pool"] == HOSTILE and loader["data-client-id"] == HOSTILE + "c"
    assert loader["data-locale"] == HOSTILE
    assert snippet.code.count("</script") == 2 and snippet.code.count("<!--") == 1


@pytest.mark.parametrize("framework", ["vue", "svelte"])
def test_a_hostile_value_cannot_end_a_component_script_block(framework: str) -> None:
    code = make(framework, pool_id=HOSTILE).code
    assert code.count("</script") == 2
    assert markup(code) in {'<template>\n  <div ref="host"></div>\n</template>',
                            "<div bind:this={host}></div>"}


def test_values_never_land_in_comments() -> None:
    # No escaping makes */, --> or a newline harmless in a comment: values stay out.
    values = {"pool_id": "POOLVALUE", "client_id": "CLIENTVALUE", "locale": "LOCALEVALUE"}
    for framework in FRAMEWORKS:
        for line in make(framework, **values).code.splitlines():
            if line.strip().startswith(("//", "#", "<!--", "/*", "*")):
                assert "VALUE" not in line, (framework, line)


# --- (c) what each framework's snippet must contain ------------------------------------


def test_script_tag() -> None:
    snippet = make("html-script")
    page = Page(snippet.code)
    host, loader, inline = page.elements
    assert host.attrs == {"id": "widget-server-login"}
    assert loader.attrs == {
        "src": f"{BASE}/static/embed.js",
        "data-pool": "partner-1",
        "data-flow": "login",
        "data-target": "#widget-server-login",
        "data-client-id": "shop",
        "data-color-scheme": "dark",
        "data-locale": "de-CH",
        "async": None,
    }
    listened = re.findall(r'host\.addEventListener\("([a-z-]+)"', inline.text)
    assert listened == ["logged-in", "logged-out", "error"]
    assert 'fetch("/auth/widget-callback"' in inline.text
    assert "JSON.stringify({ code: event.detail.code })" in inline.text


def test_script_tag_leaves_out_what_was_not_chosen() -> None:
    loader = Page(make("html-script", "register", client_id=None, app_kind=None,
                       color_scheme="auto", locale=None).code).elements[1]
    assert set(loader.attrs) == {"src", "data-pool", "data-flow", "data-target", "async"}


def test_client_id_only_where_the_flow_reads_it() -> None:
    loader = Page(make("html-script", "register").code).elements[1]
    assert "data-client-id" not in loader.attrs
    assert "snippet.note.client_id_unused" in [n.id for n in make("react", "register").notes]


def test_no_code_hand_off_for_a_public_app() -> None:
    snippet = make("react", app_kind="public")
    assert "sendCodeToBackend" not in snippet.code and "/auth/widget-callback" not in snippet.code
    assert "snippet.note.public_app" in [n.id for n in snippet.notes]


def test_iframe() -> None:
    snippet = make("html-iframe")
    frame = Page(snippet.code).elements[1]
    assert frame.attrs["src"] == (f"{BASE}/embed/partner-1/login"
                                  "?client_id=shop&color_scheme=dark&locale=de-CH")
    assert frame.attrs["title"] == "Sign in" and "<script" not in snippet.code
    assert "snippet.note.iframe" in [n.id for n in snippet.notes]


@pytest.mark.parametrize("framework", ["react", "nextjs"])
def test_react_hook_mounts_once_and_cleans_up(framework: str) -> None:
    code = make(framework).code
    assert code.startswith('"use client";\n') == (framework == "nextjs")
    assert 'import { useEffect, useRef } from "react";' in code
    assert "export function useWidgetServer(ref, handlers)" in code
    assert "export default function WidgetServerLogin({ onLoggedIn, onLoggedOut, onError })" in code
    assert "widget = WidgetServer.mount(host, WIDGET_OPTIONS)" in code
    cleanup = code.split("return () => {", 1)[1].split("};", 1)[0]
    assert "widget?.unmount();" in cleanup and "removeEventListener" in cleanup
    assert "}, [ref]);" in code  # mounted once per element, not per render
    assert_options(code)


def assert_options(code: str, indent: str = "  ") -> None:
    assert (f'{indent}pool: "partner-1",\n{indent}flow: "login",\n{indent}clientId: "shop",\n'
            f'{indent}colorScheme: "dark",\n{indent}locale: "de-CH",\n'
            f'{indent}origin: WIDGET_ORIGIN,\n') in code
    assert f'const WIDGET_ORIGIN = "{BASE}";' in code
    assert f'const EMBED_SCRIPT = "{BASE}/static/embed.js";' in code
    assert 'const EVENTS = ["logged-in", "logged-out", "error"]' in code
    # Loaded once per page: one module-level promise, reset only when loading failed.
    assert "let embedScript" in code and "if (!embedScript)" in code


def test_vue_component() -> None:
    code = make("vue").code
    module, setup = script_blocks(code)
    assert "let embedScript = null;" in module and "defineEmits" not in module
    assert 'import { onBeforeUnmount, onMounted, ref } from "vue";' in setup
    assert 'const emit = defineEmits(["logged-in", "logged-out", "error"]);' in setup
    assert "onMounted(() => {" in setup and "onBeforeUnmount(() => {" in setup
    assert "widget?.unmount();" in setup.split("onBeforeUnmount", 1)[1]
    assert "<script setup>" in code
    assert_options(code)


def test_svelte_component() -> None:
    code = make("svelte").code
    module, instance = script_blocks(code)
    assert code.count("<script module>") == 1 and "let embedScript = null;" in module
    assert 'import { onMount } from "svelte";' in instance
    assert "let { onLoggedIn, onLoggedOut, onError } = $props();" in instance
    assert "widget?.unmount();" in instance.split("return () => {", 1)[1]
    assert_options(code, indent="    ")


def test_angular_component() -> None:
    code = make("angular").code
    assert 'from "@angular/core";' in code and "standalone: true," in code
    assert 'selector: "widget-server-login",' in code
    assert "export class WidgetServerLoginComponent implements AfterViewInit, OnDestroy {" in code
    assert '@ViewChild("host", { static: true })' in code
    for output in ("widgetLoggedIn", "widgetLoggedOut", "widgetError"):
        assert f"@Output() readonly {output} = new EventEmitter<WidgetEventDetail>();" in code
    assert "ngAfterViewInit(): void {" in code and "ngOnDestroy(): void {" in code
    assert "this.widget?.unmount();" in code.split("ngOnDestroy", 1)[1]
    assert code.count("{") == code.count("}")
    assert_options(code)


def test_python_backend() -> None:
    code = make("backend-python").code
    tree = ast.parse(code)
    constants = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert ast.literal_eval(constants["ISSUER"]) == BASE
    assert ast.literal_eval(constants["CLIENT_ID"]) == "shop"
    assert 'os.environ["WIDGET_SERVER_CLIENT_SECRET"]' in code
    assert "from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin" in code
    assert 'server_metadata_url=ISSUER + "/.well-known/openid-configuration"' in code
    assert "fetch_access_token(code=code)" in code and "parse_id_token(token, nonce=None)" in code
    assert "redirect_uri" not in code.replace("without a redirect_uri", "")


def test_node_backend() -> None:
    code = make("backend-node").code
    assert code.count('import * as client from "openid-client";') == 1
    assert 'new URL("https://id.acme.example")' in code
    assert "client.ClientSecretBasic(CLIENT_SECRET)" in code
    assert "client.enableNonRepudiationChecks(config);" in code
    assert 'client.genericGrantRequest(config, "authorization_code", { code })' in code
    assert "allowInsecureRequests" not in code
    local = make("backend-node", public_url="http://localhost:8000").code
    assert "execute: [client.allowInsecureRequests]" in local


def test_go_backend() -> None:
    code = make("backend-go").code
    assert '"github.com/coreos/go-oidc/v3/oidc"' in code and '"golang.org/x/oauth2"' in code
    assert 'issuer   = "https://id.acme.example"' in code and 'clientID = "shop"' in code
    assert "oidc.NewProvider(ctx, issuer)" in code
    assert "SupportedSigningAlgs: []string{oidc.ES256}" in code
    assert "e.config.Exchange(ctx, code)" in code and "e.verifier.Verify(ctx, raw)" in code
    assert not re.search(r"^\t+RedirectURL:", code, re.M)
    assert 'os.Getenv("WIDGET_SERVER_CLIENT_SECRET")' in code


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("flow", FLOWS)
def test_components_listen_to_their_flows_events(framework: str, flow: str) -> None:
    if framework in BACKENDS or framework == "html-iframe":
        return
    code = make(framework, flow).code
    for event in dom_events(flow):
        assert f'"{event}"' in code
    for other in {"registered", "logged-in", "logged-out"} - set(dom_events(flow)):
        assert f'"{other}"' not in code


# --- the Content-Security-Policy beside each snippet -----------------------------------


def test_script_tag_csp_allows_exactly_its_inline_script() -> None:
    snippet = make("html-script")
    inline = Page(snippet.code).elements[2].text
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert snippet.csp.header() == (
        f"script-src {BASE} 'sha256-{digest}'; frame-src {BASE}; connect-src {BASE}"
    )
    assert snippet.csp.header("strict") == (
        f"script-src 'nonce-{{NONCE}}' 'strict-dynamic'; frame-src {BASE}; connect-src {BASE}"
    )


def test_iframe_csp_needs_only_the_frame_and_its_style() -> None:
    snippet = make("html-iframe")
    style = Page(snippet.code).elements[0].text
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert snippet.csp.header() == f"frame-src {BASE}; style-src 'sha256-{digest}'"


@pytest.mark.parametrize("framework", ["react", "nextjs", "vue", "svelte", "angular"])
def test_component_csp(framework: str) -> None:
    csp = make(framework).csp
    assert csp.header() == f"script-src {BASE}; frame-src {BASE}; connect-src {BASE}"
    assert [d.name for d in csp.strict] == ["script-src", "frame-src", "connect-src"]


@pytest.mark.parametrize("framework", BACKENDS)
def test_backends_need_no_policy(framework: str) -> None:
    csp = make(framework).csp
    assert csp.allowlist == () and csp.strict == ()


def test_csp_sources_are_the_normalised_origin() -> None:
    snippet = make("react", public_url="HTTPS://ID.Acme.Example:443/")
    assert snippet.csp.header() == f"script-src {BASE}; frame-src {BASE}; connect-src {BASE}"
    # The code keeps the URL as configured: it is the token issuer, compared exactly.
    assert 'const WIDGET_ORIGIN = "HTTPS://ID.Acme.Example:443";' in snippet.code
