/*
 * Widget Server embed loader. Paste on a partner page:
 *
 *   <div id="signup"></div>
 *   <script src="https://id.example.com/static/embed.js" data-pool="partner-1"
 *           data-flow="register" data-target="#signup" async></script>
 *
 * For a partner app's login add data-flow="login" data-client-id="<client id>": the
 * `logged-in` event then carries a one-time `code` for the app's backend to exchange.
 *
 * It creates the widget iframe, sizes it from the widget's `resize` messages and
 * re-emits every other widget message as a DOM event on the host element:
 *   host.addEventListener("registered", (e) => console.log(e.detail));
 * Messages are trusted only from the widget origin and from our own iframe.
 */
(function () {
  "use strict";

  // Captured now: document.currentScript is null once an async script yields.
  var script = document.currentScript;
  var MIN_HEIGHT = 100;
  var MAX_HEIGHT = 4000;
  var TITLES = { register: "Sign up", login: "Sign in" };

  function originOf(url) {
    return new URL(url, location.href).origin;
  }

  function mount(host, options) {
    if (!host || !options || !options.pool) {
      throw new Error("WidgetServer.mount(element, {pool, flow, origin}) needs an element and a pool");
    }
    var widgetOrigin = originOf(options.origin || (script && script.src) || location.href);
    var flow = options.flow || "register";
    var src = widgetOrigin + "/embed/" + encodeURIComponent(options.pool) + "/" +
      encodeURIComponent(flow) + "?parent_origin=" + encodeURIComponent(location.origin) +
      (options.clientId ? "&client_id=" + encodeURIComponent(options.clientId) : "");

    var iframe = document.createElement("iframe");
    iframe.src = src;
    iframe.title = options.title || TITLES[flow] || "Sign up";
    iframe.setAttribute("allow", "publickey-credentials-get *; clipboard-write");
    // color-scheme must match the widget page's, or browsers paint an opaque backdrop.
    iframe.style.cssText = "display:block;width:100%;border:0;height:560px;color-scheme:normal;";
    host.appendChild(iframe);

    function onMessage(event) {
      // Both checks matter: origin alone would accept another frame of the same widget
      // server; source alone would accept a frame that navigated elsewhere.
      if (event.origin !== widgetOrigin || event.source !== iframe.contentWindow) return;
      var data = event.data;
      if (!data || typeof data !== "object" || data.v !== 1 || typeof data.type !== "string") return;

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
