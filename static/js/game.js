/* A game's page: its board, page by page, and the signed-in player's position.
 *
 * The game's channel carries its all-time board (a snapshot, then coalesced updates with the top 20) and
 * every score of the game. Page 1 of the all-time board takes the top 20 straight from the channel; the
 * rest of a page, other pages and period boards are read again through the API, at most once a second.
 */
(function () {
  "use strict";

  const config = Podium.data("game-config");
  if (!config) return;

  const board = config.board;
  const allTime = board.period === "all";
  const tbody = document.querySelector("[data-board] tbody");
  const sizeNode = document.querySelector("[data-board-size]");
  const options = { urls: config.urls, me: config.me };

  function showSize(size) {
    if (typeof size === "number") sizeNode.textContent = Podium.format(size);
  }

  const refreshPage = Podium.boards.throttle(() => {
    Podium.api(board.api)
      .then((body) => {
        Podium.boards.render(tbody, body.entries, options);
        showSize(body.size);
      })
      .catch((error) => console.warn("podium: the board could not be read again:", error.message));
  });

  // Your position: the rows around the signed-in player, from the same API.

  const aroundBox = document.querySelector("[data-around]");
  const summary = document.querySelector("[data-my-summary]");
  const myPage = document.querySelector("[data-my-page]");
  const unit = summary ? summary.dataset.unit || "" : "";

  function showAround(body) {
    const mine = body.entries.find((entry) => entry.user_id === config.me);
    Podium.boards.render(aroundBox.querySelector("tbody"), body.entries, options);
    aroundBox.hidden = !body.entries.length;
    if (!mine) {
      myPage.hidden = true;
      return;
    }
    const strong = document.createElement("strong");
    strong.textContent = "#" + Podium.format(mine.rank);
    summary.replaceChildren(
      strong,
      ` of ${Podium.format(body.size)} · ${Podium.score(mine)}${unit ? " " + unit : ""}`
    );
    const target = new URL(location.href);
    const page = Math.floor((mine.rank - 1) / config.rows) + 1;
    myPage.hidden = page === config.page;
    if (page > 1) target.searchParams.set("page", page);
    else target.searchParams.delete("page");
    myPage.querySelector("a").href = target.pathname + target.search;
  }

  const refreshAround =
    config.around_api && aroundBox
      ? Podium.boards.throttle(() => {
          Podium.api(config.around_api)
            .then(showAround)
            .catch((error) => console.warn("podium: your position could not be read again:", error.message));
        })
      : () => {};

  // The top of the all-time board, straight from the channel; the rows below it are kept until re-read.

  function showTop(data) {
    const top = data.top;
    const inTop = new Set(top.map((entry) => entry.user_id));
    const below = Podium.boards.rows(tbody).filter((entry) => !inTop.has(entry.user_id));
    Podium.boards.render(tbody, top.concat(below).slice(0, config.rows), options);
    showSize(data.size);
  }

  Podium.live().on(config.channel, (event) => {
    if (event.type === "leaderboard.snapshot" || event.type === "leaderboard.updated") {
      if (!allTime) return;
      if (config.page === 1) showTop(event.data);
      if (event.type === "leaderboard.updated") {
        if (config.page !== 1 || event.data.size > event.data.top.length) refreshPage();
        refreshAround();
      }
    } else if (event.type === "score.submitted" && !allTime) {
      refreshPage();
      refreshAround();
    }
  });
})();
