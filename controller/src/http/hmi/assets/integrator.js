// tracemark HMI, the integrator's page: a device's probe is a call of the API
// (POST /api/v1/line-configs/{config}/devices/{device}/probe, with the CSRF token through
// hmi.js's api()); its report is drawn step by step with each round trip. Grey when a step
// passed, colour only for a step that failed (ISA-101).
"use strict";

function probeWords() {
  return document.getElementById("probe-words")?.dataset ?? {};
}

function drawProbe(cell, report) {
  const words = probeWords();
  const template = document.getElementById("probe-report");
  const view = template.content.firstElementChild.cloneNode(true);
  const summary = view.querySelector(".probe-summary");
  if (report.ok) {
    summary.textContent = `${report.device} (${report.kind}, ${report.transport}): ${words.passed}`;
    summary.className = "probe-summary muted";
  } else {
    const hint = report.hint ? ` — ${words.hint}: ${report.hint}` : "";
    summary.textContent = `${report.error ?? words.failed}${hint}`;
    summary.className = "probe-summary abnormal";
  }
  const body = view.querySelector("tbody");
  for (const step of report.steps ?? []) {
    const row = document.createElement("tr");
    row.className = step.ok ? "probe-step" : "probe-step abnormal";
    row.dataset.step = step.step;
    const detail = [step.target, step.detail, step.error, step.hint ? `${words.hint}: ${step.hint}` : null]
      .filter((part) => part)
      .join(" · ");
    for (const text of [step.step, step.ok ? words.ok : words.failed, detail, step.ms.toFixed(1)]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.appendChild(cell);
    }
    row.lastElementChild.className = "ms";
    body.appendChild(row);
  }
  cell.replaceChildren(view);
}

function wireProbes() {
  for (const button of document.querySelectorAll("button.probe")) {
    button.addEventListener("click", async () => {
      const config = button.dataset.probeConfig;
      const device = button.dataset.probeDevice;
      const result = document.querySelector(`tr.probe-result[data-for="${config}/${device}"]`);
      const cell = result.querySelector("td");
      result.hidden = false;
      cell.className = "";
      cell.textContent = probeWords().running;
      button.disabled = true;
      try {
        const report = await api("POST",
          `/api/v1/line-configs/${config}/devices/${encodeURIComponent(device)}/probe`, {});
        drawProbe(cell, report);
      } catch (error) {
        // api() has shown the problem; it stays beside the device too.
        cell.textContent = error.message;
        cell.className = "abnormal";
      } finally {
        button.disabled = false;
      }
    });
  }
}

wireProbes();
