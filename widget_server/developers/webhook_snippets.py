"""Receiver snippets for one webhook endpoint: verify the Standard Webhooks signature
with the maintained ``standardwebhooks`` library of each language, drop what was seen
(by ``webhook-id``), then handle the event types the endpoint subscribes to.

Made from the endpoint's real values (its URL path, its id, its event filter); the
secret itself never lands in a snippet, it is read from ``SECRET_VARIABLE``. Values
go through ``literals.py`` like every other snippet, and never into comments.

=======  ====================================================  ==========================
lang     library                                               server
=======  ====================================================  ==========================
python   ``standardwebhooks`` (PyPI)                           Flask
node     ``standardwebhooks`` (npm; svix's ``Webhook`` is the  Express, raw body
         same API)
go       ``github.com/standard-webhooks/standard-webhooks/     net/http
         libraries/go``
=======  ====================================================  ==========================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import httpx

from widget_server.developers.literals import go_string, js_string, py_string
from widget_server.developers.templating import fill
from widget_server.webhooks.events import (
    EVENT_TYPES,
    LOGIN_FAILED,
    LOGIN_SUCCEEDED,
    USER_ACTIVATED,
    USER_DELETED,
    USER_REGISTERED,
    USER_UPDATED,
)
from widget_server.webhooks.subscriptions import selected

#: Where every receiver snippet reads the endpoint's ``whsec_…`` secret from.
SECRET_VARIABLE: Final = "WIDGET_SERVER_WEBHOOK_SECRET"  # noqa: S105 - a variable's name
LANGUAGES: Final = {"python": "Python", "node": "Node.js", "go": "Go"}

#: Fixed words per event type, for the comment of its branch (never a request value).
_WHAT: Final = {
    USER_REGISTERED: "a new user: data.user is the profile, data.source the path",
    USER_ACTIVATED: "the user may log in now (a verified address or an admin)",
    USER_UPDATED: "data.changes names what changed, never the values",
    USER_DELETED: "erase your copy: only data.user.id remains",
    LOGIN_SUCCEEDED: "data.user_id signed in (data.amr says how)",
    LOGIN_FAILED: "a refused login; data.user_id only for a known, verified address",
}


@dataclass(frozen=True)
class WebhookSnippet:
    language: str
    label: str
    #: For the code block's ``data-language`` and a file name.
    syntax: str
    filename: str
    install: str
    code: str


@dataclass(frozen=True)
class ReceiverValues:
    endpoint_id: str
    #: The path of the endpoint's URL, where the partner's server listens.
    path: str
    #: The types the endpoint receives, in ``EVENT_TYPES`` order.
    event_types: tuple[str, ...]


def receiver_values(endpoint_id: str, url: str, event_types: Sequence[str]) -> ReceiverValues:
    try:
        path = httpx.URL(url).path
    except (httpx.InvalidURL, ValueError):
        path = "/"
    if not path.startswith("/"):  # not an absolute URL (saved endpoints always are)
        path = "/"
    chosen = selected(event_types)
    return ReceiverValues(
        endpoint_id=endpoint_id,
        path=path,
        event_types=tuple(t for t in EVENT_TYPES if t in chosen),
    )


def receiver_snippets(values: ReceiverValues) -> list[WebhookSnippet]:
    return [render(values) for render in _RENDERERS]


# --- Python ---------------------------------------------------------------------------

PYTHON = '''\
"""Widget Server webhooks: verify the signature, drop duplicates, handle the event."""

import os

from flask import Flask, request
from standardwebhooks import Webhook, WebhookVerificationError

ENDPOINT_ID = @@ENDPOINT_ID@@
# The endpoint's signing secret (whsec_...): from the environment, never in source control.
webhook = Webhook(os.environ[@@SECRET_VARIABLE@@])
app = Flask(__name__)
# Delivery is at least once: a retry or a resend carries the same webhook-id.
# Keep these ids in your database; a set only lasts as long as the process.
seen_ids: set[str] = set()


@app.post(@@PATH@@)
def widget_server_webhook():
    body = request.get_data()  # the raw bytes: the signature covers them exactly
    try:
        event = webhook.verify(body, {k.lower(): v for k, v in request.headers.items()})
    except WebhookVerificationError:
        return "", 400  # not from Widget Server, altered, or older than five minutes
    message_id = request.headers["webhook-id"]
    if message_id in seen_ids:
        return "", 204
    handle(event)
    seen_ids.add(message_id)
    return "", 204  # any 2xx; anything else is retried with backoff for over a day


def handle(event: dict) -> None:
    data = event["data"]
@@BRANCHES@@
'''

PYTHON_BRANCH = """\
    @@KEYWORD@@ event["type"] == @@TYPE@@:
        # @@WHAT@@
        print(event["type"], data)
"""
PYTHON_ELSE = """\
    else:
        pass  # webhook.test (the portal's "Send test event") and types added later
"""


def _python(values: ReceiverValues) -> WebhookSnippet:
    branches = "".join(
        fill(
            PYTHON_BRANCH,
            {"KEYWORD": "if" if i == 0 else "elif", "TYPE": py_string(t), "WHAT": _WHAT[t]},
        )
        for i, t in enumerate(values.event_types)
    )
    code = fill(
        PYTHON,
        {
            "ENDPOINT_ID": py_string(values.endpoint_id),
            "SECRET_VARIABLE": py_string(SECRET_VARIABLE),
            "PATH": py_string(values.path),
            "BRANCHES": (branches + PYTHON_ELSE).rstrip("\n"),
        },
    )
    return WebhookSnippet(
        language="python",
        label=LANGUAGES["python"],
        syntax="python",
        filename="webhooks.py",
        install="pip install standardwebhooks flask",
        code=code,
    )


# --- Node -------------------------------------------------------------------------------

NODE = """\
// Widget Server webhooks: verify the signature, drop duplicates, handle the event.
import express from "express";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

const ENDPOINT_ID = @@ENDPOINT_ID@@;
// The endpoint's signing secret (whsec_...): from the environment, never in source control.
const webhook = new Webhook(process.env[@@SECRET_VARIABLE@@]);
// Delivery is at least once: a retry or a resend carries the same webhook-id.
// Keep these ids in your database; a Set only lasts as long as the process.
const seenIds = new Set();

const app = express();

// express.raw: the signature covers the body's exact bytes, not re-encoded JSON.
app.post(@@PATH@@, express.raw({ type: "application/json" }), (req, res) => {
  let event;
  try {
    event = webhook.verify(req.body, req.headers);
  } catch (error) {
    if (error instanceof WebhookVerificationError) {
      return res.sendStatus(400); // not from Widget Server, altered, or too old
    }
    throw error;
  }
  const messageId = req.get("webhook-id");
  if (seenIds.has(messageId)) return res.sendStatus(204);
  handle(event);
  seenIds.add(messageId);
  res.sendStatus(204); // any 2xx; anything else is retried with backoff for over a day
});

function handle(event) {
  const data = event.data;
  switch (event.type) {
@@BRANCHES@@
    default:
      break; // webhook.test (the portal's "Send test event") and types added later
  }
}

app.listen(Number(process.env.PORT ?? 3000));
"""

NODE_BRANCH = """\
    case @@TYPE@@:
      // @@WHAT@@
      console.log(event.type, data);
      break;
"""


def _node(values: ReceiverValues) -> WebhookSnippet:
    branches = "".join(
        fill(NODE_BRANCH, {"TYPE": js_string(t), "WHAT": _WHAT[t]}) for t in values.event_types
    )
    code = fill(
        NODE,
        {
            "ENDPOINT_ID": js_string(values.endpoint_id),
            "SECRET_VARIABLE": js_string(SECRET_VARIABLE),
            "PATH": js_string(values.path),
            "BRANCHES": branches.rstrip("\n"),
        },
    )
    return WebhookSnippet(
        language="node",
        label=LANGUAGES["node"],
        syntax="javascript",
        filename="webhooks.mjs",
        install="npm install standardwebhooks express",
        code=code,
    )


# --- Go -----------------------------------------------------------------------------------

GO = """\
// Widget Server webhooks: verify the signature, drop duplicates, handle the event.
package main

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"os"
	"sync"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const (
	endpointID = @@ENDPOINT_ID@@
	path       = @@PATH@@
)

type Event struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

func main() {
	// The endpoint's signing secret (whsec_...): from the environment, never in source control.
	webhook, err := standardwebhooks.NewWebhook(os.Getenv(@@SECRET_VARIABLE@@))
	if err != nil {
		log.Fatal(err)
	}
	// Delivery is at least once: a retry or a resend carries the same webhook-id.
	// Keep these ids in your database; a map only lasts as long as the process.
	var seenIDs sync.Map

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		// The raw bytes: the signature covers them exactly.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(body, r.Header); err != nil {
			// Not from Widget Server, altered, or older than five minutes.
			http.Error(w, "invalid signature", http.StatusBadRequest)
			return
		}
		messageID := r.Header.Get("webhook-id")
		if _, seen := seenIDs.Load(messageID); seen {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var event Event
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		handle(event)
		seenIDs.Store(messageID, true)
		// Any 2xx; anything else is retried with backoff for over a day.
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe(":8080", handler))
}

func handle(event Event) {
	switch event.Type {
@@BRANCHES@@
	default:
		// webhook.test (the portal's "Send test event") and types added later.
	}
}
"""

GO_BRANCH = """\
	case @@TYPE@@:
		// @@WHAT@@
		log.Printf("%s %s", event.Type, event.Data)
"""


def _go(values: ReceiverValues) -> WebhookSnippet:
    branches = "".join(
        fill(GO_BRANCH, {"TYPE": go_string(t), "WHAT": _WHAT[t]}) for t in values.event_types
    )
    code = fill(
        GO,
        {
            "ENDPOINT_ID": go_string(values.endpoint_id),
            "SECRET_VARIABLE": go_string(SECRET_VARIABLE),
            "PATH": go_string(values.path),
            "BRANCHES": branches.rstrip("\n"),
        },
    )
    return WebhookSnippet(
        language="go",
        label=LANGUAGES["go"],
        syntax="go",
        filename="main.go",
        install="go get github.com/standard-webhooks/standard-webhooks/libraries/go",
        code=code,
    )


_RENDERERS: tuple[Callable[[ReceiverValues], WebhookSnippet], ...] = (_python, _node, _go)
