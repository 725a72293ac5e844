/* Board tables shared by the dashboard and the game pages.
 *
 *   Podium.boards.render(tbody, entries, {me, urls});   // rows keyed by player, rank changes animated
 *   Podium.boards.rows(tbody);                          // the entries the table shows now
 *   const refresh = Podium.boards.throttle(fn);         // fn runs at most once a second, a little after the call
 *   Podium.boards.playerName(entry);                    // the display name, or the username when there is none
 *
 * Rows are <tr data-user-id data-username data-display-name data-rank data-value data-tiebreak>, as the server renders
 * them: a row that stays in place keeps its element (and any animation still running on it). A row shows the
 * player's display name, or the username when there is none, and links to the player by username.
 */
(function () {
  "use strict";

  const FLASH_MS = 1200;
  const FLASHES = ["moved-up", "moved-down", "new"];

  function url(template, value) {
    return template.replace("__value__", encodeURIComponent(value));
  }

  function playerName(entry) {
    return entry.display_name || entry.username;
  }

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function build(entry, urls) {
    const tr = document.createElement("tr");
    const player = document.createElement("td");
    const link = document.createElement("a");
    player.append(link);
    tr.append(cell("", "num rank"), player, cell("", "num"));
    fill(tr, entry, urls);
    return tr;
  }

  function fill(tr, entry, urls) {
    tr.dataset.userId = entry.user_id;
    tr.dataset.username = entry.username;
    tr.dataset.displayName = entry.display_name || "";
    tr.dataset.rank = entry.rank;
    tr.dataset.value = entry.value;
    tr.dataset.tiebreak = entry.tiebreak ?? "";
    tr.cells[0].textContent = Podium.format(entry.rank);
    const link = tr.cells[1].querySelector("a");
    link.textContent = playerName(entry);
    link.href = url(urls.player, entry.username);
    tr.cells[2].textContent = Podium.score(entry);
  }

  function flash(tr, name) {
    FLASHES.forEach((other) => tr.classList.remove(other));
    void tr.offsetWidth; // restart the animation when the row flashes again
    tr.classList.add(name);
    clearTimeout(tr.flashTimer);
    tr.flashTimer = setTimeout(() => tr.classList.remove(name), FLASH_MS);
  }

  function emptyRow(tbody) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell(tbody.dataset.empty || "Nobody on this board yet.", "muted");
    td.colSpan = 3;
    tr.append(td);
    return tr;
  }

  function render(tbody, entries, options) {
    const urls = options.urls;
    const existing = new Map();
    tbody.querySelectorAll("tr[data-user-id]").forEach((tr) => existing.set(tr.dataset.userId, tr));
    const rows = entries.map((entry) => {
      let tr = existing.get(entry.user_id);
      let change = null;
      if (!tr) {
        tr = build(entry, urls);
        change = "new";
      } else {
        const rank = Number(tr.dataset.rank);
        if (entry.rank < rank) change = "moved-up";
        else if (entry.rank > rank) change = "moved-down";
        else if (String(entry.value) !== tr.dataset.value || String(entry.tiebreak ?? "") !== tr.dataset.tiebreak)
          change = "new";
        fill(tr, entry, urls);
      }
      tr.classList.toggle("me", Boolean(options.me) && entry.user_id === options.me);
      if (change) flash(tr, change);
      return tr;
    });
    if (!rows.length) rows.push(emptyRow(tbody));
    // Move only the rows that are out of place, so the others keep their element and animation.
    rows.forEach((tr, index) => {
      const there = tbody.children[index];
      if (there !== tr) tbody.insertBefore(tr, there || null);
    });
    while (tbody.children.length > rows.length) tbody.lastElementChild.remove();
  }

  function rows(tbody) {
    return [...tbody.querySelectorAll("tr[data-user-id]")].map((tr) => ({
      user_id: tr.dataset.userId,
      username: tr.dataset.username,
      display_name: tr.dataset.displayName || "",
      rank: Number(tr.dataset.rank),
      value: Number(tr.dataset.value),
      tiebreak: tr.dataset.tiebreak ? Number(tr.dataset.tiebreak) : null,
    }));
  }

  function throttle(fn, gap = 1000, delay = 250) {
    let last = 0;
    let timer = null;
    return function () {
      if (timer) return;
      const wait = Math.max(delay, last + gap - Date.now());
      timer = setTimeout(() => {
        timer = null;
        last = Date.now();
        fn();
      }, wait);
    };
  }

  window.Podium = Object.assign(window.Podium || {}, { boards: { render, rows, throttle, url, playerName } });
})();
