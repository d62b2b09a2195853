/*
 * The developer portal's one enhancement: "Copy" buttons (data-copy="#selector") put the
 * text of the element they name on the clipboard and say so. Without JavaScript the code
 * is plain text to select.
 */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    var label = button.textContent;
    navigator.clipboard.writeText(source.textContent).then(
      function () {
        button.textContent = "Copied";
        button.setAttribute("data-copied", "");
        setTimeout(function () {
          button.textContent = label;
          button.removeAttribute("data-copied");
        }, 1600);
      },
      function () {
        button.textContent = "Select and copy";
      }
    );
  });
})();
