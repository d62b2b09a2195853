"""Backend snippets: the ``logged-in`` code exchanged for a verified ID token.

Each uses its ecosystem's maintained OpenID Connect client, never a hand-made JWT check:
Python authlib (what ``widget_server/demo/relying_party.py`` does), Node openid-client 6,
Go go-oidc 3 with x/oauth2. All three read discovery, exchange the code at the token
endpoint with the app's secret (HTTP Basic) and *no* ``redirect_uri`` (the embedded
login's code was issued without one, and the server refuses a mismatch), then check the
ID token's signature against the JWKS, ``iss``, ``aud`` and expiry. The secret is read
from the environment, never written into the snippet.
"""

from __future__ import annotations

from widget_server.developers.literals import go_string, js_string, py_string
from widget_server.developers.templating import fill
from widget_server.developers.values import (
    CODE_CALLBACK_PATH,
    DISCOVERY_PATH,
    SECRET_VARIABLE,
    TOKEN_PATH,
    SnippetValues,
)

PYTHON = '''\
"""Widget Server: the code of the widget's logged-in event, exchanged for verified claims.

    pip install "authlib>=1.3" httpx

Your page posts the code to your backend (POST @@CALLBACK@@, {"code": "..."}); call
claims_for_code(code) there and start your own session for claims["sub"].
"""

import os
from typing import Any

from authlib.integrations.base_client import BaseApp
from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin
from authlib.integrations.httpx_client import AsyncOAuth2Client

ISSUER = @@ISSUER@@
CLIENT_ID = @@CLIENT_ID@@
# Never in source control: the secret comes from the environment (or your secret store).
CLIENT_SECRET = os.environ[@@SECRET_VARIABLE@@]


class WidgetServerClient(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):
    """authlib's OpenID Connect client without a web framework (its Starlette
    integration is this class, plus Starlette)."""

    client_cls = AsyncOAuth2Client


widget_server = WidgetServerClient(
    None,
    name="widget_server",
    client_id=CLIENT_ID,
    client_secret=CLIENT_SECRET,
    # Discovery names the token endpoint (@@TOKEN_PATH@@) and the signing keys (JWKS).
    server_metadata_url=ISSUER + @@DISCOVERY_PATH@@,
    client_kwargs={"token_endpoint_auth_method": "client_secret_basic"},
)


async def claims_for_code(code: str) -> dict[str, Any]:
    """The verified ID-token claims of the user who just logged in in the widget.

    The code is single use and lives 60 s. authlib checks the ID token's signature
    against the JWKS, iss, aud (your client id), exp and iat, and raises on any failure
    (OAuthError such as invalid_grant for the exchange, JoseError for the token).
    """
    # The embedded login's code was issued without a redirect_uri: none is sent.
    token = await widget_server.fetch_access_token(code=code)
    claims = await widget_server.parse_id_token(token, nonce=None)
    return dict(claims)
'''

NODE = """\
// Widget Server: the code of the widget's logged-in event, exchanged for verified claims.
//
//   npm install openid-client@6
//
// Your page posts the code to your backend (POST @@CALLBACK@@, {"code": "..."}); call
// claimsForCode(code) there and start your own session for claims.sub. With Express:
//
//   app.post("@@CALLBACK@@", express.json(), async (req, res) => {
//     const claims = await claimsForCode(String(req.body.code));
//     // ... your session for claims.sub ...
//     res.json({ sub: claims.sub });
//   });
import * as client from "openid-client";

const ISSUER = new URL(@@ISSUER@@);
const CLIENT_ID = @@CLIENT_ID@@;
// Never in source control: the secret comes from the environment (or your secret store).
const CLIENT_SECRET = process.env[@@SECRET_VARIABLE@@];

let configuration = null;

// Discovery once per process; openid-client caches the signing keys (JWKS) and fetches
// them again when a new key appears.
function widgetServer() {
  configuration ??= client
    .discovery(
      ISSUER,
      CLIENT_ID,
      undefined,
      client.ClientSecretBasic(CLIENT_SECRET),@@DISCOVERY_OPTIONS@@
    )
    .then((config) => {
      // Check the ID token's signature against the JWKS too, not only its claims.
      client.enableNonRepudiationChecks(config);
      return config;
    })
    .catch((error) => {
      configuration = null; // try discovery again on the next call
      throw error;
    });
  return configuration;
}

/**
 * The verified ID-token claims of the user who just logged in in the widget. The code is
 * single use and lives 60 s; openid-client checks the signature, iss, aud (your client
 * id), exp and iat, and throws on any failure.
 */
export async function claimsForCode(code) {
  const config = await widgetServer();
  // The embedded login's code was issued without a redirect_uri: a plain
  // authorization_code grant at the token endpoint (@@TOKEN_PATH@@), none sent.
  const tokens = await client.genericGrantRequest(config, "authorization_code", { code });
  return tokens.claims();
}
"""

# Local development only: openid-client refuses plain http unless told.
NODE_INSECURE = "\n      { execute: [client.allowInsecureRequests] }, // plain http: local use only"

GO = """\
// Package widgetserver exchanges the code of the widget's logged-in event for verified
// ID-token claims.
//
//	go get github.com/coreos/go-oidc/v3/oidc golang.org/x/oauth2
//
// Your page posts the code to your backend (POST @@CALLBACK@@, {"code": "..."}):
//
//	exchanger, err := widgetserver.NewExchanger(ctx)
//	http.Handle("@@CALLBACK@@", exchanger.CallbackHandler())
package widgetserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	issuer   = @@ISSUER@@
	clientID = @@CLIENT_ID@@
)

// Claims are the ID-token claims this backend reads; add those your app's scopes release.
type Claims struct {
	Subject       string   `json:"sub"`
	Pool          string   `json:"pool"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	AMR           []string `json:"amr"`
}

// Exchanger redeems codes at the token endpoint and verifies the ID tokens.
type Exchanger struct {
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// NewExchanger reads the discovery document once; the verifier caches the signing keys
// (JWKS) and fetches them again when a new key appears.
func NewExchanger(ctx context.Context) (*Exchanger, error) {
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, err
	}
	return &Exchanger{
		config: oauth2.Config{
			ClientID: clientID,
			// Never in source control: the secret comes from the environment.
			ClientSecret: os.Getenv(@@SECRET_VARIABLE@@),
			Endpoint:     provider.Endpoint(),
			Scopes:       []string{oidc.ScopeOpenID},
			// No RedirectURL: the embedded login's code was issued without one.
		},
		// Our keys sign ES256; naming it keeps a token in any other algorithm out.
		verifier: provider.Verifier(&oidc.Config{
			ClientID:             clientID,
			SupportedSigningAlgs: []string{oidc.ES256},
		}),
	}, nil
}

// Claims exchanges a code (single use, 60 s) at the token endpoint (@@TOKEN_PATH@@) and
// verifies the ID token: signature against the JWKS, iss, aud (your client id), expiry.
func (e *Exchanger) Claims(ctx context.Context, code string) (*Claims, error) {
	token, err := e.config.Exchange(ctx, code)
	if err != nil {
		return nil, err
	}
	raw, ok := token.Extra("id_token").(string)
	if !ok {
		return nil, errors.New("widget server: no id_token in the token response")
	}
	idToken, err := e.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	var claims Claims
	if err := idToken.Claims(&claims); err != nil {
		return nil, err
	}
	return &claims, nil
}

// CallbackHandler answers your page's POST {"code": "..."}.
func (e *Exchanger) CallbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A JSON POST only: other sites cannot send one without your CORS consent.
		contentType := r.Header.Get("Content-Type")
		if r.Method != http.MethodPost || !strings.HasPrefix(contentType, "application/json") {
			http.Error(w, "expected a JSON POST", http.StatusBadRequest)
			return
		}
		var body struct {
			Code string `json:"code"`
		}
		err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body)
		if err != nil || body.Code == "" {
			http.Error(w, "expected {\\"code\\": \\"...\\"}", http.StatusBadRequest)
			return
		}
		claims, err := e.Claims(r.Context(), body.Code)
		if err != nil {
			http.Error(w, "the code could not be exchanged", http.StatusUnauthorized)
			return
		}
		// Start your own session for claims.Subject here.
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": claims.Subject})
	})
}
"""


def _client_id(values: SnippetValues) -> str:
    if values.client_id is None:
        raise ValueError("backend snippets need a client id (checked by generate())")
    return values.client_id


def python(values: SnippetValues) -> str:
    return fill(PYTHON, {
        "CALLBACK": CODE_CALLBACK_PATH,
        "ISSUER": py_string(values.base),
        "CLIENT_ID": py_string(_client_id(values)),
        "SECRET_VARIABLE": py_string(SECRET_VARIABLE),
        "TOKEN_PATH": TOKEN_PATH,
        "DISCOVERY_PATH": py_string(DISCOVERY_PATH),
    })


def node(values: SnippetValues) -> str:
    insecure = values.base.lower().startswith("http://")
    return fill(NODE, {
        "CALLBACK": CODE_CALLBACK_PATH,
        "ISSUER": js_string(values.base),
        "CLIENT_ID": js_string(_client_id(values)),
        "SECRET_VARIABLE": js_string(SECRET_VARIABLE),
        "DISCOVERY_OPTIONS": NODE_INSECURE if insecure else "",
        "TOKEN_PATH": TOKEN_PATH,
    })


def go(values: SnippetValues) -> str:
    return fill(GO, {
        "CALLBACK": CODE_CALLBACK_PATH,
        "ISSUER": go_string(values.base),
        "CLIENT_ID": go_string(_client_id(values)),
        "SECRET_VARIABLE": go_string(SECRET_VARIABLE),
        "TOKEN_PATH": TOKEN_PATH,
    })
