from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader

from widget_server.forms import TEMPLATE_GLOBALS, FormNode, Option, nodes_for_step
from widget_server.messages import Msg, msg

WIDGETS = Path(__file__).resolve().parents[2] / "widgets"
Attrs = dict[str, str | None]


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, Attrs]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def make_env(copy: dict[str, str] | None = None) -> Environment:
    env = Environment(loader=FileSystemLoader(WIDGETS), autoescape=True)
    env.globals.update(TEMPLATE_GLOBALS)
    env.globals["t"] = lambda m: m.text(copy)
    return env


def render(node: FormNode, env: Environment | None = None) -> str:
    return (env or make_env()).get_template("nodes/node.html").render(node=node)


def elements(html: str) -> list[tuple[str, Attrs]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


def one(html: str, tag: str, cls: str) -> Attrs:
    matches = [a for t, a in elements(html) if t == tag and cls in (a.get("class") or "").split()]
    assert len(matches) == 1, (tag, cls, html)
    return matches[0]


def node(**fields: Any) -> FormNode:
    return FormNode(**{"type": "input", "name": "email", "required": True, **fields})


def test_input_markup() -> None:
    html = render(node(label="Email", input_type="email", attributes={"autocomplete": "email"}))

    assert one(html, "div", "ws-field") == {
        "class": "ws-field ws-field--input",
        "data-field": "email",
    }
    assert one(html, "label", "ws-label") == {"class": "ws-label", "for": "f-email"}
    assert one(html, "input", "ws-input") == {
        "class": "ws-input",
        "id": "f-email",
        "name": "email",
        "type": "email",
        "required": None,
        "aria-describedby": "f-email-err",
        "autocomplete": "email",
    }
    assert one(html, "ul", "ws-errors") == {
        "class": "ws-errors",
        "id": "f-email-err",
        "aria-live": "polite",
    }
    assert "ws-optional" not in html
    assert "ws-help" not in html
    assert "ws-rules" not in html


def test_optional_marker_can_be_reworded() -> None:
    html = render(node(required=False, label="Phone"), make_env({"form.optional": "(if you like)"}))

    assert '<span class="ws-optional"> (if you like)</span>' in html


def test_errors_help_and_rules() -> None:
    html = render(
        node(
            name="password",
            input_type="password",
            help="Pick something long",
            messages=(msg("form.too_short", min=12),),
            rules=(msg("password.help.min_length", level="info", min=12),),
        )
    )

    field = one(html, "input", "ws-input")
    assert field["aria-describedby"] == "f-password-help f-password-rules f-password-err"
    assert field["aria-invalid"] == "true"
    assert "value" not in field
    assert one(html, "p", "ws-help")["id"] == "f-password-help"
    assert one(html, "ul", "ws-rules")["id"] == "f-password-rules"
    assert one(html, "li", "ws-rule")["data-rule"] == "password.help.min_length"
    assert one(html, "li", "ws-error")["data-message-id"] == "form.too_short"
    assert "Use at least 12 characters." in html


def test_values_labels_and_attributes_are_escaped() -> None:
    evil = '"><script>alert(1)</script>'
    html = render(
        node(
            label=evil,
            help=evil,
            value=evil,
            attributes={"hx-vals": '{"a": "<b>"}'},
            messages=(Msg(id="form.unknown_field", params={"field": evil}),),
        )
    )

    assert "<script>" not in html
    assert one(html, "input", "ws-input")["value"] == evil
    assert one(html, "input", "ws-input")["hx-vals"] == '{"a": "<b>"}'
    assert html.count("&lt;script&gt;") == 4  # label, value, help, error


def test_every_business_node_renders(business: dict[str, Any]) -> None:
    env = make_env()
    for step in ("account", "person", "company", "legal"):
        for field in nodes_for_step(business, step, {}, {}):
            html = render(field, env)
            assert one(html, "div", f"ws-field--{field.type}")["data-field"] == field.name
            assert one(html, "ul", "ws-errors")["id"] == f"f-{field.name}-err"


def test_select(business: dict[str, Any]) -> None:
    empty, chosen = (
        render(n)
        for values in ({}, {"country": "FR"})
        for n in nodes_for_step(business, "company", values, {})
        if n.name == "country"
    )

    assert one(empty, "select", "ws-select")["required"] is None
    options = [a for t, a in elements(empty) if t == "option"]
    assert [o["value"] for o in options] == ["", "DE", "FR", "US"]
    assert "Choose…</option>" in empty
    assert [o["value"] for t, o in elements(chosen) if t == "option" and "selected" in o] == ["FR"]


def test_radio() -> None:
    html = render(
        FormNode(
            type="radio",
            name="size",
            label="Size",
            required=False,
            value="b",
            options=(Option(value="a", label="A"), Option(value="b", label="B & C")),
        )
    )

    fieldset = one(html, "fieldset", "ws-fieldset")
    assert fieldset["aria-describedby"] == "f-size-err"
    assert '<legend class="ws-label">Size<span class="ws-optional">' in html
    radios = [a for t, a in elements(html) if t == "input"]
    assert [(r["class"], r["type"], r["name"], r["value"]) for r in radios] == [
        ("ws-radio", "radio", "size", "a"),
        ("ws-radio", "radio", "size", "b"),
    ]
    assert ["checked" in r for r in radios] == [False, True]
    assert "B &amp; C" in html


def test_checkbox() -> None:
    html = render(
        FormNode(type="checkbox", name="terms", label="I accept", required=True, value=True)
    )

    assert one(html, "label", "ws-check") == {"class": "ws-check"}
    box = one(html, "input", "ws-checkbox")
    assert (box["type"], box["value"], box["id"]) == ("checkbox", "on", "f-terms")
    assert "checked" in box and "required" in box
    assert '<span class="ws-check-label">I accept</span>' in html


def test_textarea_escapes_its_content() -> None:
    html = render(node(type="textarea", name="bio", value="</textarea><script>x</script>"))

    assert one(html, "textarea", "ws-textarea")["id"] == "f-bio"
    assert "&lt;/textarea&gt;&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            FormNode(type="hidden", name="flow_id", value='a"b'),
            '<input type="hidden" name="flow_id" value="a&#34;b">',
        ),
        (
            FormNode(type="submit", name="action", value="next", label="Continue"),
            '<button class="ws-button ws-button--primary" type="submit" name="action"'
            ' value="next">Continue</button>',
        ),
    ],
)
def test_hidden_and_submit(field: FormNode, expected: str) -> None:
    assert render(field).strip() == expected
