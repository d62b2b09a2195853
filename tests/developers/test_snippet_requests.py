"""Bad snippet requests get InvalidInput with a message id on the field; notes are ids."""

from __future__ import annotations

from typing import Any

import pytest

from widget_server.developers.snippets import (
    FRAMEWORKS,
    SnippetRequest,
    generate,
    parse_request,
)
from widget_server.errors import InvalidInput
from widget_server.messages import CATALOG

GOOD: dict[str, Any] = {"public_url": "https://id.acme.example", "pool_id": "partner-1"}


def errors_of(**values: Any) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as caught:
        generate(SnippetRequest(**(GOOD | values)))
    return {field: [m.id for m in msgs] for field, msgs in caught.value.messages.items()}


@pytest.mark.parametrize(
    "url",
    [
        "id.acme.example",
        "ftp://id.acme.example",
        "https://id.acme.example/widget",
        "https://id.acme.example/?x=1",
        "https://user@id.acme.example",
        "https://id.acme.example#top",
        "javascript:alert(1)",
        "https://id acme.example",
        "https://id.acme.example;script-src *",
        "https://*.acme.example",
        "https://id.acme.example:99999",
    ],
)
def test_public_url_must_be_an_origin(url: str) -> None:
    # It lands in CSP source lists, where no escaping exists: only an origin may pass.
    assert errors_of(public_url=url) == {"public_url": ["snippet.public_url_invalid"]}


def test_a_trailing_slash_is_fine() -> None:
    snippet = generate(SnippetRequest(**(GOOD | {"public_url": "https://id.acme.example/"})))
    assert "https://id.acme.example/static/embed.js" in snippet.code


@pytest.mark.parametrize("field", ["pool_id", "client_id", "locale"])
def test_values_must_be_encodable_and_not_too_long(field: str) -> None:
    assert errors_of(**{field: "a\ud800b"}) == {field: ["snippet.value_invalid"]}
    assert errors_of(**{field: "x" * 256}) == {field: ["snippet.value_invalid"]}
    assert errors_of(**{field: ""}) == {field: ["snippet.value_invalid"]}


@pytest.mark.parametrize("framework", ["backend-python", "backend-node", "backend-go"])
def test_backends_need_a_confidential_app(framework: str) -> None:
    assert errors_of(framework=framework) == {"client_id": ["snippet.client_id_required"]}
    assert errors_of(framework=framework, client_id="shop", app_kind="public") == {
        "app_kind": ["snippet.backend_needs_secret"]
    }


def test_every_field_error_is_collected() -> None:
    assert errors_of(public_url="nope", pool_id="", framework="backend-go") == {
        "public_url": ["snippet.public_url_invalid"],
        "pool_id": ["snippet.value_invalid"],
        "client_id": ["snippet.client_id_required"],
    }


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"flow": "delete"}, "flow"),
        ({"framework": "cobol"}, "framework"),
        ({"color_scheme": "neon"}, "color_scheme"),
        ({"pool_id": 5}, "pool_id"),
        ({"pool_id": "x" * 256}, "pool_id"),
        ({"public_url": None}, "public_url"),
        ({"secret": "x"}, "secret"),
    ],
)
def test_parse_request_names_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_request(GOOD | raw)
    assert list(caught.value.messages) == [field]
    assert [m.id for m in caught.value.messages[field]] == ["snippet.value_invalid"]


def test_parse_request_takes_form_values() -> None:
    request = parse_request(GOOD | {"flow": "login", "client_id": "shop", "framework": "vue"})
    assert (request.flow, request.client_id, request.framework) == ("login", "shop", "vue")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_notes_are_catalogue_messages(framework: str) -> None:
    snippet = generate(SnippetRequest(**(GOOD | {"client_id": "shop", "flow": "login",
                                                 "framework": framework})))
    assert snippet.notes
    for note in snippet.notes:
        assert note.id in CATALOG
        assert "{" not in note.text()  # every placeholder filled
