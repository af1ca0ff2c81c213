// tracemark HMI: the uploads, users and packing pages (admin_pages.rs). Loaded after hmi.js,
// whose api() makes every call with the session's CSRF token. Each control calls one API
// operation; a refusal's problem (status, field, detail) stays on the page in #problem, beside
// hmi.js's passing toast, so the person can read why while fixing the input.
"use strict";

function showProblem(error) {
  const el = document.getElementById("problem");
  if (!el) return;
  el.textContent = error && error.message ? error.message : String(error);
  el.hidden = false;
}

// Runs an API call, then reloads the page (or runs `then`); a refusal is shown, not thrown.
function act(call, then) {
  const el = document.getElementById("problem");
  if (el) el.hidden = true;
  return call.then(then ?? (() => location.reload())).catch(showProblem);
}

// A destructive control asks first (its data-confirm text, in the user's language).
function confirmed(button) {
  return !button.dataset.confirm || confirm(button.dataset.confirm);
}

function wireUploads() {
  for (const button of document.querySelectorAll("[data-retry-batch]")) {
    button.addEventListener("click", () => {
      const { retryBatch, retryTarget } = button.dataset;
      act(api("POST", `/api/v1/uploads/${retryBatch}/${encodeURIComponent(retryTarget)}/retry`));
    });
  }
  for (const button of document.querySelectorAll("[data-remove-target]")) {
    button.addEventListener("click", () => {
      if (!confirmed(button)) return;
      act(api("DELETE", `/api/v1/upload-targets/${encodeURIComponent(button.dataset.removeTarget)}`));
    });
  }
  const form = document.getElementById("add-target");
  form?.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    const file = (name) => (data[name] ? data[name] : null);
    act(api("POST", "/api/v1/upload-targets", {
      name: data.name, url: data.url, format: data.format,
      secret_file: file("secret_file"), ed25519_key_file: file("ed25519_key_file"),
      ca_file: file("ca_file"), gzip: data.gzip === "true",
    }));
  });
}

function wireUsers() {
  const form = document.getElementById("add-user");
  form?.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    act(api("POST", "/api/v1/users", { name: data.name, role: data.role, password: data.password }));
  });
  for (const row of document.querySelectorAll("tr[data-user]")) {
    const user = encodeURIComponent(row.dataset.user);
    row.querySelector("[data-set-role]")?.addEventListener("click", () =>
      act(api("POST", `/api/v1/users/${user}/role`, { role: row.querySelector(".new-role").value })));
    const disable = row.querySelector("[data-disable]");
    disable?.addEventListener("click", () => {
      if (!confirmed(disable)) return;
      act(api("POST", `/api/v1/users/${user}/disable`));
    });
    const setPassword = row.querySelector("[data-set-password]");
    setPassword?.addEventListener("click", () => {
      const input = row.querySelector(".new-password");
      act(api("POST", `/api/v1/users/${user}/password`, { password: input.value }), () => {
        input.value = "";
        toast(setPassword.dataset.done, false);
      });
    });
    // The token is in this one answer only: shown on the page, never reloaded away.
    row.querySelector("[data-create-token]")?.addEventListener("click", () => {
      const days = row.querySelector(".token-days").value;
      act(api("POST", `/api/v1/users/${user}/tokens`, { expires_days: days ? Number(days) : null }), (made) => {
        const panel = document.getElementById("new-token");
        document.getElementById("new-token-user").textContent = made.user;
        document.getElementById("new-token-value").textContent = made.token;
        document.getElementById("new-token-expires").textContent = made.expires_at ?? "–";
        panel.hidden = false;
        panel.scrollIntoView();
      });
    });
  }
  for (const row of document.querySelectorAll("tr[data-token]")) {
    const revoke = row.querySelector("[data-revoke-token]");
    revoke?.addEventListener("click", () => {
      if (!confirmed(revoke)) return;
      const user = encodeURIComponent(row.dataset.tokenUser);
      act(api("DELETE", `/api/v1/users/${user}/tokens/${row.dataset.token}`));
    });
  }
}

function wirePacking() {
  const panel = document.getElementById("package");
  if (!panel) return;
  const path = `/api/v1/packages/${panel.dataset.sscc}`;
  for (const button of panel.querySelectorAll("[data-pack-op]")) {
    button.addEventListener("click", () => {
      if (!confirmed(button)) return;
      act(api("POST", `${path}/${button.dataset.packOp}`));
    });
  }
  for (const button of panel.querySelectorAll("[data-remove]")) {
    button.addEventListener("click", () =>
      act(api("POST", `${path}/remove`, { codes: [button.dataset.remove] })));
  }
  const add = document.getElementById("pack-add");
  add?.addEventListener("submit", (event) => {
    event.preventDefault();
    const codes = new FormData(add).get("codes").split(/\s+/).filter((c) => c.length > 0);
    act(api("POST", `${path}/add`, { codes }));
  });
  const replace = document.getElementById("pack-replace");
  replace?.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(replace).entries());
    act(api("POST", `${path}/replace`, { old: data.old.trim(), new: data.new.trim() }));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  wireUploads();
  wireUsers();
  wirePacking();
});
