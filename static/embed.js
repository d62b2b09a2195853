/*
 * Widget Server embed loader. Paste on a partner page:
 *
 *   <div id="signup"></div>
 *   <script src="https://id.example.com/static/embed.js" data-pool="partner-1"
 *           data-flow="register" data-target="#signup" async></script>
 *
 * data-color-scheme="light" or "dark" forces the widget's palette (default: the browser's
 * prefers-color-scheme); data-locale is passed on to the widget.
 *
 * For a partner app's login add data-flow="login" data-client-id="<client id>": the
 * `logged-in` event then carries a one-time `code` for the app's backend to exchange.
 *
 * It creates the widget iframe, sizes it from the widget's `resize` messages and
 * re-emits every other widget message as a DOM event on the host element:
 *   host.addEventListener("registered", (e) => console.log(e.detail));
 * Messages are trusted only from the widget origin and from our own iframe.
 *
 * When the widget cannot be shown here (this page's origin is not allowed for the pool,
 * the pool does not exist, or the browser blocks the frame), it never leaves a grey box:
 * within a few seconds it dispatches
 *   {v: 1, type: "error", reason, origin}
 * on the host element (reason: "origin_not_allowed", "origin_missing", "unknown_pool",
 * "frame_blocked"; for sign-in and the account page in a browser that blocks even
 * partitioned cookies, after the widget tried the Storage Access API on a click:
 * "storage_access_denied", or "storage_blocked" where it cannot ask) and replaces the frame with a short notice and a button that opens
 * the same flow in a popup window (or a new tab). Allowed origins are set per pool (and
 * per app) in the developer portal; the console says which origin was refused.
 *
 * No inline script or style is needed: it works under a strict Content-Security-Policy
 * (script-src with a nonce or 'strict-dynamic'; styles are set through the CSSOM).
 */
(function () {
  "use strict";

  // Captured now: document.currentScript is null once an async script yields.
  var script = document.currentScript;
  var MIN_HEIGHT = 100;
  var MAX_HEIGHT = 4000;
  var TITLES = { register: "Sign up", login: "Sign in" };
  var ACTIONS = { register: "Sign up", login: "Sign in", account: "Open your account",
                  recover: "Reset your password" };
  // After the frame's load event, the widget's first message comes within milliseconds;
  // nothing after this long means the browser showed something else.
  var SILENCE_MS = 3000;
  var GIVE_UP_MS = 10000;

  function originOf(url) {
    return new URL(url, location.href).origin;
  }

  function mount(host, options) {
    if (!host || !options || !options.pool) {
      throw new Error("WidgetServer.mount(element, {pool, flow, origin}) needs an element and a pool");
    }
    var widgetOrigin = originOf(options.origin || (script && script.src) || location.href);
    var flow = options.flow || "register";
    // "light" or "dark" forces the widget's palette; anything else follows the browser.
    var scheme = options.colorScheme === "light" || options.colorScheme === "dark" ?
      options.colorScheme : null;
    var src = widgetOrigin + "/embed/" + encodeURIComponent(options.pool) + "/" +
      encodeURIComponent(flow) + "?parent_origin=" + encodeURIComponent(location.origin) +
      (options.clientId ? "&client_id=" + encodeURIComponent(options.clientId) : "") +
      (scheme ? "&color_scheme=" + scheme : "") +
      (options.locale ? "&locale=" + encodeURIComponent(options.locale) : "");

    var topLevelUrl = widgetOrigin + "/embed/" + encodeURIComponent(options.pool) + "/" +
      encodeURIComponent(flow);
    var heard = false;
    var failed = false;

    var iframe = document.createElement("iframe");
    iframe.src = src;
    iframe.title = options.title || TITLES[flow] || "Sign up";
    iframe.setAttribute("allow", "publickey-credentials-get *; clipboard-write");
    // color-scheme must match the widget page's, or browsers paint an opaque backdrop.
    iframe.style.cssText = "display:block;width:100%;border:0;height:560px;color-scheme:normal;";
    if (scheme) iframe.style.colorScheme = scheme;
    host.appendChild(iframe);

    function onMessage(event) {
      // Both checks matter: origin alone would accept another frame of the same widget
      // server; source alone would accept a frame that navigated elsewhere.
      if (event.origin !== widgetOrigin || event.source !== iframe.contentWindow) return;
      var data = event.data;
      if (!data || typeof data !== "object" || data.v !== 1 || typeof data.type !== "string") return;
      heard = true;

      if (data.type === "error" && /^storage_/.test(String(data.reason))) {
        // The frame loaded but cannot keep a session here: the popup instead.
        fail(String(data.reason), null, null, true);
        return;
      }
      if (data.type === "resize") {
        var height = Number(data.height);
        if (isFinite(height)) {
          iframe.style.height = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, Math.ceil(height))) + "px";
        }
        return;
      }
      host.dispatchEvent(new CustomEvent(data.type, { detail: data, bubbles: true }));
      host.dispatchEvent(new CustomEvent("widget-message", { detail: data, bubbles: true }));
    }
    window.addEventListener("message", onMessage);

    function fail(reason, theme, poolName, fromWidget) {
      if ((heard && !fromWidget) || failed) return;
      failed = true;
      window.removeEventListener("message", onMessage);
      console.error(
        "WidgetServer: the " + flow + " widget of pool \"" + options.pool + "\" cannot be shown on " +
        location.origin + " (" + reason + "). Allow this origin for the pool or app in the " +
        "developer portal: " + widgetOrigin + "/developers"
      );
      var detail = { v: 1, type: "error", reason: reason, origin: location.origin };
      host.dispatchEvent(new CustomEvent("error", { detail: detail, bubbles: false }));
      host.dispatchEvent(new CustomEvent("widget-message", { detail: detail, bubbles: true }));
      iframe.replaceWith(fallback(theme, poolName));
    }

    function fallback(theme, poolName) {
      theme = theme || {};
      var box = document.createElement("div");
      box.className = "widget-server-fallback";
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", iframe.title);
      var s = box.style;
      s.boxSizing = "border-box";
      s.maxWidth = "28rem";
      s.padding = "1.25rem";
      s.border = "1px solid " + (theme.border || "#d0d5dd");
      s.borderRadius = theme.radius || "12px";
      s.background = theme.surface || "#ffffff";
      s.color = theme.text || "#1d2939";
      s.fontFamily = theme.font_family || "system-ui, sans-serif";
      var text = document.createElement("p");
      text.textContent = (poolName ? poolName + ": " : "") +
        "this form can't be shown inside this page. You can continue in a new window.";
      text.style.margin = "0 0 1rem";
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = (ACTIONS[flow] || "Continue") + " in a new window";
      var b = button.style;
      b.font = "inherit";
      b.fontWeight = "600";
      b.padding = "0.6rem 1rem";
      b.border = "0";
      b.borderRadius = theme.radius || "8px";
      b.background = theme.primary || "#1d4ed8";
      b.color = theme.primary_contrast || "#ffffff";
      b.cursor = "pointer";
      button.addEventListener("click", function () {
        // Opened in the click itself, or popup blockers refuse it; a new tab otherwise.
        var popup = window.open(topLevelUrl, "widget-server-" + flow, "popup,width=480,height=760");
        if (!popup) window.open(topLevelUrl, "_blank", "noopener");
      });
      box.appendChild(text);
      box.appendChild(button);
      return box;
    }

    // Ask whether this origin may frame the widget, while the frame loads.
    if (window.fetch) {
      fetch(widgetOrigin + "/embed/" + encodeURIComponent(options.pool) +
            "/frame-check?parent_origin=" + encodeURIComponent(location.origin) +
            (options.clientId ? "&client_id=" + encodeURIComponent(options.clientId) : ""),
            { credentials: "omit", mode: "cors" })
        .then(function (response) { return response.json(); })
        .then(function (check) {
          if (check && check.v === 1 && check.allowed === false) {
            fail(String(check.reason || "origin_not_allowed"), check.theme, check.pool_name);
          }
        })
        .catch(function () { /* the timers below still notice a refused frame */ });
    }
    iframe.addEventListener("load", function () {
      setTimeout(function () { fail("frame_blocked"); }, SILENCE_MS);
    });
    setTimeout(function () { fail("frame_blocked"); }, GIVE_UP_MS);

    return {
      iframe: iframe,
      unmount: function () {
        window.removeEventListener("message", onMessage);
        iframe.remove();
      },
    };
  }

  function autoMount() {
    if (!script || !script.dataset.pool) return;
    var host;
    if (script.dataset.target) {
      host = document.querySelector(script.dataset.target);
    } else {
      host = document.createElement("div");
      host.className = "widget-server";
      script.parentNode.insertBefore(host, script.nextSibling);
    }
    if (!host) {
      console.error("WidgetServer: no element matches data-target", script.dataset.target);
      return;
    }
    mount(host, {
      pool: script.dataset.pool,
      flow: script.dataset.flow,
      clientId: script.dataset.clientId,
      colorScheme: script.dataset.colorScheme,
      locale: script.dataset.locale,
      origin: script.src,
    });
  }

  window.WidgetServer = window.WidgetServer || { mount: mount };

  // An async script may run before the target element is parsed.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", autoMount);
  } else {
    autoMount();
  }
})();
