/*
 * The widget's refused-frame page: says in the console which origin was refused and
 * where to allow it (the page itself says it too). No message goes to the parent page:
 * embed.js learns of the refusal from /frame-check and dispatches its own "error" event.
 */
(function () {
  "use strict";
  var card = document.getElementById("ws-card");
  if (!card) return;
  console.error(
    "WidgetServer: pool \"" + card.dataset.pool + "\" may not be framed by " +
    card.dataset.refusedOrigin + ". Allow this origin for the pool or app; refused origins " +
    "are listed in the developer portal's embed log: " + card.dataset.portal
  );
})();
