/* The demo controls: Populate / Start / Stop without a reload, and the runs' live state.
 *
 * The forms work without this script (they post and come back with a message).
 * Here they go through JSON instead: Start and Stop through the REST API
 * (/api/v1/simulator/simulations), Populate through the controls' own route.
 * Simulations and populate runs publish no events of their own, so while one
 * runs its state is polled once a second: the simulation from the REST API,
 * the populate run from GET /demo/population/.
 */
(function () {
  "use strict";

  const POLL_MS = 1000;
  const ACTIVE = ["pending", "running", "stopping"];

  const root = document.querySelector("[data-demo-controls]");
  if (!root || !window.Podium) return;
  const data = Podium.data("demo-controls-data");
  if (!data) return;

  const statuses = data.statuses || {};
  const urls = data.urls;
  let demo = data.demo;
  let population = data.population;
  let simulation = data.simulation;
  let simulationTimer = null;
  let populationTimer = null;

  const $ = (selector) => root.querySelector(selector);
  const forms = {
    populate: $('[data-form="populate"]'),
    start: $('[data-form="start"]'),
    stop: $('[data-form="stop"]'),
  };
  const format = (n) => Podium.format(Math.round(n || 0));

  function simulationActive() {
    return Boolean(simulation && ACTIVE.includes(simulation.status) && simulation.alive !== false);
  }

  function populationActive() {
    return Boolean(population && population.active && population.alive !== false);
  }

  function label(status) {
    return statuses[status] || status;
  }

  function setBadge(node, text, kind) {
    node.textContent = text;
    node.className = "badge" + (kind ? " " + kind : "");
  }

  function say(text, isError) {
    const node = $("[data-demo-message]");
    node.textContent = text;
    node.classList.toggle("error", Boolean(isError));
    node.hidden = !text;
  }

  function clock(iso) {
    return iso ? new Date(iso).toISOString().slice(11, 19) + " UTC" : "";
  }

  /* --- demo data ---------------------------------------------------------------------- */

  function renderPopulation() {
    const badge = $("[data-population-badge]");
    const state = $("[data-population-state]");
    const outcome = $("[data-population-outcome]");
    const busy = populationActive();
    if (busy) {
      setBadge(badge, "Populating…", "running");
      const p = population.progress;
      state.textContent = "Creating demo data…" + (p ? ` ${p.step} ${format(p.done)} / ${format(p.total)}` : "");
    } else if (demo.empty) {
      setBadge(badge, "None", "");
      state.textContent = `No demo data yet: populate adds games, ${format(data.populate_players)} players with weeks of scores, and tournaments in every state.`;
    } else {
      setBadge(badge, "Present", "finished");
      state.innerHTML = "";
      const players = document.createElement("strong");
      players.textContent = format(demo.players);
      const scores = document.createElement("strong");
      scores.textContent = format(demo.scores);
      state.append(players, " players / ", scores, ` scores in ${demo.games} games.`);
    }
    if (population && !busy) {
      if (population.active) outcome.textContent = "The last populate run stopped reporting; it can be started again.";
      else if (population.status === "failed") outcome.textContent = "Last populate failed: " + population.error;
      else if (population.created) outcome.textContent = `Last populate took ${Number(population.seconds || 0).toFixed(1)} s.`;
      else outcome.textContent = "Last populate found demo data and changed nothing.";
    }
    forms.populate.querySelector("button").disabled = busy || !demo.empty;
  }

  async function pollPopulation() {
    populationTimer = null;
    try {
      const state = await Podium.api(urls.population);
      demo = state.demo;
      population = state.population;
    } catch (error) {
      say("Could not read the demo data's state: " + error.message, true);
      return;
    }
    renderPopulation();
    if (populationActive()) populationTimer = setTimeout(pollPopulation, POLL_MS);
    else if (population && population.status === "finished") say("Demo data is ready: reload the page to see it on the boards.");
  }

  forms.populate.addEventListener("submit", async (event) => {
    event.preventDefault();
    forms.populate.querySelector("button").disabled = true;
    try {
      const state = await Podium.api(urls.population, { method: "POST" });
      demo = state.demo;
      population = state.population;
      say("Creating demo data in the background…");
    } catch (error) {
      say(error.message, true);
    }
    renderPopulation();
    if (populationActive() && !populationTimer) populationTimer = setTimeout(pollPopulation, POLL_MS);
  });

  /* --- the simulation ------------------------------------------------------------------- */

  function renderSimulation() {
    const badge = $("[data-simulation-badge]");
    const state = $("[data-simulation-state]");
    const busy = simulationActive();
    const s = simulation;
    if (busy) {
      setBadge(badge, label(s.status), s.status);
      state.textContent = `Simulation ${s.id}: ${format(s.players)} players, about ${s.rate} scores/s for ${s.duration} s.`;
    } else {
      setBadge(badge, "Idle", "");
      if (!s) state.textContent = "No simulation has run yet.";
      else if (ACTIVE.includes(s.status)) state.textContent = `Simulation ${s.id} stopped reporting (its worker or server went away).`;
      else {
        const at = s.finished_at ? " at " + clock(s.finished_at) : "";
        state.textContent = `Last run: simulation ${s.id} ${label(s.status).toLowerCase()}${at}.` + (s.error ? " " + s.error : "");
      }
    }
    root.querySelectorAll("[data-counter]").forEach((node) => {
      node.textContent = format(s ? s[node.dataset.counter] : 0);
    });
    const progress = $("[data-simulation-progress]");
    progress.hidden = !busy;
    if (busy) {
      const elapsed = s.started_at ? Math.max(0, Math.min(s.duration, (Date.now() - Date.parse(s.started_at)) / 1000)) : 0;
      const bar = progress.querySelector("progress");
      bar.max = s.duration;
      bar.value = elapsed;
      progress.querySelector("[data-simulation-elapsed]").textContent =
        s.status === "pending" ? "Starting…" : s.status === "stopping" ? "Stopping…" : `${Math.round(elapsed)} s of ${s.duration} s`;
    }
    root.querySelector("[data-start]").disabled = busy;
    root.querySelector("[data-stop]").disabled = !busy;
    if (s) forms.stop.action = urls.stop.replace(/0$/, String(s.id));
  }

  function followSimulation() {
    if (simulationActive() && !simulationTimer) simulationTimer = setTimeout(pollSimulation, POLL_MS);
  }

  async function pollSimulation() {
    simulationTimer = null;
    if (!simulation) return;
    try {
      simulation = { ...(await Podium.api(`${urls.simulations}/${simulation.id}`)), alive: true };
    } catch (error) {
      say("Could not read the simulation: " + error.message, true);
      return;
    }
    renderSimulation();
    if (!ACTIVE.includes(simulation.status)) say(`Simulation ${simulation.id} ${label(simulation.status).toLowerCase()}.`);
    followSimulation();
  }

  function clearFieldErrors() {
    forms.start.querySelectorAll("input[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
  }

  forms.start.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors();
    // The inputs carry the API's bounds (min, max): say what is wrong here, before a round trip.
    const invalid = [...forms.start.querySelectorAll("input[name]:not([type=hidden])")].filter((input) => !input.checkValidity());
    if (invalid.length) {
      invalid.forEach((input) => input.setAttribute("aria-invalid", "true"));
      const problems = invalid.map((input) => `${input.labels[0].textContent.replace(/:$/, "")}: ${input.validationMessage}`);
      say(["The simulation did not start.", ...problems].join(" "), true);
      invalid[0].focus();
      return;
    }
    const fields = new FormData(forms.start);
    const body = {};
    ["players", "rate", "duration"].forEach((name) => (body[name] = String(fields.get(name) || "").trim()));
    root.querySelector("[data-start]").disabled = true;
    try {
      simulation = { ...(await Podium.api(urls.simulations, { method: "POST", body: JSON.stringify(body) })), alive: true };
      say(`Simulation ${simulation.id} started.`);
    } catch (error) {
      const problems = (error.body && error.body.error && error.body.error.fields) || {};
      Object.keys(problems).forEach((name) => {
        const input = forms.start.querySelector(`[name="${name}"]`);
        if (input) input.setAttribute("aria-invalid", "true");
      });
      const details = Object.entries(problems)
        .filter(([name, texts]) => !(texts || []).join(" ").startsWith(error.message))
        .map(([name, texts]) => `${name}: ${[].concat(texts).join(" ")}`);
      say(["The simulation did not start.", error.message, ...details].join(" "), true);
    }
    renderSimulation();
    followSimulation();
  });

  forms.stop.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!simulation) return;
    root.querySelector("[data-stop]").disabled = true;
    try {
      simulation = { ...(await Podium.api(`${urls.simulations}/${simulation.id}`, { method: "DELETE" })), alive: true };
      say(`Simulation ${simulation.id} is ${simulation.status === "stopping" ? "stopping" : label(simulation.status).toLowerCase()}.`);
    } catch (error) {
      say(error.message, true);
    }
    renderSimulation();
    followSimulation();
  });

  renderPopulation();
  renderSimulation();
  followSimulation();
  if (populationActive()) populationTimer = setTimeout(pollPopulation, POLL_MS);
})();
