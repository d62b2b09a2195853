/* The brand studio's editor: colour pickers kept in sync with their value fields, and
 * the live preview. As the designer types, the editor's form (unsaved) is posted into
 * the sandboxed preview iframe (the "Refresh" button's formaction/formtarget), debounced;
 * htmx posts the same form to the check endpoint for the contrast badges. Nothing is
 * saved and the page is never reloaded. Every form works without this script. */
(function () {
  "use strict";
  var HEX = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;

  function expand(hex) {
    return hex.length === 4 ? "#" + hex[1] + hex[1] + hex[2] + hex[2] + hex[3] + hex[3] : hex;
  }

  function init() {
    document.querySelectorAll("[data-autosubmit]").forEach(function (input) {
      input.addEventListener("change", function () { if (input.files.length) input.form.submit(); });
    });
    document.querySelectorAll("[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
    var form = document.getElementById("st-editor");
    if (!form) return;
    var refresh = document.getElementById("st-refresh");
    var stage = form.querySelector(".st-stage");
    var timer = null;

    function render() {
      timer = null;
      if (refresh && form.requestSubmit) form.requestSubmit(refresh);
    }
    function later(delay) {
      if (timer) clearTimeout(timer);
      timer = setTimeout(render, delay);
    }
    function device() {
      var chosen = form.querySelector('input[name="preview.device"]:checked');
      stage.setAttribute("data-device", chosen ? chosen.value : "desktop");
    }

    form.addEventListener("input", function (event) {
      var t = event.target;
      if (t.hasAttribute("data-copy-search") || t.type === "file") return;
      if (t.hasAttribute("data-picker-for")) {
        var field = document.getElementById(t.getAttribute("data-picker-for"));
        field.value = t.value;
      } else if (t.classList.contains("st-hex") && HEX.test(t.value.trim())) {
        var picker = form.querySelector('[data-picker-for="' + t.id + '"]');
        if (picker) picker.value = expand(t.value.trim()).toLowerCase();
      }
      later(250);
    });
    form.addEventListener("change", function (event) {
      var t = event.target;
      if (t.type === "file" || t.hasAttribute("data-copy-search")) return;
      if (t.name === "preview.device") { device(); return; }
      later(30);
    });
    form.addEventListener("click", function (event) {
      var clear = event.target.closest("[data-clear-asset]");
      if (!clear) return;
      var block = clear.closest(".st-asset");
      block.querySelector("[data-asset-value]").value = "";
      var thumb = block.querySelector(".st-asset-thumb");
      thumb.textContent = "None";
      clear.remove();
      later(30);
      if (window.htmx) window.htmx.trigger(form, "change");
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target.classList && event.target.classList.contains("st-asset")) later(30);
      if (event.detail && event.detail.target && event.detail.target.id &&
          event.detail.target.id.indexOf("asset-") === 0) later(30);
    });

    var search = form.querySelector("[data-copy-search]");
    if (search) {
      search.addEventListener("input", function () {
        var q = search.value.trim().toLowerCase();
        form.querySelectorAll("[data-copy-id]").forEach(function (row) {
          var hit = !q || row.getAttribute("data-copy-id").indexOf(q) >= 0 ||
            row.getAttribute("data-copy-text").indexOf(q) >= 0;
          row.hidden = !hit;
        });
      });
    }
    device();
    render();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
