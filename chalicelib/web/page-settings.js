// Settings: API keys (the token is shown once, at creation), secrets (names only, values
// write-only) and ticket providers (GitHub issues, Linear, Jira Cloud or Notion, synced into tasks).
import { all, api, del, get, patch, post } from "./api.js";
import { AGENT_TYPES, ago, busy, clearErrors, confirmAction, copyButton, empty, enabledBadge, field, h, heading, select, showErrors, toast } from "./dom.js";

function apiKeys() {
  const list = h("div", {});
  const shown = h("div", { "aria-live": "polite" });
  const load = async () => {
    const keys = await all("/api/auth/api-keys");
    list.replaceChildren(keys.length
      ? h("ul", { class: "rows" }, keys.map((k) => h("li", {}, h("strong", {}, k.name ?? "unnamed"), " ",
        h("code", {}, `${k.tokenPrefix}…`), h("span", { class: "muted" }, " created ", ago(k.createdAt), " "),
        h("button", { type: "button", class: "danger small", "aria-label": `Revoke ${k.name ?? k.tokenPrefix}`,
          onclick: (e) => busy(e.currentTarget, async () => {
            const label = k.name ?? `${k.tokenPrefix}…`;
            if (!await confirmAction(`Revoke the API key ${label}?`, "Scripts and CI that use it are refused from now on (1 key). This cannot be undone.", "Revoke 1 key")) return;
            await del(`/api/auth/api-keys/${k.id}`);
            toast(`API key ${label} revoked.`);
            await load();
          }) }, "Revoke"))))
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
        h("code", { class: "token", "data-testid": "new-token" }, created.token), copyButton(created.token, "API token")));
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
      ? h("ul", { class: "rows" }, items.map((s) => h("li", {}, h("code", {}, s.name), h("span", { class: "muted" }, " updated ", ago(s.updatedAt), " "),
        h("button", { type: "button", class: "secondary small", "aria-label": `Replace the value of ${s.name}`,
          onclick: () => { name.value = s.name; value.value = ""; value.focus(); } }, "Replace value"), " ",
        h("button", { type: "button", class: "danger small", "aria-label": `Delete ${s.name}`,
          onclick: (e) => busy(e.currentTarget, async () => {
            if (!await confirmAction(`Delete the secret ${s.name}?`, "Its value is gone for good (1 secret); tasks and schedules that need it fail until it is set again.", "Delete 1 secret")) return;
            await del(`/api/secrets/${encodeURIComponent(s.name)}`);
            toast(`Secret ${s.name} deleted.`);
            await load();
          }) }, "Delete"))))
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

const PROVIDER_KINDS = [["github", "GitHub issues"], ["linear", "Linear"], ["jira", "Jira Cloud"], ["notion", "Notion"]];
// Each kind's config, field by field, as the API's schema has it (chalicelib/core/tickets.py):
// [key, label, hint, placeholder, list?]. Secrets are named, never given (set them under Secrets).
const PROVIDER_FIELDS = {
  github: [
    ["labels", "Labels (optional)", "Comma separated: issues carrying all of them. Leave labels and assignee empty for every issue.", "optio, bug", true],
    ["assignee", "Assignee (optional)", "Issues assigned to this login.", "octocat"],
  ],
  linear: [
    ["teamKey", "Team key", "The team whose issues become tasks.", "ENG"],
    ["projectId", "Project id (optional)"],
    ["label", "Label (optional)", "Only issues with this label."],
    ["apiKeySecret", "API key secret (optional)", "The name of the secret holding the Linear API key.", "LINEAR_API_KEY"],
    ["doneState", "Done state (optional)", "The workflow state a completed task moves its issue to (default: the first completed one).", "Done"],
  ],
  jira: [
    ["site", "Site", "Your Jira Cloud address.", "https://acme.atlassian.net"],
    ["projectKey", "Project key", "Its issues become tasks; or give a JQL query instead.", "ENG"],
    ["jql", "JQL query (instead of the project)", "Your own query, e.g. project = ENG AND labels = optio.", "project = ENG AND statusCategory = \"To Do\""],
    ["label", "Label (optional)", "With the project: only issues with this label.", "optio"],
    ["email", "Account email", "The Atlassian account the API token belongs to.", "bot@acme.com"],
    ["apiTokenSecret", "API token secret (optional)", "The name of the secret holding its API token.", "JIRA_API_TOKEN"],
    ["doneState", "Done status (optional)", "The status a completed task moves its issue to.", "Done"],
  ],
  notion: [
    ["databaseId", "Database id", "The database whose pages are tickets: the 32 hex digits in its URL.", "0123456789abcdef0123456789abcdef"],
    ["statusProperty", "Status property (optional)", "The property that holds a page's state.", "Status"],
    ["todoState", "To-do state (optional)", "Pages in this state are synced.", "Not started"],
    ["doneState", "Done state (optional)", "Set when the task completes.", "Done"],
    ["labelsProperty", "Labels property (optional)", "The multi-select property that holds a page's labels.", "Tags"],
    ["label", "Label (optional)", "Only pages with this label."],
    ["tokenSecret", "Token secret (optional)", "The name of the secret holding the integration's token.", "NOTION_TOKEN"],
  ],
};

/** The config fields of one kind: `{element, value()}`; controls named `config.<key>`, as the API's problems are. */
function providerFields(kind) {
  const controls = PROVIDER_FIELDS[kind].map(([key, label, hint, placeholder, list]) => {
    const control = h("input", { name: `config.${key}`, id: `provider-${kind}-${key}`, autocomplete: "off", spellcheck: "false", placeholder });
    return { key, list, control, element: field(label, control, hint) };
  });
  return {
    element: h("div", { class: "field-group" }, controls.map((c) => c.element)),
    value() {
      const config = {};
      for (const { key, list, control } of controls) {
        const given = control.value.trim();
        if (!given) continue;
        config[key] = list ? given.split(",").map((v) => v.trim()).filter(Boolean) : given;
      }
      return config;
    },
  };
}

function providerScope(provider) {
  const config = provider.config ?? {};
  if (provider.kind === "jira") return [config.site, config.jql ?? `project ${config.projectKey}`, config.label && `label ${config.label}`].filter(Boolean).join(" · ");
  if (provider.kind === "notion") return [`database ${config.databaseId}`, config.label && `label ${config.label}`].filter(Boolean).join(" · ");
  if (provider.kind === "github") {
    if (config.labels?.length) return `issues labelled ${config.labels.join(", ")}`;
    return config.assignee ? `issues assigned to ${config.assignee}` : "all open issues";
  }
  return [`team ${config.teamKey}`, config.projectId && `project ${config.projectId}`, config.label && `label ${config.label}`,
    `key in secret ${config.apiKeySecret ?? "LINEAR_API_KEY"}`].filter(Boolean).join(" · ");
}

function ticketProviders() {
  const list = h("div", {});
  let repos = [];
  const repoSelect = select("repoId", [], "");
  const load = async () => {
    const [items, connected] = await Promise.all([get("/api/ticket-providers").then((b) => b.items), all("/api/repos")]);
    repos = connected;
    const chosen = repoSelect.value;
    repoSelect.replaceChildren(...repos.map((r) => h("option", { value: r.id, selected: r.id === chosen }, r.repoUrl)));
    const repoName = (id) => repos.find((r) => r.id === id)?.repoUrl ?? id;
    list.replaceChildren(items.length
      ? h("ul", { class: "rows" }, items.map((p) => {
        const label = `the ${p.kind} provider of ${repoName(p.repoId)}`;
        return h("li", { class: "card", dataset: { providerId: p.id } },
          h("p", {}, h("strong", {}, Object.fromEntries(PROVIDER_KINDS)[p.kind] ?? p.kind), " → ", repoName(p.repoId), " ", enabledBadge(p.enabled)),
          h("p", { class: "muted" }, `${providerScope(p)} · agent ${p.agentType ?? "repo default"} · last sync `, p.lastSyncAt ? ago(p.lastSyncAt) : "not yet"),
          p.lastError ? h("p", { class: "error-text" }, `Last error: ${p.lastError}`) : null,
          h("div", { class: "actions" },
            h("button", { type: "button", class: "secondary small", "aria-label": `Sync ${label} now`, disabled: !p.enabled,
              onclick: (e) => busy(e.currentTarget, async () => {
                const { created } = await post(`/api/ticket-providers/${p.id}/sync`);
                toast(created.length ? `${created.length} new tasks.` : "Synced: no new tickets.");
                await load();
              }) }, "Sync now"),
            h("button", { type: "button", class: "secondary small", "aria-label": `${p.enabled ? "Pause" : "Resume"} ${label}`,
              onclick: (e) => busy(e.currentTarget, async () => { await patch(`/api/ticket-providers/${p.id}`, { enabled: !p.enabled }); await load(); }) },
            p.enabled ? "Pause" : "Resume"),
            h("button", { type: "button", class: "danger small", "aria-label": `Delete ${label}`,
              onclick: (e) => busy(e.currentTarget, async () => {
                if (!await confirmAction(`Delete ${label}?`, "Its issues are no longer synced into tasks (1 ticket source); the tasks made so far stay.", "Delete 1 source")) return;
                await del(`/api/ticket-providers/${p.id}`);
                toast(`${label} deleted.`);
                await load();
              }) }, "Delete")));
      }))
      : empty("No ticket providers.", "Add one below: new GitHub issues (by label, by assignee, or all), Linear or Jira issues, or Notion pages then become tasks by themselves."));
  };
  const kind = select("kind", PROVIDER_KINDS, "github");
  kind.id = "provider-kind";
  repoSelect.id = "provider-repo";
  const agent = select("agentType", [["", "Repo default"], ...AGENT_TYPES.map((a) => [a, a])], "");
  agent.id = "provider-agent";
  // Only the chosen kind's fields are in the form (kinds share names such as `config.label`, and
  // an error must land in the one shown); each kind keeps what was typed while another is shown.
  const byKind = Object.fromEntries(Object.keys(PROVIDER_FIELDS).map((k) => [k, providerFields(k)]));
  const fields = h("div", {});
  const arrange = () => fields.replaceChildren(byKind[kind.value].element);
  kind.addEventListener("change", arrange);
  arrange();
  const form = h("form", { novalidate: true, "aria-label": "Add a ticket provider" }, field("Provider", kind),
    field("Tasks go to", repoSelect), field("Agent", agent), fields,
    h("p", { class: "form-error", role: "alert" }), h("button", { type: "submit" }, "Add provider"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const config = byKind[kind.value].value();
    const body = { kind: kind.value, repoId: repoSelect.value, config };
    if (agent.value) body.agentType = agent.value;
    try {
      await post("/api/ticket-providers", body);
      form.reset();
      arrange();
      toast("Ticket provider added.");
      await load();
    } catch (error) {
      showErrors(form, error);
    }
  });
  return { element: h("section", { "aria-labelledby": "providers-h" }, h("h2", { id: "providers-h" }, "Ticket providers"), list, form), load };
}

export default async function settingsPage(view) {
  const keys = apiKeys();
  const stored = secrets();
  const providers = ticketProviders();
  view.replaceChildren(heading("Settings"), h("nav", { class: "toc", "aria-label": "On this page" },
    h("a", { href: "#keys-h" }, "API keys"), h("a", { href: "#secrets-h" }, "Secrets"), h("a", { href: "#providers-h" }, "Ticket providers")),
  keys.element, stored.element, providers.element);
  await Promise.all([keys.load(), stored.load(), providers.load()]);
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}
