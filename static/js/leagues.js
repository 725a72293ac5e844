/* A league's page, live: the player's cohort board re-reads itself when its tournament's standings move. */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", () => {
    const cohort = document.querySelector("[data-region='cohort']");
    if (!cohort) return;
    const refresh = Podium.refresher(400);
    Podium.live().on("tournament." + cohort.dataset.tournamentId, (event) => {
      if (event.type !== "tournament.snapshot") refresh(["cohort"]);
    });
  });
})();
