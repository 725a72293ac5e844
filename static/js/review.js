/* The review queue, live: a flag raised or resolved anywhere re-reads the queue and the open count. */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", () => {
    const refresh = Podium.refresher(300);
    Podium.live().on("moderation", () => refresh(["queue", "open-count"]));
  });
})();
