// Settings: API keys (the token is shown once, at creation) and secrets (names only, values write-only).
import { all, api, del, post } from "./api.js";
import { busy, clearErrors, empty, field, h, heading, showErrors, when } from "./dom.js";

function apiKeys() {
  const list = h("div", {});
  const shown = h("div", { "aria-live": "polite" });
  const load = async () => {
    const keys = await all("/api/auth/api-keys");
    list.replaceChildren(keys.length
      ? h("ul", { class: "rows" }, keys.map((k) => h("li", {}, h("strong", {}, k.name ?? "unnamed"), " ",
        h("code", {}, `${k.tokenPrefix}…`), h("span", { class: "muted" }, ` created ${when(k.createdAt)} `),
        h("button", { type: "button", class: "danger small", "aria-label": `Revoke ${k.name ?? k.tokenPrefix}`,
          onclick: (e) => busy(e.currentTarget, async () => { await del(`/api/auth/api-keys/${k.id}`); await load(); }) }, "Revoke"))))
      : empty("No API keys.", "Create one for scripts and CI; the admin token stays for you."));
  };
  const name = h("input", { name: "name", id: "key-name", autocomplete: "off" });
  const form = h("form", { novalidate: true }, field("Key name", name), h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit" }, "Create API key"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const created = await post("/api/auth/api-keys", name.value.trim() ? { name: name.value.trim() } : {});
      form.reset();
      shown.replaceChildren(h("div", { class: "card notice" }, h("p", {}, "Copy this token now: it is not shown again."),
        h("code", { class: "token", "data-testid": "new-token" }, created.token)));
      await load();
    } catch (error) {
      showErrors(form, error);
    }
  });
  return { element: h("section", { "aria-labelledby": "keys-h" }, h("h2", { id: "keys-h" }, "API keys"), shown, list, form), load };
}

function secrets() {
  const list = h("div", {});
  const load = async () => {
    const items = await all("/api/secrets");
    list.replaceChildren(items.length
      ? h("ul", { class: "rows" }, items.map((s) => h("li", {}, h("code", {}, s.name), h("span", { class: "muted" }, ` updated ${when(s.updatedAt)} `),
        h("button", { type: "button", class: "danger small", "aria-label": `Delete ${s.name}`,
          onclick: (e) => busy(e.currentTarget, async () => { await del(`/api/secrets/${encodeURIComponent(s.name)}`); await load(); }) }, "Delete"))))
      : empty("No secrets.", "Add GITHUB_TOKEN for pull requests and issues, and your agents' API keys (ANTHROPIC_API_KEY, ...)."));
  };
  const name = h("input", { name: "name", id: "secret-name", autocomplete: "off", placeholder: "GITHUB_TOKEN" });
  const value = h("input", { name: "value", id: "secret-value", type: "password", autocomplete: "off" });
  const form = h("form", { novalidate: true }, field("Secret name", name), field("Value", value),
    h("p", { class: "form-error", role: "alert" }), h("button", { type: "submit" }, "Save secret"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!name.value.trim()) {
      showErrors(form, { details: [{ field: "name", problem: "is required" }] });
      return;
    }
    try {
      await api("PUT", `/api/secrets/${encodeURIComponent(name.value.trim())}`, { value: value.value });
      form.reset();
      await load();
    } catch (error) {
      showErrors(form, error);
    }
  });
  return { element: h("section", { "aria-labelledby": "secrets-h" }, h("h2", { id: "secrets-h" }, "Secrets"), list, form), load };
}

export default async function settingsPage(view) {
  const keys = apiKeys();
  const stored = secrets();
  view.replaceChildren(heading("Settings"), keys.element, stored.element);
  await Promise.all([keys.load(), stored.load()]);
}
