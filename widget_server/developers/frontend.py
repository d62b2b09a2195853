"""Frontend snippets: the script tag, the plain iframe, and a component per framework.

Every component does the same four things, in its framework's idiom: load embed.js once
per page (a ``<script>`` without ``data-pool`` mounts nothing by itself), mount with
``WidgetServer.mount(element, options)`` once the element exists, listen on that
element for the flow's events, and unmount (iframe and message listener) when the
component goes away. For an app's login the ``logged-in`` code goes straight to the
partner's backend (``CODE_CALLBACK_PATH``), which the backend snippets answer.
"""

from __future__ import annotations

from collections.abc import Callable

from widget_server.developers import contract
from widget_server.developers.literals import html_attr, js_string
from widget_server.developers.templating import fill
from widget_server.developers.values import (
    CODE_CALLBACK_PATH,
    FLOW_TITLES,
    IFRAME_TITLES,
    SnippetValues,
    camel,
    handler_prop,
)

# --- JavaScript shared by the components ---------------------------------------------

LOADER_JS = """\
const WIDGET_ORIGIN = @@ORIGIN@@;
const EMBED_SCRIPT = @@SCRIPT_URL@@;
const WIDGET_OPTIONS = {
@@OPTIONS@@
};
const EVENTS = [@@EVENTS@@];

let embedScript = null;

// embed.js once per page, however many widgets mount: without data-pool it defines
// window.WidgetServer and mounts nothing by itself.
function loadWidgetServer() {
  if (!embedScript) {
    embedScript = new Promise((resolve, reject) => {
      if (window.WidgetServer) {
        resolve(window.WidgetServer);
        return;
      }
      const script = document.createElement("script");
      script.src = EMBED_SCRIPT;
      script.async = true;
      script.onload = () => resolve(window.WidgetServer);
      script.onerror = () => {
        embedScript = null; // the next mount tries again
        reject(new Error("Widget Server: could not load embed.js"));
      };
      document.head.appendChild(script);
    });
  }
  return embedScript;
}
"""

EXCHANGE_JS = """
// The code is single use and lives 60 s: hand it to your backend at once, which
// exchanges it for verified tokens (the backend snippet). A same-origin JSON POST, which
// other sites cannot send without your CORS consent.
const CODE_CALLBACK = @@CALLBACK@@;

async function sendCodeToBackend(detail) {
  if (!detail.code) return;
  const response = await fetch(CODE_CALLBACK, {
    method: "POST",
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ code: detail.code }),
  });
  if (!response.ok) throw new Error(`Widget Server: the code exchange failed (${response.status})`);
}
"""


def _options_js(values: SnippetValues, indent: str = "  ") -> str:
    lines = [f"{indent}{key}: {js_string(value)}," for key, value in values.mount_options()]
    lines.append(f"{indent}origin: WIDGET_ORIGIN,")
    return "\n".join(lines)


def _events_js(values: SnippetValues) -> str:
    return ", ".join(js_string(event) for event in values.events)


def shared_js(values: SnippetValues) -> str:
    """The loader (and, for an app's login, the code hand-off) every component starts with."""
    loader = fill(LOADER_JS, {
        "ORIGIN": js_string(values.base),
        "SCRIPT_URL": js_string(values.script_url),
        "OPTIONS": _options_js(values),
        "EVENTS": _events_js(values),
    })
    if values.exchanges_code:
        loader += fill(EXCHANGE_JS, {"CALLBACK": js_string(CODE_CALLBACK_PATH)})
    return loader


def _detail_comment(event: str) -> str:
    spec = contract.BY_TYPE[event]
    return "{" + ", ".join(contract.field_names(spec)) + "}"


# --- Plain HTML ------------------------------------------------------------------------

SCRIPT_TAG_HTML = """\
<!-- Widget Server: the @@TITLE@@ form. Paste where it should appear. -->
<div id="@@ELEMENT@@"></div>
<script src="@@SCRIPT_URL@@"@@ATTRIBUTES@@ async></script>
<script>
  (function () {
    // embed.js re-emits the widget's messages as DOM events on the element above.
    var host = document.getElementById(@@ELEMENT_JS@@);
@@LISTENERS@@
  })();
</script>
"""

_HTML_LISTENER = """\
    host.addEventListener(@@EVENT@@, function (event) {
      // event.detail = @@DETAIL@@
@@BODY@@
    });"""

_HTML_EXCHANGE = """\
      // An app's one-time code (60 s): hand it to your backend at once.
      if (event.detail.code) {
        fetch(@@CALLBACK@@, {
          method: "POST",
          headers: { "content-type": "application/json" },
          credentials: "same-origin",
          body: JSON.stringify({ code: event.detail.code }),
        });
      }"""


def _html_listener_body(values: SnippetValues, event: str) -> str:
    if event == "logged-in" and values.exchanges_code:
        return fill(_HTML_EXCHANGE, {"CALLBACK": js_string(CODE_CALLBACK_PATH)})
    if event == "error":
        return ('      // The widget cannot be shown here: embed.js shows a fallback instead.\n'
                '      console.warn("Widget Server:", event.detail.reason, event.detail.origin);')
    return f"      console.log({js_string('Widget Server: ' + event)}, event.detail);"


def script_tag(values: SnippetValues) -> str:
    attributes = "".join(f' data-{name}="{html_attr(value)}"'
                         for name, value in values.data_attributes())
    listeners = "\n".join(
        fill(_HTML_LISTENER, {
            "EVENT": js_string(event),
            "DETAIL": _detail_comment(event),
            "BODY": _html_listener_body(values, event),
        })
        for event in values.events
    )
    return fill(SCRIPT_TAG_HTML, {
        "TITLE": FLOW_TITLES[values.flow],
        "ELEMENT": html_attr(values.element_id),
        "ELEMENT_JS": js_string(values.element_id),
        "SCRIPT_URL": html_attr(values.script_url),
        "ATTRIBUTES": attributes,
        "LISTENERS": listeners,
    })


IFRAME_HTML = """\
<!-- Widget Server: the @@TITLE@@ form without JavaScript on your page. A plain iframe keeps
     the height you give it and sends your page no events: the script tag does both. -->
<style>
  .widget-server-frame { display: block; width: 100%; max-width: 480px; height: 680px; border: 0; }
</style>
<iframe class="widget-server-frame" src="@@SRC@@" title="@@FRAME_TITLE@@"></iframe>
"""


def iframe(values: SnippetValues) -> str:
    return fill(IFRAME_HTML, {
        "TITLE": FLOW_TITLES[values.flow],
        "SRC": html_attr(values.widget_url()),
        "FRAME_TITLE": html_attr(IFRAME_TITLES[values.flow]),
    })


# --- React and Next.js -----------------------------------------------------------------

REACT_JSX = """\
@@DIRECTIVE@@// Widget Server: the @@TITLE@@ widget as a React component.
//
//   <@@COMPONENT@@ @@PROP_EXAMPLE@@={(detail) => console.log(detail)} />
//
// useWidgetServer(ref, handlers) mounts it in any element of yours instead.
import { useEffect, useRef } from "react";

@@SHARED@@
/**
 * Mounts the widget in ref.current; handlers maps event types to callbacks that get
 * event.detail (@@EVENT_LIST@@). The iframe stays mounted across re-renders.
 */
export function useWidgetServer(ref, handlers) {
  // The latest callbacks, without re-mounting the iframe when the parent re-renders.
  const latest = useRef(handlers);
  latest.current = handlers;

  useEffect(() => {
    const host = ref.current;
    if (!host) return undefined;
    let widget = null;
    let cancelled = false;
    const listeners = EVENTS.map((type) => [type, (event) => latest.current[type]?.(event.detail)]);
    for (const [type, listener] of listeners) host.addEventListener(type, listener);
    loadWidgetServer()
      .then((WidgetServer) => {
        if (!cancelled) widget = WidgetServer.mount(host, WIDGET_OPTIONS);
      })
      .catch((error) => console.error(error));
    return () => {
      cancelled = true;
      widget?.unmount();
      for (const [type, listener] of listeners) host.removeEventListener(type, listener);
    };
  }, [ref]);
}

export default function @@COMPONENT@@({ @@PROPS@@ }) {
  const ref = useRef(null);
  useWidgetServer(ref, {
@@HANDLERS@@
  });
  return <div ref={ref} />;
}
"""


def _callback_handlers(values: SnippetValues, call: Callable[[str], str]) -> list[str]:
    """``"type": (detail) => …`` for each event; ``call(event)`` hands the detail on."""
    lines = []
    for event in values.events:
        if event == "logged-in" and values.exchanges_code:
            lines.append(f"    {js_string(event)}: (detail) =>\n"
                         f"      sendCodeToBackend(detail).then(() => {call(event)}, "
                         "(error) => console.error(error)),")
        else:
            lines.append(f"    {js_string(event)}: (detail) => {call(event)},")
    return lines


def react(values: SnippetValues, *, next_client: bool = False) -> str:
    props = [handler_prop(event) for event in values.events]
    handlers = _callback_handlers(values, lambda e: f"{handler_prop(e)}?.(detail)")
    return fill(REACT_JSX, {
        # The App Router renders on the server unless the file says otherwise.
        "DIRECTIVE": '"use client";\n\n' if next_client else "",
        "TITLE": FLOW_TITLES[values.flow],
        "COMPONENT": values.component,
        "PROP_EXAMPLE": props[0],
        "SHARED": shared_js(values),
        "EVENT_LIST": ", ".join(f'"{e}"' for e in values.events),
        "PROPS": ", ".join(props),
        "HANDLERS": "\n".join(handlers),
    })


# --- Vue 3 -----------------------------------------------------------------------------

VUE_SFC = """\
<!-- Widget Server: the @@TITLE@@ widget as a Vue 3 component.
       <@@COMPONENT@@ @@EMIT_EXAMPLE@@="(detail) => console.log(detail)" /> -->
<script>
// Module scope: shared by every instance, so embed.js loads once per page.
@@SHARED@@</script>

<script setup>
import { onBeforeUnmount, onMounted, ref } from "vue";

const emit = defineEmits([@@EVENTS@@]);
const host = ref(null);
let widget = null;
let unmounted = false;

function forward(type, detail) {
@@FORWARD@@
}

const listeners = EVENTS.map((type) => [type, (event) => forward(type, event.detail)]);

onMounted(() => {
  const element = host.value;
  for (const [type, listener] of listeners) element.addEventListener(type, listener);
  loadWidgetServer()
    .then((WidgetServer) => {
      if (!unmounted) widget = WidgetServer.mount(element, WIDGET_OPTIONS);
    })
    .catch((error) => console.error(error));
});

onBeforeUnmount(() => {
  unmounted = true;
  widget?.unmount();
  for (const [type, listener] of listeners) host.value?.removeEventListener(type, listener);
});
</script>

<template>
  <div ref="host"></div>
</template>
"""


def vue(values: SnippetValues) -> str:
    if values.exchanges_code:
        forward = ('  if (type === "logged-in") {\n'
                   '    sendCodeToBackend(detail).then(\n'
                   '      () => emit(type, detail),\n'
                   '      (error) => console.error(error),\n'
                   '    );\n'
                   '  } else {\n'
                   '    emit(type, detail);\n'
                   '  }')
    else:
        forward = "  emit(type, detail);"
    return fill(VUE_SFC, {
        "TITLE": FLOW_TITLES[values.flow],
        "COMPONENT": values.component,
        "EMIT_EXAMPLE": "@" + values.events[0],
        "SHARED": shared_js(values),
        "EVENTS": _events_js(values),
        "FORWARD": forward,
    })


# --- Svelte 5 --------------------------------------------------------------------------

SVELTE = """\
<!-- Widget Server: the @@TITLE@@ widget as a Svelte 5 component.
       <@@COMPONENT@@ @@PROP_EXAMPLE@@={(detail) => console.log(detail)} /> -->
<script module>
  // Module scope: shared by every instance, so embed.js loads once per page.
@@SHARED@@</script>

<script>
  import { onMount } from "svelte";

  let { @@PROPS@@ } = $props();
  let host;

  const handlers = {
@@HANDLERS@@
  };

  onMount(() => {
    let widget = null;
    let cancelled = false;
    const listeners = EVENTS.map((type) => [type, (event) => handlers[type](event.detail)]);
    for (const [type, listener] of listeners) host.addEventListener(type, listener);
    loadWidgetServer()
      .then((WidgetServer) => {
        if (!cancelled) widget = WidgetServer.mount(host, WIDGET_OPTIONS);
      })
      .catch((error) => console.error(error));
    // Runs when the component is destroyed.
    return () => {
      cancelled = true;
      widget?.unmount();
      for (const [type, listener] of listeners) host.removeEventListener(type, listener);
    };
  });
</script>

<div bind:this={host}></div>
"""


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line for line in text.splitlines(True))


def svelte(values: SnippetValues) -> str:
    props = [handler_prop(event) for event in values.events]
    handlers = _callback_handlers(values, lambda e: f"{handler_prop(e)}?.(detail)")
    return fill(SVELTE, {
        "TITLE": FLOW_TITLES[values.flow],
        "COMPONENT": values.component,
        "PROP_EXAMPLE": props[0],
        "SHARED": _indent(shared_js(values), "  "),
        "PROPS": ", ".join(props),
        "HANDLERS": "\n".join(handlers),
    })


# --- Angular ---------------------------------------------------------------------------

ANGULAR_TS = """\
// Widget Server: the @@TITLE@@ widget as an Angular standalone component.
//
//   <@@SELECTOR@@ (@@OUTPUT_EXAMPLE@@)="onEvent($event)" />
//
// Outputs are prefixed "widget": the DOM events keep bubbling from inside, and an output
// named like one of them would fire a binding of that name twice.
import {
  AfterViewInit,
  Component,
  ElementRef,
  EventEmitter,
  OnDestroy,
  Output,
  ViewChild,
} from "@angular/core";

/** The detail of every widget event: {v: 1, type, ...} (see the developer reference). */
export interface WidgetEventDetail {
  v: number;
  type: string;
  [field: string]: unknown;
}

/** What embed.js's WidgetServer.mount() returns. */
interface MountedWidget {
  iframe: HTMLIFrameElement;
  unmount(): void;
}

interface WidgetServerApi {
  mount(host: HTMLElement, options: Record<string, string>): MountedWidget;
}

declare global {
  interface Window {
    WidgetServer?: WidgetServerApi;
  }
}

const WIDGET_ORIGIN = @@ORIGIN@@;
const EMBED_SCRIPT = @@SCRIPT_URL@@;
const WIDGET_OPTIONS: Record<string, string> = {
@@OPTIONS@@
};
const EVENTS = [@@EVENTS@@] as const;

let embedScript: Promise<WidgetServerApi> | null = null;

// embed.js once per page, however many widgets mount: without data-pool it defines
// window.WidgetServer and mounts nothing by itself.
function loadWidgetServer(): Promise<WidgetServerApi> {
  if (!embedScript) {
    embedScript = new Promise<WidgetServerApi>((resolve, reject) => {
      const fail = () => {
        embedScript = null; // the next mount tries again
        reject(new Error("Widget Server: could not load embed.js"));
      };
      if (window.WidgetServer) {
        resolve(window.WidgetServer);
        return;
      }
      const script = document.createElement("script");
      script.src = EMBED_SCRIPT;
      script.async = true;
      script.onload = () => (window.WidgetServer ? resolve(window.WidgetServer) : fail());
      script.onerror = fail;
      document.head.appendChild(script);
    });
  }
  return embedScript;
}
@@EXCHANGE@@
@Component({
  selector: "@@SELECTOR@@",
  standalone: true,
  template: `<div #host></div>`,
})
export class @@COMPONENT@@Component implements AfterViewInit, OnDestroy {
  @ViewChild("host", { static: true }) private host!: ElementRef<HTMLElement>;
@@OUTPUTS@@

  private widget: MountedWidget | null = null;
  private destroyed = false;

  private readonly onEvent = (event: Event): void => {
    const detail = (event as CustomEvent<WidgetEventDetail>).detail;
    switch (event.type) {
@@CASES@@
    }
  };

  ngAfterViewInit(): void {
    const host = this.host.nativeElement;
    for (const type of EVENTS) host.addEventListener(type, this.onEvent);
    loadWidgetServer()
      .then((widgetServer) => {
        if (!this.destroyed) this.widget = widgetServer.mount(host, WIDGET_OPTIONS);
      })
      .catch((error: unknown) => console.error(error));
  }

  ngOnDestroy(): void {
    this.destroyed = true;
    this.widget?.unmount();
    const host = this.host.nativeElement;
    for (const type of EVENTS) host.removeEventListener(type, this.onEvent);
  }
}
"""

ANGULAR_EXCHANGE = """
// The code is single use and lives 60 s: hand it to your backend at once, which
// exchanges it for verified tokens (the backend snippet). A same-origin JSON POST, which
// other sites cannot send without your CORS consent.
const CODE_CALLBACK = @@CALLBACK@@;

async function sendCodeToBackend(detail: WidgetEventDetail): Promise<void> {
  if (typeof detail["code"] !== "string") return;
  const response = await fetch(CODE_CALLBACK, {
    method: "POST",
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ code: detail["code"] }),
  });
  if (!response.ok) throw new Error(`Widget Server: the code exchange failed (${response.status})`);
}
"""


def angular_output(event: str) -> str:
    """``logged-in`` → ``widgetLoggedIn``: never a DOM event's name (see the template)."""
    name = camel(event)
    return "widget" + name[0].upper() + name[1:]


def _angular_cases(values: SnippetValues) -> str:
    cases = []
    for event in values.events:
        output = angular_output(event)
        if event == "logged-in" and values.exchanges_code:
            emit = ("sendCodeToBackend(detail).then(\n"
                    f"          () => this.{output}.emit(detail),\n"
                    "          (error: unknown) => console.error(error),\n"
                    "        );")
        else:
            emit = f"this.{output}.emit(detail);"
        cases.append(f"      case {js_string(event)}:\n        {emit}\n        break;")
    return "\n".join(cases)


def angular(values: SnippetValues) -> str:
    outputs = "\n".join(
        f"  @Output() readonly {angular_output(e)} = new EventEmitter<WidgetEventDetail>();"
        for e in values.events
    )
    exchange = (fill(ANGULAR_EXCHANGE, {"CALLBACK": js_string(CODE_CALLBACK_PATH)})
                if values.exchanges_code else "")
    return fill(ANGULAR_TS, {
        "TITLE": FLOW_TITLES[values.flow],
        "SELECTOR": values.element_id,
        "OUTPUT_EXAMPLE": angular_output(values.events[0]),
        "ORIGIN": js_string(values.base),
        "SCRIPT_URL": js_string(values.script_url),
        "OPTIONS": _options_js(values),
        "EVENTS": _events_js(values),
        "EXCHANGE": exchange,
        "COMPONENT": values.component,
        "OUTPUTS": outputs,
        "CASES": _angular_cases(values),
    })
