"""The generated Python backend snippet, run as a partner would run it: a user logs in in
the widget with the app's client id, the ``logged-in`` event's code goes to the
snippet's ``claims_for_code``, which exchanges it at the real token endpoint and
validates the ID token with authlib. Its claims are all in the developer reference."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from authlib.integrations.base_client import OAuthError

from tests.auth import people
from tests.conftest import Harness
from tests.oidc.conftest import ISSUER, MakeApp
from tests.web.login_client import LoginClient, event_of
from widget_server.developers.reference import CLAIM_DOCS
from widget_server.developers.snippets import SnippetRequest, generate
from widget_server.developers.values import SECRET_VARIABLE

LoadSnippet = Callable[[str], ModuleType]


@pytest.fixture
def load_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoadSnippet]:
    """``load_snippet(secret)``: the Python snippet for app "shop", saved and imported like
    a partner's module, in a process whose environment holds the app's secret."""
    request = SnippetRequest(public_url=ISSUER, pool_id="partner-1", flow="login",
                             client_id="shop", app_kind="confidential",
                             framework="backend-python")
    path = tmp_path / "widget_server_login.py"
    path.write_text(generate(request).code)

    def load(secret: str) -> ModuleType:
        monkeypatch.setenv(SECRET_VARIABLE, secret)
        spec = importlib.util.spec_from_file_location("widget_server_login", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        with warnings.catch_warnings():
            # authlib 1.9 prefers the httpx2 fork and warns when it falls back to httpx.
            warnings.filterwarnings("ignore", message="The httpx module is deprecated")
            spec.loader.exec_module(module)
        return module

    yield load
    sys.modules.pop("widget_server_login", None)


async def test_the_python_snippet_turns_a_widget_code_into_verified_claims(
    harness: Harness, make_app: MakeApp, load_snippet: LoadSnippet
) -> None:
    app = await make_app()
    assert app.secret is not None
    snippet = load_snippet(app.secret)
    # The one change a test needs: talk to the app in-process instead of over the network.
    snippet.widget_server.client_kwargs["transport"] = httpx.ASGITransport(app=harness.app)

    ada = await people.make_user(harness)
    page = await LoginClient(harness).log_in(ada.email, ada.password, client_id="shop")
    event = event_of(page)
    assert event is not None and event["type"] == "logged-in"

    claims = await snippet.claims_for_code(event["code"])
    assert (claims["sub"], claims["aud"], claims["iss"]) == (ada.user_id, "shop", ISSUER)
    assert claims["pool"] == "partner-1" and claims["email"] == ada.email
    assert set(claims) <= set(CLAIM_DOCS), set(claims) - set(CLAIM_DOCS)

    with pytest.raises(OAuthError) as used:
        await snippet.claims_for_code(event["code"])
    assert used.value.error == "invalid_grant"
