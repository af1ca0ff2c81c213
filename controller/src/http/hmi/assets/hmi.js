// tracemark HMI: every action is an API call with the session's CSRF token; live figures come
// from the API's server-sent events. No framework, nothing loaded from elsewhere.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function toast(text, abnormal) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = text;
  el.className = abnormal ? "abnormal" : "";
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 6000);
}

// Calls the API; a problem (RFC 9457) is shown with its field and detail, then thrown.
async function api(method, path, body) {
  const init = { method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const value = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const detail = value && value.detail ? value.detail : response.statusText;
    const field = value && value.field ? value.field + ": " : "";
    toast(`${response.status} ${field}${detail}`, true);
    throw new Error(`${response.status} ${field}${detail}`);
  }
  return value;
}

function setBatchState(batch, state) {
  return api("POST", `/api/v1/batches/${batch}/state`, { state }).then(() => location.reload());
}

// The line overview: one panel per live line, fed by its event stream.
function watchLines() {
  const holder = document.getElementById("lines");
  const template = document.getElementById("line-panel");
  if (!holder || !template) return;
  api("GET", "/api/v1/lines").then((lines) => {
    const list = Array.isArray(lines) ? lines : (lines && lines.items) || [];
    if (list.length === 0) { holder.textContent = holder.dataset.empty; return; }
    for (const line of list) {
      const view = line.view ?? line;
      const id = view.line_id ?? line.id;
      const panel = template.content.firstElementChild.cloneNode(true);
      panel.dataset.line = id;
      holder.appendChild(panel);
      const rates = [];
      let last = null;
      const source = new EventSource(`/api/v1/lines/${encodeURIComponent(id)}/events`);
      source.addEventListener("state", (event) => {
        const v = JSON.parse(event.data);
        showLine(panel, v);
        const now = Date.now();
        if (last) {
          const minutes = (now - last.at) / 60000;
          if (minutes > 0) rates.push((v.units_done - last.units) / minutes);
          if (rates.length > 120) rates.shift();
          drawTrend(panel.querySelector("svg.trend polyline"), rates);
        }
        last = { at: now, units: v.units_done };
      });
      for (const button of panel.querySelectorAll("[data-line-command]")) {
        button.addEventListener("click", () => lineCommand(panel, id, button));
      }
    }
  }).catch(() => { holder.textContent = holder.dataset.empty; });
}

function showLine(panel, v) {
  const set = (selector, value) => { const el = panel.querySelector(selector); if (el) el.textContent = value; };
  const s = v.line || {};
  const rejected = Object.values(s.rejected || {}).reduce((a, b) => a + b, 0);
  panel.dataset.batch = v.batch;
  set(".line-id", v.line_id);
  set(".batch-id", v.batch);
  set(".units", v.units_done);
  set(".units-target", v.units_target);
  set(".printed", s.printed ?? 0);
  set(".verified", s.verified ?? 0);
  set(".rejected", rejected);
  set(".underruns", s.underruns ?? 0);
  const light = panel.querySelector(".stack-light");
  // Held by the operator: amber; held by an alarm (or for a reason the line has not said): red.
  const held = s.paused && !s.alarm_active ? " paused" : v.stopped || s.alarm_active ? " stopped" : "";
  light.className = "stack-light" + held;
  // The marker's state: grey while it prints (connected), colour for anything else.
  const marker = panel.querySelector(".marker-state");
  if (marker) {
    marker.textContent = s.marker ?? "";
    marker.className = "marker-state" + (s.marker && s.marker !== "connected" ? " abnormal" : "");
  }
  // The central store while it cannot be reached or the edge journal is forwarded
  // (docs/plant.md): amber, not an alarm — the line runs on.
  const central = panel.querySelector(".central-store");
  if (central) {
    central.textContent = s.central_store ?? "";
    central.hidden = !s.central_store;
  }
  const alarm = panel.querySelector(".alarm");
  alarm.textContent = s.alarm ?? "";
  alarm.classList.toggle("abnormal", Boolean(s.alarm_active));
  // Colour only for what is abnormal (ISA-101): an alarm red, a pause amber, running grey.
  const state = panel.querySelector(".line-state");
  if (state) {
    let text = "";
    if (s.alarm_active) text = state.dataset.alarm;
    else if (s.paused) text = `${state.dataset.paused}: ${s.paused}`;
    state.textContent = text;
    state.className = "line-state" + (s.alarm_active ? " abnormal" : s.paused ? " warn" : "");
  }
  panel.dataset.paused = s.paused ? "true" : "false";
  const acknowledge = panel.querySelector(".acknowledge");
  if (acknowledge) acknowledge.hidden = !s.alarm_active;
}

// An operator's command to a line (pause and stop need a reason, for the audit chain).
function lineCommand(panel, id, button) {
  const command = button.dataset.lineCommand;
  const input = panel.querySelector("input.reason");
  const reason = input ? input.value.trim() : "";
  let body;
  if (button.dataset.needsReason !== undefined) {
    if (!reason) { toast(button.dataset.needsReason, true); input?.focus(); return; }
    body = { reason };
  }
  api("POST", `/api/v1/lines/${encodeURIComponent(id)}/${command}`, body).then((mode) => {
    if (input) input.value = "";
    showMode(panel, mode);
  }).catch(() => {});
}

// The line's answer to a command, shown at once (the next event confirms it).
function showMode(panel, mode) {
  if (!mode) return;
  panel.dataset.paused = mode.paused ? "true" : "false";
  const state = panel.querySelector(".line-state");
  if (state && mode.paused && !mode.alarm_active) {
    state.textContent = `${state.dataset.paused}: ${mode.paused}`;
    state.className = "line-state warn";
  } else if (state && mode.stopping) {
    state.textContent = state.dataset.stopping;
    state.className = "line-state";
  }
}

function drawTrend(polyline, rates) {
  if (!polyline || rates.length < 2) return;
  const max = Math.max(...rates, 1);
  const step = 300 / (rates.length - 1);
  polyline.setAttribute("points", rates.map((r, i) => `${(i * step).toFixed(1)},${(58 - (r / max) * 56).toFixed(1)}`).join(" "));
}

function wirePage() {
  document.getElementById("logout")?.addEventListener("click", () =>
    api("DELETE", "/api/v1/session").finally(() => { location.href = "/login"; }));
  document.getElementById("language")?.addEventListener("change", (event) =>
    api("PUT", "/api/v1/session/language", { language: event.target.value }).then(() => location.reload()));
  for (const holder of document.querySelectorAll(".controls[data-batch]")) {
    for (const button of holder.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => setBatchState(holder.dataset.batch, button.dataset.action));
    }
  }
  for (const button of document.querySelectorAll("[data-release-batch]")) {
    button.addEventListener("click", () =>
      api("POST", `/api/v1/batches/${button.dataset.releaseBatch}/release`).then(() => location.reload()));
  }
  for (const button of document.querySelectorAll("[data-destroy]")) {
    button.addEventListener("click", () =>
      api("POST", "/api/v1/qa/destroy", { codes: [button.dataset.destroy] }).then(() => location.reload()));
  }
  // Release after a re-scan: what the verification scanner read, and the grade it gave.
  for (const button of document.querySelectorAll("[data-release]")) {
    button.addEventListener("click", () => {
      const scan = prompt(button.dataset.promptScan);
      if (!scan) return;
      const grade = prompt(button.dataset.promptGrade);
      if (!grade) return;
      api("POST", "/api/v1/qa/release", { code: button.dataset.release, scan, grade })
        .then(() => location.reload());
    });
  }
  const form = document.getElementById("start-batch");
  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    const body = {
      product_id: data.product_id, lot: data.lot, quantity: Number(data.quantity),
      production_date: data.production_date,
      expiry_date: data.expiry_date || null, line: data.line || null,
    };
    const batch = await api("POST", "/api/v1/batches", body);
    await api("POST", `/api/v1/batches/${batch.id}/state`, { state: "running" });
    location.href = `/batches/${batch.id}`;
  });
  watchLines();
}

document.addEventListener("DOMContentLoaded", wirePage);
