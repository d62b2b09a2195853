/*
 * Runs inside the widget page (after htmx). Talks to the embedding page and adds small
 * enhancements; every form works without it.
 *
 * - Posts {v:1, type:"resize", height} to the parent whenever the page height changes.
 * - Posts each <script type="application/json" data-ws-event> payload once, as {v:1, ...}.
 * - Code inputs keep digits only and submit themselves at 6 digits.
 *
 * Messages go only to the origin the server wrote into <meta name="ws-parent-origin">,
 * which it set only after checking that origin against the pool; never to "*".
 */
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="ws-parent-origin"]');
  var parentOrigin = meta ? meta.getAttribute("content") || "" : "";
  // An exact origin only: postMessage throws on malformed targets, and "*" would leak.
  var embedded = window.parent !== window && /^https?:\/\/[^\/\s]+$/.test(parentOrigin);
  var CODE_LENGTH = 6;

  function post(payload) {
    if (!embedded) return;
    // v comes last so a payload can never claim another protocol version.
    window.parent.postMessage(Object.assign({}, payload, { v: 1 }), parentOrigin);
  }

  // --- Height ---------------------------------------------------------------------
  var lastHeight = 0;
  var pending = false;

  function measure() {
    pending = false;
    // The root's own box, not scrollHeight: scrollHeight never drops below the iframe's
    // current height, so the widget could grow but never shrink.
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height > 0 && height !== lastHeight) {
      lastHeight = height;
      post({ type: "resize", height: height });
    }
  }

  function scheduleMeasure() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(measure);
  }

  // --- Events rendered by the server --------------------------------------------------
  function sendEvents(root) {
    var nodes = (root || document).querySelectorAll(
      'script[type="application/json"][data-ws-event]:not([data-ws-sent])'
    );
    Array.prototype.forEach.call(nodes, function (node) {
      node.setAttribute("data-ws-sent", "");
      var payload;
      try {
        payload = JSON.parse(node.textContent);
      } catch (err) {
        console.error("widget: unreadable event payload", err);
        return;
      }
      if (payload && typeof payload === "object" && typeof payload.type === "string") {
        post(payload);
      }
    });
  }

  // --- One-time code input ------------------------------------------------------------
  function onCodeInput(event) {
    var input = event.target;
    if (!input.matches || !input.matches("input.ws-input--code")) return;
    var digits = input.value.replace(/\D+/g, "").slice(0, CODE_LENGTH);
    if (digits !== input.value) input.value = digits;
    if (digits.length < CODE_LENGTH) delete input.dataset.wsSubmitted;
    // Remember what was submitted so a re-render or a stray input event cannot send the
    // same code twice (each wrong attempt costs the user one of five).
    if (digits.length === CODE_LENGTH && input.dataset.wsSubmitted !== digits && input.form) {
      input.dataset.wsSubmitted = digits;
      submitForm(input.form);
    }
  }

  function submitForm(form) {
    // Submit as if "Continue" was clicked, so the request matches a manual submit.
    var button = form.querySelector('.ws-button--primary[type="submit"], button[type="submit"]:not([name])');
    if (form.requestSubmit) {
      form.requestSubmit(button || undefined);
    } else if (button) {
      button.click();
    } else {
      form.submit();
    }
  }

  // --- Busy state for full-page (non-htmx) submits --------------------------------------
  function onSubmit(event) {
    var button = event.submitter;
    if (button && button.classList.contains("ws-button")) button.setAttribute("aria-busy", "true");
  }

  function clearBusy() {
    document.querySelectorAll(".ws-button[aria-busy]").forEach(function (b) {
      b.removeAttribute("aria-busy");
    });
  }

  // --- Wiring ---------------------------------------------------------------------
  document.addEventListener("input", onCodeInput);
  document.addEventListener("submit", onSubmit);
  document.addEventListener("htmx:afterRequest", clearBusy);
  // Back/forward cache restores the page with the button still spinning.
  window.addEventListener("pageshow", clearBusy);
  document.addEventListener("htmx:afterSettle", function () {
    sendEvents(document);
    scheduleMeasure();
  });
  window.addEventListener("load", scheduleMeasure);

  function start() {
    if (embedded && window.ResizeObserver) {
      new ResizeObserver(scheduleMeasure).observe(document.documentElement);
    } else if (embedded) {
      window.addEventListener("resize", scheduleMeasure);
    }
    sendEvents(document);
    measure();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
