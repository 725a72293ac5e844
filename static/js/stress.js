/* The stress-test page: live tiles and charts from the `stress` channel, and the past runs kept current.
 *
 * stress.started {id, concurrent_users, actions_per_second, duration}: a new run; the charts start again.
 * stress.progress {id, users, requests, failures, rps, failures_per_second, p50_ms, p95_ms, elapsed}: once a second.
 * stress.finished {id, status, report, error}: the run's row in the list is read again from the REST API.
 */
(function () {
  "use strict";

  const MAX_POINTS = 600; // ten minutes, the longest run, at one point a second
  const ACTIVE = ["pending", "running", "stopping"];

  const data = window.Podium && Podium.data("stress-data");
  if (!data) return;
  const panel = document.querySelector("[data-live-run]");
  const stopForm = document.querySelector("[data-stop-form]");
  const startButton = document.querySelector("[data-start]");
  const startNote = document.querySelector("[data-start-note]");
  const runs = document.querySelector("[data-runs]");
  const rowTemplate = document.getElementById("stress-row");
  const firstPage = [null, "1"].includes(new URLSearchParams(location.search).get("page"));
  let current = data.active; // {id, status, concurrent_users, actions_per_second, duration, figures}

  const withId = (template, id) => template.replace(/\/0(\/|$)/, `/${id}$1`);
  const count = (value) => Podium.format(Math.round(Number(value) || 0));
  const decimal = (value) =>
    (Number(value) || 0).toLocaleString("en", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const show = (name, value) => (name === "rps" ? decimal(value) : count(value));
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const utc = (iso) => {
    const moment = new Date(iso); // as the server writes it: "Nov 24, 19:40:12", UTC
    return `${MONTHS[moment.getUTCMonth()]} ${moment.getUTCDate()}, ${moment.toISOString().slice(11, 19)}`;
  };

  /* --- charts ----------------------------------------------------------------------------- */

  function makeCharts() {
    if (!window.Chart) return null;
    const css = getComputedStyle(document.documentElement);
    const color = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
    const muted = color("--muted", "#94a3b8");
    const line = color("--line", "#334155");
    const text = color("--text", "#e2e8f0");

    function chart(id, series) {
      return new Chart(document.getElementById(id), {
        type: "line",
        data: {
          datasets: series.map(([label, stroke]) => ({
            label,
            data: [],
            borderColor: stroke,
            backgroundColor: stroke,
            borderWidth: 2,
            pointRadius: 0,
            tension: 0.25,
          })),
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          interaction: { mode: "nearest", axis: "x", intersect: false },
          scales: {
            x: {
              type: "linear",
              min: 0,
              title: { display: true, text: "seconds", color: muted },
              ticks: { color: muted, precision: 0 },
              grid: { color: line },
            },
            y: { beginAtZero: true, ticks: { color: muted }, grid: { color: line } },
          },
          plugins: { legend: { labels: { color: text, boxWidth: 12 } } },
        },
      });
    }

    return {
      throughput: chart("chart-throughput", [
        ["requests/s", color("--accent", "#f59e0b")],
        ["failures/s", color("--bad", "#f87171")],
      ]),
      latency: chart("chart-latency", [
        ["p50", color("--good", "#34d399")],
        ["p95", "#60a5fa"],
      ]),
    };
  }

  const charts = makeCharts();

  function resetCharts() {
    if (!charts) return;
    Object.values(charts).forEach((chart) => {
      chart.data.datasets.forEach((dataset) => (dataset.data = []));
      chart.update("none");
    });
  }

  function push(chart, x, values) {
    chart.data.datasets.forEach((dataset, index) => {
      dataset.data.push({ x, y: Number(values[index]) || 0 });
      if (dataset.data.length > MAX_POINTS) dataset.data.shift();
    });
    chart.update("none");
  }

  function plot(figures) {
    if (!charts || typeof figures.elapsed !== "number") return;
    push(charts.throughput, figures.elapsed, [figures.rps, figures.failures_per_second]);
    push(charts.latency, figures.elapsed, [figures.p50_ms, figures.p95_ms]);
  }

  /* --- the live panel --------------------------------------------------------------------- */

  function tiles(figures) {
    panel.querySelectorAll("[data-figure]").forEach((node) => {
      node.textContent = show(node.dataset.figure, figures[node.dataset.figure]);
    });
  }

  function caption() {
    const node = panel.querySelector("[data-run-caption]");
    if (!current) {
      node.textContent = "No stress test is running. Start one with the form; its figures appear here every second.";
      return;
    }
    node.textContent = "";
    const link = document.createElement("a");
    link.href = withId(data.run_url, current.id);
    link.textContent = `#${current.id}`;
    const figures = current.figures || {};
    let text = "";
    if (current.concurrent_users) {
      text = `: ${count(current.concurrent_users)} users, ${count(current.actions_per_second)} actions/s for ${current.duration} s`;
    }
    if (ACTIVE.includes(current.status) && typeof figures.elapsed === "number") {
      text += ` · ${Math.round(figures.elapsed)} s elapsed`;
    } else if (!ACTIVE.includes(current.status)) {
      text += ` · ${(data.statuses[current.status] || current.status).toLowerCase()}`;
    }
    node.append("Run ", link, text + ".");
  }

  function state() {
    const running = Boolean(current && ACTIVE.includes(current.status));
    const badge = panel.querySelector("[data-run-status]");
    badge.className = "badge" + (current ? " " + current.status : "");
    badge.textContent = current ? data.statuses[current.status] || current.status : "Idle";
    if (current) panel.dataset.runId = current.id;
    stopForm.hidden = !running;
    if (running) stopForm.action = withId(data.stop_url, current.id);
    startButton.disabled = running;
    startNote.hidden = !running;
    caption();
  }

  /* --- the past runs ---------------------------------------------------------------------- */

  function cell(row, name) {
    return row.querySelector(`[data-cell="${name}"]`);
  }

  function time(node, iso) {
    node.textContent = "";
    if (!iso) {
      node.textContent = "—";
      return;
    }
    const element = document.createElement("time");
    element.dateTime = iso;
    element.textContent = utc(iso);
    node.append(element);
  }

  function rowFigures(row, figures) {
    const has = (name) => typeof figures[name] === "number";
    cell(row, "requests").textContent = has("requests") ? count(figures.requests) : "—";
    cell(row, "failures").textContent = has("failures") ? count(figures.failures) : "—";
    cell(row, "rps").textContent = has("rps") ? decimal(figures.rps) : "—";
    cell(row, "latency").textContent = has("p50_ms") ? `${count(figures.p50_ms)} / ${count(figures.p95_ms)}` : "—";
  }

  function fillRow(row, run) {
    const link = cell(row, "link");
    link.href = withId(data.run_url, run.id);
    link.textContent = `#${run.id}`;
    const badge = cell(row, "status");
    badge.className = `badge ${run.status}`;
    badge.textContent = data.statuses[run.status] || run.status;
    cell(row, "parameters").textContent =
      `${count(run.concurrent_users)} users · ${count(run.actions_per_second)}/s · ${run.duration} s`;
    const report = run.report || {};
    rowFigures(row, ACTIVE.includes(run.status) ? report.live || {} : report);
    time(cell(row, "started"), run.started_at);
    time(cell(row, "finished"), run.finished_at);
  }

  function findRow(id) {
    return runs.querySelector(`tr[data-run-id="${id}"]`);
  }

  async function refreshRow(id) {
    let run;
    try {
      run = await Podium.api(withId(data.api_url, id));
    } catch (error) {
      console.warn("podium: could not read stress test", id, error.message);
      return null;
    }
    let row = findRow(id);
    if (!row) {
      if (!firstPage) return run;
      row = rowTemplate.content.firstElementChild.cloneNode(true);
      row.dataset.runId = id;
      runs.tBodies[0].prepend(row);
      row.classList.add("new");
      setTimeout(() => row.classList.remove("new"), 1200);
      runs.hidden = false;
      document.querySelector("[data-runs-empty]").hidden = true;
      const total = document.querySelector("[data-runs-total]");
      total.textContent = count(Number(total.textContent.replace(/,/g, "")) + 1);
    }
    fillRow(row, run);
    return run;
  }

  /* --- events ----------------------------------------------------------------------------- */

  function adopt(id) {
    current = { id, status: "running", figures: {} };
    resetCharts();
    tiles({});
    refreshRow(id).then((run) => {
      if (run && current && current.id === id) {
        Object.assign(current, {
          concurrent_users: run.concurrent_users,
          actions_per_second: run.actions_per_second,
          duration: run.duration,
        });
        if (!ACTIVE.includes(run.status)) current.status = run.status;
        state();
      }
    });
  }

  Podium.live().on("stress", (event) => {
    const d = event.data || {};
    if (event.type === "stress.started") {
      current = { ...d, status: "running", figures: {} };
      resetCharts();
      tiles({});
      state();
      refreshRow(d.id);
    } else if (event.type === "stress.progress") {
      if (!current || current.id !== d.id) adopt(d.id);
      if (current.status === "pending") current.status = "running";
      current.figures = d;
      tiles(d);
      plot(d);
      state();
      const row = findRow(d.id);
      if (row) rowFigures(row, d);
    } else if (event.type === "stress.finished") {
      if (!current || current.id !== d.id) current = { id: d.id, figures: {} };
      current.status = d.status;
      const report = d.report || {};
      if (typeof report.requests === "number") tiles(report);
      state();
      refreshRow(d.id);
    }
  });

  if (current && current.figures) {
    plot(current.figures);
  }
  state();
})();
