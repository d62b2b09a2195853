"""Receiver snippets: each parses in its language whatever the endpoint's values, keeps
every value inside its literal, holds the subscribed types only, and the Python one
really verifies a delivery with ``standardwebhooks`` and drops a duplicate."""

from __future__ import annotations

import ast
import json
import re
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.developers.parsing import needs_node, node_check
from widget_server.developers.webhook_snippets import (
    SECRET_VARIABLE,
    ReceiverValues,
    WebhookSnippet,
    receiver_snippets,
    receiver_values,
)
from widget_server.webhooks import signing
from widget_server.webhooks.events import EVENT_TYPES

HOSTILE = "q\"uo'te </script><!-- back\\slash new\nline */ --> @@PATH@@ ${x} \u2028 😀"
URL = "https://hooks.partner.example/in/widget?x=1"


def by_language(values: ReceiverValues) -> dict[str, WebhookSnippet]:
    return {s.language: s for s in receiver_snippets(values)}


def test_the_values_come_from_the_endpoint() -> None:
    values = receiver_values("ep-1", URL, ["login.failed", "user.registered"])
    assert values.path == "/in/widget"
    assert values.event_types == ("user.registered", "login.failed")  # the portal's order
    assert receiver_values("ep-1", URL, []).event_types == EVENT_TYPES  # empty: every type
    assert receiver_values("ep-1", "not a url", []).path == "/"


@pytest.mark.parametrize("chosen", [[], ["user.registered"], ["user.deleted", "login.failed"]])
def test_each_branch_is_a_subscribed_type(chosen: list[str]) -> None:
    values = receiver_values("ep-1", URL, chosen)
    for snippet in receiver_snippets(values):
        found = re.findall(r'"((?:user|login)\.[a-z]+)"', snippet.code)
        assert found == list(values.event_types), snippet.language
        assert SECRET_VARIABLE in snippet.code and "whsec_" in snippet.code  # the name, a hint
        assert "standard" in snippet.install


@pytest.mark.parametrize("path", ["/in", HOSTILE])
def test_python_compiles_and_keeps_values_in_their_literals(path: str) -> None:
    code = by_language(ReceiverValues("ep-" + HOSTILE, path, EVENT_TYPES))["python"].code
    tree = ast.parse(code)
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    assert constants["ENDPOINT_ID"] == "ep-" + HOSTILE
    route = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "widget_server_webhook"
    )
    decorator = route.decorator_list[0]
    assert isinstance(decorator, ast.Call)
    assert ast.literal_eval(decorator.args[0]) == path


@needs_node
@pytest.mark.parametrize("path", ["/in", HOSTILE])
def test_node_parses_and_keeps_values_in_their_literals(path: str, tmp_path: Path) -> None:
    code = by_language(ReceiverValues("ep-1", path, EVENT_TYPES))["node"].code
    node_check(code, tmp_path, module=True)
    match = re.search(r"^app\.post\((\"(?:[^\"\\\n]|\\.)*\"),", code, re.M)
    assert match is not None and json.loads(match.group(1)) == path


@pytest.mark.parametrize("path", ["/in", HOSTILE])
def test_go_structure_and_literals(path: str) -> None:
    code = by_language(ReceiverValues("ep-1", path, EVENT_TYPES))["go"].code
    bare = re.sub(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|//[^\n]*', '""', code)
    assert bare.count("{") == bare.count("}") and bare.count("(") == bare.count(")")
    assert len(re.findall(r"^package main$", code, re.M)) == 1
    match = re.search(r'^\tpath\s+= ("(?:[^"\\\n]|\\.)*")$', code, re.M)
    assert match is not None
    # Go's escapes read alike in Python (literals.go_string); a lone surrogate aside.
    assert ast.literal_eval(match.group(1)) == path
    assert "standard-webhooks/standard-webhooks/libraries/go" in code


# --- the Python snippet, run ------------------------------------------------------------


class FakeRequest:
    def __init__(self) -> None:
        self.body = b""
        self.headers: dict[str, str] = {}

    def get_data(self) -> bytes:
        return self.body


class FakeFlask:
    """Just what the snippet uses of Flask: ``app.post(path)`` registers a view."""

    routes: dict[str, Callable[[], Any]]

    def __init__(self, name: str) -> None:
        self.routes = {}

    def post(self, path: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
        def register(view: Callable[[], Any]) -> Callable[[], Any]:
            self.routes[path] = view
            return view

        return register


@pytest.fixture
def fake_flask(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRequest]:
    request = FakeRequest()
    module = types.ModuleType("flask")
    module.Flask = FakeFlask  # type: ignore[attr-defined]
    module.request = request  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flask", module)
    yield request


def test_the_python_snippet_verifies_drops_duplicates_and_refuses_forgeries(
    fake_flask: FakeRequest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = signing.new_secret()
    monkeypatch.setenv(SECRET_VARIABLE, secret)
    values = receiver_values("ep-1", "https://shop.example/hooks", ["user.registered"])
    namespace: dict[str, Any] = {"__name__": "receiver"}
    exec(compile(by_language(values)["python"].code, "webhooks.py", "exec"), namespace)
    view = namespace["app"].routes["/hooks"]

    body = json.dumps(
        {
            "type": "user.registered",
            "timestamp": "2026-01-01T00:00:00Z",
            "data": {"user": {"id": "u-1"}},
        }
    ).encode()
    headers = signing.headers([secret], "msg_1", int(time.time()), body)
    fake_flask.body = body
    # Flask's headers are title-cased; the snippet lower-cases them for the library.
    fake_flask.headers = {k.title(): v for k, v in headers.items()} | {"webhook-id": "msg_1"}
    assert view() == ("", 204)
    assert "user.registered" in capsys.readouterr().out  # handled
    assert view() == ("", 204)  # the same webhook-id again: not handled twice
    assert capsys.readouterr().out == ""

    fake_flask.body = body.replace(b"u-1", b"u-2")
    assert view() == ("", 400)  # altered
    forged = signing.headers([signing.new_secret()], "msg_2", int(time.time()), body)
    fake_flask.body, fake_flask.headers = body, dict(forged)
    assert view() == ("", 400)  # another secret
