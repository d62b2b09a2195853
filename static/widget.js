/*
 * Runs inside the widget page (after htmx). Talks to the embedding page and adds small
 * enhancements; every form works without it.
 *
 * - Posts {v:1, type:"resize", height} to the parent whenever the page height changes.
 * - Posts each <script type="application/json" data-ws-event> payload once, as {v:1, ...}.
 * - A button with data-ws-post='{"type": …}' posts that payload (the done step's "Close").
 * - Code inputs keep digits only and submit themselves at 6 digits.
 * - A field's error from the server goes away as soon as the person edits that field.
 * - A refused step keeps the new password the person typed: the server never sends it
 *   back, so it is carried over from the old form to the new one, here in the browser.
 * - After a step comes back, focus goes to the first invalid field, or else to the new
 *   step's heading, so keyboard and screen-reader users hear what changed.
 * - Waits in line for the person: a form the server could not take yet (503 with
 *   Retry-After) stays as typed, a notice counts down, and the form goes again by itself.
 *
 * - In a frame that cannot keep a session cookie (login, account), offers the Storage
 *   Access API on a click, else posts {v:1, type:"error", reason} for embed.js's popup.
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

  // A page that forces light or dark (embed.js's data-color-scheme) says so in the URL;
  // the theme's CSS switches on this attribute. It survives htmx swaps (<html> stays).
  var forced = new URLSearchParams(location.search).get("color_scheme");
  if (forced === "light" || forced === "dark") {
    document.documentElement.setAttribute("data-color-scheme", forced);
  }

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

  // --- Buttons that talk to the embedding page (the done step's "Close") --------------
  function onPostClick(event) {
    var button = event.target.closest && event.target.closest("[data-ws-post]");
    if (!button) return;
    var payload;
    try {
      payload = JSON.parse(button.getAttribute("data-ws-post"));
    } catch (err) {
      return;
    }
    if (payload && typeof payload === "object" && typeof payload.type === "string") {
      post(payload);
    }
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

  // --- Corrected fields lose their stale errors --------------------------------------
  function onFieldEdit(event) {
    var field = event.target;
    if (restoring) return;
    if (!field.getAttribute || field.getAttribute("aria-invalid") !== "true" || !field.name) return;
    field.removeAttribute("aria-invalid");
    var list = document.getElementById("f-" + field.name + "-err");
    if (list) list.replaceChildren();
  }

  // --- A refused step keeps the typed new password -------------------------------------
  var NEW_PASSWORDS = 'input[type="password"][autocomplete="new-password"]';
  var kept = null;
  var restoring = false;

  function keepPasswords(event) {
    kept = null;
    var detail = event.detail || {};
    var target = detail.target;
    if (!target || target.id !== "ws-card" || !detail.xhr || detail.xhr.status < 400) return;
    var values = {};
    target.querySelectorAll(NEW_PASSWORDS).forEach(function (input) {
      if (input.name && input.value) values[input.name] = input.value;
    });
    kept = {
      step: target.getAttribute("data-step"),
      state: target.getAttribute("data-state"),
      values: values,
    };
  }

  function restorePasswords() {
    var carried = kept;
    kept = null;
    var card = document.getElementById("ws-card");
    if (!carried || !card) return;
    // Only into the same step drawn again, never into another form.
    if (card.getAttribute("data-step") !== carried.step) return;
    if (card.getAttribute("data-state") !== carried.state) return;
    card.querySelectorAll(NEW_PASSWORDS).forEach(function (input) {
      if (input.value || !Object.prototype.hasOwnProperty.call(carried.values, input.name)) return;
      input.value = carried.values[input.name];
      // Lets the live rule list check it again, without clearing the server's message.
      restoring = true;
      try {
        input.dispatchEvent(new Event("input", { bubbles: true }));
      } finally {
        restoring = false;
      }
    });
  }

  // --- Focus after a step comes back ------------------------------------------------------
  function manageFocus(event) {
    // Only when the whole card was swapped (a step), not the live password rules.
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "ws-card") return;
    var card = document.getElementById("ws-card");
    if (!card) return;
    var focus = card.querySelector('[aria-invalid="true"]') ||
      card.querySelector(".ws-alert--error") ||
      card.querySelector("h1, h2");
    if (!focus) return;
    if (!focus.matches("input, select, textarea, button")) focus.setAttribute("tabindex", "-1");
    focus.focus({ preventScroll: false });
  }

  // --- Waiting in line -----------------------------------------------------------------
  // Lots of people are signing up at once and the server cannot hash this password yet.
  // It answered 503 with Retry-After (this person's real place in line) and
  // HX-Reswap: none, so htmx left the form alone: everything typed, the password
  // included, is still in the page and never went back through the server's HTML. Show
  // the notice it sent above the form, count down, then send the same form again.
  // The wait is Retry-After plus a random 0-10 % of it plus up to 1 s, so that the
  // people refused in the same second do not all come back in the same second.
  var waiting = null; // {form, notice, timer, ticker, due}

  function onAfterRequest(event) {
    var detail = event.detail || {};
    var xhr = detail.xhr;
    var form = detail.elt;
    if (!xhr || xhr.status !== 503 || !form || form.tagName !== "FORM") return;
    var seconds = parseInt(xhr.getResponseHeader("Retry-After") || "", 10);
    var notice = noticeIn(xhr.responseText || "");
    if (!(seconds >= 0) || !notice) return;
    waitInLine(form, notice, seconds);
  }

  function noticeIn(html) {
    // Our own server's markup (htmx only talks to this origin): a short notice, no script.
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content.querySelector("[data-busy]");
  }

  function waitInLine(form, notice, seconds) {
    stopWaiting();
    var earlier = document.getElementById("ws-busy");
    if (earlier) earlier.remove();
    form.parentNode.insertBefore(notice, form);
    var delay = seconds * 1000 * (1 + Math.random() * 0.1) + Math.random() * 1000;
    waiting = { form: form, notice: notice, due: Date.now() + delay };
    waiting.timer = setTimeout(sendAgain, delay);
    waiting.ticker = setInterval(showCountdown, 250);
    showCountdown();
    scheduleMeasure();
  }

  function showCountdown() {
    if (!waiting) return;
    var line = waiting.notice.querySelector("[data-countdown]");
    if (!line) return;
    var left = Math.ceil((waiting.due - Date.now()) / 1000);
    var text = left > 0
      ? line.getAttribute("data-countdown").replace("{seconds}", String(left))
      : line.getAttribute("data-retrying");
    if (line.textContent !== text) line.textContent = text;
  }

  function stopWaiting() {
    if (!waiting) return null;
    var was = waiting;
    clearTimeout(was.timer);
    clearInterval(was.ticker);
    waiting = null;
    var line = was.notice.querySelector("[data-countdown]");
    if (line) line.textContent = line.getAttribute("data-retrying");
    return was;
  }

  function sendAgain() {
    var was = stopWaiting();
    // The card may have moved on meanwhile (Back, another answer): nothing to send then.
    if (was && was.form.isConnected) submitForm(was.form);
  }

  // --- Busy state for full-page (non-htmx) submits --------------------------------------
  function onSubmit(event) {
    // Sent by hand during the countdown: that is the retry; the timer must not send twice.
    if (waiting && event.target === waiting.form) stopWaiting();
    var button = event.submitter;
    if (button && button.classList.contains("ws-button")) button.setAttribute("aria-busy", "true");
  }

  function clearBusy() {
    document.querySelectorAll(".ws-button[aria-busy]").forEach(function (b) {
      b.removeAttribute("aria-busy");
    });
  }

  // --- Wiring ---------------------------------------------------------------------
  document.addEventListener("click", onPostClick);
  document.addEventListener("input", onCodeInput);
  document.addEventListener("input", onFieldEdit);
  document.addEventListener("change", onFieldEdit);
  document.addEventListener("submit", onSubmit);
  document.addEventListener("htmx:afterRequest", clearBusy);
  document.addEventListener("htmx:afterRequest", onAfterRequest);
  // Back/forward cache restores the page with the button still spinning.
  window.addEventListener("pageshow", clearBusy);
  document.addEventListener("htmx:beforeSwap", keepPasswords);
  document.addEventListener("htmx:afterSettle", function (event) {
    restorePasswords();
    sendEvents(document);
    scheduleMeasure();
    manageFocus(event);
  });
  window.addEventListener("load", scheduleMeasure);

  // --- A session in a frame ---------------------------------------------------------
  // Sign-in and the account page keep their session in a cookie, and in a cross-site frame
  // only a Partitioned one survives; some browsers block even that. Then: the Storage
  // Access API on a click (the server's <template id="ws-storage-access"> words it),
  // else an "error" message that makes embed.js offer the popup. The reason says which:
  // "storage_blocked" (no API, or still no cookie after a grant) or
  // "storage_access_denied" (the person or the browser said no).
  var NEEDS_SESSION = /\/(login|account)(\/|$)/;
  var GRANTED = "ws_storage_access";

  function cookieWorks() {
    // The attributes of the real session cookie (auth/sessions.py), so the probe fails
    // exactly when the session would.
    var attributes = "; Path=/; Secure; SameSite=None; Partitioned";
    var probe = "ws_probe=" + Math.random().toString(36).slice(2);
    document.cookie = probe + attributes + "; Max-Age=60";
    var kept = document.cookie.indexOf(probe) !== -1;
    document.cookie = "ws_probe=" + attributes + "; Max-Age=0";
    return kept;
  }

  function checkStorage() {
    if (!embedded || !NEEDS_SESSION.test(location.pathname) || cookieWorks()) return;
    var params = new URLSearchParams(location.search);
    var template = document.getElementById("ws-storage-access");
    if (!document.requestStorageAccess || !template || params.get(GRANTED) === "1") {
      post({ type: "error", reason: "storage_blocked" });
      return;
    }
    var box = template.content.firstElementChild.cloneNode(true);
    box.querySelector("button").addEventListener("click", function () {
      // In the click itself: the API needs the person's gesture.
      document.requestStorageAccess().then(
        function () {
          params.set(GRANTED, "1");
          location.replace(location.pathname + "?" + params.toString());
        },
        function () {
          post({ type: "error", reason: "storage_access_denied" });
        }
      );
    });
    var card = document.getElementById("ws-card") || document.body;
    card.insertBefore(box, card.firstChild);
    scheduleMeasure();
  }

  function start() {
    checkStorage();
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
