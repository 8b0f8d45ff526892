// The room page: the summary arrives over server-sent events and is drawn with
// textContent only, so a name or an error message is always shown as text, never run.
"use strict";

const key = new URLSearchParams(location.search).get("key") || "";
let summary = null;
let receivedAt = 0;

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const minutes = Math.floor(seconds / 60);
  return minutes >= 1 ? `${minutes} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds)} s`;
}

function drawGrid() {
  const head = el("tr");
  head.append(el("th", "learner"), el("th", "grades"));
  for (const exercise of summary.exercises) head.append(el("th", exercise));
  document.querySelector("#grid thead").replaceChildren(head);
  const rows = summary.learners.map((learner) => {
    const row = el("tr");
    row.dataset.learner = learner.id;
    row.append(el("th", learner.name), el("td", String(learner.results), "results"));
    for (const exercise of summary.exercises) {
      const cell = learner.cells[exercise];
      const td = el("td", cell ? cell.status : "", cell ? cell.status : "");
      td.dataset.exercise = exercise;
      if (cell && cell.error) td.title = cell.error;
      row.append(td);
    }
    return row;
  });
  document.querySelector("#grid tbody").replaceChildren(...rows);
}

function drawStuck() {
  const since = (Date.now() - receivedAt) / 1000; // the summary's ages, brought up to now
  const items = summary.stuck.map((item) => {
    const li = el("li");
    li.append(el("strong", item.name), ` on ${item.exercise} for ${duration(item.seconds + since)}: `);
    li.append(el("span", item.error || "(no error line)", "error"));
    return li;
  });
  document.querySelector("#stuck").replaceChildren(...(items.length ? items : [el("li", "nobody is failing")]));
}

function drawExercises() {
  const rows = summary.per_exercise.map((ex) => {
    const row = el("tr");
    const common = ex.common_error ? `${ex.common_error} (${ex.sharing} of ${ex.failing})` : "–";
    row.append(el("td", ex.exercise), el("td", String(ex.passed)), el("td", String(ex.failing)));
    row.append(el("td", duration(ex.median_seconds)), el("td", common, "error"));
    return row;
  });
  document.querySelector("#exercises tbody").replaceChildren(...rows);
}

function draw() {
  if (!summary) return;
  drawGrid();
  drawStuck();
  drawExercises();
}

function connect() {
  const status = document.querySelector("#connection");
  const events = new EventSource(`/api/events?key=${encodeURIComponent(key)}`);
  events.onopen = () => { status.textContent = "live"; status.className = "online"; };
  events.onerror = () => { status.textContent = "reconnecting…"; status.className = "offline"; };
  events.onmessage = (message) => {
    summary = JSON.parse(message.data);
    receivedAt = Date.now();
    draw();
  };
}

if (key) {
  const link = document.querySelector("#projector");
  link.href = "/";
  link.hidden = false;
}
setInterval(() => summary && drawStuck(), 15000); // "stuck for" keeps counting between updates
connect();
