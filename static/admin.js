/* The operator portal's small enhancements; every page works without them.
 *
 * - Confirmations (<details class="adm-confirm"> with a summary and a form) become modal
 *   <dialog>s: focus moves in (to Cancel), the page behind is inert, Escape and Cancel
 *   close it, and focus returns to the button that opened it.
 * - After a save, the flash message takes focus, so it is read out and the keyboard
 *   starts there.
 * - Search results swapped by htmx are announced through a live region that stays in
 *   the page (#live): a region swapped in with the results is not read reliably.
 * - On narrow screens the navigation folds behind a "Menu" button.
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var count = 0;

  function upgrade(details) {
    var summary = details.querySelector("summary");
    var form = details.querySelector(".adm-confirm-box");
    var submit = form && form.querySelector("button[type=submit]");
    if (!summary || !form || !submit) return;
    count += 1;
    var trigger = document.createElement("button");
    trigger.type = "button";
    trigger.className = summary.className;
    trigger.textContent = summary.textContent;
    trigger.setAttribute("aria-haspopup", "dialog");
    var dialog = document.createElement("dialog");
    dialog.className = "adm-dialog";
    dialog.id = "confirm-" + count;
    var title = document.createElement("h2");
    title.className = "adm-dialog-title";
    title.id = dialog.id + "-title";
    title.textContent = summary.textContent.replace(/[\u2026.]+\s*$/, "");
    dialog.setAttribute("aria-labelledby", title.id);
    var text = form.querySelector("p");
    if (text) {
      text.id = dialog.id + "-text";
      dialog.setAttribute("aria-describedby", text.id);
    }
    var actions = submit.parentNode;
    actions.classList.add("adm-dialog-actions");
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "adm-btn adm-btn--secondary adm-btn--sm";
    cancel.textContent = "Cancel";
    cancel.setAttribute("data-cancel", "");
    actions.insertBefore(cancel, submit);
    dialog.appendChild(title);
    dialog.appendChild(form);
    cancel.addEventListener("click", function () { dialog.close(); });
    trigger.addEventListener("click", function () {
      dialog.showModal();
      cancel.focus();
    });
    dialog.addEventListener("close", function () { trigger.focus(); });
    details.replaceWith(trigger);
    trigger.after(dialog);
  }

  function announce() {
    var live = document.getElementById("live");
    var said = document.getElementById("users-announce");
    if (live && said) {
      live.textContent = "";
      window.setTimeout(function () { live.textContent = said.textContent; }, 50);
    }
  }

  function menu() {
    var button = document.getElementById("menu-toggle");
    var sidebar = document.querySelector(".adm-sidebar");
    if (!button || !sidebar) return;
    button.addEventListener("click", function () {
      var open = sidebar.classList.toggle("is-open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("details.adm-confirm"), upgrade);
    var flash = document.querySelector(".adm-flash");
    if (flash) flash.focus();
    menu();
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target && event.target.id === "users-results") announce();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
