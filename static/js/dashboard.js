/* The dashboard: the chosen board, the live feed of scores, the counters and the scores-per-minute chart.
 *
 * All-time boards follow their channel (a snapshot, then coalesced updates with the top 20); period boards
 * have none, so they are read again through the API, at most once a second, when one of their scores arrives.
 */
(function () {
  "use strict";

  const config = Podium.data("dashboard-config");
  if (!config) return;

  const MINUTE = 60000;
  const STATS_EVERY_MS = 30000;
  const FLUSH_MS = 150;
  const live = Podium.live();
  const board = config.board;
  const tbody = document.querySelector("[data-board] tbody");
  const sizeNode = document.querySelector("[data-board-size]");
  const feed = document.querySelector("[data-feed]");

  // The board.

  function showBoard(entries, size) {
    Podium.boards.render(tbody, entries, { urls: config.urls, me: null });
    if (typeof size === "number") sizeNode.textContent = Podium.format(size);
  }

  if (board.channel) {
    live.on(board.channel, (event) => {
      if (event.type === "leaderboard.snapshot" || event.type === "leaderboard.updated") {
        showBoard(event.data.top, event.data.size);
      }
    });
  }

  const refreshBoard = Podium.boards.throttle(() => {
    Podium.api(board.api)
      .then((body) => showBoard(body.entries, body.size))
      .catch((error) => console.warn("podium: the board could not be read again:", error.message));
  });

  function onThisBoard(score) {
    if (board.game_id) return score.game_id === board.game_id;
    const game = config.games[score.game_id];
    return !game || game.global; // a game created since the page loaded may count: read the board again
  }

  // Counters: scores today and per minute follow the feed; players and tournaments come from /stats.

  const counters = {
    today: config.counters.scores_today,
    day: new Date().toISOString().slice(0, 10),
    baseline: config.counters.scores_last_minute, // the server's count for the minute before `since`
    since: Date.now(),
    recent: [], // arrival times of scores since `since`
  };

  function setCounter(name, value) {
    const node = document.querySelector(`[data-counter="${name}"]`);
    if (node) node.textContent = Podium.format(value);
  }

  function perMinute() {
    const now = Date.now();
    while (counters.recent.length && counters.recent[0] <= now - MINUTE) counters.recent.shift();
    // The server's count fades out as its minute slides past; after a minute only scores seen here count.
    const fading = counters.baseline * Math.max(0, 1 - (now - counters.since) / MINUTE);
    return Math.round(fading) + counters.recent.length;
  }

  function countScore(score) {
    const day = (score.created_at || new Date().toISOString()).slice(0, 10);
    if (day > counters.day) {
      counters.day = day;
      counters.today = 0;
    }
    if (day === counters.day) counters.today += 1;
    counters.recent.push(Date.now());
  }

  function showCounters() {
    setCounter("scores_today", counters.today);
    setCounter("scores_last_minute", perMinute());
  }

  function readStats() {
    Podium.api(config.stats_api)
      .then((stats) => {
        setCounter("players", stats.players);
        setCounter("tournaments_running", stats.tournaments.running);
        counters.baseline = stats.scores_last_minute;
        counters.since = Date.now();
        counters.recent = [];
        showCounters();
      })
      .catch((error) => console.warn("podium: the totals could not be read:", error.message));
  }

  setInterval(showCounters, 2000);
  setInterval(readStats, STATS_EVERY_MS);

  // The chart: one point a minute, the last one still filling.

  const chart = (function () {
    const canvas = document.getElementById("rate-chart");
    if (!canvas || typeof Chart === "undefined") return null;
    const minutes = config.chart.minutes;
    let last = Math.floor(Date.parse(config.chart.end) / MINUTE);
    const counts = config.chart.counts.slice();
    const label = (minute) => new Date(minute * MINUTE).toISOString().slice(11, 16);
    const labels = counts.map((_, index) => label(last - counts.length + 1 + index));
    const styles = getComputedStyle(document.documentElement);
    const accent = styles.getPropertyValue("--accent").trim() || "#f59e0b";
    const muted = styles.getPropertyValue("--muted").trim() || "#94a3b8";
    const line = styles.getPropertyValue("--line").trim() || "#334155";
    const drawing = new Chart(canvas, {
      type: "line",
      data: {
        labels,
        datasets: [
          {
            label: "scores per minute",
            data: counts,
            borderColor: accent,
            backgroundColor: "rgba(245, 158, 11, .15)",
            fill: true,
            tension: 0.3,
            pointRadius: 0,
            borderWidth: 2,
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { ticks: { color: muted, maxTicksLimit: 6, maxRotation: 0 }, grid: { display: false } },
          y: { beginAtZero: true, ticks: { color: muted, precision: 0, maxTicksLimit: 4 }, grid: { color: line } },
        },
      },
    });

    function advance(minute) {
      let moved = false;
      while (last < minute) {
        last += 1;
        counts.shift();
        counts.push(0);
        labels.shift();
        labels.push(label(last));
        moved = true;
      }
      if (counts.length > minutes) counts.splice(0, counts.length - minutes);
      return moved;
    }

    return {
      add(score) {
        const minute = Math.floor((Date.parse(score.created_at) || Date.now()) / MINUTE);
        advance(minute);
        const index = counts.length - 1 - (last - minute);
        if (index >= 0) counts[index] += 1;
      },
      draw() {
        drawing.update("none");
      },
      tick() {
        if (advance(Math.floor(Date.now() / MINUTE))) drawing.update("none");
      },
    };
  })();

  if (chart) setInterval(chart.tick, 5000);

  // The feed: scores queue up and are drawn a few times a second, however fast they come.

  let pending = [];
  let flushing = null;

  function feedItem(score) {
    const li = document.createElement("li");
    li.dataset.scoreId = score.score_id;
    li.className = "new";
    const game = config.games[score.game_id];

    const top = document.createElement("span");
    top.className = "line";
    const player = document.createElement("a");
    player.href = Podium.boards.url(config.urls.player, score.username);
    player.textContent = Podium.boards.playerName(score);
    const value = document.createElement("span");
    value.className = "score";
    value.textContent = Podium.format(score.score);
    top.append(player, value);

    const bottom = document.createElement("span");
    bottom.className = "line muted";
    if (game) {
      const link = document.createElement("a");
      link.className = "game";
      link.href = Podium.boards.url(config.urls.game, game.slug);
      link.textContent = game.name;
      bottom.append(link);
    } else {
      bottom.append("a new game");
    }
    if (score.personal_best) {
      const badge = document.createElement("span");
      badge.className = "badge finished";
      badge.textContent = "best";
      bottom.append(" ", badge);
    }
    const time = document.createElement("time");
    time.dateTime = score.created_at;
    time.textContent = (score.created_at || "").slice(11, 19);
    bottom.append(time);

    li.append(top, bottom);
    setTimeout(() => li.classList.remove("new"), 1200);
    return li;
  }

  function flush() {
    flushing = null;
    const scores = pending.slice(-config.feed_items).reverse();
    pending = [];
    const items = scores.filter((score) => !feed.querySelector(`[data-score-id="${score.score_id}"]`)).map(feedItem);
    if (items.length) {
      feed.querySelectorAll("li.empty").forEach((node) => node.remove());
      feed.prepend(...items);
      while (feed.children.length > config.feed_items) feed.lastElementChild.remove();
    }
    showCounters();
    if (chart) chart.draw();
  }

  live.on("score", (event) => {
    if (event.type !== "score.submitted") return;
    const score = event.data;
    pending.push(score);
    countScore(score);
    if (chart) chart.add(score);
    if (!board.channel && onThisBoard(score)) refreshBoard();
    if (!flushing) flushing = setTimeout(flush, FLUSH_MS);
  });
})();
