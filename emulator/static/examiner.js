// The examiner page: reads /_emulator/conformance, /_emulator/coverage and, while a
// certification rehearsal runs, /_emulator/certification, every two seconds. Every string
// reaches the page through textContent.
"use strict";

const REFRESH_MS = 2000;
let terminal = new URLSearchParams(location.search).get("terminal") || "";

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function fill(tbody, items, render) {
  tbody.replaceChildren();
  for (const item of items) {
    const row = document.createElement("tr");
    render(row, item);
    tbody.appendChild(row);
  }
}

async function json(path) {
  const answer = await fetch(path, { cache: "no-store" });
  if (!answer.ok) throw new Error(path + ": " + answer.status);
  return answer.json();
}

async function showConformance() {
  const query = terminal ? "?terminal=" + encodeURIComponent(terminal) : "";
  const found = await json("/_emulator/conformance" + query);
  document.getElementById("conf-summary").textContent = found.violations.length
    ? `${found.violations.length} violation(s), ${found.failing} failing`
    : "no rule broken";
  fill(document.querySelector("#conf-table tbody"), found.violations, (row, v) => {
    cell(row, v.rule, "mono");
    cell(row, v.severity, "sev-" + v.severity);
    cell(row, v.terminal, "mono");
    cell(row, v.message);
    cell(row, v.evidence.map((e) => "#" + e.seq + " " + e.operation).join(", "), "mono");
    cell(row, v.source, "small");
  });
}

async function showCoverage() {
  const query = terminal ? "?terminal=" + encodeURIComponent(terminal) : "";
  const found = await json("/_emulator/coverage" + query);
  document.getElementById("cov-summary").textContent = found.summary;
  fill(document.querySelector("#cov-table tbody"), found.behaviours, (row, b) => {
    cell(row, b.label, b.times ? "" : "unseen");
    cell(row, b.group);
    cell(row, String(b.times));
  });
  document.getElementById("cov-scenarios").textContent = found.scenarios.join(", ") || "none";
}

async function showCertification() {
  const section = document.getElementById("certification");
  let found;
  try {
    found = await json("/_emulator/certification");
  } catch (_) {
    section.hidden = true;
    return;
  }
  if (!found.profile) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  document.getElementById("cert-step").textContent = found.step || "";
  fill(document.querySelector("#cert-table tbody"), found.tests, (row, t) => {
    cell(row, t.id, "mono");
    cell(row, t.name);
    cell(row, t.source, "small");
    cell(row, t.passed ? "passed" : t.graded ? "failed" : "waiting", t.passed ? "pass" : t.graded ? "fail" : "muted");
  });
}

async function refresh() {
  try {
    await Promise.all([showConformance(), showCoverage(), showCertification()]);
  } catch (error) {
    document.getElementById("conf-summary").textContent = String(error);
  }
}

document.getElementById("terminal-input").value = terminal;
document.getElementById("terminal-form").addEventListener("submit", (event) => {
  event.preventDefault();
  terminal = document.getElementById("terminal-input").value.trim();
  refresh();
});
refresh();
setInterval(refresh, REFRESH_MS);
