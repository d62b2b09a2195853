"""The postMessage contract equals what the code sends: the widget's event Structs, the
messages only widget.js and embed.js make (resize, error), their fields, versions and
reasons, and the templates that post the Structs as they are."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import jsonschema
import msgspec
import pytest

from tests.developers.code_scan import (
    EMBED_JS,
    PACKAGE,
    WIDGET_JS,
    event_structs,
    js_message_types,
    object_keys,
    string_constants_assigned_to,
)
from widget_server.assets import asset_dir
from widget_server.developers import contract
from widget_server.web.widget.invitation_views import ActivatedEvent
from widget_server.web.widget.login_views import LoggedInEvent, LoggedOutEvent
from widget_server.web.widget.registration_views import RegisteredEvent


def test_every_event_in_the_code_is_in_the_contract_and_back() -> None:
    in_code = set(event_structs()) | js_message_types()
    assert in_code == set(contract.BY_TYPE), (
        f"undocumented: {in_code - set(contract.BY_TYPE)}; "
        f"gone from the code: {set(contract.BY_TYPE) - in_code}"
    )


def test_the_contract_uses_the_structs_the_views_post() -> None:
    structs = event_structs()
    for spec in contract.EVENTS:
        if spec.struct is None:
            continue
        module, name = structs[spec.type].split(":")
        assert spec.struct.__name__ == name
        assert spec.struct.__module__ == "widget_server." + module[:-3].replace("/", ".")


def test_every_field_is_explained() -> None:
    for spec in contract.EVENTS:
        assert set(spec.fields) == set(contract.field_names(spec)), spec.type


def test_widget_js_posts_resize_with_exactly_the_contract_fields() -> None:
    posts = re.findall(r"post\(\{([^}]*)\}\)", WIDGET_JS)
    # Besides resize, widget.js posts only the storage errors that embed.js turns into
    # its error event (test_storage_errors_of_widget_js_are_contract_reasons).
    [body] = [b for b in posts if '"resize"' in b]
    assert all('type: "error"' in b for b in posts if b is not body)
    # widget.js adds v last, to every message: Object.assign({}, payload, { v: 1 }).
    stamp = re.search(r"Object\.assign\(\{\}, payload, \{ v: (\d+) \}\)", WIDGET_JS)
    assert stamp is not None and int(stamp.group(1)) == contract.VERSION
    assert object_keys(body) | {"v"} == set(contract.field_names(contract.BY_TYPE["resize"]))


def test_embed_js_accepts_only_the_contract_version() -> None:
    assert f"data.v !== {contract.VERSION}" in EMBED_JS
    # resize is handled by embed.js itself and returns before any re-emit.
    handled = EMBED_JS.split('if (data.type === "resize") {', 1)[1].split("}\n", 2)
    assert "return;" in "}".join(handled[:2])


def test_embed_js_error_event_has_exactly_the_contract_fields() -> None:
    [body] = re.findall(r"var detail = \{([^}]*)\};", EMBED_JS)
    assert object_keys(body) == set(contract.field_names(contract.BY_TYPE["error"]))
    assert re.search(rf'\bv: {contract.VERSION}, type: "error"', body)


def test_error_reasons_are_exactly_those_embed_js_and_the_frame_check_give() -> None:
    reasons = set(typing.get_args(contract.ErrorReason))
    from_embed = set(re.findall(r'fail\("([a-z_]+)"\)', EMBED_JS))
    from_embed |= set(re.findall(r'check\.reason \|\| "([a-z_]+)"', EMBED_JS))
    frame_check = PACKAGE / "web/widget/frame_check.py"
    from_server = string_constants_assigned_to(frame_check, "reason")
    from_widget = set(re.findall(r'post\(\{ type: "error", reason: "([a-z_]+)" \}\)', WIDGET_JS))
    assert from_widget == {"storage_blocked", "storage_access_denied"}
    assert from_embed | from_server | from_widget == reasons


def test_storage_errors_of_widget_js_become_the_error_event() -> None:
    # embed.js accepts them even after the frame has spoken (it loaded, then found that
    # it cannot keep a session), and only reasons of the storage family.
    assert 'data.type === "error" && /^storage_/.test(String(data.reason))' in EMBED_JS
    assert "fail(String(data.reason), null, null, true);" in EMBED_JS


def test_bubbling_matches_embed_js() -> None:
    assert 'new CustomEvent("error", { detail: detail, bubbles: false })' in EMBED_JS
    assert "new CustomEvent(data.type, { detail: data, bubbles: true })" in EMBED_JS
    assert 'new CustomEvent("widget-message", { detail: data, bubbles: true })' in EMBED_JS
    assert not contract.BY_TYPE["error"].bubbles
    assert all(s.bubbles for s in contract.EVENTS if s.sender == "widget" and s.dispatched)


def test_templates_post_the_structs_as_they_are() -> None:
    found = 0
    for path in sorted(Path(asset_dir("widgets")).rglob("*.html")):
        for line in path.read_text().splitlines():
            if "data-ws-event" in line and "<script" in line:
                found += 1
                assert line.strip() == ('{% if event %}<script type="application/json" '
                                        "data-ws-event>{{ event|tojson }}</script>{% endif %}")
    assert found >= 4


@pytest.mark.parametrize(
    ("spec_type", "payload"),
    [
        ("registered", RegisteredEvent(pool_id="p", user_id="u")),
        ("logged-in", LoggedInEvent(pool_id="p", code="c")),
        ("logged-out", LoggedOutEvent(pool_id="p")),
        ("activated", ActivatedEvent(pool_id="p", user_id="u")),
        ("resize", contract.ResizeMessage(height=640)),
        ("error", contract.ErrorEvent(reason="frame_blocked", origin="https://a.example")),
    ],
)
def test_real_payloads_match_their_schema(spec_type: str, payload: msgspec.Struct) -> None:
    spec = contract.BY_TYPE[spec_type]
    schema = contract.event_schema(spec)
    jsonschema.Draft202012Validator.check_schema(schema)
    # What the page receives: the view drops None values, widget.js adds v.
    sent = {k: v for k, v in msgspec.to_builtins(payload).items() if v is not None}
    message = sent | {"v": contract.VERSION}
    jsonschema.validate(message, schema)
    if spec.dispatched:
        jsonschema.validate(message, contract.event_schema(contract.BY_TYPE["widget-message"]))


def test_schemas_refuse_what_the_contract_does_not_allow() -> None:
    logged_in = contract.event_schema(contract.BY_TYPE["logged-in"])
    jsonschema.validate({"v": 1, "type": "logged-in", "pool_id": "p"}, logged_in)
    for bad in (
        {"v": 2, "type": "logged-in", "pool_id": "p"},
        {"v": 1, "type": "registered", "pool_id": "p"},
        {"v": 1, "type": "logged-in"},
        {"v": 1, "type": "logged-in", "pool_id": "p", "code": None},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, logged_in)
    error = contract.event_schema(contract.BY_TYPE["error"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"v": 1, "type": "error", "reason": "oops", "origin": "x"}, error)


def test_optional_fields_are_the_ones_left_out_when_empty() -> None:
    assert contract.optional_fields(contract.BY_TYPE["logged-in"]) == {"code"}
    assert all(not contract.optional_fields(s) for s in contract.EVENTS if s.type != "logged-in")


def test_dom_events_per_flow() -> None:
    assert contract.dom_events("register") == ("registered", "close", "error")
    assert contract.dom_events("login") == ("logged-in", "logged-out", "error")
    assert contract.dom_events("account") == ("logged-out", "error")
    assert contract.dom_events("recover") == ("error",)
