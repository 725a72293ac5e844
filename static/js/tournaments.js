/* Tournament pages, live.
 *
 * The list follows the `tournament` feed: joins and leaves change a row's count in place; a tournament
 * created, started, finished, paid or cancelled re-reads the sections from the server.
 * One tournament follows `tournament.{id}`: its snapshot and standings redraw the live board, joins and
 * leaves change the counts, and a change of status re-reads the page's parts from the server.
 */
(function () {
  "use strict";

  const FLASH_MS = 1200;

  function flash(node, className) {
    node.classList.add(className);
    setTimeout(() => node.classList.remove(className), FLASH_MS);
  }

  function setCounts(value) {
    document.querySelectorAll("[data-count]").forEach((node) => (node.textContent = Podium.format(value)));
  }

  /* ``1 d 02:03:04`` or ``02:03:04``, as the server writes it. */
  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const pad = (n) => String(n).padStart(2, "0");
    const clock = `${pad(hours)}:${pad(minutes)}:${pad(seconds % 60)}`;
    return days ? `${days} d ${clock}` : clock;
  }

  function tickCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach((node) => {
      const left = (Date.parse(node.dataset.countdown) - Date.now()) / 1000;
      const text = node.querySelector("[data-countdown-text]");
      if (text) text.textContent = left > 0 ? duration(left) : "any moment now";
    });
  }

  // --- the list ---------------------------------------------------------------------------

  function listPage() {
    const refresh = Podium.refresher(500);
    Podium.live().on("tournament", (event) => {
      const data = event.data || {};
      if (event.type === "tournament.standings") return; // the list shows no standings
      if (event.type === "tournament.joined" || event.type === "tournament.left") {
        const row = document.querySelector(`tr[data-tournament-id="${data.tournament_id}"]`);
        if (!row) return;
        const count = row.querySelector("[data-count]");
        if (count) count.textContent = Podium.format(data.participant_count);
        flash(row, "new");
        const full = String(data.participant_count >= data.max_participants);
        if (row.dataset.full !== full) refresh(["sections"]); // Join becomes Full, or back
        return;
      }
      refresh(["sections"]); // created, started, finished, paid, cancelled: rows change sections
    });

    const format = document.getElementById("id_format");
    const attempts = document.querySelector("[data-attempts-field]");
    if (format && attempts) {
      const sync = () => (attempts.hidden = format.value !== "limited_attempts");
      format.addEventListener("change", sync);
      sync();
    }
  }

  // --- one tournament ---------------------------------------------------------------------

  function detailPage(page) {
    const channel = `tournament.${page.tournament_id}`;
    const refresh = Podium.refresher(400, (fresh) => {
      const node = fresh.getElementById("tournaments-data");
      if (node) Object.assign(page, JSON.parse(node.textContent));
      tickCountdowns();
    });

    function playerLink(entry) {
      const link = document.createElement("a");
      link.href = page.player_url.replace("USERNAME", encodeURIComponent(entry.username));
      link.textContent = entry.display_name || entry.username;
      return link;
    }

    function cell(content, numeric) {
      const td = document.createElement("td");
      if (numeric) td.className = "num";
      if (content instanceof Node) td.append(content);
      else td.textContent = content;
      return td;
    }

    function drawStandings(body, animate) {
      const table = document.querySelector("table[data-standings]");
      if (!table || page.frozen) return;
      const tbody = table.tBodies[0];
      const before = new Map(
        [...tbody.querySelectorAll("tr[data-user-id]")].map((tr) => [tr.dataset.userId, Number(tr.dataset.rank)])
      );
      const moved = new Map((body.moved || []).map((entry) => [entry.user_id, entry]));
      const rows = (body.top || []).map((entry) => {
        const tr = document.createElement("tr");
        tr.dataset.userId = entry.user_id;
        tr.dataset.rank = entry.rank;
        if (entry.user_id === page.user_id) tr.classList.add("me");
        tr.append(cell(entry.rank, true), cell(playerLink(entry)), cell(Podium.score(entry), true));
        if (animate) {
          const mover = moved.get(entry.user_id);
          const previous = mover && mover.previous_rank != null ? mover.previous_rank : before.get(entry.user_id);
          if (previous === undefined || previous === null) flash(tr, "new");
          else if (entry.rank < previous) flash(tr, "moved-up");
          else if (entry.rank > previous) flash(tr, "moved-down");
          else if (mover) flash(tr, "new");
        }
        return tr;
      });
      if (rows.length) tbody.replaceChildren(...rows);
      else if (!tbody.querySelector("tr.empty")) {
        const tr = document.createElement("tr");
        tr.className = "empty";
        const td = cell("No scores yet.");
        td.colSpan = 3;
        td.classList.add("muted");
        tr.append(td);
        tbody.replaceChildren(tr);
      }
      const size = document.querySelector("[data-size]");
      if (size && typeof body.size === "number") size.textContent = Podium.format(body.size);
      table.dataset.synced = "true";
    }

    function changeParticipants(event) {
      const list = document.querySelector("[data-participants]");
      const data = event.data;
      if (!list || !data.user_id) return;
      const existing = list.querySelector(`li[data-user-id="${data.user_id}"]`);
      if (event.type === "tournament.left") {
        if (existing) existing.remove();
      } else if (!existing) {
        const li = document.createElement("li");
        li.dataset.userId = data.user_id;
        if (data.user_id === page.user_id) li.classList.add("me");
        li.append(playerLink(data));
        list.append(li);
        flash(li, "new");
      }
    }

    Podium.live().on(channel, (event) => {
      switch (event.type) {
        case "tournament.snapshot":
          drawStandings(event.data, false);
          break;
        case "tournament.standings":
          drawStandings(event.data, true);
          break;
        case "tournament.joined":
        case "tournament.left":
          setCounts(event.data.participant_count);
          changeParticipants(event);
          refresh(["head", "participants"]); // Join may become Full, or the first player's list appears
          break;
        default:
          // started, finished, paid, cancelled: the status, the countdown, the board or the results change.
          if (event.data && event.data.status && event.data.status !== page.status) {
            refresh(["head", "standings", "participants", "facts", "prizes"]);
          }
      }
    });

    tickCountdowns();
    setInterval(tickCountdowns, 1000);
  }

  const page = Podium.data("tournaments-data");
  if (!page) return;
  if (page.page === "list") listPage();
  else if (page.page === "detail") detailPage(page);
})();
