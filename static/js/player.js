/* A player's page: the score-history chart, and live updates of the latest scores and the bests and ranks.
 *
 * The server renders the page and its data (#player-data: the player, their games, their latest scores
 * oldest first). Live, the public `score` channel brings every accepted score; this player's are drawn,
 * listed, and make the page read the player's standings again from the REST API. After a lost connection
 * the page fetches the scores it may have missed.
 */
(function () {
  "use strict";

  const data = Podium.data("player-data");
  if (!data) return;
  const player = data.player;
  const games = new Map(data.games.map((game) => [game.id, game]));
  const scores = data.scores.map(point); // oldest first
  const known = new Set(scores.map((score) => score.id));
  const OPERATOR_WORD = { best: "best", sum: "total", latest: "latest" };
  const REFRESH_DELAY_MS = 250;
  // Another player's score may move this one's ranks: read them again, at most this often.
  const OTHERS_REFRESH_MS = 2000;

  const tabs = document.querySelector("[data-game-tabs]");
  const chartBox = document.querySelector("[data-chart-box]");
  const chartEmpty = document.querySelector("[data-chart-empty]");
  const recent = document.querySelector("[data-recent]");
  const recentRows = Number(recent.dataset.rows) || 20;
  const bestsRows = document.querySelector("[data-bests-rows]");

  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const whenFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  const todayFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
  const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
  const dayTimeFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const minuteFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const secondFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  let selected = scores.length ? scores[scores.length - 1].game_id : null;
  let pinned = false; // the viewer picked a game: new scores of other games do not switch the chart
  let chart = null;

  function point(score) {
    return { id: score.id, game_id: score.game_id, value: score.value, at: Date.parse(score.at), personal_best: score.personal_best };
  }

  function better(game, value, than) {
    return game && game.sort_order === "asc" ? value < than : value > than;
  }

  function gameUrl(game) {
    return "/games/" + encodeURIComponent(game.slug) + "/";
  }

  function element(tag, attributes = {}, text) {
    const node = document.createElement(tag);
    Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function flash(row, name) {
    row.classList.add(name);
    setTimeout(() => row.classList.remove(name), 1200);
  }

  /* The chart: one game at a time (their scales differ), lower-is-better games drawn upside down. */

  function series(gameId) {
    const game = games.get(gameId);
    const points = scores.filter((score) => score.game_id === gameId);
    const own = points.map((score) => ({ x: score.at, y: score.value, pb: score.personal_best }));
    const datasets = [
      {
        label: "Score",
        data: own,
        borderColor: color("--accent"),
        backgroundColor: color("--accent"),
        borderWidth: 1.5,
        pointRadius: (context) => (context.raw && context.raw.pb ? 4 : 2),
        pointBackgroundColor: (context) => (context.raw && context.raw.pb ? color("--good") : color("--accent")),
        tension: 0,
      },
    ];
    if (game && game.score_operator === "best" && own.length) {
      let best = null;
      const steps = own.map((item) => {
        if (best === null || better(game, item.y, best)) best = item.y;
        return { x: item.x, y: best };
      });
      datasets.push({
        label: "Best so far",
        data: steps,
        borderColor: color("--good"),
        borderDash: [4, 4],
        borderWidth: 1.5,
        pointRadius: 0,
        stepped: "before",
      });
    }
    return { game, datasets };
  }

  function axisTime(value, range) {
    const moment = new Date(value);
    if (range < 10 * 60000) return secondFormat.format(moment);
    return range < 2 * 86400000 ? minuteFormat.format(moment) : dayFormat.format(moment);
  }

  function draw() {
    const hasScores = scores.length > 0;
    chartBox.hidden = !hasScores;
    chartEmpty.hidden = hasScores;
    if (!hasScores || !selected || typeof Chart === "undefined") return;
    const { game, datasets } = series(selected);
    const xs = datasets[0].data.map((item) => item.x);
    const range = xs.length ? xs[xs.length - 1] - xs[0] : 0;
    const grid = { color: color("--line") };
    const ticks = { color: color("--muted") };
    if (chart) {
      chart.data.datasets = datasets;
      chart.options.scales.y.reverse = Boolean(game && game.sort_order === "asc");
      chart.options.scales.x.ticks.callback = (value) => axisTime(value, range);
      chart.options.plugins.legend.display = datasets.length > 1;
      chart.update("none");
      return;
    }
    chart = new Chart(document.getElementById("history-chart"), {
      type: "line",
      data: { datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "nearest", intersect: false },
        scales: {
          x: { type: "linear", grid, ticks: { ...ticks, maxTicksLimit: 6, callback: (value) => axisTime(value, range) } },
          y: { reverse: Boolean(game && game.sort_order === "asc"), grid, ticks: { ...ticks, callback: (value) => Podium.format(value) } },
        },
        plugins: {
          legend: { display: datasets.length > 1, labels: { color: color("--muted"), boxWidth: 12 } },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? whenFormat.format(new Date(items[0].parsed.x)) : ""),
              label: (item) => `${item.dataset.label}: ${Podium.format(item.parsed.y)}${item.raw.pb ? " (personal best)" : ""}`,
            },
          },
        },
      },
    });
  }

  function renderTabs() {
    const withScores = new Set(scores.map((score) => score.game_id));
    const shown = [...games.values()].filter((game) => withScores.has(game.id)).sort((a, b) => a.name.localeCompare(b.name));
    tabs.replaceChildren(
      ...shown.map((game) => {
        const button = element("button", { type: "button", role: "tab", "aria-selected": String(game.id === selected) }, game.name);
        button.addEventListener("click", () => {
          selected = game.id;
          pinned = true;
          renderTabs();
          draw();
        });
        return button;
      }),
    );
  }

  /* The latest scores table. */

  /* Short local times: today's as a time of day, older ones as a date and time; the full moment on hover. */
  function localizeTimes(root) {
    const today = new Date().toDateString();
    root.querySelectorAll("time[datetime]").forEach((node) => {
      const moment = new Date(node.getAttribute("datetime"));
      if (Number.isNaN(moment.getTime())) return;
      node.title = whenFormat.format(moment);
      node.textContent = moment.toDateString() === today ? todayFormat.format(moment) : dayTimeFormat.format(moment);
    });
  }

  function scoreRow(score) {
    const game = games.get(score.game_id);
    const row = element("tr", { "data-score-id": String(score.id) });
    const when = element("time", { datetime: new Date(score.at).toISOString() });
    const whenCell = element("td");
    whenCell.append(when);
    const gameCell = element("td");
    gameCell.append(game ? element("a", { href: gameUrl(game) }, game.name) : document.createTextNode("?"));
    const notes = element("td");
    if (score.personal_best) notes.append(element("span", { class: "badge finished" }, "best"));
    row.append(whenCell, gameCell, element("td", { class: "num" }, Podium.format(score.value)), notes);
    localizeTimes(row);
    return row;
  }

  function listScore(score) {
    const body = recent.tBodies[0];
    body.querySelectorAll("tr.empty").forEach((row) => row.remove());
    const row = scoreRow(score);
    // Newest first; a score fetched after a reconnect may be older than rows already shown.
    const after = [...body.rows].find((existing) => Number(existing.dataset.scoreId) < score.id);
    body.insertBefore(row, after || null);
    flash(row, "new");
    while (body.rows.length > recentRows) body.deleteRow(body.rows.length - 1);
  }

  /* Bests and ranks, read again from the API after the player's scores. */

  function bestsRow(standing, previousRank) {
    const game = { id: standing.game_id, slug: standing.slug, name: standing.name };
    const operator = games.get(standing.game_id) ? OPERATOR_WORD[games.get(standing.game_id).score_operator] : "";
    const row = element("tr", { "data-game-id": standing.game_id, "data-rank": String(standing.rank) });
    const name = element("td");
    name.append(element("a", { href: gameUrl(game) }, standing.name));
    const value = element("td", { class: "num" }, Podium.format(standing.value) + " ");
    value.append(element("span", { class: "muted op" }, operator || ""));
    const rank = element("td", { class: "num" }, "#" + Podium.format(standing.rank) + " ");
    rank.append(element("span", { class: "muted op" }, "of " + Podium.format(standing.size)));
    row.append(name, value, rank);
    if (previousRank === undefined) flash(row, "new");
    else if (standing.rank < previousRank) flash(row, "moved-up");
    else if (standing.rank > previousRank) flash(row, "moved-down");
    return row;
  }

  function renderBests(profile, globalBoard) {
    const previous = new Map([...bestsRows.querySelectorAll("tr[data-game-id]")].map((row) => [row.dataset.gameId, Number(row.dataset.rank)]));
    const rows = profile.games.map((standing) => bestsRow(standing, previous.get(standing.game_id)));
    if (!rows.length) {
      const empty = element("tr", { class: "empty" });
      empty.append(element("td", { colspan: "3", class: "muted" }, "Not on any board yet."));
      rows.push(empty);
    }
    bestsRows.replaceChildren(...rows);
    document.querySelector("[data-credits]").textContent = Podium.format(profile.credits);
    document.querySelector("[data-game-count]").textContent = Podium.format(profile.games.length);
    const entry = globalBoard.entries.find((item) => item.user_id === player.id);
    document.querySelector("[data-global-rank]").textContent = entry ? "#" + Podium.format(entry.rank) : "—";
    document.querySelector("[data-global-detail]").textContent = entry
      ? `global rank of ${Podium.format(globalBoard.size)} · ${Podium.format(entry.value)} points`
      : "global rank";
  }

  let refreshTimer = null;
  let refreshing = null;

  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, REFRESH_DELAY_MS);
  }

  async function refresh() {
    if (refreshing) {
      refreshing.then(refreshSoon);
      return;
    }
    const id = encodeURIComponent(player.id);
    refreshing = Promise.all([
      Podium.api(`/api/v1/users/${id}`),
      // A friends board of one: the rank as on the full board, and no 404 when the player is not on it.
      Podium.api(`/api/v1/leaderboard/global?user_ids=${id}`),
    ])
      .then(([profile, globalBoard]) => renderBests(profile, globalBoard))
      .catch((error) => console.warn("podium: could not refresh the standings:", error))
      .finally(() => (refreshing = null));
  }

  /* Scores arriving live (or fetched after a reconnect). */

  async function gameOf(gameId) {
    if (!games.has(gameId)) {
      const game = await Podium.api(`/api/v1/games/${encodeURIComponent(gameId)}`);
      games.set(game.id, { id: game.id, name: game.name, slug: game.slug, sort_order: game.sort_order, score_operator: game.score_operator });
    }
    return games.get(gameId);
  }

  async function addScore(score) {
    if (known.has(score.id)) return;
    known.add(score.id);
    try {
      await gameOf(score.game_id);
    } catch (error) {
      console.warn("podium: unknown game", score.game_id, error);
    }
    const at = scores.findIndex((existing) => existing.at > score.at);
    scores.splice(at === -1 ? scores.length : at, 0, score);
    if (!selected || (!pinned && at === -1)) selected = score.game_id;
    listScore(score);
    renderTabs();
    draw();
    refreshSoon();
  }

  let othersTimer = null;

  function refreshForOthers() {
    if (othersTimer) return;
    othersTimer = setTimeout(() => {
      othersTimer = null;
      refresh();
    }, OTHERS_REFRESH_MS);
  }

  Podium.live().on("score", (event) => {
    if (event.type !== "score.submitted") return;
    const item = event.data;
    if (item.user_id !== player.id) {
      refreshForOthers();
      return;
    }
    addScore(point({ id: item.score_id, game_id: item.game_id, value: item.score, at: item.created_at, personal_best: item.personal_best }));
  });

  /* A prize paid to this player: the list and the count at once, the balance read again from the API. */

  const prizeList = document.querySelector("[data-prizes]");
  const prizeCount = document.querySelector("[data-prize-count]");

  function addPrize(tournament, award) {
    const item = element("li", { "data-tournament-id": String(tournament.tournament_id) });
    const paidAt = new Date();
    item.append(
      element("span", { class: "prize-amount" }, "+" + Podium.format(award.prize)),
      ` Place ${award.rank} in `,
      element("a", { href: `/tournaments/${encodeURIComponent(tournament.tournament_id)}/` }, tournament.name),
      " ",
      element("time", { class: "muted", datetime: paidAt.toISOString() }, paidAt.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" })),
    );
    prizeList.prepend(item);
    flash(item, "new");
    document.querySelector("[data-prizes-empty]")?.remove();
    prizeCount.textContent = Podium.format(Number(prizeCount.textContent.replace(/\D/g, "")) + 1);
  }

  Podium.live().on("tournament", (event) => {
    if (event.type !== "tournament.paid") return;
    const award = (event.data.awards || []).find((each) => each.user_id === player.id && each.prize > 0);
    if (!award) return;
    addPrize(event.data, award);
    refreshSoon();
  });

  let wasOffline = false;
  Podium.live().onStatus((state) => {
    if (state === "offline") wasOffline = true;
    if (state !== "live" || !wasOffline) return;
    wasOffline = false;
    Podium.api(`/api/v1/scores?user_id=${encodeURIComponent(player.id)}&limit=${recentRows}`)
      .then((page) =>
        page.results
          .filter((item) => !item.is_void)
          .reverse()
          .forEach((item) =>
            addScore(point({ id: item.id, game_id: item.game_id, value: item.score, at: item.created_at, personal_best: item.is_personal_best })),
          ),
      )
      .catch((error) => console.warn("podium: could not fetch the latest scores:", error));
    refreshSoon();
  });

  localizeTimes(recent);
  renderTabs();
  draw();
})();
